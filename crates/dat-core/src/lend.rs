//! The caller's blocks, lent to the append helper thread for the length of one call.
//!
//! An append hashes its blocks on two threads. The blocks are the caller's borrowed slices,
//! and the helper thread outlives any one call, so the borrow checker cannot see that the
//! helper reads them only while the call runs. Copying every block into memory the helper
//! owns made that safe, but the copy cost a fifth of an append of small blocks. So the
//! blocks are lent instead: [`LentBlocks::lend`] records where they are, opens them to
//! readers while its closure runs, and before it returns closes them and waits until no
//! reader is left. A reader ([`LentBlocks::read`]) registers before it looks and sees the
//! blocks only inside its own closure.
//!
//! The price is that a call must wait for a reader that is in the middle of a hashing unit
//! (a few µs, or longer if the scheduler pauses the helper there); it waits parked, not
//! spinning, after a short spin.

// One of the crate's three `unsafe` blocks (with the prefetch hint in `prefetch.rs` and the
// gathered write in `gather.rs`):
// see the proof at `read`.
#![allow(unsafe_code)]

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::Thread;

/// The state bit saying readers may look; the reader count is kept above it.
const OPEN: usize = 1;
/// One registered reader.
const READER: usize = 2;
/// Most blocks one read sees: a hashing unit.
pub(crate) const MAX_READ: usize = 16;
/// Polls of the reader count before the closing call parks.
const CLOSE_SPINS: usize = 2000;

/// Where the blocks of the running call are, and who may read them.
#[derive(Debug, Default)]
pub(crate) struct LentBlocks {
    /// Each block's address (its provenance exposed) and length, set only by `lend` from
    /// the slices it was given.
    parts: Vec<(usize, usize)>,
    /// [`OPEN`] while lent, plus [`READER`] per registered reader.
    state: AtomicUsize,
    /// The lending thread, woken by the last reader to leave after the blocks are closed.
    lender: Option<Thread>,
}

impl LentBlocks {
    /// Lend `blocks` through `slot` while `f` runs, then take them back: no reader can see
    /// them once this returns, and none is left looking. `slot` is reused when no other
    /// thread holds it still.
    pub(crate) fn lend<R>(
        slot: &mut Arc<LentBlocks>,
        blocks: &[&[u8]],
        f: impl FnOnce(&Arc<LentBlocks>) -> R,
    ) -> R {
        if Arc::get_mut(slot).is_none() {
            // A helper still holds the last one (it came late); its state is closed.
            *slot = Arc::default();
        }
        if let Some(lent) = Arc::get_mut(slot) {
            lent.parts.clear();
            lent.parts.extend(
                blocks
                    .iter()
                    .map(|b| (b.as_ptr().expose_provenance(), b.len())),
            );
            lent.lender = Some(std::thread::current());
            *lent.state.get_mut() = OPEN;
        }
        let close = Close(slot);
        f(close.0)
    }

    /// Run `f` on blocks `range` (at most [`MAX_READ`]) if they are still lent; `None` once
    /// the lending call has closed them.
    pub(crate) fn read<R>(&self, range: Range<usize>, f: impl FnOnce(&[&[u8]]) -> R) -> Option<R> {
        let parts = self.parts.get(range)?;
        if parts.len() > MAX_READ {
            return None;
        }
        let registered = self.state.fetch_add(READER, Ordering::Acquire);
        let _leave = Leave(self);
        if registered & OPEN == 0 {
            return None;
        }
        let mut slices: [&[u8]; MAX_READ] = [&[]; MAX_READ];
        for (slice, &(addr, len)) in slices.iter_mut().zip(parts) {
            let ptr: *const u8 = std::ptr::with_exposed_provenance(addr);
            // SAFETY: `(addr, len)` was taken, with its provenance exposed, from a `&[u8]`
            // in the `blocks` that `lend` was given, and `parts` is written only there, while
            // the state is closed and `lend` holds the only reference to this value. `lend`
            // sets OPEN after writing `parts` and clears it (in `Close`, which also runs on
            // unwinding) before it returns, so OPEN is set only while that `blocks` borrow is
            // alive; while it is alive the bytes are immutable (`u8` has no interior
            // mutability) and not freed. This reader added itself to the count before it saw
            // OPEN, in the same atomic operation, so `Close` (which clears OPEN and then waits
            // for the count to reach zero) cannot return before this reader leaves (`Leave`
            // subtracts it, also when unwinding). The slices live only in `slices`, which `f`
            // borrows for the length of its call and cannot keep (its signature ties them to
            // that call), and `Leave` runs after `f` returns. So every slice made here points
            // to live, unchanging memory for as long as it exists.
            *slice = unsafe { std::slice::from_raw_parts(ptr, len) };
        }
        Some(f(&slices[..parts.len()]))
    }
}

/// Closes the lent blocks and waits for the readers to leave, when `lend` ends.
struct Close<'a>(&'a Arc<LentBlocks>);

impl Drop for Close<'_> {
    fn drop(&mut self) {
        let lent = self.0;
        if lent.state.fetch_and(!OPEN, Ordering::AcqRel) & !OPEN == 0 {
            return;
        }
        let mut spins = 0;
        while lent.state.load(Ordering::Acquire) != 0 {
            spins += 1;
            if spins < CLOSE_SPINS {
                std::hint::spin_loop();
            } else {
                // The last reader unparks this thread; a wake-up that comes before the park
                // makes the park return at once, and a spurious one loops.
                std::thread::park();
            }
        }
    }
}

/// Takes a reader off the count when its read ends, waking the lender if it is waiting.
struct Leave<'a>(&'a LentBlocks);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        let before = self.0.state.fetch_sub(READER, Ordering::Release);
        if before == READER {
            // The last reader of closed blocks: the lender may be parked.
            if let Some(lender) = &self.0.lender {
                lender.unpark();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_sees_the_blocks_while_lent_and_nothing_after() {
        let data: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; i as usize * 10]).collect();
        let blocks: Vec<&[u8]> = data.iter().map(|v| v.as_slice()).collect();
        let mut slot = Arc::default();
        let kept = LentBlocks::lend(&mut slot, &blocks, |lent| {
            let seen = lent.read(3..8, |b| b.iter().map(|s| s.to_vec()).collect::<Vec<_>>());
            assert_eq!(seen, Some(data[3..8].to_vec()));
            assert_eq!(lent.read(0..17, |_| ()), None, "more than a unit");
            assert_eq!(lent.read(18..21, |_| ()), None, "past the end");
            Arc::clone(lent)
        });
        assert_eq!(kept.read(0..2, |b| b.len()), None, "closed after the call");
        // The slot is still held, so the next call lends through a fresh one.
        LentBlocks::lend(&mut slot, &blocks[..1], |lent| {
            assert!(!Arc::ptr_eq(lent, &kept));
            assert_eq!(lent.read(0..1, |b| b[0].len()), Some(0));
        });
    }

    #[test]
    fn lend_waits_for_a_reader_in_the_middle_of_a_read() {
        use std::sync::atomic::AtomicBool;
        let data = vec![7u8; 4096];
        let blocks: Vec<&[u8]> = vec![&data[..]];
        let mut slot = Arc::default();
        let reading = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicBool::new(false));
        std::thread::scope(|s| {
            LentBlocks::lend(&mut slot, &blocks, |lent| {
                let (lent, reading, done) = (Arc::clone(lent), &reading, &done);
                s.spawn(move || {
                    lent.read(0..1, |b| {
                        reading.store(true, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(30));
                        assert_eq!(b[0].iter().map(|&x| x as usize).sum::<usize>(), 7 * 4096);
                        done.store(true, Ordering::SeqCst);
                    })
                });
                while !reading.load(Ordering::SeqCst) {
                    std::hint::spin_loop();
                }
            });
            assert!(
                done.load(Ordering::SeqCst),
                "lend returned while a read ran"
            );
        });
    }

    #[test]
    fn a_reader_that_panics_still_leaves() {
        let data = [1u8; 8];
        let blocks: Vec<&[u8]> = vec![&data[..]];
        let mut slot = Arc::default();
        LentBlocks::lend(&mut slot, &blocks, |lent| {
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                lent.read(0..1, |_| panic!("hashing failed"))
            }));
            assert!(caught.is_err());
        });
        assert_eq!(slot.state.load(Ordering::SeqCst), 0);
    }
}
