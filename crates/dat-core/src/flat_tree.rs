//! Flat-tree index math: a binary Merkle tree laid out in-order in one array.
//!
//! Leaves (blocks) sit at even indexes `2 * block`, parents at odd indexes; a node's depth is the
//! number of trailing one bits of its index. This is the numbering of the `tree` SLEEP file and of
//! every node index on the wire (DAT-SPEC §2.1).
//!
//! Every function here is total over `u64`: indexes come from disk and from peers, so nothing
//! may overflow or panic. Indexes beyond 2^62 saturate; no real feed (JS is exact to 2^53) gets
//! near them, and callers bound indexes by the feed length before doing anything with the result.

/// Flat-tree index of the node at `depth` and `offset` (the offset counts nodes of that depth).
pub fn index(depth: u32, offset: u64) -> u64 {
    if depth >= 63 {
        return u64::MAX;
    }
    offset
        .saturating_mul(2)
        .saturating_add(1)
        .saturating_mul(1u64 << depth)
        .saturating_sub(1)
}

/// Depth of a node: 0 for leaves, the number of trailing one bits otherwise.
pub fn depth(i: u64) -> u32 {
    i.trailing_ones()
}

/// Offset of a node among the nodes of its depth.
pub fn offset(i: u64) -> u64 {
    let d = depth(i);
    if d >= 63 {
        return 0;
    }
    // Equal to ((i + 1) >> d) >> 1, without the overflow at u64::MAX.
    i >> (d + 1)
}

/// Parent of a node.
pub fn parent(i: u64) -> u64 {
    let d = depth(i);
    index(d + 1, offset(i) >> 1)
}

/// The other child of this node's parent.
pub fn sibling(i: u64) -> u64 {
    index(depth(i), offset(i) ^ 1)
}

/// The sibling of the parent.
pub fn uncle(i: u64) -> u64 {
    sibling(parent(i))
}

/// Both children of a node, `None` for a leaf.
pub fn children(i: u64) -> Option<(u64, u64)> {
    let d = depth(i);
    if d == 0 {
        return None;
    }
    let o = offset(i).saturating_mul(2);
    Some((index(d - 1, o), index(d - 1, o.saturating_add(1))))
}

/// Left child of a node, `None` for a leaf.
pub fn left_child(i: u64) -> Option<u64> {
    children(i).map(|c| c.0)
}

/// Right child of a node, `None` for a leaf.
pub fn right_child(i: u64) -> Option<u64> {
    children(i).map(|c| c.1)
}

/// Leftmost leaf (flat index) under a node.
pub fn left_span(i: u64) -> u64 {
    let d = depth(i);
    if d == 0 {
        return i;
    }
    offset(i).saturating_mul(1u64 << (d + 1).min(63))
}

/// Rightmost leaf (flat index) under a node.
pub fn right_span(i: u64) -> u64 {
    let d = depth(i);
    if d == 0 {
        return i;
    }
    offset(i)
        .saturating_add(1)
        .saturating_mul(1u64 << (d + 1).min(63))
        .saturating_sub(2)
}

/// Leftmost and rightmost leaves under a node.
pub fn spans(i: u64) -> (u64, u64) {
    (left_span(i), right_span(i))
}

/// Number of nodes in the subtree rooted at `i`.
pub fn count(i: u64) -> u64 {
    let d = depth(i);
    if d >= 63 {
        return u64::MAX;
    }
    (2u64 << d) - 1
}

/// Number of leaves (blocks) under a node.
pub fn leaves(i: u64) -> u64 {
    let d = depth(i);
    if d >= 63 {
        return u64::MAX;
    }
    1u64 << d
}

/// Whether the node is the left child of its parent.
pub fn is_left(i: u64) -> bool {
    offset(i) & 1 == 0
}

/// The roots of a tree whose leaves end just before flat index `i` (`i = 2 * length`), in
/// ascending order. An odd `i` is rounded down, so hostile input cannot make this fail.
pub fn full_roots(i: u64) -> Vec<u64> {
    let mut roots = Vec::with_capacity(64);
    full_roots_into(i, &mut roots);
    roots
}

/// [`full_roots`] into a reusable buffer (cleared first).
pub fn full_roots_into(i: u64, roots: &mut Vec<u64>) {
    roots.clear();
    let mut blocks = i >> 1;
    let mut offset = 0u64;
    while blocks > 0 {
        let factor = 1u64 << (63 - blocks.leading_zeros());
        roots.push(offset + factor - 1);
        offset += 2 * factor;
        blocks -= factor;
    }
}

/// Flat index of the leaf for a block.
pub fn leaf(block: u64) -> u64 {
    block.saturating_mul(2)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn examples_from_the_spec() {
        assert_eq!(parent(0), 1);
        assert_eq!(parent(2), 1);
        assert_eq!(parent(1), 3);
        assert_eq!(parent(5), 3);
        assert_eq!(sibling(1), 5);
        assert_eq!(sibling(3), 11);
        assert_eq!(parent(3), 7);
        assert_eq!(children(3), Some((1, 5)));
        assert_eq!(children(0), None);
        assert_eq!(spans(3), (0, 6));
        assert_eq!(spans(23), (16, 30));
        assert_eq!(count(7), 15);
        assert_eq!(offset(9), 2);
        assert_eq!(depth(7), 3);
        assert_eq!(index(2, 1), 11);
    }

    #[test]
    fn full_roots_examples() {
        assert_eq!(full_roots(0), Vec::<u64>::new());
        assert_eq!(full_roots(2), vec![0]);
        assert_eq!(full_roots(4), vec![1]);
        assert_eq!(full_roots(6), vec![1, 4]);
        assert_eq!(full_roots(10), vec![3, 8]);
        assert_eq!(full_roots(12), vec![3, 9]);
        assert_eq!(full_roots(16), vec![7]);
        assert_eq!(full_roots(7), vec![1, 4]);
    }

    #[test]
    fn hostile_extremes_do_not_panic() {
        for i in [u64::MAX, u64::MAX - 1, 1 << 63, (1 << 63) - 1, 1 << 62] {
            let _ = (
                parent(i),
                sibling(i),
                children(i),
                spans(i),
                count(i),
                offset(i),
            );
            let _ = full_roots(i);
        }
    }

    proptest! {
        #[test]
        fn children_of_parent_contain_node(i in 0u64..(1 << 50)) {
            let (l, r) = children(parent(i)).unwrap();
            prop_assert!(l == i || r == i);
            prop_assert_eq!(sibling(i), if l == i { r } else { l });
            prop_assert_eq!(sibling(sibling(i)), i);
            prop_assert_eq!(is_left(i), l == i);
        }

        #[test]
        fn index_depth_offset_round_trip(d in 0u32..40, o in 0u64..(1 << 20)) {
            let i = index(d, o);
            prop_assert_eq!(depth(i), d);
            prop_assert_eq!(offset(i), o);
        }

        #[test]
        fn spans_cover_leaves(i in 0u64..(1 << 40)) {
            let (l, r) = spans(i);
            prop_assert!(l <= i && i <= r);
            prop_assert_eq!(l % 2, 0);
            prop_assert_eq!((r - l) / 2 + 1, leaves(i));
            prop_assert_eq!(r - l + 1, count(i));
        }

        #[test]
        fn full_roots_partition_the_leaves(len in 0u64..(1 << 30)) {
            let roots = full_roots(2 * len);
            let mut next = 0;
            for &r in &roots {
                let (l, rs) = spans(r);
                prop_assert_eq!(l, next);
                next = rs + 2;
            }
            prop_assert_eq!(next, 2 * len);
            prop_assert!(roots.windows(2).all(|w| w[0] < w[1] && depth(w[0]) > depth(w[1])));
        }
    }
}
