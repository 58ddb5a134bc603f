//! The catalogue declares a category that does not exist.
use audit_core::audited;

#[audited(action = "app.created", catalogue = "../catalogues/bad_category.toml")]
fn create_app() {}

fn main() {
    create_app();
}
