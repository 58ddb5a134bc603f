//! A description placeholder names neither an event field nor a metadata key.
mod actions {
    audit_core::catalogue!("../catalogues/undeclared_placeholder.toml");
}

fn main() {}
