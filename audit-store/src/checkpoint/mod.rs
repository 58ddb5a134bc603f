//! Signed checkpoints: a stream's tree head, signed by the log, in the
//! formats the transparency-log world shares, so tools other than this
//! crate can check them.
//!
//! - **Keys**: Ed25519, named. A [`SigningKey`] is written
//!   `PRIVATE+KEY+<name>+<key hash>+<base64(0x01 ‖ seed)>`, its
//!   [`VerifierKey`] `<name>+<key hash>+<base64(0x01 ‖ public key)>`, where
//!   the key hash is the first 4 bytes (big-endian) of
//!   `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)` (golang.org/x/mod/sumdb/note's
//!   formats, C2SP signed-note's key ID).
//! - **Notes** ([`SignedNote`], C2SP signed-note): a text ending in a
//!   newline, a blank line, then lines `— <key name> <base64(key hash ‖
//!   signature)>`, the signature over the text with its final newline.
//! - **Checkpoints** ([`Checkpoint`], C2SP tlog-checkpoint): the note text
//!   `<origin>\n<tree size>\n<base64 root hash>\n`, where a stream's origin
//!   is `<log name>/<stream, percent-encoded>` ([`Checkpoint::origin`]).
//!
//! The log signs a checkpoint with its signing key; anyone with the verifier
//! key opens it, then checks an event against its root with an
//! [`EventProof`](crate::proof::EventProof), or that a newer checkpoint
//! extends an older one with a [`ConsistencyProof`](crate::proof::ConsistencyProof).
//! Nothing here touches a database.
//!
//! ```
//! use audit_store::checkpoint::{Checkpoint, CheckpointError, SigningKey, VerifierKey};
//! use audit_store::merkle;
//!
//! // Once: the log's key. Keep its private text secret; publish the verifier key.
//! let key = SigningKey::generate("audit.example.com/log")?;
//! let published = key.verifier_key().to_string();
//!
//! // The log: a checkpoint of a stream's tree, signed.
//! let leaves = [merkle::leaf(b"first event"), merkle::leaf(b"second event")];
//! let origin = Checkpoint::origin("audit.example.com/log", "tenant:acme");
//! let note = Checkpoint::new(origin, 2, merkle::root(&leaves)).sign(&key)?;
//! assert!(note.starts_with("audit.example.com/log/tenant:acme\n2\n"));
//!
//! // Anyone: open it with the published key.
//! let verifier: VerifierKey = published.parse()?;
//! let checkpoint = Checkpoint::open(&note, &verifier)?;
//! assert_eq!((checkpoint.size, checkpoint.root), (2, merkle::root(&leaves)));
//! assert_eq!(
//!     Checkpoint::stream_of_origin("audit.example.com/log", &checkpoint.origin).as_deref(),
//!     Some("tenant:acme")
//! );
//!
//! // A changed size, or another key, and it does not open.
//! let forged = note.replacen("\n2\n", "\n3\n", 1);
//! assert!(matches!(Checkpoint::open(&forged, &verifier), Err(CheckpointError::BadSignature { .. })));
//! let stranger = SigningKey::generate("audit.example.com/log")?.verifier_key();
//! assert!(matches!(Checkpoint::open(&note, &stranger), Err(CheckpointError::NoSignatureByKey { .. })));
//! # Ok::<(), CheckpointError>(())
//! ```

mod body;
mod checkpointer;
mod error;
#[cfg(feature = "http")]
mod http_sink;
mod key;
mod note;
mod origin;
mod signing_key;
mod sinks;
mod verifier_key;

pub use body::Checkpoint;
pub use checkpointer::{CheckpointRun, Checkpointer, CheckpointerError, DEFAULT_CHECKPOINT_INTERVAL, SinkFailure};
pub use error::CheckpointError;
#[cfg(feature = "http")]
pub use http_sink::HttpSink;
pub use note::{NoteSignature, SignedNote};
pub(crate) use origin::origin_stream;
pub use signing_key::SigningKey;
#[cfg(feature = "archive")]
pub(crate) use sinks::stream_folder;
pub use sinks::{CheckpointSink, DirectorySink, SendFuture, WriterSink};
pub use verifier_key::VerifierKey;
