//! One sealed value: XChaCha20-Poly1305 under a key derived from its
//! subjects' keys, and a keyed commitment to the plaintext.
//!
//! The sealed form is a string that takes the value's place in the event:
//!
//! ```text
//! sealed:v1:<subjects>.<nonce>.<ciphertext>.<commitment>
//! ```
//!
//! each part unpadded URL-safe base64; `<subjects>` the subject ids joined
//! by `\n`. The leaf hash covers this string, so destroying a key changes
//! nothing a proof checks. The AEAD's associated data binds the value to its
//! event and place (`<event id>` ‖ `<path>`), so a sealed value cannot be
//! moved to another event or field and still open. The commitment
//! (HMAC-SHA256 under a key derived from the same subject keys, over event
//! id, path and plaintext) binds the plaintext itself: while the key lives,
//! whoever holds it can show a third party what was recorded; once the key
//! is destroyed the commitment reveals nothing.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;
use uuid::Uuid;
use zeroize::Zeroizing;

/// The prefix of every sealed value.
pub const SEALED_PREFIX: &str = "sealed:v1:";

const ENCRYPTION_LABEL: &[u8] = b"audit-store/personal/v1/encryption";
const COMMITMENT_LABEL: &[u8] = b"audit-store/personal/v1/commitment";

/// A subject's data key: 32 random bytes, wiped when dropped, never
/// printed.
#[derive(Clone, PartialEq, Eq)]
pub struct SubjectKey(Zeroizing<[u8; 32]>);

impl SubjectKey {
    /// A fresh random key.
    ///
    /// # Errors
    /// When the operating system has no randomness to give.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut key = Zeroizing::new([0; 32]);
        getrandom::fill(key.as_mut_slice())?;
        Ok(Self(key))
    }

    /// The key with these bytes (as a key store keeps them).
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key's bytes, for a key store to keep.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for SubjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SubjectKey(..)")
    }
}

/// `HMAC-SHA256(label, k1 ‖ k2 ‖ …)`: HKDF-Extract with the label as salt,
/// over the subjects' keys in the envelope's order. One destroyed key
/// leaves the derived key out of reach.
fn derive(label: &[u8], keys: &[&SubjectKey]) -> Zeroizing<[u8; 32]> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(label).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    for key in keys {
        mac.update(key.as_bytes());
    }
    Zeroizing::new(mac.finalize().into_bytes().into())
}

fn associated_data(event: Uuid, path: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(16 + path.len());
    aad.extend_from_slice(event.as_bytes());
    aad.extend_from_slice(path.as_bytes());
    aad
}

fn commitment(keys: &[&SubjectKey], event: Uuid, path: &str, plaintext: &[u8]) -> Hmac<Sha256> {
    let key = derive(COMMITMENT_LABEL, keys);
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key.as_slice()).unwrap_or_else(|_| unreachable!("any key"));
    mac.update(event.as_bytes());
    mac.update(&[0]);
    mac.update(path.as_bytes());
    mac.update(&[0]);
    mac.update(plaintext);
    mac
}

/// Seals `value` (its JSON text) at `path` of event `event` under the keys
/// of `subjects` (`keys[i]` is `subjects[i]`'s).
pub(crate) fn seal(
    value: &Value,
    event: Uuid,
    path: &str,
    subjects: &[String],
    keys: &[&SubjectKey],
) -> Result<String, getrandom::Error> {
    let plaintext =
        Zeroizing::new(serde_json::to_vec(value).unwrap_or_else(|e| unreachable!("JSON values serialise: {e}")));
    let mut nonce = [0; 24];
    getrandom::fill(&mut nonce)?;
    let key = derive(ENCRYPTION_LABEL, keys);
    let cipher = XChaCha20Poly1305::new(key.as_slice().into());
    let aad = associated_data(event, path);
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plaintext,
                aad: &aad,
            },
        )
        .unwrap_or_else(|_| unreachable!("XChaCha20-Poly1305 encrypts any length a JSON value has"));
    let commit = commitment(keys, event, path, &plaintext).finalize().into_bytes();
    let mut sealed = String::with_capacity(SEALED_PREFIX.len() + 96 + ciphertext.len() * 4 / 3);
    sealed.push_str(SEALED_PREFIX);
    URL_SAFE_NO_PAD.encode_string(subjects.join("\n"), &mut sealed);
    sealed.push('.');
    URL_SAFE_NO_PAD.encode_string(nonce, &mut sealed);
    sealed.push('.');
    URL_SAFE_NO_PAD.encode_string(&ciphertext, &mut sealed);
    sealed.push('.');
    URL_SAFE_NO_PAD.encode_string(commit, &mut sealed);
    Ok(sealed)
}

/// A sealed value taken apart.
#[derive(Debug)]
pub(crate) struct Envelope {
    pub(crate) subjects: Vec<String>,
    nonce: [u8; 24],
    ciphertext: Vec<u8>,
    commitment: [u8; 32],
}

impl Envelope {
    /// Parses `text` when it is a sealed value; `None` for any other text
    /// (a value that was never sealed, or one that is malformed).
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let body = text.strip_prefix(SEALED_PREFIX)?;
        let mut parts = body.split('.');
        let mut next = || URL_SAFE_NO_PAD.decode(parts.next()?).ok();
        let subjects = String::from_utf8(next()?).ok()?;
        let nonce = next()?.try_into().ok()?;
        let ciphertext = next()?;
        let commitment = next()?.try_into().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            subjects: subjects.split('\n').map(str::to_owned).collect(),
            nonce,
            ciphertext,
            commitment,
        })
    }

    /// The value, when `keys` (one per subject, in order) open it and the
    /// plaintext matches the commitment; `None` otherwise.
    pub(crate) fn open(&self, event: Uuid, path: &str, keys: &[&SubjectKey]) -> Option<Value> {
        let key = derive(ENCRYPTION_LABEL, keys);
        let cipher = XChaCha20Poly1305::new(key.as_slice().into());
        let aad = associated_data(event, path);
        let plaintext = Zeroizing::new(
            cipher
                .decrypt(
                    XNonce::from_slice(&self.nonce),
                    Payload {
                        msg: &self.ciphertext,
                        aad: &aad,
                    },
                )
                .ok()?,
        );
        // Constant-time comparison, through the MAC's own verifier.
        commitment(keys, event, path, &plaintext)
            .verify_slice(&self.commitment)
            .ok()?;
        serde_json::from_slice(&plaintext).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_sealed_value_opens_only_with_its_keys_event_and_path() {
        let bob = SubjectKey::generate().unwrap();
        let other = SubjectKey::generate().unwrap();
        let event = Uuid::now_v7();
        let subjects = ["user_bob".to_owned()];
        let sealed = seal(&json!("bob@example.com"), event, "/actor/email", &subjects, &[&bob]).unwrap();
        assert!(
            sealed.starts_with(SEALED_PREFIX) && !sealed.contains("bob@"),
            "{sealed}"
        );
        let envelope = Envelope::parse(&sealed).unwrap();
        assert_eq!(envelope.subjects, subjects);
        assert_eq!(
            envelope.open(event, "/actor/email", &[&bob]),
            Some(json!("bob@example.com"))
        );
        assert_eq!(envelope.open(event, "/actor/email", &[&other]), None, "another key");
        assert_eq!(envelope.open(event, "/actor/name", &[&bob]), None, "another field");
        assert_eq!(
            envelope.open(Uuid::now_v7(), "/actor/email", &[&bob]),
            None,
            "another event"
        );
        let again = seal(&json!("bob@example.com"), event, "/actor/email", &subjects, &[&bob]).unwrap();
        assert_ne!(again, sealed, "a fresh nonce each time");
    }

    #[test]
    fn every_subject_key_is_needed() {
        let (a, b) = (SubjectKey::generate().unwrap(), SubjectKey::generate().unwrap());
        let event = Uuid::now_v7();
        let subjects = ["a".to_owned(), "b".to_owned()];
        let sealed = seal(&json!({"n": 1}), event, "/description", &subjects, &[&a, &b]).unwrap();
        let envelope = Envelope::parse(&sealed).unwrap();
        assert_eq!(envelope.open(event, "/description", &[&a, &b]), Some(json!({"n": 1})));
        assert_eq!(envelope.open(event, "/description", &[&a, &a]), None);
        assert_eq!(envelope.open(event, "/description", &[&b, &a]), None, "order matters");
    }

    #[test]
    fn malformed_sealed_text_is_not_an_envelope() {
        for text in [
            "sealed:v1:",
            "sealed:v1:a.b.c",
            "sealed:v1:YQ.AAAA.AAAA.AAAA",
            "plain",
            "sealed:v1:YQ.!.!.!",
        ] {
            assert!(Envelope::parse(text).is_none(), "{text}");
        }
    }

    #[test]
    fn keys_never_print() {
        let key = SubjectKey::from_bytes([7; 32]);
        assert_eq!(format!("{key:?}"), "SubjectKey(..)");
    }
}
