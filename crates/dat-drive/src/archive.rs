//! An archive: the metadata feed (its key is the Dat link) plus the content feed it names in
//! entry 0 (DAT-SPEC §5.1). Reads work at any version; writes append content blocks, then the
//! metadata entry whose `paths` index the tree algorithms compute.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use dat_core::crypto::derive_content_keypair;
use dat_core::{
    DatDir, DiscoveryKey, Feed, FeedError, FeedStorage, KeyPair, MemoryStorage, PublicKey,
    SecretKey, Slot,
};

use crate::cache::ByteCache;
use crate::diff::Diff;
use crate::dir_index::DirIndexes;
use crate::error::DriveError;
use crate::index_header::IndexHeader;
use crate::limits::{DIR_INDEX_BYTES, ENTRY_CACHE_BYTES, NAME_CACHE_BYTES};
use crate::node::{Entry, EntryName};
use crate::tree::{EntrySource, SourceError, Tree};
use crate::working_files::WorkingHandle;

/// Where the content feed's block bytes live.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContentData {
    /// In the content feed's own `data` slot: every version stays readable (archival).
    Stored,
    /// In the files of this working folder (dat's "latest" mode, DAT-SPEC §5.6): only the
    /// newest version of each file exists.
    WorkingFiles(PathBuf),
}

/// A hyperdrive archive.
pub struct Archive {
    pub(crate) metadata: Arc<Mutex<Feed>>,
    pub(crate) content: Feed,
    cache: Mutex<ByteCache<Entry>>,
    names: Mutex<ByteCache<EntryName>>,
    dirs: Mutex<DirIndexes>,
    entries_decoded: AtomicU64,
    names_decoded: AtomicU64,
    pub(crate) working: Option<WorkingHandle>,
}

impl std::fmt::Debug for Archive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Archive")
            .field("key", &self.key())
            .field("version", &self.version())
            .field("latest_mode", &self.working.is_some())
            .finish_non_exhaustive()
    }
}

impl Archive {
    /// A new archive: creates the metadata feed with `keys`, the content feed with the key
    /// pair derived from it (§1.5; its secret key is never stored), and appends the header.
    pub fn create(
        metadata: FeedStorage,
        content: FeedStorage,
        data: ContentData,
        keys: KeyPair,
    ) -> Result<Self, DriveError> {
        let secret = keys.secret.clone();
        let meta = Feed::create(metadata, keys).map_err(DriveError::metadata)?;
        Self::finish_create(meta, content, &data, &secret)
    }

    /// The second half of a create, also run when an archive is opened whose create was cut
    /// short before the header entry: the content feed (created, or opened if it got that
    /// far) and the header that names it.
    fn finish_create(
        meta: Feed,
        content: FeedStorage,
        data: &ContentData,
        secret: &SecretKey,
    ) -> Result<Self, DriveError> {
        let content_keys = derive_content_keypair(secret);
        let (metadata, working) = share(meta, data);
        let content =
            with_data(content, &working).with_slot(Slot::SecretKey, Box::new(MemoryStorage::new()));
        let content = Feed::open_or_create(content, content_keys).map_err(DriveError::content)?;
        let header = IndexHeader::hyperdrive(content.key()).encode();
        let archive = Self::assemble(metadata, content, working);
        archive
            .metadata()
            .append(&header)
            .map_err(DriveError::metadata)?;
        Ok(archive)
    }

    /// Open an archive whose metadata feed is stored here; entry 0 must be stored locally.
    /// `secret` is the metadata secret key (hypercore keeps it in the metadata storage, but
    /// the content key pair is derived from it, so a writer passes it here too); without it
    /// the archive is opened read-only.
    pub fn open(
        metadata: FeedStorage,
        content: FeedStorage,
        data: ContentData,
        secret: Option<&SecretKey>,
    ) -> Result<Self, DriveError> {
        let meta = Feed::open(metadata).map_err(DriveError::metadata)?;
        Self::from_metadata(meta, content, data, secret)
    }

    /// Build an archive around an open metadata feed (e.g. a clone that has just received
    /// entry 0): the content key is read from entry 0; a writer's content secret key is
    /// derived from `secret`.
    pub fn from_metadata(
        meta: Feed,
        content: FeedStorage,
        data: ContentData,
        secret: Option<&SecretKey>,
    ) -> Result<Self, DriveError> {
        let writer = meta.writable() && secret.is_some_and(|s| s.public_key() == *meta.key());
        if let (0, true, Some(secret)) = (meta.len(), writer, secret) {
            return Self::finish_create(meta, content, &data, secret);
        }
        let header = meta.get(0).map_err(DriveError::metadata)?;
        let content_key = IndexHeader::decode(&header)
            .and_then(|h| h.content_key())
            .map_err(DriveError::BadHeader)?;
        let (metadata, working) = share(meta, &data);
        let content = with_data(content, &working);
        let derived = secret.filter(|_| writer).map(derive_content_keypair);
        let content = match derived {
            Some(keys) if keys.public == content_key => {
                let secret = MemoryStorage::from_bytes(keys.secret.to_libsodium_bytes().to_vec());
                let storage = content.with_slot(Slot::SecretKey, Box::new(secret));
                Feed::open(storage)
            }
            _ => Feed::open_or_create_reader(content.without_secret_key(), content_key),
        }
        .map_err(DriveError::content)?;
        let mut archive = Self::assemble(metadata, content, working);
        if writer && archive.working.is_some() {
            archive.drop_orphan_content()?;
        }
        Ok(archive)
    }

    /// Content blocks past the end of the last file the metadata names were appended by a
    /// writer that stopped (killed, disk full) before writing that file's entry. In latest
    /// mode their bytes are in no file the archive knows, so they are cleared from the
    /// bitfield, as hyperdrive clears superseded content: the feed stays valid, verify
    /// passes, peers are not offered them, and the next import appends the file again.
    fn drop_orphan_content(&mut self) -> Result<(), DriveError> {
        let mut end = 0;
        // Deletions carry no Stat: walk back to the last entry that has one (entry 0 is the
        // header). Only a run of trailing deletions is walked, one metadata read each.
        for seq in (1..=self.version()).rev() {
            if let Some(stat) = &self.entry_at(seq)?.stat {
                end = stat.offset().saturating_add(stat.blocks());
                break;
            }
        }
        let len = self.content.len();
        if end < len {
            self.content.clear(end..len).map_err(DriveError::content)?;
        }
        Ok(())
    }

    /// The dat-node layout: `.dat/` in `dir` (metadata secret key under the DatDir's secret
    /// directory), content bytes in the working files of `dir` ("latest" mode).
    pub fn create_dat(dir: &Path, dat: &DatDir, keys: KeyPair) -> Result<Self, DriveError> {
        let metadata = dat.metadata(&keys.public);
        Self::create(
            metadata,
            dat.content(),
            ContentData::WorkingFiles(dir.to_path_buf()),
            keys,
        )
    }

    /// Open a dat-node folder (see [`Archive::create_dat`]); writable if the secret key is
    /// in the DatDir's secret directory behind the `metadata.ogd` marker.
    pub fn open_dat(dir: &Path, dat: &DatDir) -> Result<Self, DriveError> {
        let key = dat
            .metadata_key()
            .map_err(DriveError::io(dat.dir().join("metadata.key")))?
            .ok_or(DriveError::metadata(FeedError::NoFeed))?;
        let secret = if dat.owner_marker().exists() {
            read_secret(&dat.secret_key_path(&key.discovery_key()))?
        } else {
            None
        };
        let data = ContentData::WorkingFiles(dir.to_path_buf());
        Self::open(dat.metadata(&key), dat.content(), data, secret.as_ref())
    }

    /// The archival SLEEP layout `dir/{metadata,content}.{key,secret_key,tree,data,...}`
    /// (dat with `latest: false`): every version's content is kept in `content.data`.
    pub fn create_sleep(dir: &Path, keys: KeyPair) -> Result<Self, DriveError> {
        let content = FeedStorage::prefixed(dir, "content").without_secret_key();
        Self::create(
            FeedStorage::prefixed(dir, "metadata"),
            content,
            ContentData::Stored,
            keys,
        )
    }

    /// Open the archival layout of [`Archive::create_sleep`].
    pub fn open_sleep(dir: &Path) -> Result<Self, DriveError> {
        let secret = read_secret(&dir.join("metadata.secret_key"))?;
        let content = FeedStorage::prefixed(dir, "content").without_secret_key();
        Self::open(
            FeedStorage::prefixed(dir, "metadata"),
            content,
            ContentData::Stored,
            secret.as_ref(),
        )
    }

    /// hyperdrive's own default layout `dir/metadata/*`, `dir/content/*` (archival).
    pub fn open_hyperdrive_dir(dir: &Path) -> Result<Self, DriveError> {
        let secret = read_secret(&dir.join("metadata").join("secret_key"))?;
        let content = FeedStorage::flat_dir(&dir.join("content")).without_secret_key();
        Self::open(
            FeedStorage::flat_dir(&dir.join("metadata")),
            content,
            ContentData::Stored,
            secret.as_ref(),
        )
    }

    /// An archive in memory (tests, scratch).
    pub fn in_memory(keys: KeyPair) -> Result<Self, DriveError> {
        Self::create(
            FeedStorage::memory(),
            FeedStorage::memory(),
            ContentData::Stored,
            keys,
        )
    }

    fn assemble(metadata: Arc<Mutex<Feed>>, content: Feed, working: Option<WorkingHandle>) -> Self {
        Self {
            metadata,
            content,
            cache: Mutex::new(ByteCache::new(ENTRY_CACHE_BYTES)),
            names: Mutex::new(ByteCache::new(NAME_CACHE_BYTES)),
            dirs: Mutex::new(DirIndexes::new(DIR_INDEX_BYTES)),
            entries_decoded: AtomicU64::new(0),
            names_decoded: AtomicU64::new(0),
            working,
        }
    }

    /// The metadata feed (its key is the archive key). Do not hold the guard while reading
    /// content in latest mode: the working-files storage locks it to locate files.
    pub fn metadata(&self) -> MutexGuard<'_, Feed> {
        self.metadata.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The content feed.
    pub fn content(&self) -> &Feed {
        &self.content
    }

    /// The content feed, mutably (replication stores verified blocks through it).
    pub fn content_mut(&mut self) -> &mut Feed {
        &mut self.content
    }

    /// The archive key (the metadata feed's public key, the Dat link).
    pub fn key(&self) -> PublicKey {
        *self.metadata().key()
    }

    /// The metadata feed's discovery key.
    pub fn discovery_key(&self) -> DiscoveryKey {
        self.metadata().discovery_key()
    }

    /// The content feed's public key.
    pub fn content_key(&self) -> PublicKey {
        *self.content.key()
    }

    /// Whether both feeds can be appended to.
    pub fn writable(&self) -> bool {
        self.metadata().writable() && self.content.writable()
    }

    /// The latest version: the sequence of the newest metadata entry (0 = only the header).
    pub fn version(&self) -> u64 {
        self.metadata().len().saturating_sub(1)
    }

    /// Whether content lives in the working files ("latest" mode).
    pub fn latest_mode(&self) -> bool {
        self.working.is_some()
    }

    /// The working folder in latest mode.
    pub fn working_dir(&self) -> Option<PathBuf> {
        self.working.as_ref().map(WorkingHandle::dir)
    }

    /// The tree as of `version` (the algorithms of [`Tree`]: get, stat, readdir, list).
    pub fn checkout(&self, version: u64) -> Result<Tree<'_, Self>, DriveError> {
        let latest = self.version();
        if version > latest {
            return Err(DriveError::NoSuchVersion { version, latest });
        }
        Tree::at(self, version)
    }

    /// The tree at the latest version.
    pub fn latest(&self) -> Result<Tree<'_, Self>, DriveError> {
        Tree::at(self, self.version())
    }

    /// Changes between two versions (puts: entries of `to`; dels: entries of `from`).
    pub fn diff(&self, from: u64, to: u64) -> Result<Diff<'_, Self>, DriveError> {
        Ok(Diff::new(self.checkout(from)?, self.checkout(to)?))
    }

    /// The metadata entries of `versions` in order (hyperdrive `history`); entries not
    /// stored locally give [`dat_core::FeedError::NotFound`].
    pub fn history(
        &self,
        versions: Range<u64>,
    ) -> impl Iterator<Item = Result<Arc<Entry>, DriveError>> + '_ {
        let end = versions.end.min(self.version() + 1);
        (versions.start.max(1)..end).map(move |seq| self.entry_at(seq))
    }

    /// Metadata entry `seq` (a version), with errors naming it.
    pub fn entry_at(&self, seq: u64) -> Result<Arc<Entry>, DriveError> {
        self.entry(seq).map_err(|e| match e {
            SourceError::Decode(source) => DriveError::Entry {
                seq,
                version: seq,
                path: String::new(),
                source,
            },
            SourceError::Feed(source) => DriveError::metadata(source),
        })
    }

    /// Every entry that names `path` exactly (puts and deletions), oldest first. There is no
    /// per-file index in hyperdrive 9, so this scans the metadata feed.
    pub fn file_history(&self, path: &str) -> Result<Vec<Arc<Entry>>, DriveError> {
        let name = crate::name::normalize(path).map_err(|source| DriveError::Name {
            name: path.to_string(),
            source,
        })?;
        let mut out = Vec::new();
        for e in self.history(1..u64::MAX) {
            let e = e?;
            if e.name == name {
                out.push(e);
            }
        }
        Ok(out)
    }

    /// Counters of the work reads and writes did (how many entries were decoded from the feed,
    /// how much the caches hold), to check that a put stays cheap as the archive grows.
    pub fn stats(&self) -> ArchiveStats {
        ArchiveStats {
            entries_decoded: self.entries_decoded.load(Ordering::Relaxed),
            names_decoded: self.names_decoded.load(Ordering::Relaxed),
            entry_cache_bytes: lock(&self.cache).bytes(),
            name_cache_bytes: lock(&self.names).bytes(),
        }
    }

    /// Remember an entry just written (or decoded), and its name.
    pub(crate) fn cache_put(&self, entry: Arc<Entry>) {
        let name = EntryName::from(&*entry);
        let size = name.heap_size();
        lock(&self.names).put(entry.seq, Arc::new(name), size);
        let size = entry.heap_size();
        lock(&self.cache).put(entry.seq, entry, size);
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What [`Archive::stats`] reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ArchiveStats {
    /// Whole entries (with their `paths` index) decoded from the metadata feed.
    pub entries_decoded: u64,
    /// Entry names decoded from the metadata feed (without their index).
    pub names_decoded: u64,
    /// Bytes held by the decoded-entry cache.
    pub entry_cache_bytes: usize,
    /// Bytes held by the entry-name cache.
    pub name_cache_bytes: usize,
}

impl EntrySource for Archive {
    fn entry(&self, seq: u64) -> Result<Arc<Entry>, SourceError> {
        if let Some(e) = lock(&self.cache).get(seq) {
            return Ok(e);
        }
        let bytes = self.metadata().get(seq)?;
        let entry = Arc::new(Entry::decode(seq, &bytes)?);
        self.entries_decoded.fetch_add(1, Ordering::Relaxed);
        self.cache_put(entry.clone());
        Ok(entry)
    }

    fn name(&self, seq: u64) -> Result<Arc<EntryName>, SourceError> {
        if let Some(n) = lock(&self.names).get(seq) {
            return Ok(n);
        }
        if let Some(e) = lock(&self.cache).get(seq) {
            return Ok(Arc::new(EntryName::from(&*e)));
        }
        let bytes = self.metadata().get(seq)?;
        let name = Arc::new(EntryName::decode(seq, &bytes)?);
        self.names_decoded.fetch_add(1, Ordering::Relaxed);
        let size = name.heap_size();
        lock(&self.names).put(seq, name.clone(), size);
        Ok(name)
    }

    fn children_named(
        &self,
        dir: &[&str],
        level: &[u64],
        target: Option<&str>,
    ) -> Result<Vec<u64>, SourceError> {
        let depth = dir.len();
        let indexed = lock(&self.dirs).children_named(
            &crate::name::join(dir),
            depth,
            level,
            target,
            |seq| Ok::<_, SourceError>(self.name(seq)?.component(depth).map(Box::from)),
        )?;
        if let Some(found) = indexed {
            return Ok(found);
        }
        let mut out = Vec::new();
        for &seq in level {
            if self.name(seq)?.component(depth) == target {
                out.push(seq);
            }
        }
        Ok(out)
    }
}

/// Polls for metadata entries appended since the last poll (no threads: the caller decides
/// when to look, e.g. after each replication step).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Watch {
    next: u64,
}

impl Watch {
    /// Report entries after `version`.
    pub fn after(version: u64) -> Self {
        Self { next: version + 1 }
    }

    /// The versions that appeared since the last poll (their entries may still be missing
    /// locally on a sparse clone), and advance.
    pub fn poll(&mut self, archive: &Archive) -> Range<u64> {
        let end = archive.version() + 1;
        let start = self.next.max(1).min(end);
        self.next = end;
        start..end
    }
}

fn share(meta: Feed, data: &ContentData) -> (Arc<Mutex<Feed>>, Option<WorkingHandle>) {
    let metadata = Arc::new(Mutex::new(meta));
    let working = match data {
        ContentData::WorkingFiles(dir) => Some(WorkingHandle::new(dir.clone(), metadata.clone())),
        ContentData::Stored => None,
    };
    (metadata, working)
}

fn with_data(content: FeedStorage, working: &Option<WorkingHandle>) -> FeedStorage {
    match working {
        Some(h) => content.with_slot(Slot::Data, h.storage()),
        None => content,
    }
}

/// A libsodium secret key file, if present.
fn read_secret(path: &Path) -> Result<Option<SecretKey>, DriveError> {
    match std::fs::read(path) {
        Ok(bytes) => SecretKey::from_libsodium_bytes(&bytes)
            .map(Some)
            .map_err(|_| DriveError::Feed {
                feed: crate::error::FeedKind::Metadata,
                source: FeedError::Corrupt {
                    file: Slot::SecretKey,
                    index: 0,
                    reason: "secret key file is not 64 bytes",
                },
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DriveError::Io {
            path: path.to_path_buf(),
            source: e,
        }),
    }
}
