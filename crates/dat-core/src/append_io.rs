//! Where an append's work goes: to the feed's helper thread or done in place.
//!
//! A batch decides once, from its first chunk, whether it uses the helper (see
//! [`crate::append_helper`]). If it does, every write of the batch is queued on the helper, so
//! they happen in the order submitted (data, tree, signatures) while the caller goes on
//! growing the tree and signing; [`Outbox::settle`] waits for them and puts each lent storage
//! back before the bitfield, the commit record, is written. If not, writes happen at once.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use crate::append_helper::{Chunk, Helper, Lent, Payload, Reply, Task, Write, helper_budget};
use crate::crypto::Hash;
use crate::error::FeedError;
use crate::limits::HELPER_MIN_BYTES;
use crate::storage::{FeedStorage, Slot};

/// The helper thread (once started) and the batch's queued work.
#[derive(Default)]
pub(crate) struct Outbox {
    helper: Option<Helper>,
    /// Starting the helper failed once; do not try again.
    no_helper: bool,
    /// This batch uses the helper.
    via: bool,
    /// Tasks sent whose replies have not been received.
    outstanding: usize,
    /// Buffers that came back from writes, for reuse.
    spare: Vec<Vec<u8>>,
}

impl Outbox {
    /// Decide for a batch from its first chunk, starting the helper if it is worth it.
    pub(crate) fn begin(&mut self, first: &Chunk) {
        self.via = first.data.len() >= HELPER_MIN_BYTES && threads() >= 2;
        if self.via && self.helper.is_none() && !self.no_helper {
            self.helper = Helper::spawn();
            self.no_helper = self.helper.is_none();
        }
        self.via &= self.helper.is_some();
    }

    /// An empty buffer, reusing one that came back from a write.
    pub(crate) fn buffer(&mut self) -> Vec<u8> {
        let mut buf = self.spare.pop().unwrap_or_default();
        buf.clear();
        buf
    }

    /// With the helper: ask it to hash its share of `chunk` and return the caller's share
    /// (bytes); `None` when the caller hashes everything.
    pub(crate) fn share_hashing(&mut self, chunk: &Arc<Chunk>, last: bool) -> Option<usize> {
        let helper = self.helper.as_ref().filter(|_| self.via)?;
        let budget = helper_budget(chunk.data.len(), chunk.len(), last);
        let task = Task::Hash {
            chunk: Arc::clone(chunk),
            budget,
        };
        if helper.send(task).is_err() {
            self.lose_helper();
            return None;
        }
        self.outstanding += 1;
        Some((chunk.data.len() + 9 * chunk.len()).saturating_sub(budget))
    }

    /// The helper's hashes for the last [`Outbox::share_hashing`], written into `hashes`.
    pub(crate) fn take_hashes(&mut self, hashes: &mut [Hash]) -> Result<(), FeedError> {
        let reply = self.helper.as_ref().and_then(|h| h.recv());
        self.outstanding = self.outstanding.saturating_sub(1);
        let Some(Reply::Hashed {
            ranges,
            hashes: theirs,
        }) = reply
        else {
            self.lose_helper();
            return Err(helper_lost());
        };
        let mut at = 0;
        for range in ranges {
            let len = range.len();
            if let (Some(dst), Some(src)) = (hashes.get_mut(range), theirs.get(at..at + len)) {
                dst.copy_from_slice(src);
            }
            at += len;
        }
        Ok(())
    }

    /// Write `pieces` (file offset, range of the payload) to `slot`: queued on the helper
    /// when the batch uses it, else at once.
    pub(crate) fn submit(
        &mut self,
        storage: &mut FeedStorage,
        slot: Slot,
        payload: Payload,
        pieces: Vec<(u64, Range<usize>)>,
    ) -> Result<(), FeedError> {
        let Some(place) = storage.slot_box(slot) else {
            return Err(FeedError::NotWritable);
        };
        let mut write = Write {
            slot,
            storage: std::mem::replace(place, Box::new(Lent)),
            payload,
            pieces,
        };
        if let Some(helper) = self.helper.as_ref().filter(|_| self.via) {
            match helper.send(Task::Write(write)) {
                Ok(()) => {
                    self.outstanding += 1;
                    return Ok(());
                }
                Err(Task::Write(w)) => write = w,
                Err(Task::Hash { .. }) => return Err(helper_lost()),
            }
            self.lose_helper();
        }
        let result = write.run();
        self.finish(storage, write);
        result.map_err(|source| FeedError::Io { file: slot, source })
    }

    /// Wait for every task sent, putting each lent storage back; the first error, if any.
    pub(crate) fn settle(&mut self, storage: &mut FeedStorage) -> Result<(), FeedError> {
        let mut first = None;
        while self.outstanding > 0 {
            let reply = self.helper.as_ref().and_then(|h| h.recv());
            self.outstanding -= 1;
            match reply {
                Some(Reply::Written { write, result }) => {
                    if let Err(source) = result {
                        let file = write.slot;
                        first.get_or_insert(FeedError::Io { file, source });
                    }
                    self.finish(storage, write);
                }
                Some(Reply::Hashed { .. }) => {}
                None => {
                    self.outstanding = 0;
                    self.lose_helper();
                    first.get_or_insert(helper_lost());
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// Put a write's storage back in its slot and keep its buffer.
    fn finish(&mut self, storage: &mut FeedStorage, write: Write) {
        if let Some(place) = storage.slot_box(write.slot) {
            *place = write.storage;
        }
        if let Payload::Owned(buf) = write.payload
            && self.spare.len() < 4
        {
            self.spare.push(buf);
        }
    }

    /// The thread is gone (it panicked): work alone from now on.
    fn lose_helper(&mut self) {
        self.via = false;
        self.no_helper = true;
        self.helper = None;
    }
}

fn helper_lost() -> FeedError {
    FeedError::Io {
        file: Slot::Data,
        source: std::io::Error::other("the append helper thread died"),
    }
}

pub(crate) fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}
