//! [`Checkpoint`]: the C2SP tlog-checkpoint note text.

use super::note::{self, SignedNote};
use super::{CheckpointError, SigningKey, VerifierKey};
use crate::merkle::Hash;
use crate::serde_hash::{self, HashTextError};

/// A log's tree head: the note text of a C2SP tlog-checkpoint, one line each
/// for the origin, the tree size (decimal) and the root hash (base64), then
/// any extension lines, every line ending in a newline.
///
/// The store signs one per stream, its origin [`Checkpoint::origin`] of the
/// log's name and the stream. Anyone holding the log's [`VerifierKey`] can
/// then [`open`](Self::open) it and check events and older checkpoints
/// against its root ([`EventProof`](crate::proof::EventProof),
/// [`ConsistencyProof`](crate::proof::ConsistencyProof)).
///
/// ```
/// use audit_store::checkpoint::{Checkpoint, CheckpointError};
/// use audit_store::merkle;
///
/// let checkpoint = Checkpoint::new(Checkpoint::origin("audit.example.com/log", "tenant:acme"), 0, merkle::empty_root());
/// let body = checkpoint.to_body()?;
/// assert_eq!(body, "audit.example.com/log/tenant:acme\n0\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n");
/// assert_eq!(Checkpoint::parse(&body)?, checkpoint);
/// assert!(matches!(
///     Checkpoint::parse("audit.example.com/log/global\n007\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n"),
///     Err(CheckpointError::MalformedLine { line: 2, .. })
/// ));
/// # Ok::<(), CheckpointError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// Who issued it, and for which tree: non-empty, one line.
    pub origin: String,
    /// How many leaves the tree has.
    pub size: u64,
    /// The RFC 9162 root of the tree of `size` leaves.
    pub root: Hash,
    /// Opaque lines after the root, each non-empty (the spec advises
    /// against them; they are kept so that a checkpoint read is written back
    /// the same).
    pub extensions: Vec<String>,
}

/// The first extension line's number.
const FIRST_EXTENSION_LINE: usize = 4;

const ORIGIN_EMPTY: &str = "the origin is empty";
const EXTENSION_EMPTY: &str = "an extension line is empty";

impl Checkpoint {
    /// A checkpoint without extension lines.
    pub fn new(origin: impl Into<String>, size: u64, root: Hash) -> Self {
        Self {
            origin: origin.into(),
            size,
            root,
            extensions: Vec::new(),
        }
    }

    /// The note text: origin, size, root and extensions, one per line.
    ///
    /// # Errors
    /// [`CheckpointError::MalformedLine`] for an empty origin or extension
    /// line, or one holding a newline or control character (the fields are
    /// public, so nothing stopped them being set so).
    pub fn to_body(&self) -> Result<String, CheckpointError> {
        check_line(1, &self.origin, ORIGIN_EMPTY)?;
        for (index, extension) in self.extensions.iter().enumerate() {
            check_line(FIRST_EXTENSION_LINE + index, extension, EXTENSION_EMPTY)?;
        }
        let mut body = format!("{}\n{}\n{}\n", self.origin, self.size, serde_hash::encode(&self.root));
        for extension in &self.extensions {
            body.push_str(extension);
            body.push('\n');
        }
        Ok(body)
    }

    /// Reads a checkpoint from a note's text (verify the note first:
    /// [`open`](Self::open) does both).
    ///
    /// # Errors
    /// [`CheckpointError::Unterminated`], [`CheckpointError::ControlCharacter`],
    /// [`CheckpointError::TooFewLines`], [`CheckpointError::MalformedLine`]
    /// naming the line and what is wrong with it, or
    /// [`CheckpointError::RootNotHash`].
    pub fn parse(body: &str) -> Result<Self, CheckpointError> {
        note::check_text(body)?;
        let lines: Vec<&str> = body.split_terminator('\n').collect();
        let [origin, size, root, extensions @ ..] = lines.as_slice() else {
            return Err(CheckpointError::TooFewLines { lines: lines.len() });
        };
        if origin.is_empty() {
            return Err(malformed(1, ORIGIN_EMPTY));
        }
        let size = parse_tree_size(size)?;
        let root = serde_hash::decode(root).map_err(|error| match error {
            HashTextError::WrongLength { bytes } => CheckpointError::RootNotHash { bytes },
            _ => malformed(3, "the root hash is not standard base64"),
        })?;
        if let Some(empty) = extensions.iter().position(|line| line.is_empty()) {
            return Err(malformed(FIRST_EXTENSION_LINE + empty, EXTENSION_EMPTY));
        }
        Ok(Self {
            origin: (*origin).to_owned(),
            size,
            root,
            extensions: extensions.iter().map(|line| (*line).to_owned()).collect(),
        })
    }

    /// The signed note of this checkpoint, signed by `key`: the text the
    /// store hands out, and [`open`](Self::open) reads.
    ///
    /// # Errors
    /// As [`to_body`](Self::to_body).
    pub fn sign(&self, key: &SigningKey) -> Result<String, CheckpointError> {
        Ok(SignedNote::sign(self.to_body()?, key)?.to_string())
    }

    /// The checkpoint in the signed note `note`, once its signature by `key`
    /// is verified.
    ///
    /// # Errors
    /// Those of [`SignedNote::parse`] and [`SignedNote::verify`] (the note),
    /// then those of [`parse`](Self::parse) (its text).
    pub fn open(note: &str, key: &VerifierKey) -> Result<Self, CheckpointError> {
        Self::parse(SignedNote::parse(note)?.verify(key)?)
    }
}

fn malformed(line: usize, reason: &'static str) -> CheckpointError {
    CheckpointError::MalformedLine { line, reason }
}

/// `Ok` when `text` can be line `line` of a body: non-empty, and free of
/// newlines and the other control characters no note may hold.
fn check_line(line: usize, text: &str, empty: &'static str) -> Result<(), CheckpointError> {
    if text.is_empty() {
        return Err(malformed(line, empty));
    }
    if text.contains(|c: char| c < ' ') {
        return Err(malformed(line, "it holds a newline or control character"));
    }
    Ok(())
}

/// The tree size line: ASCII decimal, no leading zero but in `0` itself.
fn parse_tree_size(line: &str) -> Result<u64, CheckpointError> {
    if line.is_empty() || !line.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(2, "the tree size is not a decimal number"));
    }
    if line.len() > 1 && line.starts_with('0') {
        return Err(malformed(2, "the tree size has a leading zero"));
    }
    line.parse()
        .map_err(|_| malformed(2, "the tree size does not fit in 64 bits"))
}
