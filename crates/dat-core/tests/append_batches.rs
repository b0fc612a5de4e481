//! Batched appends write the same bytes as appending one block at a time: the tree, data and
//! bitfield files are identical, and each batch's signature is the one-at-a-time signature of
//! the batch's last length (the other entries of the batch blank). Checked for random feed
//! lengths and random batch shapes, including a reopen between batches.
#![allow(clippy::unwrap_used)]

use dat_core::{Feed, FeedStorage, KeyPair, MemoryFeedFiles, Slot};
use proptest::prelude::*;

fn block(i: u64, big_every: u64) -> Vec<u8> {
    let len = if big_every > 0 && i % big_every == big_every - 1 {
        20_000 + (i % 5) as usize
    } else {
        ((i * 37) % 1500) as usize
    };
    (0..len).map(|k| (i as usize * 31 + k) as u8).collect()
}

fn create(files: &MemoryFeedFiles) -> Feed {
    Feed::create(
        FeedStorage::from_memory(files),
        KeyPair::from_seed(&[7; 32]),
    )
    .unwrap()
}

fn check(prefix: u64, batches: &[u64], reopen_after: usize, big_every: u64) {
    check_with(prefix, batches, reopen_after, &|i| block(i, big_every));
}

fn check_with(prefix: u64, batches: &[u64], reopen_after: usize, block: &dyn Fn(u64) -> Vec<u8>) {
    let single_files = MemoryFeedFiles::new();
    let mut single = create(&single_files);
    let batch_files = MemoryFeedFiles::new();
    let mut batched = create(&batch_files);
    let mut ends = Vec::new();
    let mut at = 0u64;
    let shape = std::iter::once(prefix).chain(batches.iter().copied());
    for (b, n) in shape.enumerate() {
        let blocks: Vec<Vec<u8>> = (at..at + n).map(block).collect();
        for blk in &blocks {
            single.append(blk).unwrap();
        }
        let range = batched
            .append_batch(blocks.iter().map(|v| v.as_slice()))
            .unwrap();
        assert_eq!(range, at..at + n);
        at += n;
        if n > 0 {
            ends.push(at - 1);
        }
        if b == reopen_after {
            drop(batched);
            batched = Feed::open(FeedStorage::from_memory(&batch_files)).unwrap();
        }
    }
    assert_eq!(batched.len(), at);
    assert_eq!(batched.byte_len(), single.byte_len());
    assert_eq!(batched.root_hash().unwrap(), single.root_hash().unwrap());
    for slot in [Slot::Tree, Slot::Data, Slot::Bitfield] {
        assert!(
            batch_files.slot(slot).to_vec() == single_files.slot(slot).to_vec(),
            "{slot} differs: prefix {prefix} batches {batches:?}"
        );
    }
    let sigs = batch_files.slot(Slot::Signatures).to_vec();
    let single_sigs = single_files.slot(Slot::Signatures).to_vec();
    assert_eq!(sigs.len(), single_sigs.len());
    for i in 0..at as usize {
        let entry = &sigs[32 + 64 * i..32 + 64 * (i + 1)];
        if ends.contains(&(i as u64)) {
            assert_eq!(
                entry,
                &single_sigs[32 + 64 * i..32 + 64 * (i + 1)],
                "entry {i}"
            );
        } else {
            assert!(entry.iter().all(|&b| b == 0), "entry {i} not blank");
        }
    }
}

#[test]
fn batch_shapes_at_subtree_and_page_edges() {
    check(0, &[256, 256, 1, 255, 512], 1, 0);
    check(1, &[8191, 1, 8192, 3], 9, 0);
    check(8190, &[5, 8200], 0, 0);
    check(3, &[13, 64, 1000], 1, 7);
}

/// Batches large enough for the helper thread in the shapes the benchmarks use, whole
/// aligned hashing units (the tree then grows from the units' tops): 1 KiB blocks (16-block
/// units) and 64 KiB blocks (4-block units, hashed in the 4-lane kernel), with batches that
/// are not whole units between them.
#[test]
fn batches_in_whole_units_write_the_bytes_of_single_appends() {
    let sized = |size: usize| {
        move |i: u64| -> Vec<u8> { (0..size).map(|k| (i as usize * 13 + k) as u8).collect() }
    };
    check_with(
        0,
        &[256, 256, 256, 32, 48, 5, 256, 11, 256, 512, 16],
        3,
        &sized(1024),
    );
    check_with(0, &[16, 16, 8, 3, 16, 1, 4, 12], 4, &sized(65536));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]
    #[test]
    fn batches_write_the_bytes_of_single_appends(
        prefix in 0u64..2000,
        batches in proptest::collection::vec(0u64..700, 1..5),
        reopen_after in 0usize..6,
        big_every in prop_oneof![Just(0u64), 5u64..50],
    ) {
        check(prefix, &batches, reopen_after, big_every);
    }
}

type Log = std::sync::Arc<std::sync::Mutex<Vec<Slot>>>;

/// Records the slot of every write, and fails the next data write when asked to.
struct Recording {
    slot: Slot,
    inner: dat_core::MemoryStorage,
    log: Log,
    fail_data: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl dat_core::Storage for Recording {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.inner.read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        use std::sync::atomic::Ordering;
        if self.slot == Slot::Data && self.fail_data.swap(false, Ordering::SeqCst) {
            return Err(std::io::Error::other("disk full"));
        }
        self.log.lock().unwrap().push(self.slot);
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

/// Batches large enough for the helper thread: files written in the documented order (data,
/// tree, signatures, bitfield), and a failed data write leaves a feed that appends again.
#[test]
fn helper_keeps_write_order_and_survives_a_failed_write() {
    let files = MemoryFeedFiles::new();
    let log = Log::default();
    let fail = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let storage = FeedStorage::from_fn(|slot| {
        Box::new(Recording {
            slot,
            inner: files.slot(slot).clone(),
            log: log.clone(),
            fail_data: fail.clone(),
        })
    });
    let mut feed = Feed::create(storage, KeyPair::from_seed(&[7; 32])).unwrap();
    let reference_files = MemoryFeedFiles::new();
    let mut reference = create(&reference_files);
    let rank = |s: &Slot| match s {
        Slot::Data => 0,
        Slot::Tree => 1,
        Slot::Signatures => 2,
        Slot::Bitfield => 3,
        _ => 4,
    };
    let mut at = 0u64;
    for (round, n) in [300u64, 64, 1000, 257, 5000].into_iter().enumerate() {
        let blocks: Vec<Vec<u8>> = (at..at + n).map(|i| block(i, 0)).collect();
        if round == 2 {
            fail.store(true, std::sync::atomic::Ordering::SeqCst);
            let err = feed
                .append_batch(blocks.iter().map(|v| v.as_slice()))
                .unwrap_err();
            assert!(err.to_string().contains("disk full"), "{err}");
            assert_eq!(feed.len(), at);
        }
        log.lock().unwrap().clear();
        feed.append_batch(blocks.iter().map(|v| v.as_slice()))
            .unwrap();
        reference
            .append_batch(blocks.iter().map(|v| v.as_slice()))
            .unwrap();
        let slots = log.lock().unwrap().clone();
        assert!(
            slots.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
            "{slots:?}"
        );
        at += n;
    }
    assert_eq!(feed.root_hash().unwrap(), reference.root_hash().unwrap());
    for slot in [Slot::Tree, Slot::Data, Slot::Bitfield, Slot::Signatures] {
        assert!(
            files.slot(slot).to_vec() == reference_files.slot(slot).to_vec(),
            "{slot}"
        );
    }
    for i in [0, 299, 1364, at - 1] {
        assert_eq!(feed.get(i).unwrap(), block(i, 0));
    }
}

/// The helper thread's channels and lent storages keep a feed movable across threads.
#[test]
fn feed_stays_send() {
    fn send<T: Send>(_: &T) {}
    let files = MemoryFeedFiles::new();
    let mut feed = create(&files);
    let blocks: Vec<Vec<u8>> = (0..300).map(|i| block(i, 0)).collect();
    feed.append_batch(blocks.iter().map(|v| v.as_slice()))
        .unwrap();
    send(&feed);
    let moved = std::thread::spawn(move || {
        feed.append_batch(blocks.iter().map(|v| v.as_slice()))
            .unwrap();
        feed.len()
    });
    assert_eq!(moved.join().unwrap(), 600);
}
