use audit_core::Auditable;

#[derive(Auditable)]
struct App {
    #[audit(id)]
    id: u64,
    #[audit(id)]
    slug: String,
    #[audit(redact, skip)]
    secret: String,
    #[audit(name)]
    #[audit(redact)]
    owner_email: String,
    #[audit(name)]
    title: String,
}

#[derive(Auditable)]
struct Key {
    #[audit(id, skip)]
    id: u64,
}

#[derive(Auditable)]
struct Token {
    #[audit(redact)]
    #[audit(id)]
    value: String,
}

#[derive(Auditable)]
struct Twice {
    #[audit(id, id)]
    id: u64,
}

fn main() {}
