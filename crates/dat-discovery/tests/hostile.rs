//! Hostile inputs: typed errors, bounded state, honest clients still answered.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use dat_discovery::fuzzing;
use dat_discovery::mdns::Mdns;
use dat_discovery::packet::{self, PacketError};
use dat_discovery::server::{Server, ServerConfig};
use dat_discovery::store::StoreConfig;
use dat_discovery::token::Secrets;
use proptest::prelude::*;

fn header(qd: u16, an: u16, ar: u16) -> Vec<u8> {
    let mut h = vec![0, 1, 0, 0];
    for c in [qd, an, 0, ar] {
        h.extend_from_slice(&c.to_be_bytes());
    }
    h
}

#[test]
fn truncated_and_short_packets() {
    assert_eq!(
        packet::decode(&[0; 5]),
        Err(PacketError::TooShort { len: 5 })
    );
    let good = hex_announce();
    for cut in 12..good.len() {
        let err = packet::decode(&good[..cut]);
        assert!(err.is_err(), "cut at {cut} decoded");
    }
}

fn hex_announce() -> Vec<u8> {
    let q = packet::txt_query(
        1,
        "ab.dat.local",
        Some(vec![b"subscribe=true".to_vec(), b"token=x".to_vec()]),
    );
    packet::encode(&q, false).unwrap()
}

#[test]
fn compression_loop_is_malformed() {
    // Question name = pointer to itself at offset 12.
    let mut p = header(1, 0, 0);
    p.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1]);
    assert!(matches!(
        packet::decode(&p),
        Err(PacketError::Malformed { .. })
    ));
    // Two pointers pointing at each other.
    let mut p = header(1, 0, 0);
    p.extend_from_slice(&[0xc0, 14, 0xc0, 12, 0, 16, 0, 1]);
    assert!(matches!(
        packet::decode(&p),
        Err(PacketError::Malformed { .. })
    ));
}

#[test]
fn impossible_counts_rejected_before_allocation() {
    let mut p = header(65535, 65535, 65535);
    p.extend_from_slice(&[0; 20]);
    assert!(matches!(
        packet::decode(&p),
        Err(PacketError::ImpossibleCounts { .. })
    ));
}

#[test]
fn ten_thousand_txt_strings_and_records() {
    // One TXT record with 10 000 empty strings... plus one that claims 10 000 records.
    let name = b"\x02ab\x03dat\x05local\x00";
    let mut p = header(0, 1, 0);
    p.extend_from_slice(name);
    p.extend_from_slice(&[0, 16, 0, 1, 0, 0, 0, 0]);
    let rdata: Vec<u8> = std::iter::repeat_n([1u8, b'a'], 10_000).flatten().collect();
    p.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    p.extend_from_slice(&rdata);
    assert!(matches!(
        packet::decode(&p),
        Err(PacketError::TooMany {
            what: "TXT strings",
            ..
        })
    ));
    // 10 000 minimal TXT records (pointer names): too many records.
    let mut p = header(0, 10_000, 0);
    p.extend_from_slice(name);
    p.extend_from_slice(&[0, 16, 0, 1, 0, 0, 0, 0, 0, 0]);
    for _ in 1..10_000 {
        p.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 0, 0, 0]);
    }
    assert!(p.len() <= 65_535 * 2);
    let r = packet::decode(&p);
    assert!(
        matches!(
            r,
            Err(PacketError::TooLarge { .. }) | Err(PacketError::TooMany { .. })
        ),
        "{r:?}"
    );
    // And every handler survives both.
    fuzzing::fuzz_server(&p);
    fuzzing::fuzz_mdns(&p);
    fuzzing::fuzz_client(&p);
}

#[test]
fn announce_flood_from_one_source_is_bounded_and_honest_clients_answered() {
    let cfg = ServerConfig {
        store: StoreConfig {
            max_total: 1000,
            max_per_name: 100,
            max_per_host: 16,
            ttl: None,
        },
        ..ServerConfig::default()
    };
    let mut server = Server::new(cfg, Secrets::new([1; 32], [2; 32]), 9);
    let evil = SocketAddrV4::new(Ipv4Addr::new(6, 6, 6, 6), 666);
    let honest = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 2), 5000);
    let token = dat_discovery::token::token(&[2; 32], *evil.ip());
    let mut answered = 0;
    for i in 0..100_000u32 {
        let t = Duration::from_millis(u64::from(i)); // 1000 packets per second
        let name = format!("{:040x}.dat.local", i);
        let ann = packet::txt_query(
            i as u16,
            &name,
            Some(vec![
                format!("token={token}").into_bytes(),
                format!("announce={}", i % 60000 + 1).into_bytes(),
            ]),
        );
        server.handle(t, evil, &packet::encode(&ann, false).unwrap());
        if i % 100 == 0 {
            let q = packet::txt_query(1, "dat.local", None);
            answered += server
                .handle(t, honest, &packet::encode(&q, false).unwrap())
                .len();
        }
    }
    assert!(server.stored() <= 16, "per-host quota: {}", server.stored());
    assert_eq!(answered, 1000, "every honest probe answered");
    assert!(server.stats().rate_limited > 90_000);
}

#[test]
fn mdns_two_parties_and_echo_suppression() {
    let id = "000102030405060708090a0b0c0d0e0f10111213";
    let a_addr = SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 1), 5353);
    let b_addr = SocketAddrV4::new(Ipv4Addr::new(10, 9, 0, 2), 5353);
    let mut a = Mdns::new("dat.local", Secrets::new([1; 32], [2; 32]));
    let mut b = Mdns::new("dat.local", Secrets::new([3; 32], [4; 32]));
    a.announce(id, 3282);
    // B queries; A answers; B learns A's source address with A's port.
    let q = b.query(id);
    let at_a = a.handle(b_addr, &q);
    let reply = at_a.reply.expect("A answers");
    assert_eq!(at_a.reply_port, 5353);
    let at_b = b.handle(a_addr, &reply);
    assert_eq!(
        at_b.peers,
        vec![(id.to_string(), SocketAddrV4::new(*a_addr.ip(), 3282))]
    );
    assert!(at_b.reply.is_none());
    // A's own query, looped back: A answers itself, then ignores its own answer.
    let own = a.handle(a_addr, &a.query(id));
    let echoed = a.handle(a_addr, &own.reply.expect("answers own query"));
    assert!(echoed.peers.is_empty());
    // Silent when nothing is known.
    assert!(b.handle(a_addr, &a.query(id)).reply.is_none());
}

proptest! {
    #[test]
    fn fuzz_entry_points_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
        fuzzing::fuzz_packet(&data);
        fuzzing::fuzz_txt(&data);
        fuzzing::fuzz_server(&data);
        fuzzing::fuzz_client(&data);
        fuzzing::fuzz_mdns(&data);
    }

    #[test]
    fn mutated_valid_packets_never_panic(pos in 0usize..200, byte in any::<u8>()) {
        let mut p = hex_announce();
        let i = pos % p.len();
        p[i] = byte;
        fuzzing::fuzz_packet(&p);
        fuzzing::fuzz_server(&p);
        fuzzing::fuzz_mdns(&p);
    }

    #[test]
    fn txt_round_trip(pairs in proptest::collection::vec(("[a-z]{1,10}", "[ -~]{0,40}"), 0..8)) {
        let strings: Vec<Vec<u8>> = pairs.iter().map(|(k, v)| format!("{k}={v}").into_bytes()).collect();
        let msg = packet::txt_query(3, "ab.dat.local", Some(strings.clone()));
        let back = packet::decode(&packet::encode(&msg, false).unwrap()).unwrap();
        prop_assert_eq!(back, msg);
    }
}
