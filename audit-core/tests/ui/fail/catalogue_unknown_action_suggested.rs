//! A typo of a declared action: the error suggests the declared name.
use audit_core::audited;

#[audited(action = "app.deletd", catalogue = "../catalogues/apps.toml")]
async fn delete_app(_id: u64) {}

fn main() {
    drop(delete_app(1));
}
