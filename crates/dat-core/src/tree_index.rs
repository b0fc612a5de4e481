//! JS `TreeIndex` over a set of tree-node bits: upward closure, `verifiedBy`, the length
//! derivation of DAT-SPEC §3.7, the request digest (§4.7) and the proof node selection (§4.8).
//!
//! Every loop here is bounded by the 64 levels of a `u64` flat tree, so hostile digests and
//! indexes cannot make it spin.

use crate::bitfield::Bitfield;
use crate::flat_tree;

/// Levels a flat tree over `u64` can have; every upward walk stops here.
const MAX_LEVELS: usize = 64;

/// A set of flat-tree node indexes with JS `TreeIndex` set semantics.
pub trait TreeBits {
    /// Whether node `n` is in the set.
    fn get(&self, n: u64) -> bool;
    /// Insert one node without closure; whether it was new.
    fn set_bit(&mut self, n: u64) -> bool;
    /// The bit length of the underlying bitfield (JS `bitfield.length`).
    fn len_bits(&self) -> u64;

    /// JS `TreeIndex.set`: insert `n`, then each parent whose two children are present.
    fn set(&mut self, mut n: u64) -> bool {
        if !self.set_bit(n) {
            return false;
        }
        for _ in 0..MAX_LEVELS {
            if !self.get(flat_tree::sibling(n)) {
                break;
            }
            n = flat_tree::parent(n);
            if !self.set_bit(n) {
                break;
            }
        }
        true
    }
}

impl TreeBits for Bitfield {
    fn get(&self, n: u64) -> bool {
        self.get_tree(n)
    }
    fn set_bit(&mut self, n: u64) -> bool {
        self.set_tree_bit(n, true)
    }
    fn len_bits(&self) -> u64 {
        self.tree_len_bits()
    }
}

/// JS `TreeIndex.verifiedBy`: climb from `index` while the parent and sibling are known, then
/// descend along the right edge of what is known; returns the flat index one past the last
/// leaf covered (`2 * length`), or 0 if `index` is unknown.
pub fn verified_by<T: TreeBits + ?Sized>(tree: &T, index: u64) -> u64 {
    if !tree.get(index) {
        return 0;
    }
    let mut top = index;
    for _ in 0..MAX_LEVELS {
        let parent = flat_tree::parent(top);
        if parent == top || !tree.get(parent) || !tree.get(flat_tree::sibling(top)) {
            break;
        }
        top = parent;
    }
    let mut depth = flat_tree::depth(top);
    while depth > 0 {
        let right = flat_tree::index(depth, flat_tree::offset(top).saturating_add(1));
        top = flat_tree::left_child(right).unwrap_or(right);
        depth -= 1;
        while !tree.get(top) && depth > 0 {
            top = flat_tree::left_child(top).unwrap_or(top);
            depth -= 1;
        }
    }
    if tree.get(top) {
        top.saturating_add(2)
    } else {
        top
    }
}

/// JS `TreeIndex.blocks`: the feed length the tree bits imply (DAT-SPEC §3.7).
pub fn blocks<T: TreeBits + ?Sized>(tree: &T) -> u64 {
    let max = tree.len_bits();
    let mut top = 0;
    let mut next = 0u64;
    for _ in 0..MAX_LEVELS {
        if flat_tree::right_span(next) >= max {
            break;
        }
        next = flat_tree::parent(next);
        if tree.get(next) {
            top = next;
        }
    }
    if tree.get(top) {
        verified_by(tree, top) / 2
    } else {
        0
    }
}

/// JS `TreeIndex.digest(index)`: which proof nodes a requester already has (DAT-SPEC §4.7).
pub fn digest<T: TreeBits + ?Sized>(tree: &T, index: u64) -> u64 {
    if tree.get(index) {
        return 1;
    }
    let mut digest = 0u64;
    let mut next = flat_tree::sibling(index);
    let max = next.saturating_add(2).max(tree.len_bits());
    let mut bit = 2u64;
    let mut parent = flat_tree::parent(next);
    for _ in 0..MAX_LEVELS - 3 {
        if !(flat_tree::right_span(next) < max || flat_tree::left_span(parent) > 0) {
            break;
        }
        if tree.get(next) {
            digest += bit;
        }
        if tree.get(parent) {
            digest += 2 * bit;
            if digest & 1 == 0 {
                digest += 1;
            }
            if digest + 1 == 4 * bit {
                return 1;
            }
            return digest;
        }
        next = flat_tree::sibling(parent);
        parent = flat_tree::parent(next);
        bit *= 2;
    }
    digest
}

/// Which nodes a proof carries: node indexes in wire order and the `verifiedBy` that says
/// whether (and for which length) a signature must be attached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProofNodes {
    /// Node indexes, in the order JS sends them.
    pub nodes: Vec<u64>,
    /// `2 * signed length` when the proof ends at the roots (signature needed), else 0.
    pub verified_by: u64,
}

/// JS `TreeIndex.proof(index, {digest, hash, tree: remote})` (DAT-SPEC §4.8). `None` if the
/// local tree lacks `index`.
pub fn proof<L, R>(
    local: &L,
    index: u64,
    digest: u64,
    hash: bool,
    remote: &mut R,
) -> Option<ProofNodes>
where
    L: TreeBits + ?Sized,
    R: TreeBits + ?Sized,
{
    if !local.get(index) {
        return None;
    }
    let mut nodes = Vec::new();
    if hash {
        nodes.push(index);
    }
    if digest == 1 {
        return Some(ProofNodes {
            nodes,
            verified_by: 0,
        });
    }
    replay_digest(local, index, digest, remote);
    let mut next = index;
    for _ in 0..MAX_LEVELS {
        if remote.get(next) {
            break;
        }
        let sibling = flat_tree::sibling(next);
        if !local.get(sibling) {
            let verified_by = verified_by(local, next);
            for root in flat_tree::full_roots(verified_by) {
                if root != next && !remote.get(root) {
                    nodes.push(root);
                }
            }
            return Some(ProofNodes { nodes, verified_by });
        }
        if !remote.get(sibling) {
            nodes.push(sibling);
        }
        next = flat_tree::parent(next);
    }
    Some(ProofNodes {
        nodes,
        verified_by: 0,
    })
}

/// Mark in `remote` what a received digest says the peer has.
fn replay_digest<L, R>(local: &L, index: u64, digest: u64, remote: &mut R)
where
    L: TreeBits + ?Sized,
    R: TreeBits + ?Sized,
{
    let has_root = digest & 1 == 1;
    let mut d = digest >> 1;
    let mut next = index;
    while d != 0 {
        if d == 1 && has_root {
            if local.get(next) {
                remote.set(next);
            }
            let sibling = flat_tree::sibling(next);
            if sibling < next {
                next = sibling;
            }
            let span = flat_tree::right_span(next).saturating_add(2);
            for root in flat_tree::full_roots(span) {
                if local.get(root) {
                    remote.set(root);
                }
            }
            break;
        }
        let sibling = flat_tree::sibling(next);
        if d & 1 == 1 && local.get(sibling) {
            remote.set(sibling);
        }
        next = flat_tree::parent(next);
        d >>= 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[derive(Default)]
    struct Set(BTreeSet<u64>, u64);
    impl TreeBits for Set {
        fn get(&self, n: u64) -> bool {
            self.0.contains(&n)
        }
        fn set_bit(&mut self, n: u64) -> bool {
            self.1 = self.1.max((n / 8 + 1) * 8);
            self.0.insert(n)
        }
        fn len_bits(&self) -> u64 {
            self.1
        }
    }

    fn writer(len: u64) -> Set {
        let mut s = Set::default();
        for i in 0..len {
            s.set(2 * i);
        }
        s
    }

    #[test]
    fn blocks_of_writer_trees() {
        for len in 0..70 {
            assert_eq!(blocks(&writer(len)), len, "len {len}");
        }
    }

    #[test]
    fn spec_digest_examples() {
        let mut s = Set::default();
        for n in [0, 1, 2, 3, 5] {
            s.set_bit(n);
        }
        s.1 = 8;
        assert_eq!(digest(&s, 2), 1);
        assert_eq!(digest(&s, 4), 5);
        assert_eq!(digest(&s, 6), 5);
        assert_eq!(digest(&Set::default(), 0), 0);
    }

    #[test]
    fn spec_proof_examples() {
        let p = |len: u64, block: u64, digest: u64, hash: bool| {
            proof(&writer(len), 2 * block, digest, hash, &mut Set::default()).unwrap()
        };
        assert_eq!(p(8, 0, 0, false).nodes, vec![2, 5, 11]);
        assert_eq!(p(8, 0, 0, false).verified_by, 16);
        assert_eq!(p(5, 4, 0, false).nodes, vec![3]);
        assert_eq!(p(5, 4, 0, false).verified_by, 10);
        assert_eq!(p(5, 1, 0, false).nodes, vec![0, 5, 8]);
        assert_eq!(p(4, 2, 5, false).nodes, vec![6]);
        assert_eq!(p(4, 2, 5, false).verified_by, 0);
        assert_eq!(p(4, 2, 0, false).nodes, vec![6, 1]);
        assert_eq!(p(4, 2, 0, false).verified_by, 8);
        assert_eq!(p(8, 3, 0, true).nodes, vec![6, 4, 1, 11]);
        assert!(proof(&writer(2), 4, 0, false, &mut Set::default()).is_none());
    }
}
