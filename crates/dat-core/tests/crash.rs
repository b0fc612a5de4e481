//! Torn writes: replay every prefix of the writes of a batch append (each write cut at several
//! byte positions) onto the files as they were before it, and check the feed reopens at a
//! signed length, verifies, and can append again.
#![allow(clippy::unwrap_used)]

use std::io;
use std::sync::{Arc, Mutex};

use dat_core::{Feed, FeedStorage, KeyPair, MemoryFeedFiles, MemoryStorage, Slot, Storage};

type Log = Arc<Mutex<Vec<(Slot, u64, Vec<u8>)>>>;

struct Recording {
    slot: Slot,
    inner: MemoryStorage,
    log: Log,
}

impl Storage for Recording {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.log
            .lock()
            .unwrap()
            .push((self.slot, offset, data.to_vec()));
        self.inner.write_at(offset, data)
    }
    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }
    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn recording(files: &MemoryFeedFiles, log: &Log) -> FeedStorage {
    FeedStorage::from_fn(|slot| {
        Box::new(Recording {
            slot,
            inner: files.slot(slot).clone(),
            log: log.clone(),
        })
    })
}

fn blk(i: u64) -> Vec<u8> {
    vec![(i % 251) as u8; (i % 7) as usize]
}

fn crash_points(base_len: u64, batch: u64, cuts_per_write: usize) -> usize {
    let files = MemoryFeedFiles::new();
    let log: Log = Arc::default();
    let mut feed = Feed::create(recording(&files, &log), KeyPair::from_seed(&[3; 32])).unwrap();
    let base: Vec<Vec<u8>> = (0..base_len).map(blk).collect();
    feed.append_batch(base.iter().map(|b| b.as_slice()))
        .unwrap();
    let before = files.snapshot();
    log.lock().unwrap().clear();
    let more: Vec<Vec<u8>> = (base_len..base_len + batch).map(blk).collect();
    feed.append_batch(more.iter().map(|b| b.as_slice()))
        .unwrap();
    let ops = log.lock().unwrap().clone();
    let slots: Vec<Slot> = ops.iter().map(|o| o.0).collect();
    // The write order of the module docs.
    let rank = |s: &Slot| match s {
        Slot::Data => 0,
        Slot::Tree => 1,
        Slot::Signatures => 2,
        Slot::Bitfield => 3,
        _ => 4,
    };
    assert!(
        slots.windows(2).all(|w| rank(&w[0]) <= rank(&w[1])),
        "{slots:?}"
    );
    let mut checked = 0;
    for (j, (slot, offset, bytes)) in ops.iter().enumerate() {
        let mut cuts: Vec<usize> = (0..cuts_per_write)
            .map(|k| k * bytes.len() / cuts_per_write)
            .collect();
        cuts.push(bytes.len());
        for cut in cuts {
            let state = before.snapshot();
            for (s, o, b) in &ops[..j] {
                let mut m = state.slot(*s).clone();
                m.write_at(*o, b).unwrap();
            }
            let mut m = state.slot(*slot).clone();
            m.write_at(*offset, &bytes[..cut]).unwrap();
            let complete = j == ops.len() - 1 && cut == bytes.len();
            let mut feed = Feed::open(FeedStorage::from_memory(&state))
                .unwrap_or_else(|e| panic!("op {j} ({slot}) cut {cut}: {e}"));
            let len = feed.len();
            assert!(
                len == base_len || len == base_len + batch,
                "op {j} cut {cut}: length {len}"
            );
            if complete {
                assert_eq!(len, base_len + batch);
            }
            if *slot != Slot::Bitfield {
                assert_eq!(len, base_len, "op {j} on {slot} must not commit");
            }
            let report = feed.verify_all().unwrap();
            assert!(report.is_ok(), "op {j} cut {cut}: {report:?}");
            let next = feed.append(b"after crash").unwrap();
            assert_eq!(next, len);
            let feed = Feed::open(FeedStorage::from_memory(&state)).unwrap();
            assert_eq!(feed.len(), len + 1);
            assert_eq!(feed.get(len).unwrap(), b"after crash");
            assert_eq!(feed.recovery(), None);
            assert!(feed.verify_all().unwrap().is_ok());
            checked += 1;
        }
    }
    checked
}

#[test]
fn torn_small_batch() {
    assert!(crash_points(5, 6, 8) > 40);
}

#[test]
fn torn_batch_across_bitfield_pages() {
    // 8000 + 400 blocks cross the 8192-block page boundary: two bitfield pages per commit.
    assert!(crash_points(8000, 400, 24) > 100);
}

#[test]
fn torn_first_batch() {
    assert!(crash_points(0, 3, 6) > 20);
}
