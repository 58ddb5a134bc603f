//! Fuzzing the sanitising of strings that come from outside (issue 18):
//! `sanitize_str` and `decode_lossy`, and the builder applying them to the
//! header-derived strings of an event (user agent, client request id) under
//! any `Limits`. Whatever the input, nothing panics, no character the
//! sanitiser documents as escaped survives, the result fits its limit in
//! bytes (what `Limits` promises), sanitising twice is sanitising once, and
//! short printable ASCII passes through unchanged.
//!
//! Cases per property: `AUDIT_FUZZ_CASES` (see `support`).

mod support;

use std::borrow::Cow;

use audit_core::{Action, Actor, Event, EventPolicy, Limits, decode_lossy, sanitize_str};
use proptest::prelude::*;
use support::fuzz_cases;

/// The characters `sanitize.rs` documents as escaped: C0 controls, DEL, C1
/// controls, the bidi overrides and isolates and marks, and the line and
/// paragraph separators.
fn documented_as_escaped(c: char) -> bool {
    matches!(c,
        '\u{0}'..='\u{1f}'
        | '\u{7f}'
        | '\u{80}'..='\u{9f}'
        | '\u{202a}'..='\u{202e}'
        | '\u{2066}'..='\u{2069}'
        | '\u{200e}'
        | '\u{200f}'
        | '\u{61c}'
        | '\u{2028}'
        | '\u{2029}')
}

/// The documented escape of the whole input, uncut: each escaped character
/// becomes the visible text `\u{…}` with its code point in lowercase hex.
fn escaped_in_full(input: &str) -> String {
    input
        .chars()
        .map(|c| {
            if documented_as_escaped(c) {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Characters at and around every boundary of the escaped set, a literal
/// backslash and ellipsis (what the output itself is made of), and
/// characters of every UTF-8 width.
fn hostile_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            '\0', '\t', '\n', '\r', '\u{1b}', '\u{1f}', ' ', '~', '\u{7f}', '\u{80}', '\u{85}', '\u{9f}', '\u{a0}',
            '\u{61b}', '\u{61c}', '\u{61d}', '\u{200d}', '\u{200e}', '\u{200f}', '\u{2027}', '\u{2028}', '\u{2029}',
            '\u{202a}', '\u{202e}', '\u{202f}', '\u{2065}', '\u{2066}', '\u{2069}', '\u{206a}', '\\', '{', '}', 'u',
            '…', '\u{fffd}', 'é', '中', '😀',
        ]),
        any::<char>(),
    ]
}

/// Any string; strings dense in escaped characters; and long ones, so the
/// cap cuts inside escapes and multi-byte characters at every offset.
fn hostile_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(hostile_char(), 0..300).prop_map(String::from_iter),
        (prop::collection::vec(hostile_char(), 1..16), 1..600usize)
            .prop_map(|(chars, times)| String::from_iter(chars).repeat(times)),
    ]
}

/// Limits from none at all, through the sizes of one escape or ellipsis, to
/// the defaults.
fn max_bytes() -> impl Strategy<Value = usize> {
    prop_oneof![0..16usize, 0..600usize, Just(512), Just(4096)]
}

/// Header bytes as `http` lets them through, and any bytes at all.
fn header_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..300),
        hostile_text().prop_map(String::into_bytes),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases(25_000)))]

    #[test]
    fn sanitised_text_is_the_documented_escape_cut_to_its_limit(
        input in hostile_text(),
        max_bytes in max_bytes(),
    ) {
        let (clean, cut) = sanitize_str(&input, max_bytes);
        prop_assert!(clean.len() <= max_bytes, "{} > {}", clean.len(), max_bytes);
        prop_assert!(!clean.chars().any(documented_as_escaped), "{:?}", clean);
        let full = escaped_in_full(&input);
        if cut {
            // The longest prefix that fits beside the ellipsis, when one fits.
            let kept = clean.strip_suffix('…').unwrap_or(&clean);
            prop_assert!(full.len() > max_bytes);
            prop_assert!(full.starts_with(kept), "{:?} is not a prefix of {:?}", kept, full);
            if max_bytes >= '…'.len_utf8() {
                prop_assert!(clean.ends_with('…'));
                prop_assert!(clean.len() + 3 >= max_bytes, "{} bytes kept of {}", clean.len(), max_bytes);
            }
        } else {
            prop_assert_eq!(clean.as_ref(), full.as_str());
        }
    }

    #[test]
    fn sanitising_twice_is_sanitising_once(input in hostile_text(), max_bytes in max_bytes()) {
        let (once, _) = sanitize_str(&input, max_bytes);
        let (twice, cut) = sanitize_str(&once, max_bytes);
        prop_assert!(matches!(twice, Cow::Borrowed(_)), "{:?}", once);
        prop_assert_eq!(twice.as_ref(), once.as_ref());
        prop_assert!(!cut);
    }

    #[test]
    fn short_printable_ascii_passes_through_unchanged(input in "[ -~]{0,64}", slack in 0..64usize) {
        let (clean, cut) = sanitize_str(&input, input.len() + slack);
        prop_assert!(matches!(clean, Cow::Borrowed(_)));
        prop_assert_eq!(clean.as_ref(), input.as_str());
        prop_assert!(!cut);
    }

    #[test]
    fn lossy_decoding_keeps_valid_utf8_and_flags_the_rest(bytes in header_bytes()) {
        let (text, lossy) = decode_lossy(&bytes);
        prop_assert_eq!(lossy, std::str::from_utf8(&bytes).is_err());
        if lossy {
            prop_assert!(text.contains(char::REPLACEMENT_CHARACTER));
        } else {
            prop_assert_eq!(text.as_bytes(), &bytes[..]);
        }
    }

    #[test]
    fn header_strings_of_an_event_are_escaped_and_capped_under_any_limits(
        user_agent in header_bytes(),
        client_request_id in header_bytes(),
        text_bytes in max_bytes(),
        field_bytes in max_bytes(),
    ) {
        let policy = EventPolicy {
            limits: Limits { text_bytes, field_bytes, ..Limits::default() },
            ..EventPolicy::default()
        };
        let (agent, agent_lossy) = decode_lossy(&user_agent);
        let (client_id, id_lossy) = decode_lossy(&client_request_id);
        let action = Action::from_static("http.get").expect("a valid action");
        let mut builder = Event::builder(action, Actor::anonymous());
        let context = builder.context_mut();
        context.user_agent = Some(agent.into_owned());
        context.client_request_id = Some(client_id.into_owned());
        if agent_lossy || id_lossy {
            builder = builder.mark_lossy_utf8();
        }
        let event = builder.build_with(&policy);

        let context = event.context();
        for (text, limit) in [(&context.user_agent, text_bytes), (&context.client_request_id, field_bytes)] {
            let text = text.as_deref().expect("set above");
            prop_assert!(text.len() <= limit, "{} > {}", text.len(), limit);
            prop_assert!(!text.chars().any(documented_as_escaped), "{:?}", text);
        }
        prop_assert_eq!(event.lossy_utf8(), agent_lossy || id_lossy);
        prop_assert!(serde_json::to_string(&event).is_ok());
    }
}
