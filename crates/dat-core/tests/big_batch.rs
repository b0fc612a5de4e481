//! One append_batch far larger than a chunk: 2^17 and 2^20 one-byte blocks in one call.
#![allow(clippy::unwrap_used)]

use dat_core::{Feed, FeedStorage, KeyPair};

#[test]
fn one_batch_of_a_million_tiny_blocks() {
    for n in [1u64 << 17, 1 << 20] {
        let mut feed = Feed::create(FeedStorage::memory(), KeyPair::from_seed(&[7; 32])).unwrap();
        let blocks: Vec<[u8; 1]> = (0..n).map(|i| [i as u8]).collect();
        let range = feed
            .append_batch(blocks.iter().map(|b| b.as_slice()))
            .unwrap_or_else(|e| panic!("{n} blocks: {e}"));
        assert_eq!(range, 0..n);
        assert_eq!(feed.len(), n);
        assert_eq!(feed.get(n - 1).unwrap(), vec![(n - 1) as u8]);
        assert!(feed.verify_all().unwrap().problems.is_empty());
    }
}
