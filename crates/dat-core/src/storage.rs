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
///
/// A file that grows has disk space reserved ahead of its end (`Reserve`), which the
/// file's size does not show and dropping the storage gives back.
#[derive(Debug)]
pub struct FileStorage {
    path: PathBuf,
    file: Option<File>,
    writable: bool,
    reserve: Reserve,
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
            reserve: Reserve::default(),
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
            self.reserve = Reserve::starting_at(f.metadata()?.len());
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
        let end = offset.saturating_add(data.len() as u64);
        self.file_for_write()?;
        let Some(file) = self.file.as_ref() else {
            return Err(io::Error::other("file not open"));
        };
        self.reserve.before_write(file, offset, end);
        file.write_all_at(data, offset)
    }

    /// Positioned gathered writes (`pwritev`), parts that touch in memory sent as one
    /// segment ([`crate::gather`]), instead of a copy.
    fn write_parts_at(&mut self, offset: u64, parts: &[&[u8]]) -> io::Result<()> {
        let len: u64 = parts.iter().map(|p| p.len() as u64).sum();
        self.file_for_write()?;
        let Some(file) = self.file.as_ref() else {
            return Err(io::Error::other("file not open"));
        };
        self.reserve
            .before_write(file, offset, offset.saturating_add(len));
        crate::gather::write_all_at(file, parts, offset)
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
        self.file_for_write()?.set_len(len)?;
        // Cutting the file also frees the space reserved past its end.
        self.reserve = Reserve::starting_at(len);
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        match &self.file {
            Some(f) => f.sync_data(),
            None => Ok(()),
        }
    }

    /// Punch a hole: the range reads as zeros (as in [`MemoryStorage`]), the size stays,
    /// and the disk blocks are freed, so a feed that clears blocks (`Feed::clear`) gives
    /// back their space. Where the filesystem cannot punch holes the bytes stay, which is
    /// still correct: the bitfield no longer points at them.
    fn delete(&mut self, offset: u64, len: u64) -> io::Result<()> {
        if len == 0 || (self.file.is_none() && !self.path.exists()) {
            return Ok(());
        }
        let file = self.file_for_write()?;
        let punch = rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE;
        match rustix::fs::fallocate(file, punch, offset, len) {
            Ok(()) => Ok(()),
            Err(e) if e == rustix::io::Errno::OPNOTSUPP || e == rustix::io::Errno::NOSYS => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl Drop for FileStorage {
    fn drop(&mut self) {
        if let Some(file) = &self.file {
            self.reserve.give_back(file);
        }
    }
}

/// Disk space allocated ahead of a growing file's end, without changing its size
/// (`fallocate(FALLOC_FL_KEEP_SIZE)`).
///
/// Why: on ext4 a write that lands on blocks not yet allocated goes through delayed
/// allocation, a reservation per 4 KiB block; writing 256 KiB past the end measured 46–52 µs
/// here, into reserved space 30 µs (an append of 256 1 KiB blocks spent a third of its time
/// in that write). The reservation grows by an eighth of the file (at least 64 KiB, at most
/// 64 MiB): one call per several writes, and a file holds at most an eighth more than its
/// size while open, however many feeds a process has open. The file's size and bytes stay
/// exactly what they would be without it (as JS writes them); only the blocks allocated
/// differ.
/// Dropping the storage frees what was never written (truncating to the same size). A
/// process that is killed leaves at most one step allocated past the end of each file it
/// grew, freed by the next writer's drop. Where the filesystem cannot reserve (tmpfs
/// can, some network filesystems cannot), or the disk is full, writes go on without it.
/// Only a file that grows from its end is reserved for: a sparse clone writes blocks far
/// past the end, and the holes it leaves must stay holes.
#[derive(Debug, Default)]
struct Reserve {
    /// The file's size, as far as this handle has seen it.
    size: u64,
    /// Bytes from the file's start that are allocated or reserved, or holes.
    end: u64,
    /// Whether anything was reserved past the file's end since it was opened.
    reserved: bool,
    /// Reserving failed: do not try again.
    off: bool,
}

const RESERVE_MIN: u64 = 64 << 10;
/// A write that starts this close past the end still grows the file from its end: each
/// batch's tree entries start one 40-byte record past the last batch's (the parent its first
/// leaf closes goes there, later), and a filesystem block's slack is allocated anyway.
const NEAR_END: u64 = 4096;
const RESERVE_MAX: u64 = 64 << 20;

impl Reserve {
    fn starting_at(len: u64) -> Self {
        Self {
            size: len,
            end: len,
            ..Self::default()
        }
    }

    /// Reserve ahead of a write of `offset..end`, if it grows the file from its end past
    /// what is reserved.
    fn before_write(&mut self, file: &File, offset: u64, end: u64) {
        let size = self.size;
        self.size = size.max(end);
        // Small files (keys, a small feed's tree) are not worth a reservation: giving it
        // back costs a truncate on every close. Only a write that grows the file from its
        // end (or from less than a block past it) is reserved for: one that starts further
        // leaves a hole, which a reservation would fill, and one inside the file (filling a
        // hole) grows nothing.
        if end <= self.end
            || self.off
            || end < RESERVE_MIN
            || offset > size.saturating_add(NEAR_END)
            || end <= size
        {
            return;
        }
        let step = (end / 8).clamp(RESERVE_MIN, RESERVE_MAX);
        let from = self.end.max(size);
        let to = end.saturating_add(step);
        let Some(len) = to.checked_sub(from).filter(|&len| len > 0) else {
            return;
        };
        match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::KEEP_SIZE, from, len) {
            Ok(()) => {
                self.end = to;
                self.reserved = true;
            }
            Err(_) => self.off = true,
        }
    }

    /// Free the space reserved past the file's end: truncating a file to its own size frees
    /// the blocks past it.
    fn give_back(&mut self, file: &File) {
        if !self.reserved {
            return;
        }
        if let Ok(meta) = file.metadata() {
            let _ = file.set_len(meta.len());
        }
        self.reserved = false;
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

    /// Bytes the filesystem has allocated for `path`.
    fn allocated(path: &Path) -> u64 {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(path).unwrap().blocks() * 512
    }

    #[test]
    fn space_reserved_ahead_never_shows_in_the_size_and_is_given_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let mut f = FileStorage::new(&path);
        let chunk = vec![7u8; 100_000];
        let mut written = 0u64;
        for _ in 0..30 {
            f.write_parts_at(written, &[&chunk[..60_000], &chunk[60_000..]])
                .unwrap();
            written += chunk.len() as u64;
            f.write_at(written, b"tail").unwrap();
            written += 4;
            assert_eq!(f.len().unwrap(), written, "the size is what was written");
        }
        let reserved = f.reserve.reserved;
        if reserved {
            // Where the filesystem reserves, the file holds space up to the reservation's
            // end, past its size.
            assert!(f.reserve.end > written);
            assert!(allocated(&path) + 4096 >= f.reserve.end);
        }
        // A shorter file frees the reservation at once.
        f.truncate(1000).unwrap();
        assert!(allocated(&path) <= 64 << 10);
        f.write_at(1000, &chunk).unwrap();
        drop(f);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 101_000);
        assert!(bytes[..1000].iter().all(|&b| b == 7));
        // Dropping gives back what was reserved and never written.
        assert!(
            allocated(&path) <= 101_000 + (64 << 10),
            "{} bytes allocated for 101000 (reserved: {reserved})",
            allocated(&path)
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Writes anywhere, in any order (appends, holes, hole filling, overwrites, cuts):
        /// the file reads back as the same writes to memory do, whatever was reserved.
        #[test]
        fn any_writes_read_back_as_in_memory(
            ops in proptest::collection::vec(
                (0u64..(6 << 20), 1usize..300_000, proptest::prelude::any::<u8>(), 0u8..10),
                1..24,
            ),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("data");
            let mut file = FileStorage::new(&path);
            let mut memory = MemoryStorage::new();
            let mut end = 0u64;
            for (at, len, byte, kind) in ops {
                // Mostly appends at the end, as a feed writes; sometimes anywhere, or a cut.
                let offset = if kind < 6 { end } else { at };
                if kind == 9 {
                    file.truncate(at).unwrap();
                    memory.truncate(at).unwrap();
                    end = at;
                    continue;
                }
                let data = vec![byte; len];
                if kind % 2 == 0 {
                    file.write_at(offset, &data).unwrap();
                } else {
                    let (a, b) = data.split_at(len / 3);
                    file.write_parts_at(offset, &[a, b]).unwrap();
                }
                memory.write_at(offset, &data).unwrap();
                end = end.max(offset + len as u64);
                proptest::prop_assert_eq!(file.len().unwrap(), memory.len().unwrap());
            }
            drop(file);
            proptest::prop_assert!(std::fs::read(&path).unwrap() == memory.to_vec());
        }
    }

    #[test]
    fn deleting_a_range_frees_its_blocks_and_reads_as_zeros() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let mut f = FileStorage::new(&path);
        let mut memory = MemoryStorage::new();
        let bytes: Vec<u8> = (0..3u32 << 20).map(|i| (i % 251) as u8 + 1).collect();
        f.write_at(0, &bytes).unwrap();
        memory.write_at(0, &bytes).unwrap();
        f.sync_data().unwrap();
        let before = allocated(&path);
        for (offset, len) in [(1 << 20, 1 << 20), (10, 5000), (3 << 20, 100), (0, 0)] {
            f.delete(offset, len).unwrap();
            memory.delete(offset, len).unwrap();
        }
        assert_eq!(f.len().unwrap(), 3 << 20);
        drop(f);
        assert!(std::fs::read(&path).unwrap() == memory.to_vec());
        // Where holes can be punched (ext4, tmpfs, xfs), the middle MiB is given back.
        let after = allocated(&path);
        let probe = std::fs::File::create(dir.path().join("probe")).unwrap();
        probe.set_len(1 << 16).unwrap();
        let punch = rustix::fs::FallocateFlags::PUNCH_HOLE | rustix::fs::FallocateFlags::KEEP_SIZE;
        if rustix::fs::fallocate(&probe, punch, 0, 4096).is_ok() && before >= 3 << 20 {
            assert!(
                after + (1 << 20) <= before + (8 << 10),
                "{after} of {before} allocated"
            );
        } else {
            assert!(after <= before, "{after} > {before}");
        }
        // Deleting from a file that was never written creates nothing.
        let mut none = FileStorage::new(dir.path().join("absent"));
        none.delete(0, 10).unwrap();
        assert!(!dir.path().join("absent").exists());
    }

    #[test]
    fn a_file_written_one_record_past_its_end_is_reserved_for_as_an_append() {
        let dir = tempfile::tempdir().unwrap();
        let batch = vec![5u8; 20_440];
        let mut files = Vec::new();
        for (name, gap) in [("appended", 0u64), ("tree", 40)] {
            let path = dir.path().join(name);
            let mut f = FileStorage::new(&path);
            let mut at = 32u64;
            for _ in 0..20 {
                f.write_at(at, &batch).unwrap();
                at += batch.len() as u64 + gap;
            }
            files.push((f.reserve.reserved, f.len().unwrap(), path));
        }
        // As reserved as a plain append (both, where the filesystem reserves), and the size
        // still ends at the last byte written.
        assert_eq!(files[0].0, files[1].0);
        assert_eq!(files[1].1, 32 + 20 * 20_440 + 19 * 40);
        // Far past the end is still a hole, not a reservation.
        let path = dir.path().join("far");
        let mut f = FileStorage::new(&path);
        f.write_at(0, &batch).unwrap();
        f.write_at(20_440 + NEAR_END + 1, &vec![1u8; RESERVE_MIN as usize])
            .unwrap();
        assert!(!f.reserve.reserved);
    }

    #[test]
    fn a_write_far_past_the_end_leaves_a_hole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let mut f = FileStorage::new(&path);
        let block = vec![3u8; 200_000];
        f.write_at(0, &block).unwrap();
        // A sparse clone's block 1 GiB in.
        f.write_at(1 << 30, &block).unwrap();
        assert_eq!(f.len().unwrap(), (1 << 30) + 200_000);
        assert!(
            allocated(&path) < 8 << 20,
            "{} bytes allocated for 400000 written",
            allocated(&path)
        );
        // Filling the hole grows nothing and reserves nothing.
        f.write_at(300_000, &block).unwrap();
        f.write_at(100 << 20, &block).unwrap();
        assert!(allocated(&path) < 8 << 20);
        // Growing from the new end is reserved for again.
        f.write_at((1 << 30) + 200_000, &block).unwrap();
        drop(f);
        assert!(allocated(&path) < 8 << 20);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), (1 << 30) + 400_000);
        assert!(bytes[300_000..500_000].iter().all(|&b| b == 3));
        assert!(bytes[500_000..600_000].iter().all(|&b| b == 0));
    }

    #[test]
    fn a_reopened_file_reserves_from_its_end_and_a_small_one_not_at_all() {
        let dir = tempfile::tempdir().unwrap();
        for (name, len) in [("tree", 100_000usize), ("key", 5000)] {
            let path = dir.path().join(name);
            std::fs::write(&path, vec![1u8; len]).unwrap();
            let mut f = FileStorage::new(&path);
            f.write_at(len as u64, b"more").unwrap();
            if len < RESERVE_MIN as usize {
                assert!(
                    !f.reserve.reserved,
                    "{name}: nothing reserved for a small file"
                );
            } else {
                assert!(f.reserve.end >= len as u64 + 4 || f.reserve.off);
            }
            drop(f);
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(bytes.len(), len + 4);
            assert!(bytes[..len].iter().all(|&b| b == 1));
            assert_eq!(&bytes[len..], b"more");
            assert!(allocated(&path) <= len as u64 + (64 << 10));
        }
    }
}
