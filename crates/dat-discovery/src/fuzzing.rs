//! Fuzz entry points for every path that reads network bytes. Each takes arbitrary
//! bytes and must never panic; where a round trip exists it is asserted.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use crate::client::{Client, ClientConfig, Op, ServerAddr};
use crate::mdns::Mdns;
use crate::packet;
use crate::server::{Server, ServerConfig};
use crate::token::Secrets;
use crate::txt::TxtData;

/// Decode a DNS message; if it decodes, re-encoding and decoding again must give the
/// same message (names and TXT strings survive simple-dns' validation).
pub fn fuzz_packet(data: &[u8]) {
    let Ok(msg) = packet::decode(data) else {
        return;
    };
    if let Ok(bytes) = packet::encode(&msg, false) {
        let again = packet::decode(&bytes);
        assert!(
            matches!(&again, Ok(m) if m.questions == msg.questions),
            "round trip: {again:?}"
        );
    }
}

/// TXT payload and peer-list decoding.
pub fn fuzz_txt(data: &[u8]) {
    let strings: Vec<&[u8]> = data.split(|&b| b == 0).take(64).collect();
    let txt = TxtData::decode(&strings);
    let peers = txt.peer_list(1000);
    assert!(peers.len() <= 1000);
}

/// A server fed the bytes as two datagrams from two sources; its state stays bounded.
pub fn fuzz_server(data: &[u8]) {
    let mut server = Server::new(ServerConfig::default(), Secrets::new([1; 32], [2; 32]), 3);
    let a = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 1000);
    let b = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 2000);
    let (x, y) = data.split_at(data.len() / 2);
    for (i, (from, bytes)) in [(a, data), (b, x), (a, y)].into_iter().enumerate() {
        let out = server.handle(Duration::from_secs(i as u64), from, bytes);
        assert!(out.len() <= 1 + crate::server::PUSH_FANOUT);
    }
}

/// A client receiving the bytes as a response/push from its server.
pub fn fuzz_client(data: &[u8]) {
    let server = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5300);
    let cfg = ClientConfig {
        domain: crate::DAT_DOMAIN.into(),
        servers: vec![ServerAddr {
            addr: server,
            fallback_port: None,
        }],
        retry_after: Duration::from_secs(1),
        tries: 2,
        max_pending: 8,
    };
    // Transaction ids start at 1, so a fuzzed response with id 1 hits the probe path.
    let mut client = Client::new(cfg, 1);
    client.request(Duration::ZERO, "ab", Op::Lookup);
    let _ = client.handle(Duration::ZERO, server, data);
    let _ = client.poll(Duration::from_secs(10));
}

/// An mDNS participant receiving the bytes from the LAN.
pub fn fuzz_mdns(data: &[u8]) {
    let mut m = Mdns::new(crate::DAT_DOMAIN, Secrets::new([1; 32], [2; 32]));
    m.announce("000102030405060708090a0b0c0d0e0f10111213", 3282);
    let out = m.handle(SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 2), 5353), data);
    assert!(out.peers.len() <= crate::mdns::MAX_PEERS_PER_MESSAGE);
}
