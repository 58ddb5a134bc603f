//! [`VerifierKey`]: the public half, which anyone checking checkpoints holds.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use super::CheckpointError;
use super::key::{self, KeyTextError};

/// A named Ed25519 public key that checks signed notes, written
/// `<name>+<8 hex key hash>+<base64(0x01 ‖ 32-byte public key)>` (its
/// [`Display`](fmt::Display) and [`parse`](Self::parse) form, that of
/// golang.org/x/mod/sumdb/note).
///
/// ```
/// use audit_store::checkpoint::VerifierKey;
///
/// let text = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
/// let key: VerifierKey = text.parse()?;
/// assert_eq!(key.name(), "PeterNeumann");
/// assert_eq!(key.key_hash(), 0xc74f20a3);
/// assert_eq!(key.to_string(), text);
/// // One flipped character of the key, and the key hash no longer matches.
/// assert!(VerifierKey::parse(&text.replace("ARpc", "ARpd")).is_err());
/// # Ok::<(), audit_store::checkpoint::CheckpointError>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_hash: u32,
    key: ed25519_dalek::VerifyingKey,
}

impl VerifierKey {
    /// The key `text` spells, exactly (no surrounding whitespace).
    ///
    /// # Errors
    /// [`CheckpointError::MalformedVerifierKey`] saying what is wrong with
    /// the text, [`CheckpointError::UnknownAlgorithm`] for a key that is not
    /// Ed25519, [`CheckpointError::KeyHashMismatch`] when the key hash does not
    /// belong to the name and key.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let parts = key::parse_key_text(text).map_err(|error| match error {
            KeyTextError::Malformed(reason) => CheckpointError::MalformedVerifierKey { reason },
            KeyTextError::UnknownAlgorithm(algorithm) => CheckpointError::UnknownAlgorithm { algorithm },
        })?;
        let public_key =
            ed25519_dalek::VerifyingKey::from_bytes(&parts.key).map_err(|_| CheckpointError::MalformedVerifierKey {
                reason: "the key is not an Ed25519 public key",
            })?;
        Self::from_parts(parts.name, parts.key_hash, public_key)
    }

    /// The key in the file at `path` (one line; a trailing newline is fine).
    ///
    /// # Errors
    /// [`CheckpointError::KeyFile`] when the file cannot be read; otherwise
    /// as [`parse`](Self::parse).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| CheckpointError::KeyFile {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(text.trim())
    }

    /// The key of `public_key` under `name`, checking `key_hash` against them.
    pub(super) fn from_parts(
        name: &str,
        key_hash: u32,
        public_key: ed25519_dalek::VerifyingKey,
    ) -> Result<Self, CheckpointError> {
        key::check_name(name)?;
        key::check_key_hash(key_hash, key::key_hash(name, &public_key))?;
        Ok(Self {
            name: name.to_owned(),
            key_hash,
            key: public_key,
        })
    }

    /// The key's name, as its signature lines give it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash that, with the name, identifies the key's signatures.
    pub fn key_hash(&self) -> u32 {
        self.key_hash
    }

    /// `<name>+<key hash>`, how errors name the key.
    pub(super) fn label(&self) -> String {
        key::key_label(&self.name, self.key_hash)
    }

    /// Whether `signature` (the bytes after the key hash) is this key's
    /// Ed25519 signature of `message`. Strict verification: no
    /// non-canonical or small-order encodings, so a signature has one valid
    /// form.
    pub(super) fn verifies(&self, message: &[u8], signature: &[u8]) -> bool {
        let Ok(signature) = <&[u8; ed25519_dalek::SIGNATURE_LENGTH]>::try_from(signature) else {
            return false;
        };
        self.key
            .verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
            .is_ok()
    }
}

impl FromStr for VerifierKey {
    type Err = CheckpointError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&key::key_text(&self.name, self.key_hash, self.key.as_bytes()))
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("VerifierKey").field(&format_args!("{self}")).finish()
    }
}
