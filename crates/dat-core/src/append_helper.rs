//! The second thread of an append.
//!
//! Per block, an append costs about as much to hash (BLAKE2b in SIMD lanes) as to hand to the
//! kernel (a page-cache write), and a batch ends with work that cannot be split (the parents,
//! the signature). One thread doing it all leaves the second core idle, and spawning a thread
//! per batch costs more than a small batch. So a writable feed keeps one helper thread,
//! started on its first large enough append and joined when the feed is dropped. Per chunk the
//! caller gathers the blocks into one [`Chunk`], lends the `data` storage to the helper, and
//! both threads claim hashing units from the chunk; the helper stops early (at a byte budget
//! that makes both threads finish together), then writes the chunk to `data` while the caller
//! grows the tree and signs. The caller takes the storage back before it writes the tree, so
//! the write order of [`crate::storage`] holds: data, tree, signatures, bitfield.

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::thread::JoinHandle;

use crate::crypto::Hash;
use crate::leaf_hash::{LeafScratch, hash_into};
use crate::storage::Storage;

/// Most blocks in one hashing unit: two rounds of the 4-lane kernel for small blocks.
const UNIT_BLOCKS: usize = 8;
/// A unit closes at this many bytes (four 64 KiB blocks fill the four lanes once).
const UNIT_BYTES: usize = 256 * 1024;

/// One chunk of an append: its blocks back to back (as `data` receives them), shared
/// read-only with the helper while both hash it.
#[derive(Debug)]
pub(crate) struct Chunk {
    pub(crate) data: Vec<u8>,
    /// Block `i` is `data[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<usize>,
    /// First block of each hashing unit, then the block count.
    units: Vec<usize>,
    /// The next unit to hash; both threads claim units here.
    next: AtomicUsize,
}

impl Default for Chunk {
    fn default() -> Self {
        Self {
            data: Vec::new(),
            offsets: vec![0],
            units: vec![0],
            next: AtomicUsize::new(0),
        }
    }
}

impl Chunk {
    pub(crate) fn clear(&mut self) {
        self.data.clear();
        self.offsets.truncate(1);
        self.units.truncate(1);
        *self.next.get_mut() = 0;
    }

    /// Add a block (copying it).
    pub(crate) fn push(&mut self, block: &[u8]) {
        self.data.extend_from_slice(block);
        self.offsets.push(self.data.len());
        let unit = self.units[self.units.len() - 1];
        let n = self.len();
        if n - unit >= UNIT_BLOCKS || self.data.len() - self.offsets[unit] >= UNIT_BYTES {
            self.units.push(n);
        }
    }

    /// Close the last hashing unit; call once all blocks are in.
    pub(crate) fn seal(&mut self) {
        let n = self.len();
        if self.units[self.units.len() - 1] != n {
            self.units.push(n);
        }
    }

    /// Number of blocks.
    pub(crate) fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub(crate) fn block(&self, i: usize) -> &[u8] {
        &self.data[self.offsets[i]..self.offsets[i + 1]]
    }

    /// Claim units and hash them until none are left or about `budget` bytes are hashed;
    /// `sink` gets each unit's block range and leaf hashes.
    pub(crate) fn hash_units(
        &self,
        budget: usize,
        scratch: &mut LeafScratch,
        mut sink: impl FnMut(Range<usize>, &[Hash]),
    ) {
        let units = self.units.len() - 1;
        let typical = self.data.len() / units.max(1);
        let mut spent = 0usize;
        let mut hashes = [Hash([0; 32]); UNIT_BLOCKS];
        while spent.saturating_add(typical / 2) <= budget {
            let u = self.next.fetch_add(1, Ordering::Relaxed);
            if u >= units {
                break;
            }
            let range = self.units[u]..self.units[u + 1];
            let mut blocks: [&[u8]; UNIT_BLOCKS] = [&[]; UNIT_BLOCKS];
            for (slot, i) in blocks.iter_mut().zip(range.clone()) {
                *slot = self.block(i);
            }
            let k = range.len();
            hash_into(&blocks[..k], &mut hashes[..k], scratch);
            spent += self.offsets[range.end] - self.offsets[range.start];
            sink(range, &hashes[..k]);
        }
    }
}

/// Bytes of hashing the helper should take on. The caller cannot grow the tree before every
/// leaf is hashed, so the split aims at both threads finishing hashing together, less the
/// helper's write (which overlaps the caller's tree growing and signing). Measured on x86-64
/// (AVX2, ext4): writing a byte to the page cache costs about half of hashing it; the rest of
/// the split was tuned on the bench (1 KiB blocks: about a third of the leaves go to the
/// helper).
pub(crate) fn helper_budget(bytes: usize, blocks: usize, last: bool) -> usize {
    let hash = bytes + 9 * blocks;
    let write = bytes / 2;
    let sign = if last { 30_000 } else { 0 };
    (hash + sign).saturating_sub(write) / 2
}

/// Work for the helper: hash up to `budget` bytes of `chunk`, then write it all to
/// `storage` at `offset`.
pub(crate) struct Task {
    pub(crate) chunk: Arc<Chunk>,
    pub(crate) budget: usize,
    pub(crate) storage: Box<dyn Storage>,
    pub(crate) offset: u64,
}

/// What the helper sends back, in this order for every task.
pub(crate) enum Reply {
    /// The units it hashed: block ranges and their hashes, back to back.
    Hashed {
        ranges: Vec<Range<usize>>,
        hashes: Vec<Hash>,
    },
    /// The storage it borrowed, and how the write went.
    Written {
        storage: Box<dyn Storage>,
        result: io::Result<()>,
    },
}

/// The helper thread and its two channels.
pub(crate) struct Helper {
    tasks: Option<Sender<Task>>,
    replies: Receiver<Reply>,
    thread: Option<JoinHandle<()>>,
}

impl Helper {
    /// Start the thread; `None` if the system refuses one.
    pub(crate) fn spawn() -> Option<Self> {
        let (tasks, task_rx) = channel();
        let (reply_tx, replies) = channel();
        let thread = std::thread::Builder::new()
            .name("dat-append".into())
            .stack_size(256 * 1024)
            .spawn(move || serve(task_rx, reply_tx))
            .ok()?;
        Some(Self {
            tasks: Some(tasks),
            replies,
            thread: Some(thread),
        })
    }

    /// Hand over a task; gives it back if the thread is gone.
    pub(crate) fn send(&self, task: Task) -> Result<(), Task> {
        match &self.tasks {
            Some(tasks) => tasks.send(task).map_err(|e| e.0),
            None => Err(task),
        }
    }

    /// The next reply; `None` if the thread is gone (it panicked).
    pub(crate) fn recv(&self) -> Option<Reply> {
        self.replies.recv().ok()
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        // Closing the task channel ends the thread's loop.
        self.tasks = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(tasks: Receiver<Task>, replies: Sender<Reply>) {
    let mut scratch = LeafScratch::default();
    for task in tasks {
        let Task {
            chunk,
            budget,
            mut storage,
            offset,
        } = task;
        let mut ranges = Vec::new();
        let mut hashes = Vec::new();
        chunk.hash_units(budget, &mut scratch, |range, h| {
            ranges.push(range);
            hashes.extend_from_slice(h);
        });
        if replies.send(Reply::Hashed { ranges, hashes }).is_err() {
            return;
        }
        let result = if chunk.data.is_empty() {
            Ok(())
        } else {
            storage.write_at(offset, &chunk.data)
        };
        drop(chunk);
        if replies.send(Reply::Written { storage, result }).is_err() {
            return;
        }
    }
}

/// Stands in the feed's `data` slot while the real storage is with the helper; only seen if
/// the helper died holding it.
pub(crate) struct Lent;

impl Lent {
    fn error() -> io::Error {
        io::Error::other("data storage was lost with the append helper thread")
    }
}

impl Storage for Lent {
    fn read_at(&self, _offset: u64, _buf: &mut [u8]) -> io::Result<()> {
        Err(Self::error())
    }
    fn write_at(&mut self, _offset: u64, _data: &[u8]) -> io::Result<()> {
        Err(Self::error())
    }
    fn len(&self) -> io::Result<u64> {
        Err(Self::error())
    }
    fn truncate(&mut self, _len: u64) -> io::Result<()> {
        Err(Self::error())
    }
    fn sync_data(&mut self) -> io::Result<()> {
        Err(Self::error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hash_leaf;
    use crate::storage::MemoryStorage;

    fn chunk_of(sizes: &[usize]) -> Chunk {
        let mut chunk = Chunk::default();
        for (i, &s) in sizes.iter().enumerate() {
            chunk.push(&vec![i as u8; s]);
        }
        chunk.seal();
        chunk
    }

    #[test]
    fn units_cover_every_block_once() {
        for sizes in [
            vec![],
            vec![5],
            vec![1024; 17],
            vec![65536; 9],
            vec![10, 300_000, 10, 10, 70_000, 70_000, 70_000, 70_000, 1],
        ] {
            let chunk = chunk_of(&sizes);
            let mut seen = vec![None; sizes.len()];
            chunk.hash_units(usize::MAX, &mut LeafScratch::default(), |range, h| {
                for (i, h) in range.zip(h) {
                    assert!(seen[i].is_none());
                    seen[i] = Some(*h);
                }
            });
            for (i, h) in seen.iter().enumerate() {
                assert_eq!(*h, Some(hash_leaf(chunk.block(i))), "sizes {sizes:?}");
            }
        }
    }

    #[test]
    fn helper_hashes_its_budget_then_writes() {
        let helper = Helper::spawn().unwrap_or_else(|| panic!("no thread"));
        let chunk = Arc::new(chunk_of(&[1024; 64]));
        let storage = MemoryStorage::new();
        let task = Task {
            chunk: chunk.clone(),
            budget: 20_000,
            storage: Box::new(storage.clone()),
            offset: 3,
        };
        assert!(helper.send(task).is_ok());
        let Some(Reply::Hashed { ranges, hashes }) = helper.recv() else {
            panic!("expected hashes first");
        };
        let blocks: usize = ranges.iter().map(|r| r.len()).sum();
        assert!((16..=24).contains(&blocks), "{blocks} blocks for 20 KB");
        let mut at = 0;
        for range in ranges {
            for i in range {
                assert_eq!(hashes[at], hash_leaf(chunk.block(i)));
                at += 1;
            }
        }
        let Some(Reply::Written { result, .. }) = helper.recv() else {
            panic!("expected the write");
        };
        assert!(result.is_ok());
        assert_eq!(storage.to_vec()[3..], chunk.data[..]);
        assert!(Arc::strong_count(&chunk) == 1, "helper dropped its handle");
    }
}
