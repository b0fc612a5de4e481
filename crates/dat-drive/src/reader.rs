//! Streaming reads of file contents at any version: the file's blocks are fetched from the
//! content feed one at a time, never the whole file (DAT-SPEC §5.3).

use std::io::{self, Read};

use dat_core::Feed;

use crate::archive::Archive;
use crate::error::DriveError;
use crate::stat::Stat;

/// Reads a byte range of one file, block by block.
pub struct FileReader<'a> {
    content: &'a Feed,
    block: u64,
    end_block: u64,
    skip: usize,
    remaining: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl std::fmt::Debug for FileReader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileReader")
            .field("block", &self.block)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

impl Archive {
    /// A reader over the whole file `path` at `version`.
    pub fn read_file(&self, version: u64, path: &str) -> Result<FileReader<'_>, DriveError> {
        self.read_range(version, path, 0, u64::MAX)
    }

    /// A reader over `len` bytes of `path` at `version` from byte `start` (clamped to the
    /// file's size).
    pub fn read_range(
        &self,
        version: u64,
        path: &str,
        start: u64,
        len: u64,
    ) -> Result<FileReader<'_>, DriveError> {
        let st = self
            .checkout(version)?
            .get(path)?
            .ok_or_else(|| DriveError::NotFound {
                path: path.to_string(),
                version,
            })?;
        if st.is_directory() {
            return Err(DriveError::IsDirectory {
                path: path.to_string(),
            });
        }
        self.reader_for(&st, path, version, start, len)
    }

    /// A reader over a file whose Stat the caller already has.
    pub fn reader_for(
        &self,
        st: &Stat,
        path: &str,
        version: u64,
        start: u64,
        len: u64,
    ) -> Result<FileReader<'_>, DriveError> {
        let bad = |reason| DriveError::BadContentRange {
            path: path.to_string(),
            version,
            reason,
        };
        let content = &self.content;
        let end_block = st
            .offset()
            .checked_add(st.blocks())
            .ok_or_else(|| bad("block range overflows"))?;
        let end_byte = st
            .byte_offset()
            .checked_add(st.size())
            .ok_or_else(|| bad("byte range overflows"))?;
        if end_block > content.len() || end_byte > content.byte_len() {
            return Err(bad("beyond the content feed"));
        }
        let start = start.min(st.size());
        let remaining = len.min(st.size() - start);
        let (block, skip) = if start == 0 || remaining == 0 {
            (st.offset(), 0)
        } else {
            let (b, off) = content
                .seek(st.byte_offset() + start)
                .map_err(DriveError::content)?;
            if b < st.offset() || b >= end_block {
                return Err(bad("byte offset outside the file's blocks"));
            }
            (b, usize::try_from(off).map_err(|_| bad("block too large"))?)
        };
        Ok(FileReader {
            content,
            block,
            end_block,
            skip,
            remaining,
            buf: Vec::new(),
            pos: 0,
        })
    }
}

impl Read for FileReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.remaining == 0 || out.is_empty() {
            return Ok(0);
        }
        while self.pos >= self.buf.len() {
            if self.block >= self.end_block {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shorter than its size",
                ));
            }
            self.content
                .get_into(self.block, &mut self.buf)
                .map_err(|e| io::Error::other(DriveError::content(e)))?;
            self.block += 1;
            self.pos = self.skip.min(self.buf.len());
            self.skip = 0;
        }
        let n = (self.buf.len() - self.pos)
            .min(out.len())
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        self.remaining -= n as u64;
        Ok(n)
    }
}
