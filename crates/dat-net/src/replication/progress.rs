//! What a replication reports: counters per feed (a snapshot the CLI polls to draw progress)
//! and events worth a line of their own (peers coming and going, versions completed).

use std::net::SocketAddr;

pub use dat_drive::FeedKind;
use dat_wire::PeerAction;

/// Counters for one feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeedProgress {
    /// Verified length stored locally (blocks).
    pub length: u64,
    /// The longest length a connected peer advertised (a peer's figure stops counting when
    /// it leaves, unless no other peer has advertised one).
    pub remote_length: u64,
    /// Blocks wanted: for content, those of the files of the latest version; for metadata,
    /// the whole feed in a full clone, the blocks asked for in a sparse one.
    pub wanted_blocks: u64,
    /// Wanted blocks stored locally (verified).
    pub have_blocks: u64,
    /// Bytes the wanted blocks hold, when known (content: the sum of the file sizes).
    pub wanted_bytes: u64,
    /// Bytes of the wanted blocks stored locally, when known.
    pub have_bytes: u64,
    /// Blocks downloaded and verified since the drive was opened.
    pub downloaded_blocks: u64,
    /// Their bytes.
    pub downloaded_bytes: u64,
    /// Blocks sent to peers (answers to their Requests) since the drive was opened.
    pub uploaded_blocks: u64,
}

/// A snapshot of a replication.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    /// The metadata feed (file entries).
    pub metadata: FeedProgress,
    /// The content feed (file bytes); zero until the metadata header names it.
    pub content: FeedProgress,
    /// Connected peers.
    pub peers: usize,
    /// The archive version stored locally (metadata length - 1).
    pub version: u64,
    /// Everything wanted is stored and finished (files sized, working folder complete).
    pub complete: bool,
}

impl Progress {
    /// The counters of one feed.
    pub fn feed(&self, kind: FeedKind) -> &FeedProgress {
        match kind {
            FeedKind::Metadata => &self.metadata,
            FeedKind::Content => &self.content,
        }
    }

    pub(crate) fn feed_mut(&mut self, kind: FeedKind) -> &mut FeedProgress {
        match kind {
            FeedKind::Metadata => &mut self.metadata,
            FeedKind::Content => &mut self.content,
        }
    }
}

/// Something that happened to a replication, once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NetEvent {
    /// A connection to a peer is up (the protocol handshake may still be under way).
    PeerConnected {
        /// The peer.
        addr: SocketAddr,
    },
    /// A connection ended.
    PeerClosed {
        /// The peer.
        addr: SocketAddr,
        /// Why, in words.
        reason: String,
        /// Whether the peer may be dialed again.
        action: PeerAction,
    },
    /// Dialing a peer failed.
    DialFailed {
        /// The peer.
        addr: SocketAddr,
        /// Why.
        reason: String,
    },
    /// The metadata of this version is stored; content follows.
    MetadataComplete {
        /// The version.
        version: u64,
    },
    /// Everything wanted of this version is stored.
    Complete {
        /// The version.
        version: u64,
    },
    /// The archive has new local blocks to announce (a share imported changes).
    Appended {
        /// The new version.
        version: u64,
    },
    /// Storing replicated data failed locally (disk full, a file in the way): replication of
    /// this drive cannot go on.
    Failed {
        /// Why.
        reason: String,
    },
}
