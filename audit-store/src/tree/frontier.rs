//! The frontier of a stream's tree, kept on its head row: what the next
//! append needs to hash its leaves into the tree, and all its root needs.

use crate::merkle::{self, Hash, Node};

/// Perfect subtrees at these levels are stored as they complete: one row
/// per 16 leaves at level 4, one per 256 at level 8, and so on. Any other
/// node is at most 15 stored children away (a tile, in C2SP tlog-tiles'
/// words, 16 hashes wide here rather than its 256): a proof reads
/// O(log n) tiles of at most 16 rows each, and appending costs a node row
/// per 15 events. Narrow tiles keep a proof's reads small: a 256-wide leaf
/// tile is 256 event rows read at random, most of a proof's time.
pub(crate) const TILE_HEIGHT: u8 = 4;

/// Whether a perfect subtree at `level` is stored as it completes.
pub(crate) fn is_stored_level(level: u8) -> bool {
    level > 0 && level.is_multiple_of(TILE_HEIGHT)
}

/// A stream's tree as far as appends need it: its size and the hashes of
/// its largest perfect subtrees, left to right (one per set bit of the
/// size, as [`merkle::frontier`] lists them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Frontier {
    size: u64,
    hashes: Vec<Hash>,
}

/// Why a stored frontier cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadFrontier {
    /// Bytes stored.
    pub(crate) bytes: usize,
    /// The tree size it was stored for.
    pub(crate) size: u64,
}

impl std::fmt::Display for BadFrontier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the tree frontier has {} bytes; a tree of {} leaves needs {}",
            self.bytes,
            self.size,
            self.size.count_ones() * 32
        )
    }
}

impl Frontier {
    /// The frontier of the empty tree.
    pub(crate) fn empty() -> Self {
        Self {
            size: 0,
            hashes: Vec::new(),
        }
    }

    /// Reads the frontier stored for a tree of `size` leaves.
    pub(crate) fn decode(size: u64, bytes: &[u8]) -> Result<Self, BadFrontier> {
        let chunks = bytes.chunks_exact(32);
        if !chunks.remainder().is_empty() || chunks.len() != size.count_ones() as usize {
            return Err(BadFrontier {
                bytes: bytes.len(),
                size,
            });
        }
        let hashes = chunks.map(|chunk| chunk.try_into().unwrap_or([0; 32])).collect();
        Ok(Self { size, hashes })
    }

    /// The frontier of a tree of `size` leaves from the hashes of its
    /// largest perfect subtrees, in [`merkle::frontier`] order.
    pub(crate) fn from_hashes(size: u64, hashes: Vec<Hash>) -> Result<Self, BadFrontier> {
        if hashes.len() != size.count_ones() as usize {
            return Err(BadFrontier {
                bytes: hashes.len() * 32,
                size,
            });
        }
        Ok(Self { size, hashes })
    }

    /// How many leaves the tree has.
    pub(crate) fn size(&self) -> u64 {
        self.size
    }

    /// The bytes stored on the head row.
    pub(crate) fn encode(&self) -> Vec<u8> {
        self.hashes.concat()
    }

    /// The hashes of its largest perfect subtrees, left to right.
    #[cfg(test)]
    pub(crate) fn hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// Appends a leaf; hands `stored` each perfect subtree it completes at a
    /// stored level ([`is_stored_level`]).
    pub(crate) fn push(&mut self, leaf: Hash, mut stored: impl FnMut(Node, Hash)) {
        let mut hash = leaf;
        let mut level = 0u8;
        // Each set low bit of the size is a subtree of that level waiting
        // for a right sibling: the new leaf completes them bottom up.
        while self.size >> level & 1 == 1 {
            let left = self.hashes.pop().unwrap_or([0; 32]);
            hash = merkle::parent(&left, &hash);
            level += 1;
            if is_stored_level(level) {
                stored(
                    Node {
                        level,
                        index: self.size >> level,
                    },
                    hash,
                );
            }
        }
        self.hashes.push(hash);
        self.size += 1;
    }

    /// The tree's root.
    pub(crate) fn root(&self) -> Hash {
        let mut hashes = self.hashes.iter().rev();
        let last = hashes.next().copied().unwrap_or_else(merkle::empty_root);
        hashes.fold(last, |right, left| merkle::parent(left, &right))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u8) -> Vec<Hash> {
        (0..n).map(|i| merkle::leaf(&[i])).collect()
    }

    #[test]
    fn root_and_frontier_match_the_tree_at_every_size() {
        let leaves = leaves(70);
        let mut frontier = Frontier::empty();
        assert_eq!(frontier.root(), merkle::empty_root());
        for (i, leaf) in leaves.iter().enumerate() {
            frontier.push(*leaf, |_, _| {});
            let size = i as u64 + 1;
            assert_eq!(frontier.root(), merkle::root(&leaves[..=i]), "size {size}");
            let expected: Vec<Hash> = merkle::frontier(size)
                .into_iter()
                .map(|node| merkle::node_of(&leaves, node))
                .collect();
            assert_eq!(frontier.hashes(), expected.as_slice());
            assert_eq!(Frontier::decode(size, &frontier.encode()), Ok(frontier.clone()));
        }
    }

    #[test]
    fn stores_exactly_the_completed_subtrees_at_stored_levels() {
        let leaves: Vec<Hash> = (0..600u32).map(|i| merkle::leaf(&i.to_be_bytes())).collect();
        let mut frontier = Frontier::empty();
        let mut stored = Vec::new();
        for leaf in &leaves {
            frontier.push(*leaf, |node, hash| stored.push((node, hash)));
        }
        // Each perfect subtree at a stored level, as the leaf that
        // completes it arrives (lower levels first).
        let mut expected = Vec::new();
        for size in 1..=leaves.len() as u64 {
            for level in (TILE_HEIGHT..64).step_by(usize::from(TILE_HEIGHT)) {
                if size.is_multiple_of(1 << level) {
                    let node = Node {
                        level,
                        index: (size >> level) - 1,
                    };
                    expected.push((node, merkle::node_of(&leaves, node)));
                }
            }
        }
        assert_eq!(stored.len(), 600 / 16 + 600 / 256);
        assert_eq!(stored, expected);
    }

    #[test]
    fn a_frontier_of_the_wrong_length_is_refused() {
        assert_eq!(Frontier::decode(3, &[0; 32]), Err(BadFrontier { bytes: 32, size: 3 }));
        assert!(Frontier::decode(3, &[0; 64]).is_ok());
        assert!(Frontier::decode(0, &[0; 1]).is_err());
    }
}
