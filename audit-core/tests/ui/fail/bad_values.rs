use audit_core::audited;

#[audited(action = "app.deleted", severity = "high")]
fn high() {}

#[audited(action = "app.deleted", severity = "Critical")]
fn capitalised() {}

#[audited(action = "app.deleted", category = "remove")]
fn remove() {}

#[audited(action = "app.deleted", redact(""))]
fn empty_key() {}

#[audited(action = "app.deleted", target = "App", target_id = 1)]
fn target_type() {}

fn main() {
    high();
    capitalised();
    remove();
    empty_key();
    target_type();
}
