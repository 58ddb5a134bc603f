//! The Merkle tree of a stream, as RFC 9162 §2.1 defines it: SHA-256, leaves
//! hashed as `SHA-256(0x00 ‖ bytes)` (the [`leaf_hash`](crate::leaf_hash) the
//! store already keeps per event), inner nodes as `SHA-256(0x01 ‖ left ‖
//! right)`, the leaves in seq order.
//!
//! This module knows no database. Proofs are built from **perfect
//! subtrees**: a [`Node`] covers `2^level` leaves starting at a multiple of
//! that size, so its hash never changes once its last leaf is written. Every
//! hash a proof needs is either such a node or a fold of at most
//! `log2(size)` of them, so a store that keeps perfect subtrees answers a
//! proof in O(log n) reads: [`inclusion_nodes`] and [`consistency_nodes`]
//! list exactly which, and [`inclusion_proof`] and [`consistency_proof`]
//! assemble the proof from them.
//!
//! Verification ([`verify_inclusion`], [`verify_consistency`]) follows RFC
//! 9162 §2.1.3.2 and §2.1.4.2 and needs nothing but the proof, the sizes and
//! the hashes: it is what an outsider runs. It is written here rather than
//! taken from `ct-merkle`, whose proofs come from a tree held in memory with
//! every leaf; the proof code is checked against the test vectors of
//! transparency-dev/merkle (`tests/vectors/tlog-proofs.json`) and by
//! property tests.
//!
//! ```
//! use audit_store::merkle::{self, Hash};
//!
//! let leaves: Vec<Hash> = (0u8..5).map(|i| merkle::leaf(&[i])).collect();
//! let root = merkle::root(&leaves);
//! let proof = merkle::inclusion_proof(3, 5, |node| merkle::node_of(&leaves, node))?;
//! merkle::verify_inclusion(&leaves[3], 3, 5, &proof, &root)?;
//! let old_root = merkle::root(&leaves[..2]);
//! let proof = merkle::consistency_proof(2, 5, |node| merkle::node_of(&leaves, node))?;
//! merkle::verify_consistency(2, 5, &old_root, &root, &proof)?;
//! # Ok::<(), merkle::ProofError>(())
//! ```

mod verify;

use sha2::{Digest, Sha256};

pub use verify::{verify_consistency, verify_inclusion};

/// A SHA-256 hash: a leaf, an inner node or a root.
pub type Hash = [u8; 32];

/// The root of the empty tree: `SHA-256("")`.
pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// A leaf's hash: `SHA-256(0x00 ‖ bytes)`.
pub fn leaf(bytes: &[u8]) -> Hash {
    Sha256::new().chain_update([0x00]).chain_update(bytes).finalize().into()
}

/// An inner node's hash: `SHA-256(0x01 ‖ left ‖ right)`.
pub fn parent(left: &Hash, right: &Hash) -> Hash {
    Sha256::new()
        .chain_update([0x01])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// A perfect subtree: the `2^level` leaves from `index << level`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node {
    /// Its height: 0 for a leaf.
    pub level: u8,
    /// Its position among the nodes of its level, from 0.
    pub index: u64,
}

impl Node {
    /// The first leaf it covers.
    pub fn first_leaf(self) -> u64 {
        self.index << self.level
    }

    /// How many leaves it covers.
    pub fn leaves(self) -> u64 {
        1 << self.level
    }
}

/// Why a proof cannot be built or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProofError {
    /// The leaf index is not below the tree size.
    #[error("leaf {index} is not in a tree of {size} leaves")]
    LeafOutOfRange {
        /// The leaf asked for.
        index: u64,
        /// The tree's size.
        size: u64,
    },
    /// The older size is larger than the newer one.
    #[error("a tree of {old} leaves cannot be older than one of {new}")]
    SizesOutOfOrder {
        /// The older tree's size.
        old: u64,
        /// The newer tree's size.
        new: u64,
    },
    /// Consistency from the empty tree proves nothing: every tree has it.
    #[error("a tree of 0 leaves proves nothing about another")]
    EmptyTree,
    /// The proof has the wrong number of hashes for these sizes.
    #[error("the proof has {got} hashes; these sizes need {want}")]
    WrongLength {
        /// Hashes in the proof.
        got: usize,
        /// Hashes the sizes call for.
        want: usize,
    },
    /// The hashes do not lead to the root (or roots) given.
    #[error("the proof does not lead to the given root")]
    Mismatch,
    /// A tree size past the stream's head: that tree does not exist yet.
    #[error("a tree of {size} leaves does not exist yet: the stream has {head}")]
    BeyondHead {
        /// The size asked for.
        size: u64,
        /// The stream's size now.
        head: u64,
    },
    /// The stream's tree is not kept: it was purged before the store kept
    /// trees, so the leaves the tree needs are gone.
    #[error("the stream's tree is not kept: it was purged before this store kept Merkle trees")]
    NoTree,
    /// No kept signed checkpoint covers the event: none is signed yet, the
    /// newest is older than the event, or none is kept at the size asked for.
    #[error("{}", not_checkpointed(*.seq, *.size))]
    NotCheckpointed {
        /// The event's seq.
        seq: u64,
        /// The checkpoint size asked for; `None` for the newest.
        size: Option<u64>,
    },
}

/// The message of [`ProofError::NotCheckpointed`].
fn not_checkpointed(seq: u64, size: Option<u64>) -> String {
    match size {
        None => {
            format!("no signed checkpoint covers seq {seq} yet: run `audit checkpoint` or wait for the checkpointer")
        }
        Some(size) if size < seq => format!("the checkpoint of {size} leaves does not cover seq {seq}"),
        Some(size) => format!("no checkpoint of {size} leaves is kept"),
    }
}

/// The perfect subtrees that make up leaves `[begin, end)`, left to right:
/// greedily the largest aligned one that fits.
fn decompose(mut begin: u64, end: u64, out: &mut Vec<Node>) {
    while begin < end {
        let aligned = if begin == 0 { 63 } else { begin.trailing_zeros() };
        let fits = 63 - (end - begin).leading_zeros();
        let level = aligned.min(fits);
        out.push(Node {
            level: u8::try_from(level).unwrap_or(63),
            index: begin >> level,
        });
        begin += 1 << level;
    }
}

/// The hash of leaves `[begin, end)` as RFC 9162's MTH gives it, from the
/// perfect subtrees of the range (folded right to left).
fn range_hash(begin: u64, end: u64, node: &mut impl FnMut(Node) -> Hash) -> Hash {
    let mut parts = Vec::new();
    decompose(begin, end, &mut parts);
    let mut hashes = parts.into_iter().rev().map(&mut *node);
    let last = hashes.next().unwrap_or_else(empty_root);
    hashes.fold(last, |right, left| parent(&left, &right))
}

/// The largest power of two below `n` (`n` ≥ 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// RFC 9162 §2.1.3.1 PATH(m, D[begin:end]), hashes bottom-up.
fn path(m: u64, begin: u64, end: u64, node: &mut impl FnMut(Node) -> Hash, out: &mut Vec<Hash>) {
    if end - begin <= 1 {
        return;
    }
    let k = split(end - begin);
    if m < begin + k {
        path(m, begin, begin + k, node, out);
        out.push(range_hash(begin + k, end, node));
    } else {
        path(m, begin + k, end, node, out);
        out.push(range_hash(begin, begin + k, node));
    }
}

/// RFC 9162 §2.1.4.1 SUBPROOF(m, D[begin:end], whole).
fn subproof(m: u64, begin: u64, end: u64, whole: bool, node: &mut impl FnMut(Node) -> Hash, out: &mut Vec<Hash>) {
    let n = end - begin;
    if m == n {
        if !whole {
            out.push(range_hash(begin, end, node));
        }
        return;
    }
    let k = split(n);
    if m <= k {
        subproof(m, begin, begin + k, whole, node, out);
        out.push(range_hash(begin + k, end, node));
    } else {
        subproof(m - k, begin + k, end, false, node, out);
        out.push(range_hash(begin, begin + k, node));
    }
}

/// The inclusion proof (audit path) of leaf `index` in the tree of the
/// first `size` leaves, from the hashes of the perfect subtrees `node`
/// gives (those [`inclusion_nodes`] lists).
///
/// # Errors
/// [`ProofError::LeafOutOfRange`] when `index >= size`.
pub fn inclusion_proof(index: u64, size: u64, mut node: impl FnMut(Node) -> Hash) -> Result<Vec<Hash>, ProofError> {
    if index >= size {
        return Err(ProofError::LeafOutOfRange { index, size });
    }
    let mut proof = Vec::new();
    path(index, 0, size, &mut node, &mut proof);
    Ok(proof)
}

/// The consistency proof from the tree of the first `old` leaves to that of
/// the first `new`: empty when they are equal.
///
/// # Errors
/// [`ProofError::SizesOutOfOrder`] when `old > new`; [`ProofError::EmptyTree`]
/// when `old` is 0.
pub fn consistency_proof(old: u64, new: u64, mut node: impl FnMut(Node) -> Hash) -> Result<Vec<Hash>, ProofError> {
    if old > new {
        return Err(ProofError::SizesOutOfOrder { old, new });
    }
    if old == 0 {
        return Err(ProofError::EmptyTree);
    }
    let mut proof = Vec::new();
    if old < new {
        subproof(old, 0, new, true, &mut node, &mut proof);
    }
    Ok(proof)
}

/// The root of the tree of the first `size` leaves, from perfect subtrees.
pub fn root_of(size: u64, mut node: impl FnMut(Node) -> Hash) -> Hash {
    range_hash(0, size, &mut node)
}

/// Which perfect subtrees a proof reads: runs `build` with a recording
/// source (the choice never depends on the hashes).
fn needed(build: impl FnOnce(&mut dyn FnMut(Node) -> Hash)) -> Vec<Node> {
    let mut nodes = Vec::new();
    build(&mut |node| {
        nodes.push(node);
        [0; 32]
    });
    nodes.sort_unstable();
    nodes.dedup();
    nodes
}

/// The perfect subtrees [`inclusion_proof`] reads for `index` in `size`
/// (none when the index is out of range), at most about `2·log2(size)`.
pub fn inclusion_nodes(index: u64, size: u64) -> Vec<Node> {
    needed(|node| {
        let _ = inclusion_proof(index, size, node);
    })
}

/// The perfect subtrees [`consistency_proof`] reads from `old` to `new`.
pub fn consistency_nodes(old: u64, new: u64) -> Vec<Node> {
    needed(|node| {
        let _ = consistency_proof(old, new, node);
    })
}

/// The perfect subtrees [`root_of`] reads for `size`: one per set bit.
pub fn root_nodes(size: u64) -> Vec<Node> {
    needed(|node| {
        let _ = root_of(size, node);
    })
}

/// The hash of perfect subtree `node` of `leaves`, computed from them: the
/// source for trees held in memory (tests, offline verification of an
/// export).
///
/// # Panics
/// When `node` reaches past the end of `leaves`.
pub fn node_of(leaves: &[Hash], node: Node) -> Hash {
    let first = usize::try_from(node.first_leaf()).unwrap_or(usize::MAX);
    let count = usize::try_from(node.leaves()).unwrap_or(usize::MAX);
    root(&leaves[first..first + count])
}

/// RFC 9162's MTH over leaf hashes held in memory.
pub fn root(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => empty_root(),
        1 => leaves[0],
        n => {
            let k = usize::try_from(split(n as u64)).unwrap_or(n);
            parent(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// The perfect subtrees completed when leaf `index` is appended: the leaf
/// itself, then each parent whose right child it finishes. A store that
/// keeps perfect subtrees writes these with the leaf; their hashes come from
/// the new leaf and the frontier ([`frontier`]) before it.
pub fn completed_by(index: u64) -> impl Iterator<Item = Node> {
    let levels = index.trailing_ones();
    (0..=levels).map(move |level| Node {
        level: u8::try_from(level).unwrap_or(63),
        index: index >> level,
    })
}

/// The frontier of a tree of `size` leaves: its largest perfect subtrees,
/// left to right (one per set bit of `size`), all a new leaf can combine
/// with, and all the root needs.
pub fn frontier(size: u64) -> Vec<Node> {
    let mut nodes = Vec::new();
    decompose(0, size, &mut nodes);
    nodes
}

#[cfg(test)]
mod tests;
