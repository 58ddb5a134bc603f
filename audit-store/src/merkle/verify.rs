//! Checking proofs, as RFC 9162 §2.1.3.2 and §2.1.4.2 describe: nothing but
//! hashes, sizes and the proof.

use super::{Hash, ProofError, parent};

/// Shifts `first` and `second` right until `first`'s lowest bit is set or
/// `first` is 0 (the RFC's "right-shift both equally").
fn climb(first: &mut u64, second: &mut u64) {
    while *first & 1 == 0 && *first != 0 {
        *first >>= 1;
        *second >>= 1;
    }
}

/// Checks that `leaf` is leaf `index` of the tree of `size` leaves whose
/// root is `root`, by its audit path `proof`.
///
/// # Errors
/// [`ProofError::LeafOutOfRange`] when `index >= size`;
/// [`ProofError::WrongLength`] when the proof is too long or too short for
/// the sizes; [`ProofError::Mismatch`] when the hashes lead elsewhere.
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::LeafOutOfRange { index, size });
    }
    let want = inclusion_length(index, size);
    if proof.len() != want {
        return Err(ProofError::WrongLength { got: proof.len(), want });
    }
    let (mut f, mut s) = (index, size - 1);
    let mut hash = *leaf;
    for sibling in proof {
        if f & 1 == 1 || f == s {
            hash = parent(sibling, &hash);
            if f & 1 == 0 {
                climb(&mut f, &mut s);
            }
        } else {
            hash = parent(&hash, sibling);
        }
        f >>= 1;
        s >>= 1;
    }
    if s == 0 && hash == *root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// How many hashes the audit path of `index` in `size` has.
fn inclusion_length(index: u64, size: u64) -> usize {
    // Levels where the paths to `index` and to the last leaf part, plus the
    // levels of the last leaf's own right edge above that.
    let inner = 64 - (index ^ (size - 1)).leading_zeros();
    let border = (index >> inner).count_ones();
    (inner + border) as usize
}

/// Checks that the tree of `old` leaves with root `old_root` is a prefix of
/// the tree of `new` leaves with root `new_root`, by `proof`. Equal sizes
/// need equal roots and an empty proof.
///
/// # Errors
/// [`ProofError::SizesOutOfOrder`] when `old > new`; [`ProofError::EmptyTree`]
/// when `old` is 0; [`ProofError::WrongLength`] when the
/// proof has the wrong number of
/// hashes; [`ProofError::Mismatch`] when they lead elsewhere.
pub fn verify_consistency(
    old: u64,
    new: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old > new {
        return Err(ProofError::SizesOutOfOrder { old, new });
    }
    if old == 0 {
        return Err(ProofError::EmptyTree);
    }
    if old == new {
        if !proof.is_empty() {
            return Err(ProofError::WrongLength {
                got: proof.len(),
                want: 0,
            });
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::Mismatch)
        };
    }
    let want = consistency_length(old, new);
    if proof.len() != want {
        return Err(ProofError::WrongLength { got: proof.len(), want });
    }
    // When `old` is a power of two its root is the first node of the path.
    let path: Vec<&Hash> = if old.is_power_of_two() {
        std::iter::once(old_root).chain(proof).collect()
    } else {
        proof.iter().collect()
    };
    let (mut f, mut s) = (old - 1, new - 1);
    while f & 1 == 1 {
        f >>= 1;
        s >>= 1;
    }
    let (mut old_hash, mut new_hash) = (*path[0], *path[0]);
    for hash in &path[1..] {
        if s == 0 {
            return Err(ProofError::Mismatch);
        }
        if f & 1 == 1 || f == s {
            old_hash = parent(hash, &old_hash);
            new_hash = parent(hash, &new_hash);
            if f & 1 == 0 {
                climb(&mut f, &mut s);
            }
        } else {
            new_hash = parent(&new_hash, hash);
        }
        f >>= 1;
        s >>= 1;
    }
    if s == 0 && old_hash == *old_root && new_hash == *new_root {
        Ok(())
    } else {
        Err(ProofError::Mismatch)
    }
}

/// How many hashes the consistency proof from `old` to `new` has
/// (0 < old < new).
fn consistency_length(old: u64, new: u64) -> usize {
    let shared = old.trailing_zeros();
    let (f, s) = ((old - 1) >> shared, (new - 1) >> shared);
    let inner = 64 - (f ^ s).leading_zeros();
    let border = (f >> inner).count_ones();
    // A power of two is its own first node, which the proof leaves out.
    let start = usize::from(!old.is_power_of_two());
    start + (inner + border) as usize
}
