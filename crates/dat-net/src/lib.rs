//! Tokio I/O for Dat: TCP and uTP transports, discovery sockets, the swarm.
//!
//! One module per concern; `discovery` finds peers (DNS discovery, multicast DNS,
//! Mainline DHT) and the dns-discovery server. Transports and the swarm live beside it.

pub mod discovery;
pub mod replication;
