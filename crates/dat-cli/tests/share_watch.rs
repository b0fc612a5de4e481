//! `dat share` notices changes to its folder by file notifications: a new file becomes a new
//! version within moments, a file written in several steps becomes one version once it is
//! closed (not one per step, nor a half-written one), the archive's own writes start no
//! import; `--poll` rescans instead.

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use dat_test::{Json, Proc, offline_config};

fn share(dir: &Path, home: &Path, extra: &[&str]) -> Proc {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dat"));
    cmd.args(["--json", "share", "--port", "0"])
        .args(extra)
        .arg(dir)
        .env("HOME", home)
        .env("DAT_CONFIG", offline_config());
    let mut p = Proc::spawn(cmd);
    p.json_event(60, "sharing");
    p
}

/// The next `imported` event, and how long it took to come.
fn imported(p: &mut Proc, secs: u64) -> (Json, Duration) {
    let t = Instant::now();
    let ev = p.json_event(secs, "imported");
    (ev, t.elapsed())
}

#[test]
fn changes_are_imported_as_they_happen() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, home) = (tmp.path().join("src"), tmp.path().join("home"));
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("first.txt"), "first").unwrap();
    let mut p = share(&src, &home, &[]);

    // A new file: one version, soon (the debounce waits 20 ms after the file is closed).
    std::fs::write(src.join("new.txt"), vec![7u8; 4096]).unwrap();
    let (ev, took) = imported(&mut p, 10);
    eprintln!("new file imported after {took:?}");
    assert_eq!(
        (ev["added"].as_u64(), ev["bytes"].as_u64()),
        (Some(1), Some(4096))
    );
    assert!(took < Duration::from_secs(2), "{took:?}");

    // Written in two steps 300 ms apart, then closed: one version with all of it.
    let mut f = std::fs::File::create(src.join("slow.bin")).unwrap();
    f.write_all(&[1u8; 100_000]).unwrap();
    f.flush().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    f.write_all(&[2u8; 100_000]).unwrap();
    drop(f);
    let (ev, _) = imported(&mut p, 10);
    assert_eq!(
        (ev["added"].as_u64(), ev["bytes"].as_u64()),
        (Some(1), Some(200_000))
    );

    // A folder created after the share started is watched too; deletions count.
    std::fs::create_dir(src.join("later")).unwrap();
    std::fs::write(src.join("later/deep.txt"), "deep").unwrap();
    let (ev, _) = imported(&mut p, 10);
    assert_eq!(ev["added"].as_u64(), Some(1), "{ev}");
    std::fs::remove_file(src.join("first.txt")).unwrap();
    let (ev, _) = imported(&mut p, 10);
    assert_eq!(ev["deleted"].as_u64(), Some(1), "{ev}");
    let version = ev["version"].as_u64().unwrap();

    // Nothing more happens by itself: our own writes to .dat start no import (an import
    // that found nothing reports nothing, so count versions instead).
    std::thread::sleep(Duration::from_millis(1500));
    drop(p);
    let log = Command::new(env!("CARGO_BIN_EXE_dat"))
        .args(["--json", "status"])
        .arg(&src)
        .env("HOME", &home)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&log.stdout);
    let status = dat_test::parse_json_lines(&text);
    assert_eq!(
        status.last().and_then(|s| s["version"].as_u64()),
        Some(version),
        "{text}"
    );
}

#[test]
fn poll_rescans_instead() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, home) = (tmp.path().join("src"), tmp.path().join("home"));
    std::fs::create_dir_all(&src).unwrap();
    let mut p = share(&src, &home, &["--poll", "--watch-interval", "200"]);
    std::fs::write(src.join("polled.txt"), "found by a rescan").unwrap();
    let (ev, took) = imported(&mut p, 10);
    assert_eq!(ev["added"].as_u64(), Some(1));
    assert!(took < Duration::from_secs(3), "{took:?}");
}
