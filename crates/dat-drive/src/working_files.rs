//! dat's "latest" content storage (DAT-SPEC §5.6, dat-storage): the content feed's `data`
//! slot is not a file but the archive's working folder. A byte offset of the content feed is
//! mapped to the file holding it by a binary search over the metadata entries' Stat
//! (`byteOffset`, `size`); the file being appended is known from the writer directly.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use dat_core::{Feed, Storage};

use crate::name;
use crate::node::Entry;

/// A run of content bytes that lives in one working file.
#[derive(Clone, Debug)]
struct Span {
    start: u64,
    end: u64,
    path: PathBuf,
}

impl Span {
    fn contains(&self, offset: u64) -> bool {
        self.start <= offset && offset < self.end
    }
}

/// State shared by the storage (inside the content feed) and the archive (which announces
/// the file it is appending).
#[derive(Debug)]
pub(crate) struct WorkingState {
    dir: PathBuf,
    metadata: Arc<Mutex<Feed>>,
    head: Option<Span>,
    /// The head file already holds the bytes being appended (import): do not write them.
    indexing: bool,
    last: Option<Span>,
    /// The last working file opened: a clone writes, and a share reads, one file's blocks in a
    /// row, and opening it for each block was most of the system calls of a transfer.
    open: Option<OpenFile>,
}

/// A working file kept open.
#[derive(Debug)]
struct OpenFile {
    path: PathBuf,
    file: File,
    writable: bool,
}

/// Handle the archive keeps to tell the storage which file is being appended.
#[derive(Clone, Debug)]
pub(crate) struct WorkingHandle(Arc<Mutex<WorkingState>>);

impl WorkingHandle {
    pub(crate) fn new(dir: PathBuf, metadata: Arc<Mutex<Feed>>) -> Self {
        Self(Arc::new(Mutex::new(WorkingState {
            dir,
            metadata,
            head: None,
            indexing: false,
            last: None,
            open: None,
        })))
    }

    fn lock(&self) -> MutexGuard<'_, WorkingState> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The storage to put in the content feed's data slot.
    pub(crate) fn storage(&self) -> Box<dyn Storage> {
        Box::new(WorkingFiles(self.clone()))
    }

    /// The next appended bytes, from content byte `start` on, belong to `name`. With
    /// `indexing` the file already holds them; otherwise it is created empty.
    pub(crate) fn begin_file(&self, name: &str, start: u64, indexing: bool) -> io::Result<()> {
        let mut state = self.lock();
        let path = state.local_path(name)?;
        if !indexing {
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            File::create(&path)?;
        }
        state.head = Some(Span {
            start,
            end: u64::MAX,
            path,
        });
        state.indexing = indexing;
        state.last = None;
        state.open = None;
        Ok(())
    }

    /// The appended file is complete.
    pub(crate) fn end_file(&self) {
        let mut state = self.lock();
        state.head = None;
        state.indexing = false;
        state.last = None;
        state.open = None;
    }

    /// The working folder.
    pub(crate) fn dir(&self) -> PathBuf {
        self.lock().dir.clone()
    }
}

impl WorkingState {
    fn local_path(&self, stored: &str) -> io::Result<PathBuf> {
        let parts = name::safe_components(stored)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{stored:?}: {e}")))?;
        let mut path = self.dir.clone();
        path.extend(parts);
        Ok(path)
    }

    /// The working file at `path`, opened for writing (creating it and its folders) if
    /// `write`, else for reading; the last one opened is kept.
    fn file(&mut self, path: &Path, write: bool) -> io::Result<&File> {
        let reuse = self
            .open
            .as_ref()
            .is_some_and(|o| o.path == path && (o.writable || !write));
        if !reuse {
            let file = if write {
                open_rw(path)?
            } else {
                File::open(path)?
            };
            self.open = Some(OpenFile {
                path: path.to_path_buf(),
                file,
                writable: write,
            });
        }
        match &self.open {
            Some(o) => Ok(&o.file),
            None => Err(io::Error::other("working file not open")),
        }
    }

    /// The span holding content byte `offset`.
    fn locate(&mut self, offset: u64) -> io::Result<Span> {
        if let Some(head) = self.head.as_ref().filter(|h| h.contains(offset)) {
            return Ok(head.clone());
        }
        if let Some(last) = self.last.as_ref().filter(|s| s.contains(offset)) {
            return Ok(last.clone());
        }
        let found = {
            let metadata = self.metadata.lock().unwrap_or_else(|e| e.into_inner());
            find(&metadata, offset)?
        };
        let (start, size, stored) = found.ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("no file holds content byte {offset}"),
            )
        })?;
        let span = Span {
            start,
            end: start.saturating_add(size),
            path: self.local_path(&stored)?,
        };
        self.last = Some(span.clone());
        Ok(span)
    }
}

/// The newest metadata entry with content whose byte range contains `offset`, as
/// (byteOffset, size, name). Content byte offsets grow with the sequence number, so this is a
/// binary search; entries without content (deletions, directories, empty files, blocks not
/// stored locally) are skipped downwards as dat-storage does.
fn find(metadata: &Feed, offset: u64) -> io::Result<Option<(u64, u64, String)>> {
    let (mut lo, mut hi) = (1u64, metadata.len());
    let mut best = None;
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match content_entry_at_or_below(metadata, mid, lo)? {
            None => lo = mid + 1,
            Some((seq, start, size, stored)) => {
                if start <= offset {
                    if offset < start.saturating_add(size) {
                        best = Some((start, size, stored));
                    }
                    lo = mid + 1;
                } else {
                    hi = seq;
                }
            }
        }
    }
    Ok(best)
}

fn content_entry_at_or_below(
    metadata: &Feed,
    mut seq: u64,
    floor: u64,
) -> io::Result<Option<(u64, u64, u64, String)>> {
    loop {
        if metadata.has(seq) {
            let bytes = metadata.get(seq).map_err(io::Error::other)?;
            let entry = Entry::decode(seq, &bytes)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            if let Some(st) = entry.stat.filter(|s| s.blocks() > 0 && s.size() > 0) {
                return Ok(Some((seq, st.byte_offset(), st.size(), entry.name)));
            }
        }
        if seq <= floor {
            return Ok(None);
        }
        seq -= 1;
    }
}

/// The content feed's data slot in "latest" mode.
struct WorkingFiles(WorkingHandle);

impl WorkingFiles {
    /// Call `f(file, from, n, file_offset)` for each run of `len` bytes at content `offset`
    /// that lives in one working file.
    fn each_span(
        &self,
        offset: u64,
        len: usize,
        write: bool,
        mut f: impl FnMut(&File, usize, usize, u64) -> io::Result<()>,
    ) -> io::Result<()> {
        let mut state = self.0.lock();
        let mut done = 0usize;
        while done < len {
            let at = offset + done as u64;
            let span = state.locate(at)?;
            let n = usize::try_from((span.end - at).min((len - done) as u64)).unwrap_or(len - done);
            let file = state.file(&span.path, write)?;
            f(file, done, n, at - span.start)?;
            done += n;
        }
        Ok(())
    }
}

fn open_rw(path: &Path) -> io::Result<File> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

impl Storage for WorkingFiles {
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        self.each_span(offset, buf.len(), false, |file, from, n, at| {
            file.read_exact_at(&mut buf[from..from + n], at)
        })
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        if self.0.lock().indexing {
            // Import appends bytes read from the working file itself.
            return Ok(());
        }
        self.each_span(offset, data.len(), true, |file, from, n, at| {
            file.write_all_at(&data[from..from + n], at)
        })
    }

    /// Nothing while indexing (the default would first join the parts, for nothing).
    fn write_parts_at(&mut self, offset: u64, parts: &[&[u8]]) -> io::Result<()> {
        if self.0.lock().indexing {
            return Ok(());
        }
        match parts {
            [] => Ok(()),
            [one] => self.write_at(offset, one),
            _ => self.write_at(offset, &parts.concat()),
        }
    }

    /// Unknown without summing every file; the feed derives its byte length from the tree,
    /// never from the data slot.
    fn len(&self) -> io::Result<u64> {
        Ok(0)
    }

    fn truncate(&mut self, _len: u64) -> io::Result<()> {
        // The working files belong to the user; a torn append is simply overwritten later.
        Ok(())
    }

    fn sync_data(&mut self) -> io::Result<()> {
        Ok(())
    }
}
