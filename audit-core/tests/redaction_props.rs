//! Property tests: a secret planted under a denied key never survives
//! redaction, directly or through a diff, and redaction leaves documents
//! without denied keys untouched. In free text, a secret of each shape never
//! survives and the text around it is kept; any text is masked without
//! panicking, and masking twice is masking once.
//!
//! The free-text properties run `AUDIT_FUZZ_CASES` cases (default 256).

mod support;

use audit_core::{DiffEntry, REDACTED, Redactor, diff};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value};
use support::fuzz_cases;

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

/// Free text around a secret: letters, punctuation that ends no value,
/// whitespace, and multi-byte characters (accents, CJK, emoji, a bidi
/// override). No digits: every planted secret has one, so finding the
/// secret in the output can only mean a leak.
fn surrounding_text() -> impl Strategy<Value = String> {
    "[a-zA-Z .,;!?()\\[\\]{}<>&\n\té中😀\u{202e}]{0,24}"
}

/// A secret in free text, split as the output should show it: the part kept
/// before the marker, the secret, and the part kept after it.
#[derive(Debug, Clone)]
struct Planted {
    before: String,
    secret: String,
    after: String,
}

fn planted(before: impl Into<String>, secret: impl Into<String>, after: impl Into<String>) -> Planted {
    Planted {
        before: before.into(),
        secret: secret.into(),
        after: after.into(),
    }
}

/// A value with a digit and no character that ends an unquoted value.
fn pair_value() -> impl Strategy<Value = String> {
    "[a-zA-Z!#$%*+./?^_~-]{0,8}[0-9][a-zA-Z0-9!#$%*+./?^_~-]{0,8}"
}

/// One secret of every shape the free-text scanner knows.
fn free_text_secret() -> impl Strategy<Value = Planted> {
    let key = prop::sample::select(DENIED_SPELLINGS);
    let provider_key = prop_oneof![
        (prop::sample::select(vec!["AKIA", "ASIA"]), "[A-Z0-9]{15}"),
        (
            prop::sample::select(vec!["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]),
            "[a-zA-Z0-9]{35}"
        ),
        (Just("github_pat_"), "[a-zA-Z0-9_]{81}"),
        (
            prop::sample::select(vec!["sk_live_", "rk_live_", "sk_test_"]),
            "[a-zA-Z0-9]{23}"
        ),
        (
            prop::sample::select(vec!["xoxb-", "xoxa-", "xoxp-", "xoxr-", "xoxs-"]),
            "[0-9]{10}-[0-9]{10}-[a-zA-Z0-9]{24}"
        ),
        (Just("AIza"), "[a-zA-Z0-9_-]{34}"),
    ]
    // A digit, as every planted secret has one.
    .prop_map(|(prefix, body)| planted("", format!("{prefix}{body}7"), ""));
    let jwt = "eyJ[a-zA-Z0-9_-]{8,30}\\.eyJ[a-zA-Z0-9_-]{4,40}\\.[a-zA-Z0-9_-]{0,40}[0-9]"
        .prop_map(|token| planted("", token, ""));
    let credential = "[a-zA-Z0-9]{1,12}[0-9._~+/-][a-zA-Z0-9._~+/-]{0,20}[a-zA-Z0-9]={0,2}";
    prop_oneof![
        (key.clone(), pair_value()).prop_map(|(key, value)| planted(format!("{key}="), value, "")),
        (key.clone(), pair_value()).prop_map(|(key, value)| planted(format!("{key}: "), value, "")),
        (key.clone(), "[a-zA-Z0-9 :=,{}]{0,12}[0-9]").prop_map(|(key, value)| planted(
            format!("\"{key}\":\""),
            value,
            "\""
        )),
        (
            prop::sample::select(vec!["Bearer", "bearer", "BASIC", "Basic"]),
            credential,
            any::<bool>(),
        )
            .prop_map(|(scheme, token, header)| if header {
                planted("Authorization: ", format!("{scheme} {token}"), "")
            } else {
                planted(format!("{scheme} "), token, "")
            }),
        (
            "[a-z][a-z+.-]{0,8}",
            "[a-z]{1,8}",
            "[a-zA-Z0-9!$%*+,;=:~_.-]{0,12}[0-9]",
            "[a-z.]{1,12}",
        )
            .prop_map(|(scheme, user, password, host)| planted(
                format!("{scheme}://{user}:"),
                password,
                format!("@{host}/db")
            )),
        (
            prop::sample::select(vec!["RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", ""]),
            prop::collection::vec("[a-zA-Z0-9+/]{1,64}", 1..4),
        )
            .prop_map(|(label, lines)| planted(
                format!("-----BEGIN {label}PRIVATE KEY-----"),
                format!("\n{}0==\n", lines.join("\n")),
                format!("-----END {label}PRIVATE KEY-----")
            )),
        provider_key,
        jwt,
    ]
}

/// Text dense in the scanner's triggers (separators, quotes, prefixes,
/// escapes, the marker itself) with multi-byte characters, for the
/// properties that must hold for any text.
fn trigger_dense_text() -> impl Strategy<Value = String> {
    let fragment = prop::sample::select(vec![
        "password",
        "token_count",
        "Authorization",
        "=",
        ":",
        "::",
        "://",
        " ",
        "\t",
        "\n",
        "\"",
        "'",
        "\\",
        "@",
        "/",
        ",",
        "{",
        "}",
        "[",
        "]",
        ".",
        "-",
        "Bearer ",
        "basic ",
        "AKIA",
        "ASIA",
        "ghp_",
        "github_pat_",
        "sk_live_",
        "xoxb-",
        "AIza",
        "eyJhbGciOiJIUzI1NiJ9",
        "-----BEGIN PRIVATE KEY-----",
        "-----END",
        "[REDACTED]",
        "0123456789ABCDEF",
        "abcdefghij",
        "é",
        "中",
        "😀",
        "\u{202e}",
        "?",
        "#",
        "~",
        "+",
        "(",
        ")",
        "<",
        ">",
        "private_key",
        "X-Api-Key",
        "Basic realm=",
    ]);
    prop::collection::vec(fragment, 0..48).prop_map(|fragments| fragments.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases(256)))]

    #[test]
    fn secret_in_free_text_is_masked_and_the_text_around_it_kept(
        prefix in surrounding_text(),
        planted in free_text_secret(),
        suffix in surrounding_text(),
    ) {
        let redactor = Redactor::new();
        // The surrounding text alone has nothing to mask, so all that
        // changes below is the planted secret.
        prop_assume!(redactor.redact_text(&prefix).1 == 0 && redactor.redact_text(&suffix).1 == 0);
        let Planted { before, secret, after } = &planted;
        let text = format!("{prefix} {before}{secret}{after} {suffix}");

        let (masked, count) = redactor.redact_text(&text);
        prop_assert!(!masked.contains(secret.as_str()), "leak of {:?}: {:?}", secret, masked);
        prop_assert_eq!(masked, format!("{prefix} {before}{REDACTED}{after} {suffix}"));
        prop_assert_eq!(count, 1);
    }

    #[test]
    fn any_text_is_masked_without_panicking_and_masking_again_changes_nothing(
        text in prop_oneof![any::<String>(), trigger_dense_text()],
        allow in any::<bool>(),
    ) {
        let redactor = if allow { Redactor::new().allow("token_count") } else { Redactor::new() };
        let (once, _) = redactor.redact_text(&text);
        let (twice, count) = redactor.redact_text(&once);
        prop_assert_eq!(&twice, &once);
        prop_assert_eq!(count, 0);
    }
}
