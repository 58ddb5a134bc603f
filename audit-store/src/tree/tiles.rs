//! Which stored hashes a proof reads, and the hashes it needs computed
//! from them.
//!
//! A node at a stored level ([`is_stored_level`]) is read as it is; any
//! other is folded from the stored nodes (or leaves) below it at the
//! nearest stored level down, its **base**. Those lie in one tile: the
//! 16 consecutive base-level nodes under one node of the next stored
//! level. Proofs read whole tiles, so the O(log n) nodes of a proof cost
//! one range per stored level it spans (5 for a stream of a million
//! events), however many nodes each tile serves.

use std::collections::{BTreeSet, HashMap};

use super::frontier::TILE_HEIGHT;
use crate::merkle::{self, Hash, Node};

/// One read of stored hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Read {
    /// The leaf hashes of leaves `[from, to)`: the events of seqs
    /// `from + 1 ..= to`.
    Leaves {
        /// First leaf index.
        from: u64,
        /// One past the last.
        to: u64,
    },
    /// The node table's nodes of `level`, indexes `[from, to)`.
    Nodes {
        /// Their level.
        level: u8,
        /// First index.
        from: u64,
        /// One past the last.
        to: u64,
    },
}

/// The level `node` is folded from.
fn base_of(node: Node) -> u8 {
    node.level - node.level % TILE_HEIGHT
}

/// The tile of base-level nodes under `node`: `(base, first, end)` with
/// `end` clipped to the base-level nodes complete in a tree of `size`.
fn tile_of(node: Node, size: u64) -> (u8, u64, u64) {
    let base = base_of(node);
    let first_under = node.index << (node.level - base);
    let tile = 1u64 << TILE_HEIGHT;
    let first = first_under / tile * tile;
    (base, first, (first + tile).min(size >> base))
}

/// The reads that give the hashes of `nodes`, perfect subtrees of a tree of
/// `size` leaves, on a stream nothing was purged from.
pub(crate) fn reads(nodes: &[Node], size: u64) -> BTreeSet<Read> {
    nodes
        .iter()
        .map(|&node| match tile_of(node, size) {
            (0, from, to) => Read::Leaves { from, to },
            (level, from, to) => Read::Nodes { level, from, to },
        })
        .collect()
}

/// The reads of what a purge kept of the tiles under `nodes`: it stores
/// the perfect subtrees of the removed leaves that later proofs need
/// (their compact range), at whatever level they are.
pub(crate) fn purged_reads(nodes: &[Node], size: u64) -> BTreeSet<Read> {
    let mut reads = BTreeSet::new();
    for &node in nodes {
        let (base, first, end) = tile_of(node, size);
        for up in 0..TILE_HEIGHT {
            let level = base + up;
            reads.insert(Read::Nodes {
                level,
                from: first >> up,
                to: end >> up,
            });
        }
    }
    reads
}

/// Hashes read from the store, and the nodes folded from them.
#[derive(Debug, Default)]
pub(crate) struct Hashes {
    known: HashMap<Node, Hash>,
}

impl Hashes {
    /// Records a hash read from the store.
    pub(crate) fn insert(&mut self, node: Node, hash: Hash) {
        self.known.insert(node, hash);
    }

    /// The hash of `node`: read, or folded from its children.
    pub(crate) fn resolve(&mut self, node: Node) -> Option<Hash> {
        if let Some(hash) = self.known.get(&node) {
            return Some(*hash);
        }
        if node.level == 0 {
            return None;
        }
        let left = Node {
            level: node.level - 1,
            index: node.index * 2,
        };
        let right = Node {
            index: left.index + 1,
            ..left
        };
        let hash = merkle::parent(&self.resolve(left)?, &self.resolve(right)?);
        self.known.insert(node, hash);
        Some(hash)
    }

    /// The nodes of `nodes` that cannot be resolved from what was read.
    pub(crate) fn unresolved(&mut self, nodes: &[Node]) -> Vec<Node> {
        nodes
            .iter()
            .copied()
            .filter(|&node| self.resolve(node).is_none())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u32) -> Vec<Hash> {
        (0..n).map(|i| merkle::leaf(&i.to_be_bytes())).collect()
    }

    /// What a store of `leaves` holds: the leaves, and the nodes at stored
    /// levels.
    fn serve(leaves: &[Hash], read: Read, hashes: &mut Hashes) {
        match read {
            Read::Leaves { from, to } => {
                for index in from..to {
                    hashes.insert(Node { level: 0, index }, leaves[index as usize]);
                }
            }
            Read::Nodes { level, from, to } => {
                for index in from..to {
                    let node = Node { level, index };
                    if super::super::frontier::is_stored_level(level) {
                        hashes.insert(node, merkle::node_of(leaves, node));
                    }
                }
            }
        }
    }

    #[test]
    fn proofs_over_tiles_match_proofs_over_the_leaves() {
        let leaves = leaves(70_000);
        let size = leaves.len() as u64;
        for index in [0, 1, 255, 256, 300, 65_535, 65_536, 69_999] {
            let nodes = merkle::inclusion_nodes(index, size);
            let reads = reads(&nodes, size);
            // A tile per stored level beside the leaf, and as many along the
            // tree's ragged right edge.
            let levels = (64 - size.leading_zeros()).div_ceil(u32::from(TILE_HEIGHT));
            assert!(reads.len() <= 2 * levels as usize, "{reads:?}");
            let mut hashes = Hashes::default();
            for read in reads {
                serve(&leaves, read, &mut hashes);
            }
            assert_eq!(hashes.unresolved(&nodes), vec![]);
            let proof = merkle::inclusion_proof(index, size, |node| hashes.resolve(node).unwrap()).unwrap();
            let expected = merkle::inclusion_proof(index, size, |node| merkle::node_of(&leaves, node)).unwrap();
            assert_eq!(proof, expected, "leaf {index}");
        }
        for (old, new) in [(1, size), (255, 257), (256, 70_000), (65_537, 69_999)] {
            let nodes = merkle::consistency_nodes(old, new);
            let mut hashes = Hashes::default();
            for read in reads(&nodes, new) {
                serve(&leaves, read, &mut hashes);
            }
            assert_eq!(hashes.unresolved(&nodes), vec![], "{old}..{new}");
        }
    }

    #[test]
    fn a_tile_is_clipped_to_the_complete_nodes() {
        let node = Node { level: 3, index: 1 };
        assert_eq!(reads(&[node], 20), BTreeSet::from([Read::Leaves { from: 0, to: 16 }]));
        let node = Node { level: 2, index: 4 };
        assert_eq!(reads(&[node], 20), BTreeSet::from([Read::Leaves { from: 16, to: 20 }]));
        let node = Node { level: 9, index: 0 };
        assert_eq!(
            reads(&[node], 1_000),
            BTreeSet::from([Read::Nodes {
                level: 8,
                from: 0,
                to: 3
            }])
        );
    }
}
