//! `dat ls LINK` and `dat cat LINK/path --range` against a live peer (a Rust `dat share`, and
//! the JS dat@13 CLI's `dat share`): the listing and the bytes match what the archive holds
//! (compared with the local commands on the sharer's folder once it has stopped), and only
//! the blocks of the range are fetched: 1 MiB of a 50 MiB file is 16 or 17 content blocks,
//! not 800. Every child is killed on drop and every wait is bounded. The JS test needs the
//! lab (DAT_LAB or target/js-lab): skipped with a message without it, a failure under CI.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dat_test::{JsLab, Json, Proc};

const MIB: usize = 1024 * 1024;
/// The aligned range: 1 MiB at 20 MiB (blocks 320..336 of big.bin).
const ALIGNED: (usize, usize) = (20 * MIB, 21 * MIB - 1);
/// The same length starting inside a block: it spans 17 blocks.
const UNALIGNED: (usize, usize) = (20 * MIB + 1000, 21 * MIB + 999);

fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

fn write(dir: &Path, name: &str, data: &[u8]) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// Small files in one folder, so that a listing elsewhere shows it reads only a few of the
/// archive's metadata entries.
const MANY: usize = 200;

/// A 50 MiB file beside small ones in nested folders. Returns big.bin's bytes.
fn fixture(dir: &Path) -> Vec<u8> {
    let big = bytes(7, 50 * MIB);
    for i in 0..MANY {
        write(
            dir,
            &format!("many/f{i:03}.txt"),
            format!("file {i}\n").as_bytes(),
        );
    }
    write(dir, "hello.txt", b"hello from a remote archive\n");
    write(dir, "a/two.bin", &bytes(2, 200_000));
    write(dir, "a/b/deep.txt", b"deep");
    write(dir, "a/b/c/deeper.txt", b"deeper still");
    write(dir, "big.bin", &big);
    big
}

/// What a finished command printed.
struct Ran {
    stdout: Vec<u8>,
    stderr: String,
}

impl Ran {
    fn json(&self) -> Vec<Json> {
        dat_test::parse_json_lines(&String::from_utf8_lossy(&self.stdout))
    }

    /// The `fetched` record of a remote read.
    fn fetched(&self) -> Json {
        self.json()
            .into_iter()
            .find(|j| j["event"] == "fetched")
            .unwrap_or_else(|| panic!("no fetched record in {:?}", self.json()))
    }

    /// The records that are not events (ls entries, the cat record).
    fn records(&self) -> Vec<Json> {
        self.json()
            .into_iter()
            .filter(|j| j.get("event").is_none())
            .collect()
    }
}

/// Run `cmd` to completion within `secs` (killed and failed otherwise); `ok` says whether it
/// must succeed.
fn run(mut cmd: Command, secs: u64, ok: bool) -> Ran {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).unwrap();
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        err.read_to_string(&mut s).unwrap();
        s
    });
    let deadline = Instant::now() + Duration::from_secs(secs);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{cmd:?} still running after {secs} s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let ran = Ran {
        stdout: t_out.join().unwrap(),
        stderr: t_err.join().unwrap(),
    };
    eprintln!("{cmd:?}: {status}; stderr: {}", ran.stderr.trim_end());
    assert_eq!(status.success(), ok, "{cmd:?}: {}", ran.stderr);
    ran
}

/// `dat` with a HOME of its own and every discovery backend off.
fn dat(home: &Path, args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_dat"));
    c.env("DAT_CONFIG", dat_test::offline_config())
        .env("HOME", home)
        .args(args);
    c
}

fn range_arg((s, e): (usize, usize)) -> String {
    format!("{s}-{e}")
}

/// The outputs of the remote reads, to compare with the local commands later.
struct Remote {
    ls: Vec<(String, Vec<Json>)>,
    cat: Vec<(String, Vec<Json>)>,
}

/// The paths listed and the ranges read, as `dat ls` / `dat cat` arguments.
const LISTED: [&str; 6] = ["/", "/a", "/a/b", "/a/b/c", "/big.bin", "/many"];
const READ: [(&str, Option<(usize, usize)>); 4] = [
    ("/big.bin", Some(ALIGNED)),
    ("/big.bin", Some(UNALIGNED)),
    ("/hello.txt", None),
    ("/a/two.bin", Some((65_000, 140_000))),
];

/// Read the archive `key` from `peer` with `dat ls` and `dat cat`, checking the bytes against
/// `big` and the blocks fetched; returns the JSON outputs.
fn read_remote(home: &Path, key: &str, peer: &str, big: &[u8], who: &str) -> Remote {
    let link = format!("dat://{key}");
    // A listing fetches metadata only, and not all of it for a subfolder.
    let mut ls = Vec::new();
    for path in LISTED {
        let target = format!("{link}{}", path.trim_end_matches('/'));
        let ran = run(
            dat(home, &["--json", "ls", &target, "--peer", peer]),
            120,
            true,
        );
        let f = ran.fetched();
        assert_eq!(f["contentBlocks"], 0, "{who} ls {path}: {f}");
        let (fetched, all) = (
            f["metadataBlocks"].as_u64().unwrap(),
            f["latest"].as_u64().unwrap() + 1,
        );
        eprintln!(
            "{who}: ls {path}: {fetched} metadata blocks of {all} in {} s",
            f["seconds"]
        );
        assert!(all > MANY as u64, "{who}: {f}");
        // `/many` lists its 200 children; `/` needs the Stat of `/many`, which in
        // hyperdrive 9 means scanning that folder's index level for an entry of its own.
        if path == "/many" {
            assert_eq!(ran.records().len(), MANY, "{who}");
        } else if path != "/" {
            assert!(fetched <= 16, "{who} ls {path} fetched {fetched} of {all}");
        }
        ls.push((path.to_string(), ran.records()));
    }
    // The path as a separate argument, in text mode.
    let ran = run(dat(home, &["ls", &link, "a/b", "--peer", peer]), 120, true);
    let text = String::from_utf8(ran.stdout).unwrap();
    assert!(text.contains("c/") && text.contains("deep.txt"), "{text}");
    assert!(ran.stderr.contains("0 content blocks"), "{}", ran.stderr);

    // The range, raw: byte-identical, 16 blocks (17 unaligned) of big.bin's 800.
    for (range, blocks) in [(ALIGNED, 16..=16), (UNALIGNED, 17..=17)] {
        let target = format!("{link}/big.bin");
        let r = range_arg(range);
        let ran = run(
            dat(home, &["cat", &target, "--range", &r, "--peer", peer]),
            120,
            true,
        );
        assert!(
            ran.stdout == big[range.0..=range.1],
            "{who}: bytes {r} differ"
        );
        let ran = run(
            dat(
                home,
                &["--json", "cat", &target, "--range", &r, "--peer", peer],
            ),
            120,
            true,
        );
        let f = ran.fetched();
        let got = f["contentBlocks"].as_u64().unwrap();
        assert!(blocks.contains(&got), "{who} cat {r}: {f}");
        assert!(f["metadataBlocks"].as_u64().unwrap() <= 6, "{who}: {f}");
        eprintln!(
            "{who}: cat --range {r}: {got} content blocks, {} metadata blocks, first byte after {} ms, done in {} s",
            f["metadataBlocks"], f["firstByteMs"], f["seconds"]
        );
    }
    let mut cat = Vec::new();
    for (path, range) in READ {
        let target = format!("{link}{path}");
        let mut args = vec!["--json", "cat", target.as_str(), "--peer", peer];
        let r = range.map(range_arg);
        if let Some(r) = &r {
            args.extend(["--range", r.as_str()]);
        }
        let ran = run(dat(home, &args), 120, true);
        cat.push((format!("{path} {r:?}"), ran.records()));
    }
    // A whole small file, raw.
    let ran = run(
        dat(
            home,
            &["cat", &format!("{link}/a/b/deep.txt"), "--peer", peer],
        ),
        120,
        true,
    );
    assert_eq!(ran.stdout, b"deep");
    // Absent paths and folders fail with a message.
    let ran = run(
        dat(home, &["cat", &format!("{link}/nope"), "--peer", peer]),
        120,
        false,
    );
    assert!(ran.stderr.contains("/nope not found"), "{}", ran.stderr);
    let ran = run(
        dat(home, &["cat", &format!("{link}/a"), "--peer", peer]),
        120,
        false,
    );
    assert!(ran.stderr.contains("is a directory"), "{}", ran.stderr);
    Remote { ls, cat }
}

/// The local commands on `dir` print what the remote reads printed.
fn same_as_local(home: &Path, dir: &Path, remote: &Remote) {
    let d = dir.to_str().unwrap();
    for (path, records) in &remote.ls {
        let ran = run(dat(home, &["--json", "ls", d, path]), 60, true);
        assert_eq!(&ran.records(), records, "ls {path}");
    }
    for ((path, range), (what, records)) in READ.iter().zip(&remote.cat) {
        let mut args = vec!["--json", "cat", d, path];
        let r = range.map(range_arg);
        if let Some(r) = &r {
            args.extend(["--range", r.as_str()]);
        }
        let ran = run(dat(home, &args), 60, true);
        assert!(&ran.records() == records, "cat {what} differs");
    }
}

fn version_2(home: &Path, key: &str, peer: &str) -> Vec<Json> {
    let link = format!("dat://{key}");
    let ran = run(
        dat(
            home,
            &["--json", "ls", &link, "--version", "2", "--peer", peer],
        ),
        120,
        true,
    );
    assert_eq!(ran.fetched()["version"], 2);
    ran.records()
}

#[test]
fn ls_and_cat_range_from_a_rust_share() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, home) = (tmp.path().join("src"), tmp.path().join("home"));
    std::fs::create_dir_all(&home).unwrap();
    let big = fixture(&src);
    let mut share = Proc::spawn(dat(
        &home,
        &[
            "--json",
            "share",
            "--port",
            "0",
            "--no-dht",
            "--no-dns",
            "--no-mdns",
            "--no-watch",
            src.to_str().unwrap(),
        ],
    ));
    let ev = share.json_event(180, "sharing");
    let key = ev["key"].as_str().unwrap().to_string();
    let peer = format!("127.0.0.1:{}", ev["port"]);
    let remote = read_remote(&home, &key, &peer, &big, "rust share");
    let old = version_2(&home, &key, &peer);
    drop(share);

    same_as_local(&home, &src, &remote);
    let ran = run(
        dat(
            &home,
            &["--json", "ls", src.to_str().unwrap(), "--version", "2"],
        ),
        60,
        true,
    );
    assert_eq!(ran.records(), old);
}

#[test]
fn ls_and_cat_range_from_a_js_share() {
    let Some(lab) = JsLab::get("ls_and_cat_range_from_a_js_share") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (src, home) = (tmp.path().join("src"), tmp.path().join("home"));
    std::fs::create_dir_all(&home).unwrap();
    let big = fixture(&src);
    let mut cmd = Command::new("bash");
    cmd.arg(script("js-share.sh"))
        .arg(&src)
        .env("DAT_LAB", lab.root())
        .env("HOME", lab.root().join("home"))
        .env("NO_UPDATE_NOTIFIER", "1")
        .env("DISCOVERY", "none")
        .env("TIMEOUT", "300");
    let mut js = Proc::spawn(cmd);
    let key = js.wait_for(240, |l| l.strip_prefix("KEY=").map(String::from));
    let peer = js.wait_for(10, |l| l.strip_prefix("ADDR=").map(String::from));
    js.wait_for(10, |l| (l == "READY").then_some(()));
    let remote = read_remote(&home, &key, &peer, &big, "js share");
    drop(js);

    // The JS share's own folder (dat layout, content in the working files), read locally.
    same_as_local(&home, &src, &remote);
}

fn script(name: &str) -> PathBuf {
    dat_test::interop_dir().join("scripts").join(name)
}
