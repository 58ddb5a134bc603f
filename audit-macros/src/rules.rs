//! The naming rules the macros check at compile time, and the suggestions
//! their errors make.
//!
//! The action rule is audit-core's `Action::new` rule, restated here because a
//! proc-macro crate cannot depend on the crate that re-exports it. The unit
//! tests below compare the two on a table of cases and on generated strings,
//! and the generated code validates the action once more at run time, loudly.

use std::fmt::Write as _;

/// The longest action accepted, in bytes; `audit_core::MAX_ACTION_LEN`.
const MAX_ACTION_LEN: usize = 128;

/// How the rule is shown in every action error.
const ACTION_RULE: &str = "actions are dotted lowercase names like `app.deleted`: at least two segments, \
                           each starting with a-z and continuing with a-z, 0-9 or _, at most 128 bytes";

/// Checks `name` against the action rule; the error says what is wrong, where,
/// and (when one exists) a valid spelling to use instead.
pub(crate) fn check_action(name: &str) -> Result<(), String> {
    let Some(problem) = action_problem(name) else {
        return Ok(());
    };
    let mut message = format!("invalid action: {problem}");
    if let Some(suggestion) = suggest_action(name) {
        let _ = write!(message, "; try `{suggestion}`");
    }
    let _ = write!(message, "\n{ACTION_RULE}");
    Err(message)
}

/// What is wrong with `name`, or `None` when it is a valid action.
fn action_problem(name: &str) -> Option<String> {
    let shown = || name.escape_debug().to_string();
    if name.is_empty() {
        return Some("the action is empty".to_owned());
    }
    if name.len() > MAX_ACTION_LEN {
        return Some(format!(
            "the action is {} bytes long; the limit is {MAX_ACTION_LEN}",
            name.len()
        ));
    }
    let mut segment_start = true;
    let mut segments = 1;
    for (position, found) in name.char_indices() {
        if found.is_ascii_uppercase() {
            return Some(format!(
                "`{}` has an uppercase letter `{found}` at byte {position}; actions are lowercase",
                shown()
            ));
        }
        if found == '.' {
            if segment_start {
                return Some(format!("`{}` has an empty segment at byte {position}", shown()));
            }
            segments += 1;
            segment_start = true;
            continue;
        }
        if !(found.is_ascii_lowercase() || found.is_ascii_digit() || found == '_') {
            return Some(format!(
                "`{}` has `{}` at byte {position}; only a-z, 0-9, _ and . are allowed",
                shown(),
                found.escape_debug()
            ));
        }
        if segment_start && !found.is_ascii_lowercase() {
            return Some(format!(
                "`{}` has a segment starting with `{}` at byte {position}; segments start with a-z",
                shown(),
                found.escape_debug()
            ));
        }
        segment_start = false;
    }
    if segment_start {
        return Some(format!("`{}` has an empty segment at byte {}", shown(), name.len()));
    }
    if segments < 2 {
        return Some(format!(
            "`{}` has a single segment; an action names the resource, then what happened to it, \
             e.g. `app.deleted`",
            shown()
        ));
    }
    None
}

fn is_valid_action(name: &str) -> bool {
    action_problem(name).is_none()
}

/// A valid spelling close to `name`: camelCase and PascalCase become
/// snake_case, `-` and spaces become `_`. `None` when that is still invalid
/// (or when the name has a single segment, where no guess is safe).
fn suggest_action(name: &str) -> Option<String> {
    let suggestion = name.split('.').map(snake_case).collect::<Vec<_>>().join(".");
    (suggestion != name && is_valid_action(&suggestion)).then_some(suggestion)
}

/// `roleChanged` → `role_changed`, `APIKey` → `api_key`, `web-hook` → `web_hook`.
pub(crate) fn snake_case(word: &str) -> String {
    let chars: Vec<char> = word.chars().collect();
    let mut out = String::with_capacity(word.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c == '-' || c == ' ' {
            out.push('_');
        } else if c.is_ascii_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1);
            let boundary = match prev {
                Some(p) if p.is_ascii_lowercase() || p.is_ascii_digit() => true,
                // The last capital of an acronym starts a word: `APIKey` → `api_key`.
                Some(p) if p.is_ascii_uppercase() => next.is_some_and(char::is_ascii_lowercase),
                _ => false,
            };
            if boundary && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// audit-core's verb table (`Category::for_action`), restated for the
/// catalogue's constants, whose category must be known at compile time; a
/// unit test compares the two. Pairs are (verb, `Category` variant).
const VERB_CATEGORIES: &[(&str, &str)] = &[
    ("created", "Create"),
    ("added", "Create"),
    ("invited", "Create"),
    ("connected", "Create"),
    ("registered", "Create"),
    ("uploaded", "Create"),
    ("imported", "Create"),
    ("issued", "Create"),
    ("provisioned", "Create"),
    ("updated", "Update"),
    ("changed", "Update"),
    ("modified", "Update"),
    ("edited", "Update"),
    ("renamed", "Update"),
    ("enabled", "Update"),
    ("disabled", "Update"),
    ("moved", "Update"),
    ("restored", "Update"),
    ("rotated", "Update"),
    ("deleted", "Delete"),
    ("removed", "Delete"),
    ("revoked", "Delete"),
    ("offboarded", "Delete"),
    ("destroyed", "Delete"),
    ("disconnected", "Delete"),
    ("purged", "Delete"),
    ("uninstalled", "Delete"),
    ("viewed", "Access"),
    ("exported", "Access"),
    ("accessed", "Access"),
    ("downloaded", "Access"),
    ("listed", "Access"),
    ("searched", "Access"),
    ("login", "Auth"),
    ("logout", "Auth"),
    ("logged_in", "Auth"),
    ("logged_out", "Auth"),
    ("signed_in", "Auth"),
    ("signed_out", "Auth"),
];

/// The `Category` variant audit-core derives for a valid action: `auth.*` is
/// auth; otherwise the last segment, or its `_<verb>` ending, in the table.
pub(crate) fn category_for_action(action: &str) -> &'static str {
    let mut segments = action.split('.');
    if segments.next() == Some("auth") {
        return "Auth";
    }
    let verb = action.rsplit('.').next().unwrap_or_default();
    VERB_CATEGORIES
        .iter()
        .find(|(known, _)| verb == *known || verb.strip_suffix(known).is_some_and(|rest| rest.ends_with('_')))
        .map_or("Other", |(_, category)| category)
}

/// Target types (`app`, `api_key`) follow the rule of one action segment.
pub(crate) fn check_target_type(name: &str) -> Result<(), String> {
    let valid = |s: &str| {
        let mut chars = s.chars();
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    };
    if valid(name) {
        return Ok(());
    }
    let mut message = format!(
        "invalid target type `{}`: target types are lowercase snake_case names like `app` or `api_key` \
         (a-z first, then a-z, 0-9 or _)",
        name.escape_debug()
    );
    let suggestion = snake_case(name);
    if valid(&suggestion) {
        let _ = write!(message, "; try `{suggestion}`");
    }
    Err(message)
}

/// audit-core's `DEFAULT_DENIED_KEYS`; a unit test keeps the two lists equal.
const SECRET_TERMS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "authorization",
    "cookie",
    "api_key",
    "apikey",
    "private_key",
    "session",
    "credential",
    "card_number",
    "cvv",
    "cvc",
];

/// Whether the default redactor (plus this attribute's `redact(...)` keys)
/// would mask a metadata key called `name`: lowercased, without `_ - .` and
/// spaces, it contains a denied term. Such arguments are recorded as
/// `"[REDACTED]"` without their value ever being read.
pub(crate) fn looks_secret(name: &str, extra: &[String]) -> bool {
    let key = normalise(name);
    SECRET_TERMS
        .iter()
        .copied()
        .chain(extra.iter().map(String::as_str))
        .map(normalise)
        .any(|term| !term.is_empty() && key.contains(&term))
}

fn normalise(key: &str) -> String {
    key.chars()
        .filter(|c| !matches!(c, '_' | '-' | '.' | ' '))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The closest of `candidates` to `name`, if it is close enough to be a typo.
pub(crate) fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|candidate| (levenshtein(name, candidate), candidate))
        .filter(|&(distance, candidate)| distance <= (candidate.len().max(name.len()) / 3).max(1))
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// The declared name nearest to `name`, when it is close enough to be a
/// typo: at most 3 edits, or at most a third of the longer name's length
/// for long names. Ties go to the first declared.
pub(crate) fn closest_action<'a>(name: &str, declared: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    declared
        .into_iter()
        .map(|candidate| (levenshtein(name, candidate), candidate))
        .filter(|&(distance, candidate)| distance <= 3 || distance <= name.len().max(candidate.len()) / 3)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// The number of single-character insertions, deletions and substitutions
/// that turn `a` into `b`, over chars, in one row of memory.
pub(crate) fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous_row: Vec<usize> = (0..=b.len()).collect();
    for (i, from) in a.chars().enumerate() {
        let mut diagonal = previous_row[0];
        previous_row[0] = i + 1;
        for (j, &to) in b.iter().enumerate() {
            let above = previous_row[j + 1];
            let substitute = diagonal + usize::from(from != to);
            previous_row[j + 1] = substitute.min(above + 1).min(previous_row[j] + 1);
            diagonal = above;
        }
    }
    previous_row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    const CASES: &[&str] = &[
        "app.deleted",
        "a.b",
        "member.role_changed",
        "audit_log.viewed",
        "v2.app.created",
        "x1.y_2",
        "",
        "app",
        "app..deleted",
        ".app",
        "app.",
        "app.1deleted",
        "_app.deleted",
        "app-x.deleted",
        "app.délété",
        "App.Deleted",
        "app.roleChanged",
        "app.del\u{1b}[31m",
        "a.b\0",
        "app deleted.x",
    ];

    #[test]
    fn agrees_with_audit_core_on_the_table() {
        for case in CASES {
            assert_eq!(
                check_action(case).is_ok(),
                audit_core::Action::new(*case).is_ok(),
                "rules disagree on {case:?}"
            );
        }
        let at_limit = format!("a.{}", "b".repeat(MAX_ACTION_LEN - 2));
        let over = format!("a.{}", "b".repeat(MAX_ACTION_LEN - 1));
        assert!(check_action(&at_limit).is_ok() && audit_core::Action::new(at_limit).is_ok());
        assert!(check_action(&over).is_err() && audit_core::Action::new(over).is_err());
    }

    #[test]
    fn agrees_with_audit_core_on_generated_names() {
        // A deterministic walk over short strings of the characters that matter.
        let alphabet = ['a', 'z', 'A', '0', '_', '.', '-', 'é'];
        let mut checked = 0;
        let mut stack = vec![String::new()];
        while let Some(name) = stack.pop() {
            assert_eq!(
                check_action(&name).is_ok(),
                audit_core::Action::new(name.clone()).is_ok(),
                "rules disagree on {name:?}"
            );
            checked += 1;
            if name.chars().count() < 5 {
                stack.extend(alphabet.iter().map(|c| format!("{name}{c}")));
            }
        }
        assert!(checked > 30_000, "{checked}");
    }

    #[test]
    fn errors_show_the_rule_and_a_fix() {
        let upper = check_action("App.Deleted").unwrap_err();
        assert!(upper.contains("uppercase letter `A` at byte 0"), "{upper}");
        assert!(upper.contains("try `app.deleted`"), "{upper}");
        assert!(upper.contains(ACTION_RULE), "{upper}");
        assert!(
            check_action("app.roleChanged")
                .unwrap_err()
                .contains("try `app.role_changed`")
        );
        assert!(
            check_action("api-key.rotated")
                .unwrap_err()
                .contains("try `api_key.rotated`")
        );
        let single = check_action("deleted").unwrap_err();
        assert!(single.contains("single segment") && !single.contains("try"), "{single}");
        assert!(!check_action("app.1x").unwrap_err().contains("try"));
    }

    #[test]
    fn snake_case_handles_acronyms_and_separators() {
        assert_eq!(snake_case("ApiKey"), "api_key");
        assert_eq!(snake_case("APIKey"), "api_key");
        assert_eq!(snake_case("roleChanged"), "role_changed");
        assert_eq!(snake_case("web-hook"), "web_hook");
        assert_eq!(snake_case("App"), "app");
        assert_eq!(snake_case("OAuth2Client"), "o_auth2_client");
    }

    #[test]
    fn target_types_are_snake_case() {
        assert!(check_target_type("api_key").is_ok());
        assert!(check_target_type("ApiKey").unwrap_err().contains("try `api_key`"));
        assert!(check_target_type("").is_err());
        assert!(check_target_type("app.x").is_err());
    }

    #[test]
    fn closest_finds_typos_only() {
        assert_eq!(closest("idd", ["db", "id", "reason"]), Some("id"));
        assert_eq!(closest("reasno", ["db", "id", "reason"]), Some("reason"));
        assert_eq!(closest("zzz", ["db", "id", "reason"]), None);
    }

    #[test]
    fn secret_terms_match_audit_core() {
        assert_eq!(SECRET_TERMS, audit_core::DEFAULT_DENIED_KEYS);
        let redactor = audit_core::Redactor::new();
        for name in [
            "password",
            "new_password",
            "apiKey",
            "db_passwd",
            "refresh_token",
            "email",
            "id",
            "role",
            "tokens",
        ] {
            assert_eq!(looks_secret(name, &[]), redactor.is_denied(name), "{name}");
        }
        assert!(looks_secret("payout_iban", &["IBAN".to_owned()]));
    }

    #[test]
    fn levenshtein_counts_edits() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("abc", ""), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("app.deleted", "app.deleted"), 0);
        assert_eq!(levenshtein("app.deletd", "app.deleted"), 1);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("flaw", "lawn"), 2);
        // Chars, not bytes: one substitution.
        assert_eq!(levenshtein("café", "cafe"), 1);
        assert_eq!(levenshtein("ab", "ba"), 2);
    }

    #[test]
    fn levenshtein_is_symmetric() {
        for (a, b) in [
            ("app.created", "apps.create"),
            ("member.invited", "member.removed"),
            ("x", ""),
        ] {
            assert_eq!(levenshtein(a, b), levenshtein(b, a), "{a} {b}");
        }
    }

    #[test]
    fn closest_action_suggests_typos_and_nothing_else() {
        let declared = ["app.created", "app.deleted", "member.invited"];
        assert_eq!(closest_action("app.deletd", declared), Some("app.deleted"));
        assert_eq!(closest_action("app.create", declared), Some("app.created"));
        assert_eq!(closest_action("member.invite", declared), Some("member.invited"));
        assert_eq!(closest_action("billing.charged", declared), None);
        assert_eq!(closest_action("anything.at_all", []), None);
    }

    #[test]
    fn long_names_allow_a_third_of_their_length() {
        let declared = ["integration.webhook_rotated"];
        // 5 edits: more than 3, within a third of the 27 bytes.
        let far_typo = "integratn.wbhk_rotated";
        assert_eq!(levenshtein(far_typo, declared[0]), 5);
        assert_eq!(closest_action(far_typo, declared), Some(declared[0]));
        // 4 edits on a short name are more than 3 and more than a third.
        assert_eq!(levenshtein("app.dltdx", "app.deleted"), 4);
        assert_eq!(closest_action("app.dltdx", ["app.deleted"]), None);
    }

    #[test]
    fn category_rule_matches_audit_core() {
        let mut actions: Vec<String> = VERB_CATEGORIES
            .iter()
            .flat_map(|(verb, _)| {
                [
                    format!("app.{verb}"),
                    format!("member.role_{verb}"),
                    format!("x.{verb}_not"),
                ]
            })
            .collect();
        actions.extend(
            [
                "auth.anything",
                "auth.token_revoked",
                "billing.charged",
                "app.created_x",
                "app._created",
                "v2.app.login",
            ]
            .map(String::from),
        );
        for action in &actions {
            let Ok(parsed) = audit_core::Action::new(action.as_str()) else {
                continue;
            };
            let expected = format!("{:?}", audit_core::Category::for_action(&parsed));
            assert_eq!(category_for_action(action), expected, "{action}");
        }
        assert_eq!(category_for_action("member.role_changed"), "Update");
        assert_eq!(category_for_action("billing.charged"), "Other");
    }
}
