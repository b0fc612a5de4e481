//! Dat peer discovery, sans-IO: dns-discovery and multicast DNS packets and state
//! machines (DAT-SPEC §6.1, §6.2).
//!
//! Nothing here touches a socket or a clock: callers pass the current time (a
//! [`std::time::Duration`] since any epoch they like) and received datagrams in, and get
//! datagrams to send back out. `dat-net` drives these machines over tokio.

pub mod base64;
pub mod packet;
pub mod topic;
pub mod txt;

pub use topic::{DAT_DOMAIN, Topic};
pub mod client;
pub mod fuzzing;
pub mod mdns;
pub mod ratelimit;
pub mod rng;
pub mod schedule;
pub mod server;
pub mod store;
pub mod token;
