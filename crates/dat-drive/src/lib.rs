//! Hyperdrive 9: a versioned filesystem over a metadata feed and a content feed, byte-compatible
//! with hyperdrive 9.16 / append-tree 2.4 as used by `dat` 13 and 14 (DAT-SPEC §5).
//!
//! * [`index_header`], [`node`], [`stat`], [`paths`]: the messages of the metadata feed.
//! * [`tree`], [`diff`]: append-tree's lookup, listing, index and diff algorithms over any
//!   [`tree::EntrySource`] (a sparse feed, or a `Vec` in tests).

pub mod archive;
mod cache;
pub mod diff;
mod dir_index;
pub mod error;
pub mod export;
pub mod folder_watch;
pub mod fuzzing;
pub mod ignore;
pub mod import;
pub mod index_header;
pub mod limits;
pub mod name;
pub mod node;
pub mod paths;
pub mod reader;
pub mod stat;
pub mod tree;
mod working_files;
pub mod write;

pub use archive::{Archive, ArchiveStats, ContentData, Watch};
pub use diff::{Change, ChangeKind, Diff};
pub use error::{DriveError, EntryError, FeedKind, NameError, PathsError};
pub use export::{ExportReport, export};
pub use folder_watch::{Debounce, FolderChange, FolderEvent, FolderWatcher, Pending, WatchError};
pub use import::{ImportOptions, ImportReport, import, import_paths};
pub use index_header::IndexHeader;
pub use node::{Entry, EntryName, Node};
pub use paths::Paths;
pub use reader::FileReader;
pub use stat::Stat;
pub use tree::{EntrySource, SourceError, Tree};
pub use write::WriteOptions;
