//! `dat discovery-server` and `dat doctor` on loopback: one doctor announces a port through
//! our server, a second one finds it there and connects to it.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills the child when the test ends, however it ends.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn dat() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dat"));
    // No user config file, no real network.
    cmd.env("DAT_CONFIG", "/nonexistent/dat-config");
    cmd
}

const LINK: &str = "dat://8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c";

#[test]
fn doctor_finds_an_announced_peer_through_our_server() {
    let mut server = Killed(
        dat()
            .args(["discovery-server", "--port", "0", "--host", "127.0.0.1"])
            .args(["--stats-every", "0", "--json"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(server.0.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .split("\"address\":\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| panic!("no address in {first:?}"))
        .to_string();
    assert!(addr.starts_with("127.0.0.1:"), "{addr}");

    // The announced port is a real listener, so the doctor's TCP check can succeed.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let only_dns = ["--no-dht", "--no-mdns", "--dns-server", &addr];

    let announcer = Killed(
        dat()
            .args([
                "doctor",
                LINK,
                "--timeout",
                "8",
                "--announce",
                &port.to_string(),
            ])
            .args(only_dns)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(1500));

    let start = Instant::now();
    let looked = dat()
        .args(["doctor", LINK, "--timeout", "3", "--json"])
        .args(only_dns)
        .output()
        .unwrap();
    drop(announcer);
    assert!(looked.status.success(), "{looked:?}");
    assert!(start.elapsed() < Duration::from_secs(10));
    let text = String::from_utf8(looked.stdout).unwrap();
    let dns = text
        .lines()
        .find(|l| l.contains("\"backend\":\"dns\""))
        .unwrap_or_else(|| panic!("no dns line in {text}"));
    assert!(dns.contains("\"enabled\":true"), "{dns}");
    assert!(
        dns.contains(&format!("\"address\":\"127.0.0.1:{port}\"")),
        "dns did not find the announced peer: {dns}"
    );
    assert!(!dns.contains("\"firstAnswerMs\":null"), "{dns}");
    let mdns = text.lines().find(|l| l.contains("\"backend\":\"mdns\""));
    assert!(
        mdns.is_none_or(|l| l.contains("\"enabled\":false")),
        "{text}"
    );
    let peer = format!("\"peer\":\"127.0.0.1:{port}\",\"connected\":true");
    assert!(text.contains(&peer), "no TCP check of the peer in {text}");
}

#[test]
fn doctor_without_backends_says_nobody_was_found() {
    let out = dat()
        .args([
            "doctor",
            "--timeout",
            "1",
            "--no-dht",
            "--no-mdns",
            "--no-dns",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("dns   off") && text.contains("no peers found"),
        "{text}"
    );
}

#[test]
fn a_bad_config_file_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config");
    std::fs::write(&cfg, "dht = false\nmdns = perhaps\n").unwrap();
    let out = dat()
        .args(["doctor", "--timeout", "1", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("line 2") && err.contains("mdns"), "{err}");
}
