//! A stream's Merkle tree as the store keeps it (the hashing and proofs
//! are [`merkle`](crate::merkle)'s, which knows no database).
//!
//! - The head row of each stream (`audit_streams.tree_frontier`) holds the
//!   tree's frontier ([`Frontier`]): its largest perfect subtrees, at most
//!   64 hashes. An append hashes its leaves into it, in the same
//!   transaction as the events, and the head's root is folded from it.
//! - `audit_tree_nodes` holds every perfect subtree at a stored level (4,
//!   8, 12, …) as it completes, and what a purge keeps of the leaves it
//!   removes. Leaves themselves are the events' `leaf_hash`.
//! - A proof reads the tiles under the nodes it needs ([`tiles`]) and
//!   folds the rest.

mod frontier;
mod replay;
pub(crate) mod tiles;

pub(crate) use frontier::{Frontier, TILE_HEIGHT};
pub(crate) use replay::Replay;

use crate::error::StoreError;
use crate::merkle::{Hash, Node, ProofError};

/// A perfect subtree to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredNode {
    /// The stream whose tree it is in.
    pub(crate) stream: String,
    /// Which subtree.
    pub(crate) node: Node,
    /// Its hash.
    pub(crate) hash: Hash,
}

/// A stream's tree as its head row records it.
#[derive(Debug, Clone)]
pub(crate) struct StreamTree {
    /// The stream.
    pub(crate) stream: String,
    /// Its size: the head's seq.
    pub(crate) head: u64,
    /// Its frontier; `None` when the tree is not kept (the stream was
    /// purged before this store kept trees).
    pub(crate) frontier: Option<Frontier>,
}

impl StreamTree {
    /// Reads a head row (`None`: the stream has none, so it is empty).
    pub(crate) fn from_head(stream: &str, row: Option<(i64, Option<Vec<u8>>)>) -> Result<Self, StoreError> {
        let (head, stored) = row.unwrap_or((0, Some(Vec::new())));
        let head = u64::try_from(head).unwrap_or(0);
        let frontier = match stored {
            _ if head == 0 => Some(Frontier::empty()),
            Some(bytes) => Some(Frontier::decode(head, &bytes).map_err(|error| StoreError::Corrupt {
                id: stream.to_owned(),
                reason: error.to_string(),
            })?),
            None => None,
        };
        Ok(Self {
            stream: stream.to_owned(),
            head,
            frontier,
        })
    }

    /// The frontier, or why there is none.
    pub(crate) fn frontier(&self) -> Result<&Frontier, StoreError> {
        self.frontier.as_ref().ok_or_else(|| self.refuse(ProofError::NoTree))
    }

    /// Checks that a tree of `size` leaves exists (and is kept).
    pub(crate) fn check_size(&self, size: u64) -> Result<(), StoreError> {
        self.frontier()?;
        if size > self.head {
            return Err(self.refuse(ProofError::BeyondHead { size, head: self.head }));
        }
        Ok(())
    }

    /// `error`, about this stream.
    pub(crate) fn refuse(&self, error: ProofError) -> StoreError {
        StoreError::Proof {
            stream: self.stream.clone(),
            error,
        }
    }

    /// Appends a leaf, adding the subtrees it completes at stored levels to
    /// `nodes`. A stream whose tree is not kept only moves its head.
    pub(crate) fn push(&mut self, leaf: Hash, nodes: &mut Vec<StoredNode>) {
        self.head += 1;
        if let Some(frontier) = &mut self.frontier {
            frontier.push(leaf, |node, hash| {
                nodes.push(StoredNode {
                    stream: self.stream.clone(),
                    node,
                    hash,
                });
            });
        }
    }

    /// The frontier as the head row stores it.
    pub(crate) fn encoded_frontier(&self) -> Option<Vec<u8>> {
        self.frontier.as_ref().map(Frontier::encode)
    }
}

/// A stream's tree head: its size and root hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHead {
    /// The stream (`tenant:<id>` or `global`).
    pub stream: String,
    /// How many leaves (events ever appended, purged ones included).
    pub size: u64,
    /// The RFC 9162 root hash of its first `size` leaves.
    pub root: Hash,
}

/// An event and the proof that it is leaf `leaf_index` of its stream's tree
/// of `tree_size` leaves (RFC 9162 §2.1.3).
#[derive(Debug, Clone, PartialEq)]
pub struct InclusionProof {
    /// The event as stored.
    pub event: audit_core::Event,
    /// Its leaf index: its seq − 1.
    pub leaf_index: u64,
    /// The size of the tree the proof is for.
    pub tree_size: u64,
    /// The audit path, bottom up.
    pub audit_path: Vec<Hash>,
}

impl InclusionProof {
    /// The proof with the signed checkpoint (its note) of the tree it is
    /// for: what an outsider checks with the log's verifier key alone.
    pub fn with_checkpoint(self, note: String) -> crate::EventProof {
        crate::EventProof {
            event: self.event,
            leaf_index: self.leaf_index,
            tree_size: self.tree_size,
            audit_path: self.audit_path,
            checkpoint: note,
        }
    }
}

/// A signed checkpoint as the store keeps it: a stream's tree head and the
/// signed note (C2SP `tlog-checkpoint` in a `signed-note`) that commits to
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    /// The stream (`tenant:<id>` or `global`).
    pub stream: String,
    /// The tree size it commits to.
    pub size: u64,
    /// The root hash at that size.
    pub root: Hash,
    /// The signed note, exactly as signed.
    pub note: String,
    /// When it was signed.
    pub signed_at: audit_core::Timestamp,
}

/// A row of `audit_checkpoints`.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CheckpointRow {
    stream: String,
    tree_size: i64,
    root: Vec<u8>,
    note: String,
    #[sqlx(try_from = "crate::row::StoredTime")]
    signed_at: audit_core::Timestamp,
}

/// The columns [`CheckpointRow`] reads.
pub(crate) const CHECKPOINT_COLUMNS: &str = "stream, tree_size, root, note, signed_at";

impl CheckpointRow {
    /// The checkpoint it holds.
    pub(crate) fn into_checkpoint(self) -> Result<SignedCheckpoint, StoreError> {
        let root = Hash::try_from(self.root.as_slice()).map_err(|_| StoreError::Corrupt {
            id: format!("{}@{}", self.stream, self.tree_size),
            reason: "the checkpoint's root is not 32 bytes".to_owned(),
        })?;
        Ok(SignedCheckpoint {
            stream: self.stream,
            size: u64::try_from(self.tree_size).unwrap_or(0),
            root,
            note: self.note,
            signed_at: self.signed_at,
        })
    }
}
