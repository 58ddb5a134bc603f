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

use std::cell::RefCell;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20::cipher::consts::U10;
use hmac::{Hmac, Mac};
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
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

/// Nonces for one batch: a random 16-byte prefix, taken from the operating
/// system once, and a counter. Two batches share a prefix with odds of
/// 2^-128 per pair, so a nonce never repeats under a key in practice, and a
/// batch of 40,000 values costs one `getrandom` instead of 40,000.
pub(crate) struct Nonces {
    prefix: [u8; 16],
    next: u64,
}

impl Nonces {
    /// A fresh random prefix.
    pub(crate) fn new() -> Result<Self, getrandom::Error> {
        let mut prefix = [0; 16];
        getrandom::fill(&mut prefix)?;
        Ok(Self { prefix, next: 0 })
    }

    fn next(&mut self) -> [u8; 24] {
        let mut nonce = [0; 24];
        nonce[..16].copy_from_slice(&self.prefix);
        nonce[16..].copy_from_slice(&self.next.to_le_bytes());
        self.next += 1;
        nonce
    }
}

/// XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha): HChaCha20 of the key and
/// the nonce's first 16 bytes is the ChaCha20-Poly1305 (RFC 8439) key, and
/// `0⁴ ‖ nonce[16..24]` its nonce (see [`ietf_nonce`]).
fn prefix_cipher(key: &[u8; 32], prefix: &[u8; 16]) -> LessSafeKey {
    let subkey = Zeroizing::new(<[u8; 32]>::from(chacha20::hchacha::<U10>(key.into(), prefix.into())));
    let cipher = UnboundKey::new(&CHACHA20_POLY1305, subkey.as_slice())
        .unwrap_or_else(|_| unreachable!("a ChaCha20-Poly1305 key is 32 bytes"));
    LessSafeKey::new(cipher)
}

fn split_nonce(nonce: &[u8; 24]) -> ([u8; 16], Nonce) {
    let mut prefix = [0; 16];
    prefix.copy_from_slice(&nonce[..16]);
    let mut ietf = [0; 12];
    ietf[4..].copy_from_slice(&nonce[16..]);
    (prefix, Nonce::assume_unique_for_key(ietf))
}

#[cfg(test)]
fn value_cipher(key: &[u8; 32], nonce: &[u8; 24]) -> (LessSafeKey, Nonce) {
    let (prefix, ietf) = split_nonce(nonce);
    (prefix_cipher(key, &prefix), ietf)
}

/// What seals and opens every value under one list of subjects: the
/// encryption and commitment keys derived from their keys (in the list's
/// order), and the list as envelopes name it. Derived once per list for a
/// whole batch or page, not once per value.
pub(crate) struct SealingKey {
    encryption: Zeroizing<[u8; 32]>,
    /// Keyed with the commitment key; cloned for each value.
    commitment: Hmac<Sha256>,
    /// `<subjects>`: the ids joined by `\n`, in base64.
    subjects: String,
    /// The cipher of the last nonce prefix used: every value one batch
    /// sealed under this key shares its prefix (see [`Nonces`]), so a
    /// batch, and a page's values from one batch, derive it once.
    last: RefCell<Option<([u8; 16], LessSafeKey)>>,
}

impl SealingKey {
    /// The key for `subjects` (`keys[i]` is `subjects[i]`'s).
    pub(crate) fn derive(subjects: &[String], keys: &[&SubjectKey]) -> Self {
        let commitment = derive(COMMITMENT_LABEL, keys);
        Self {
            encryption: derive(ENCRYPTION_LABEL, keys),
            commitment: <Hmac<Sha256> as Mac>::new_from_slice(commitment.as_slice())
                .unwrap_or_else(|_| unreachable!("HMAC takes any key")),
            subjects: URL_SAFE_NO_PAD.encode(subjects.join("\n")),
            last: RefCell::new(None),
        }
    }

    /// Calls `f` with the ChaCha20-Poly1305 key and nonce of `nonce`.
    fn with_cipher<R>(&self, nonce: &[u8; 24], f: impl FnOnce(&LessSafeKey, Nonce) -> R) -> R {
        let (prefix, ietf) = split_nonce(nonce);
        let mut last = self.last.borrow_mut();
        match &*last {
            Some((cached, cipher)) if *cached == prefix => f(cipher, ietf),
            _ => {
                let cipher = prefix_cipher(&self.encryption, &prefix);
                let result = f(&cipher, ietf);
                *last = Some((prefix, cipher));
                result
            }
        }
    }

    fn commitment(&self, event: Uuid, path: &str, plaintext: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.commitment.clone();
        mac.update(event.as_bytes());
        mac.update(&[0]);
        mac.update(path.as_bytes());
        mac.update(&[0]);
        mac.update(plaintext);
        mac
    }

    /// Seals `value` (its JSON text) at `path` of event `event`.
    pub(crate) fn seal(&self, value: &Value, event: Uuid, path: &str, nonces: &mut Nonces) -> String {
        let plaintext =
            Zeroizing::new(serde_json::to_vec(value).unwrap_or_else(|e| unreachable!("JSON values serialise: {e}")));
        let nonce = nonces.next();
        let mut ciphertext = plaintext.to_vec();
        self.with_cipher(&nonce, |cipher, ietf| {
            cipher.seal_in_place_append_tag(ietf, Aad::from(associated_data(event, path)), &mut ciphertext)
        })
        .unwrap_or_else(|_| unreachable!("ChaCha20-Poly1305 seals any length a JSON value has"));
        let commit = self.commitment(event, path, &plaintext).finalize().into_bytes();
        let mut sealed =
            String::with_capacity(SEALED_PREFIX.len() + self.subjects.len() + 80 + ciphertext.len() * 4 / 3);
        sealed.push_str(SEALED_PREFIX);
        sealed.push_str(&self.subjects);
        sealed.push('.');
        URL_SAFE_NO_PAD.encode_string(nonce, &mut sealed);
        sealed.push('.');
        URL_SAFE_NO_PAD.encode_string(&ciphertext, &mut sealed);
        sealed.push('.');
        URL_SAFE_NO_PAD.encode_string(commit, &mut sealed);
        sealed
    }

    /// The value sealed in `envelope`, when this key opens it and the
    /// plaintext matches the commitment; `None` otherwise.
    pub(crate) fn open(&self, envelope: Envelope, event: Uuid, path: &str) -> Option<Value> {
        let mut buffer = Zeroizing::new(envelope.ciphertext);
        let aad = Aad::from(associated_data(event, path));
        let plaintext = self.with_cipher(&envelope.nonce, |cipher, ietf| {
            cipher.open_in_place(ietf, aad, &mut buffer).ok()
        })?;
        // Constant-time comparison, through the MAC's own verifier.
        self.commitment(event, path, plaintext)
            .verify_slice(&envelope.commitment)
            .ok()?;
        serde_json::from_slice(plaintext).ok()
    }
}

/// The `<subjects>` part of a sealed value, still in base64: what a page
/// caches its keys by, without decoding it again for every value.
pub(crate) fn subjects_part(text: &str) -> Option<&str> {
    text.strip_prefix(SEALED_PREFIX)?.split('.').next()
}

/// The subject ids a `<subjects>` part names.
pub(crate) fn decode_subjects(part: &str) -> Option<Vec<String>> {
    let joined = String::from_utf8(URL_SAFE_NO_PAD.decode(part).ok()?).ok()?;
    Some(joined.split('\n').map(str::to_owned).collect())
}

/// A sealed value taken apart (its subjects aside: see [`subjects_part`]).
#[derive(Debug)]
pub(crate) struct Envelope {
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
        // The subjects are decoded by whoever picks the key.
        parts.next()?;
        let mut next = || URL_SAFE_NO_PAD.decode(parts.next()?).ok();
        let nonce = next()?.try_into().ok()?;
        let ciphertext = next()?;
        let commitment = next()?.try_into().ok()?;
        if parts.next().is_some() {
            return None;
        }
        Some(Self {
            nonce,
            ciphertext,
            commitment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// `value` sealed at `path` of `event` under `subjects`, as a batch of
    /// one seals it.
    fn seal(value: &Value, event: Uuid, path: &str, subjects: &[String], keys: &[&SubjectKey]) -> String {
        SealingKey::derive(subjects, keys).seal(value, event, path, &mut Nonces::new().unwrap())
    }

    fn open(sealed: &str, event: Uuid, path: &str, subjects: &[String], keys: &[&SubjectKey]) -> Option<Value> {
        SealingKey::derive(subjects, keys).open(Envelope::parse(sealed)?, event, path)
    }

    #[test]
    fn a_sealed_value_opens_only_with_its_keys_event_and_path() {
        let bob = SubjectKey::generate().unwrap();
        let other = SubjectKey::generate().unwrap();
        let event = Uuid::now_v7();
        let subjects = ["user_bob".to_owned()];
        let sealed = seal(&json!("bob@example.com"), event, "/actor/email", &subjects, &[&bob]);
        assert!(
            sealed.starts_with(SEALED_PREFIX) && !sealed.contains("bob@"),
            "{sealed}"
        );
        assert_eq!(decode_subjects(subjects_part(&sealed).unwrap()).unwrap(), subjects);
        assert_eq!(
            open(&sealed, event, "/actor/email", &subjects, &[&bob]),
            Some(json!("bob@example.com"))
        );
        assert_eq!(
            open(&sealed, event, "/actor/email", &subjects, &[&other]),
            None,
            "another key"
        );
        assert_eq!(
            open(&sealed, event, "/actor/name", &subjects, &[&bob]),
            None,
            "another field"
        );
        assert_eq!(
            open(&sealed, Uuid::now_v7(), "/actor/email", &subjects, &[&bob]),
            None,
            "another event"
        );
        let again = seal(&json!("bob@example.com"), event, "/actor/email", &subjects, &[&bob]);
        assert_ne!(again, sealed, "a fresh nonce each time");
    }

    #[test]
    fn nonces_of_a_batch_never_repeat_and_batches_differ() {
        let mut batch = Nonces::new().unwrap();
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1_000 {
            assert!(seen.insert(batch.next()));
        }
        let mut other = Nonces::new().unwrap();
        assert!(!seen.contains(&other.next()), "another batch, another prefix");
    }

    /// The construction is XChaCha20-Poly1305 as other implementations
    /// compute it: this ciphertext was made by the `chacha20poly1305`
    /// crate (which sealed every `sealed:v1` value before), and both ways
    /// must agree for the values already stored to open.
    #[test]
    fn xchacha20_poly1305_agrees_with_another_implementation() {
        let key: [u8; 32] = core::array::from_fn(|i| i as u8);
        let nonce: [u8; 24] = core::array::from_fn(|i| 0x40 + i as u8);
        let expected = "f65b6a1290850177e284ebdb81ff0affb00578a2827f2ad506b82e9f30bdd0ee43";
        let (cipher, ietf) = value_cipher(&key, &nonce);
        let mut sealed = b"\"bob@example.com\"".to_vec();
        cipher
            .seal_in_place_append_tag(ietf, Aad::from(b"event/path"), &mut sealed)
            .unwrap();
        let hex: String = sealed.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
        let (cipher, ietf) = value_cipher(&key, &nonce);
        let opened = cipher
            .open_in_place(ietf, Aad::from(b"event/path"), &mut sealed)
            .unwrap();
        assert_eq!(opened, b"\"bob@example.com\"");
    }

    #[test]
    fn every_subject_key_is_needed() {
        let (a, b) = (SubjectKey::generate().unwrap(), SubjectKey::generate().unwrap());
        let event = Uuid::now_v7();
        let subjects = ["a".to_owned(), "b".to_owned()];
        let sealed = seal(&json!({"n": 1}), event, "/description", &subjects, &[&a, &b]);
        assert_eq!(
            open(&sealed, event, "/description", &subjects, &[&a, &b]),
            Some(json!({"n": 1}))
        );
        assert_eq!(open(&sealed, event, "/description", &subjects, &[&a, &a]), None);
        assert_eq!(
            open(&sealed, event, "/description", &subjects, &[&b, &a]),
            None,
            "order matters"
        );
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
