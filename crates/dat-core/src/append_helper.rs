//! The second thread of an append.
//!
//! Per block, an append costs about as much to hash (BLAKE2b in SIMD lanes) as to hand to the
//! kernel (page-cache writes), and a batch ends with work that cannot be split (the parents,
//! the signature). One thread doing it all leaves the second core idle, and spawning a thread
//! per batch costs more than a small batch. So a writable feed keeps one helper thread,
//! started on its first large enough append and joined when the feed is dropped. It takes
//! [`Task`]s in order: hashing units of a [`Chunk`] (both threads claim units; the helper
//! stops at a byte budget), and positioned writes to a storage lent to it for the purpose.
//! [`crate::append_io`] queues a batch's writes here (data, then tree, then signatures) while
//! the caller grows the tree, signs and sets the bitfield. Both sides poll their channel for a
//! while before sleeping on it: waking a sleeping thread costs several µs, a few times per
//! batch.

use std::io;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::thread::JoinHandle;

use crate::crypto::Hash;
use crate::leaf_hash::{LeafScratch, hash_into};
use crate::storage::{Slot, Storage};

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
    let write = bytes / 5 * 2;
    let sign = if last { 30_000 } else { 0 };
    (hash + sign).saturating_sub(write) / 2
}

/// Bytes a [`Write`] takes its pieces from: a chunk (shared with the caller) or a buffer
/// of its own (tree entries, signatures) that comes back with the reply for reuse.
pub(crate) enum Payload {
    Chunk(Arc<Chunk>),
    Owned(Vec<u8>),
}

impl Payload {
    fn bytes(&self) -> &[u8] {
        match self {
            Payload::Chunk(chunk) => &chunk.data,
            Payload::Owned(bytes) => bytes,
        }
    }
}

/// Positioned writes to one slot, whose storage is lent for them.
pub(crate) struct Write {
    pub(crate) slot: Slot,
    pub(crate) storage: Box<dyn Storage>,
    pub(crate) payload: Payload,
    /// `(file offset, range of the payload)`, written in this order.
    pub(crate) pieces: Vec<(u64, Range<usize>)>,
}

impl Write {
    /// Do the writes; stop at the first error.
    pub(crate) fn run(&mut self) -> io::Result<()> {
        let bytes = self.payload.bytes();
        for (offset, range) in &self.pieces {
            let piece = bytes
                .get(range.clone())
                .ok_or(io::ErrorKind::InvalidInput)?;
            if !piece.is_empty() {
                self.storage.write_at(*offset, piece)?;
            }
        }
        Ok(())
    }
}

/// Work for the helper, done in the order sent.
pub(crate) enum Task {
    /// Hash about `budget` bytes of the chunk's units; replies [`Reply::Hashed`].
    Hash { chunk: Arc<Chunk>, budget: usize },
    /// Replies [`Reply::Written`]. Skipped (with an error) after a failed write, until the
    /// next `Hash`: later files must not be written when an earlier one failed.
    Write(Write),
}

/// What the helper sends back: one reply per task, in order.
pub(crate) enum Reply {
    /// The units it hashed: block ranges and their hashes, back to back.
    Hashed {
        ranges: Vec<Range<usize>>,
        hashes: Vec<Hash>,
    },
    /// The write, with its storage and payload, and how it went.
    Written {
        write: Write,
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
        recv_spinning(&self.replies)
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

/// Poll this many times before sleeping on a channel: replies and the next batch's tasks
/// usually come within tens of µs, and waking a sleeping thread costs several µs each time.
const SPINS: usize = 4000;

fn recv_spinning<T>(rx: &Receiver<T>) -> Option<T> {
    for _ in 0..SPINS {
        match rx.try_recv() {
            Ok(v) => return Some(v),
            Err(TryRecvError::Empty) => std::hint::spin_loop(),
            Err(TryRecvError::Disconnected) => return None,
        }
    }
    rx.recv().ok()
}

fn serve(tasks: Receiver<Task>, replies: Sender<Reply>) {
    let mut scratch = LeafScratch::default();
    let mut failed = false;
    while let Some(task) = recv_spinning(&tasks) {
        let reply = match task {
            Task::Hash { chunk, budget } => {
                failed = false;
                let mut ranges = Vec::new();
                let mut hashes = Vec::new();
                chunk.hash_units(budget, &mut scratch, |range, h| {
                    ranges.push(range);
                    hashes.extend_from_slice(h);
                });
                Reply::Hashed { ranges, hashes }
            }
            Task::Write(mut write) => {
                let result = if failed {
                    Err(io::Error::other("not written: an earlier write failed"))
                } else {
                    write.run()
                };
                failed |= result.is_err();
                Reply::Written { write, result }
            }
        };
        if replies.send(reply).is_err() {
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
    fn helper_hashes_its_budget_then_writes_in_order() {
        let helper = Helper::spawn().unwrap_or_else(|| panic!("no thread"));
        let chunk = Arc::new(chunk_of(&[1024; 64]));
        let storage = MemoryStorage::new();
        let hash = Task::Hash {
            chunk: chunk.clone(),
            budget: 20_000,
        };
        let write = |payload, pieces| {
            Task::Write(Write {
                slot: Slot::Data,
                storage: Box::new(storage.clone()),
                payload,
                pieces,
            })
        };
        assert!(helper.send(hash).is_ok());
        let len = chunk.data.len();
        let data = write(Payload::Chunk(chunk.clone()), vec![(3, 0..len)]);
        assert!(helper.send(data).is_ok());
        let bad = write(Payload::Owned(vec![7; 4]), vec![(0, 0..9)]);
        assert!(helper.send(bad).is_ok());
        let skipped = write(Payload::Owned(vec![8; 4]), vec![(0, 0..4)]);
        assert!(helper.send(skipped).is_ok());
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
        let results: Vec<bool> = (0..3)
            .map(|_| match helper.recv() {
                Some(Reply::Written { result, .. }) => result.is_ok(),
                _ => panic!("expected a write"),
            })
            .collect();
        assert_eq!(results, [true, false, false]);
        assert_eq!(storage.to_vec()[3..], chunk.data[..]);
        assert_eq!(storage.to_vec()[..3], [0, 0, 0], "skipped write not done");
        assert!(Arc::strong_count(&chunk) == 1, "helper dropped its handles");
    }
}
