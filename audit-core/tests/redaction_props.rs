//! Property tests: a secret planted under a denied key never survives
//! redaction, directly or through a diff, and redaction leaves documents
//! without denied keys untouched.

use audit_core::{DiffEntry, REDACTED, Redactor, diff};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value};

/// Every planted secret starts with this. Nothing else generated here can
/// contain it (no key or noise string has a digit, and numbers have no
/// letters), so finding it anywhere in the output means a leak.
const SECRET_PREFIX: &str = "s3cr3t-";

/// Spellings of denied keys as they appear in real payloads and headers.
const DENIED_SPELLINGS: &[&str] = &[
    "password",
    "Password",
    "PASSWORD",
    "db_password",
    "new-password",
    "passwd",
    "pwd",
    "passphrase",
    "API-KEY",
    "apiKey",
    "api_key",
    "Api.Key",
    "x-api-key",
    "client_secret",
    "clientSecret",
    "X-Auth-Token",
    "access_token",
    "refreshToken",
    "Authorization",
    "Proxy-Authorization",
    "Cookie",
    "Set-Cookie",
    "private_key",
    "privateKey",
    "sessionId",
    "credentials",
    "card_number",
    "cardNumber",
    "cvv",
    "CVC",
];

fn is_container(v: &Value) -> bool {
    matches!(v, Value::Object(_) | Value::Array(_))
}

fn object(map: std::collections::BTreeMap<String, Value>) -> Value {
    Value::Object(map.into_iter().collect::<Map<String, Value>>())
}

/// Random keys with mixed case and separators, minus the denied ones.
fn harmless_key() -> impl Strategy<Value = String> {
    "[a-zA-Z_. -]{0,8}".prop_filter("key must not be denied", |k| !Redactor::new().is_denied(k))
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[a-z ]{0,8}".prop_map(Value::from),
    ]
}

/// A random JSON tree with harmless keys only.
fn tree() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(harmless_key(), inner, 0..6).prop_map(object),
        ]
    })
}

/// A resource snapshot: an object at the top, like the `before`/`after` of
/// an audit event.
fn document() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(harmless_key(), tree(), 0..6).prop_map(object)
}

/// A secret string, alone or buried in a sub-tree of noise.
fn secret_value(tag: &'static str) -> impl Strategy<Value = Value> {
    ("[a-z0-9]{8,16}", 0u8..4, tree()).prop_map(move |(suffix, shape, noise)| {
        let secret = Value::from(format!("{SECRET_PREFIX}{tag}{suffix}"));
        match shape {
            0 => secret,
            1 => Value::Array(vec![noise, secret]),
            2 => serde_json::json!({"inner": secret, "noise": noise}),
            _ => serde_json::json!({"a": [noise, {"b": secret}]}),
        }
    })
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Inserts `key: secret` into an object reached by following `choices`
/// through container children, and returns the JSON Pointer of the planted
/// key. The host is always an object that already exists, so planting the
/// same choices into two copies of a document gives the same path.
fn plant(node: &mut Value, choices: &[Index], key: &str, secret: &Value) -> Option<String> {
    match node {
        Value::Object(map) => {
            if let Some((choice, rest)) = choices.split_first() {
                let keys: Vec<String> = map
                    .iter()
                    .filter(|(_, v)| is_container(v))
                    .map(|(k, _)| k.clone())
                    .collect();
                if !keys.is_empty() {
                    let child_key = &keys[choice.index(keys.len())];
                    let child = map.get_mut(child_key).expect("key was just listed");
                    if let Some(below) = plant(child, rest, key, secret) {
                        return Some(format!("/{}{below}", escape(child_key)));
                    }
                }
            }
            map.insert(key.to_owned(), secret.clone());
            Some(format!("/{}", escape(key)))
        }
        Value::Array(items) => {
            let (choice, rest) = choices.split_first()?;
            let indices: Vec<usize> = (0..items.len()).filter(|&i| is_container(&items[i])).collect();
            if indices.is_empty() {
                return None;
            }
            let i = indices[choice.index(indices.len())];
            plant(&mut items[i], rest, key, secret).map(|below| format!("/{i}{below}"))
        }
        _ => None,
    }
}

fn json(v: &impl serde::Serialize) -> String {
    serde_json::to_string(v).expect("JSON values always serialise")
}

/// Diffs and redacts as an audit pipeline would, checks that no secret is
/// left anywhere, and returns the redacted entries.
fn diff_and_redact(before: &Value, after: &Value) -> Result<Vec<DiffEntry>, TestCaseError> {
    let redactor = Redactor::new();
    let mut entries = diff(Some(before), Some(after));
    redactor.redact_diff(&mut entries);
    let (mut before, mut after) = (before.clone(), after.clone());
    redactor.redact(&mut before);
    redactor.redact(&mut after);
    prop_assert!(
        !json(&entries).contains(SECRET_PREFIX),
        "diff leaks: {}",
        json(&entries)
    );
    prop_assert!(!json(&before).contains(SECRET_PREFIX), "before leaks: {before}");
    prop_assert!(!json(&after).contains(SECRET_PREFIX), "after leaks: {after}");
    Ok(entries)
}

/// Entries at the planted path or below it, which must exist (the values
/// differed) and must show only the marker.
fn assert_change_is_visible_but_hidden(entries: &[DiffEntry], planted: &str) -> Result<(), TestCaseError> {
    let below = format!("{planted}/");
    let at_planted: Vec<&DiffEntry> = entries
        .iter()
        .filter(|e| e.path == planted || e.path.starts_with(&below))
        .collect();
    prop_assert!(!at_planted.is_empty(), "no entry at {planted} in {entries:?}");
    for e in at_planted {
        for side in e.old.iter().chain(&e.new) {
            prop_assert_eq!(side, &Value::from(REDACTED), "at {}", e.path);
        }
    }
    Ok(())
}

proptest! {
    #[test]
    fn planted_secret_never_survives_redact(
        mut doc in document(),
        choices in prop::collection::vec(any::<Index>(), 0..6),
        key in prop::sample::select(DENIED_SPELLINGS),
        secret in secret_value("a"),
    ) {
        plant(&mut doc, &choices, key, &secret).expect("the root is an object");
        prop_assert!(json(&doc).contains(SECRET_PREFIX));

        // Exactly the planted key is denied: every other key is harmless, and
        // keys inside the replaced value are not visited.
        prop_assert_eq!(Redactor::new().redact(&mut doc), 1);
        prop_assert!(!json(&doc).contains(SECRET_PREFIX), "leak: {}", doc);
    }

    #[test]
    fn secret_added_in_after_never_survives_diff_redaction(
        before in document(),
        choices in prop::collection::vec(any::<Index>(), 0..6),
        key in prop::sample::select(DENIED_SPELLINGS),
        secret in secret_value("a"),
    ) {
        let mut after = before.clone();
        let planted = plant(&mut after, &choices, key, &secret).expect("the root is an object");

        let entries = diff_and_redact(&before, &after)?;
        // The host object exists on both sides, so the addition is reported
        // exactly at the planted path.
        prop_assert!(entries.iter().any(|e| e.path == planted && e.old.is_none()));
        assert_change_is_visible_but_hidden(&entries, &planted)?;
    }

    #[test]
    fn changed_secret_never_survives_diff_redaction(
        doc in document(),
        choices in prop::collection::vec(any::<Index>(), 0..6),
        key in prop::sample::select(DENIED_SPELLINGS),
        old_secret in secret_value("a"),
        new_secret in secret_value("b"),
    ) {
        let (mut before, mut after) = (doc.clone(), doc);
        let planted = plant(&mut before, &choices, key, &old_secret).expect("the root is an object");
        let planted_after = plant(&mut after, &choices, key, &new_secret).expect("the root is an object");
        prop_assert_eq!(&planted, &planted_after);

        let entries = diff_and_redact(&before, &after)?;
        assert_change_is_visible_but_hidden(&entries, &planted)?;
    }

    #[test]
    fn documents_without_denied_keys_are_left_unchanged(
        doc in document(),
        other in document(),
    ) {
        let redactor = Redactor::new();
        let mut redacted = doc.clone();
        prop_assert_eq!(redactor.redact(&mut redacted), 0);
        prop_assert_eq!(&redacted, &doc);

        let entries = diff(Some(&doc), Some(&other));
        let mut redacted_entries = entries.clone();
        prop_assert_eq!(redactor.redact_diff(&mut redacted_entries), 0);
        prop_assert_eq!(redacted_entries, entries);
    }
}
