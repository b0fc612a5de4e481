//! Progress of long imports on stderr: files, bytes and rate.
//!
//! The importer has no callback, so the counts come from the feeds themselves: each feed's
//! `tree` slot is wrapped in [`CountLeaves`], which sees every leaf node the append writes.
//! A metadata leaf is one entry (a file put or a deletion); a content leaf carries the size
//! of one block, so the byte count is exact even in the middle of a 200 MB file.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use dat_core::Storage;
use dat_core::node::NODE_RECORD_LEN;
use dat_core::sleep::HEADER_LEN;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output::human_bytes;

/// What an import has appended so far.
#[derive(Debug, Default)]
pub struct Counters {
    entries: AtomicU64,
    bytes: AtomicU64,
}

impl Counters {
    /// Metadata entries appended since the last reset.
    pub fn entries(&self) -> u64 {
        self.entries.load(Ordering::Relaxed)
    }

    /// Content bytes appended since the last reset.
    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Start counting from zero (after the archive header is written).
    pub fn reset(&self) {
        self.entries.store(0, Ordering::Relaxed);
        self.bytes.store(0, Ordering::Relaxed);
    }
}

/// Which count a wrapped `tree` slot feeds.
#[derive(Clone, Copy, Debug)]
pub enum Count {
    /// Leaves of the metadata feed: entries.
    Entries,
    /// Leaves of the content feed: their sizes, bytes.
    Bytes,
}

/// A feed's `tree` slot that counts the leaf nodes written through it.
pub struct CountLeaves {
    inner: Box<dyn Storage>,
    counters: Arc<Counters>,
    count: Count,
}

impl CountLeaves {
    /// Wrap `inner`.
    pub fn new(inner: Box<dyn Storage>, counters: Arc<Counters>, count: Count) -> Self {
        Self {
            inner,
            counters,
            count,
        }
    }

    fn observe(&self, offset: u64, data: &[u8]) {
        let Some(rel) = offset.checked_sub(HEADER_LEN as u64) else {
            return;
        };
        if !rel.is_multiple_of(NODE_RECORD_LEN as u64) {
            return;
        }
        let first = rel / NODE_RECORD_LEN as u64;
        for (k, record) in data.chunks_exact(NODE_RECORD_LEN).enumerate() {
            if !(first + k as u64).is_multiple_of(2) {
                continue; // a parent node
            }
            match self.count {
                Count::Entries => {
                    self.counters.entries.fetch_add(1, Ordering::Relaxed);
                }
                Count::Bytes => {
                    let mut size = [0u8; 8];
                    size.copy_from_slice(&record[32..40]);
                    self.counters
                        .bytes
                        .fetch_add(u64::from_be_bytes(size), Ordering::Relaxed);
                }
            }
        }
    }
}

impl Storage for CountLeaves {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.inner.read_at(offset, buf)
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.inner.write_at(offset, data)?;
        self.observe(offset, data);
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        self.inner.len()
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.inner.truncate(len)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        self.inner.sync_data()
    }

    fn delete(&mut self, offset: u64, len: u64) -> io::Result<()> {
        self.inner.delete(offset, len)
    }
}

/// A spinner on stderr redrawn ten times a second from the counters (hidden when `show` is
/// false, e.g. stderr is not a terminal, or `--quiet`).
pub struct ImportProgress {
    bar: Option<ProgressBar>,
}

impl ImportProgress {
    /// Start drawing `counters` if `show`.
    pub fn start(counters: Arc<Counters>, show: bool) -> Self {
        if !show {
            return Self { bar: None };
        }
        let started = Instant::now();
        let status = move |_: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
            let secs = started.elapsed().as_secs_f64().max(1e-3);
            let bytes = counters.bytes();
            let _ = write!(
                w,
                "{} files, {} ({}/s)",
                counters.entries(),
                human_bytes(bytes),
                human_bytes((bytes as f64 / secs) as u64)
            );
        };
        let style = ProgressStyle::with_template("{spinner} importing {status} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .with_key("status", status);
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(style);
        bar.enable_steady_tick(Duration::from_millis(100));
        Self { bar: Some(bar) }
    }

    /// Remove the spinner.
    pub fn finish(self) {
        if let Some(bar) = self.bar {
            bar.finish_and_clear();
        }
    }
}
