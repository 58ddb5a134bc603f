use audit_core::Auditable;

struct Handle;

#[derive(Auditable)]
struct Upload {
    #[audit(id)]
    id: u64,
    handle: Handle,
}

#[derive(Auditable)]
struct Unnamed {
    #[audit(id)]
    id: Handle,
}

fn main() {}
