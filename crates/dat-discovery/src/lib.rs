//! Dat peer discovery, sans-IO: dns-discovery and multicast DNS packets and state machines.
