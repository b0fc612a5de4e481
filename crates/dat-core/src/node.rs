//! A Merkle tree node, as the `tree` file stores it and as Data messages carry it.

use crate::crypto::Hash;

/// Bytes of one `tree` file record: the hash, then the size as `u64be`.
pub const NODE_RECORD_LEN: usize = 40;

/// One node of a feed's Merkle tree: a leaf (one block) or a parent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Node {
    /// Flat-tree index (`2 * block` for a leaf).
    pub index: u64,
    /// BLAKE2b-256 of the leaf or parent preimage.
    pub hash: Hash,
    /// Bytes of data under this node.
    pub size: u64,
}

impl Node {
    /// The 40-byte `tree` record: `hash || u64be(size)`.
    pub fn to_record(&self) -> [u8; NODE_RECORD_LEN] {
        let mut out = [0u8; NODE_RECORD_LEN];
        out[..32].copy_from_slice(&self.hash.0);
        out[32..].copy_from_slice(&self.size.to_be_bytes());
        out
    }

    /// Parse a 40-byte record; `None` for the all-zero hole JS treats as "no node".
    pub fn from_record(index: u64, record: &[u8; NODE_RECORD_LEN]) -> Option<Self> {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(&record[..32]);
        let mut size = [0u8; 8];
        size.copy_from_slice(&record[32..]);
        let size = u64::from_be_bytes(size);
        if size == 0 && hash == [0u8; 32] {
            return None;
        }
        Some(Self {
            index,
            hash: Hash(hash),
            size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_round_trip_and_holes() {
        let node = Node {
            index: 6,
            hash: Hash([3; 32]),
            size: 65536,
        };
        assert_eq!(Node::from_record(6, &node.to_record()), Some(node));
        assert_eq!(Node::from_record(6, &[0; NODE_RECORD_LEN]), None);
    }
}
