//! Hashes as text: standard base64 (RFC 4648 §4, padded), the form C2SP
//! checkpoints give a root hash in, and so the form every proof this crate
//! writes uses too. One place for it, for the checkpoint body, the proof
//! types, and later the HTTP API and the CLI.
//!
//! The module's `serialize`/`deserialize` serve `#[serde(with =
//! "audit_store::serde_hash")]` on a [`tyalias@Hash`]; [`list`] does the same for a
//! `Vec<Hash>`.
//!
//! ```
//! use audit_store::merkle::{self, Hash};
//! use audit_store::serde_hash;
//!
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Head {
//!     #[serde(with = "serde_hash")]
//!     root: Hash,
//!     #[serde(with = "serde_hash::list")]
//!     path: Vec<Hash>,
//! }
//!
//! let head = Head { root: merkle::empty_root(), path: vec![[0; 32]] };
//! let json = serde_json::to_string(&head)?;
//! assert_eq!(
//!     json,
//!     r#"{"root":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=","path":["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="]}"#
//! );
//! let back: Head = serde_json::from_str(&json)?;
//! assert_eq!(back.root, head.root);
//! assert!(serde_json::from_str::<Head>(r#"{"root":"AAAA","path":[]}"#).is_err(), "3 bytes are no hash");
//! # Ok::<(), serde_json::Error>(())
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serializer};

use crate::merkle::Hash;

/// Why a text is not a hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashTextError {
    /// Not standard, padded, canonical base64.
    #[error("not standard base64")]
    NotBase64,
    /// Base64 of something other than 32 bytes.
    #[error("{bytes} bytes, not the 32 of a SHA-256 hash")]
    WrongLength {
        /// How many bytes it decodes to.
        bytes: usize,
    },
}

/// `hash` in standard base64.
pub fn encode(hash: &Hash) -> String {
    STANDARD.encode(hash)
}

/// The hash `text` encodes in standard base64. Only the canonical form is
/// accepted (padding present, unused bits zero), so a hash has one text.
///
/// # Errors
/// [`HashTextError`] saying whether the text is no base64 or the wrong length.
pub fn decode(text: &str) -> Result<Hash, HashTextError> {
    let bytes = STANDARD.decode(text).map_err(|_| HashTextError::NotBase64)?;
    let length = bytes.len();
    bytes
        .try_into()
        .map_err(|_| HashTextError::WrongLength { bytes: length })
}

/// Writes a hash as base64 (for `#[serde(with = "audit_store::serde_hash")]`).
///
/// # Errors
/// Those of the serializer.
pub fn serialize<S: Serializer>(hash: &Hash, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&encode(hash))
}

/// Reads a hash from base64 (for `#[serde(with = "audit_store::serde_hash")]`).
///
/// # Errors
/// A text that [`decode`] refuses.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Hash, D::Error> {
    let text = String::deserialize(deserializer)?;
    decode(&text).map_err(serde::de::Error::custom)
}

/// A list of hashes as a list of base64 texts (for `#[serde(with =
/// "audit_store::serde_hash::list")]`).
pub mod list {
    use serde::ser::SerializeSeq as _;
    use serde::{Deserialize, Deserializer, Serializer};

    use crate::merkle::Hash;

    /// Writes each hash as base64.
    ///
    /// # Errors
    /// Those of the serializer.
    pub fn serialize<S: Serializer>(hashes: &[Hash], serializer: S) -> Result<S::Ok, S::Error> {
        let mut seq = serializer.serialize_seq(Some(hashes.len()))?;
        for hash in hashes {
            seq.serialize_element(&super::encode(hash))?;
        }
        seq.end()
    }

    /// Reads a list of base64 hashes.
    ///
    /// # Errors
    /// An element that [`decode`](super::decode) refuses, named by position.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Hash>, D::Error> {
        let texts = Vec::<String>::deserialize(deserializer)?;
        texts
            .iter()
            .enumerate()
            .map(|(position, text)| {
                super::decode(text).map_err(|error| serde::de::Error::custom(format_args!("hash {position}: {error}")))
            })
            .collect()
    }
}
