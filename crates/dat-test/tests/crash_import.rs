//! Crash safety of `dat create`: the writer is killed with SIGKILL at 50 random points of an
//! import, and the disk fills up during another. After each kill, the archive opens, `dat
//! verify` passes, the JS client reads the same files from it (its SLEEP files as the kill
//! left them), the key is the one first written, and a resumed import completes with every
//! file's bytes right. Every tenth kill, the JS `dat clone` also clones the archive as the kill
//! left it, served by `dat share --no-import`; and it clones the final archive.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dat_drive::Archive;
use dat_test::{JsLab, Sha256Hex, copy_dir, dat_bin};

/// splitmix64: reproducible kill points.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            out.extend_from_slice(&self.next().to_le_bytes());
        }
        out.truncate(n);
        out
    }
}

/// The files of the test folder: path → SHA-256.
type Tree = BTreeMap<String, String>;

fn sha(bytes: &[u8]) -> String {
    let mut h = Sha256Hex::default();
    h.update(bytes);
    h.finish()
}

/// 300 small files in 15 folders and three of 4 MiB: many metadata appends and long content
/// appends, so kills land in both.
fn make_source(dir: &Path) -> Tree {
    let mut rng = Rng(7);
    let mut tree = Tree::new();
    for i in 0..300 {
        let rel = format!("d{:02}/f{i:03}.bin", i % 15);
        let len = 1 + (rng.next() % 16384) as usize;
        let bytes = rng.bytes(len);
        std::fs::create_dir_all(dir.join(&rel).parent().unwrap()).unwrap();
        std::fs::write(dir.join(&rel), &bytes).unwrap();
        tree.insert(format!("/{rel}"), sha(&bytes));
    }
    for i in 0..3 {
        let rel = format!("big{i}.bin");
        let bytes = rng.bytes(4 << 20);
        std::fs::write(dir.join(&rel), &bytes).unwrap();
        tree.insert(format!("/{rel}"), sha(&bytes));
    }
    tree
}

fn dat(home: &Path, args: &[&str]) -> Output {
    Command::new(dat_bin())
        .args(args)
        .env("HOME", home)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// The archive's key, once its key file is whole (a create cut short may leave it empty).
fn key_of(dir: &Path) -> Option<Vec<u8>> {
    std::fs::read(dir.join(".dat/metadata.key"))
        .ok()
        .filter(|k| k.len() == 32)
}

/// Every file of the archive's latest version, read through the library.
fn archive_tree(dir: &Path, home: &Path) -> Tree {
    let dat = dat_core::dat_dir::DatDir::new(dir.join(".dat"))
        .with_secret_dir(home.join(".dat/secret_keys"));
    let archive = Archive::open_dat(dir, &dat).unwrap();
    let version = archive.version();
    let latest = archive.latest().unwrap();
    let mut out = Tree::new();
    let mut stack = vec!["/".to_string()];
    while let Some(folder) = stack.pop() {
        for name in latest.readdir(&folder).unwrap().unwrap_or_default() {
            let path = if folder == "/" {
                format!("/{name}")
            } else {
                format!("{folder}/{name}")
            };
            let stat = latest.stat(&path).unwrap().unwrap();
            if stat.is_directory() {
                stack.push(path);
            } else {
                let mut bytes = Vec::new();
                archive
                    .read_file(version, &path)
                    .unwrap()
                    .read_to_end(&mut bytes)
                    .unwrap();
                out.insert(path, sha(&bytes));
            }
        }
    }
    out
}

/// The archive in `dir` opens and verifies; returns its key.
fn assert_sound(dir: &Path, home: &Path, what: &str) -> Vec<u8> {
    let verify = dat(home, &["verify", dir.to_str().unwrap()]);
    assert!(
        verify.status.success(),
        "{what}: dat verify failed: {}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
    key_of(dir).unwrap()
}

/// The files of the latest version as JS hyperdrive reads them from a copy of `dir`.
fn js_read(lab: &JsLab, dir: &Path, scratch: &Path) -> Tree {
    let _ = std::fs::remove_dir_all(scratch);
    copy_dir(dir, scratch);
    let lines = lab.node(
        "js/hyperdrive-check.js",
        &[
            "read",
            scratch.to_str().unwrap(),
            "--layout",
            "dat",
            "--latest",
        ],
        Duration::from_secs(300),
    );
    let version = lines
        .iter()
        .find(|l| l["event"] == "done")
        .and_then(|l| l["version"].as_u64())
        .unwrap();
    lines
        .iter()
        .filter(|l| l["event"] == "file" && l["version"].as_u64() == Some(version))
        .map(|l| {
            (
                l["path"].as_str().unwrap().to_string(),
                l["sha256"].as_str().unwrap_or("absent").to_string(),
            )
        })
        .collect()
}

/// The JS `dat clone` of the archive in `dir` as stored: its files as [`Tree`] paths.
fn js_clone(lab: &JsLab, dir: &Path, home: &Path, dest: &Path) -> Tree {
    lab.clone_of(dir, home, dest)
        .into_iter()
        .map(|(path, sha)| (format!("/{path}"), sha))
        .collect()
}

#[test]
fn import_killed_at_50_points_reopens_verifies_and_resumes() {
    let lab = JsLab::get("import_killed_at_50_points_reopens_verifies_and_resumes");
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let source = tmp.path().join("source");
    std::fs::create_dir_all(&home).unwrap();
    let want = make_source(&source);

    // How long a whole import takes here, to spread the kill points over it.
    let probe = tmp.path().join("probe");
    copy_dir(&source, &probe);
    let start = Instant::now();
    let full = dat(&home, &["create", probe.to_str().unwrap(), "--quiet"]);
    let whole = start.elapsed();
    assert!(full.status.success(), "{full:?}");
    assert_eq!(archive_tree(&probe, &home), want);
    println!("a whole import takes {whole:?}");

    let mut rng = Rng(2026);
    // Kill points are drawn over the time a whole import took; on a loaded machine some land
    // after the import ended. Go on until 50 kills hit a running import (at most 150 rounds).
    let (mut interrupted, mut before_key, mut rounds, mut js_clones) = (0, 0, 0, 0);
    let last_dir = tmp.path().join("last");
    while interrupted < 50 && rounds < 150 {
        let round = rounds;
        rounds += 1;
        let dir = tmp.path().join(format!("round{round}"));
        copy_dir(&source, &dir);
        let delay = whole.mul_f64((rng.next() % 1000) as f64 / 1000.0);
        let mut child = Command::new(dat_bin())
            .args(["create", dir.to_str().unwrap(), "--quiet"])
            .env("HOME", &home)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        child.kill().unwrap_or(()); // SIGKILL
        child.wait().unwrap();

        let what = format!("round {round}, killed after {delay:?}");
        let key = match key_of(&dir) {
            Some(_) => Some(assert_sound(&dir, &home, &what)),
            None => {
                before_key += 1;
                None
            }
        };
        if let (Some(lab), Some(_)) = (&lab, &key) {
            let stored = archive_tree(&dir, &home);
            let js = js_read(lab, &dir, &tmp.path().join("js-read"));
            assert_eq!(js, stored, "{what}: JS reads other files than we do");
            // Five clones (each is a node start and a network clone), of the first recovered
            // archives that hold files: the kill points are independent draws, so these are
            // as good a sample as any, and a load that makes most kills land before the
            // first file cannot leave the later rounds without one.
            if js_clones < 5 && !stored.is_empty() {
                let dest = tmp.path().join(format!("js-clone{round}"));
                let cloned = js_clone(lab, &dir, &home, &dest);
                assert_eq!(cloned, stored, "{what}: JS cloned other files");
                js_clones += 1;
            }
        }
        let resumed = dat(&home, &["create", dir.to_str().unwrap(), "--quiet"]);
        assert!(
            resumed.status.success(),
            "{what}: resume failed: {resumed:?}"
        );
        let after = assert_sound(&dir, &home, &what);
        if let Some(key) = key {
            assert_eq!(key, after, "{what}: the key changed");
        }
        assert_eq!(archive_tree(&dir, &home), want, "{what}: wrong files");
        let _ = std::fs::remove_dir_all(&last_dir);
        std::fs::rename(&dir, &last_dir).unwrap();
    }
    println!(
        "{rounds} kills: {interrupted} interrupted a running import, {before_key} before the key"
    );
    assert_eq!(
        interrupted, 50,
        "only {interrupted} of {rounds} kills hit a running import"
    );

    // The JS client reads and clones the last resumed archive with the same bytes.
    if let Some(lab) = lab {
        assert_eq!(
            js_read(&lab, &last_dir, &tmp.path().join("js-read")),
            want,
            "JS reads different files"
        );
        let dest = tmp.path().join("js-clone-last");
        assert_eq!(js_clone(&lab, &last_dir, &home, &dest), want);
        println!("JS read all {interrupted} recovered archives and cloned {js_clones} of them");
        assert!(
            js_clones >= 4,
            "only {js_clones} JS clones of a recovered archive"
        );
    }
}

/// A mounted tmpfs of `size`, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Self> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| Tmpfs(at.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_gives_a_clear_error_and_the_archive_still_opens() {
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let Some(fs) = Tmpfs::mount(&tmp.path().join("small"), "8m") else {
        assert!(
            std::env::var_os("CI").is_none(),
            "cannot mount a tmpfs under CI"
        );
        println!("skipped: cannot mount a tmpfs (not root?)");
        return;
    };
    let dir = fs.0.join("data");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = Rng(99);
    let mut want = Tree::new();
    for i in 0..400 {
        let rel = format!("f{i:03}.txt");
        let bytes = rng.bytes(900);
        std::fs::write(dir.join(&rel), &bytes).unwrap();
        want.insert(format!("/{rel}"), sha(&bytes));
    }
    // Leave the import about 48 KiB: not enough for 400 entries' metadata and trees.
    let filler = fs.0.join("filler");
    let free = free_bytes(&fs.0);
    std::fs::write(&filler, vec![1u8; (free - 48 * 1024) as usize]).unwrap();

    let full = dat(&home, &["create", dir.to_str().unwrap(), "--quiet"]);
    assert!(
        !full.status.success(),
        "the import cannot fit, yet it succeeded"
    );
    let err = String::from_utf8_lossy(&full.stderr);
    assert!(
        err.contains("No space left on device"),
        "unclear error: {err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    println!("full disk: {}", err.trim());

    // Space comes back: what was written opens and verifies, and the import completes.
    std::fs::remove_file(&filler).unwrap();
    if key_of(&dir).is_some() {
        assert_sound(&dir, &home, "after a full disk");
    }
    let again = dat(&home, &["create", dir.to_str().unwrap(), "--quiet"]);
    assert!(again.status.success(), "{again:?}");
    assert_sound(&dir, &home, "resumed after a full disk");
    assert_eq!(archive_tree(&dir, &home), want);
}

fn free_bytes(path: &Path) -> u64 {
    let out = Command::new("df")
        .args(["--output=avail", "-B1"])
        .arg(path)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}
