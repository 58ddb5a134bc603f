//! [`SigningKey`]: the secret half, which only the log holds.

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use ed25519_dalek::Signer as _;
use zeroize::Zeroizing;

use super::key::{self, KeyTextError};
use super::{CheckpointError, VerifierKey};

/// What every signing key text starts with.
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// A named Ed25519 key that signs notes, written
/// `PRIVATE+KEY+<name>+<8 hex key hash>+<base64(0x01 ‖ 32-byte seed)>` (the
/// signer key format of golang.org/x/mod/sumdb/note).
///
/// The secret stays inside: [`Debug`](fmt::Debug) shows the name and key
/// hash only, there is no `Display` or `Serialize`, errors never quote the
/// text, and the seed is wiped from memory when the key is dropped. The one
/// way out is [`expose_private_text`](Self::expose_private_text), to save a
/// key just generated.
///
/// ```
/// use audit_store::checkpoint::SigningKey;
///
/// let key = SigningKey::generate("audit.example.com/log")?;
/// assert_eq!(key.name(), "audit.example.com/log");
/// let saved = key.expose_private_text();
/// assert!(saved.starts_with("PRIVATE+KEY+audit.example.com/log+"));
/// let again = SigningKey::parse(&saved)?;
/// assert_eq!(again.verifier_key(), key.verifier_key());
/// assert_eq!(
///     format!("{key:?}"),
///     format!("SigningKey {{ name: \"audit.example.com/log\", key_hash: \"{:08x}\" }}", key.key_hash())
/// );
/// # Ok::<(), audit_store::checkpoint::CheckpointError>(())
/// ```
#[derive(Clone)]
pub struct SigningKey {
    name: String,
    key_hash: u32,
    /// Wipes its seed on drop (ed25519-dalek's `zeroize` feature).
    key: ed25519_dalek::SigningKey,
}

impl SigningKey {
    /// A new key named `name` (a schema-less URL such as
    /// `audit.example.com/log` is recommended), from 32 bytes of the
    /// operating system's randomness.
    ///
    /// # Errors
    /// [`CheckpointError::InvalidKeyName`]; [`CheckpointError::Randomness`]
    /// when the system has no randomness to give.
    pub fn generate(name: &str) -> Result<Self, CheckpointError> {
        key::check_name(name)?;
        let mut seed = Zeroizing::new([0; ed25519_dalek::SECRET_KEY_LENGTH]);
        getrandom::fill(seed.as_mut_slice()).map_err(CheckpointError::Randomness)?;
        let key = ed25519_dalek::SigningKey::from_bytes(&seed);
        Ok(Self {
            name: name.to_owned(),
            key_hash: key::key_hash(name, &key.verifying_key()),
            key,
        })
    }

    /// The key `text` spells, exactly (no surrounding whitespace).
    ///
    /// # Errors
    /// [`CheckpointError::MalformedSigningKey`] saying what is wrong (never
    /// quoting the text), [`CheckpointError::UnknownAlgorithm`] for a key that
    /// is not Ed25519, [`CheckpointError::KeyHashMismatch`] when the key hash
    /// does not belong to the name and key.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let rest = text
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(CheckpointError::MalformedSigningKey {
                reason: "it does not start with PRIVATE+KEY+",
            })?;
        let parts = key::parse_key_text(rest).map_err(|error| match error {
            KeyTextError::Malformed(reason) => CheckpointError::MalformedSigningKey { reason },
            KeyTextError::UnknownAlgorithm(algorithm) => CheckpointError::UnknownAlgorithm { algorithm },
        })?;
        let key = ed25519_dalek::SigningKey::from_bytes(&parts.key);
        // The hash was made from the public key, which the seed gives.
        key::check_key_hash(parts.key_hash, key::key_hash(parts.name, &key.verifying_key()))?;
        Ok(Self {
            name: parts.name.to_owned(),
            key_hash: parts.key_hash,
            key,
        })
    }

    /// The key in the file at `path` (one line; a trailing newline is fine).
    /// Keep the file readable by the log's service alone.
    ///
    /// # Errors
    /// [`CheckpointError::KeyFile`] when the file cannot be read; otherwise
    /// as [`parse`](Self::parse).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, CheckpointError> {
        let path = path.as_ref();
        let text = Zeroizing::new(
            std::fs::read_to_string(path).map_err(|source| CheckpointError::KeyFile {
                path: path.to_owned(),
                source,
            })?,
        );
        Self::parse(text.trim())
    }

    /// The key in the environment variable `variable`.
    ///
    /// # Errors
    /// [`CheckpointError::KeyVariable`] when it is not set or not Unicode;
    /// otherwise as [`parse`](Self::parse).
    pub fn from_env(variable: &str) -> Result<Self, CheckpointError> {
        let text = Zeroizing::new(std::env::var(variable).map_err(|error| CheckpointError::KeyVariable {
            variable: variable.to_owned(),
            reason: match error {
                std::env::VarError::NotPresent => "not set",
                std::env::VarError::NotUnicode(_) => "not Unicode",
            },
        })?);
        Self::parse(text.trim())
    }

    /// The key's name, as its signature lines give it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash that, with the name, identifies the key's signatures.
    pub fn key_hash(&self) -> u32 {
        self.key_hash
    }

    /// The public half, to hand to whoever checks the signatures.
    pub fn verifier_key(&self) -> VerifierKey {
        VerifierKey::from_parts(&self.name, self.key_hash, self.key.verifying_key())
            .unwrap_or_else(|_| unreachable!("a signing key's name and hash were checked when it was made"))
    }

    /// The key's own text, `PRIVATE+KEY+…`, in a string wiped on drop:
    /// write it to a file or a secret store only. This is the secret.
    pub fn expose_private_text(&self) -> Zeroizing<String> {
        let seed = Zeroizing::new(self.key.to_bytes());
        let text = key::key_text(&self.name, self.key_hash, &seed);
        let mut private = Zeroizing::new(String::with_capacity(PRIVATE_PREFIX.len() + text.len()));
        private.push_str(PRIVATE_PREFIX);
        private.push_str(&text);
        private
    }

    /// The Ed25519 signature of `message` (deterministic, RFC 8032).
    pub(super) fn sign(&self, message: &[u8]) -> [u8; ed25519_dalek::SIGNATURE_LENGTH] {
        self.key.sign(message).to_bytes()
    }
}

impl FromStr for SigningKey {
    type Err = CheckpointError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("name", &self.name)
            .field("key_hash", &format_args!("\"{:08x}\"", self.key_hash))
            .finish()
    }
}
