use std::future::Future;

use audit_core::audited;

async fn work() -> u32 {
    1
}

#[audited(action = "job.ran")]
fn run() -> impl Future<Output = u32> {
    work()
}

fn main() {
    let _ = run();
}
