//! Fuzz entry points for the feed's decoders (the fuzz crate wraps them): arbitrary bytes must
//! never panic.

use crate::sleep::{FileType, Header};
use crate::storage::{FeedStorage, MemoryStorage, Slot, Storage};

/// SLEEP header decoding: never panics; accepted headers re-encode to the same header.
pub fn sleep_header(data: &[u8]) {
    for t in [FileType::Tree, FileType::Signatures, FileType::Bitfield] {
        if let Ok(h) = Header::decode_for(data, t) {
            assert_eq!(Header::decode_for(&h.encode(), t).ok(), Some(h));
        }
    }
}

/// A feed whose tree, bitfield and signatures files are split from `data`: opening, verifying,
/// reading and proving never panic.
pub fn feed_files(data: &[u8]) {
    let third = data.len() / 3;
    let (tree, rest) = data.split_at(third);
    let (bitfield, signatures) = rest.split_at(third);
    let storage = FeedStorage::memory()
        .without_secret_key()
        .with_slot(Slot::Key, Box::new(MemoryStorage::from_bytes(vec![1; 32])))
        .with_slot(
            Slot::Tree,
            Box::new(MemoryStorage::from_bytes(tree.to_vec())),
        )
        .with_slot(
            Slot::Bitfield,
            Box::new(MemoryStorage::from_bytes(bitfield.to_vec())),
        )
        .with_slot(
            Slot::Signatures,
            Box::new(MemoryStorage::from_bytes(signatures.to_vec())),
        );
    let _ = MemoryStorage::new().len();
    if let Ok(feed) = crate::feed::Feed::open(storage) {
        let _ = feed.verify_all();
        for i in 0..feed.len().min(8) {
            let _ = feed.get(i);
            let _ = feed.proof(i, 0, true, &mut crate::proof::RemoteTree::new());
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn entry_points_accept_anything() {
        super::sleep_header(&[5, 2, 87, 2, 0, 0, 40, 7]);
        super::sleep_header(&crate::sleep::Header::new(crate::sleep::FileType::Tree).encode());
        for n in [0usize, 31, 200, 4000] {
            super::feed_files(&vec![0xa5; n]);
        }
    }
}
