use audit_core::audited;

#[audited(action = "app.deleted", fields(idd))]
fn in_fields(id: u64) {
    let _ = id;
}

#[audited(action = "app.deleted", skip(reasno))]
fn in_skip(id: u64, reason: String) {
    let _ = (id, reason);
}

#[audited(action = "app.deleted", description = "Deleted app {app_id} ({reason})")]
fn in_description(id: u64, reason: &str) {
    let _ = (id, reason);
}

#[audited(action = "app.deleted", description = "Deleted {self.name}")]
fn self_without_receiver() {}

#[audited(action = "app.deleted", description = "Deleted app {} {id")]
fn positional(id: u64) {
    let _ = id;
}

#[audited(action = "cache.purged", fields(entries))]
fn no_arguments() {}

fn main() {
    in_fields(1);
    in_skip(1, String::new());
    in_description(1, "");
    self_without_receiver();
    positional(1);
    no_arguments();
}
