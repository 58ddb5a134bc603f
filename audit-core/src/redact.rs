//! Redaction of secrets from JSON before an audit event reaches a store.
//!
//! An audit event carries JSON snapshots of a resource (`before`, `after` and
//! their [`diff`](crate::diff())) and free-form metadata. Any of them may hold a
//! password, a token or a card number, and an audit store is long-lived and
//! widely read, so secrets are replaced by the fixed marker [`REDACTED`]
//! before the event is stored. A [`Redactor`] decides which object keys hold
//! secrets.
//!
//! # Matching rule
//!
//! 1. A key is **normalised**: lowercased, with the separators `_`, `-`, `.`
//!    and space removed. `apiKey`, `API-KEY`, `api_key` and `Api.Key` all
//!    become `apikey`. Deny terms and allowed keys are normalised the same way.
//! 2. A key is **denied** when its normalised form *contains* a normalised deny
//!    term. With the term `password`, the keys `password`, `db_password`,
//!    `newPassword` and `PASSWORD_HASH` are all denied; with `token`,
//!    `access_token` and `X-Auth-Token` are; with `secret`, `clientSecret` is.
//! 3. ...**unless** its normalised form *equals* the normalised form of an
//!    allowed key. Allowing `token_count` exempts `token_count` and
//!    `tokenCount`, but not `token_counter` or `access_token`.
//!
//! Substring matching over-redacts on purpose: in an audit trail a value
//! hidden by mistake costs a little context, while a leaked secret cannot be
//! taken back. Exact exceptions ([`Redactor::allow`]) handle the false
//! positives that matter to an application, such as `secretary` or
//! `max_tokens`.
//!
//! # What is replaced
//!
//! [`Redactor::redact`] walks objects and arrays at any depth. When an object
//! key is denied, its value, whatever its type (string, number, boolean,
//! null, object or array), is replaced by the string [`REDACTED`] and is not
//! descended into. Array elements have no key and are never denied by
//! themselves; they are redacted through the keys inside them.
//!
//! [`Redactor::redact_diff`] does the same for diff entries, and also hides
//! the values of an entry whose *path* passes through a denied key, so the
//! entry still shows *that* a password changed, never what it was or became.
//!
//! # Example
//!
//! ```
//! use audit_core::{Redactor, REDACTED};
//! use serde_json::json;
//!
//! let redactor = Redactor::new().allow("token_count");
//! let mut metadata = json!({
//!     "user": "ada",
//!     "headers": {"Authorization": "Bearer abc", "X-Api-Key": "k-123", "Accept": "*/*"},
//!     "db": [{"host": "db1", "db_password": {"v": 1}}],
//!     "token_count": 12,
//! });
//!
//! assert_eq!(redactor.redact(&mut metadata), 3);
//! assert_eq!(
//!     metadata,
//!     json!({
//!         "user": "ada",
//!         "headers": {"Authorization": REDACTED, "X-Api-Key": REDACTED, "Accept": "*/*"},
//!         "db": [{"host": "db1", "db_password": REDACTED}],
//!         "token_count": 12,
//!     })
//! );
//! ```
//!
//! # Secret-shaped values in free text
//!
//! An event's `reason` is often an error's text, and error texts quote what
//! failed: a connection string, a request header, a JSON body. The
//! `description` and the strings copied from request headers (the user
//! agent, the client's request id) can hold secrets the same way, with no
//! key to match. [`Redactor::redact_text`] scans such text once, left to
//! right, and replaces each secret-shaped stretch by [`REDACTED`], keeping
//! the text around it:
//!
//! | shape | example | masked |
//! | --- | --- | --- |
//! | a pair whose key is denied | `password=…`, `X-Api-Key: …`, `"token":"…"`, `\"secret\":\"…\"` | the value: quoted, up to its closing quote; else up to whitespace or one of `,;&"'<>)]}`; a whole `Bearer …` after `Authorization:` |
//! | an HTTP credential | `Bearer …`, `basic …` (any case) | the credential, unless it reads as a plain word (`Bearer token expired`) |
//! | a password in a URL | `postgres://app:…@db/main` | the password |
//! | a private key PEM block | `-----BEGIN RSA PRIVATE KEY-----…` | the body, up to `-----END` or the end of the text |
//! | a JWT | `eyJ….….…` | the whole token |
//! | an AWS access key id | `AKIA…`, `ASIA…` + 16 | the whole key |
//! | a GitHub token | `ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`, `github_pat_` | the whole token |
//! | a Stripe key | `sk_live_`, `rk_live_`, `sk_test_`, `rk_test_` | the whole key |
//! | a Slack token | `xoxb-`, `xoxa-`, `xoxp-`, `xoxr-`, `xoxs-` | the whole token |
//! | a Google API key | `AIza` + 35 | the whole key |
//!
//! Pairs use the redactor's own deny terms and allowed keys, by the same
//! rule as JSON keys: an application that allows `token_count` sees
//! `token_count=5` as it was. The key of a pair is the run of letters,
//! digits, `_`, `-` and `.` before the separator, so `--password=…` and
//! `config.db_password: …` are caught, while a key of several words
//! (`Api Key: …`) is matched by its last word. A key-shaped word followed
//! by a colon in a sentence (`invalid token: expired`) loses the next word:
//! as for keys, over-masking is the safe side. A provider key or JWT only
//! starts a word (not after a letter, digit, `_` or `-`) and must be as
//! long as the provider makes it, so `sk_test_mode` or `ghp_x` stay.
//!
//! The event builder applies this to `reason`, `description`, the user
//! agent and the client request id of every new event, with the policy's
//! redactor, before the strings are escaped and capped (a secret cut in
//! half by the cap could no longer be recognised). Events already stored
//! are never rewritten, so their hashes stand.
//!
//! The scanner is written by hand rather than with the `regex` crate, which
//! `audit-core` does not depend on: the shapes are a handful of fixed
//! prefixes and character runs, the pair rule needs the redactor's key
//! matching in the middle of a match, and one pass over bytes keeps every
//! cut on an ASCII byte, so it is linear in the input and cannot split a
//! character. Masking its output again changes nothing.
//!
//! ```
//! use audit_core::{Redactor, REDACTED};
//!
//! let redactor = Redactor::new();
//! let (reason, masked) = redactor.redact_text(
//!     "upstream 401: Authorization: Bearer abc.def.ghi, key AKIAIOSFODNN7EXAMPLE",
//! );
//! assert_eq!(reason, format!("upstream 401: Authorization: {REDACTED}, key {REDACTED}"));
//! assert_eq!(masked, 2);
//! assert_eq!(redactor.redact_text(&reason).0, reason);
//! ```

mod shapes;
mod text;

use std::borrow::Cow;

use serde_json::Value;

use crate::diff::DiffEntry;

/// The fixed marker that replaces a redacted value.
///
/// It is a JSON string whatever the type of the value it replaces, so a
/// reader can tell a redacted field from one that was really `null`.
///
/// # Example
///
/// ```
/// use audit_core::{Redactor, REDACTED};
/// use serde_json::json;
///
/// let mut v = json!({"password": 1234});
/// Redactor::new().redact(&mut v);
/// assert_eq!(v["password"], REDACTED);
/// assert_eq!(REDACTED, "[REDACTED]");
/// ```
pub const REDACTED: &str = "[REDACTED]";

/// The keys denied by default by [`Redactor::new`].
///
/// Each entry is a deny *term*: it is matched, after normalisation, as a
/// substring of a normalised key (see [`Redactor`]), so one term covers many
/// spellings and the list stays short.
///
/// | term | why it is here |
/// | --- | --- |
/// | `password` | the canonical secret; also catches `db_password`, `newPassword`, `password_hash`, `password_confirmation` |
/// | `passwd` | the Unix spelling, which is not a substring of `password` |
/// | `pwd` | a common abbreviation (`db_pwd`); three letters, but rare inside ordinary words |
/// | `passphrase` | key and wallet passphrases; not a substring of `password` |
/// | `secret` | `client_secret`, `secretKey`, `aws_secret_access_key`, `webhook_secret` |
/// | `token` | `access_token`, `refresh_token`, `id_token`, `X-Auth-Token`, `csrf_token` |
/// | `authorization` | the `Authorization` and `Proxy-Authorization` headers (Basic and Bearer credentials) |
/// | `cookie` | the `Cookie` and `Set-Cookie` headers, which carry session identifiers |
/// | `api_key`, `apikey` | `apiKey`, `API-KEY`, `x-api-key`; both spellings normalise to one term and are listed so that searching this list for either finds it |
/// | `private_key` | `privateKey`, `ssh_private_key`, signing keys |
/// | `session` | session identifiers are bearer credentials (`session_id`, `sessionToken`, `JSESSIONID`) |
/// | `credential` | `credentials`, `aws_credentials`, credential blobs |
/// | `card_number` | the PCI DSS primary account number (`cardNumber`, `credit_card_number`) |
/// | `cvv`, `cvc` | card verification codes (`cvv2`, `cvc2`), which PCI DSS forbids storing at all after authorisation |
///
/// Terms that are left out on purpose, because as substrings they would hide
/// ordinary fields: `key` (`primary_key`, `idempotency_key`), `auth`
/// (`author`), `pass` (`passenger`, `passport`, `bypass`), `pin` (`shipping`,
/// `mapping`), `otp` (`footprint`) and `ssn` (`className`, `business_name`,
/// `address_number`). Personal data such as national identifiers is a
/// data-classification choice for the application: add a specific term such
/// as `social_security` with [`Redactor::deny`].
///
/// # Example
///
/// ```
/// use audit_core::{Redactor, DEFAULT_DENIED_KEYS};
///
/// let redactor = Redactor::new();
/// assert!(DEFAULT_DENIED_KEYS.iter().all(|term| redactor.is_denied(term)));
/// assert!(DEFAULT_DENIED_KEYS.contains(&"password"));
/// ```
pub const DEFAULT_DENIED_KEYS: &[&str] = &[
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

/// Keys up to this many bytes (nearly all of them) are normalised into a
/// buffer on the stack, so matching does not allocate.
const INLINE_KEY_LEN: usize = 64;

/// Decides which object keys hold secrets and replaces their values.
///
/// Build one at start-up and share it: all its methods take `&self`.
///
/// # Matching rule
///
/// A key is *normalised* by lowercasing it and removing the separators `_`,
/// `-`, `.` and space, so `apiKey`, `API-KEY`, `api_key` and `Api.Key` all
/// become `apikey`; deny terms and allowed keys are normalised the same way.
/// A key is denied when its normalised form *contains* a deny term (so
/// `db_password`, `access_token`, `X-Api-Key` and `clientSecret` are caught),
/// unless its normalised form *equals* an allowed key's. This over-redacts on
/// purpose: a value hidden by mistake costs some context, a leaked secret
/// cannot be taken back; [`Redactor::allow`] handles the false positives that
/// matter, such as `token_count`.
///
/// # Example
///
/// ```
/// use audit_core::Redactor;
///
/// let redactor = Redactor::new().deny("iban").allow("secretary");
/// assert!(redactor.is_denied("customer_IBAN"));
/// assert!(redactor.is_denied("client-secret"));
/// assert!(!redactor.is_denied("secretary"));
/// assert!(!redactor.is_denied("email"));
/// ```
#[derive(Clone)]
pub struct Redactor {
    /// Normalised deny terms: never empty strings, no duplicates, sorted so
    /// that the terms sharing a first byte are adjacent.
    denied: Vec<String>,
    /// `denied[by_first_byte[b]..by_first_byte[b + 1]]` are the terms that
    /// start with byte `b`. Matching then only tries, at each position of a
    /// key, the few terms that can start there, instead of every term.
    by_first_byte: Box<[u32; 257]>,
    /// For each term in `denied`, its first (up to) four bytes as a
    /// little-endian word, and the mask of the bytes it has: compared with the
    /// key's next four bytes, it rules out nearly every candidate term without
    /// a call to compare slices.
    heads: Vec<(u32, u32)>,
    /// Normalised keys exempted by exact match.
    allowed: Vec<String>,
}

// By hand, to leave the lookup table out of the output.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("denied", &self.denied)
            .field("allowed", &self.allowed)
            .finish_non_exhaustive()
    }
}

impl Default for Redactor {
    /// The same as [`Redactor::new`]: the default deny-list.
    ///
    /// # Example
    ///
    /// ```
    /// use audit_core::Redactor;
    ///
    /// assert!(Redactor::default().is_denied("password"));
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

impl Redactor {
    /// A redactor that denies the [`DEFAULT_DENIED_KEYS`].
    ///
    /// # Example
    ///
    /// ```
    /// use audit_core::Redactor;
    ///
    /// let redactor = Redactor::new();
    /// assert!(redactor.is_denied("X-Api-Key"));
    /// assert!(redactor.is_denied("refreshToken"));
    /// assert!(!redactor.is_denied("username"));
    /// ```
    #[must_use]
    pub fn new() -> Self {
        DEFAULT_DENIED_KEYS.iter().fold(Self::empty(), Self::deny)
    }

    /// A redactor that denies nothing; add terms with [`Redactor::deny`].
    ///
    /// Free text still has its secrets of a known format masked
    /// ([`Redactor::redact_text`]): they need no key to be recognised.
    ///
    /// # Example
    ///
    /// ```
    /// use audit_core::Redactor;
    /// use serde_json::json;
    ///
    /// let mut v = json!({"password": "hunter2"});
    /// assert_eq!(Redactor::empty().redact(&mut v), 0);
    /// assert_eq!(v, json!({"password": "hunter2"}));
    ///
    /// assert!(Redactor::empty().deny("pin_code").is_denied("PinCode"));
    ///
    /// let (text, _) = Redactor::empty().redact_text("password=hunter2 via Bearer s3cr3t");
    /// assert_eq!(text, "password=hunter2 via Bearer [REDACTED]");
    /// ```
    #[must_use]
    pub fn empty() -> Self {
        Self {
            denied: Vec::new(),
            by_first_byte: Box::new([0; 257]),
            heads: Vec::new(),
            allowed: Vec::new(),
        }
    }

    /// Adds a deny term, matched as a substring after normalisation.
    ///
    /// A term that normalises to nothing (`""`, `"_"`, `"-. "`) is ignored,
    /// since it would be contained in every key.
    ///
    /// # Example
    ///
    /// ```
    /// use audit_core::Redactor;
    ///
    /// let redactor = Redactor::empty().deny("Social-Security").deny("");
    /// assert!(redactor.is_denied("social_security_number"));
    /// assert!(!redactor.is_denied("name"));
    /// ```
    #[must_use]
    pub fn deny(mut self, key: impl AsRef<str>) -> Self {
        let term = normalise(key.as_ref());
        if !term.is_empty() && !self.denied.contains(&term) {
            self.denied.push(term);
            self.index_terms();
        }
        self
    }

    /// Adds an exception: a key whose normalised form equals `key`'s is never
    /// denied, even though it contains a deny term.
    ///
    /// The exception is exact, so it cannot hide a secret by accident:
    /// allowing `token_count` leaves `access_token` and `token_counter`
    /// denied.
    ///
    /// # Example
    ///
    /// ```
    /// use audit_core::Redactor;
    ///
    /// let redactor = Redactor::new().allow("token_count");
    /// assert!(!redactor.is_denied("token_count"));
    /// assert!(!redactor.is_denied("tokenCount"));
    /// assert!(redactor.is_denied("token_counter"));
    /// assert!(redactor.is_denied("access_token"));
    /// ```
    #[must_use]
    pub fn allow(mut self, key: impl AsRef<str>) -> Self {
        let key = normalise(key.as_ref());
        if !key.is_empty() && !self.allowed.contains(&key) {
            self.allowed.push(key);
        }
        self
    }

    /// Whether the value under the object key `key` must be redacted.
    ///
    /// Does not allocate for keys of up to 64 bytes of ASCII.
    ///
    /// # Example
    ///
    /// ```
    /// use audit_core::Redactor;
    ///
    /// let redactor = Redactor::new();
    /// for key in ["password", "DB_PASSWORD", "apiKey", "API-KEY", "Api.Key", "client secret"] {
    ///     assert!(redactor.is_denied(key), "{key}");
    /// }
    /// assert!(!redactor.is_denied("email"));
    /// ```
    #[must_use]
    pub fn is_denied(&self, key: &str) -> bool {
        if self.denied.is_empty() {
            return false;
        }
        if key.len() <= INLINE_KEY_LEN {
            // Fast path, same result as `normalise` for ASCII input: one pass
            // that lowercases into a buffer on the stack and drops the
            // separators, giving up at the first non-ASCII byte.
            let mut buf = [0u8; INLINE_KEY_LEN];
            let mut len = 0;
            let mut ascii = true;
            for &byte in key.as_bytes() {
                ascii &= byte.is_ascii();
                buf[len] = byte.to_ascii_lowercase();
                len += usize::from(!is_separator_byte(byte));
            }
            if ascii {
                return self.matches(&buf[..len]);
            }
        }
        self.matches(normalise(key).as_bytes())
    }

    /// Replaces, in place, the value of every denied object key in `value`
    /// with [`REDACTED`], at any depth, and returns how many values it
    /// replaced.
    ///
    /// A replaced value is not descended into, so a denied key inside it does
    /// not count again. Redacting an already redacted document replaces (and
    /// counts) the markers again, leaving the same document.
    ///
    /// # Example
    ///
    /// ```
    /// use audit_core::{Redactor, REDACTED};
    /// use serde_json::json;
    ///
    /// let mut v = json!({
    ///     "accounts": [
    ///         {"name": "main", "credentials": {"user": "u", "password": "p"}},
    ///         {"name": "backup", "apiKey": null},
    ///     ],
    ///     "session": ["a", "b"],
    /// });
    /// assert_eq!(Redactor::new().redact(&mut v), 3);
    /// assert_eq!(
    ///     v,
    ///     json!({
    ///         "accounts": [
    ///             {"name": "main", "credentials": REDACTED},
    ///             {"name": "backup", "apiKey": REDACTED},
    ///         ],
    ///         "session": REDACTED,
    ///     })
    /// );
    /// ```
    pub fn redact(&self, value: &mut Value) -> usize {
        if self.denied.is_empty() {
            return 0;
        }
        let mut replaced = 0;
        // An explicit work list instead of recursion, so the walk's depth is
        // not bounded by the thread's stack; it only allocates when the
        // document has nested containers.
        let mut pending: Vec<&mut Value> = Vec::new();
        let mut next = Some(value);
        while let Some(node) = next.take().or_else(|| pending.pop()) {
            match node {
                Value::Object(map) => {
                    for (key, child) in map.iter_mut() {
                        if self.is_denied(key) {
                            *child = Value::String(REDACTED.to_owned());
                            replaced += 1;
                        } else if is_container(child) {
                            pending.push(child);
                        }
                    }
                }
                Value::Array(items) => {
                    pending.extend(items.iter_mut().filter(|item| is_container(item)));
                }
                _ => {}
            }
        }
        replaced
    }

    /// Masks the values of the denied keys of one object, without
    /// descending; the walk that calls it goes on into the values it kept.
    pub(crate) fn redact_entries(&self, map: &mut serde_json::Map<String, Value>) {
        if self.denied.is_empty() {
            return;
        }
        for (key, child) in map.iter_mut() {
            if self.is_denied(key) {
                *child = Value::String(REDACTED.to_owned());
            }
        }
    }

    /// Redacts diff entries in place and returns how many values it replaced.
    ///
    /// For each entry, if any segment of its JSON Pointer `path` (decoded per
    /// RFC 6901, `~1` → `/` and `~0` → `~`) is a denied key, the present
    /// `old` and `new` sides are replaced by [`REDACTED`]: the entry stays, so
    /// an admin sees *that* the value changed, never its values. Otherwise
    /// [`Redactor::redact`] runs on the present sides, since an added or
    /// removed object may hold secrets of its own.
    ///
    /// A path that does not start with `/` is not a valid pointer; its
    /// segments are checked all the same rather than skipped.
    ///
    /// # Example
    ///
    /// ```
    /// use audit_core::{diff, DiffEntry, Redactor, REDACTED};
    /// use serde_json::json;
    ///
    /// let before = json!({"name": "ada", "auth": {"password": "old-pw"}});
    /// let after = json!({"name": "ada", "auth": {"password": "new-pw"}, "keys": [{"apiKey": "k"}]});
    ///
    /// let mut entries = diff(Some(&before), Some(&after));
    /// assert_eq!(Redactor::new().redact_diff(&mut entries), 3);
    /// assert_eq!(
    ///     entries,
    ///     vec![
    ///         DiffEntry { path: "/auth/password".into(), old: Some(json!(REDACTED)), new: Some(json!(REDACTED)) },
    ///         DiffEntry { path: "/keys".into(), old: None, new: Some(json!([{"apiKey": REDACTED}])) },
    ///     ]
    /// );
    /// ```
    pub fn redact_diff(&self, entries: &mut [DiffEntry]) -> usize {
        if self.denied.is_empty() {
            return 0;
        }
        let mut replaced = 0;
        for entry in entries {
            let path_denied = self.pointer_is_denied(&entry.path);
            for side in [&mut entry.old, &mut entry.new].into_iter().flatten() {
                if path_denied {
                    *side = Value::String(REDACTED.to_owned());
                    replaced += 1;
                } else {
                    replaced += self.redact(side);
                }
            }
        }
        replaced
    }

    /// Whether any segment of an RFC 6901 pointer is a denied key.
    pub(crate) fn pointer_is_denied(&self, pointer: &str) -> bool {
        // The leading empty segment of a valid pointer is never denied;
        // splitting the whole string means a malformed pointer without the
        // leading `/` still has its first segment checked.
        pointer.split('/').any(|segment| {
            let key = if segment.contains('~') {
                // RFC 6901 order: `~1` first, then `~0`, so `~01` is `~1`.
                Cow::Owned(segment.replace("~1", "/").replace("~0", "~"))
            } else {
                Cow::Borrowed(segment)
            };
            self.is_denied(&key)
        })
    }

    /// Sorts the terms and rebuilds `by_first_byte`; runs once per
    /// [`Redactor::deny`], never while matching.
    fn index_terms(&mut self) {
        self.denied.sort_unstable();
        self.heads = self.denied.iter().map(|term| head(term.as_bytes())).collect();
        let mut next_term = 0;
        for (byte, start) in self.by_first_byte.iter_mut().enumerate() {
            while self
                .denied
                .get(next_term)
                .is_some_and(|term| term.as_bytes().first().is_some_and(|&first| usize::from(first) < byte))
            {
                next_term += 1;
            }
            // More than u32::MAX deny terms cannot be built in practice.
            *start = u32::try_from(next_term).unwrap_or(u32::MAX);
        }
    }

    /// The indices in `denied` of the terms that start with `byte`.
    fn terms_starting_with(&self, byte: u8) -> std::ops::Range<usize> {
        let offset = |i: usize| self.by_first_byte.get(i).map_or(0, |&n| n as usize);
        let byte = usize::from(byte);
        offset(byte)..offset(byte + 1)
    }

    /// The matching rule, on an already normalised key.
    fn matches(&self, key: &[u8]) -> bool {
        // Comparing bytes is exact for UTF-8: a valid UTF-8 term can only
        // match at character boundaries of a valid UTF-8 key.
        let denied = key.iter().enumerate().any(|(at, &byte)| {
            let terms = self.terms_starting_with(byte);
            if terms.is_empty() {
                return false;
            }
            let rest = &key[at..];
            let (window, _) = head(rest);
            terms.into_iter().any(|i| {
                let (Some(&(head, mask)), Some(term)) = (self.heads.get(i), self.denied.get(i)) else {
                    return false;
                };
                // The head only filters; the full comparison decides.
                window & mask == head && rest.starts_with(term.as_bytes())
            })
        });
        denied && !self.allowed.iter().any(|allowed| allowed.as_bytes() == key)
    }
}

/// The first (up to) four bytes of `bytes` as a little-endian word, zero
/// beyond the end, and the mask of the bytes that are there.
fn head(bytes: &[u8]) -> (u32, u32) {
    if let Some(word) = bytes.first_chunk::<4>() {
        return (u32::from_le_bytes(*word), u32::MAX);
    }
    // Fewer than four bytes: built byte by byte (a copy of a variable length
    // would be a call to `memcpy`).
    let (mut word, mut mask) = (0u32, 0u32);
    for (index, &byte) in bytes.iter().enumerate() {
        word |= u32::from(byte) << (8 * index);
        mask |= 0xff << (8 * index);
    }
    (word, mask)
}

fn is_separator_byte(byte: u8) -> bool {
    matches!(byte, b'_' | b'-' | b'.' | b' ')
}

fn is_separator(c: char) -> bool {
    matches!(c, '_' | '-' | '.' | ' ')
}

fn is_container(value: &Value) -> bool {
    matches!(value, Value::Object(_) | Value::Array(_))
}

/// Lowercases `key` and removes the separators.
fn normalise(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.chars().filter(|c| !is_separator(*c)) {
        if c.is_ascii() {
            out.push(c.to_ascii_lowercase());
        } else {
            // Full Unicode lowercasing, which may yield several characters.
            out.extend(c.to_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::diff;
    use proptest::prelude::*;
    use serde_json::json;

    fn redacted() -> Value {
        json!(REDACTED)
    }

    #[test]
    fn key_matching_ignores_case_and_separators() {
        let r = Redactor::empty().deny("api_key");
        for key in [
            "apikey",
            "apiKey",
            "API-KEY",
            "api_key",
            "Api.Key",
            "API KEY",
            "a_p_i-k.e y",
        ] {
            assert!(r.is_denied(key), "{key}");
        }
        assert!(!r.is_denied("api"));
        assert!(!r.is_denied("api_kez"));
    }

    #[test]
    fn deny_terms_are_normalised_too() {
        let r = Redactor::empty().deny("X-Api-KEY");
        assert!(r.is_denied("xapikey"));
        assert!(r.is_denied("x_api_key"));
        assert!(!r.is_denied("api_key"));
    }

    #[test]
    fn key_containing_a_deny_term_is_denied() {
        let r = Redactor::new();
        for key in [
            "db_password",
            "access_token",
            "X-Api-Key",
            "clientSecret",
            "X-Auth-Token",
            "Proxy-Authorization",
            "Set-Cookie",
            "ssh_private_key",
            "JSESSIONID",
            "aws_credentials",
            "creditCardNumber",
            "cvv2",
            "CVC",
            "wallet_passphrase",
            "PASSWD",
            "db_pwd",
        ] {
            assert!(r.is_denied(key), "{key}");
        }
    }

    #[test]
    fn ordinary_keys_are_not_denied_by_default() {
        let r = Redactor::new();
        for key in [
            "id",
            "name",
            "email",
            "author",
            "primary_key",
            "idempotency_key",
            "className",
            "shipping",
            "footprint",
            "passenger",
            "",
            "0",
        ] {
            assert!(!r.is_denied(key), "{key}");
        }
    }

    #[test]
    fn allowed_exact_key_is_not_redacted() {
        let r = Redactor::new().allow("token_count");
        assert!(!r.is_denied("token_count"));
        assert!(!r.is_denied("TokenCount"));
        assert!(!r.is_denied("token-count"));
        let mut v = json!({"token_count": 3, "token": "t"});
        assert_eq!(r.redact(&mut v), 1);
        assert_eq!(v, json!({"token_count": 3, "token": REDACTED}));
    }

    #[test]
    fn allow_is_exact_not_substring() {
        let r = Redactor::new().allow("token_count");
        assert!(r.is_denied("token_counter"));
        assert!(r.is_denied("max_token_count"));
        assert!(r.is_denied("token"));
    }

    #[test]
    fn allowing_a_deny_term_itself_exempts_only_that_key() {
        let r = Redactor::new().allow("password");
        assert!(!r.is_denied("Password"));
        assert!(r.is_denied("db_password"));
    }

    #[test]
    fn empty_redactor_denies_nothing() {
        let r = Redactor::empty();
        assert!(!r.is_denied("password"));
        let mut v = json!({"password": "x"});
        assert_eq!(r.redact(&mut v), 0);
        let mut entries = diff(None, Some(&v));
        assert_eq!(r.redact_diff(&mut entries), 0);
        assert_eq!(entries[0].new, Some(json!("x")));
    }

    #[test]
    fn default_is_new() {
        let (a, b) = (Redactor::default(), Redactor::new());
        assert_eq!(a.denied, b.denied);
        assert_eq!(a.allowed, b.allowed);
    }

    #[test]
    fn terms_that_normalise_to_nothing_are_ignored() {
        let r = Redactor::empty().deny("").deny("_-. ");
        assert!(r.denied.is_empty());
        assert!(!r.is_denied("anything"));
    }

    #[test]
    fn duplicate_terms_after_normalisation_are_stored_once() {
        let r = Redactor::empty().deny("api_key").deny("apiKey").deny("API-KEY");
        assert_eq!(r.denied, ["apikey"]);
        // The default list names `api_key` and `apikey`, which are one term.
        assert_eq!(Redactor::new().denied.len(), DEFAULT_DENIED_KEYS.len() - 1);
    }

    #[test]
    fn every_default_term_is_denied_and_normalises_to_something() {
        let r = Redactor::new();
        for term in DEFAULT_DENIED_KEYS {
            assert!(r.is_denied(term), "{term}");
            // Guards against over-matching terms such as "key".
            assert!(normalise(term).len() >= 3, "{term}");
        }
    }

    #[test]
    fn non_ascii_and_long_keys_use_the_same_rule() {
        let r = Redactor::new();
        assert!(r.is_denied("Pässword_PASSWORD"));
        assert!(r.is_denied("mot_de_passe_password_\u{e9}"));
        assert!(!r.is_denied("Pässwort"));
        let long = format!("{}_Password", "x".repeat(INLINE_KEY_LEN));
        assert!(r.is_denied(&long));
        let long_ok = "y".repeat(INLINE_KEY_LEN * 2);
        assert!(!r.is_denied(&long_ok));
        // Unicode lowercasing applies: KELVIN SIGN lowercases to ASCII 'k'.
        assert!(Redactor::empty().deny("apikey").is_denied("API\u{212A}EY"));
    }

    #[test]
    fn denied_value_of_any_type_is_replaced_and_counted() {
        let mut v = json!({
            "password": "s",
            "token": 42,
            "secret": true,
            "cookie": null,
            "credentials": {"user": "u", "password": "p"},
            "api_key": ["a", "b"],
            "name": "kept",
        });
        assert_eq!(Redactor::new().redact(&mut v), 6);
        assert_eq!(
            v,
            json!({
                "password": REDACTED,
                "token": REDACTED,
                "secret": REDACTED,
                "cookie": REDACTED,
                "credentials": REDACTED,
                "api_key": REDACTED,
                "name": "kept",
            })
        );
    }

    #[test]
    fn redaction_reaches_any_depth_through_objects_and_arrays() {
        let mut v = json!([[{"a": {"b": [{"c": {"password": "x", "ok": 1}}]}}], "password"]);
        assert_eq!(Redactor::new().redact(&mut v), 1);
        assert_eq!(
            v,
            json!([[{"a": {"b": [{"c": {"password": REDACTED, "ok": 1}}]}}], "password"])
        );
    }

    #[test]
    fn string_values_that_look_like_keys_are_not_redacted() {
        // Only keys are matched; values are left alone.
        let mut v = json!({"field": "password", "list": ["token", "secret"]});
        let original = v.clone();
        assert_eq!(Redactor::new().redact(&mut v), 0);
        assert_eq!(v, original);
    }

    #[test]
    fn scalar_roots_are_left_alone() {
        for mut v in [json!("password"), json!(1), json!(null), json!([])] {
            let original = v.clone();
            assert_eq!(Redactor::new().redact(&mut v), 0);
            assert_eq!(v, original);
        }
    }

    #[test]
    fn very_deep_documents_do_not_overflow_the_walk() {
        let depth = 50_000;
        let mut v = json!({"password": "x"});
        for _ in 0..depth {
            // Built by hand: `json!` would re-serialise `v` recursively.
            let mut map = serde_json::Map::new();
            map.insert("n".to_owned(), v);
            v = Value::Array(vec![Value::Object(map)]);
        }
        assert_eq!(Redactor::new().redact(&mut v), 1);
        // Dismantle iteratively: dropping a value this deep recursively would
        // overflow the test thread's stack.
        let mut node = v;
        loop {
            node = match node {
                Value::Array(mut items) => match items.pop() {
                    Some(Value::Object(mut map)) => match map.remove("n") {
                        Some(next) => next,
                        None => break,
                    },
                    _ => break,
                },
                other => {
                    assert_eq!(other, json!({"password": REDACTED}));
                    break;
                }
            };
        }
    }

    #[test]
    fn changed_password_shows_change_without_values() {
        let before = json!({"user": {"password": "old-secret"}});
        let after = json!({"user": {"password": "new-secret"}});
        let mut entries = diff(Some(&before), Some(&after));
        assert_eq!(Redactor::new().redact_diff(&mut entries), 2);
        assert_eq!(
            entries,
            [DiffEntry {
                path: "/user/password".into(),
                old: Some(redacted()),
                new: Some(redacted()),
            }]
        );
    }

    #[test]
    fn added_and_removed_secrets_keep_their_absent_side() {
        let mut entries = diff(Some(&json!({"token": "t1"})), Some(&json!({"apiKey": "k1"})));
        assert_eq!(Redactor::new().redact_diff(&mut entries), 2);
        assert_eq!(
            entries,
            [
                DiffEntry {
                    path: "/apiKey".into(),
                    old: None,
                    new: Some(redacted())
                },
                DiffEntry {
                    path: "/token".into(),
                    old: Some(redacted()),
                    new: None
                },
            ]
        );
    }

    #[test]
    fn entry_below_a_denied_key_is_redacted() {
        // A secret object changed deep inside: the path passes through
        // "credentials", so both sides are hidden even though the leaf key
        // ("value") is harmless.
        let before = json!({"credentials": {"db": {"value": "a"}}});
        let after = json!({"credentials": {"db": {"value": "b"}}});
        let mut entries = diff(Some(&before), Some(&after));
        assert_eq!(Redactor::new().redact_diff(&mut entries), 2);
        assert_eq!(entries[0].path, "/credentials/db/value");
        assert_eq!(entries[0].old, Some(redacted()));
        assert_eq!(entries[0].new, Some(redacted()));
    }

    #[test]
    fn added_object_in_diff_is_redacted_inside() {
        let mut entries = diff(None, Some(&json!({"config": {"name": "n", "client_secret": "cs"}})));
        assert_eq!(Redactor::new().redact_diff(&mut entries), 1);
        assert_eq!(entries[0].new, Some(json!({"name": "n", "client_secret": REDACTED})));
    }

    #[test]
    fn whole_document_entry_is_redacted_inside() {
        let mut entries = diff(Some(&json!(1)), Some(&json!({"password": "p"})));
        assert_eq!(entries[0].path, "");
        assert_eq!(Redactor::new().redact_diff(&mut entries), 1);
        assert_eq!(entries[0].old, Some(json!(1)));
        assert_eq!(entries[0].new, Some(json!({"password": REDACTED})));
    }

    #[test]
    fn pointer_segments_are_decoded_before_matching() {
        let r = Redactor::empty().deny("a/b").deny("c~d").allow("x~1password");
        let mut entries = vec![
            DiffEntry {
                path: "/a~1b".into(),
                old: Some(json!(1)),
                new: None,
            },
            DiffEntry {
                path: "/c~0d".into(),
                old: None,
                new: Some(json!(2)),
            },
        ];
        assert_eq!(r.redact_diff(&mut entries), 2);
        assert!(
            entries
                .iter()
                .all(|e| e.old.iter().chain(&e.new).all(|v| *v == redacted()))
        );

        // The key "x~1password" is written "x~01password"; decoded, it equals
        // the allowed key, so it is not treated as denied via the "~1" text.
        let r = Redactor::new().allow("x~1password");
        assert!(!r.pointer_is_denied("/x~01password"));
        assert!(r.pointer_is_denied("/x~1password"));
    }

    #[test]
    fn array_index_segments_are_not_denied() {
        let mut entries = diff(Some(&json!({"items": [1, 2]})), Some(&json!({"items": [1, 3]})));
        assert_eq!(Redactor::new().redact_diff(&mut entries), 0);
        assert_eq!(entries[0].path, "/items/1");
        assert_eq!(entries[0].new, Some(json!(3)));
    }

    #[test]
    fn malformed_pointer_without_leading_slash_is_still_checked() {
        let mut entries = vec![DiffEntry {
            path: "password".into(),
            old: Some(json!("p")),
            new: None,
        }];
        assert_eq!(Redactor::new().redact_diff(&mut entries), 1);
        assert_eq!(entries[0].old, Some(redacted()));
    }

    #[test]
    fn fast_path_and_general_normalisation_agree_on_ascii() {
        let r = Redactor::new().allow("Token_Count");
        for key in ["TOKEN_COUNT", "Db-Password", "a.b c", "API KEY", "plain"] {
            let general = r.matches(normalise(key).as_bytes());
            assert_eq!(r.is_denied(key), general, "{key}");
        }
    }

    /// The matching rule written in the most direct way, as a reference for
    /// the indexed search in `matches`.
    fn reference_is_denied(r: &Redactor, key: &str) -> bool {
        let key = normalise(key);
        r.denied.iter().any(|term| key.contains(term.as_str())) && !r.allowed.contains(&key)
    }

    proptest! {
        #[test]
        fn indexed_matching_agrees_with_the_reference_rule(
            terms in prop::collection::vec("[a-dA-D_é]{1,4}", 0..8),
            allowed in prop::collection::vec("[a-d]{1,6}", 0..3),
            key in "[a-dA-D_é-]{0,12}",
        ) {
            let r = terms.iter().fold(Redactor::empty(), Redactor::deny);
            let r = allowed.iter().fold(r, Redactor::allow);
            prop_assert_eq!(r.is_denied(&key), reference_is_denied(&r, &key), "{:?}", r);
        }

        #[test]
        fn fast_path_matches_the_general_rule(key in "[a-zA-Z_. -]{0,80}") {
            let r = Redactor::new().allow("tokenCount");
            prop_assert_eq!(r.is_denied(&key), r.matches(normalise(&key).as_bytes()));
        }

        #[test]
        fn separators_and_case_never_change_the_verdict(
            key in "[a-z]{0,12}",
            seps in prop::collection::vec(prop::sample::select(vec!['_', '-', '.', ' ']), 0..6),
            upper in any::<bool>(),
        ) {
            let r = Redactor::new();
            let mut spelled: String = key.chars().zip(seps.iter().chain(std::iter::repeat(&'_')))
                .flat_map(|(c, s)| [c, *s])
                .collect();
            if upper {
                spelled = spelled.to_uppercase();
            }
            prop_assert_eq!(r.is_denied(&key), r.is_denied(&spelled));
        }

        #[test]
        fn pointer_denial_agrees_with_key_denial(key in "[a-zA-Z~/_]{0,10}") {
            let r = Redactor::new();
            let escaped = key.replace('~', "~0").replace('/', "~1");
            prop_assert_eq!(r.pointer_is_denied(&format!("/{escaped}")), r.is_denied(&key));
        }
    }
}
