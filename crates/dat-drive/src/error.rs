//! Why a drive operation failed: typed, naming the version, entry and path involved.

use std::path::PathBuf;

use dat_core::FeedError;
use dat_core::protobuf::DecodeError;

/// A name that cannot be stored or turned into a local path.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Longer than [`crate::limits::MAX_NAME_LEN`].
    #[error("name of {len} bytes is too long")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// More components than [`crate::limits::MAX_DEPTH`].
    #[error("name with {depth} components is too deep")]
    TooDeep {
        /// Its depth.
        depth: usize,
    },
    /// An empty component (`//`, trailing `/`, or the root itself where a file is needed).
    #[error("empty path component")]
    EmptyComponent,
    /// A `.` or `..` component.
    #[error("'.' or '..' path component")]
    DotComponent,
    /// A backslash, NUL or slash inside a component.
    #[error("backslash, NUL or slash in a path component")]
    BadCharacter,
    /// A stored name that does not start with `/`.
    #[error("name is not absolute")]
    NotAbsolute,
}

/// A `paths` index that cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathsError {
    /// The bytes end inside a varint.
    #[error("paths index is truncated")]
    Truncated,
    /// A varint longer than 64 bits.
    #[error("varint overflow in paths index")]
    VarintOverflow,
    /// Flag bits other than bit 0.
    #[error("unknown paths flags {flags}")]
    BadFlags {
        /// The flags read.
        flags: u64,
    },
    /// More levels than any name may have.
    #[error("paths index has {levels} levels")]
    TooManyLevels {
        /// Levels seen so far.
        levels: usize,
    },
    /// A count larger than the bytes that remain.
    #[error("level {level} claims {count} entries")]
    CountTooLarge {
        /// The level.
        level: usize,
        /// The count read.
        count: u64,
    },
    /// Deltas whose sum overflows 64 bits.
    #[error("sequence overflow in level {level}")]
    SeqOverflow {
        /// The level.
        level: usize,
    },
    /// A sequence number not older than the entry itself.
    #[error("level {level} points forward to {seq}")]
    ForwardReference {
        /// The level.
        level: usize,
        /// The sequence number.
        seq: u64,
    },
}

/// A metadata entry (append-tree Node) that cannot be decoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The Node message itself is malformed.
    #[error("bad node message: {0}")]
    Node(DecodeError),
    /// The name is refused.
    #[error("bad name: {0}")]
    Name(#[from] NameError),
    /// The Stat in `value` is malformed.
    #[error("bad stat: {0}")]
    Stat(DecodeError),
    /// The `paths` index is malformed or absent.
    #[error("bad paths index: {0}")]
    Paths(#[from] PathsError),
    /// The entry has no `paths` field.
    #[error("entry has no paths index")]
    MissingPaths,
    /// Larger than [`crate::limits::MAX_ENTRY_LEN`].
    #[error("entry of {len} bytes is too large")]
    TooLarge {
        /// Its size.
        len: usize,
    },
    /// Metadata entry 0 is the header, never a file entry.
    #[error("sequence 0 is the archive header")]
    HeaderSeq,
}

/// Which of the two feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedKind {
    /// The metadata feed (its key is the archive key).
    Metadata,
    /// The content feed.
    Content,
}

impl std::fmt::Display for FeedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FeedKind::Metadata => "metadata",
            FeedKind::Content => "content",
        })
    }
}

/// A failed drive operation.
#[derive(Debug, thiserror::Error)]
pub enum DriveError {
    /// No entry (or directory) by that name at that version.
    #[error("{path} not found at version {version}")]
    NotFound {
        /// The path asked for.
        path: String,
        /// The version looked at.
        version: u64,
    },
    /// The path names a directory where a file is needed.
    #[error("{path} is a directory")]
    IsDirectory {
        /// The path.
        path: String,
    },
    /// A metadata entry could not be decoded.
    #[error("corrupt metadata entry {seq} (version {version}, looking up {path}): {source}")]
    Entry {
        /// The entry's sequence number.
        seq: u64,
        /// The version being read.
        version: u64,
        /// The path being looked up.
        path: String,
        /// Why.
        source: EntryError,
    },
    /// Entries that decode but contradict the index structure.
    #[error("corrupt directory index at entry {seq} (looking up {path}): {reason}")]
    Tree {
        /// The entry whose index is wrong.
        seq: u64,
        /// The path being looked up.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// Metadata entry 0 is not a hyperdrive header.
    #[error("metadata entry 0 is not a hyperdrive header: {0}")]
    BadHeader(DecodeError),
    /// A feed operation failed.
    #[error("{feed} feed: {source}")]
    Feed {
        /// Which feed.
        feed: FeedKind,
        /// Why.
        source: FeedError,
    },
    /// A Stat points at content the content feed cannot have.
    #[error("{path} at version {version}: content range is invalid ({reason})")]
    BadContentRange {
        /// The file.
        path: String,
        /// The version.
        version: u64,
        /// What is wrong.
        reason: &'static str,
    },
    /// A name refused.
    #[error("bad name {name:?}: {source}")]
    Name {
        /// The name.
        name: String,
        /// Why.
        source: NameError,
    },
    /// Local file-system I/O failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The local path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Writing needs the metadata secret key.
    #[error("archive is not writable")]
    NotWritable,
    /// A version beyond the metadata feed.
    #[error("version {version} does not exist (latest is {latest})")]
    NoSuchVersion {
        /// The version asked for.
        version: u64,
        /// The latest version.
        latest: u64,
    },
    /// Export refused part of an archive.
    #[error("refusing to export {name:?}: {source}")]
    UnsafeName {
        /// The stored name.
        name: String,
        /// Why.
        source: NameError,
    },
    /// A `.datignore` pattern that cannot be compiled.
    #[error("bad ignore pattern {pattern:?}")]
    BadPattern {
        /// The pattern.
        pattern: String,
    },
}

impl DriveError {
    pub(crate) fn metadata(source: FeedError) -> Self {
        DriveError::Feed {
            feed: FeedKind::Metadata,
            source,
        }
    }

    pub(crate) fn content(source: FeedError) -> Self {
        DriveError::Feed {
            feed: FeedKind::Content,
            source,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| DriveError::Io { path, source }
    }
}
