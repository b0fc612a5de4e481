//! The archive a replication serves or fills, shared by every connection to every peer.
//!
//! One [`Drive`] owns the two feeds (or only the metadata feed until its entry 0 names the
//! content feed), what is wanted of each, the claim tables that keep two peers from being
//! asked for the same block, and the progress counters. Connections lock it for each batch of
//! messages; what one connection changes (a block stored, a selection grown, the content feed
//! opened) is broadcast to the others, which announce it to their peer or request more.

use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use dat_core::{DatDir, DiscoveryKey, Feed, FeedError, FeedStorage, PublicKey};
use dat_drive::{Archive, ChangeKind, ContentData, DriveError};
use dat_wire::Claims;
use tokio::sync::{Mutex, MutexGuard, broadcast, watch};

use super::latest::{Latest, merge};
use super::peer_ids::PeerIds;
use super::progress::{FeedKind, NetEvent, Progress};

/// What a drive is replicated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Serve a writable archive: upload only.
    Share,
    /// Download every metadata block and the content of the latest version (dat clone, pull
    /// and sync); later versions follow while connected.
    Full,
    /// Download only what is asked for ([`Drive::stat`], [`Drive::read`], [`Drive::fetch`]).
    Sparse,
}

/// How a drive replicates.
#[derive(Clone, Debug)]
pub struct DriveOptions {
    /// Requests in flight per feed per peer.
    pub max_requests: usize,
    /// How long a request may go unanswered before the peer is dropped.
    pub request_timeout: Duration,
    /// How long a sparse operation waits without any progress before failing.
    pub fetch_timeout: Duration,
}

impl Default for DriveOptions {
    fn default() -> Self {
        Self {
            max_requests: 32,
            request_timeout: Duration::from_millis(7500),
            fetch_timeout: Duration::from_secs(60),
        }
    }
}

/// Why a replication operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The archive could not be read or written.
    #[error(transparent)]
    Drive(#[from] DriveError),
    /// A feed could not be opened or stored to.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// A local file could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Nothing arrived for too long.
    #[error("no progress for {seconds} s while {what}")]
    Timeout {
        /// What was being waited for.
        what: &'static str,
        /// The silence allowed.
        seconds: u64,
    },
    /// The folder holds a different archive.
    #[error("{dir} already holds the archive {found}, not {expected}")]
    OtherArchive {
        /// The folder.
        dir: PathBuf,
        /// The archive asked for.
        expected: PublicKey,
        /// The one stored there.
        found: PublicKey,
    },
    /// Replication of this drive stopped on a local failure.
    #[error("replication failed: {0}")]
    Failed(String),
}

/// Where the feeds are stored.
#[derive(Debug)]
pub(crate) enum Store {
    /// dat-node's layout: `.dat/` beside the working files, content in the files ("latest").
    Dat { dir: PathBuf, dat: DatDir },
    /// Archival SLEEP files `dir/{metadata,content}.*`, every version kept.
    Sleep { dir: PathBuf },
    /// In memory.
    Memory,
}

/// A change one connection made that the others must act on.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    /// Blocks became available locally (appended, or downloaded by connection `by`; 0 = local).
    Blocks {
        feed: FeedKind,
        range: Range<u64>,
        by: u64,
    },
    /// The content feed is open: open its channel.
    ContentReady,
    /// What is wanted of a feed changed.
    Selection(FeedKind),
    /// A sparse read needs a content byte offset sought (see `State::seeks`).
    Seek,
    /// A connection was found redundant (see `State::peer_ids`): it closes itself.
    Redundant,
}

/// A replicated archive, cheap to clone (all clones share it).
#[derive(Clone)]
pub struct Drive {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for Drive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drive")
            .field("key", &self.inner.key)
            .field("mode", &self.inner.mode)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Inner {
    pub(crate) key: PublicKey,
    pub(crate) mode: Mode,
    pub(crate) options: DriveOptions,
    pub(crate) state: Mutex<State>,
    pub(crate) changes: broadcast::Sender<Change>,
    pub(crate) progress: watch::Sender<Progress>,
    pub(crate) events: broadcast::Sender<NetEvent>,
    next_conn: AtomicU64,
}

/// The shared state behind the lock.
pub(crate) struct State {
    pub(crate) mode: Mode,
    store: Store,
    pending_meta: Option<Feed>,
    pub(crate) archive: Option<Archive>,
    selection: [Vec<Range<u64>>; 2],
    pub(crate) claims: [Claims; 2],
    pub(crate) latest: Latest,
    pub(crate) progress: Progress,
    announced: [u64; 2],
    /// The length each connection's peer advertised, per feed.
    peer_lengths: [HashMap<u64, u64>; 2],
    completed: Option<u64>,
    pub(crate) failed: Option<String>,
    /// Byte offsets sparse reads are seeking (until `Feed::seek` succeeds locally).
    pub(crate) seeks: Vec<u64>,
    /// Our peer id and the remote ids of live connections.
    pub(crate) peer_ids: PeerIds,
    changes: broadcast::Sender<Change>,
    events: broadcast::Sender<NetEvent>,
    progress_tx: watch::Sender<Progress>,
}

/// A random peer id. Should the system have no randomness, the id is derived from the
/// process, the time and std's per-process hash keys: unique enough not to be mistaken for
/// another peer's.
fn peer_id() -> [u8; 32] {
    use std::hash::{BuildHasher, Hasher};
    let mut id = [0u8; 32];
    if getrandom::fill(&mut id).is_err() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        for (i, part) in id.chunks_exact_mut(8).enumerate() {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(now.as_nanos());
            h.write_u32(std::process::id());
            h.write_usize(i);
            part.copy_from_slice(&h.finish().to_le_bytes());
        }
    }
    id
}

pub(crate) fn ix(kind: FeedKind) -> usize {
    match kind {
        FeedKind::Metadata => 0,
        FeedKind::Content => 1,
    }
}

impl Drive {
    /// Serve `archive` (it should be writable; a read-only archive is served as it is).
    pub fn share(archive: Archive, options: DriveOptions) -> Self {
        let key = archive.key();
        let announced = [archive.metadata().len(), archive.content().len()];
        let drive = Self::assemble(
            key,
            Mode::Share,
            options,
            Store::Memory,
            None,
            Some(archive),
        );
        if let Ok(mut st) = drive.inner.state.try_lock() {
            st.announced = announced;
            st.refresh_counters();
            st.publish();
        }
        drive
    }

    /// Clone (or resume, or update) archive `key` into the dat-node folder `dir`: `.dat/`
    /// holds the feeds, the files of the latest version are written into `dir`.
    pub fn clone_dat(
        dir: &Path,
        dat: DatDir,
        key: PublicKey,
        mode: Mode,
        options: DriveOptions,
    ) -> Result<Self, Error> {
        if let Some(found) = dat.metadata_key().map_err(|source| Error::Io {
            path: dat.dir().join("metadata.key"),
            source,
        })? && found != key
        {
            return Err(Error::OtherArchive {
                dir: dir.to_path_buf(),
                expected: key,
                found,
            });
        }
        let meta = Feed::open_or_create_reader(dat.metadata(&key), key)?;
        let store = Store::Dat {
            dir: dir.to_path_buf(),
            dat,
        };
        Self::from_feed(key, mode, options, store, meta)
    }

    /// Clone archive `key` into archival SLEEP files in `dir` (`metadata.*`, `content.*`).
    pub fn clone_sleep(
        dir: &Path,
        key: PublicKey,
        mode: Mode,
        options: DriveOptions,
    ) -> Result<Self, Error> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let meta = Feed::open_or_create_reader(FeedStorage::prefixed(dir, "metadata"), key)?;
        let store = Store::Sleep {
            dir: dir.to_path_buf(),
        };
        Self::from_feed(key, mode, options, store, meta)
    }

    /// Replicate archive `key` into memory.
    pub fn memory(key: PublicKey, mode: Mode, options: DriveOptions) -> Result<Self, Error> {
        let meta = Feed::open_or_create_reader(FeedStorage::memory(), key)?;
        Self::from_feed(key, mode, options, Store::Memory, meta)
    }

    fn from_feed(
        key: PublicKey,
        mode: Mode,
        options: DriveOptions,
        store: Store,
        meta: Feed,
    ) -> Result<Self, Error> {
        let drive = Self::assemble(key, mode, options, store, Some(meta), None);
        if let Ok(mut st) = drive.inner.state.try_lock() {
            st.ensure_archive()?;
            if mode == Mode::Full {
                st.selection[0] = std::iter::once(0..u64::MAX).collect();
            }
            st.after_metadata()?;
            st.refresh_counters();
            st.publish();
        }
        Ok(drive)
    }

    fn assemble(
        key: PublicKey,
        mode: Mode,
        options: DriveOptions,
        store: Store,
        pending_meta: Option<Feed>,
        archive: Option<Archive>,
    ) -> Self {
        let (changes, _) = broadcast::channel(4096);
        let (events, _) = broadcast::channel(1024);
        let (progress, _) = watch::channel(Progress::default());
        let state = State {
            mode,
            store,
            pending_meta,
            archive,
            selection: [Vec::new(), Vec::new()],
            claims: [Claims::new(), Claims::new()],
            latest: Latest::default(),
            progress: Progress::default(),
            announced: [0, 0],
            peer_lengths: [HashMap::new(), HashMap::new()],
            completed: None,
            failed: None,
            seeks: Vec::new(),
            // One id for every connection of the drive, so that peers (and we) can tell
            // a second connection to the same drive from a new peer.
            peer_ids: PeerIds::new(peer_id()),
            changes: changes.clone(),
            events: events.clone(),
            progress_tx: progress.clone(),
        };
        Self {
            inner: Arc::new(Inner {
                key,
                mode,
                options,
                state: Mutex::new(state),
                changes,
                progress,
                events,
                next_conn: AtomicU64::new(1),
            }),
        }
    }

    /// The archive key (the Dat link).
    pub fn key(&self) -> PublicKey {
        self.inner.key
    }

    /// The discovery key peers look the archive up by.
    pub fn discovery_key(&self) -> DiscoveryKey {
        self.inner.key.discovery_key()
    }

    /// What this drive is replicated for.
    pub fn mode(&self) -> Mode {
        self.inner.mode
    }

    /// The current counters.
    pub fn progress(&self) -> Progress {
        self.inner.progress.borrow().clone()
    }

    /// Counters, updated as blocks arrive.
    pub fn watch_progress(&self) -> watch::Receiver<Progress> {
        self.inner.progress.subscribe()
    }

    /// Events (peers, completed versions) from now on.
    pub fn events(&self) -> broadcast::Receiver<NetEvent> {
        self.inner.events.subscribe()
    }

    pub(crate) fn emit(&self, event: NetEvent) {
        let _ = self.inner.events.send(event);
    }

    pub(crate) fn next_conn_id(&self) -> u64 {
        self.inner.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) async fn lock(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().await
    }

    /// Run `f` on the archive (e.g. an import) from a blocking thread, then announce what it
    /// appended to every peer. `None` while the archive is not known yet.
    pub fn with_archive_blocking<R>(&self, f: impl FnOnce(&mut Archive) -> R) -> Option<R> {
        let mut st = self.inner.state.blocking_lock();
        let r = st.archive.as_mut().map(f);
        st.appended();
        r
    }

    /// Run `f` on the archive (short operations: reads, a single write), then announce what
    /// it appended.
    pub async fn with_archive<R>(&self, f: impl FnOnce(&mut Archive) -> R) -> Option<R> {
        let mut st = self.lock().await;
        let r = st.archive.as_mut().map(f);
        st.appended();
        r
    }

    /// Wait until everything wanted is stored (a full clone is then complete at the version
    /// peers advertised), or replication failed.
    pub async fn wait_complete(&self) -> Result<u64, Error> {
        let mut rx = self.inner.progress.subscribe();
        loop {
            {
                let p = rx.borrow_and_update();
                if p.complete {
                    return Ok(p.version);
                }
            }
            if let Some(reason) = self.lock().await.failed.clone() {
                return Err(Error::Failed(reason));
            }
            if rx.changed().await.is_err() {
                return Err(Error::Failed("drive closed".into()));
            }
        }
    }

    /// Stop replicating and write everything to disk.
    pub async fn flush(&self) -> Result<(), Error> {
        let mut st = self.lock().await;
        if let Some(a) = st.archive.as_mut() {
            a.metadata().sync()?;
            a.content_mut().sync()?;
        } else if let Some(m) = st.pending_meta.as_mut() {
            m.sync()?;
        }
        Ok(())
    }
}

impl State {
    /// Run `f` on a feed, if it exists yet.
    pub(crate) fn with_feed<R>(
        &mut self,
        kind: FeedKind,
        f: impl FnOnce(&mut Feed) -> R,
    ) -> Option<R> {
        match kind {
            FeedKind::Metadata => match &mut self.archive {
                Some(a) => Some(f(&mut a.metadata())),
                None => self.pending_meta.as_mut().map(f),
            },
            FeedKind::Content => self.archive.as_mut().map(|a| f(a.content_mut())),
        }
    }

    /// The content feed's key, once known.
    pub(crate) fn content_key(&self) -> Option<PublicKey> {
        self.archive.as_ref().map(Archive::content_key)
    }

    /// What is wanted of `kind`.
    pub(crate) fn selection(&self, kind: FeedKind) -> Vec<Range<u64>> {
        self.selection[ix(kind)].clone()
    }

    fn selected(&self, kind: FeedKind, index: u64) -> bool {
        let sel = &self.selection[ix(kind)];
        let i = sel.partition_point(|r| r.end <= index);
        sel.get(i).is_some_and(|r| r.contains(&index))
    }

    pub(crate) fn send(&self, change: Change) {
        let _ = self.changes.send(change);
    }

    pub(crate) fn emit(&self, event: NetEvent) {
        let _ = self.events.send(event);
    }

    /// Publish the counters to watchers.
    pub(crate) fn publish(&mut self) {
        if let Some(a) = &self.archive {
            self.progress.metadata.length = a.metadata().len();
            self.progress.content.length = a.content().len();
            self.progress.version = a.version();
        } else if let Some(m) = &self.pending_meta {
            self.progress.metadata.length = m.len();
        }
        if self.mode == Mode::Full {
            let m = &mut self.progress.metadata;
            m.wanted_blocks = m.remote_length.max(m.length);
        }
        self.progress_tx.send_replace(self.progress.clone());
    }

    /// A verified block of `size` bytes arrived.
    pub(crate) fn downloaded(&mut self, kind: FeedKind, index: u64, size: u64) {
        let selected = self.selected(kind, index);
        let p = self.progress.feed_mut(kind);
        p.downloaded_blocks += 1;
        p.downloaded_bytes += size;
        if selected {
            p.have_blocks += 1;
            p.have_bytes += size;
        }
    }

    /// The peer of connection `conn` advertised `length` blocks.
    pub(crate) fn remote_length(&mut self, kind: FeedKind, conn: u64, length: u64) {
        let lengths = &mut self.peer_lengths[ix(kind)];
        let l = lengths.entry(conn).or_insert(0);
        *l = (*l).max(length);
        let longest = lengths.values().copied().max().unwrap_or(length);
        self.progress.feed_mut(kind).remote_length = longest;
    }

    /// Connection `conn` ended. While other peers have advertised lengths, the remote length
    /// is theirs: a peer that announced blocks it never delivered (a longer feed than the
    /// writer signed) would otherwise keep a full clone from ever completing. With no peer
    /// left the last figure stays (nobody says otherwise).
    pub(crate) fn peer_left(&mut self, conn: u64) {
        for kind in [FeedKind::Metadata, FeedKind::Content] {
            let lengths = &mut self.peer_lengths[ix(kind)];
            if lengths.remove(&conn).is_some()
                && let Some(longest) = lengths.values().copied().max()
            {
                self.progress.feed_mut(kind).remote_length = longest;
            }
        }
        let done = self.after_metadata().and_then(|()| self.check_complete());
        if let Err(e) = done {
            self.fail(e.to_string());
        }
    }

    /// Recount what is stored of the wanted blocks (after a selection changed).
    pub(crate) fn refresh_counters(&mut self) {
        for kind in [FeedKind::Metadata, FeedKind::Content] {
            let sel = self.selection[ix(kind)].clone();
            let counts = self.with_feed(kind, |f| {
                let len = f.len();
                sel.iter().fold((0u64, 0u64), |(w, h), r| {
                    // An open-ended selection ("everything") counts what exists so far.
                    let end = if r.end == u64::MAX {
                        len.max(r.start)
                    } else {
                        r.end
                    };
                    (w + (end - r.start), h + f.downloaded(r.start..end))
                })
            });
            let (wanted, have) = counts.unwrap_or((0, 0));
            let p = self.progress.feed_mut(kind);
            p.wanted_blocks = wanted;
            p.have_blocks = have;
        }
        self.progress.content.wanted_bytes = self.latest.bytes();
        self.progress.content.have_bytes = self.content_bytes_stored();
    }

    /// Bytes of the live files stored, prorated by blocks for partly stored ones.
    fn content_bytes_stored(&self) -> u64 {
        let Some(a) = &self.archive else { return 0 };
        let content = a.content();
        self.latest.stored_bytes(|r| content.downloaded(r))
    }

    /// Ask for `range` of `kind` in addition to what is wanted (sparse mode).
    pub(crate) fn want(&mut self, kind: FeedKind, range: Range<u64>) {
        let sel = &mut self.selection[ix(kind)];
        if range.is_empty()
            || sel
                .iter()
                .any(|r| r.start <= range.start && range.end <= r.end)
        {
            return;
        }
        sel.push(range);
        merge(sel);
        self.refresh_counters();
        self.send(Change::Selection(kind));
    }

    /// Open the archive around the metadata feed once entry 0 (the header naming the
    /// content feed) is stored.
    pub(crate) fn ensure_archive(&mut self) -> Result<(), Error> {
        if self.archive.is_some() || !self.pending_meta.as_ref().is_some_and(|m| m.has(0)) {
            return Ok(());
        }
        let Some(meta) = self.pending_meta.take() else {
            return Ok(());
        };
        let (content, data) = match &self.store {
            Store::Dat { dir, dat } => (dat.content(), ContentData::WorkingFiles(dir.clone())),
            Store::Sleep { dir } => (
                FeedStorage::prefixed(dir, "content").without_secret_key(),
                ContentData::Stored,
            ),
            Store::Memory => (FeedStorage::memory(), ContentData::Stored),
        };
        let archive = Archive::from_metadata(meta, content, data, None)?;
        self.archive = Some(archive);
        self.send(Change::ContentReady);
        Ok(())
    }

    /// React to new metadata: open the content feed, and in a full clone, when the metadata
    /// is complete, work out which content the new entries need.
    pub(crate) fn after_metadata(&mut self) -> Result<(), Error> {
        self.ensure_archive()?;
        if self.mode != Mode::Full {
            return Ok(());
        }
        let Some(archive) = &mut self.archive else {
            return Ok(());
        };
        let len = archive.metadata().len();
        let stored = archive.metadata().downloaded(0..len);
        if len == 0
            || stored < len
            || len < self.progress.metadata.remote_length
            || self.latest.scanned() >= len
        {
            return Ok(());
        }
        let dropped = self.latest.scan(archive, len)?;
        // Requests in flight for dropped blocks are cancelled by each connection when the
        // selection change reaches it (Replicator::set_selection).
        for r in dropped {
            if let Some(a) = &mut self.archive {
                a.content_mut().clear(r)?;
            }
        }
        let ranges = self.latest.content_ranges();
        if ranges != self.selection[1] {
            self.selection[1] = ranges;
            self.send(Change::Selection(FeedKind::Content));
        }
        self.refresh_counters();
        self.emit(NetEvent::MetadataComplete { version: len - 1 });
        Ok(())
    }

    /// Whether everything wanted is stored; on the first time for a version, finish the
    /// working folder and report it.
    pub(crate) fn check_complete(&mut self) -> Result<(), Error> {
        if self.mode != Mode::Full {
            return Ok(());
        }
        let Some(archive) = &self.archive else {
            self.progress.complete = false;
            return Ok(());
        };
        let len = archive.metadata().len();
        let content = archive.content();
        // The counters are exact (refreshed on every selection change), so the bitfield scan
        // below runs only once they say everything is here.
        let done = self.progress.content.have_blocks >= self.progress.content.wanted_blocks
            && self.progress.metadata.remote_length > 0
            && len >= self.progress.metadata.remote_length
            && self.latest.scanned() == len
            && archive.metadata().downloaded(0..len) == len
            && self.selection[1]
                .iter()
                .all(|r| content.downloaded(r.clone()) == r.end - r.start);
        let version = len.saturating_sub(1);
        if done && self.completed != Some(version) {
            self.finish_files()?;
            self.completed = Some(version);
            self.emit(NetEvent::Complete { version });
        }
        self.progress.complete = done;
        Ok(())
    }

    /// Size the working files of the latest version and create the empty ones and the
    /// directories (blocks only ever create the files they land in): those that changed
    /// since the version finished last (all, the first time). Record the version whose old
    /// content is cleared (`.dat/metadata.latest`, as hyperdrive does).
    fn finish_files(&mut self) -> Result<(), Error> {
        let Store::Dat { dir, dat } = &self.store else {
            return Ok(());
        };
        let version = self.archive.as_ref().map_or(0, Archive::version);
        if let Some(a) = &self.archive {
            let since = self.completed.filter(|v| *v <= version).unwrap_or(0);
            for change in a.diff(since, version)? {
                let change = change?;
                if let (ChangeKind::Put, Some(st)) = (change.kind, change.stat) {
                    super::finish::size_file(dir, &change.name, &st)?;
                }
            }
        }
        let path = dat.dir().join("metadata.latest");
        std::fs::write(&path, version.to_be_bytes())
            .map_err(|source| Error::Io { path, source })?;
        if let Some(a) = &mut self.archive {
            a.metadata().sync()?;
            a.content_mut().sync()?;
        }
        Ok(())
    }

    /// Size (or create) one working file fetched by a sparse clone.
    pub(crate) fn finish_file(&mut self, stored: &str, st: &dat_drive::Stat) -> Result<(), Error> {
        match &self.store {
            Store::Dat { dir, .. } => super::finish::size_file(dir, stored, st),
            _ => Ok(()),
        }
    }

    /// After local writes: announce new blocks of both feeds to every peer.
    pub(crate) fn appended(&mut self) {
        let Some(a) = &self.archive else { return };
        let lens = [a.metadata().len(), a.content().len()];
        let version = a.version();
        let mut any = false;
        for (i, kind) in [FeedKind::Metadata, FeedKind::Content]
            .into_iter()
            .enumerate()
        {
            if lens[i] > self.announced[i] {
                self.send(Change::Blocks {
                    feed: kind,
                    range: self.announced[i]..lens[i],
                    by: 0,
                });
                self.announced[i] = lens[i];
                any = true;
            }
        }
        if any {
            self.emit(NetEvent::Appended { version });
        }
        self.publish();
    }

    /// Replication of this drive cannot go on.
    pub(crate) fn fail(&mut self, reason: String) {
        if self.failed.is_none() {
            self.emit(NetEvent::Failed {
                reason: reason.clone(),
            });
            self.failed = Some(reason);
            self.publish();
        }
    }
}
