use audit_core::Auditable;

#[derive(Auditable)]
struct App {
    id: u64,
    name: String,
}

#[derive(Auditable)]
struct Session {
    token: String,
}

fn main() {
    let app = App { id: 1, name: String::new() };
    let session = Session { token: String::new() };
    let _ = (app.id, app.name, session.token);
}
