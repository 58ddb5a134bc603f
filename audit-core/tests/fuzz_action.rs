//! Fuzzing action names (issue 18). An action reaches `Action::new` from
//! code, from a store row and from a query string (`action=`), so any
//! string must be refused or accepted without a panic; exactly the names of
//! the documented grammar are accepted; an accepted name reads back
//! unchanged through `Display`, `FromStr` and serde; and a refusal quotes
//! the name escaped, so it is safe to log.
//!
//! Cases per property: `AUDIT_FUZZ_CASES` (see `support`).

mod support;

use audit_core::{Action, ActionError, Category, MAX_ACTION_LEN};
use proptest::prelude::*;
use support::fuzz_cases;

/// The rule as `Action`'s documentation states it,
/// `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$` and at most [`MAX_ACTION_LEN`]
/// bytes, written the plainest way: the reference the parser is held to.
fn documented_grammar(name: &str) -> bool {
    let segments: Vec<&str> = name.split('.').collect();
    name.len() <= MAX_ACTION_LEN
        && segments.len() >= 2
        && segments.iter().all(|segment| {
            let mut bytes = segment.bytes();
            bytes.next().is_some_and(|b| b.is_ascii_lowercase())
                && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        })
}

/// Names built by the grammar, some longer than the limit.
fn grammatical_name() -> impl Strategy<Value = String> {
    prop::collection::vec("[a-z][a-z0-9_]{0,24}", 2..10).prop_map(|segments| segments.join("."))
}

/// Grammatical names within the limit: trailing segments are dropped until
/// the name fits (two segments always do).
fn valid_name() -> impl Strategy<Value = String> {
    grammatical_name().prop_map(|name| {
        let mut segments: Vec<&str> = name.split('.').collect();
        while segments.join(".").len() > MAX_ACTION_LEN {
            segments.pop();
        }
        segments.join(".")
    })
}

/// Any string, strings dense in the grammar's own characters and its near
/// misses (uppercase, `-`, spaces, controls, non-ASCII), grammatical names,
/// and grammatical names with one character replaced by any other.
fn candidate_name() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9_.\\- \u{0}\u{1b}\n\u{7f}é\u{202e}]{0,140}",
        grammatical_name(),
        (grammatical_name(), any::<prop::sample::Index>(), any::<char>()).prop_map(|(name, at, replacement)| {
            let mut chars: Vec<char> = name.chars().collect();
            let at = at.index(chars.len());
            chars[at] = replacement;
            chars.into_iter().collect()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(fuzz_cases(40_000)))]

    #[test]
    fn any_string_is_accepted_exactly_when_the_documented_grammar_allows_it(name in candidate_name()) {
        let accepted = Action::new(name.as_str());
        prop_assert_eq!(accepted.is_ok(), documented_grammar(&name), "{:?}: {:?}", name, accepted);
        // Every way in agrees with `new`, the serde one (a store row) included.
        prop_assert_eq!(&name.parse::<Action>(), &accepted);
        prop_assert_eq!(&Action::try_from(name.as_str()), &accepted);
        prop_assert_eq!(&Action::try_from(name.clone()), &accepted);
        let json = serde_json::to_string(&name).expect("a string serialises");
        prop_assert_eq!(serde_json::from_str::<Action>(&json).ok(), accepted.clone().ok());
        // `from_static` wants a literal; leaking is how a test gets one.
        let literal: &'static str = name.clone().leak();
        prop_assert_eq!(&Action::from_static(literal), &accepted);
    }

    #[test]
    fn an_accepted_name_reads_back_unchanged(name in valid_name()) {
        let action = Action::new(name.as_str()).expect("a grammatical name within the limit");
        prop_assert_eq!(action.as_str(), name.as_str());
        prop_assert_eq!(action.to_string(), name.as_str());
        prop_assert_eq!(action.to_string().parse::<Action>(), Ok(action.clone()));
        let json = serde_json::to_string(&action).expect("an action serialises");
        prop_assert_eq!(&json, &serde_json::to_string(&name).expect("a string serialises"));
        prop_assert_eq!(serde_json::from_str::<Action>(&json).ok(), Some(action.clone()));
        prop_assert_eq!(action.segments().collect::<Vec<_>>().join("."), name.as_str());
        prop_assert_eq!(Some(action.namespace()), name.split('.').next());
        prop_assert_eq!(Some(action.verb()), name.split('.').next_back());
        if action.namespace() == "auth" {
            prop_assert_eq!(Category::for_action(&action), Category::Auth);
        }
    }

    #[test]
    fn a_refused_name_is_explained_without_control_characters(name in candidate_name()) {
        let Err(error) = Action::new(name.as_str()) else {
            return Ok(());
        };
        let message = error.to_string();
        prop_assert!(!message.is_empty());
        // The message quotes the name escaped: it is logged and shown as is.
        prop_assert!(!message.chars().any(char::is_control), "{:?}", message);
        prop_assert_eq!(name.is_empty(), error == ActionError::Empty);
        prop_assert_eq!(
            name.len() > MAX_ACTION_LEN,
            error == ActionError::TooLong { len: name.len() },
            "{}", message
        );
    }
}
