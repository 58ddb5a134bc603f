//! Secrets recognised by their own format, whatever text is around them:
//! provider API keys, JWTs, private key PEM blocks and passwords in URLs.
//!
//! Each function looks at one position of the text and returns the byte
//! range to mask, or `None`. All of them look only at ASCII bytes and return
//! ranges that start and end next to ASCII bytes (or at the end), so the
//! ranges always fall on char boundaries.

use std::ops::Range;

use super::REDACTED;

/// A key format: one of some fixed prefixes, then at least `min_body` bytes
/// for which `body` holds. The whole run of such bytes is masked, prefix
/// included.
struct PrefixedKey {
    prefixes: &'static [&'static [u8]],
    body: fn(u8) -> bool,
    min_body: usize,
}

/// The formats, with the shortest body each is recognised with: short enough
/// for every key the provider issues, long enough that a word such as
/// `sk_test_mode` is not taken for one.
const PREFIXED_KEYS: &[PrefixedKey] = &[
    // AWS access key ids: long-term (AKIA) and temporary (ASIA), 16 more.
    PrefixedKey {
        prefixes: &[b"AKIA", b"ASIA"],
        body: is_upper_alnum,
        min_body: 16,
    },
    // Google API keys: 35 more.
    PrefixedKey {
        prefixes: &[b"AIza"],
        body: is_word_byte,
        min_body: 35,
    },
    // GitHub personal, OAuth, user-to-server, server-to-server and refresh
    // tokens: 36 more.
    PrefixedKey {
        prefixes: &[b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_"],
        body: is_ascii_alnum,
        min_body: 20,
    },
    // GitHub fine-grained personal tokens: 82 more.
    PrefixedKey {
        prefixes: &[b"github_pat_"],
        body: is_word_byte,
        min_body: 22,
    },
    // Stripe secret and restricted keys, live and test: 24 or more.
    PrefixedKey {
        prefixes: &[b"sk_live_", b"rk_live_", b"sk_test_", b"rk_test_"],
        body: is_ascii_alnum,
        min_body: 16,
    },
    // Slack bot, app-level, user, refresh and legacy tokens: dash-separated
    // numbers and letters.
    PrefixedKey {
        prefixes: &[b"xoxb-", b"xoxa-", b"xoxp-", b"xoxr-", b"xoxs-"],
        body: is_slack_byte,
        min_body: 10,
    },
];

/// A JWT's first segment is base64url of a JSON object (`{"` is `eyJ`); ten
/// characters is the shortest with a member (`{"a":0}`).
const JWT_MIN_HEADER: usize = 10;

const PEM_BEGIN: &[u8] = b"-----BEGIN ";
const PEM_DASHES: &[u8] = b"-----";
const PEM_END: &[u8] = b"-----END";

/// A provider key or a JWT starting at `at`, which the caller has checked
/// starts a word.
///
/// Linear: a key is a run of body bytes, which never start a word, so a run
/// is read by one attempt at most; a JWT attempt reads at most three runs.
pub(super) fn provider_token(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    let rest = bytes.get(at..)?;
    if rest.starts_with(b"eyJ") {
        return jwt(bytes, at);
    }
    let (key, prefix) = PREFIXED_KEYS.iter().find_map(|key| {
        let prefix = key.prefixes.iter().find(|prefix| rest.starts_with(prefix))?;
        Some((key, prefix))
    })?;
    let body_start = at + prefix.len();
    let end = run_end(bytes, body_start, key.body);
    (end - body_start >= key.min_body).then_some(at..end)
}

/// Three base64url segments joined by dots, the first starting `eyJ`; the
/// signature may be empty (an unsigned token still carries its claims).
fn jwt(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    let header_end = run_end(bytes, at, is_word_byte);
    if header_end - at < JWT_MIN_HEADER || bytes.get(header_end) != Some(&b'.') {
        return None;
    }
    let payload_end = run_end(bytes, header_end + 1, is_word_byte);
    if payload_end == header_end + 1 || bytes.get(payload_end) != Some(&b'.') {
        return None;
    }
    Some(at..run_end(bytes, payload_end + 1, is_word_byte))
}

/// The body of a private key PEM block whose `-----BEGIN` is at `at`: from
/// the end of the `-----BEGIN … PRIVATE KEY-----` line to the next
/// `-----END`, or to the end of the text when the block was cut short. The
/// two marker lines stay, so a reader sees what was there.
///
/// Linear: the pass goes on after the range, which covers what the search
/// for `-----END` read.
pub(super) fn pem_private_key_body(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    if !bytes.get(at..)?.starts_with(PEM_BEGIN) {
        return None;
    }
    let label_start = at + PEM_BEGIN.len();
    let label_end = run_end(bytes, label_start, |b| is_upper_alnum(b) || b == b' ');
    let label = bytes.get(label_start..label_end)?;
    if !label.windows(11).any(|word| word == b"PRIVATE KEY") || !bytes.get(label_end..)?.starts_with(PEM_DASHES) {
        return None;
    }
    let body_start = label_end + PEM_DASHES.len();
    let body_end = bytes
        .get(body_start..)?
        .windows(PEM_END.len())
        .position(|window| window == PEM_END)
        .map_or(bytes.len(), |offset| body_start + offset);
    (body_end > body_start).then_some(body_start..body_end)
}

/// The password of `scheme://user:password@host` when `at` is the `:` of
/// `://`: from the first `:` of the userinfo to the last `@` of the
/// authority (a password written with a raw `@` is still masked whole).
///
/// A `[` ends the authority (it only starts an IPv6 host, after the `@`),
/// except for [`REDACTED`] in place of a password: a masked stretch that
/// hid where the authority ended (`x://password:\,@` has its `\` masked
/// by the pair rule) cannot make it look like a URL with a password on the
/// next pass.
///
/// Linear: the authority ends at the first `/`, so it never reaches the
/// next `://`.
pub(super) fn url_password(bytes: &[u8], at: usize) -> Option<Range<usize>> {
    if !bytes.get(at..)?.starts_with(b"://") {
        return None;
    }
    let start = at + 3;
    let mut end = start;
    while let Some(&byte) = bytes.get(end) {
        let rest = bytes.get(end..).unwrap_or_default();
        if is_authority_byte(byte) {
            end += 1;
        } else if bytes.get(end - 1) == Some(&b':')
            && rest.starts_with(REDACTED.as_bytes())
            && rest.get(REDACTED.len()) == Some(&b'@')
        {
            end += REDACTED.len();
        } else {
            break;
        }
    }
    let authority = bytes.get(start..end)?;
    let userinfo_end = start + authority.iter().rposition(|&b| b == b'@')?;
    let password_start = start + authority.iter().position(|&b| b == b':')? + 1;
    (password_start < userinfo_end).then_some(password_start..userinfo_end)
}

/// Where the run of bytes for which `in_run` holds, starting at `from`,
/// ends.
pub(super) fn run_end(bytes: &[u8], from: usize, in_run: impl Fn(u8) -> bool) -> usize {
    bytes
        .get(from..)
        .and_then(|rest| rest.iter().position(|&b| !in_run(b)))
        .map_or(bytes.len().max(from), |offset| from + offset)
}

/// A byte of a word as secrets are delimited: letters, digits, `_` and `-`
/// (the base64url alphabet). A secret only starts where the previous byte
/// is not one.
pub(super) fn is_word_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-'
}

fn is_ascii_alnum(byte: u8) -> bool {
    byte.is_ascii_alphanumeric()
}

fn is_upper_alnum(byte: u8) -> bool {
    byte.is_ascii_uppercase() || byte.is_ascii_digit()
}

fn is_slack_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-'
}

/// Anything up to the end of a URL's authority: not a path, query or
/// fragment start, not whitespace, not a quote or bracket around the URL.
fn is_authority_byte(byte: u8) -> bool {
    !(byte.is_ascii_whitespace()
        || matches!(
            byte,
            b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' | b'\\' | b'[' | b']'
        ))
}

#[cfg(test)]
mod tests {
    use crate::Redactor;

    /// Through the public entry point, with no deny terms, so only the
    /// formats in this file can mask anything.
    fn masked(text: &str) -> String {
        Redactor::empty().redact_text(text).0.into_owned()
    }

    fn unchanged(text: &str) {
        assert_eq!(masked(text), text);
    }

    #[test]
    fn aws_access_key_ids_are_masked() {
        assert_eq!(masked("key AKIAIOSFODNN7EXAMPLE used"), "key [REDACTED] used");
        assert_eq!(masked("(ASIAY34FZKBOKMUTVV7A)"), "([REDACTED])");
        unchanged("AKIA1234");
        unchanged("AKIAiosfodnn7example");
        unchanged("XAKIAIOSFODNN7EXAMPLE");
    }

    #[test]
    fn github_tokens_are_masked() {
        let classic = format!("ghp_{}", "a1B2".repeat(9));
        assert_eq!(masked(&format!("push with {classic}.")), "push with [REDACTED].");
        for prefix in ["gho_", "ghu_", "ghs_", "ghr_"] {
            assert_eq!(masked(&format!("{prefix}{}", "x".repeat(36))), "[REDACTED]", "{prefix}");
        }
        let fine_grained = format!("github_pat_11ABCDEFG0_{}", "z".repeat(59));
        assert_eq!(masked(&format!("t={fine_grained}")), "t=[REDACTED]");
        unchanged("ghp_short");
        unchanged("github_pat_count");
    }

    #[test]
    fn stripe_keys_are_masked() {
        for prefix in ["sk_live_", "rk_live_", "sk_test_"] {
            let key = format!("{prefix}4eC39HqLyjWDarjtT1zdp7dc");
            assert_eq!(
                masked(&format!("charge failed for {key}")),
                "charge failed for [REDACTED]"
            );
        }
        unchanged("sk_");
        unchanged("sk_live_x");
        unchanged("sk_test_mode");
        unchanged("ask_live_4eC39HqLyjWDarjtT1zdp7dc");
    }

    #[test]
    fn slack_tokens_are_masked() {
        for kind in ['b', 'a', 'p', 'r', 's'] {
            let token = format!("xox{kind}-1234567890-0987654321-AbCdEfGhIjKl");
            assert_eq!(masked(&format!("slack {token} bad")), "slack [REDACTED] bad", "{kind}");
        }
        unchanged("xoxb-1");
        unchanged("xoxz-1234567890-0987654321");
    }

    #[test]
    fn google_api_keys_are_masked() {
        let key = format!("AIza{}", "Sy-_0123456789abcdefghijklmnopqrstu"); // 35 more
        assert_eq!(masked(&format!("maps:{key}")), "maps:[REDACTED]");
        unchanged("AIzaSyShort");
    }

    #[test]
    fn jwts_are_masked() {
        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        assert_eq!(
            masked(&format!("id_token {jwt}, expired")),
            "id_token [REDACTED], expired"
        );
        assert_eq!(
            masked("unsigned eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0."),
            "unsigned [REDACTED]"
        );
        unchanged("eyJ");
        unchanged("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0");
        unchanged("eyJhb.cd.ef");
        unchanged("keyJhbGciOiJIUzI1NiJ9.a.b");
    }

    #[test]
    fn private_key_pem_bodies_are_masked() {
        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC==\n-----END RSA PRIVATE KEY-----";
        assert_eq!(
            masked(&format!("bad key: {pem} (parse)")),
            "bad key: -----BEGIN RSA PRIVATE KEY-----[REDACTED]-----END RSA PRIVATE KEY----- (parse)"
        );
        assert_eq!(
            masked("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1r"),
            "-----BEGIN OPENSSH PRIVATE KEY-----[REDACTED]"
        );
        unchanged("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----");
        unchanged("-----BEGIN PRIVATE KEY----------END PRIVATE KEY-----");
        unchanged("-----BEGIN PRIVATE KEY");
    }

    #[test]
    fn url_passwords_are_masked_and_the_rest_of_the_url_kept() {
        for (text, expected) in [
            (
                "connect postgres://app:hunter2@db:5432/main failed",
                "connect postgres://app:[REDACTED]@db:5432/main failed",
            ),
            ("redis://:s3cret@cache", "redis://:[REDACTED]@cache"),
            ("https://u:p@ss@host/x", "https://u:[REDACTED]@host/x"),
            ("\"amqp://guest:guest@mq\"", "\"amqp://guest:[REDACTED]@mq\""),
        ] {
            assert_eq!(masked(text), expected, "{text}");
        }
        unchanged("https://example.com:8443/a:b@c");
        unchanged("ssh://git@github.com/org/repo");
        unchanged("https://u:@host");
        unchanged("mailto:bob:x@example.com");
        assert_eq!(masked("ftp://u:[REDACTED]@host"), "ftp://u:[REDACTED]@host");
        assert_eq!(masked("ftp://u:p@[::1]:21/"), "ftp://u:[REDACTED]@[::1]:21/");
        unchanged("ftp://u:[REDACTED],@host");
    }
}
