//! Proofs and `put`: spec examples, random lengths and indexes, sparse order, hostile proofs.
#![allow(clippy::unwrap_used)]

use dat_core::{
    Feed, FeedError, FeedStorage, KeyPair, MemoryFeedFiles, Proof, RemoteTree, Slot, VerifyError,
};
use proptest::prelude::*;

fn block(i: u64) -> Vec<u8> {
    format!("block {i} ").repeat((i % 5) as usize).into_bytes()
}

fn writer(len: u64) -> Feed {
    let mut feed = Feed::create(FeedStorage::memory(), KeyPair::from_seed(&[7; 32])).unwrap();
    let blocks: Vec<Vec<u8>> = (0..len).map(block).collect();
    feed.append_batch(blocks.iter().map(|b| b.as_slice()))
        .unwrap();
    feed
}

fn reader(writer: &Feed) -> Feed {
    Feed::open_or_create_reader(FeedStorage::memory().without_secret_key(), *writer.key()).unwrap()
}

fn transfer(from: &Feed, to: &mut Feed, i: u64) {
    let proof = from
        .proof(i, to.digest(i), false, &mut RemoteTree::new())
        .unwrap();
    to.put(i, Some(&from.get(i).unwrap()), &proof).unwrap();
    assert!(to.has(i));
    assert_eq!(to.get(i).unwrap(), block(i));
}

fn indexes(p: &Proof) -> Vec<u64> {
    p.nodes.iter().map(|n| n.index).collect()
}

#[test]
fn spec_proof_examples() {
    let w8 = writer(8);
    let p = w8.proof(0, 0, false, &mut RemoteTree::new()).unwrap();
    assert_eq!(indexes(&p), vec![2, 5, 11]);
    assert_eq!(p.signature, w8.signature(7).unwrap());
    let w5 = writer(5);
    let p = w5.proof(4, 0, false, &mut RemoteTree::new()).unwrap();
    assert_eq!(indexes(&p), vec![3]);
    assert!(p.signature.is_some());
    let p = w5.proof(1, 0, false, &mut RemoteTree::new()).unwrap();
    assert_eq!(indexes(&p), vec![0, 5, 8]);
    let w4 = writer(4);
    let p = w4.proof(2, 5, false, &mut RemoteTree::new()).unwrap();
    assert_eq!(indexes(&p), vec![6]);
    assert_eq!(p.signature, None);
    let p = w4.proof(2, 0, false, &mut RemoteTree::new()).unwrap();
    assert_eq!(indexes(&p), vec![6, 1]);
    assert!(p.signature.is_some());
    let p = w8.proof(3, 0, true, &mut RemoteTree::new()).unwrap();
    assert_eq!(indexes(&p), vec![6, 4, 1, 11]);
}

#[test]
fn spec_digest_examples() {
    let w = writer(4);
    let mut r = reader(&w);
    assert_eq!(r.digest(0), 0);
    transfer(&w, &mut r, 0);
    // The reader now holds nodes {0,1,2,3,5}.
    for n in [0, 1, 2, 3, 5] {
        assert!(r.has_node(n), "node {n}");
    }
    assert_eq!(r.digest(1), 1);
    assert_eq!(r.digest(2), 5);
    assert_eq!(r.digest(3), 5);
    // With digest 5 the writer sends only node 6 and no signature; it verifies.
    let p = w
        .proof(2, r.digest(2), false, &mut RemoteTree::new())
        .unwrap();
    assert_eq!(indexes(&p), vec![6]);
    r.put(2, Some(&w.get(2).unwrap()), &p).unwrap();
    assert_eq!(r.len(), 4);
}

#[test]
fn sparse_reverse_order_and_hash_only() {
    let w = writer(37);
    let mut r = reader(&w);
    for i in (0..37).rev().step_by(3) {
        transfer(&w, &mut r, i);
    }
    assert_eq!(r.len(), 37);
    assert_eq!(r.downloaded(0..37), 13);
    // Hash-only request: learns the leaf, stores no block.
    let p = w
        .proof(5, r.digest(5), true, &mut RemoteTree::new())
        .unwrap();
    r.put(5, None, &p).unwrap();
    assert!(!r.has(5));
    assert!(r.has_node(10));
    assert_eq!(r.block_size(5).unwrap(), block(5).len() as u64);
    for i in 0..37 {
        if !r.has(i) {
            transfer(&w, &mut r, i);
        }
    }
    let report = r.verify_all().unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(r.root_hash().unwrap(), w.root_hash().unwrap());
}

#[test]
fn reader_follows_a_growing_writer() {
    let mut w = writer(3);
    let mut r = reader(&w);
    transfer(&w, &mut r, 1);
    w.append(b"block 3 block 3 block 3 ").unwrap();
    w.append_batch([&block(4)[..], &block(5)[..]]).unwrap();
    transfer(&w, &mut r, 5);
    assert_eq!(r.len(), 6);
    transfer(&w, &mut r, 0);
    transfer(&w, &mut r, 4);
    assert!(r.verify_all().unwrap().is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn any_proof_verifies_in_a_fresh_reader(len in 1u64..300, pick in any::<u64>()) {
        let w = writer(len);
        let i = pick % len;
        let mut r = reader(&w);
        transfer(&w, &mut r, i);
        prop_assert_eq!(r.len(), len);
        // And a second block with the digest of what the reader has now.
        let j = (pick / 7) % len;
        if !r.has(j) {
            transfer(&w, &mut r, j);
        }
        prop_assert!(r.verify_all().unwrap().is_ok());
    }
}

fn expect_verify(result: Result<(), FeedError>) -> VerifyError {
    match result {
        Err(FeedError::Verify(e)) => e,
        other => panic!("expected a verify error, got {other:?}"),
    }
}

#[test]
fn hostile_proofs_are_refused_and_store_nothing() {
    let w = writer(8);
    let mut r = reader(&w);
    let good = w.proof(0, 0, false, &mut RemoteTree::new()).unwrap();
    let data = w.get(0).unwrap();

    let mut bad = good.clone();
    bad.nodes[1].hash.0[0] ^= 1;
    assert_eq!(
        expect_verify(r.put(0, Some(&data), &bad)),
        VerifyError::BadSignature { length: 8 }
    );
    let mut bad = good.clone();
    bad.signature.as_mut().unwrap().0[10] ^= 1;
    assert_eq!(
        expect_verify(r.put(0, Some(&data), &bad)),
        VerifyError::BadSignature { length: 8 }
    );
    let mut bad = good.clone();
    bad.signature = None;
    assert!(matches!(
        expect_verify(r.put(0, Some(&data), &bad)),
        VerifyError::ChecksumFailed
    ));
    let mut bad = good.clone();
    bad.nodes.truncate(2);
    assert!(matches!(
        expect_verify(r.put(0, Some(&data), &bad)),
        VerifyError::BadSignature { .. } | VerifyError::MissingNodes { .. }
    ));
    let mut bad = good.clone();
    bad.nodes = vec![good.nodes[0]; 300];
    assert_eq!(
        expect_verify(r.put(0, Some(&data), &bad)),
        VerifyError::TooManyNodes {
            count: 300,
            max: 256
        }
    );
    assert!(matches!(
        r.put(1 << 53, Some(&data), &good),
        Err(FeedError::IndexTooLarge { .. })
    ));
    assert_eq!(
        expect_verify(r.put(0, Some(b"tampered"), &good)),
        VerifyError::BadSignature { length: 8 }
    );
    let mut bad = good.clone();
    bad.nodes[2].index = u64::MAX;
    assert!(matches!(
        expect_verify(r.put(0, Some(&data), &bad)),
        VerifyError::NodeOutOfRange { .. }
    ));
    assert!(matches!(
        expect_verify(r.put(0, None, &good)),
        VerifyError::WrongLeaf { index: 0 }
    ));
    // Nothing was stored by any of these.
    assert_eq!(r.len(), 0);
    assert!(!r.has(0));
    assert!((0..16).all(|n| !r.has_node(n)));
    // Once block 0 is in, a wrong block 1 contradicts the trusted leaf 2.
    r.put(0, Some(&data), &good).unwrap();
    let p1 = w
        .proof(1, r.digest(1), false, &mut RemoteTree::new())
        .unwrap();
    assert_eq!(
        expect_verify(r.put(1, Some(b"evil"), &p1)),
        VerifyError::HashMismatch { index: 2 }
    );
    assert!(!r.has(1));
    // A proof for a block the responder lacks is NotFound.
    assert!(matches!(
        w.proof(8, 0, false, &mut RemoteTree::new()),
        Err(FeedError::NotFound { index: 8 })
    ));
}

fn memory_reader(files: &MemoryFeedFiles, writer: &Feed) -> Feed {
    let storage = FeedStorage::from_memory(files).without_secret_key();
    Feed::open_or_create_reader(storage, *writer.key()).unwrap()
}

/// Blocks hashed together (`hash_blocks`, past the two-thread size) and put without their
/// bitfield (`put_hashed`) leave the same bytes as single `put`s once `flush_puts` ran, and the
/// bitfield, the commit point, is written only then: a reader reopened before has none of them.
#[test]
fn hashed_run_equals_single_puts_and_commits_with_the_bitfield() {
    let len = 24u64;
    let big = |i: u64| vec![i as u8; 70_000 + 1_000 * i as usize];
    let mut w = Feed::create(FeedStorage::memory(), KeyPair::from_seed(&[9; 32])).unwrap();
    let blocks: Vec<Vec<u8>> = (0..len).map(big).collect();
    w.append_batch(blocks.iter().map(|b| b.as_slice())).unwrap();

    let single_files = MemoryFeedFiles::new();
    let mut single = memory_reader(&single_files, &w);
    for i in 0..len {
        let proof = w
            .proof(i, single.digest(i), false, &mut RemoteTree::new())
            .unwrap();
        single.put(i, Some(&blocks[i as usize]), &proof).unwrap();
    }

    let files = MemoryFeedFiles::new();
    let mut run = memory_reader(&files, &w);
    let refs: Vec<&[u8]> = blocks.iter().map(|b| b.as_slice()).collect();
    let hashed = Feed::hash_blocks(&refs);
    assert_eq!(hashed.len(), refs.len());
    for i in 0..len {
        let proof = w
            .proof(i, run.digest(i), false, &mut RemoteTree::new())
            .unwrap();
        let h = hashed[i as usize];
        assert!(std::ptr::eq(h.value(), refs[i as usize]));
        run.put_hashed(i, Some(h), &proof).unwrap();
        assert!(run.has(i));
    }
    let before = memory_reader(&files.snapshot(), &w);
    assert_eq!(
        before.downloaded(0..len),
        0,
        "nothing counts before the bitfield"
    );
    run.flush_puts().unwrap();
    for slot in Slot::ALL {
        assert!(
            files.slot(slot).to_vec() == single_files.slot(slot).to_vec(),
            "{slot:?} differs"
        );
    }
    let after = memory_reader(&files.snapshot(), &w);
    assert_eq!(after.downloaded(0..len), len);
    assert_eq!(after.get(5).unwrap(), blocks[5]);
}

/// A block hashed as part of a run that fails verification is refused and stores nothing.
#[test]
fn hashed_block_of_the_wrong_index_is_refused() {
    let w = writer(8);
    let files = MemoryFeedFiles::new();
    let mut r = memory_reader(&files, &w);
    let values: Vec<Vec<u8>> = (0..8).map(|i| w.get(i).unwrap()).collect();
    let refs: Vec<&[u8]> = values.iter().map(|v| v.as_slice()).collect();
    let hashed = Feed::hash_blocks(&refs);
    let proof = w
        .proof(3, r.digest(3), false, &mut RemoteTree::new())
        .unwrap();
    expect_verify(r.put_hashed(3, Some(hashed[4]), &proof));
    r.flush_puts().unwrap();
    assert!(!r.has(3));
    assert!(files.slot(Slot::Data).to_vec().is_empty());
}

/// Proofs to one peer reuse the signature read for the previous proof when they end at the
/// same length; the signature is always the one a fresh proof carries, as the feed grows too.
#[test]
fn proofs_to_one_peer_carry_the_right_signature() {
    let mut w = writer(5);
    let mut remote = RemoteTree::new();
    for round in 0..4u64 {
        let len = w.len();
        for i in (0..len).rev().chain(0..len) {
            let reused = w.proof(i, 0, false, &mut remote).unwrap();
            let fresh = w.proof(i, 0, false, &mut RemoteTree::new()).unwrap();
            assert_eq!(reused.signature, fresh.signature, "round {round} block {i}");
        }
        let more: Vec<Vec<u8>> = (len..len + 3 + round).map(block).collect();
        w.append_batch(more.iter().map(|b| b.as_slice())).unwrap();
    }
}

/// Counts writes (and reads) of one slot.
struct Counting {
    inner: dat_core::MemoryStorage,
    writes: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    reads: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl dat_core::Storage for Counting {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.reads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.writes
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.write_at(offset, data)
    }
    fn len(&self) -> std::io::Result<u64> {
        self.inner.len()
    }
    fn truncate(&mut self, len: u64) -> std::io::Result<()> {
        self.inner.truncate(len)
    }
    fn sync_data(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A reader filled block by block ends with the writer's tree file byte for byte, written
/// with fewer writes than nodes (a block's consecutive nodes go in one write).
#[test]
fn put_writes_consecutive_nodes_at_once() {
    let len = 64u64;
    let files = MemoryFeedFiles::new();
    let mut w = Feed::create(
        FeedStorage::from_memory(&files),
        KeyPair::from_seed(&[7; 32]),
    )
    .unwrap();
    let blocks: Vec<Vec<u8>> = (0..len).map(block).collect();
    w.append_batch(blocks.iter().map(|b| b.as_slice())).unwrap();
    let tree = dat_core::MemoryStorage::new();
    let writes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counting = Counting {
        inner: tree.clone(),
        writes: writes.clone(),
        reads: Default::default(),
    };
    let storage = FeedStorage::memory()
        .without_secret_key()
        .with_slot(Slot::Tree, Box::new(counting));
    let mut r = Feed::open_or_create_reader(storage, *w.key()).unwrap();
    let before = writes.load(std::sync::atomic::Ordering::Relaxed);
    for i in 0..len {
        transfer(&w, &mut r, i);
    }
    let tree_writes = writes.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert_eq!(tree.to_vec(), files.slot(Slot::Tree).to_vec());
    // 2 * len - 1 nodes, each written once; one write per node would be 127 (87 here).
    let nodes = (2 * len - 1) as usize;
    assert!(
        tree_writes < nodes * 3 / 4,
        "{tree_writes} tree writes for {nodes} nodes"
    );
}

/// Serving a peer that downloads in order reads the tree a window of nodes at a time (not
/// a record per node), and every proof still verifies.
#[test]
fn proofs_for_an_ordered_download_read_the_tree_ahead() {
    let len = 256u64;
    let files = MemoryFeedFiles::new();
    let mut w = Feed::create(
        FeedStorage::from_memory(&files),
        KeyPair::from_seed(&[7; 32]),
    )
    .unwrap();
    let blocks: Vec<Vec<u8>> = (0..len).map(block).collect();
    w.append_batch(blocks.iter().map(|b| b.as_slice())).unwrap();
    drop(w);
    let reads = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counting = Counting {
        inner: files.slot(Slot::Tree).clone(),
        writes: Default::default(),
        reads: reads.clone(),
    };
    let storage = FeedStorage::from_memory(&files).with_slot(Slot::Tree, Box::new(counting));
    let w = Feed::open(storage).unwrap();
    let mut r = reader(&w);
    let mut remote = RemoteTree::new();
    let before = reads.load(std::sync::atomic::Ordering::Relaxed);
    for i in 0..len {
        let proof = w.proof(i, r.digest(i), false, &mut remote).unwrap();
        r.put(i, Some(&w.get(i).unwrap()), &proof).unwrap();
    }
    let tree_reads = reads.load(std::sync::atomic::Ordering::Relaxed) - before;
    assert_eq!(r.len(), len);
    assert!(r.verify_all().unwrap().is_ok());
    // Read one record at a time this is 510 reads (77 with the read-ahead).
    assert!(
        tree_reads < (len / 2) as usize,
        "{tree_reads} tree reads for {len} blocks"
    );
}
