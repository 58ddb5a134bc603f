use audit_core::audited;

#[audited(action = "app.deleted", severity = "notice", action = "app.removed")]
fn delete_app() {}

#[audited(action = "app.updated", fields(plan = 1), fields(seats = 2))]
fn update_app() {}

#[audited(action = "app.updated", fields(plan = 1, plan = 2))]
fn update_plan() {}

fn main() {
    delete_app();
    update_app();
    update_plan();
}
