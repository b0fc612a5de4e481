//! Being told when a shared folder changes, so that a share imports a change as it happens
//! rather than at the next poll, and does not re-read a folder of a million files every
//! second to find that nothing changed.
//!
//! The watcher is the operating system's (inotify on Linux, one watch per folder, folders
//! created later included). It only says *that* something changed: the import that follows
//! compares the folder with the archive as always, so a lost or merged notification costs
//! nothing but latency, and an overflow of the kernel's queue is reported as a change too.
//! Changes inside `.dat` (the archive's own writes) are not changes of the folder.
//!
//! Some filesystems (network mounts among them) deliver no notifications for changes made
//! elsewhere: a share on one of those should poll instead.
//!
//! When to import is [`Debounce`]'s decision. A file being written is not imported half
//! written if that can be helped: writes only arm a long timer, the writer closing the file
//! (or a rename, a deletion, a new folder) a short one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind};
use notify::{RecursiveMode, Watcher};

/// What a notification says about the folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FolderEvent {
    /// Something changed and is likely complete (a file closed after writing, renamed,
    /// deleted, a folder created, permissions changed).
    Changed,
    /// A file is being written (created, or data written, and not closed yet).
    Writing,
}

/// Watching could not start (no inotify, or too many folders for the watch limit).
#[derive(Debug, thiserror::Error)]
#[error("cannot watch {path} for changes: {reason}")]
pub struct WatchError {
    /// The folder.
    pub path: PathBuf,
    /// What the operating system said.
    pub reason: String,
}

/// A running watch of one folder; dropping it stops the watch.
pub struct FolderWatcher {
    _watcher: notify::RecommendedWatcher,
}

impl std::fmt::Debug for FolderWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FolderWatcher").finish_non_exhaustive()
    }
}

impl FolderWatcher {
    /// Call `on_change` (on the watcher's own thread) after each change under `dir` outside
    /// `dir/.dat`. Adding the watches walks every folder under `dir`, so this takes as long
    /// as listing the tree: start it off the async runtime.
    pub fn start(
        dir: &Path,
        on_change: impl Fn(FolderEvent) + Send + 'static,
    ) -> Result<Self, WatchError> {
        let error = |e: notify::Error| WatchError {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        };
        let root = std::fs::canonicalize(dir).map_err(|e| error(e.into()))?;
        let own = root.join(".dat");
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let change = match event {
                    Ok(e) => classify(&e, &own),
                    // An error (the kernel's queue overflowed): assume anything changed.
                    Err(_) => Some(FolderEvent::Changed),
                };
                if let Some(change) = change {
                    on_change(change);
                }
            })
            .map_err(error)?;
        watcher
            .watch(&root, RecursiveMode::Recursive)
            .map_err(error)?;
        Ok(Self { _watcher: watcher })
    }
}

/// What `e` says of the folder; `None` for reads and for changes only inside `own` (`.dat`).
fn classify(e: &notify::Event, own: &Path) -> Option<FolderEvent> {
    if e.need_rescan() {
        return Some(FolderEvent::Changed);
    }
    if !e.paths.is_empty() && e.paths.iter().all(|p| p.starts_with(own)) {
        return None;
    }
    match e.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(FolderEvent::Changed),
        EventKind::Access(_) => None,
        EventKind::Create(CreateKind::Folder) => Some(FolderEvent::Changed),
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_)) => Some(FolderEvent::Writing),
        _ => Some(FolderEvent::Changed),
    }
}

/// When to import after notifications: [`Debounce::SETTLE`] after the last change, or
/// [`Debounce::WRITING`] after the last write while a file is still being written, and
/// never later than [`Debounce::MAX_DELAY`] after the first notification (a file that is
/// written for ever, a log, is still imported now and then).
#[derive(Debug, Default)]
pub struct Debounce {
    first: Option<Instant>,
    last: Option<Instant>,
    writing: bool,
}

impl Debounce {
    /// Quiet time after a completed change.
    pub const SETTLE: Duration = Duration::from_millis(20);
    /// Quiet time after a write to a file not closed yet.
    pub const WRITING: Duration = Duration::from_secs(1);
    /// Longest wait from the first notification.
    pub const MAX_DELAY: Duration = Duration::from_secs(5);

    /// A notification arrived at `now`.
    pub fn event(&mut self, event: FolderEvent, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
        // A close settles the writes before it; a write after it unsettles again.
        self.writing = event == FolderEvent::Writing;
    }

    /// When to import, if a notification is pending.
    pub fn deadline(&self) -> Option<Instant> {
        let (first, last) = (self.first?, self.last?);
        let quiet = if self.writing {
            Self::WRITING
        } else {
            Self::SETTLE
        };
        Some((last + quiet).min(first + Self::MAX_DELAY))
    }

    /// Whether to import at `now`; if so the notifications so far are taken as handled.
    pub fn due(&mut self, now: Instant) -> bool {
        if self.deadline().is_some_and(|d| d <= now) {
            *self = Self::default();
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Waits for the next notification, or `None` after `ms`.
    fn next(rx: &mpsc::Receiver<()>, ms: u64) -> Option<()> {
        rx.recv_timeout(Duration::from_millis(ms)).ok()
    }

    /// Drops notifications until none arrives for `ms`.
    fn settle(rx: &mpsc::Receiver<()>, ms: u64) {
        for _ in 0..10_000 {
            if next(rx, ms).is_none() {
                return;
            }
        }
        panic!("notifications never stop");
    }

    #[test]
    fn debounce_waits_for_writers_to_close() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut d = Debounce::default();
        assert_eq!(d.deadline(), None);
        assert!(!d.due(ms(10_000)));

        // Created and written: wait a second for more writes.
        d.event(FolderEvent::Writing, ms(0));
        d.event(FolderEvent::Writing, ms(5));
        assert_eq!(d.deadline(), Some(ms(1005)));
        // Closed: settle soon.
        d.event(FolderEvent::Changed, ms(8));
        assert_eq!(d.deadline(), Some(ms(28)));
        assert!(!d.due(ms(27)));
        assert!(d.due(ms(28)));
        assert_eq!(d.deadline(), None);

        // A file written for ever is imported every MAX_DELAY.
        for t in (100..20_000).step_by(100) {
            d.event(FolderEvent::Writing, ms(t));
            if d.due(ms(t)) {
                assert_eq!(t, 5100, "first import at 100 ms + 5 s");
                return;
            }
        }
        panic!("never due");
    }

    #[test]
    fn changes_are_reported_and_own_writes_and_reads_are_not() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path();
        std::fs::create_dir_all(dir.join(".dat")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("a.txt"), b"one").unwrap_or_else(|e| panic!("{e}"));
        let (tx, rx) = mpsc::channel();
        let _w = FolderWatcher::start(dir, move |_| {
            let _ = tx.send(());
        })
        .unwrap_or_else(|e| panic!("{e}"));

        // The archive's own writes and reading the files are silent.
        std::fs::write(dir.join(".dat/metadata.tree"), b"x").unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::read(dir.join("a.txt")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next(&rx, 300), None);

        // A changed file, a new folder and a file inside it (created after the watch
        // started), a rename, a deletion: each is reported.
        std::fs::write(dir.join("a.txt"), b"two").unwrap_or_else(|e| panic!("{e}"));
        assert!(next(&rx, 5000).is_some());
        settle(&rx, 200);
        std::fs::create_dir(dir.join("sub")).unwrap_or_else(|e| panic!("{e}"));
        settle(&rx, 200);
        std::fs::write(dir.join("sub/b.txt"), b"b").unwrap_or_else(|e| panic!("{e}"));
        assert!(next(&rx, 5000).is_some());
        settle(&rx, 200);
        std::fs::rename(dir.join("sub/b.txt"), dir.join("sub/c.txt"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(next(&rx, 5000).is_some());
        settle(&rx, 200);
        std::fs::remove_file(dir.join("a.txt")).unwrap_or_else(|e| panic!("{e}"));
        assert!(next(&rx, 5000).is_some());
    }
}
