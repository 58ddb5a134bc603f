//! What signing and verifier keys share: key names, the key hash, and the
//! `<name>+<8 hex key hash>+<base64 key>` text both are written in (the
//! format of golang.org/x/mod/sumdb/note, which signed-note tools read).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::CheckpointError;

/// The signed-note signature type of Ed25519, the first byte of every key's
/// encoding and of the key hash's input.
pub(super) const ED25519: u8 = 0x01;

/// Whether `name` may name a key: C2SP signed-note forbids empty names,
/// Unicode spaces and `+` (the separator of the key texts); control
/// characters could not appear in a note at all.
pub(super) fn is_valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c == '+' || c.is_whitespace() || c.is_control())
}

/// `Ok` when `name` may name a key.
pub(super) fn check_name(name: &str) -> Result<(), CheckpointError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(CheckpointError::InvalidKeyName)
    }
}

/// The key hash (signed-note's key ID) of an Ed25519 key: the first four
/// bytes, big-endian, of `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ public key)`.
pub(super) fn key_hash(name: &str, public_key: &ed25519_dalek::VerifyingKey) -> u32 {
    let digest = Sha256::new()
        .chain_update(name.as_bytes())
        .chain_update([b'\n', ED25519])
        .chain_update(public_key.as_bytes())
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

/// How a key is named in errors and signature lookups: `<name>+<key hash>`.
pub(super) fn key_label(name: &str, key_hash: u32) -> String {
    format!("{name}+{key_hash:08x}")
}

/// `<name>+<key hash>+<base64(0x01 ‖ key)>` for `key` (a public key, or a
/// seed, which is why the text is handed back in a wiping string).
pub(super) fn key_text(name: &str, key_hash: u32, key: &[u8; 32]) -> Zeroizing<String> {
    let mut encoded = Zeroizing::new([0; 33]);
    encoded[0] = ED25519;
    encoded[1..].copy_from_slice(key);
    let label = key_label(name, key_hash);
    // Sized up front: a string that grew would leave unwiped copies behind.
    let mut text = Zeroizing::new(String::with_capacity(label.len() + 1 + ENCODED_KEY_LENGTH));
    text.push_str(&label);
    text.push('+');
    STANDARD.encode_string(encoded.as_slice(), &mut text);
    text
}

/// The length of `base64(0x01 ‖ 32 bytes)`.
const ENCODED_KEY_LENGTH: usize = 44;

/// The parts of a key text, the key bytes still to be checked against the
/// name and hash.
pub(super) struct KeyText<'a> {
    pub(super) name: &'a str,
    pub(super) key_hash: u32,
    /// The 32 key bytes after the type byte: a public key or a seed.
    pub(super) key: Zeroizing<[u8; 32]>,
}

/// Why a key text could not be split into its parts, for the caller to put
/// in its own error (verifier and signing keys are reported apart).
pub(super) enum KeyTextError {
    /// Something other than the type byte: what is wrong, in words.
    Malformed(&'static str),
    /// A key of another type than Ed25519.
    UnknownAlgorithm(u8),
}

/// Splits `<name>+<8 lowercase hex>+<base64(0x01 ‖ 32 bytes)>`. The base64
/// part may hold `+` itself, so only the first two `+` separate.
pub(super) fn parse_key_text(text: &str) -> Result<KeyText<'_>, KeyTextError> {
    let (name, rest) = text
        .split_once('+')
        .ok_or(KeyTextError::Malformed("no '+' after the name"))?;
    let (hash, key) = rest
        .split_once('+')
        .ok_or(KeyTextError::Malformed("no '+' after the key hash"))?;
    if !is_valid_name(name) {
        return Err(KeyTextError::Malformed(
            "the name is empty or holds a space or control character",
        ));
    }
    // Lowercase only, as keys are written: one text per key.
    if hash.len() != 8 || !hash.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(KeyTextError::Malformed("the key hash is not 8 lowercase hex digits"));
    }
    let key_hash = u32::from_str_radix(hash, 16).map_err(|_| KeyTextError::Malformed("unreadable key hash"))?;
    let decoded = Zeroizing::new(
        STANDARD
            .decode(key)
            .map_err(|_| KeyTextError::Malformed("the key is not standard base64"))?,
    );
    let (&algorithm, key) = decoded
        .split_first()
        .ok_or(KeyTextError::Malformed("the key is empty"))?;
    if algorithm != ED25519 {
        return Err(KeyTextError::UnknownAlgorithm(algorithm));
    }
    let mut bytes = Zeroizing::new([0; 32]);
    if key.len() != bytes.len() {
        return Err(KeyTextError::Malformed("an Ed25519 key is 32 bytes"));
    }
    bytes.copy_from_slice(key);
    Ok(KeyText {
        name,
        key_hash,
        key: bytes,
    })
}

/// Checks the hash a key text gave against the key's own.
pub(super) fn check_key_hash(found: u32, expected: u32) -> Result<(), CheckpointError> {
    if found == expected {
        Ok(())
    } else {
        Err(CheckpointError::KeyHashMismatch { found, expected })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_spaces_plus_or_controls_are_refused() {
        for name in [
            "",
            "a b",
            "a+b",
            "a\u{a0}b",
            "a\u{2003}b",
            "a\nb",
            "a\u{7}b",
            "a\u{85}b",
        ] {
            assert!(!is_valid_name(name), "{name:?}");
        }
        for name in ["PeterNeumann", "audit.example.com/log", "ünïcödé", "a—b"] {
            assert!(is_valid_name(name), "{name:?}");
        }
    }

    #[test]
    fn key_hashes_must_be_eight_lowercase_hex_digits() {
        let key = "ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        for hash in ["C74F20A3", "c74f20a", "c74f20a3a", "+74f20a3", "c74f20g3", ""] {
            let text = format!("PeterNeumann+{hash}+{key}");
            assert!(
                matches!(parse_key_text(&text), Err(KeyTextError::Malformed(_))),
                "{text}"
            );
        }
        assert!(parse_key_text(&format!("PeterNeumann+c74f20a3+{key}")).is_ok());
    }
}
