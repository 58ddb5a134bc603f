//! An action close to no declared one: the error lists the declared names.
use audit_core::audited;

#[audited(action = "billing.charged", catalogue = "../catalogues/apps.toml")]
fn charge(_amount: u64) {}

fn main() {
    charge(10);
}
