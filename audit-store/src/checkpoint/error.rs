//! [`CheckpointError`].

use std::path::PathBuf;

/// What is wrong with a key, a signed note or a checkpoint.
///
/// No variant holds any part of a signing key's text: a mangled key could put
/// its secret where a name is expected, so errors about signing keys say what
/// is wrong, never what was there.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// A key name is empty or holds a space, a `+` or a control character.
    #[error("a key name must be non-empty, without spaces, '+' or control characters")]
    InvalidKeyName,
    /// A verifier key's text is not `<name>+<8 hex key hash>+<base64 key>`.
    #[error("malformed verifier key: {reason}")]
    MalformedVerifierKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A signing key's text is not `PRIVATE+KEY+<name>+<8 hex key hash>+<base64 key>`.
    #[error("malformed signing key: {reason}")]
    MalformedSigningKey {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key of another signature type than Ed25519 (`0x01`).
    #[error("key type {algorithm:#04x} is not Ed25519 (0x01)")]
    UnknownAlgorithm {
        /// The type byte found.
        algorithm: u8,
    },
    /// A key's hash does not match its name and key: a mistyped or
    /// mismatched key.
    #[error("key hash {found:08x} does not match the key, whose hash is {expected:08x}")]
    KeyHashMismatch {
        /// The hash the text gives.
        found: u32,
        /// The hash of the name and key it gives.
        expected: u32,
    },
    /// A key file could not be read.
    #[error("cannot read key file {}: {source}", path.display())]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key's environment variable is not set, or not Unicode. (Not
    /// `std::env::VarError`, which would carry the variable's value.)
    #[error("environment variable {variable} holds no key: it is {reason}")]
    KeyVariable {
        /// The variable's name.
        variable: String,
        /// Why: "not set" or "not Unicode".
        reason: &'static str,
    },
    /// The operating system gave no randomness for a new key.
    #[error("no randomness for a new key: {0}")]
    Randomness(getrandom::Error),
    /// A signed note or its text holds an ASCII control character other than
    /// a newline.
    #[error("line {line} holds a control character")]
    ControlCharacter {
        /// The line, from 1.
        line: usize,
    },
    /// A note text (or checkpoint body) does not end in a newline.
    #[error("the text does not end in a newline")]
    Unterminated,
    /// A signed note has no blank line followed by signature lines.
    #[error("the note has no blank line followed by signature lines")]
    MissingSignatures,
    /// A signature line is not `— <key name> <base64 signature>`.
    #[error("line {line} of the note is not a signature line: {reason}")]
    MalformedSignatureLine {
        /// The line, from 1, counted in the whole note.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A signed note has more signature lines than anyone should need.
    #[error("the note has {count} signatures; at most {} are read", super::note::MAX_SIGNATURES)]
    TooManySignatures {
        /// How many it has.
        count: usize,
    },
    /// No signature line of the note is by the key asked for.
    #[error("the note has no signature by {key}")]
    NoSignatureByKey {
        /// The key, as `<name>+<key hash>`.
        key: String,
    },
    /// A signature by the key asked for does not verify: the text was
    /// changed, or the signature was.
    #[error("the signature by {key} does not verify")]
    BadSignature {
        /// The key, as `<name>+<key hash>`.
        key: String,
    },
    /// A checkpoint body has fewer than its three lines.
    #[error("a checkpoint has an origin, a tree size and a root hash line; this has {lines} lines")]
    TooFewLines {
        /// How many lines it has.
        lines: usize,
    },
    /// A line of a checkpoint body is not what that line must be.
    #[error("checkpoint line {line}: {reason}")]
    MalformedLine {
        /// The line, from 1.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A checkpoint's root hash is base64 of something other than 32 bytes.
    #[error("checkpoint root hash is {bytes} bytes, not 32")]
    RootNotHash {
        /// How many bytes it decodes to.
        bytes: usize,
    },
}
