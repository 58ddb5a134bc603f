//! Making hostile input harmless: escaping control characters, capping sizes,
//! decoding invalid UTF-8.
//!
//! Every string of an [`Event`](crate::Event) passes through here when it is
//! built, including the strings (and keys) inside metadata and before/after
//! state:
//!
//! - **Escaped**: C0 controls (NUL, CR, LF, TAB, ESC, …), DEL, C1 controls, the
//!   Unicode bidirectional overrides and isolates (U+202A–U+202E,
//!   U+2066–U+2069, U+200E, U+200F, U+061C) and the line/paragraph separators
//!   U+2028/U+2029 become the visible text `\u{…}` (e.g. `\u{1b}`), so an event
//!   can never forge a log line, colour a terminal or reorder text on a page.
//!   The escape is one-way: a literal `\u{1b}` typed by a user looks the same.
//! - **Capped**: each string is cut at a character boundary to its limit (in
//!   bytes, after escaping) and ends with `…`; the event's `truncated` flag is
//!   set. JSON nested deeper than [`Limits::json_depth`] and metadata or
//!   before/after state larger than their byte limits are replaced by a short
//!   marker string, also setting `truncated`.
//! - **Decoded**: header bytes that are not UTF-8 are decoded with U+FFFD
//!   replacements by [`decode_lossy`], and the event's `lossy_utf8` flag says so.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::{Map, Value};

use crate::redact::Redactor;

/// Size limits applied to every event. The defaults suit a relational store
/// and an admin page; raise them if your metadata is large.
///
/// ```
/// let limits = audit_core::Limits { text_bytes: 1024, ..Default::default() };
/// assert_eq!(limits.field_bytes, 512);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Identifiers and short fields: tenant, actor id/name/email/roles, target
    /// fields, request id, method, route, object keys. Default 512.
    pub field_bytes: usize,
    /// Free text: description, reason, user agent. Default 4096.
    pub text_bytes: usize,
    /// Each string inside metadata, before/after and diff values. Default 4096.
    pub json_string_bytes: usize,
    /// How deep metadata and before/after may nest. Default 32.
    pub json_depth: usize,
    /// Metadata as a whole, approximately as serialised. Default 64 KiB.
    pub metadata_bytes: usize,
    /// Each of before, after and the diff, approximately as serialised. Default 256 KiB.
    pub changes_bytes: usize,
    /// How many extra targets an event may name. Default 32.
    pub max_targets: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            field_bytes: 512,
            text_bytes: 4096,
            json_string_bytes: 4096,
            json_depth: 32,
            metadata_bytes: 64 * 1024,
            changes_bytes: 256 * 1024,
            max_targets: 32,
        }
    }
}

/// Whether `c` is escaped: controls, bidi overrides/isolates, line separators.
fn must_escape(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'..='\u{9f}'
        | '\u{61c}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{2028}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}')
}

fn needs_work(input: &str, max_bytes: usize) -> bool {
    input.len() > max_bytes
        || match plain_ascii(input.as_bytes()) {
            Some(plain) => !plain,
            None => input.chars().any(must_escape),
        }
}

/// `byte` in every byte of a word.
const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// Whether some byte of `word` is below `limit` (at most 0x80). Exact as a
/// yes/no answer when every byte is ASCII: a borrow only starts at a byte
/// that is below `limit`, which already makes the answer yes.
const fn has_byte_below(word: u64, limit: u8) -> bool {
    word.wrapping_sub(splat(limit)) & !word & splat(0x80) != 0
}

/// For ASCII `bytes`, whether none is a control character (C0 or DEL);
/// `None` when some byte is not ASCII. Checked eight bytes at a time: this
/// runs on every string and key of every event.
fn plain_ascii(bytes: &[u8]) -> Option<bool> {
    let mut control = false;
    let mut words = bytes.chunks_exact(8);
    for word in words.by_ref() {
        let word = u64::from_le_bytes(word.try_into().unwrap_or([0; 8]));
        if word & splat(0x80) != 0 {
            return None;
        }
        control |= has_byte_below(word, 0x20) | has_byte_below(word ^ splat(0x7f), 1);
    }
    // The tail is padded with a plain ASCII byte.
    let mut tail = [b'a'; 8];
    tail[..words.remainder().len()].copy_from_slice(words.remainder());
    let word = u64::from_le_bytes(tail);
    if word & splat(0x80) != 0 {
        return None;
    }
    control |= has_byte_below(word, 0x20) | has_byte_below(word ^ splat(0x7f), 1);
    Some(!control)
}

/// Escapes and caps `input` to `max_bytes`; returns the result and whether it
/// was cut. Borrowed when nothing needed to change.
///
/// ```
/// use audit_core::sanitize_str;
///
/// let (clean, cut) = sanitize_str("line1\r\nforged: entry\u{1b}[31m", 100);
/// assert_eq!(clean, "line1\\u{d}\\u{a}forged: entry\\u{1b}[31m");
/// assert!(!cut);
///
/// let huge = "x".repeat(100_000);
/// let (short, cut) = sanitize_str(&huge, 16);
/// assert!(cut && short.len() <= 16 && short.ends_with('…'));
/// ```
pub fn sanitize_str(input: &str, max_bytes: usize) -> (Cow<'_, str>, bool) {
    if !needs_work(input, max_bytes) {
        return (Cow::Borrowed(input), false);
    }
    let mut out = String::with_capacity(input.len().min(max_bytes) + 8);
    for c in input.chars() {
        if must_escape(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
        // Stop early: a 100 MB string must not be copied to keep 4 KB of it.
        if out.len() > max_bytes {
            break;
        }
    }
    let cut = cap(&mut out, max_bytes);
    (Cow::Owned(out), cut)
}

/// Cuts `text` to at most `max_bytes` at a char boundary, ending it with `…`.
fn cap(text: &mut String, max_bytes: usize) -> bool {
    if text.len() <= max_bytes {
        return false;
    }
    const ELLIPSIS: char = '…';
    let budget = max_bytes.saturating_sub(ELLIPSIS.len_utf8());
    let mut end = budget;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text.truncate(end);
    if max_bytes >= ELLIPSIS.len_utf8() {
        text.push(ELLIPSIS);
    }
    true
}

/// Sanitises an owned string in place; returns whether it was cut.
pub(crate) fn sanitize_string(text: &mut String, max_bytes: usize) -> bool {
    if !needs_work(text, max_bytes) {
        return false;
    }
    let (clean, cut) = sanitize_str(text, max_bytes);
    *text = clean.into_owned();
    cut
}

pub(crate) fn sanitize_opt(text: &mut Option<String>, max_bytes: usize) -> bool {
    text.as_mut().is_some_and(|t| sanitize_string(t, max_bytes))
}

/// Decodes header bytes, replacing invalid UTF-8 with U+FFFD; the flag says
/// whether anything was replaced.
///
/// ```
/// let (text, lossy) = audit_core::decode_lossy(b"curl/8.0 \xff\xfe");
/// assert_eq!(text, "curl/8.0 \u{fffd}\u{fffd}");
/// assert!(lossy);
/// ```
pub fn decode_lossy(bytes: &[u8]) -> (Cow<'_, str>, bool) {
    let text = String::from_utf8_lossy(bytes);
    let lossy = matches!(text, Cow::Owned(_));
    (text, lossy)
}

/// Sanitises every string and key in a JSON tree, cuts what nests too deep,
/// and returns (was anything cut, approximate serialised size). The builder
/// uses [`redact_and_sanitize_json`]; this is its reference in tests.
#[cfg(test)]
pub(crate) fn sanitize_json(value: &mut Value, limits: &Limits) -> (bool, usize) {
    let mut walk = JsonWalk {
        limits,
        redactor: None,
        truncated: false,
        bytes: 0,
    };
    walk.value(value, 0);
    (walk.truncated, walk.bytes)
}

/// [`Redactor::redact`] then [`sanitize_json`], in one walk of the tree.
///
/// The same result as the two steps: each object's denied keys are masked
/// (looking at the raw keys) before its keys are sanitised and its values
/// descended into. Below the depth limit the two-step form would redact
/// values that are then replaced by the depth marker anyway, so not visiting
/// them changes nothing.
pub(crate) fn redact_and_sanitize_json(value: &mut Value, redactor: &Redactor, limits: &Limits) -> (bool, usize) {
    let mut walk = JsonWalk {
        limits,
        redactor: Some(redactor),
        truncated: false,
        bytes: 0,
    };
    walk.value(value, 0);
    (walk.truncated, walk.bytes)
}

/// [`redact_and_sanitize_json`] for a JSON object held as a map.
pub(crate) fn redact_and_sanitize_map(
    map: &mut Map<String, Value>,
    redactor: &Redactor,
    limits: &Limits,
) -> (bool, usize) {
    let mut walk = JsonWalk {
        limits,
        redactor: Some(redactor),
        truncated: false,
        bytes: 0,
    };
    walk.map(map, 0);
    (walk.truncated, walk.bytes)
}

/// The marker that replaces a JSON value cut for size or depth.
pub(crate) fn oversize_marker(what: &str, bytes: usize, limit: usize) -> Value {
    Value::String(format!(
        "[TRUNCATED: {what} of about {bytes} bytes exceeds the {limit}-byte limit]"
    ))
}

struct JsonWalk<'a> {
    limits: &'a Limits,
    /// When set, denied keys are masked on the way (see
    /// [`redact_and_sanitize_json`]).
    redactor: Option<&'a Redactor>,
    truncated: bool,
    bytes: usize,
}

impl JsonWalk<'_> {
    fn value(&mut self, value: &mut Value, depth: usize) {
        if matches!(value, Value::Array(_) | Value::Object(_)) && self.too_deep(value, depth) {
            return;
        }
        match value {
            Value::String(text) => {
                self.truncated |= sanitize_string(text, self.limits.json_string_bytes);
                self.bytes += text.len() + 2;
            }
            Value::Array(items) => {
                self.bytes += 2 + items.len();
                for item in items {
                    self.value(item, depth + 1);
                }
            }
            Value::Object(map) => self.map(map, depth),
            Value::Null | Value::Bool(_) => self.bytes += 5,
            Value::Number(_) => self.bytes += 12,
        }
    }

    fn too_deep(&mut self, value: &mut Value, depth: usize) -> bool {
        if depth < self.limits.json_depth {
            return false;
        }
        *value = Value::String(format!(
            "[TRUNCATED: nested deeper than {} levels]",
            self.limits.json_depth
        ));
        self.truncated = true;
        true
    }

    fn map(&mut self, map: &mut Map<String, Value>, depth: usize) {
        self.bytes += 2;
        if let Some(redactor) = self.redactor {
            redactor.redact_entries(map);
        }
        let limits = self.limits;
        if map.keys().any(|key| needs_work(key, limits.field_bytes)) {
            // Keys are rewritten only when one needs it; rebuilding keeps order.
            let entries = std::mem::take(map);
            for (mut key, entry) in entries {
                self.truncated |= sanitize_string(&mut key, limits.field_bytes);
                map.insert(key, entry);
            }
        }
        for (key, entry) in map.iter_mut() {
            self.bytes += key.len() + 4;
            self.value(entry, depth + 1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn clean_text_is_borrowed() {
        let (text, cut) = sanitize_str("Deleted app Billing (app_42) — ok ✓", 512);
        assert!(matches!(text, Cow::Borrowed(_)));
        assert!(!cut);
    }

    #[test]
    fn cr_lf_cannot_forge_a_line() {
        let (text, _) = sanitize_str("ok\r\n2026-01-01 admin deleted everything", 512);
        assert!(!text.contains('\n') && !text.contains('\r'));
        assert_eq!(text, "ok\\u{d}\\u{a}2026-01-01 admin deleted everything");
    }

    #[test]
    fn ansi_escapes_are_made_visible() {
        let (text, _) = sanitize_str("\u{1b}[2J\u{1b}[31mred", 512);
        assert_eq!(text, "\\u{1b}[2J\\u{1b}[31mred");
    }

    #[test]
    fn nul_and_del_and_c1_are_escaped() {
        let (text, _) = sanitize_str("a\0b\u{7f}c\u{85}d", 512);
        assert_eq!(text, "a\\u{0}b\\u{7f}c\\u{85}d");
    }

    #[test]
    fn bidi_override_cannot_reorder_text() {
        // "invoice_\u{202e}fdp.exe" displays as "invoice_exe.pdf" if left raw.
        let (text, _) = sanitize_str("invoice_\u{202e}fdp.exe", 512);
        assert_eq!(text, "invoice_\\u{202e}fdp.exe");
        let (text, _) = sanitize_str("\u{2066}x\u{2069}\u{2028}", 512);
        assert!(!text.chars().any(must_escape), "{text}");
    }

    #[test]
    fn hundred_kilobyte_string_is_capped_at_a_char_boundary() {
        let huge = "é".repeat(50_000); // 100 KB, two bytes per char
        let (text, cut) = sanitize_str(&huge, 4096);
        assert!(cut);
        assert!(text.len() <= 4096);
        assert!(text.ends_with('…'));
        assert!(text.trim_end_matches('…').chars().all(|c| c == 'é'));
    }

    #[test]
    fn escaping_counts_toward_the_cap() {
        let nuls = "\0".repeat(100);
        let (text, cut) = sanitize_str(&nuls, 20);
        assert!(cut && text.len() <= 20, "{text}");
    }

    #[test]
    fn json_strings_and_keys_are_sanitised() {
        let mut value = json!({"na\nme": "x\u{1b}y", "list": ["\r", 1, null]});
        let (cut, _) = sanitize_json(&mut value, &Limits::default());
        assert!(!cut);
        assert_eq!(value, json!({"na\\u{a}me": "x\\u{1b}y", "list": ["\\u{d}", 1, null]}));
    }

    #[test]
    fn json_nested_too_deep_is_cut() {
        let mut value = json!(1);
        for _ in 0..100 {
            value = json!({ "n": value });
        }
        let (cut, _) = sanitize_json(&mut value, &Limits::default());
        assert!(cut);
        let text = value.to_string();
        assert!(text.contains("nested deeper than 32 levels"), "{text}");
    }

    /// JSON with keys that are denied, need escaping or are long, strings
    /// that need escaping, and nesting deep enough to meet small limits.
    fn hostile_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let key = prop::sample::select(vec![
            "id",
            "password",
            "Api-Key",
            "tok\u{1b}en",
            "na\nme",
            "secretary",
            "a_very_long_key_name",
            "",
        ])
        .prop_map(str::to_owned);
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-3i64..3).prop_map(Value::from),
            prop::sample::select(vec!["x", "line\r\nforged", "\u{202e}abc", "long text that is capped"])
                .prop_map(Value::from),
        ];
        leaf.prop_recursive(6, 48, 5, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::vec((key.clone(), inner), 0..5)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn one_walk_equals_redact_then_sanitise(
            value in hostile_json(),
            depth in 0usize..5,
            string_bytes in 0usize..20,
            field_bytes in 0usize..12,
            allow in proptest::prelude::any::<bool>(),
        ) {
            let limits = Limits { json_depth: depth, json_string_bytes: string_bytes, field_bytes, ..Limits::default() };
            let redactor = if allow { Redactor::new().allow("secretary") } else { Redactor::new() };
            let mut two_steps = value.clone();
            redactor.redact(&mut two_steps);
            let expected = sanitize_json(&mut two_steps, &limits);
            let mut one_walk = value.clone();
            let got = redact_and_sanitize_json(&mut one_walk, &redactor, &limits);
            proptest::prop_assert_eq!(&one_walk, &two_steps);
            proptest::prop_assert_eq!(got, expected);

            if let Value::Object(map) = value {
                // The map form, as metadata is prepared: the root is not
                // subject to the depth limit.
                let mut wrapped = Value::Object(map.clone());
                redactor.redact(&mut wrapped);
                let Value::Object(mut two_steps) = wrapped else { unreachable!() };
                let mut walk = JsonWalk { limits: &limits, redactor: None, truncated: false, bytes: 0 };
                walk.map(&mut two_steps, 0);
                let mut one_walk = map;
                let got = redact_and_sanitize_map(&mut one_walk, &redactor, &limits);
                proptest::prop_assert_eq!(one_walk, two_steps);
                proptest::prop_assert_eq!(got, (walk.truncated, walk.bytes));
            }
        }
    }

    /// `needs_work` as first written, one byte or char at a time.
    fn reference_needs_work(input: &str, max_bytes: usize) -> bool {
        input.len() > max_bytes
            || if input.is_ascii() {
                input.bytes().any(|b| b < 0x20 || b == 0x7f)
            } else {
                input.chars().any(must_escape)
            }
    }

    proptest::proptest! {
        #[test]
        fn word_at_a_time_check_agrees_with_the_reference(
            chars in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(vec!['a', 'Z', ' ', '~', '\0', '\n', '\u{1f}', '\u{7f}', '\u{80}', '\u{9f}', 'é', '\u{202e}', '\u{2028}', '🚀']),
                    proptest::prelude::any::<char>(),
                ],
                0..40,
            ),
            max_bytes in 0usize..64,
        ) {
            let input: String = chars.into_iter().collect();
            proptest::prop_assert_eq!(needs_work(&input, max_bytes), reference_needs_work(&input, max_bytes));
        }
    }

    #[test]
    fn lossy_decoding_flags_replacement() {
        assert_eq!(decode_lossy(b"plain"), (Cow::Borrowed("plain"), false));
        let (text, lossy) = decode_lossy(&[b'a', 0xc3, b'b']);
        assert!(lossy);
        assert_eq!(text, "a\u{fffd}b");
    }
}
