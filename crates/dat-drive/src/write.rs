//! Writing to an archive: files (content blocks first, then the metadata entry, as hyperdrive
//! `createWriteStream` does), directories and deletions (DAT-SPEC §5.3, §5.4).

use std::io::Read;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::archive::Archive;
use crate::error::DriveError;
use crate::name;
use crate::node::Entry;
use crate::stat::{DEFAULT_DIR_MODE, DEFAULT_FILE_MODE, Stat};

/// Content block size: hyperdrive and dat's importer cut files into 64 KiB blocks.
pub const BLOCK_SIZE: usize = 64 * 1024;

/// Blocks appended per batch (one signature per batch; 4 MiB).
pub const BATCH_BLOCKS: usize = 64;

/// Options for [`Archive::write_file`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// Permission bits (type bits are set by the call).
    pub mode: u32,
    /// Modification time, ms since the epoch (default: now, as JS `Date.now()`).
    pub mtime: Option<u64>,
    /// Change time, ms since the epoch (default: now).
    pub ctime: Option<u64>,
}

impl Default for WriteOptions {
    fn default() -> Self {
        Self {
            mode: DEFAULT_FILE_MODE,
            mtime: None,
            ctime: None,
        }
    }
}

/// Milliseconds since the Unix epoch now.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Archive {
    fn writable_name(&self, path: &str) -> Result<String, DriveError> {
        if !self.writable() {
            return Err(DriveError::NotWritable);
        }
        let name = name::normalize(path).map_err(|source| DriveError::Name {
            name: path.to_string(),
            source,
        })?;
        if name == "/" {
            return Err(DriveError::IsDirectory { path: name });
        }
        Ok(name)
    }

    /// Write a file from `data`, streamed in 64 KiB blocks; returns the new version.
    pub fn write_file(
        &mut self,
        path: &str,
        data: impl Read,
        opts: WriteOptions,
    ) -> Result<u64, DriveError> {
        let name = self.writable_name(path)?;
        self.append_file(&name, data, opts, false)
    }

    /// Append `data` as `name`'s content and its entry. With `indexing` (import in latest
    /// mode) the working file already holds the bytes and is not rewritten.
    pub(crate) fn append_file(
        &mut self,
        name: &str,
        mut data: impl Read,
        opts: WriteOptions,
        indexing: bool,
    ) -> Result<u64, DriveError> {
        self.clear_previous(name)?;
        let offset = self.content.len();
        let byte_offset = self.content.byte_len();
        if let Some(w) = &self.working {
            w.begin_file(name, byte_offset, indexing)
                .map_err(DriveError::io(
                    self.working_dir().unwrap_or_default().join(&name[1..]),
                ))?;
        }
        let result = self.append_blocks(name, &mut data);
        if let Some(w) = &self.working {
            w.end_file();
        }
        result?;
        let now = now_ms();
        let mut stat = Stat::file(
            opts.mode,
            self.content.byte_len() - byte_offset,
            self.content.len() - offset,
            offset,
            byte_offset,
            opts.mtime.unwrap_or(now),
        );
        stat.ctime = Some(opts.ctime.unwrap_or(now));
        self.put_entry(name, Some(stat))
    }

    fn append_blocks(&mut self, name: &str, data: &mut impl Read) -> Result<(), DriveError> {
        // Start with one block and grow to a full batch only for files that need it: zeroing
        // 4 MiB per file dominated importing many small files.
        let mut buf = vec![0u8; BLOCK_SIZE];
        let mut filled = fill(data, &mut buf).map_err(DriveError::io(name.to_string()))?;
        loop {
            if filled == BLOCK_SIZE && buf.len() < BLOCK_SIZE * BATCH_BLOCKS {
                buf.resize(BLOCK_SIZE * BATCH_BLOCKS, 0);
                filled +=
                    fill(data, &mut buf[BLOCK_SIZE..]).map_err(DriveError::io(name.to_string()))?;
            }
            if filled == 0 {
                return Ok(());
            }
            self.content
                .append_batch(buf[..filled].chunks(BLOCK_SIZE))
                .map_err(DriveError::content)?;
            if filled < buf.len() {
                return Ok(());
            }
            filled = fill(data, &mut buf).map_err(DriveError::io(name.to_string()))?;
        }
    }

    /// In latest mode the old bytes of a file are about to be overwritten: drop its blocks
    /// from the content feed first (hyperdrive does `content.clear` under the same rule).
    fn clear_previous(&mut self, name: &str) -> Result<(), DriveError> {
        if self.working.is_none() {
            return Ok(());
        }
        let old = self.latest()?.get(name)?;
        if let Some(st) = old.filter(|s| s.size() > 0) {
            let end = st.offset().saturating_add(st.blocks());
            self.content
                .clear(st.offset()..end)
                .map_err(DriveError::content)?;
        }
        Ok(())
    }

    /// Record a directory (hyperdrive `mkdir`); returns the new version.
    pub fn mkdir(&mut self, path: &str, mode: u32, mtime: Option<u64>) -> Result<u64, DriveError> {
        let name = self.writable_name(path)?;
        let st = Stat::directory(
            if mode == 0 { DEFAULT_DIR_MODE } else { mode },
            self.content.len(),
            self.content.byte_len(),
            mtime.unwrap_or_else(now_ms),
        );
        self.put_entry(&name, Some(st))
    }

    /// Delete the entry `path` (hyperdrive `unlink`); returns the new version.
    pub fn unlink(&mut self, path: &str) -> Result<u64, DriveError> {
        let name = self.writable_name(path)?;
        let version = self.version();
        let Some(st) = self.latest()?.get(&name)? else {
            return Err(DriveError::NotFound {
                path: name,
                version,
            });
        };
        if self.working.is_some() && st.blocks() > 0 {
            let end = st.offset().saturating_add(st.blocks());
            self.content
                .clear(st.offset()..end)
                .map_err(DriveError::content)?;
        }
        self.put_entry(&name, None)
    }

    /// Append the entry for `name` (a put with `stat`, or a deletion) with its index.
    fn put_entry(&mut self, name: &str, stat: Option<Stat>) -> Result<u64, DriveError> {
        let seq = self.metadata().len();
        let paths = {
            let tree = self.latest()?;
            match stat {
                Some(_) => tree.put_index(name, seq)?,
                None => tree.delete_index(name, seq)?,
            }
        };
        let entry = Entry::new(seq, name, stat, paths);
        self.metadata()
            .append(&entry.encode())
            .map_err(DriveError::metadata)?;
        self.cache_put(Arc::new(entry));
        Ok(seq)
    }
}

/// Read until `buf` is full or the input ends.
fn fill(data: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match data.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}
