//! Where a feed's bytes live: one [`Storage`] per slot, six slots per feed ([`FeedStorage`]).
//!
//! A slot is a flat byte array with positioned reads and writes, like hypercore's
//! `random-access-storage`. The feed never keeps file contents in memory beyond the bitfield
//! pages, so everything else goes through these calls.
//!
//! # Write order and crash safety
//!
//! Every append and every verified `put` writes in this order:
//!
//! 1. `data` (the block bytes),
//! 2. `tree` (leaf and parent nodes),
//! 3. `signatures` (the batch's signature, plus zeroed entries for the other blocks of the batch),
//! 4. `bitfield` (the dirty pages only).
//!
//! The bitfield is the commit record: on open the length is derived from the tree bits
//! (DAT-SPEC §3.7), so a crash before step 4 leaves the previous length, and bytes written past
//! it are simply overwritten by the next append. A crash *during* step 4 (some pages written,
//! or a page torn) can expose a length whose signature is blank; [`crate::feed::Feed::open`]
//! then steps back to the last length that has a signature and clears the bits above it.
//!
//! # fsync policy
//!
//! Like JS hypercore, nothing is fsynced implicitly: the order above protects against a process
//! crash, which is what a writer meets in practice, and an fsync per append would cost more
//! than the append itself. Call [`crate::feed::Feed::sync`] when the bytes must survive power
//! loss (it fsyncs data, tree and signatures before the bitfield).

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// One slot (file) of a feed: synchronous positioned I/O.
pub trait Storage: Send {
    /// Fill `buf` from `offset`; `UnexpectedEof` if the slot ends first.
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Write `data` at `offset`, growing the slot (with zeros) as needed.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Write `parts` back to back from `offset`, as one [`Storage::write_at`] of their
    /// concatenation does (which is what this default does, copying them together).
    fn write_parts_at(&mut self, offset: u64, parts: &[&[u8]]) -> io::Result<()> {
        match parts {
            [] => Ok(()),
            [one] => self.write_at(offset, one),
            _ => self.write_at(offset, &parts.concat()),
        }
    }
    /// Current length in bytes (0 for a slot never written).
    fn len(&self) -> io::Result<u64>;
    /// Whether the slot holds no bytes.
    fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
    /// Cut or extend (with zeros) the slot to `len` bytes.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
    /// Make written bytes durable.
    fn sync_data(&mut self) -> io::Result<()>;
    /// Clear a byte range (sparse clones drop blocks this way). The default keeps the bytes,
    /// which is always correct because the bitfield no longer points at them.
    fn delete(&mut self, offset: u64, len: u64) -> io::Result<()> {
        let _ = (offset, len);
        Ok(())
    }
}

/// A file on disk, opened on first use and created (with its parent directories) on first
/// write, so opening a read-only feed never creates files.
#[derive(Debug)]
pub struct FileStorage {
    path: PathBuf,
    file: Option<File>,
    writable: bool,
    /// The file opened for reading, kept once it exists: a feed that is only read (a share of
    /// an archive, a reader) reads each block's tree nodes and signature, and opening the file
    /// for each read was most of a transfer's system calls.
    reader: OnceLock<File>,
}

impl FileStorage {
    /// A slot backed by `path` (nothing is touched until the first read or write).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            file: None,
            writable: false,
            reader: OnceLock::new(),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_read(&self) -> io::Result<Option<File>> {
        match File::open(&self.path) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn file_for_write(&mut self) -> io::Result<&File> {
        if !self.writable {
            if let Some(parent) = self.path.parent() {
                fs::create_dir_all(parent)?;
            }
            let f = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&self.path)?;
            self.file = Some(f);
            self.writable = true;
        }
        self.file
            .as_ref()
            .ok_or_else(|| io::Error::other("file not open"))
    }
}

impl Storage for FileStorage {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if let Some(f) = self.file.as_ref().or_else(|| self.reader.get()) {
            return f.read_exact_at(buf, offset);
        }
        match self.open_read()? {
            Some(f) => self.reader.get_or_init(|| f).read_exact_at(buf, offset),
            None if buf.is_empty() => Ok(()),
            None => Err(io::ErrorKind::UnexpectedEof.into()),
        }
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file_for_write()?.write_all_at(data, offset)
    }

    /// One `lseek` and `writev` per 1024 parts (the kernel's limit) instead of a copy.
    fn write_parts_at(&mut self, offset: u64, parts: &[&[u8]]) -> io::Result<()> {
        use std::io::{IoSlice, Seek, SeekFrom, Write};
        let mut file = self.file_for_write()?;
        file.seek(SeekFrom::Start(offset))?;
        for group in parts.chunks(1024) {
            let mut slices: Vec<IoSlice<'_>> = group
                .iter()
                .filter(|p| !p.is_empty())
                .map(|p| IoSlice::new(p))
                .collect();
            let mut rest = &mut slices[..];
            while !rest.is_empty() {
                match file.write_vectored(rest) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => IoSlice::advance_slices(&mut rest, n),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        match &self.file {
            Some(f) => Ok(f.metadata()?.len()),
            None => match fs::metadata(&self.path) {
                Ok(m) => Ok(m.len()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
                Err(e) => Err(e),
            },
        }
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.file_for_write()?.set_len(len)
    }

    fn sync_data(&mut self) -> io::Result<()> {
        match &self.file {
            Some(f) => f.sync_data(),
            None => Ok(()),
        }
    }
}

/// An in-memory slot. Clones share the same bytes (a handle), so a test can keep a handle
/// to a slot it gave to a feed; [`MemoryStorage::snapshot`] makes an independent copy.
#[derive(Clone, Default, Debug)]
pub struct MemoryStorage {
    bytes: Arc<Mutex<Vec<u8>>>,
}

impl MemoryStorage {
    /// An empty slot.
    pub fn new() -> Self {
        Self::default()
    }

    /// A slot holding `bytes`.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self {
            bytes: Arc::new(Mutex::new(bytes)),
        }
    }

    /// A copy of the current bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.lock().clone()
    }

    /// An independent slot with a copy of the current bytes.
    pub fn snapshot(&self) -> Self {
        Self::from_bytes(self.to_vec())
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        // A poisoned lock only means another thread panicked mid-write; the bytes are still
        // a valid (possibly torn) slot, which is exactly what recovery handles.
        self.bytes.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Storage for MemoryStorage {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        if buf.is_empty() {
            return Ok(());
        }
        let bytes = self.lock();
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let end = start
            .checked_add(buf.len())
            .ok_or(io::ErrorKind::UnexpectedEof)?;
        let src = bytes.get(start..end).ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let mut bytes = self.lock();
        let start = usize::try_from(offset).map_err(|_| io::ErrorKind::OutOfMemory)?;
        let end = start
            .checked_add(data.len())
            .ok_or(io::ErrorKind::OutOfMemory)?;
        if bytes.len() < end {
            bytes.resize(end, 0);
        }
        bytes[start..end].copy_from_slice(data);
        Ok(())
    }

    fn len(&self) -> io::Result<u64> {
        Ok(self.lock().len() as u64)
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let len = usize::try_from(len).map_err(|_| io::ErrorKind::OutOfMemory)?;
        self.lock().resize(len, 0);
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }

    fn delete(&mut self, offset: u64, len: u64) -> io::Result<()> {
        let mut bytes = self.lock();
        let size = bytes.len() as u64;
        let start = offset.min(size) as usize;
        let end = offset.saturating_add(len).min(size) as usize;
        bytes[start..end].fill(0);
        Ok(())
    }
}

/// The six slots of a hypercore feed, named as hypercore names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Slot {
    /// The 32-byte public key.
    Key,
    /// The 64-byte libsodium secret key (writers only).
    SecretKey,
    /// Merkle tree nodes (SLEEP, 40-byte entries).
    Tree,
    /// The concatenated blocks.
    Data,
    /// Bitfield pages (SLEEP).
    Bitfield,
    /// Root signatures (SLEEP, 64-byte entries).
    Signatures,
}

impl Slot {
    /// All slots, in hypercore's order.
    pub const ALL: [Slot; 6] = [
        Slot::Key,
        Slot::SecretKey,
        Slot::Tree,
        Slot::Data,
        Slot::Bitfield,
        Slot::Signatures,
    ];

    /// hypercore's name for the slot, which is also its file name in the flat layout.
    pub fn name(self) -> &'static str {
        match self {
            Slot::Key => "key",
            Slot::SecretKey => "secret_key",
            Slot::Tree => "tree",
            Slot::Data => "data",
            Slot::Bitfield => "bitfield",
            Slot::Signatures => "signatures",
        }
    }
}

impl std::fmt::Display for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One [`Storage`] per slot; the secret key slot is optional (readers and hyperdrive content
/// feeds have none).
pub struct FeedStorage {
    pub(crate) key: Box<dyn Storage>,
    pub(crate) secret_key: Option<Box<dyn Storage>>,
    pub(crate) tree: Box<dyn Storage>,
    pub(crate) data: Box<dyn Storage>,
    pub(crate) bitfield: Box<dyn Storage>,
    pub(crate) signatures: Box<dyn Storage>,
}

impl std::fmt::Debug for FeedStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedStorage")
            .field("secret_key", &self.secret_key.is_some())
            .finish_non_exhaustive()
    }
}

impl FeedStorage {
    /// Build from one storage per slot, made by `make`.
    pub fn from_fn(mut make: impl FnMut(Slot) -> Box<dyn Storage>) -> Self {
        Self {
            key: make(Slot::Key),
            secret_key: Some(make(Slot::SecretKey)),
            tree: make(Slot::Tree),
            data: make(Slot::Data),
            bitfield: make(Slot::Bitfield),
            signatures: make(Slot::Signatures),
        }
    }

    /// Six fresh in-memory slots.
    pub fn memory() -> Self {
        Self::from_fn(|_| Box::new(MemoryStorage::new()))
    }

    /// In-memory slots sharing bytes with `files` (tests keep the handles to inspect or
    /// snapshot what the feed wrote).
    pub fn from_memory(files: &MemoryFeedFiles) -> Self {
        Self::from_fn(|slot| Box::new(files.slot(slot).clone()))
    }

    /// `dir/{key,secret_key,tree,data,bitfield,signatures}`: hypercore's default layout.
    pub fn flat_dir(dir: &Path) -> Self {
        Self::from_fn(|slot| Box::new(FileStorage::new(dir.join(slot.name()))))
    }

    /// `dir/<name>.{key,secret_key,tree,...}`: the layout hyperdrive uses with a single
    /// directory (`metadata.tree`, `content.data`, ...), e.g. the "sleep" fixture layout.
    pub fn prefixed(dir: &Path, name: &str) -> Self {
        Self::from_fn(|slot| Box::new(FileStorage::new(dir.join(format!("{name}.{slot}")))))
    }

    /// Replace one slot (hyperdrive puts the content feed's data in the working files).
    pub fn with_slot(mut self, slot: Slot, storage: Box<dyn Storage>) -> Self {
        match slot {
            Slot::Key => self.key = storage,
            Slot::SecretKey => self.secret_key = Some(storage),
            Slot::Tree => self.tree = storage,
            Slot::Data => self.data = storage,
            Slot::Bitfield => self.bitfield = storage,
            Slot::Signatures => self.signatures = storage,
        }
        self
    }

    /// Drop the secret key slot: the feed is opened read-only and never stores a secret key.
    pub fn without_secret_key(mut self) -> Self {
        self.secret_key = None;
        self
    }

    /// The box holding a slot's storage (appends lend it to their helper thread).
    pub(crate) fn slot_box(&mut self, slot: Slot) -> Option<&mut Box<dyn Storage>> {
        Some(match slot {
            Slot::Key => &mut self.key,
            Slot::SecretKey => self.secret_key.as_mut()?,
            Slot::Tree => &mut self.tree,
            Slot::Data => &mut self.data,
            Slot::Bitfield => &mut self.bitfield,
            Slot::Signatures => &mut self.signatures,
        })
    }

    pub(crate) fn slot_mut(&mut self, slot: Slot) -> Option<&mut (dyn Storage + 'static)> {
        Some(match slot {
            Slot::Key => self.key.as_mut(),
            Slot::SecretKey => self.secret_key.as_deref_mut()?,
            Slot::Tree => self.tree.as_mut(),
            Slot::Data => self.data.as_mut(),
            Slot::Bitfield => self.bitfield.as_mut(),
            Slot::Signatures => self.signatures.as_mut(),
        })
    }
}

/// Handles to six in-memory slots, for tests that inspect or snapshot a feed's bytes.
#[derive(Clone, Default, Debug)]
pub struct MemoryFeedFiles {
    /// One slot per [`Slot`], in [`Slot::ALL`] order.
    pub slots: [MemoryStorage; 6],
}

impl MemoryFeedFiles {
    /// Six empty slots.
    pub fn new() -> Self {
        Self::default()
    }

    /// The handle of one slot.
    pub fn slot(&self, slot: Slot) -> &MemoryStorage {
        let i = Slot::ALL.iter().position(|s| *s == slot).unwrap_or(0);
        &self.slots[i]
    }

    /// Independent copies of all six slots.
    pub fn snapshot(&self) -> Self {
        Self {
            slots: self.slots.clone().map(|s| s.snapshot()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_read_write_truncate() {
        let mut m = MemoryStorage::new();
        m.write_at(4, b"abc").unwrap();
        assert_eq!(m.to_vec(), b"\0\0\0\0abc");
        let mut buf = [0u8; 3];
        m.read_at(4, &mut buf).unwrap();
        assert_eq!(&buf, b"abc");
        assert_eq!(
            m.read_at(5, &mut buf).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        m.truncate(2).unwrap();
        assert_eq!(m.len().unwrap(), 2);
        let snap = m.snapshot();
        m.write_at(0, b"zz").unwrap();
        assert_eq!(snap.to_vec(), vec![0, 0]);
    }

    #[test]
    fn file_is_created_lazily_with_parents() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a/b/tree");
        let mut f = FileStorage::new(&path);
        assert_eq!(f.len().unwrap(), 0);
        let mut buf = [0u8; 1];
        assert!(f.read_at(0, &mut buf).is_err());
        assert!(!path.exists());
        f.write_at(3, b"x").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"\0\0\0x");
        f.read_at(3, &mut buf).unwrap();
        assert_eq!(&buf, b"x");
    }
}
