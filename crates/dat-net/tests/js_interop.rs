//! Interop with the JS dns-discovery 6.2.3 of dat@13: our client against the JS
//! server, and the JS client against our server. Needs `node` and `DAT_LAB`; under
//! `CI` a missing `DAT_LAB` is a failure, locally a printed skip.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dat_core::crypto::PublicKey;
use dat_net::discovery::server::{self, ServerOptions};
use dat_net::discovery::{Discovery, DiscoveryConfig, Source, topic_of};

const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn lab() -> Option<PathBuf> {
    match std::env::var_os("DAT_LAB") {
        Some(p) => Some(PathBuf::from(p)),
        None if std::env::var_os("CI").is_some() => panic!("CI is set but DAT_LAB is missing"),
        None => {
            println!("SKIP: DAT_LAB not set (set DAT_LAB=/work/lab to run the JS interop test)");
            None
        }
    }
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_node(script: PathBuf, args: &[String], lab: &PathBuf) -> (Kill, mpsc::Receiver<String>) {
    let mut child = Command::new("node")
        .arg(script)
        .args(args)
        .env("DAT_LAB", lab)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("node must be installed");
    let out = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    (Kill(child), rx)
}

fn wait_line(rx: &mpsc::Receiver<String>, needle: &str, limit: Duration) -> Option<String> {
    let deadline = Instant::now() + limit;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(needle) => return Some(l),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

fn json_number(line: &str, key: &str) -> Option<u16> {
    let i = line.find(&format!("\"{key}\":"))? + key.len() + 3;
    line[i..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .ok()
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_js_server() {
    let Some(lab) = lab() else { return };
    let key = PublicKey::from_slice(&[0x11; 32]).unwrap();
    let dk = key.discovery_key();
    let seeded = SocketAddrV4::new(LO, 4555);
    let script = repo_root().join("interop/scripts/dat-discovery-server.js");
    let args = ["--port", "0", "--timeout", "30", "--peer"]
        .map(String::from)
        .to_vec();
    let args = [args, vec![format!("{}@{seeded}", key.to_hex())]].concat();
    let (_js, rx) = spawn_node(script, &args, &lab);
    let ready = wait_line(&rx, "\"ready\"", Duration::from_secs(10)).expect("JS server ready");
    let port = json_number(&ready, "port").unwrap();
    let cfg = DiscoveryConfig {
        no_dns: false,
        dns_servers: vec![format!("127.0.0.1:{port}")],
        dns_bind: SocketAddrV4::new(LO, 0),
        schedule: common::fast_schedule(),
        ..DiscoveryConfig::none()
    };
    let (d, mut found) = Discovery::start(cfg).await;
    let t = topic_of(&dk);
    d.join(t, Some(4666)).await;
    let took = common::wait_for(&mut found, t, seeded, Source::Dns, Duration::from_secs(5)).await;
    println!("found the JS-seeded peer after {took:?}");
    assert!(took.is_some(), "{:?}", d.report());
    // The JS server saw our announcement with our port.
    let id = &dk.to_hex()[..40];
    let seen =
        wait_line(&rx, "\"port\":4666", Duration::from_secs(5)).expect("JS saw our announce");
    assert!(
        seen.contains(id) && seen.contains("\"event\":\"announce\""),
        "{seen}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_client_against_our_server() {
    let Some(lab) = lab() else { return };
    let srv = server::spawn(ServerOptions {
        bind: SocketAddrV4::new(LO, 0),
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    let t = common::topic(0x33);
    // A Rust peer announces 4777 on our server.
    let cfg = DiscoveryConfig {
        no_dns: false,
        dns_servers: vec![srv.local_addr().to_string()],
        dns_bind: SocketAddrV4::new(LO, 0),
        schedule: common::fast_schedule(),
        ..DiscoveryConfig::none()
    };
    let (d, mut found) = Discovery::start(cfg).await;
    d.join(t, Some(4777)).await;
    // The JS client announces 4888, and must find 127.0.0.1:4777.
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js/dns-client.js");
    let args = vec![
        srv.local_addr().port().to_string(),
        t.name(),
        "4888".to_string(),
        "127.0.0.1:4777".to_string(),
    ];
    let (mut js, rx) = spawn_node(script, &args, &lab);
    let line = wait_line(&rx, "127.0.0.1:4777", Duration::from_secs(9));
    assert!(line.is_some(), "JS client did not find our announcement");
    let status = tokio::task::spawn_blocking(move || js.0.wait().map(|s| s.success()))
        .await
        .unwrap();
    assert!(status.unwrap(), "JS client exits 0 after finding the peer");
    // And our client learns the JS client's announcement (pushed or looked up).
    let js_peer = SocketAddrV4::new(LO, 4888);
    let took = common::wait_for(&mut found, t, js_peer, Source::Dns, Duration::from_secs(5)).await;
    assert!(took.is_some(), "{:?}", d.report());
    assert!(srv.stats().announces >= 2);
}
