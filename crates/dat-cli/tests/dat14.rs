//! dat@14's own CLI (hyperswarm: it ignores `--port`, `--dns` and `--dht` and finds peers by
//! hyperswarm's DHT and mDNS only) with ours, by multicast DNS in a private network
//! namespace that has only loopback: the real `dat clone` of dat@14 clones a Rust `dat
//! share`, and a Rust `dat clone` clones a dat@14 `dat share`.
//!
//! Needs root (`ip netns`) and the JS lab; skipped without them. The namespace is made here
//! and removed when the test ends; DNS inside it goes to 127.0.0.1 (in-netns.sh), so nothing
//! can leave it.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;

use dat_test::{JsLab, Proc, file_hashes};

/// A network namespace with only loopback, multicast on, removed on drop.
struct Netns(String);

impl Netns {
    fn new(tag: &str) -> Option<Self> {
        let name = format!("datrs-{tag}-{}", std::process::id());
        let ok = |args: &[&str]| {
            Command::new("ip")
                .args(args)
                .status()
                .is_ok_and(|s| s.success())
        };
        if !ok(&["netns", "add", &name]) {
            eprintln!("skipped: cannot create a network namespace (needs root and iproute2)");
            return None;
        }
        let ns = Self(name);
        for args in [
            &["link", "set", "lo", "up"][..],
            &["link", "set", "lo", "multicast", "on"],
            &["route", "add", "224.0.0.0/4", "dev", "lo"],
        ] {
            let mut full = vec!["netns", "exec", &ns.0, "ip"];
            full.extend_from_slice(args);
            assert!(ok(&full), "ip {full:?}");
        }
        Some(ns)
    }

    /// `program` run inside the namespace.
    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.0]).arg(program);
        cmd
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn folders(tmp: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let (src, dst, home) = (tmp.join("src"), tmp.join("dst"), tmp.join("home"));
    std::fs::create_dir_all(src.join("sub")).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(src.join("hello.txt"), "hello from dat-rs\n").unwrap();
    let big: Vec<u8> = (0..3_000_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
    std::fs::write(src.join("sub/big.bin"), big).unwrap();
    (src, dst, home)
}

/// Only mDNS: no DHT, no DNS servers (and no user config file).
const MDNS_ONLY: [&str; 2] = ["--no-dht", "--no-dns"];

#[test]
fn dat14_cli_clones_a_rust_share_found_by_mdns() {
    let Some(lab) = JsLab::get("dat14_cli_clones_a_rust_share_found_by_mdns") else {
        return;
    };
    let Some(ns) = Netns::new("d14a") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, home) = folders(tmp.path());

    let mut share = ns.command(Path::new(env!("CARGO_BIN_EXE_dat")));
    share
        .args(["--json", "share", "--port", "0"])
        .args(MDNS_ONLY)
        .arg(&src)
        .env("HOME", &home)
        .env("DAT_CONFIG", "/nonexistent/dat-config");
    let mut share = Proc::spawn(share);
    let key = share.json_event(60, "sharing")["key"]
        .as_str()
        .unwrap()
        .to_string();

    let mut js = Command::new("bash");
    js.arg(dat_test::interop_dir().join("scripts/js-clone.sh"))
        .arg(&key)
        .arg(&dst)
        .env("DAT_LAB", lab.root())
        .env("DAT_VERSION", "14")
        .env("NETNS", &ns.0)
        .env("TIMEOUT", "90");
    let mut js = Proc::spawn(js);
    assert!(
        js.wait_exit(120).success(),
        "dat@14 clone failed: {:?}",
        js.seen
    );
    assert_eq!(file_hashes(&src), file_hashes(&dst));
    drop(share);
}

#[test]
fn rust_clone_of_a_dat14_share_found_by_mdns() {
    let Some(lab) = JsLab::get("rust_clone_of_a_dat14_share_found_by_mdns") else {
        return;
    };
    let Some(ns) = Netns::new("d14b") else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, home) = folders(tmp.path());

    let mut js = Command::new("bash");
    js.arg(dat_test::interop_dir().join("scripts/js-share.sh"))
        .arg(&src)
        .env("DAT_LAB", lab.root())
        .env("DAT_VERSION", "14")
        .env("NETNS", &ns.0)
        .env("DAT_HOME", &home)
        .env("TIMEOUT", "120");
    let mut js = Proc::spawn(js);
    let key = js.wait_for(120, |l| l.strip_prefix("KEY=").map(String::from));
    js.wait_for(60, |l| (l == "READY").then_some(()));

    let mut clone = ns.command(Path::new(env!("CARGO_BIN_EXE_dat")));
    clone
        .args(["--json", "clone", &key])
        .arg(&dst)
        .args(MDNS_ONLY)
        .env("HOME", &home)
        .env("DAT_CONFIG", "/nonexistent/dat-config");
    let mut clone = Proc::spawn(clone);
    assert!(
        clone.wait_exit(90).success(),
        "Rust clone failed: {:?}",
        clone.seen
    );
    let text = clone.seen.join("\n");
    assert!(
        text.contains("\"peer-found\"") && text.contains("mdns"),
        "found by mDNS: {text}"
    );
    assert_eq!(file_hashes(&src), file_hashes(&dst));
    drop(js);
}
