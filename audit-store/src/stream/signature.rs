//! The signature of a webhook delivery: `Audit-Signature: t=<unix seconds>,v1=<hex>`,
//! where `v1` is HMAC-SHA256 under the destination's secret of
//! `<t>.<body>`, the timestamp, a full stop, then the body's bytes.
//!
//! The timestamp is signed with the body, so a captured delivery cannot be
//! replayed later with a fresh timestamp: a receiver refuses deliveries
//! whose `t` is older than its tolerance (five minutes is usual) and drops
//! repeats by event id within it. Several `v1` values may appear (a
//! secret being rotated); one matching is enough.
//!
//! Checking it in a receiver, with this crate ([`verify_signature`]):
//!
//! ```
//! use std::time::Duration;
//! use audit_store::stream::{sign, verify_signature};
//!
//! let secret = b"whsec_0123456789abcdef";
//! let body = br#"{"id":"0192f5e4-7c1a-7b3e-9f10-3d2c1b0a9e8f","action":"app.created"}"#;
//! let header = sign(secret, 1_733_500_000, body);
//! assert!(header.starts_with("t=1733500000,v1="));
//! let tolerance = Duration::from_secs(300);
//! assert!(verify_signature(secret, &header, body, 1_733_500_060, tolerance).is_ok());
//! // Too old: a replay.
//! assert!(verify_signature(secret, &header, body, 1_733_500_000 + 301, tolerance).is_err());
//! // Another body, or another secret.
//! assert!(verify_signature(secret, &header, b"{}", 1_733_500_060, tolerance).is_err());
//! assert!(verify_signature(b"another secret!!", &header, body, 1_733_500_060, tolerance).is_err());
//! ```
//!
//! Without it (Python):
//!
//! ```text
//! import hashlib, hmac, time
//!
//! def verify(secret: bytes, header: str, body: bytes, tolerance=300) -> bool:
//!     parts = [p.split("=", 1) for p in header.split(",")]
//!     t = next(v for k, v in parts if k == "t")
//!     if abs(time.time() - int(t)) > tolerance:
//!         return False
//!     expected = hmac.new(secret, t.encode() + b"." + body, hashlib.sha256).hexdigest()
//!     return any(hmac.compare_digest(expected, v) for k, v in parts if k == "v1")
//! ```

use std::fmt::Write as _;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header a signed delivery carries.
pub const SIGNATURE_HEADER: &str = "audit-signature";

/// Why a delivery's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignatureError {
    /// The header is not `t=<seconds>,v1=<hex>[,v1=<hex>…]`.
    #[error("malformed signature header: {0}")]
    Malformed(&'static str),
    /// The timestamp is further from now than the tolerance: a replay, or
    /// a clock far off.
    #[error("signed {age_seconds} s away from now, beyond the tolerance of {tolerance_seconds} s")]
    OutsideTolerance {
        /// How far the timestamp is from now, in seconds.
        age_seconds: u64,
        /// The tolerance, in seconds.
        tolerance_seconds: u64,
    },
    /// No signature matches the body under this secret.
    #[error("no signature matches the body")]
    Mismatch,
}

fn mac(secret: &[u8], timestamp: &str, body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Audit-Signature` value of `body` sent at `timestamp` (Unix
/// seconds) under `secret`.
pub fn sign(secret: &[u8], timestamp: u64, body: &[u8]) -> String {
    let timestamp = timestamp.to_string();
    let tag = mac(secret, &timestamp, body).finalize().into_bytes();
    let mut header = format!("t={timestamp},v1=");
    for byte in tag {
        let _ = write!(header, "{byte:02x}");
    }
    header
}

/// Checks a delivery's `Audit-Signature` `header` against its `body`
/// under `secret`, at `now` (Unix seconds), refusing timestamps further
/// than `tolerance` from it. The comparison takes the same time whatever
/// the bytes.
///
/// # Errors
/// [`SignatureError`]: malformed, outside the tolerance, or no match.
pub fn verify_signature(
    secret: &[u8],
    header: &str,
    body: &[u8],
    now: u64,
    tolerance: Duration,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut tags = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = Some(value),
            Some(("v1", value)) => tags.push(value),
            Some(_) => {}
            None => return Err(SignatureError::Malformed("a part without `=`")),
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed("no `t=`"))?;
    let seconds: u64 = timestamp
        .parse()
        .map_err(|_| SignatureError::Malformed("`t` is not a number of seconds"))?;
    if tags.is_empty() {
        return Err(SignatureError::Malformed("no `v1=`"));
    }
    let age_seconds = now.abs_diff(seconds);
    if age_seconds > tolerance.as_secs() {
        return Err(SignatureError::OutsideTolerance {
            age_seconds,
            tolerance_seconds: tolerance.as_secs(),
        });
    }
    let matches = tags
        .iter()
        .any(|tag| decode_hex(tag).is_some_and(|bytes| mac(secret, timestamp, body).verify_slice(&bytes).is_ok()));
    if matches { Ok(()) } else { Err(SignatureError::Mismatch) }
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(text.get(at..at + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"whsec_test_secret_0001";
    const TOLERANCE: Duration = Duration::from_secs(300);

    #[test]
    fn a_rotated_secret_verifies_with_either_signature() {
        let body = b"[]";
        let old = sign(b"old secret 0123456", 100, body);
        let new = sign(SECRET, 100, body);
        let both = format!("{new},{}", old.split_once(',').unwrap().1);
        assert!(verify_signature(SECRET, &both, body, 100, TOLERANCE).is_ok());
        assert!(verify_signature(b"old secret 0123456", &both, body, 100, TOLERANCE).is_ok());
    }

    #[test]
    fn hostile_headers_are_refused_by_name() {
        let body = b"x";
        for (header, expected) in [
            ("", SignatureError::Malformed("a part without `=`")),
            ("v1=00", SignatureError::Malformed("no `t=`")),
            (
                "t=abc,v1=00",
                SignatureError::Malformed("`t` is not a number of seconds"),
            ),
            ("t=100", SignatureError::Malformed("no `v1=`")),
            ("t=100,v1=zz", SignatureError::Mismatch),
            ("t=100,v1=abc", SignatureError::Mismatch),
            ("t=100,v1=", SignatureError::Mismatch),
        ] {
            assert_eq!(
                verify_signature(SECRET, header, body, 100, TOLERANCE),
                Err(expected),
                "{header:?}"
            );
        }
    }

    #[test]
    fn a_timestamp_from_the_future_is_refused_too() {
        let header = sign(SECRET, 1_000, b"x");
        let refused = verify_signature(SECRET, &header, b"x", 600, TOLERANCE).unwrap_err();
        assert_eq!(
            refused,
            SignatureError::OutsideTolerance {
                age_seconds: 400,
                tolerance_seconds: 300
            }
        );
    }

    #[test]
    fn the_signature_is_the_documented_hmac() {
        // HMAC-SHA256("key", "1.body"), computed independently (Python's hmac module).
        let header = sign(b"key", 1, b"body");
        assert_eq!(
            header,
            "t=1,v1=91b5374b153842ad05b2c4eab9349b8321b14703165bd3fb8b034dfb8be98ae5"
        );
    }
}
