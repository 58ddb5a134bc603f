//! Actions (`app.deleted`) and the categories derived from them.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest action accepted, in bytes (actions are ASCII).
pub const MAX_ACTION_LEN: usize = 128;

/// What happened, as a dotted lowercase name: `app.deleted`, `member.role_changed`.
///
/// The rule is `^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$` and at most
/// [`MAX_ACTION_LEN`] bytes: at least two segments, each starting with a
/// lowercase letter. The last segment is usually a past-tense verb, from
/// which [`Category::for_action`] derives the category.
///
/// ```
/// use audit_core::Action;
///
/// let action = Action::new("app.deleted").unwrap();
/// assert_eq!(action.as_str(), "app.deleted");
///
/// let err = Action::new("App.Deleted").unwrap_err();
/// assert!(err.to_string().contains("uppercase"), "{err}");
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Action(Cow<'static, str>);

impl Action {
    /// Validates `name` and wraps it.
    ///
    /// # Errors
    /// [`ActionError`] says which rule `name` breaks and where.
    pub fn new(name: impl Into<String>) -> Result<Self, ActionError> {
        let name = name.into();
        validate_action(&name)?;
        Ok(Self(Cow::Owned(name)))
    }

    /// Validates a `'static` name without allocating; the form used on hot paths.
    ///
    /// # Errors
    /// As [`Action::new`].
    ///
    /// ```
    /// let action = audit_core::Action::from_static("auth.login").unwrap();
    /// assert_eq!(action.segments().collect::<Vec<_>>(), ["auth", "login"]);
    /// ```
    pub fn from_static(name: &'static str) -> Result<Self, ActionError> {
        validate_action(name)?;
        Ok(Self(Cow::Borrowed(name)))
    }

    /// A name the `audit-macros` checked against the rule at compile time
    /// (a catalogue's constants): no second validation.
    pub(crate) const fn from_checked_static(name: &'static str) -> Self {
        Self(Cow::Borrowed(name))
    }

    /// The action as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The dot-separated segments, first to last.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('.')
    }

    /// The first segment (`app` in `app.deleted`); the `prefix.*` filters match on it.
    pub fn namespace(&self) -> &str {
        self.0.split('.').next().unwrap_or_default()
    }

    /// The last segment (`deleted` in `app.deleted`).
    pub fn verb(&self) -> &str {
        self.0.rsplit('.').next().unwrap_or_default()
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Action {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Action {
    type Err = ActionError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<&str> for Action {
    type Error = ActionError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl TryFrom<String> for Action {
    type Error = ActionError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl Serialize for Action {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Self::new(name).map_err(serde::de::Error::custom)
    }
}

const ACTION_RULE: &str = "dotted lowercase segments like `app.deleted`: each segment starts with a-z and continues with a-z, 0-9 or _, at least two segments, at most 128 bytes";

/// Why a string is not a valid [`Action`]; the message names the rule broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ActionError {
    /// The action was empty.
    #[error("action is empty; expected {ACTION_RULE}")]
    Empty,
    /// The action was longer than [`MAX_ACTION_LEN`].
    #[error("action is {len} bytes long; the limit is {MAX_ACTION_LEN}")]
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The action had a single segment.
    #[error("action `{action}` has no `.`; expected {ACTION_RULE}")]
    SingleSegment {
        /// The offending action.
        action: String,
    },
    /// A segment was empty (`app..deleted`, `.app`, `app.`).
    #[error("action `{action}` has an empty segment at byte {position}; expected {ACTION_RULE}")]
    EmptySegment {
        /// The offending action.
        action: String,
        /// Byte offset of the empty segment.
        position: usize,
    },
    /// A segment started with something other than `a-z`.
    #[error("action `{action}` has a segment starting with `{}` at byte {position}; segments start with a lowercase letter a-z", found.escape_debug())]
    BadSegmentStart {
        /// The offending action.
        action: String,
        /// The character found.
        found: char,
        /// Its byte offset.
        position: usize,
    },
    /// An uppercase letter was found.
    #[error(
        "action `{action}` has an uppercase letter `{found}` at byte {position}; actions are lowercase (try `{}`)",
        suggestion.escape_debug()
    )]
    Uppercase {
        /// The offending action.
        action: String,
        /// The character found.
        found: char,
        /// Its byte offset.
        position: usize,
        /// The lowercased action.
        suggestion: String,
    },
    /// A character outside `a-z`, `0-9`, `_` and `.` was found.
    #[error("action `{action}` has `{}` at byte {position}; only a-z, 0-9, _ and . are allowed", found.escape_debug())]
    InvalidChar {
        /// The offending action (control characters escaped).
        action: String,
        /// The character found.
        found: char,
        /// Its byte offset.
        position: usize,
    },
}

fn validate_action(name: &str) -> Result<(), ActionError> {
    if name.is_empty() {
        return Err(ActionError::Empty);
    }
    if name.len() > MAX_ACTION_LEN {
        return Err(ActionError::TooLong { len: name.len() });
    }
    // `Action::from_static` runs on every manual `Draft::open`: a valid name
    // is accepted in one pass over its bytes; the pass below, which builds
    // the error, runs only for invalid ones.
    if is_well_formed(name.as_bytes()) {
        return Ok(());
    }
    explain_invalid(name)
}

/// Two or more `.`-separated segments, each a lowercase ASCII letter then
/// lowercase letters, digits and `_`: exactly what [`explain_invalid`] accepts.
fn is_well_formed(name: &[u8]) -> bool {
    let mut segment_start = true;
    let mut dots = 0;
    for &byte in name {
        match byte {
            b'a'..=b'z' => segment_start = false,
            b'0'..=b'9' | b'_' if !segment_start => {}
            b'.' if !segment_start => {
                dots += 1;
                segment_start = true;
            }
            _ => return false,
        }
    }
    !segment_start && dots > 0
}

/// The error for a name that is not well-formed (the checks after the length).
fn explain_invalid(name: &str) -> Result<(), ActionError> {
    let shown = || name.escape_debug().to_string();
    let mut segment_start = true;
    let mut segments = 1;
    for (position, found) in name.char_indices() {
        if found.is_ascii_uppercase() {
            return Err(ActionError::Uppercase {
                action: shown(),
                found,
                position,
                suggestion: name.to_ascii_lowercase(),
            });
        }
        if found == '.' {
            if segment_start {
                return Err(ActionError::EmptySegment {
                    action: shown(),
                    position,
                });
            }
            segments += 1;
            segment_start = true;
            continue;
        }
        if !(found.is_ascii_lowercase() || found.is_ascii_digit() || found == '_') {
            return Err(ActionError::InvalidChar {
                action: shown(),
                found,
                position,
            });
        }
        if segment_start && !found.is_ascii_lowercase() {
            return Err(ActionError::BadSegmentStart {
                action: shown(),
                found,
                position,
            });
        }
        segment_start = false;
    }
    if segment_start {
        return Err(ActionError::EmptySegment {
            action: shown(),
            position: name.len(),
        });
    }
    if segments < 2 {
        return Err(ActionError::SingleSegment { action: shown() });
    }
    Ok(())
}

/// The kind of change an event records, for filters and colour in the UI.
///
/// Derived from the action by [`Category::for_action`] unless the code
/// overrides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    /// Something came into being: created, invited, added, connected, …
    Create,
    /// Something changed: updated, changed, renamed, enabled, …
    Update,
    /// Something went away: deleted, removed, revoked, offboarded, …
    Delete,
    /// Something was read: viewed, exported, downloaded, …
    Access,
    /// Authentication and authorisation: every `auth.*` action, logins and logouts.
    Auth,
    /// Anything the table does not cover.
    Other,
}

/// Verbs (last action segments) and the category they imply. A segment also
/// matches when it ends with `_` followed by the verb (`role_changed` → update).
const VERB_TABLE: &[(&str, Category)] = &[
    ("created", Category::Create),
    ("added", Category::Create),
    ("invited", Category::Create),
    ("connected", Category::Create),
    ("registered", Category::Create),
    ("uploaded", Category::Create),
    ("imported", Category::Create),
    ("issued", Category::Create),
    ("provisioned", Category::Create),
    ("updated", Category::Update),
    ("changed", Category::Update),
    ("modified", Category::Update),
    ("edited", Category::Update),
    ("renamed", Category::Update),
    ("enabled", Category::Update),
    ("disabled", Category::Update),
    ("moved", Category::Update),
    ("restored", Category::Update),
    ("rotated", Category::Update),
    ("deleted", Category::Delete),
    ("removed", Category::Delete),
    ("revoked", Category::Delete),
    ("offboarded", Category::Delete),
    ("destroyed", Category::Delete),
    ("disconnected", Category::Delete),
    ("purged", Category::Delete),
    ("uninstalled", Category::Delete),
    ("viewed", Category::Access),
    ("exported", Category::Access),
    ("accessed", Category::Access),
    ("downloaded", Category::Access),
    ("listed", Category::Access),
    ("searched", Category::Access),
    ("login", Category::Auth),
    ("logout", Category::Auth),
    ("logged_in", Category::Auth),
    ("logged_out", Category::Auth),
    ("signed_in", Category::Auth),
    ("signed_out", Category::Auth),
];

impl Category {
    /// Derives the category of `action`.
    ///
    /// Every action in the `auth` namespace is [`Category::Auth`]. Otherwise
    /// the last segment is looked up in this table (a segment also matches
    /// when it ends in `_<verb>`, so `role_changed` is an update):
    ///
    /// | category | verbs |
    /// |---|---|
    /// | create | created, added, invited, connected, registered, uploaded, imported, issued, provisioned |
    /// | update | updated, changed, modified, edited, renamed, enabled, disabled, moved, restored, rotated |
    /// | delete | deleted, removed, revoked, offboarded, destroyed, disconnected, purged, uninstalled |
    /// | access | viewed, exported, accessed, downloaded, listed, searched |
    /// | auth | login, logout, logged_in, logged_out, signed_in, signed_out |
    ///
    /// Anything else is [`Category::Other`]; override it on the event when
    /// the table guesses wrong.
    ///
    /// ```
    /// use audit_core::{Action, Category};
    /// let of = |a: &'static str| Category::for_action(&Action::from_static(a).unwrap());
    /// assert_eq!(of("app.created"), Category::Create);
    /// assert_eq!(of("member.role_changed"), Category::Update);
    /// assert_eq!(of("user.offboarded"), Category::Delete);
    /// assert_eq!(of("audit_log.exported"), Category::Access);
    /// assert_eq!(of("auth.token_revoked"), Category::Auth);
    /// assert_eq!(of("billing.charged"), Category::Other);
    /// ```
    pub fn for_action(action: &Action) -> Self {
        if action.namespace() == "auth" {
            return Self::Auth;
        }
        let verb = action.verb();
        VERB_TABLE
            .iter()
            .find(|(known, _)| {
                verb == *known
                    || (verb.len() > known.len()
                        && verb.ends_with(known)
                        && verb.as_bytes()[verb.len() - known.len() - 1] == b'_')
            })
            .map_or(Self::Other, |(_, category)| *category)
    }
}

str_enum! {
    Category { Create => "create", Update => "update", Delete => "delete", Access => "access", Auth => "auth", Other => "other" }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn category(action: &'static str) -> Category {
        Category::for_action(&Action::from_static(action).unwrap())
    }

    #[test]
    fn the_fast_check_accepts_exactly_what_the_explaining_check_accepts() {
        // Every name of up to five characters over an alphabet that hits each rule.
        let alphabet = ['a', 'z', 'Q', '0', '_', '.', '-', 'é'];
        let mut names = vec![String::new()];
        let mut checked = 0;
        for _ in 0..5 {
            names = names
                .iter()
                .flat_map(|name| alphabet.iter().map(move |c| format!("{name}{c}")))
                .collect();
            for name in &names {
                assert_eq!(
                    is_well_formed(name.as_bytes()),
                    explain_invalid(name).is_ok(),
                    "{name:?}"
                );
                checked += 1;
            }
        }
        assert!(checked > 30_000);
    }

    #[test]
    fn valid_actions_are_accepted() {
        for ok in [
            "app.deleted",
            "a.b",
            "member.role_changed",
            "audit_log.viewed",
            "v2.app.created",
            "x1.y_2",
        ] {
            assert!(Action::new(ok).is_ok(), "{ok} should be valid");
        }
    }

    #[test]
    fn each_broken_rule_is_named() {
        assert_eq!(Action::new(""), Err(ActionError::Empty));
        assert!(matches!(Action::new("app"), Err(ActionError::SingleSegment { .. })));
        assert!(matches!(
            Action::new("app..deleted"),
            Err(ActionError::EmptySegment { position: 4, .. })
        ));
        assert!(matches!(
            Action::new(".app"),
            Err(ActionError::EmptySegment { position: 0, .. })
        ));
        assert!(matches!(
            Action::new("app."),
            Err(ActionError::EmptySegment { position: 4, .. })
        ));
        assert!(matches!(
            Action::new("app.1deleted"),
            Err(ActionError::BadSegmentStart {
                found: '1',
                position: 4,
                ..
            })
        ));
        assert!(matches!(
            Action::new("_app.deleted"),
            Err(ActionError::BadSegmentStart { found: '_', .. })
        ));
        assert!(matches!(
            Action::new("app-x.deleted"),
            Err(ActionError::InvalidChar {
                found: '-',
                position: 3,
                ..
            })
        ));
        assert!(matches!(
            Action::new("app.délété"),
            Err(ActionError::InvalidChar { found: 'é', .. })
        ));
        let upper = Action::new("App.Deleted").unwrap_err();
        assert!(upper.to_string().contains("try `app.deleted`"), "{upper}");
    }

    #[test]
    fn length_limit_is_128_bytes() {
        let at_limit = format!("a.{}", "b".repeat(MAX_ACTION_LEN - 2));
        assert!(Action::new(at_limit).is_ok());
        let over = format!("a.{}", "b".repeat(MAX_ACTION_LEN - 1));
        assert_eq!(Action::new(over), Err(ActionError::TooLong { len: 129 }));
    }

    #[test]
    fn control_characters_in_errors_are_escaped() {
        let err = Action::new("app.del\u{1b}[31m").unwrap_err().to_string();
        assert!(!err.contains('\u{1b}'), "{err:?}");
    }

    /// Found by `tests/fuzz_action.rs`: the suggestion repeated the name's
    /// control characters raw.
    #[test]
    fn control_characters_in_an_uppercase_suggestion_are_escaped() {
        let err = Action::new("A\0").unwrap_err().to_string();
        assert!(!err.chars().any(char::is_control), "{err:?}");
        assert!(err.ends_with("(try `a\\0`)"), "{err:?}");
    }

    #[test]
    fn deserialising_validates() {
        assert!(serde_json::from_str::<Action>("\"app.deleted\"").is_ok());
        let err = serde_json::from_str::<Action>("\"nope\"").unwrap_err();
        assert!(err.to_string().contains("has no `.`"), "{err}");
    }

    #[test]
    fn category_table() {
        assert_eq!(category("member.invited"), Category::Create);
        assert_eq!(category("integration.connected"), Category::Create);
        assert_eq!(category("app.updated"), Category::Update);
        assert_eq!(category("api_key.revoked"), Category::Delete);
        assert_eq!(category("member.removed"), Category::Delete);
        assert_eq!(category("report.viewed"), Category::Access);
        assert_eq!(category("auth.login"), Category::Auth);
        assert_eq!(category("auth.denied"), Category::Auth);
        assert_eq!(category("user.logged_in"), Category::Auth);
        assert_eq!(category("audit.started"), Category::Other);
        // A suffix only counts after an underscore: "unchanged" is not "changed".
        assert_eq!(category("flag.unchanged"), Category::Other);
    }
}
