//! hypercore-protocol v6, sans-IO: framing, messages, cipher, channels, replication.
