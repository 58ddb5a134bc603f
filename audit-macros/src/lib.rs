//! Procedural macros for `audit-core`.
//!
//! This crate will hold the `#[audited(action = "...")]` attribute and
//! `#[derive(Auditable)]`. Until they land it exports nothing; depend on
//! `audit-core`, which re-exports the macros once they exist.
