//! Two Rust peers in two network namespaces joined by one veth pair (no other route)
//! find each other by mDNS alone, by our DNS discovery server alone, and by a
//! 10-node local DHT alone, each in under 5 s.
//!
//! The test re-runs its own binary inside each namespace (`ip netns exec`) with
//! `DAT_NET_ROLE` selecting what the child does; the namespaces are deleted by a
//! guard, also when the test fails. Requires root and iproute2.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use dat_net::discovery::server::{self, ServerOptions};
use dat_net::discovery::{Discovery, DiscoveryConfig, Source};

const ANNOUNCE_A: u16 = 4101;
const ANNOUNCE_B: u16 = 4102;
const LIMIT: Duration = Duration::from_secs(5);

fn ip(args: &[&str]) {
    let st = Command::new("ip")
        .args(args)
        .status()
        .expect("iproute2 `ip` must be installed");
    assert!(st.success(), "ip {args:?} failed (root needed)");
}

/// Two namespaces `a`,`b` with `10.77.<net>.1` / `.2` on a veth pair.
struct Netns {
    a: String,
    b: String,
    net: u8,
}

impl Netns {
    fn new(net: u8) -> Netns {
        let tag = format!("{}{}", std::process::id() % 100_000, net);
        let n = Netns {
            a: format!("dA{tag}"),
            b: format!("dB{tag}"),
            net,
        };
        let (va, vb) = (format!("vA{tag}"), format!("vB{tag}"));
        ip(&["netns", "add", &n.a]);
        ip(&["netns", "add", &n.b]);
        ip(&["link", "add", &va, "type", "veth", "peer", "name", &vb]);
        for (ns, dev, host) in [(&n.a, &va, 1), (&n.b, &vb, 2)] {
            ip(&["link", "set", dev, "netns", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&[
                "-n",
                ns,
                "addr",
                "add",
                &format!("10.77.{net}.{host}/24"),
                "dev",
                dev,
            ]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
            ip(&["-n", ns, "route", "add", "224.0.0.0/4", "dev", dev]);
        }
        n
    }

    fn addr(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, self.net, host)
    }

    fn spawn(&self, ns: &str, test: &str, env: &[(&str, String)]) -> Child {
        let exe = std::env::current_exe().unwrap();
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", ns]).arg(exe).args([
            test,
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ]);
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
    }
}

/// Stream a child's stdout lines into a channel.
fn lines(child: &mut Child) -> mpsc::Receiver<String> {
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

fn expect_line(rx: &mpsc::Receiver<String>, prefix: &str, wait: Duration) -> Option<String> {
    let deadline = std::time::Instant::now() + wait;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            // libtest prints `test name ... ` without a newline before our output.
            Ok(l) => match l.find(prefix) {
                Some(i) => return Some(l[i + prefix.len()..].trim().to_string()),
                None => eprintln!("child: {l}"),
            },
            Err(_) => return None,
        }
    }
    None
}

/// Parent side: A starts first (and prints READY with any bootstrap info), then B.
fn run_pair(test: &str, role: &str, net: u8) {
    let ns = Netns::new(net);
    let (a_ip, b_ip) = (ns.addr(1), ns.addr(2));
    let base = |me: Ipv4Addr, peer: Ipv4Addr, port: u16, expect: u16, first: bool| {
        vec![
            ("DAT_NET_ROLE", role.to_string()),
            ("DAT_NET_ME", me.to_string()),
            ("DAT_NET_PEER", SocketAddrV4::new(peer, expect).to_string()),
            ("DAT_NET_PORT", port.to_string()),
            ("DAT_NET_FIRST", first.to_string()),
        ]
    };
    let mut a = ns.spawn(&ns.a, test, &base(a_ip, b_ip, ANNOUNCE_A, ANNOUNCE_B, true));
    let a_out = lines(&mut a);
    let ready = expect_line(&a_out, "READY", Duration::from_secs(20));
    let Some(info) = ready else {
        let _ = a.kill();
        panic!("peer A never became ready");
    };
    let mut env_b = base(b_ip, a_ip, ANNOUNCE_B, ANNOUNCE_A, false);
    env_b.push(("DAT_NET_INFO", info));
    let mut b = ns.spawn(&ns.b, test, &env_b);
    let b_out = lines(&mut b);
    let fa = expect_line(&a_out, "FOUND", Duration::from_secs(15));
    let fb = expect_line(&b_out, "FOUND", Duration::from_secs(15));
    let _ = a.kill();
    let _ = b.kill();
    let _ = a.wait();
    let _ = b.wait();
    println!("{role}: A found B after {fa:?} ms, B found A after {fb:?} ms");
    for (who, f) in [("A", fa), ("B", fb)] {
        let ms: u64 = f
            .unwrap_or_else(|| panic!("{who} found nothing by {role}"))
            .parse()
            .unwrap();
        assert!(ms < LIMIT.as_millis() as u64, "{who} took {ms} ms");
    }
}

/// Child side: run discovery inside the namespace, print `FOUND <ms>`.
fn child(role: &str) {
    let env = |k: &str| std::env::var(k).unwrap();
    let me: Ipv4Addr = env("DAT_NET_ME").parse().unwrap();
    let peer: SocketAddrV4 = env("DAT_NET_PEER").parse().unwrap();
    let port: u16 = env("DAT_NET_PORT").parse().unwrap();
    let first = env("DAT_NET_FIRST") == "true";
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let mut cfg = DiscoveryConfig {
            schedule: common::fast_schedule(),
            ..DiscoveryConfig::none()
        };
        let mut keep = Vec::<Box<dyn std::any::Any + Send>>::new();
        let source = match role {
            "mdns" => {
                cfg.no_mdns = false;
                cfg.mdns_interface = me;
                println!("READY -");
                Source::Mdns
            }
            "dns" => {
                let server = SocketAddrV4::new(if first { me } else { *peer.ip() }, 5300);
                if first {
                    let h = server::spawn(ServerOptions {
                        bind: server,
                        ..ServerOptions::default()
                    })
                    .await
                    .unwrap();
                    keep.push(Box::new(h));
                }
                cfg.no_dns = false;
                cfg.dns_servers = vec![server.to_string()];
                cfg.dns_bind = SocketAddrV4::new(me, 0);
                println!("READY -");
                Source::Dns
            }
            "dht" => {
                let bootstrap = if first {
                    let net = tokio::task::spawn_blocking(move || {
                        mainline::Testnet::builder(10)
                            .bind_address(me)
                            .build()
                            .unwrap()
                    })
                    .await
                    .unwrap();
                    let b = net.bootstrap.clone();
                    keep.push(Box::new(net));
                    b
                } else {
                    env("DAT_NET_INFO").split(',').map(str::to_string).collect()
                };
                cfg.no_dht = false;
                cfg.dht_bind = me;
                cfg.dht_bootstrap = bootstrap.clone();
                cfg.dht_request_timeout = Duration::from_millis(250);
                println!("READY {}", bootstrap.join(","));
                Source::Dht
            }
            other => panic!("unknown role {other}"),
        };
        let (d, mut rx) = Discovery::start(cfg).await;
        let t = common::topic(0x5a);
        d.join(t, Some(port)).await;
        match common::wait_for(&mut rx, t, peer, source, Duration::from_secs(12)).await {
            Some(took) => println!("FOUND {}", took.as_millis()),
            None => println!("MISSING {:?}", d.report()),
        }
        // Keep answering for the other side until the parent kills us.
        tokio::time::sleep(Duration::from_secs(20)).await;
        drop(keep);
    });
}

fn role_or_parent(test: &str, role: &str, net: u8) {
    match std::env::var("DAT_NET_ROLE") {
        Ok(r) => child(&r),
        Err(_) => run_pair(test, role, net),
    }
}

#[test]
fn netns_find_by_mdns_alone() {
    role_or_parent("netns_find_by_mdns_alone", "mdns", 1);
}

#[test]
fn netns_find_by_dns_server_alone() {
    role_or_parent("netns_find_by_dns_server_alone", "dns", 2);
}

#[test]
fn netns_find_by_dht_alone() {
    role_or_parent("netns_find_by_dht_alone", "dht", 3);
}
