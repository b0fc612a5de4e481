//! The second thread of an append.
//!
//! BLAKE2b dominates an append, and a batch also has work that cannot be split (writing the
//! blocks, the parents, the signature). One thread doing it all leaves the second core idle,
//! and spawning a thread per batch costs more than a small batch. So a writable feed keeps
//! one helper thread, started on its first large enough append and joined when the feed is
//! dropped. It claims hashing units of the chunks it is shown ([`Chunk::help`]), reading the
//! caller's blocks lent to it for the call ([`crate::lend`]), while the caller writes the
//! chunk and then claims units too; and it signs a batch while the caller writes its tree.
//!
//! The caller never waits for the helper to start: the units it has not claimed the caller
//! claims, and a unit it claimed but has not finished the caller hashes after a short wait
//! ([`Chunk::hash_all`]). There is no tuned split either: whoever is free claims the next
//! unit. The one wait left is for a helper in the middle of reading a unit of lent blocks
//! when the call ends: the call cannot return while another thread reads its caller's
//! memory. Normally that is a few µs; a helper the scheduler pauses right there (on a busy
//! machine) holds the call until it runs again.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;

use crate::append_chunk::Chunk;
use crate::crypto::{Hash, SecretKey, Signature};
use crate::lend::LentBlocks;
use crate::limits::HELPER_MIN_BYTES;

/// What the helper is shown: a chunk to hash units of (and its lent blocks), or a batch's
/// root digest to sign.
enum Job {
    Hash(Arc<Chunk>, Arc<LentBlocks>),
    Sign(Arc<SignJob>),
}

/// Polls of a signature the helper is computing before signing here instead: signing takes
/// ~20 µs and a poll 10–50 ns, so this waits one to five times as long as the helper should.
const SIGN_POLLS: usize = 2000;

/// A batch's signature, made by the helper while the caller writes the tree, or by the
/// caller if the helper has not started on it by the time the caller needs it. Ed25519
/// signing is deterministic, so a signature made twice is the same bytes and the first wins.
pub(crate) struct SignJob {
    key: Arc<SecretKey>,
    root: Hash,
    claimed: AtomicBool,
    signature: OnceLock<Signature>,
}

impl SignJob {
    /// The helper's side: sign unless the caller already took the job.
    fn run(&self) {
        if !self.claimed.swap(true, Ordering::AcqRel) {
            let _ = self.signature.set(self.key.sign(&self.root));
        }
    }

    /// The caller's side: the helper's signature, or one made here when the helper has not
    /// claimed the job or takes too long (it may have been paused).
    pub(crate) fn wait_or_sign(&self) -> Signature {
        if let Some(s) = self.signature.get() {
            return *s;
        }
        if self.claimed.swap(true, Ordering::AcqRel) {
            for _ in 0..SIGN_POLLS {
                if let Some(s) = self.signature.get() {
                    return *s;
                }
                std::hint::spin_loop();
            }
        }
        *self.signature.get_or_init(|| self.key.sign(&self.root))
    }
}

/// The helper thread, once started, and whether the running batch uses it.
#[derive(Default)]
pub(crate) struct Helping {
    helper: Option<Helper>,
    /// Starting the helper failed once; do not try again.
    no_helper: bool,
    /// This batch uses the helper.
    via: bool,
    /// The feed's secret key, shared with the helper for signing.
    key: Option<Arc<SecretKey>>,
}

impl Helping {
    /// Decide for a batch from its first chunk, starting the helper if it is worth it.
    pub(crate) fn begin(&mut self, first_bytes: usize) {
        self.via = first_bytes >= HELPER_MIN_BYTES && threads() >= 2;
        if self.via && self.helper.is_none() && !self.no_helper {
            self.helper = Helper::spawn();
            self.no_helper = self.helper.is_none();
        }
        self.via &= self.helper.is_some();
    }

    /// Show the helper a planned chunk to hash units of, and the blocks lent for it, if the
    /// batch uses it.
    pub(crate) fn share(&mut self, chunk: &Arc<Chunk>, lent: &Arc<LentBlocks>) {
        if self.via {
            self.send(Job::Hash(Arc::clone(chunk), Arc::clone(lent)));
        }
    }

    /// Have the helper sign `root` with `key`, if the batch uses it; the caller collects the
    /// signature with [`SignJob::wait_or_sign`].
    pub(crate) fn sign(&mut self, key: &SecretKey, root: Hash) -> Option<Arc<SignJob>> {
        if !self.via {
            return None;
        }
        let key = match &self.key {
            Some(k) if k.seed() == key.seed() => Arc::clone(k),
            _ => Arc::clone(self.key.insert(Arc::new(key.clone()))),
        };
        let job = Arc::new(SignJob {
            key,
            root,
            claimed: AtomicBool::new(false),
            signature: OnceLock::new(),
        });
        self.send(Job::Sign(Arc::clone(&job)));
        Some(job)
    }

    fn send(&mut self, job: Job) {
        let Some(helper) = self.helper.as_ref().filter(|_| self.via) else {
            return;
        };
        if helper.send(job).is_err() {
            // The thread is gone (it panicked): work alone from now on.
            self.via = false;
            self.no_helper = true;
            self.helper = None;
        }
    }
}

/// The thread and the channel it takes chunks from.
struct Helper {
    chunks: Option<Sender<Job>>,
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

    fn send(&self, job: Job) -> Result<(), Job> {
        match &self.chunks {
            Some(tx) => tx.send(job).map_err(|e| e.0),
            None => Err(job),
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

/// Polls of the channel before sleeping on it, about 1.2 ms (a poll is ~30 ns). Between two
/// batches of a stream of appends the helper waits tens to hundreds of µs. Sleeping then
/// costs more than the wake-up: Linux wakes a thread on the waker's core when it can, and
/// the helper then shares the caller's core for many batches until the load balancer moves
/// it. With a 4,000-poll spin (125 µs), the 1 KiB append benchmark ran at single-thread
/// speed (100 ms per 100k blocks) in about half of its runs; with this one, 63 ms in all.
/// A feed that stops appending costs one such spin of CPU time.
const SPINS: usize = 40_000;

fn serve(chunks: &Receiver<Job>) {
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
        let job = match next {
            Some(job) => job,
            None => match chunks.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        match job {
            Job::Hash(chunk, lent) => {
                chunk.help(&lent);
                // The batch's signature is the helper's next job, once the caller has the
                // roots.
                crate::crypto::warm_signing();
            }
            Job::Sign(job) => job.run(),
        }
    }
}

pub(crate) fn threads() -> usize {
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::append_chunk::KnownParents;
    use crate::crypto::{KeyPair, hash_leaf};

    #[test]
    fn chunks_shown_to_the_helper_hash_right_whoever_claims_each_unit() {
        let mut helping = Helping::default();
        let mut chunk = Arc::new(Chunk::default());
        let mut slot = Arc::default();
        for round in 0..200usize {
            let data: Vec<Vec<u8>> = (0..(round % 50 + 40))
                .map(|i| vec![(i + round) as u8; 1024 + i])
                .collect();
            let blocks: Vec<&[u8]> = data.iter().map(|v| v.as_slice()).collect();
            if Arc::get_mut(&mut chunk).is_none() {
                chunk = Arc::default();
            }
            let Some(c) = Arc::get_mut(&mut chunk) else {
                panic!("a fresh chunk is not shared");
            };
            c.plan(round as u64, blocks.iter().map(|b| b.len() as u64));
            helping.begin(blocks.iter().map(|b| b.len()).sum());
            let mut out = vec![Hash([0; 32]); chunk.len()];
            LentBlocks::lend(&mut slot, &blocks, |lent| {
                helping.share(&chunk, lent);
                chunk.hash_all(&blocks, &mut out, &mut KnownParents::default());
            });
            // The blocks go out of scope at the end of the round, while the helper may still
            // hold the chunk: it must not read them any more.
            for (i, h) in out.iter().enumerate() {
                assert_eq!(*h, hash_leaf(blocks[i]), "round {round} block {i}");
            }
        }
    }

    #[test]
    fn the_helper_or_the_caller_signs_the_same_bytes() {
        let keys = KeyPair::from_seed(&[7; 32]);
        let mut helping = Helping::default();
        helping.begin(HELPER_MIN_BYTES);
        for round in 0..50u8 {
            let root = Hash([round; 32]);
            let Some(job) = helping.sign(&keys.secret, root) else {
                panic!("the batch uses the helper");
            };
            if round % 2 == 0 {
                // Give the helper time to take the job.
                std::thread::sleep(std::time::Duration::from_micros(200));
            }
            assert_eq!(job.wait_or_sign(), keys.secret.sign(&root), "round {round}");
        }
    }
}
