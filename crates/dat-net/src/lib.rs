//! Tokio I/O for Dat: TCP and uTP transports, discovery sockets, the swarm.
