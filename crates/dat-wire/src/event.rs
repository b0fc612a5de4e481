//! What a [`Session`](crate::Session) reports to the application, and why it closed.

use dat_core::DiscoveryKey;

use crate::frame::FrameError;
use crate::message::{Handshake, Message, MessageError};

/// A local channel number: the index of a feed in the order this side opened it.
pub type Channel = u16;

/// Something the application must see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The remote opened a channel for this discovery key. If the application has the
    /// matching feed it should [`open_feed`](crate::Session::open_feed) it; until then the
    /// channel's messages are held back (at most [`MAX_BUFFERED`](crate::session::MAX_BUFFERED)).
    RemoteFeed {
        /// The feed's discovery key.
        discovery_key: DiscoveryKey,
        /// Our channel for it, if we opened it already.
        channel: Option<Channel>,
    },
    /// The remote's handshake (only the first is reported).
    Handshake(Handshake<'static>),
    /// A message on a channel both sides opened.
    Message {
        /// Our channel number.
        channel: Channel,
        /// The message (never Feed, Handshake or Extension).
        message: Message<'static>,
    },
    /// A registered extension message.
    Extension {
        /// Our channel number.
        channel: Channel,
        /// The extension's name.
        name: String,
        /// Its payload.
        payload: Vec<u8>,
    },
    /// The remote re-opened its channel id, closing our channel for the feed it held.
    ChannelClosed {
        /// Our channel number (no longer valid).
        channel: Channel,
        /// The feed it was for.
        discovery_key: DiscoveryKey,
    },
    /// The session is over; close the transport. No events follow.
    Closed(CloseReason),
}

/// Why a session ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// [`Session::close`](crate::Session::close) was called.
    Local,
    /// The remote broke the protocol or went silent.
    Error(SessionError),
}

impl CloseReason {
    /// What to do with the peer now.
    pub fn action(&self) -> PeerAction {
        match self {
            Self::Local => PeerAction::Forget,
            Self::Error(e) => e.action(),
        }
    }
}

/// Advice for the connection manager about a closed peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PeerAction {
    /// Transient (silence): reconnecting later is reasonable.
    Retry,
    /// Nothing wrong, but nothing to gain either (ended, or a different Dat): do not reconnect
    /// for this Dat.
    Forget,
    /// The peer sent bytes no honest peer sends: stop talking to it.
    Ban,
}

/// A fatal protocol failure (JS destroys the stream for each of these).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SessionError {
    /// Bad framing (oversized frame, bad header, channel beyond 256).
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A Feed message that does not decode (JS "Remote sent invalid feed message").
    #[error("remote sent an invalid feed message: {0}")]
    BadFeed(MessageError),
    /// A message on a remote channel that no Feed opened (JS "invalid feed message").
    #[error("remote sent a message on channel {channel}, which it never opened")]
    UnknownChannel {
        /// The remote's channel number.
        channel: u16,
    },
    /// The remote's first Feed carried no nonce, so its stream cannot be decrypted.
    #[error("remote did not include a nonce")]
    NoNonce,
    /// The two sides' first feeds differ (JS "First shared hypercore must be the same").
    #[error("first shared hypercore must be the same (local {local}, remote {remote})")]
    DifferentFeed {
        /// Our first feed's discovery key.
        local: DiscoveryKey,
        /// The remote's.
        remote: DiscoveryKey,
    },
    /// Too many messages on a channel we have not opened
    /// (JS "Remote sent too many messages on an unopened feed").
    #[error("remote sent too many messages on unopened channel {channel}")]
    TooManyBuffered {
        /// The remote's channel number.
        channel: u16,
    },
    /// More bytes arrived before we could decrypt them than any honest peer sends.
    #[error("remote sent {bytes} bytes before a feed was opened")]
    TooMuchBeforeOpen {
        /// Bytes held.
        bytes: usize,
    },
    /// The remote sent more Feed messages than it could honestly open feeds (JS never reuses
    /// a channel id, so at most [`MAX_FEEDS`](crate::MAX_FEEDS) per connection).
    #[error("remote sent {opens} Feed messages; at most 256 feeds per connection")]
    TooManyOpens {
        /// Feed messages received.
        opens: u64,
    },
    /// Input piled up past [`MAX_PENDING_INPUT`](crate::session::MAX_PENDING_INPUT) while the
    /// session waited for its events to be taken or its output to be transmitted: the remote
    /// sends (requests) without reading our answers.
    #[error("remote sent {bytes} bytes while its earlier messages were still being answered")]
    Backlog {
        /// Bytes held.
        bytes: usize,
    },
    /// Nothing arrived within the silence window (JS "Remote timed out").
    #[error("remote timed out")]
    Timeout,
}

impl SessionError {
    /// What to do with the peer.
    pub fn action(&self) -> PeerAction {
        match self {
            Self::Timeout => PeerAction::Retry,
            Self::DifferentFeed { .. } => PeerAction::Forget,
            _ => PeerAction::Ban,
        }
    }
}

/// Why a local operation was refused (the session stays open).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The session has closed.
    #[error("session is closed")]
    Closed,
    /// No local channel with this number is open.
    #[error("channel {channel} is not open")]
    NotOpen {
        /// The channel asked for.
        channel: Channel,
    },
    /// Feed and Handshake messages are sent by the session itself.
    #[error("{kind} messages are sent by the session itself")]
    Reserved {
        /// The message type.
        kind: &'static str,
    },
    /// An extension name not registered in the options.
    #[error("extension {name:?} is not registered")]
    UnknownExtension {
        /// The name.
        name: String,
    },
    /// This connection already opened 256 feeds.
    #[error("at most 256 feeds per connection")]
    TooManyFeeds,
    /// Opening this first feed failed the same-feed check; the session closed.
    #[error(transparent)]
    Fatal(#[from] SessionError),
}
