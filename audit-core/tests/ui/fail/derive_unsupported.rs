use audit_core::Auditable;

#[derive(Auditable)]
enum Principal {
    User(String),
}

#[derive(Auditable)]
struct Pair(u64, String);

#[derive(Auditable)]
#[audit(target = "ApiKey")]
struct ApiKey {
    #[audit(id)]
    id: u64,
}

#[derive(Auditable)]
#[audit(id)]
struct Misplaced {
    #[audit(target = "x")]
    id: u64,
}

#[derive(Auditable)]
struct Typo {
    #[audit(redcat)]
    secret: String,
    #[audit(id)]
    id: u64,
}

fn main() {}
