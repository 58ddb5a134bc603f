//! Pinned RFC 8785 test vectors for the canonical JSON encoding.
//!
//! Every `NAME.input.json` under `tests/vectors/canonical/` is parsed,
//! canonicalised with [`audit_core::canonical_json`] and compared byte for
//! byte with `NAME.expected.json`. Audit event hashes are computed over these
//! bytes, so a failure here means stored hashes would no longer verify: do
//! not update an expected file without also changing
//! [`audit_core::CANONICAL_ENCODING`].
//!
//! The expected files were checked against an independent canonicaliser
//! built on ECMAScript's own `JSON.stringify` and UTF-16 string sort.

use std::fs;
use std::path::{Path, PathBuf};

/// An emptied or misplaced folder must not pass silently.
const MIN_VECTORS: usize = 10;

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/canonical")
}

/// The names of all vectors, sorted, from their `*.input.json` files.
fn vector_names() -> Vec<String> {
    let dir = vectors_dir();
    let entries =
        fs::read_dir(&dir).unwrap_or_else(|error| panic!("cannot read vectors folder {}: {error}", dir.display()));
    let mut names: Vec<String> = entries
        .map(|entry| entry.expect("readable folder entry").file_name())
        .filter_map(|file| file.to_str()?.strip_suffix(".input.json").map(str::to_owned))
        .collect();
    names.sort();
    names
}

#[test]
fn encoding_name_is_pinned() {
    assert_eq!(audit_core::CANONICAL_ENCODING, "rfc8785-jcs/1");
}

#[test]
fn every_vector_matches_its_expected_bytes() {
    let dir = vectors_dir();
    let names = vector_names();
    assert!(
        names.len() >= MIN_VECTORS,
        "expected at least {MIN_VECTORS} vectors in {}, found {}: {names:?}",
        dir.display(),
        names.len()
    );

    let mut failures = Vec::new();
    for name in &names {
        let input_path = dir.join(format!("{name}.input.json"));
        let expected_path = dir.join(format!("{name}.expected.json"));
        let input = fs::read(&input_path).unwrap_or_else(|error| panic!("vector {name}: cannot read input: {error}"));
        let expected = fs::read(&expected_path)
            .unwrap_or_else(|error| panic!("vector {name}: cannot read {}: {error}", expected_path.display()));
        let value: serde_json::Value =
            serde_json::from_slice(&input).unwrap_or_else(|error| panic!("vector {name}: input is not JSON: {error}"));

        let actual = audit_core::canonical_json(&value);
        if actual != expected {
            failures.push(format!(
                "vector {name} does not match {}\n  expected: {}\n  actual:   {}",
                expected_path.display(),
                String::from_utf8_lossy(&expected),
                String::from_utf8_lossy(&actual),
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} canonical JSON vectors differ:\n{}",
        failures.len(),
        names.len(),
        failures.join("\n")
    );
}

#[test]
fn every_expected_output_is_its_own_canonical_form() {
    // Canonical bytes parsed again must canonicalise to the same bytes, or a
    // hash over stored canonical JSON could not be verified later.
    let dir = vectors_dir();
    for name in vector_names() {
        let expected = fs::read(dir.join(format!("{name}.expected.json")))
            .unwrap_or_else(|error| panic!("vector {name}: cannot read expected output: {error}"));
        let value: serde_json::Value = serde_json::from_slice(&expected)
            .unwrap_or_else(|error| panic!("vector {name}: expected output is not JSON: {error}"));
        let again = audit_core::canonical_json(&value);
        assert!(
            again == expected,
            "vector {name}: expected output is not a fixed point\n  expected: {}\n  again:    {}",
            String::from_utf8_lossy(&expected),
            String::from_utf8_lossy(&again),
        );
    }
}
