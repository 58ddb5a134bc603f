use audit_core::audited;

#[audited(acton = "app.deleted")]
fn delete_app() {}

#[audited(action = "app.deleted", level = "critical")]
fn delete_user() {}

#[audited(action = "app.deleted", 42)]
fn delete_key() {}

fn main() {
    delete_app();
    delete_user();
    delete_key();
}
