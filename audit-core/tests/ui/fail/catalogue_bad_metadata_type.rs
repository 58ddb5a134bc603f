//! The catalogue declares a metadata key with an unknown type.
mod actions {
    audit_core::catalogue!("../catalogues/bad_metadata_type.toml");
}

fn main() {}
