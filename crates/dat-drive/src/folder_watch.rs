//! Being told when a shared folder changes, so that a share imports a change as it happens
//! rather than at the next poll, and does not re-read a folder of a million files every
//! second to find that nothing changed.
//!
//! The watcher is the operating system's (inotify on Linux, one watch per folder, folders
//! created later included). It says which paths changed; the import that follows compares
//! just those with the archive ([`crate::import_paths`]: a folder as a whole, so the files
//! of a folder created before its watch was added are not missed). When the kernel's queue
//! overflowed, or too many paths piled up, the whole folder is imported instead. Changes
//! inside `.dat` (the archive's own writes) are not changes of the folder.
//!
//! Some filesystems (network mounts among them) deliver no notifications for changes made
//! elsewhere: a share on one of those should poll instead.
//!
//! When to import is [`Debounce`]'s decision. A file being written is not imported half
//! written if that can be helped: writes only arm a long timer, the writer closing the file
//! (or a rename, a deletion, a new folder) a short one.

use std::collections::BTreeSet;
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

/// One notification: what it says, and of which paths (relative to the folder,
/// `/`-separated; `None` when anything may have changed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderChange {
    /// Whether the change looks complete.
    pub event: FolderEvent,
    /// The paths it concerns.
    pub paths: Option<Vec<String>>,
}

/// What to import once notifications settled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pending {
    /// The whole folder.
    All,
    /// These paths (relative, sorted).
    Paths(BTreeSet<String>),
}

/// Most paths gathered before the whole folder is imported instead.
pub const MAX_PENDING_PATHS: usize = 4096;

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
        on_change: impl Fn(FolderChange) + Send + 'static,
    ) -> Result<Self, WatchError> {
        let error = |e: notify::Error| WatchError {
            path: dir.to_path_buf(),
            reason: e.to_string(),
        };
        let root = std::fs::canonicalize(dir).map_err(|e| error(e.into()))?;
        let own = root.join(".dat");
        let root_in = root.clone();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let change = match event {
                    Ok(e) => classify(&e, &root_in, &own),
                    // An error (the kernel's queue overflowed): assume anything changed.
                    Err(_) => Some(FolderChange {
                        event: FolderEvent::Changed,
                        paths: None,
                    }),
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

/// What `e` says of the folder `root`; `None` for reads and for changes only inside `own`
/// (`.dat`).
fn classify(e: &notify::Event, root: &Path, own: &Path) -> Option<FolderChange> {
    if e.need_rescan() || e.paths.is_empty() {
        return Some(FolderChange {
            event: FolderEvent::Changed,
            paths: None,
        });
    }
    if e.paths.iter().all(|p| p.starts_with(own)) {
        return None;
    }
    let event = classify_kind(&e.kind)?;
    // A path outside the folder, the folder itself, or a name that is not UTF-8 (which
    // the importer skips, but its rename may matter): look at everything.
    let paths = e
        .paths
        .iter()
        .filter(|p| !p.starts_with(own))
        .map(|p| {
            let rel = p.strip_prefix(root).ok()?.to_str()?;
            (!rel.is_empty()).then(|| rel.to_string())
        })
        .collect::<Option<Vec<String>>>();
    Some(FolderChange { event, paths })
}

fn classify_kind(kind: &EventKind) -> Option<FolderEvent> {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => Some(FolderEvent::Changed),
        EventKind::Access(_) => None,
        EventKind::Create(CreateKind::Folder) => Some(FolderEvent::Changed),
        EventKind::Create(_) | EventKind::Modify(ModifyKind::Data(_)) => Some(FolderEvent::Writing),
        _ => Some(FolderEvent::Changed),
    }
}

/// When and what to import after notifications: [`Debounce::SETTLE`] after the last change, or
/// [`Debounce::WRITING`] after the last write while a file is still being written, and
/// never later than [`Debounce::MAX_DELAY`] after the first notification (a file that is
/// written for ever, a log, is still imported now and then).
#[derive(Debug, Default)]
pub struct Debounce {
    first: Option<Instant>,
    last: Option<Instant>,
    writing: bool,
    paths: BTreeSet<String>,
    all: bool,
}

impl Debounce {
    /// Quiet time after a completed change.
    pub const SETTLE: Duration = Duration::from_millis(20);
    /// Quiet time after a write to a file not closed yet.
    pub const WRITING: Duration = Duration::from_secs(1);
    /// Longest wait from the first notification.
    pub const MAX_DELAY: Duration = Duration::from_secs(5);

    /// A notification arrived at `now`.
    pub fn event(&mut self, change: FolderChange, now: Instant) {
        self.first.get_or_insert(now);
        self.last = Some(now);
        // A close settles the writes before it; a write after it unsettles again.
        self.writing = change.event == FolderEvent::Writing;
        match change.paths {
            Some(paths) if !self.all => {
                self.paths.extend(paths);
                if self.paths.len() > MAX_PENDING_PATHS {
                    self.all = true;
                    self.paths.clear();
                }
            }
            Some(_) => {}
            None => {
                self.all = true;
                self.paths.clear();
            }
        }
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

    /// What to import at `now`, if it is time; the notifications so far are then taken as
    /// handled.
    pub fn due(&mut self, now: Instant) -> Option<Pending> {
        if self.deadline().is_none_or(|d| d > now) {
            return None;
        }
        let done = std::mem::take(self);
        Some(if done.all {
            Pending::All
        } else {
            Pending::Paths(done.paths)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn change(event: FolderEvent, paths: &[&str]) -> FolderChange {
        FolderChange {
            event,
            paths: Some(paths.iter().map(|p| p.to_string()).collect()),
        }
    }

    fn paths(p: &[&str]) -> Option<Pending> {
        Some(Pending::Paths(p.iter().map(|p| p.to_string()).collect()))
    }

    #[test]
    fn debounce_waits_for_writers_to_close() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let mut d = Debounce::default();
        assert_eq!(d.deadline(), None);
        assert_eq!(d.due(ms(10_000)), None);

        // Created and written: wait a second for more writes.
        d.event(change(FolderEvent::Writing, &["a"]), ms(0));
        d.event(change(FolderEvent::Writing, &["a"]), ms(5));
        assert_eq!(d.deadline(), Some(ms(1005)));
        // Closed: settle soon.
        d.event(change(FolderEvent::Changed, &["a", "sub/b"]), ms(8));
        assert_eq!(d.deadline(), Some(ms(28)));
        assert_eq!(d.due(ms(27)), None);
        assert_eq!(d.due(ms(28)), paths(&["a", "sub/b"]));
        assert_eq!(d.deadline(), None);

        // A file written for ever is imported every MAX_DELAY.
        for t in (100..20_000).step_by(100) {
            d.event(change(FolderEvent::Writing, &["log"]), ms(t));
            if let Some(p) = d.due(ms(t)) {
                assert_eq!(t, 5100, "first import at 100 ms + 5 s");
                assert_eq!(Some(p), paths(&["log"]));
                return;
            }
        }
        panic!("never due");
    }

    #[test]
    fn debounce_falls_back_to_everything() {
        let t0 = Instant::now();
        let mut d = Debounce::default();
        d.event(change(FolderEvent::Changed, &["a"]), t0);
        d.event(
            FolderChange {
                event: FolderEvent::Changed,
                paths: None,
            },
            t0,
        );
        d.event(change(FolderEvent::Changed, &["b"]), t0);
        assert_eq!(d.due(t0 + Debounce::SETTLE), Some(Pending::All));

        for i in 0..=MAX_PENDING_PATHS {
            d.event(change(FolderEvent::Changed, &[&i.to_string()]), t0);
        }
        assert_eq!(d.due(t0 + Debounce::SETTLE), Some(Pending::All));
    }

    /// Waits for the next notification, or `None` after `ms`.
    fn next(rx: &mpsc::Receiver<FolderChange>, ms: u64) -> Option<FolderChange> {
        rx.recv_timeout(Duration::from_millis(ms)).ok()
    }

    /// The paths of the notifications until none arrives for `ms`.
    fn settle(rx: &mpsc::Receiver<FolderChange>, ms: u64) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        for _ in 0..10_000 {
            match next(rx, ms) {
                Some(c) => seen.extend(c.paths.unwrap_or_else(|| vec!["*".into()])),
                None => return seen,
            }
        }
        panic!("notifications never stop");
    }

    /// The paths of the notifications from the next one (within 5 s) until they stop.
    fn arrived(rx: &mpsc::Receiver<FolderChange>) -> BTreeSet<String> {
        let first = next(rx, 5000).expect("a notification");
        let mut seen = settle(rx, 200);
        seen.extend(first.paths.unwrap_or_else(|| vec!["*".into()]));
        seen
    }

    fn set(p: &[&str]) -> BTreeSet<String> {
        p.iter().map(|p| p.to_string()).collect()
    }

    #[test]
    fn changes_are_reported_and_own_writes_and_reads_are_not() {
        let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let dir = tmp.path();
        std::fs::create_dir_all(dir.join(".dat")).unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.join("a.txt"), b"one").unwrap_or_else(|e| panic!("{e}"));
        let (tx, rx) = mpsc::channel();
        let _w = FolderWatcher::start(dir, move |c| {
            let _ = tx.send(c);
        })
        .unwrap_or_else(|e| panic!("{e}"));

        // The archive's own writes and reading the files are silent.
        std::fs::write(dir.join(".dat/metadata.tree"), b"x").unwrap_or_else(|e| panic!("{e}"));
        let _ = std::fs::read(dir.join("a.txt")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next(&rx, 300), None);

        // A changed file, a new folder and a file inside it (created after the watch
        // started), a rename, a deletion: each is reported, by path.
        std::fs::write(dir.join("a.txt"), b"two").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(arrived(&rx), set(&["a.txt"]));
        std::fs::create_dir(dir.join("sub")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(settle(&rx, 200), set(&["sub"]));
        std::fs::write(dir.join("sub/b.txt"), b"b").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(arrived(&rx), set(&["sub/b.txt"]));
        std::fs::rename(dir.join("sub/b.txt"), dir.join("sub/c.txt"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(arrived(&rx), set(&["sub/b.txt", "sub/c.txt"]));
        std::fs::remove_file(dir.join("a.txt")).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(arrived(&rx), set(&["a.txt"]));
    }
}
