//! Archives cross the language boundary both ways, each version of each file compared by
//! SHA-256 between what JS hyperdrive 9.16 reads and what dat-drive reads:
//!
//! * `dat create` (the Rust binary) writes a latest-mode folder, and dat-drive's importer an
//!   archival one, over four folder states (nested folders, unicode names, empty files, a
//!   200 MB file, a file changed three times, a deleted file); JS reads every version of both.
//! * JS writes an archival archive with hyperdrive and a latest-mode folder with dat-node;
//!   Rust reads every version of both, and the `dat` commands work on them.
//!
//! In latest mode the working folder holds only the newest bytes of each file: a version of a
//! file is readable exactly while its content blocks are still stored, and both sides must
//! agree on which those are (JS reports them `absent`). Archival archives keep everything, so
//! there every (version, file) must be readable.

#![allow(clippy::unwrap_used)] // a test: a failed unwrap is a failed test

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dat_core::{DatDir, KeyPair};
use dat_drive::{Archive, ImportOptions, import};
use dat_test::{JsLab, Json, Sha256Hex, copy_dir, dat_bin};

/// What one side read: (version, path) → the file's location and its SHA-256, or `None` when
/// its content is not stored.
type Reads = BTreeMap<(u64, String), (Location, Option<String>)>;

/// Where a file's bytes are in the content feed: (offset, blocks, byteOffset, size).
type Location = (u64, u64, u64, u64);

/// Shared content larger than this is hashed once per archive (JS does the same).
const BIG_CACHE_BYTES: u64 = 8 * 1024 * 1024;

const BIG_FILE_BYTES: u64 = 200 * 1000 * 1000;

fn dat(home: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(dat_bin())
        .args(args)
        .env("HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "dat {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Deterministic, incompressible bytes (xorshift64*), streamed into `path` and hashed.
fn write_big(path: &Path, size: u64, seed: u64) -> String {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let mut file = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut sha = Sha256Hex::default();
    let mut x = seed | 1;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in buf.chunks_exact_mut(8) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            word.copy_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        let n = left.min(buf.len() as u64) as usize;
        file.write_all(&buf[..n]).unwrap();
        sha.update(&buf[..n]);
        left -= n as u64;
    }
    file.flush().unwrap();
    sha.finish()
}

fn sha_of(bytes: &[u8]) -> String {
    let mut sha = Sha256Hex::default();
    sha.update(bytes);
    sha.finish()
}

/// Every file of every version as dat-drive reads it (whole-file streaming reads).
fn rust_reads(archive: &Archive) -> Reads {
    let mut out = Reads::new();
    let mut cache: BTreeMap<Location, String> = BTreeMap::new();
    for version in 1..=archive.version() {
        let tree = archive.checkout(version).unwrap();
        let mut dirs = vec!["/".to_string()];
        while let Some(dir) = dirs.pop() {
            for name in tree.readdir(&dir).unwrap().unwrap_or_default() {
                let path = if dir == "/" {
                    format!("/{name}")
                } else {
                    format!("{dir}/{name}")
                };
                let st = tree.stat(&path).unwrap().unwrap();
                if st.is_directory() {
                    dirs.push(path);
                    continue;
                }
                let loc = (st.offset(), st.blocks(), st.byte_offset(), st.size());
                let stored = archive
                    .content()
                    .downloaded(st.offset()..st.offset() + st.blocks())
                    == st.blocks();
                let sha = if !stored {
                    None
                } else if let Some(s) = cache.get(&loc) {
                    Some(s.clone())
                } else {
                    let mut reader = archive
                        .reader_for(&st, &path, version, 0, u64::MAX)
                        .unwrap();
                    let mut sha = Sha256Hex::default();
                    let mut buf = vec![0u8; 1 << 16];
                    let mut n = 0u64;
                    loop {
                        let k = reader.read(&mut buf).unwrap();
                        if k == 0 {
                            break;
                        }
                        sha.update(&buf[..k]);
                        n += k as u64;
                    }
                    assert_eq!(n, st.size(), "{path} at {version}");
                    let s = sha.finish();
                    if st.size() > BIG_CACHE_BYTES {
                        cache.insert(loc, s.clone());
                    }
                    Some(s)
                };
                out.insert((version, path), (loc, sha));
            }
        }
    }
    out
}

/// Every file of every version as JS hyperdrive reads it, from a copy of `dir`.
fn js_reads(lab: &JsLab, dir: &Path, layout: &str) -> (Reads, u64) {
    let copy = tempfile::tempdir().unwrap();
    copy_dir(dir, copy.path());
    let path = copy.path().to_str().unwrap().to_string();
    let lines = lab.node(
        "js/hyperdrive-check.js",
        &["read", &path, "--layout", layout],
        Duration::from_secs(600),
    );
    let mut out = Reads::new();
    let mut version = None;
    for l in &lines {
        match l["event"].as_str() {
            Some("file") => {
                let n = |k: &str| l[k].as_u64().unwrap();
                let loc = (n("offset"), n("blocks"), n("byteOffset"), n("size"));
                let sha = l["sha256"].as_str().map(String::from);
                assert!(sha.is_some() || l["absent"] == true, "{l}");
                let key = (n("version"), l["path"].as_str().unwrap().to_string());
                assert!(out.insert(key, (loc, sha)).is_none(), "duplicate {l}");
            }
            Some("done") => version = l["version"].as_u64(),
            _ => {}
        }
    }
    (out, version.expect("no done event from the JS reader"))
}

/// Both sides read the same files at the same versions with the same bytes.
fn assert_same(rust: &Reads, js: &Reads, what: &str) {
    let only_rust: Vec<_> = rust.keys().filter(|k| !js.contains_key(*k)).collect();
    let only_js: Vec<_> = js.keys().filter(|k| !rust.contains_key(*k)).collect();
    assert!(
        only_rust.is_empty() && only_js.is_empty(),
        "{what}: listed by Rust only {only_rust:?}, by JS only {only_js:?}"
    );
    for (key, r) in rust {
        assert_eq!(Some(r), js.get(key), "{what}: {key:?} (Rust, JS)");
    }
}

/// A folder state: path in the archive → SHA-256 of its bytes.
type Shas = BTreeMap<String, String>;

/// At the version each state was imported, every file of the state reads with its bytes
/// (when `all_stored`; otherwise only the files not changed since, which must be exactly the
/// stored ones), and nothing else is listed.
fn assert_states(reads: &Reads, states: &[(u64, Shas)], latest_mode: bool, what: &str) {
    let final_state = &states.last().unwrap().1;
    for (version, shas) in states {
        let listed: Shas = reads
            .iter()
            .filter(|((v, _), _)| v == version)
            .map(|((_, p), (_, sha))| (p.clone(), sha.clone().unwrap_or_default()))
            .collect();
        assert_eq!(
            listed.keys().collect::<Vec<_>>(),
            shas.keys().collect::<Vec<_>>(),
            "{what} v{version}"
        );
        for (path, sha) in shas {
            let got = &listed[path];
            let unchanged = final_state.get(path) == Some(sha);
            if !latest_mode || unchanged {
                assert_eq!(got, sha, "{what} v{version} {path}");
            } else {
                assert_eq!(got, "", "{what} v{version} {path}: content should be gone");
            }
        }
    }
}

struct Share {
    dir: PathBuf,
    shas: Shas,
}

impl Share {
    fn put(&mut self, rel: &str, bytes: &[u8]) {
        let p = self.dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, bytes).unwrap();
        self.shas.insert(format!("/{rel}"), sha_of(bytes));
    }

    fn delete(&mut self, rel: &str) {
        std::fs::remove_file(self.dir.join(rel)).unwrap();
        self.shas.remove(&format!("/{rel}"));
    }
}

#[test]
fn js_reads_every_version_rust_wrote() {
    let Some(lab) = JsLab::get("js_reads_every_version_rust_wrote") else {
        return;
    };
    let started = Instant::now();
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mut share = Share {
        dir: tmp.path().join("share"),
        shas: Shas::new(),
    };
    let archival_dir = tmp.path().join("archival");
    let mut archival = Archive::create_sleep(&archival_dir, KeyPair::generate().unwrap()).unwrap();
    let work = share.dir.to_str().unwrap().to_string();

    // State 1: nested folders, unicode names, empty files, 200 MB, the file that will change
    // three times, the file that will be deleted.
    share.put("changing.txt", b"version one\n");
    share.put(
        "nested/deeper/deepest/leaf.txt",
        b"a leaf, three folders down\n",
    );
    share.put("nested/empty-too", b"");
    share.put("empty.txt", b"");
    share.put("ünïcødé/ñame — 😀.txt", "ü😀 inside too\n".as_bytes());
    share.put("日本語/ファイル.txt", "こんにちは\n".as_bytes());
    share.put("doomed.txt", b"this file will be deleted\n");
    let big = share.dir.join("big/two-hundred.bin");
    let big_sha = write_big(&big, BIG_FILE_BYTES, 0x5eed);
    share.shas.insert("/big/two-hundred.bin".into(), big_sha);
    let made = Instant::now();
    let mut states = Vec::new();
    let mut archival_states = Vec::new();
    let mut import_secs = Vec::new();
    let mut import_state = |share: &Share, archival: &mut Archive| {
        let t = Instant::now();
        dat(&home, &["create", &work]);
        import_secs.push(t.elapsed().as_secs_f64());
        import(archival, &share.dir, &ImportOptions::default()).unwrap();
        let dat_dir =
            DatDir::new(share.dir.join(".dat")).with_secret_dir(home.join(".dat/secret_keys"));
        let v = Archive::open_dat(&share.dir, &dat_dir).unwrap().version();
        (v, archival.version())
    };
    let (v, av) = import_state(&share, &mut archival);
    states.push((v, share.shas.clone()));
    archival_states.push((av, share.shas.clone()));

    // Three changes of changing.txt (sizes differ so the importer always sees them), a new
    // file, a deletion.
    for (i, text) in [
        "version two, a little longer\n",
        "version three\n",
        "version four: the third change\n",
    ]
    .iter()
    .enumerate()
    {
        share.put("changing.txt", text.as_bytes());
        match i {
            0 => share.put("nested/new.txt", b"added in state 2\n"),
            1 => share.delete("doomed.txt"),
            _ => {}
        }
        let (v, av) = import_state(&share, &mut archival);
        states.push((v, share.shas.clone()));
        archival_states.push((av, share.shas.clone()));
    }
    drop(archival);
    println!(
        "wrote 200 MB in {:.1} s; `dat create` runs took {:?} s",
        made.duration_since(started).as_secs_f64(),
        import_secs
            .iter()
            .map(|s| (s * 10.0).round() / 10.0)
            .collect::<Vec<_>>()
    );

    // Latest mode: the folder `dat create` made.
    let t = Instant::now();
    let dat_dir =
        DatDir::new(share.dir.join(".dat")).with_secret_dir(home.join(".dat/secret_keys"));
    let latest = Archive::open_dat(&share.dir, &dat_dir).unwrap();
    let rust = rust_reads(&latest);
    let rust_secs = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let (js, js_version) = js_reads(&lab, &share.dir, "dat");
    let js_secs = t.elapsed().as_secs_f64();
    assert_eq!(js_version, latest.version());
    assert_same(&rust, &js, "dat create folder");
    assert_states(&rust, &states, true, "dat create folder");
    let absent = rust.values().filter(|(_, s)| s.is_none()).count();
    println!(
        "latest mode: {} (version, file) pairs over {} versions, {absent} with content gone; Rust read {rust_secs:.1} s, JS {js_secs:.1} s",
        rust.len(),
        latest.version()
    );
    assert!(absent > 0, "older versions of changed files must be gone");
    cat_streams(&home, &work, &share.shas["/big/two-hundred.bin"]);

    // Archival: every version of every file is there.
    let archival = Archive::open_sleep(&archival_dir).unwrap();
    let rust = rust_reads(&archival);
    let (js, _) = js_reads(&lab, &archival_dir, "sleep");
    assert_same(&rust, &js, "archival");
    assert_states(&rust, &archival_states, false, "archival");
    assert!(rust.values().all(|(_, s)| s.is_some()));
    println!(
        "archival: {} (version, file) pairs over {} versions, all read by both; total {:.1} s",
        rust.len(),
        archival.version(),
        started.elapsed().as_secs_f64()
    );
}

/// `dat cat` of the 200 MB file gives its bytes without holding them: peak RSS (GNU time's
/// `%M`, when installed) stays far below the file's size.
fn cat_streams(home: &Path, work: &str, want: &str) {
    let time = Path::new("/usr/bin/time");
    let mut cmd = if time.exists() {
        let mut c = Command::new(time);
        c.args(["-f", "peak-rss-kb %M"]).arg(dat_bin());
        c
    } else {
        Command::new(dat_bin())
    };
    let started = Instant::now();
    let mut child = cmd
        .args(["cat", work, "/big/two-hundred.bin"])
        .env("HOME", home)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut sha = Sha256Hex::default();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = stdout.read(&mut buf).unwrap();
        if k == 0 {
            break;
        }
        sha.update(&buf[..k]);
        n += k as u64;
    }
    let out = child.wait_with_output().unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert!(out.status.success());
    assert_eq!(n, BIG_FILE_BYTES);
    assert_eq!(sha.finish(), want);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rss_kb = stderr
        .lines()
        .find_map(|l| l.strip_prefix("peak-rss-kb "))
        .and_then(|v| v.trim().parse::<u64>().ok());
    println!(
        "dat cat of 200 MB: {secs:.1} s ({:.0} MB/s), peak RSS {}",
        BIG_FILE_BYTES as f64 / secs / 1e6,
        rss_kb.map_or("not measured (no /usr/bin/time)".into(), |k| format!(
            "{} MB",
            k / 1024
        ))
    );
    if let Some(kb) = rss_kb {
        assert!(kb < 64 * 1024, "dat cat held {kb} KB");
    }
}

/// The versions at which JS's `wrote` lines left each path's bytes, replayed.
fn js_states(lines: &[Json]) -> Vec<(u64, Shas)> {
    let mut state = Shas::new();
    let mut out = Vec::new();
    for l in lines {
        match l["event"].as_str() {
            Some("wrote") => {
                let path = l["path"].as_str().unwrap().to_string();
                match l["op"].as_str().unwrap() {
                    "put" => {
                        state.insert(path, l["sha256"].as_str().unwrap().to_string());
                    }
                    "del" => {
                        state.remove(&path);
                    }
                    _ => {}
                }
                out.push((l["version"].as_u64().unwrap(), state.clone()));
            }
            Some("imported") => {
                let files = l["files"].as_object().unwrap();
                let shas = files
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
                    .collect();
                out.push((l["version"].as_u64().unwrap(), shas));
            }
            _ => {}
        }
    }
    out
}

#[test]
fn rust_reads_every_version_js_wrote() {
    let Some(lab) = JsLab::get("rust_reads_every_version_js_wrote") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let big = (24 * 1024 * 1024 + 12345).to_string();

    // Archival, written by hyperdrive.
    let sleep = tmp.path().join("sleep");
    let lines = lab.node(
        "js/hyperdrive-check.js",
        &[
            "write",
            sleep.to_str().unwrap(),
            "--layout",
            "sleep",
            "--big",
            &big,
        ],
        Duration::from_secs(600),
    );
    let states = js_states(&lines);
    let archive = Archive::open_sleep(&sleep).unwrap();
    assert!(
        archive.writable(),
        "the secret key is in metadata.secret_key"
    );
    let rust = rust_reads(&archive);
    let (js, _) = js_reads(&lab, &sleep, "sleep");
    assert_same(&rust, &js, "JS archival");
    assert_states(&rust, &states, false, "JS archival");
    assert!(rust.values().all(|(_, s)| s.is_some()));
    println!(
        "JS hyperdrive archive: {} (version, file) pairs over {} versions read by Rust",
        rust.len(),
        archive.version()
    );
    drop(archive);

    // Latest mode, written by dat-node's importer; read without its secret key.
    let share = tmp.path().join("share");
    let secrets = tmp.path().join("secrets");
    let lines = lab.node(
        "js/hyperdrive-check.js",
        &[
            "write",
            share.to_str().unwrap(),
            "--layout",
            "dat",
            "--big",
            &big,
            "--secret-dir",
            secrets.to_str().unwrap(),
        ],
        Duration::from_secs(600),
    );
    let states = js_states(&lines);
    let dat_dir = DatDir::new(share.join(".dat")).with_secret_dir(tmp.path().join("no-secrets"));
    let archive = Archive::open_dat(&share, &dat_dir).unwrap();
    assert!(!archive.writable());
    let rust = rust_reads(&archive);
    let (js, _) = js_reads(&lab, &share, "dat");
    assert_same(&rust, &js, "JS dat folder");
    assert_states(&rust, &states, true, "JS dat folder");
    println!(
        "JS dat-node folder: {} (version, file) pairs over {} versions, {} with content gone",
        rust.len(),
        archive.version(),
        rust.values().filter(|(_, s)| s.is_none()).count()
    );

    // The commands on it, with a HOME that has no key for it.
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let dir = share.to_str().unwrap();
    let verify = String::from_utf8(dat(&home, &["verify", dir]).stdout).unwrap();
    assert!(verify.contains("verified"), "{verify}");
    let status = dat(&home, &["status", "--json", dir]);
    let status = &dat_test::parse_json_lines(&String::from_utf8_lossy(&status.stdout))[0];
    assert_eq!(status["version"], archive.version());
    assert_eq!(status["writable"], false);
    let cat = dat(&home, &["cat", dir, "/changing.txt"]).stdout;
    assert_eq!(cat, b"version four: the third change\n");
    let range = dat(&home, &["cat", dir, "/big.bin", "--range", "65530-65545"]).stdout;
    let whole = std::fs::read(share.join("big.bin")).unwrap();
    assert_eq!(range, &whole[65530..=65545]);
    let ls = String::from_utf8(dat(&home, &["ls", dir, "/ünïcødé"]).stdout).unwrap();
    assert!(ls.contains("ñame — 😀.txt"), "{ls}");
}
