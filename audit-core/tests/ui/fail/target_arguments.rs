use audit_core::audited;

struct Plain;

#[audited(action = "app.deleted", target = "app")]
fn type_without_id(id: u64) {
    let _ = id;
}

#[audited(action = "app.deleted", target_id = id)]
fn id_without_type(id: u64) {
    let _ = id;
}

#[audited(action = "app.deleted", target = app, target_id = app.id)]
fn resource_and_id(app: &Plain) {
    let _ = app;
}

fn main() {
    let app = Plain;
    type_without_id(1);
    id_without_type(1);
    resource_and_id(&app);
}
