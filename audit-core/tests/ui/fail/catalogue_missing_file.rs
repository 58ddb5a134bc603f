//! `catalogue = "…"` naming no file, and `catalogue!()` in a crate without `audit.toml`.
use audit_core::audited;

#[audited(action = "app.created", catalogue = "../catalogues/missing.toml")]
fn create_app() {}

mod actions {
    audit_core::catalogue!();
}

fn main() {
    create_app();
}
