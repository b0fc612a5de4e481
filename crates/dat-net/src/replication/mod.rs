//! Replicating a Dat archive with peers over TCP: the tokio driver of the sans-IO
//! `dat_wire::Session` and `dat_wire::Replicator`.
//!
//! * [`Drive`]: the archive being served or filled, shared by all connections (what is
//!   wanted, who is fetching what, progress).
//! * [`run_connection`]: one task per TCP connection.
//! * [`Swarm`]: a listener and a dialer fed by a [`PeerSource`].
//!
//! A full clone fetches the whole metadata feed, then the content blocks of the files of the
//! newest version (as dat's "latest" mode does); a sparse drive fetches only what
//! [`Drive::stat`], [`Drive::read`] and [`Drive::fetch`] need.

mod drive;
mod finish;
mod latest;
mod peer;
mod peer_ids;
mod progress;
mod sparse;
mod swarm;

pub use drive::{Drive, DriveOptions, Error, Mode};
pub use peer::{Closed, MAX_UNSENT, Origin, run_connection};
pub use progress::{FeedKind, FeedProgress, NetEvent, Progress};
pub use sparse::FetchReport;
pub use swarm::{MAX_REDIAL_DELAY, PeerSource, Swarm, SwarmOptions};
