//! The second thread of an append.
//!
//! BLAKE2b dominates an append, and a batch also has work that cannot be split (writing the
//! blocks, the parents, the signature). One thread doing it all leaves the second core idle,
//! and spawning a thread per batch costs more than a small batch. So a writable feed keeps
//! one helper thread, started on its first large enough append and joined when the feed is
//! dropped. It does one thing: claim hashing units of the chunks it is shown
//! ([`Chunk::help`]) while the caller writes the chunk and then claims units too.
//!
//! The caller never waits for the helper to start or to finish: the units it has not claimed
//! the caller claims, and a unit it claimed but has not finished the caller hashes after a
//! short wait ([`Chunk::hash_all`]). So a helper the scheduler pauses (on a busy machine, for
//! milliseconds) costs at most one unit of work, and an append is never much slower than one
//! thread alone. There is no tuned split either: whoever is free claims the next unit.

use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use crate::append_chunk::Chunk;
use crate::leaf_hash::LeafScratch;
use crate::limits::HELPER_MIN_BYTES;

/// The helper thread, once started, and whether the running batch uses it.
#[derive(Default)]
pub(crate) struct Helping {
    helper: Option<Helper>,
    /// Starting the helper failed once; do not try again.
    no_helper: bool,
    /// This batch uses the helper.
    via: bool,
}

impl Helping {
    /// Decide for a batch from its first chunk, starting the helper if it is worth it.
    pub(crate) fn begin(&mut self, first: &Chunk) {
        self.via = first.data.len() >= HELPER_MIN_BYTES && threads() >= 2;
        if self.via && self.helper.is_none() && !self.no_helper {
            self.helper = Helper::spawn();
            self.no_helper = self.helper.is_none();
        }
        self.via &= self.helper.is_some();
    }

    /// Show the helper a sealed chunk to hash units of, if the batch uses it.
    pub(crate) fn share(&mut self, chunk: &Arc<Chunk>) {
        let Some(helper) = self.helper.as_ref().filter(|_| self.via) else {
            return;
        };
        if helper.send(Arc::clone(chunk)).is_err() {
            // The thread is gone (it panicked): work alone from now on.
            self.via = false;
            self.no_helper = true;
            self.helper = None;
        }
    }
}

/// The thread and the channel it takes chunks from.
struct Helper {
    chunks: Option<Sender<Arc<Chunk>>>,
    thread: Option<JoinHandle<()>>,
}

impl Helper {
    fn spawn() -> Option<Self> {
        let (chunks, rx) = channel();
        let thread = std::thread::Builder::new()
            .name("dat-append".into())
            .stack_size(256 * 1024)
            .spawn(move || serve(&rx))
            .ok()?;
        Some(Self {
            chunks: Some(chunks),
            thread: Some(thread),
        })
    }

    fn send(&self, chunk: Arc<Chunk>) -> Result<(), Arc<Chunk>> {
        match &self.chunks {
            Some(tx) => tx.send(chunk).map_err(|e| e.0),
            None => Err(chunk),
        }
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop.
        self.chunks = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Polls of the channel before sleeping on it: the next batch's chunk usually comes within
/// tens of µs, and waking a sleeping thread costs several µs. Kept short, as the polling
/// takes CPU time the caller could use on a busy machine.
const SPINS: usize = 4000;

fn serve(chunks: &Receiver<Arc<Chunk>>) {
    let mut scratch = LeafScratch::default();
    loop {
        let mut next = None;
        for _ in 0..SPINS {
            match chunks.try_recv() {
                Ok(chunk) => {
                    next = Some(chunk);
                    break;
                }
                Err(TryRecvError::Empty) => std::hint::spin_loop(),
                Err(TryRecvError::Disconnected) => return,
            }
        }
        let chunk = match next {
            Some(chunk) => chunk,
            None => match chunks.recv() {
                Ok(chunk) => chunk,
                Err(_) => return,
            },
        };
        chunk.help(&mut scratch);
    }
}

pub(crate) fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::{Hash, hash_leaf};

    #[test]
    fn chunks_shown_to_the_helper_hash_right_whoever_claims_each_unit() {
        let mut helping = Helping::default();
        for round in 0..200usize {
            let mut chunk = Chunk::default();
            for i in 0..(round % 50 + 40) {
                chunk.push(&vec![(i + round) as u8; 1024 + i]);
            }
            chunk.seal();
            helping.begin(&chunk);
            let chunk = Arc::new(chunk);
            helping.share(&chunk);
            let mut out = vec![Hash([0; 32]); chunk.len()];
            chunk.hash_all(&mut LeafScratch::default(), &mut out);
            for (i, h) in out.iter().enumerate() {
                assert_eq!(*h, hash_leaf(chunk.block(i)), "round {round} block {i}");
            }
        }
    }
}
