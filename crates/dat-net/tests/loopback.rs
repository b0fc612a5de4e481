//! Two Rust peers on loopback find each other through our DNS discovery server and
//! through a 10-node local Mainline DHT. Only 127.0.0.1 is ever contacted.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use common::{fast_schedule, topic, wait_for};
use dat_net::discovery::server::{self, ServerOptions};
use dat_net::discovery::{Discovery, DiscoveryConfig, Source};

const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn dns_only(server: SocketAddrV4) -> DiscoveryConfig {
    DiscoveryConfig {
        no_dns: false,
        dns_servers: vec![server.to_string()],
        dns_bind: SocketAddrV4::new(LO, 0),
        schedule: fast_schedule(),
        ..DiscoveryConfig::none()
    }
}

#[tokio::test]
async fn two_peers_find_each_other_via_our_dns_server() {
    let srv = server::spawn(ServerOptions {
        bind: SocketAddrV4::new(LO, 0),
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    let t = topic(0x42);
    let (a, mut a_rx) = Discovery::start(dns_only(srv.local_addr())).await;
    let (b, mut b_rx) = Discovery::start(dns_only(srv.local_addr())).await;
    a.join(t, Some(4001)).await;
    b.join(t, Some(4002)).await;
    let limit = Duration::from_secs(5);
    let (ta, tb) = tokio::join!(
        wait_for(
            &mut a_rx,
            t,
            SocketAddrV4::new(LO, 4002),
            Source::Dns,
            limit
        ),
        wait_for(
            &mut b_rx,
            t,
            SocketAddrV4::new(LO, 4001),
            Source::Dns,
            limit
        ),
    );
    println!("dns loopback: a found b after {ta:?}, b found a after {tb:?}");
    assert!(ta.is_some() && tb.is_some());
    let report = a.report();
    let dns = report.backend(Source::Dns).unwrap();
    assert!(dns.answers >= 2 && dns.first_answer.is_some(), "{dns:?}");
    assert!(dns.found.iter().any(|f| f.addr.port() == 4002));
    assert!(!report.backend(Source::Dht).unwrap().enabled);
    assert_eq!(srv.stats().malformed, 0);
    // Leaving withdraws the announcement from the server.
    a.leave(t).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let st = srv.stats();
    assert!(st.announces >= 2, "{st:?}");
}

#[tokio::test]
async fn unreachable_server_is_reported_not_fatal() {
    // A bound-then-closed port on loopback: queries time out (or get ICMP refusals).
    let dead = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let SocketAddr4(dead) = SocketAddr4::from(dead);
    let (d, _rx) = Discovery::start(dns_only(dead)).await;
    d.join(topic(1), None).await;
    // Probe sent at 0 s, retried at 1 s and 3 s, given up at 7 s.
    tokio::time::sleep(Duration::from_millis(7500)).await;
    let r = d.report();
    let dns = r.backend(Source::Dns).unwrap();
    assert_eq!(dns.answers, 0);
    assert!(!dns.errors.is_empty(), "{dns:?}");
}

struct SocketAddr4(SocketAddrV4);
impl From<std::net::SocketAddr> for SocketAddr4 {
    fn from(a: std::net::SocketAddr) -> Self {
        match a {
            std::net::SocketAddr::V4(v) => SocketAddr4(v),
            std::net::SocketAddr::V6(_) => panic!("v6"),
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn two_peers_find_each_other_via_a_local_dht() {
    let testnet = tokio::task::spawn_blocking(|| mainline::Testnet::builder(10).build().unwrap())
        .await
        .unwrap();
    let cfg = || DiscoveryConfig {
        no_dht: false,
        dht_bootstrap: testnet.bootstrap.clone(),
        dht_bind: LO,
        dht_request_timeout: Duration::from_millis(250),
        schedule: fast_schedule(),
        ..DiscoveryConfig::none()
    };
    let t = topic(0x77);
    let (a, mut a_rx) = Discovery::start(cfg()).await;
    let (b, mut b_rx) = Discovery::start(cfg()).await;
    a.join(t, Some(5001)).await;
    b.join(t, Some(5002)).await;
    let limit = Duration::from_secs(5);
    let (ta, tb) = tokio::join!(
        wait_for(
            &mut a_rx,
            t,
            SocketAddrV4::new(LO, 5002),
            Source::Dht,
            limit
        ),
        wait_for(
            &mut b_rx,
            t,
            SocketAddrV4::new(LO, 5001),
            Source::Dht,
            limit
        ),
    );
    println!("dht loopback: a found b after {ta:?}, b found a after {tb:?}");
    assert!(ta.is_some() && tb.is_some(), "{:?}", a.report());
}
