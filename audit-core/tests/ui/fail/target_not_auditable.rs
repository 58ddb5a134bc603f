use audit_core::audited;

struct Plain {
    id: u64,
}

#[audited(action = "app.deleted", target = app)]
fn not_auditable(app: &Plain) {
    let _ = app.id;
}

#[audited(action = "app.deleted", target = "app", target_id = app)]
fn id_not_display(app: &Plain) {
    let _ = app.id;
}

fn main() {
    let app = Plain { id: 1 };
    not_auditable(&app);
    id_not_display(&app);
}
