//! Entry points for fuzz targets: each feeds arbitrary bytes to one decoder and checks what
//! must hold for any input (no panic; accepted input re-encodes to something that decodes
//! to the same value).

use crate::index_header::IndexHeader;
use crate::node::{Entry, Node};
use crate::paths::Paths;
use crate::stat::Stat;

/// `Stat`: never panics; accepted stats round-trip.
pub fn stat(data: &[u8]) {
    if let Ok(st) = Stat::decode(data) {
        assert_eq!(Stat::decode(&st.encode()), Ok(st));
    }
}

/// `Index` header: never panics; accepted headers round-trip.
pub fn index_header(data: &[u8]) {
    if let Ok(h) = IndexHeader::decode(data) {
        assert_eq!(IndexHeader::decode(&h.encode()), Ok(h));
    }
}

/// `Node` message: never panics; accepted nodes round-trip.
pub fn node(data: &[u8]) {
    if let Ok(n) = Node::decode(data) {
        assert_eq!(Node::decode(&n.encode()), Ok(n));
    }
}

/// `paths` index: the first 8 bytes are the entry's sequence, the rest the index. Never
/// panics; accepted indexes re-encode to bytes that decode to the same levels.
pub fn paths(data: &[u8]) {
    let (seq, bytes) = split_seq(data);
    if let Ok(p) = Paths::decode(seq, bytes) {
        assert_eq!(Paths::decode(seq, &p.encode(seq)), Ok(p));
    }
}

/// A whole metadata entry at a sequence (first 8 bytes): never panics; accepted entries
/// round-trip through [`Entry::encode`].
pub fn entry(data: &[u8]) {
    let (seq, bytes) = split_seq(data);
    if let Ok(e) = Entry::decode(seq, bytes) {
        assert_eq!(Entry::decode(seq, &e.encode()), Ok(e));
    }
}

fn split_seq(data: &[u8]) -> (u64, &[u8]) {
    let mut seq = [0u8; 8];
    let n = data.len().min(8);
    seq[..n].copy_from_slice(&data[..n]);
    (u64::from_le_bytes(seq), &data[n..])
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
            super::stat(&bytes);
            super::index_header(&bytes);
            super::node(&bytes);
            super::paths(&bytes);
            super::entry(&bytes);
        }

        #[test]
        fn paths_round_trip(levels in proptest::collection::vec(proptest::collection::btree_set(1u64..1000, 0..6), 0..5), seq in 1000u64..2000) {
            let mut levels: Vec<Vec<u64>> = levels.into_iter().map(|l| l.into_iter().collect()).collect();
            for l in &mut levels {
                l.push(seq);
            }
            let p = crate::paths::Paths { levels };
            prop_assert_eq!(crate::paths::Paths::decode(seq, &p.encode(seq)), Ok(p));
        }
    }
}
