//! What a Data message proves: the tree nodes and signature that let a reader verify a block
//! (DAT-SPEC §4.8), and the per-peer record of nodes a peer is known to have.

use std::collections::HashMap;

use crate::crypto::{Hash, Signature};
use crate::node::Node;
use crate::tree_index::TreeBits;

/// A Merkle proof for one block: the nodes in JS wire order (siblings bottom-up, then the
/// extra roots ascending) and the signature of the length they prove, if any.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Proof {
    /// The block the proof is for.
    pub index: u64,
    /// The tree nodes, in the order JS sends them.
    pub nodes: Vec<Node>,
    /// The signature at entry `verified_by / 2 - 1`, when the proof ends at the roots.
    pub signature: Option<Signature>,
}

/// A block and its leaf hash, computed together with other blocks by
/// [`Feed::hash_blocks`](crate::Feed::hash_blocks), for
/// [`Feed::put_hashed`](crate::Feed::put_hashed). Only `hash_blocks` makes one, so the hash is
/// always the block's own.
#[derive(Clone, Copy, Debug)]
pub struct HashedBlock<'a> {
    pub(crate) value: &'a [u8],
    pub(crate) leaf: Hash,
}

impl<'a> HashedBlock<'a> {
    /// The block's bytes.
    pub fn value(&self) -> &'a [u8] {
        self.value
    }
}

const WORDS: usize = 32;
const PAGE_BITS: u64 = 64 * WORDS as u64;

/// The set of tree nodes a peer is known to have (JS `remoteTree`), learned only from the
/// digests it sends. Sparse: memory grows with the distinct 2048-node ranges touched.
#[derive(Clone, Debug, Default)]
pub struct RemoteTree {
    pages: HashMap<u64, [u64; WORDS]>,
    len_bits: u64,
    /// The signature entry last read for a proof to this peer (an entry never changes once
    /// written): consecutive proofs usually end at the same length, and reading it again
    /// would cost a file read per block.
    pub(crate) last_signature: Option<(u64, Signature)>,
    /// Tree nodes last read ahead for a proof to this peer (see `Feed::proof`).
    pub(crate) read_ahead: std::ops::Range<u64>,
}

impl RemoteTree {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of 2048-node pages held (a bound on memory use).
    pub fn pages(&self) -> usize {
        self.pages.len()
    }
}

impl TreeBits for RemoteTree {
    fn get(&self, n: u64) -> bool {
        let Some(page) = self.pages.get(&(n / PAGE_BITS)) else {
            return false;
        };
        let bit = n % PAGE_BITS;
        page[(bit / 64) as usize] & (1 << (bit % 64)) != 0
    }

    fn set_bit(&mut self, n: u64) -> bool {
        let page = self.pages.entry(n / PAGE_BITS).or_insert([0; WORDS]);
        let bit = n % PAGE_BITS;
        let word = &mut page[(bit / 64) as usize];
        let mask = 1 << (bit % 64);
        if *word & mask != 0 {
            return false;
        }
        *word |= mask;
        self.len_bits = self
            .len_bits
            .max((n / 8).saturating_add(1).saturating_mul(8));
        true
    }

    fn len_bits(&self) -> u64 {
        self.len_bits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_tree_closure() {
        let mut r = RemoteTree::new();
        assert!(r.set(0));
        assert!(!r.get(1));
        assert!(r.set(2));
        assert!(r.get(1));
        assert!(!r.set(2));
        assert!(r.set(1 << 50));
        assert!(r.get(1 << 50));
        assert_eq!(r.pages(), 2);
    }
}
