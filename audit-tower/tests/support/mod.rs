//! What the property tests of this crate share.

/// How many cases a fuzz property runs: `AUDIT_FUZZ_CASES` when set, else
/// `default`. Each property's default keeps the fuzz tests of the workspace
/// together within about a minute of a debug build, as CI runs them; set
/// `AUDIT_FUZZ_CASES=1000000` for a long run.
pub(crate) fn fuzz_cases(default: u32) -> u32 {
    std::env::var("AUDIT_FUZZ_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(default)
}
