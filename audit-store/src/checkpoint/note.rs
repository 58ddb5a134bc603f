//! [`SignedNote`]: C2SP signed-note, text followed by signature lines.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::key;
use super::{CheckpointError, SigningKey, VerifierKey};

/// The most signature lines a note may have. The spec asks verifiers to take
/// at least 16 and to bound the work a note can ask for; 100 as Go's
/// implementation reads.
pub(super) const MAX_SIGNATURES: usize = 100;

/// What every signature line starts with: U+2014 em dash, space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// Bytes of a signature that are the key hash.
const KEY_HASH_LENGTH: usize = 4;

/// A note: a text ending in a newline, a blank line, then one or more lines
/// `— <key name> <base64(4-byte key hash ‖ signature)>`.
///
/// [`parse`](Self::parse) is strict (C2SP signed-note): UTF-8 with no control
/// character but newlines, the last blank line separates text from
/// signatures, every line after it is a well-formed signature line ending in
/// a newline. [`Display`](fmt::Display) gives back the exact text parsed.
/// Reading the text means [`verify`](Self::verify)ing it first: its
/// signatures say nothing until checked against a key you trust.
///
/// ```
/// use audit_store::checkpoint::{CheckpointError, SignedNote, SigningKey};
///
/// let key = SigningKey::generate("example.com/notes")?;
/// let note = SignedNote::sign("Hello,\nworld.\n", &key)?;
/// let text = note.to_string();
/// assert!(text.starts_with("Hello,\nworld.\n\n\u{2014} example.com/notes "));
///
/// let parsed = SignedNote::parse(&text)?;
/// assert_eq!(parsed.verify(&key.verifier_key())?, "Hello,\nworld.\n");
/// assert_eq!(parsed.to_string(), text);
///
/// let forged = SignedNote::parse(&text.replace("world", "World"))?;
/// assert!(matches!(forged.verify(&key.verifier_key()), Err(CheckpointError::BadSignature { .. })));
/// # Ok::<(), CheckpointError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    text: String,
    signatures: Vec<NoteSignature>,
}

/// One signature line of a [`SignedNote`], not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    name: String,
    key_hash: u32,
    signature: Vec<u8>,
}

impl NoteSignature {
    /// The name of the key that (says it) signed.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash of the key that (says it) signed.
    pub fn key_hash(&self) -> u32 {
        self.key_hash
    }

    /// The signature bytes after the key hash (64 for Ed25519).
    pub fn signature(&self) -> &[u8] {
        &self.signature
    }

    /// Reads `— <name> <base64>` (without its newline); `Err` says what is
    /// wrong.
    fn parse(line: &str) -> Result<Self, &'static str> {
        let line = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or("it does not start with an em dash (U+2014) and a space")?;
        let (name, encoded) = line
            .split_once(' ')
            .ok_or("no space between the key name and the signature")?;
        if !key::is_valid_name(name) {
            return Err("the key name is empty or holds a '+' or a space");
        }
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| "the signature is not standard base64")?;
        if bytes.len() <= KEY_HASH_LENGTH {
            return Err("the signature is too short to hold a key hash and a signature");
        }
        let (key_hash, signature) = bytes.split_at(KEY_HASH_LENGTH);
        Ok(Self {
            name: name.to_owned(),
            key_hash: u32::from_be_bytes([key_hash[0], key_hash[1], key_hash[2], key_hash[3]]),
            signature: signature.to_vec(),
        })
    }
}

impl fmt::Display for NoteSignature {
    /// The signature line, without its newline.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::with_capacity(KEY_HASH_LENGTH + self.signature.len());
        bytes.extend_from_slice(&self.key_hash.to_be_bytes());
        bytes.extend_from_slice(&self.signature);
        write!(f, "{SIGNATURE_PREFIX}{} {}", self.name, STANDARD.encode(bytes))
    }
}

/// `Ok` when `text` has no ASCII control character but newlines (which C2SP
/// signed-note forbids anywhere in a note), else the first one's line.
fn check_characters(text: &str) -> Result<(), CheckpointError> {
    match text.find(|c: char| c < ' ' && c != '\n') {
        None => Ok(()),
        Some(at) => Err(CheckpointError::ControlCharacter {
            line: line_number(text, at),
        }),
    }
}

/// The line, from 1, that byte `at` of `text` is on.
fn line_number(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// `Ok` when `text` can be a note's text: it ends in a newline and holds no
/// control character but newlines.
pub(super) fn check_text(text: &str) -> Result<(), CheckpointError> {
    check_characters(text)?;
    if text.ends_with('\n') {
        Ok(())
    } else {
        Err(CheckpointError::Unterminated)
    }
}

impl SignedNote {
    /// `text` signed by `key`: a note with one signature.
    ///
    /// # Errors
    /// [`CheckpointError::Unterminated`] when `text` does not end in a
    /// newline, [`CheckpointError::ControlCharacter`] when it holds a control
    /// character other than newlines.
    pub fn sign(text: impl Into<String>, key: &SigningKey) -> Result<Self, CheckpointError> {
        let text = text.into();
        check_text(&text)?;
        let signature = key.sign(text.as_bytes()).to_vec();
        Ok(Self {
            signatures: vec![NoteSignature {
                name: key.name().to_owned(),
                key_hash: key.key_hash(),
                signature,
            }],
            text,
        })
    }

    /// Reads a signed note, checking its form but none of its signatures.
    ///
    /// # Errors
    /// [`CheckpointError::ControlCharacter`], [`CheckpointError::MissingSignatures`]
    /// when there is no blank line followed by signature lines,
    /// [`CheckpointError::MalformedSignatureLine`] naming the line and what is
    /// wrong with it, [`CheckpointError::TooManySignatures`].
    pub fn parse(note: &str) -> Result<Self, CheckpointError> {
        check_characters(note)?;
        // The signature lines hold no blank line, so the last one separates.
        let blank = note.rfind("\n\n").ok_or(CheckpointError::MissingSignatures)?;
        let (text, block) = (&note[..=blank], &note[blank + 2..]);
        if block.is_empty() {
            return Err(CheckpointError::MissingSignatures);
        }
        let first_line = line_number(note, blank + 2);
        let count = block.split_terminator('\n').count();
        if count > MAX_SIGNATURES {
            return Err(CheckpointError::TooManySignatures { count });
        }
        if !block.ends_with('\n') {
            return Err(CheckpointError::MalformedSignatureLine {
                line: first_line + count - 1,
                reason: "it does not end in a newline",
            });
        }
        let signatures = block
            .split_terminator('\n')
            .enumerate()
            .map(|(index, line)| {
                NoteSignature::parse(line).map_err(|reason| CheckpointError::MalformedSignatureLine {
                    line: first_line + index,
                    reason,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The text, with its final newline: what the signatures sign. Not to be
    /// trusted before [`verify`](Self::verify), which returns it too.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signature lines, in order, none of them checked.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// The text, once every signature line by `key` (same name and key hash)
    /// is checked; signatures by other keys are ignored, as the spec asks.
    ///
    /// # Errors
    /// [`CheckpointError::NoSignatureByKey`] when no line is by `key`;
    /// [`CheckpointError::BadSignature`] when one by it does not verify.
    pub fn verify(&self, key: &VerifierKey) -> Result<&str, CheckpointError> {
        let mut by_key = self
            .signatures
            .iter()
            .filter(|signature| signature.name == key.name() && signature.key_hash == key.key_hash())
            .peekable();
        if by_key.peek().is_none() {
            return Err(CheckpointError::NoSignatureByKey { key: key.label() });
        }
        if by_key.all(|signature| key.verifies(self.text.as_bytes(), &signature.signature)) {
            Ok(&self.text)
        } else {
            Err(CheckpointError::BadSignature { key: key.label() })
        }
    }
}

impl FromStr for SignedNote {
    type Err = CheckpointError;

    fn from_str(note: &str) -> Result<Self, Self::Err> {
        Self::parse(note)
    }
}

impl fmt::Display for SignedNote {
    /// The note as written: text, blank line, signature lines.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)?;
        f.write_str("\n")?;
        for signature in &self.signatures {
            writeln!(f, "{signature}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNATURE: &str = "\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn malformed_notes_say_what_and_where() {
        let text = "first\nsecond\n";
        let cases: &[(String, &str)] = &[
            (text.to_owned(), "MissingSignatures"),
            (format!("{text}\n"), "MissingSignatures"),
            (
                format!("{text}\n{}", SIGNATURE.trim_end()),
                "MalformedSignatureLine { line: 4",
            ),
            (format!("\u{1}{text}\n{SIGNATURE}"), "ControlCharacter { line: 1 }"),
            (format!("{text}\n{SIGNATURE}\r\n"), "ControlCharacter { line: 5 }"),
            (
                format!("{text}\n{SIGNATURE}Unexpected line.\n"),
                "MalformedSignatureLine { line: 5",
            ),
            (
                format!("{text}\n- PeterNeumann AAAAAAAA\n"),
                "MalformedSignatureLine { line: 4",
            ),
            (
                format!(
                    "{text}\n\u{2014} Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
                ),
                "not standard base64",
            ),
            (format!("{text}\n\u{2014} a+b AAAAAAAA\n"), "the key name"),
            (format!("{text}\n\u{2014} PeterNeumann AAAA\n"), "too short"),
            (format!("{text}\n\u{2014} PeterNeumann \n"), "too short"),
            (
                format!("{text}\n\u{2014} PeterNeumann AAAAAAB=\n"),
                "not standard base64",
            ),
        ];
        for (note, want) in cases {
            let error = SignedNote::parse(note).unwrap_err();
            assert!(format!("{error:?}").contains(want), "{note:?}: {error:?}");
        }
    }

    #[test]
    fn more_than_the_signature_limit_is_refused_and_the_limit_is_read() {
        let text = "text\n\n";
        let at_limit = format!("{text}{}", SIGNATURE.repeat(MAX_SIGNATURES));
        assert_eq!(SignedNote::parse(&at_limit).unwrap().signatures().len(), MAX_SIGNATURES);
        let over = format!("{text}{}", SIGNATURE.repeat(MAX_SIGNATURES + 1));
        assert!(matches!(
            SignedNote::parse(&over),
            Err(CheckpointError::TooManySignatures { count: 101 })
        ));
    }

    #[test]
    fn the_last_blank_line_separates_text_from_signatures() {
        let note = format!("a\n\nb\n\n\n{SIGNATURE}");
        let parsed = SignedNote::parse(&note).unwrap();
        assert_eq!(parsed.text(), "a\n\nb\n\n");
        assert_eq!(parsed.to_string(), note);
    }

    #[test]
    fn texts_that_cannot_be_signed_are_refused() {
        let key = SigningKey::generate("k").unwrap();
        assert!(matches!(
            SignedNote::sign("no newline", &key),
            Err(CheckpointError::Unterminated)
        ));
        assert!(matches!(
            SignedNote::sign("tab\there\n", &key),
            Err(CheckpointError::ControlCharacter { line: 1 })
        ));
        assert!(matches!(SignedNote::sign("", &key), Err(CheckpointError::Unterminated)));
    }
}
