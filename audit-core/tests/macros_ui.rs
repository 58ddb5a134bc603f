//! Compile-time behaviour of the macros: what must compile (`tests/ui/pass`)
//! and the exact errors for each misuse (`tests/ui/fail/*.stderr`).
//!
//! Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p audit-core --test macros_ui`, then read
//! every changed one: each message must say what is wrong and how to fix it.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.pass("tests/ui/pass/*.rs");
    cases.compile_fail("tests/ui/fail/*.rs");
}
