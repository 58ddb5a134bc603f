//! Offline verification: an event, its place in its stream's tree and a
//! signed checkpoint of that tree, checked against the log's verifier key
//! with no database and nothing of the store but this module.
//!
//! An [`EventProof`] is what the store hands a reader who wants to show
//! someone else that an event is in the log as it was written, JSON such as
//! `{"event": {...}, "leaf_index": 41, "tree_size": 1000, "audit_path":
//! ["<base64>", ...], "checkpoint": "<signed note>"}`. [`EventProof::verify`]
//! checks, in this order, each with its own [`InvalidProof`]: the
//! checkpoint's signature by the key; its body; that its origin is the
//! event's stream in this log ([`Checkpoint::origin`]); that its size is the
//! proof's tree size; that the leaf index is the event's seq − 1; that the
//! event still hashes to its stored leaf hash (an edited event is told apart
//! from a wrong proof); and that the audit path leads from that leaf to the
//! checkpoint's root (RFC 9162 §2.1.3.2).
//!
//! A [`ConsistencyProof`] shows that a newer checkpoint of a stream extends
//! an older one: nothing written before was changed or removed.
//!
//! ```
//! use audit_core::{Action, Actor, Event, Integrity};
//! use audit_store::checkpoint::{Checkpoint, SigningKey};
//! use audit_store::merkle;
//! use audit_store::proof::{EventProof, InvalidProof};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // Three events sealed as the store seals them: stream, seq, leaf hash.
//! let events: Vec<Event> = (1..=3)
//!     .map(|seq| {
//!         let mut event = Event::builder(Action::new("app.created")?, Actor::user("u1")).tenant("acme").build();
//!         event.set_integrity(Integrity { stream: "tenant:acme".into(), seq, leaf_hash: String::new() });
//!         let leaf_hash = audit_store::leaf_hash(&event);
//!         event.set_integrity(Integrity { stream: "tenant:acme".into(), seq, leaf_hash });
//!         Ok(event)
//!     })
//!     .collect::<Result<_, audit_core::ActionError>>()?;
//! let leaves: Vec<merkle::Hash> = events.iter().map(|event| merkle::leaf(&event.canonical_bytes())).collect();
//!
//! // The log signs the stream's checkpoint and proves the second event in it.
//! let key = SigningKey::generate("audit.example.com/log")?;
//! let origin = Checkpoint::origin("audit.example.com/log", "tenant:acme");
//! let proof = EventProof {
//!     event: events[1].clone(),
//!     leaf_index: 1,
//!     tree_size: 3,
//!     audit_path: merkle::inclusion_proof(1, 3, |node| merkle::node_of(&leaves, node))?,
//!     checkpoint: Checkpoint::new(origin, 3, merkle::root(&leaves)).sign(&key)?,
//! };
//! let json = serde_json::to_string(&proof)?;
//!
//! // Anyone with the verifier key checks it.
//! let proof: EventProof = serde_json::from_str(&json)?;
//! let verified = proof.verify(&key.verifier_key(), "audit.example.com/log")?;
//! assert_eq!((verified.stream.as_str(), verified.seq), ("tenant:acme", 2));
//!
//! // Claiming it for another log fails.
//! assert!(matches!(
//!     proof.verify(&key.verifier_key(), "elsewhere.example.com/log"),
//!     Err(InvalidProof::WrongOrigin { .. })
//! ));
//! # Ok(()) }
//! ```

use audit_core::Event;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, Checkpoint, CheckpointError, SignedNote, VerifierKey};
use crate::integrity::to_hex;
use crate::merkle::{self, Hash, ProofError};
use crate::serde_hash;

/// An event with what proves it is in its stream's tree as signed by the
/// log: the leaf's place, the audit path and the signed checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventProof {
    /// The event as stored, with its integrity (stream, seq, leaf hash).
    pub event: Event,
    /// The event's leaf: its seq − 1.
    pub leaf_index: u64,
    /// The size of the tree the checkpoint signs.
    pub tree_size: u64,
    /// The RFC 9162 inclusion proof, bottom-up, as base64 texts.
    #[serde(with = "serde_hash::list")]
    pub audit_path: Vec<Hash>,
    /// The signed note of the stream's checkpoint at `tree_size`.
    pub checkpoint: String,
}

/// What an [`EventProof`] proved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified {
    /// The event's stream.
    pub stream: String,
    /// The event's place in it, from 1.
    pub seq: u64,
    /// The event's leaf hash.
    pub leaf_hash: Hash,
    /// The checkpoint it is in, signature checked: keep it to check a later
    /// one against ([`ConsistencyProof`]).
    pub checkpoint: Checkpoint,
}

/// That the tree of a stream at `new_size` extends the tree at `old_size`:
/// the RFC 9162 consistency proof between their checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsistencyProof {
    /// The stream both checkpoints are of.
    pub stream: String,
    /// The older checkpoint's tree size.
    pub old_size: u64,
    /// The newer checkpoint's tree size.
    pub new_size: u64,
    /// The proof's hashes, as base64 texts.
    #[serde(with = "serde_hash::list")]
    pub proof: Vec<Hash>,
}

/// Why a proof does not hold, one variant per check.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidProof {
    /// The checkpoint is not a signed note with a valid signature by the key.
    #[error("the checkpoint is not signed by the key: {0}")]
    Signature(#[source] CheckpointError),
    /// The checkpoint's signed text is not a checkpoint.
    #[error("the checkpoint's text is no checkpoint: {0}")]
    Checkpoint(#[source] CheckpointError),
    /// The event has no integrity (stream, seq, leaf hash): it was never
    /// stored.
    #[error("the event was never sealed by a store: it has no stream, seq or leaf hash")]
    NotSealed,
    /// The checkpoint is of another stream or another log than the event's.
    #[error("the checkpoint is for `{found}`, not for the event's stream `{expected}`")]
    WrongOrigin {
        /// The origin of the event's stream in the log.
        expected: String,
        /// The checkpoint's origin.
        found: String,
    },
    /// Two checkpoints compared are of different trees.
    #[error("the checkpoints are of different trees: `{old}` and `{new}`")]
    OriginsDiffer {
        /// The older checkpoint's origin.
        old: String,
        /// The newer checkpoint's origin.
        new: String,
    },
    /// A consistency proof is for another stream than the checkpoints'.
    #[error("the proof is for stream `{stream}`, the checkpoints for `{origin}`")]
    WrongStream {
        /// The stream the proof names.
        stream: String,
        /// The checkpoints' origin.
        origin: String,
    },
    /// The proof is for another tree size than the checkpoint signs.
    #[error("the proof is for a tree of {proof} events, the checkpoint signs {checkpoint}")]
    WrongTreeSize {
        /// The size the proof gives.
        proof: u64,
        /// The size the checkpoint gives.
        checkpoint: u64,
    },
    /// The leaf index is not the event's seq − 1.
    #[error("leaf {leaf_index} is not the place of the event at seq {seq} (leaf seq − 1)")]
    WrongLeafIndex {
        /// The leaf index the proof gives.
        leaf_index: u64,
        /// The event's seq.
        seq: u64,
    },
    /// The event no longer hashes to its leaf hash: it was edited.
    #[error("the event at seq {seq} of {stream} was altered: its content no longer matches its leaf hash")]
    EventAltered {
        /// The event's stream.
        stream: String,
        /// The event's seq.
        seq: u64,
        /// The leaf hash it carries (hex).
        stored: String,
        /// The leaf hash of its content now (hex).
        computed: String,
    },
    /// The audit path does not lead from the event to the checkpoint's root.
    #[error("the event is not in the checkpoint's tree: {0}")]
    NotIncluded(#[source] ProofError),
    /// The newer checkpoint's tree does not extend the older one's.
    #[error("the newer checkpoint does not extend the older: {0}")]
    NotConsistent(#[source] ProofError),
}

impl EventProof {
    /// Checks the proof against the log's `key` and name (the `log_name` its
    /// checkpoint origins start with), in the order the [module
    /// docs](self) give.
    ///
    /// # Errors
    /// The first check that fails, as its [`InvalidProof`] variant.
    pub fn verify(&self, key: &VerifierKey, log_name: &str) -> Result<Verified, InvalidProof> {
        let note = SignedNote::parse(&self.checkpoint).map_err(InvalidProof::Signature)?;
        let text = note.verify(key).map_err(InvalidProof::Signature)?;
        let checkpoint = Checkpoint::parse(text).map_err(InvalidProof::Checkpoint)?;

        let integrity = self.event.integrity().ok_or(InvalidProof::NotSealed)?;
        let expected = Checkpoint::origin(log_name, &integrity.stream);
        if checkpoint.origin != expected {
            return Err(InvalidProof::WrongOrigin {
                expected,
                found: checkpoint.origin,
            });
        }
        if checkpoint.size != self.tree_size {
            return Err(InvalidProof::WrongTreeSize {
                proof: self.tree_size,
                checkpoint: checkpoint.size,
            });
        }
        if integrity.seq.checked_sub(1) != Some(self.leaf_index) {
            return Err(InvalidProof::WrongLeafIndex {
                leaf_index: self.leaf_index,
                seq: integrity.seq,
            });
        }
        let leaf_hash = crate::integrity::leaf_digest(&self.event);
        let computed = to_hex(&leaf_hash);
        if computed != integrity.leaf_hash {
            return Err(InvalidProof::EventAltered {
                stream: integrity.stream.clone(),
                seq: integrity.seq,
                stored: integrity.leaf_hash.clone(),
                computed,
            });
        }
        merkle::verify_inclusion(
            &leaf_hash,
            self.leaf_index,
            self.tree_size,
            &self.audit_path,
            &checkpoint.root,
        )
        .map_err(InvalidProof::NotIncluded)?;
        Ok(Verified {
            stream: integrity.stream.clone(),
            seq: integrity.seq,
            leaf_hash,
            checkpoint,
        })
    }
}

impl ConsistencyProof {
    /// Checks that `new` extends `old`, both checkpoints already opened
    /// ([`Checkpoint::open`]) with the log's key: same origin, of this
    /// proof's stream, the proof's sizes, and the RFC 9162 §2.1.4.2 proof
    /// between their roots.
    ///
    /// # Errors
    /// [`InvalidProof::OriginsDiffer`], [`InvalidProof::WrongStream`],
    /// [`InvalidProof::WrongTreeSize`] or [`InvalidProof::NotConsistent`].
    pub fn verify(&self, old: &Checkpoint, new: &Checkpoint) -> Result<(), InvalidProof> {
        if old.origin != new.origin {
            return Err(InvalidProof::OriginsDiffer {
                old: old.origin.clone(),
                new: new.origin.clone(),
            });
        }
        if checkpoint::origin_stream(&new.origin).as_deref() != Some(self.stream.as_str()) {
            return Err(InvalidProof::WrongStream {
                stream: self.stream.clone(),
                origin: new.origin.clone(),
            });
        }
        for (proof, checkpoint) in [(self.old_size, old.size), (self.new_size, new.size)] {
            if proof != checkpoint {
                return Err(InvalidProof::WrongTreeSize { proof, checkpoint });
            }
        }
        merkle::verify_consistency(self.old_size, self.new_size, &old.root, &new.root, &self.proof)
            .map_err(InvalidProof::NotConsistent)
    }
}
