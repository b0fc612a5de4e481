//! The benchmark harness runs end to end at smoke sizes: both sides of every workload, the
//! read-back checks, and the table.

use std::process::Command;

#[test]
fn smoke_run_prints_a_checked_table() {
    let Some(lab) = dat_test::JsLab::get("bench smoke") else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--smoke", "--only", "W1,W2,feed-append-1k"])
        .env("DAT_LAB", lab.root())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench --smoke failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for row in [
        "| W1 import one 8 MiB file",
        "| W1 no-op re-import",
        "| W2 import 2k files",
        "| W2 import 2k files of 1–4 KiB in one folder",
        "| feed append, 100k",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no row {row:?} in:\n{stdout}"));
        assert!(!line.contains("(!)"), "a check failed: {line}");
    }
    assert!(stdout.contains("content tree = JS"), "{stdout}");
}

/// W3–W8 (clones, sparse and remote reads, a live change, a killed clone) at smoke sizes:
/// both sides of each, every check, and the bench's network namespace removed afterwards.
#[test]
fn network_smoke_run_prints_a_checked_table() {
    let Some(lab) = dat_test::JsLab::get("bench network smoke") else {
        return;
    };
    let started = std::time::Instant::now();
    let child = Command::new(env!("CARGO_BIN_EXE_bench"))
        .args(["--smoke", "--only", "W3,W4,W5,W6,W7,W8", "--rust-cli"])
        .arg(dat_test::dat_bin())
        .env("DAT_LAB", lab.root())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "bench --smoke failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{stdout}\n(W3–W8 smoke in {:?})", started.elapsed());
    for row in [
        "| W3 clone one 32 MiB file over loopback: receiver",
        "| W3 clone one 32 MiB file: sender",
        "| W4 clone 1k files of 1–4 KiB in 10 folders: metadata complete",
        "| W4 clone 1k files of 1–4 KiB in 10 folders: content complete",
        "| W5 sparse read 1 MiB at 32 MiB of a remote 64 MiB file: first byte",
        "| W5 sparse read 1 MiB at 32 MiB of a remote 64 MiB file, 20 ms RTT: last byte",
        "| W6 10k-file archive, local: list one folder",
        "| W6 10k-file archive, from a peer: stat one deep file",
        "| W7 one new 4 KiB file in a shared 300-file archive",
        "| W8 kill -9 of the receiver at ~50% of a 64 MiB clone",
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(row))
            .unwrap_or_else(|| panic!("no row {row:?} in:\n{stdout}"));
        assert!(!line.contains("(!)"), "a check failed: {line}");
        assert!(line.contains('✓'), "no check in: {line}");
    }
    let namespaces = Command::new("ip").args(["netns", "list"]).output();
    if let Ok(ns) = namespaces {
        let ns = String::from_utf8_lossy(&ns.stdout);
        assert!(
            !ns.contains(&format!("datbench-{pid}-")),
            "the bench left its namespace behind: {ns}"
        );
    }
}
