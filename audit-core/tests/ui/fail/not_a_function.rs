use audit_core::audited;

#[audited(action = "app.deleted")]
struct App {
    id: u64,
}

#[audited(action = "app.deleted")]
const LIMIT: u32 = 3;

trait Apps {
    #[audited(action = "app.deleted")]
    fn delete(&self, id: u64);
}

#[audited(action = "app.counted")]
const fn count() -> u32 {
    3
}

fn main() {
    let app = App { id: 1 };
    let _ = (app.id, LIMIT, count());
}
