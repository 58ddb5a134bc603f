use audit_core::audited;

#[audited(target = "app", target_id = id)]
async fn delete_app(id: u64) -> Result<(), String> {
    let _ = id;
    Ok(())
}

#[audited]
fn purge() {}

fn main() {
    // The functions still exist, so their callers report nothing more.
    let _ = delete_app(1);
    purge();
}
