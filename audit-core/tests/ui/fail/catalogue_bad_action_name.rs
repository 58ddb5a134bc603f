//! The catalogue declares a malformed action name.
use audit_core::audited;

#[audited(action = "app.created", catalogue = "../catalogues/bad_action_name.toml")]
fn create_app() {}

fn main() {
    create_app();
}
