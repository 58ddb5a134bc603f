use audit_core::Auditable;

#[derive(Auditable)]
struct Member {
    #[audit(id, personal)]
    id: u64,
    #[audit(personal, redact)]
    password: String,
    #[audit(skip)]
    #[audit(personal)]
    avatar: Vec<u8>,
    #[audit(persnal)]
    email: String,
}

fn main() {}
