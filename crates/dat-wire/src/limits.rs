//! Every bound on what a remote peer can make one connection allocate, in one place.
//!
//! A session's memory is the sum of these, whatever the peer sends (the figures measured by
//! `tests/limits.rs` are in its output): one partial frame ([`MAX_FRAME_LEN`]), input held
//! unparsed ([`MAX_PENDING_INPUT`]), events queued for the application
//! ([`MAX_QUEUED_EVENTS`], [`MAX_QUEUED_EVENT_BYTES`] plus one message), messages held for
//! unopened channels ([`MAX_BUFFERED_BYTES`]), buffers kept for reuse ([`MAX_SPARE_BUFFERS`] of
//! [`MAX_SPARE_BUFFER`]), and per replicated feed the peer's bitfield ([`MAX_PAGES`] pages)
//! and one decoded Have ([`MAX_HAVE_BITFIELD`]). What we send is bounded by
//! [`MAX_QUEUED_OUT`]: the session hands out no event while more than that waits to be
//! transmitted, so a peer that requests without reading stops being served.

pub use crate::message::{MAX_DATA_NODES, MAX_EXTENSIONS};
pub use crate::remote_bitfield::MAX_PAGES;
pub use crate::replicator::MAX_HAVE_BITFIELD;
pub use dat_core::limits::MAX_BLOCK_INDEX;

/// Largest frame (header + body) a peer may announce: 8 MiB, as JS `hypercore-protocol`, so a
/// JS peer's largest frame is accepted and nothing larger is buffered.
pub const MAX_FRAME_LEN: u64 = 8 * 1024 * 1024;

/// Most channels (feeds) one connection may use, as JS `maxFeeds`. Also the most Feed
/// messages a peer may send: JS never reuses a local channel id, so an honest peer opens at
/// most this many feeds per connection, and more Feed messages only churn our channel table.
pub const MAX_FEEDS: u64 = 256;

/// Messages held for a channel we have not opened (JS allows 16 before destroying).
pub const MAX_BUFFERED: usize = 16;

/// Bytes held across all unopened channels: 16 messages on 256 channels of 8 MiB Data would
/// be 32 GiB, so the total is bounded too.
pub const MAX_BUFFERED_BYTES: usize = 16 * 1024 * 1024;

/// Received bytes held unparsed: while waiting for the application to open the first feed
/// (JS `_needsKey`), or while the application has not taken the events and bytes already
/// queued. Two full frames, far more than an honest peer sends in either situation.
pub const MAX_PENDING_INPUT: usize = 16 * 1024 * 1024;

/// Events queued for the application before the session stops parsing input. A 4-byte frame
/// becomes an event of ~100 bytes, so without this an 8 MiB read of tiny messages would cost
/// ~250 MiB; parsing resumes when [`Session::poll_event`](crate::Session::poll_event) has
/// emptied the queue.
pub const MAX_QUEUED_EVENTS: usize = 256;

/// Approximate bytes held by queued events before the session stops parsing (one more
/// message, at most a frame, may be queued past it).
pub const MAX_QUEUED_EVENT_BYTES: usize = 1024 * 1024;

/// Buffers of received Data blocks a session keeps for reuse
/// ([`Session::recycle`](crate::Session::recycle)), each of at most [`MAX_SPARE_BUFFER`] bytes:
/// 8 MiB at most, whatever the peer sends.
pub const MAX_SPARE_BUFFERS: usize = 64;

/// Largest buffer kept for reuse: two 64 KiB content blocks' worth.
pub const MAX_SPARE_BUFFER: usize = 128 * 1024;

/// Bytes queued for transmission beyond which the session hands out no more events (so the
/// application answers no more Requests) until [`Session::poll_transmit`] takes them. An
/// honest JS peer has at most 16 Requests in flight (1 MiB of 64 KiB blocks); a peer that
/// requests without reading gets at most this plus one answer queued, then its input waits
/// (up to [`MAX_PENDING_INPUT`]) and then it is dropped.
///
/// [`Session::poll_transmit`]: crate::Session::poll_transmit
pub const MAX_QUEUED_OUT: usize = 8 * 1024 * 1024;
