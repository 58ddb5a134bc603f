//! Cross-crate end-to-end tests for the audit workspace.
//!
//! The tests live in `tests/tests/`; this library is empty on purpose so the
//! package can be a workspace member that depends on every crate.
