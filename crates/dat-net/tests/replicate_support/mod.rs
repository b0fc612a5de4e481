//! Helpers for the replication tests: folders of deterministic files, shares and clones of
//! them, and tree comparison.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use dat_core::{DatDir, KeyPair, PublicKey};
use dat_drive::{Archive, ImportOptions, import};
use dat_net::replication::{Drive, DriveOptions, Mode, Swarm, SwarmOptions};

/// Deterministic bytes: an xorshift stream seeded by `seed`.
pub fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

pub fn write(dir: &Path, name: &str, data: &[u8]) {
    let p = dir.join(name);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

/// A small tree: nested folders, an empty file, a file of several blocks.
pub fn sample_tree(dir: &Path, big: usize) {
    write(dir, "hello.txt", b"hello, dat\n");
    write(dir, "empty.bin", b"");
    write(dir, "a/b/c/deep.txt", b"deep in the tree");
    write(dir, "a/two.bin", &bytes(2, 100_000));
    write(dir, "big.bin", &bytes(3, big));
    for i in 0..20 {
        write(
            dir,
            &format!("many/f{i:02}.txt"),
            format!("file {i}\n").as_bytes(),
        );
    }
}

/// Every regular file below `dir` (hidden names skipped) with its bytes.
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        for e in std::fs::read_dir(dir.join(&rel)).unwrap() {
            let e = e.unwrap();
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            let r = rel.join(&name);
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                stack.push(r);
            } else if ft.is_file() {
                out.insert(
                    r.to_string_lossy().into_owned(),
                    std::fs::read(e.path()).unwrap(),
                );
            }
        }
    }
    out
}

/// Assert two folders hold the same files, naming the first difference.
pub fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    let names_a: Vec<_> = ta.keys().collect();
    let names_b: Vec<_> = tb.keys().collect();
    assert_eq!(names_a, names_b, "file names differ");
    for (k, v) in &ta {
        assert!(
            tb[k] == *v,
            "{k} differs ({} vs {} bytes)",
            v.len(),
            tb[k].len()
        );
    }
}

/// Like [`assert_same_tree`] for a folder written by JS dat-storage, which never creates
/// zero-length files (no block ever lands in them).
pub fn assert_same_tree_js(src: &Path, js: &Path) {
    let mut ts = tree(src);
    ts.retain(|_, v| !v.is_empty());
    let mut tj = tree(js);
    tj.retain(|_, v| !v.is_empty());
    let names_s: Vec<_> = ts.keys().collect();
    let names_j: Vec<_> = tj.keys().collect();
    assert_eq!(names_s, names_j, "file names differ");
    for (k, v) in &ts {
        assert!(
            tj[k] == *v,
            "{k} differs ({} vs {} bytes)",
            v.len(),
            tj[k].len()
        );
    }
}

pub fn dat_dir(dir: &Path, secrets: &Path) -> DatDir {
    DatDir::new(dir.join(".dat")).with_secret_dir(secrets)
}

/// Create and import a dat folder in place (as `dat share` does).
pub fn create_share(dir: &Path, secrets: &Path) -> Archive {
    let mut a =
        Archive::create_dat(dir, &dat_dir(dir, secrets), KeyPair::generate().unwrap()).unwrap();
    import(&mut a, dir, &ImportOptions::default()).unwrap();
    a
}

/// Serve `archive` on an ephemeral loopback port.
pub async fn serve(archive: Archive) -> (Drive, Swarm, SocketAddr) {
    let drive = Drive::share(archive, DriveOptions::default());
    let (swarm, addr) = listen(&drive).await;
    (drive, swarm, addr)
}

/// A swarm for `drive` listening on an ephemeral loopback port.
pub async fn listen(drive: &Drive) -> (Swarm, SocketAddr) {
    let swarm = Swarm::start(
        drive.clone(),
        SwarmOptions {
            listen: Some("127.0.0.1:0".parse().unwrap()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let addr = swarm.local_addr().unwrap();
    (swarm, addr)
}

/// Clone `key` into `dir` from `peers`, listening too when `listen`.
pub async fn clone_from(
    dir: &Path,
    secrets: &Path,
    key: PublicKey,
    mode: Mode,
    peers: &[SocketAddr],
    listen: bool,
) -> (Drive, Swarm) {
    std::fs::create_dir_all(dir).unwrap();
    let drive = Drive::clone_dat(
        dir,
        dat_dir(dir, secrets),
        key,
        mode,
        DriveOptions::default(),
    )
    .unwrap();
    let swarm = Swarm::start(
        drive.clone(),
        SwarmOptions {
            listen: listen.then(|| "127.0.0.1:0".parse().unwrap()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    for p in peers {
        swarm.add_peer(*p);
    }
    (drive, swarm)
}

/// `drive.wait_complete()` bounded by `secs`.
pub async fn complete_within(drive: &Drive, secs: u64) -> u64 {
    match tokio::time::timeout(Duration::from_secs(secs), drive.wait_complete()).await {
        Ok(r) => r.unwrap(),
        Err(_) => panic!("not complete after {secs} s: {:?}", drive.progress()),
    }
}

/// Wait until the drive is complete at version `v` or later.
pub async fn version_within(drive: &Drive, v: u64, secs: u64) {
    let mut rx = drive.watch_progress();
    let fut = async {
        loop {
            {
                let p = rx.borrow_and_update();
                if p.complete && p.version >= v {
                    return;
                }
            }
            rx.changed().await.unwrap();
        }
    };
    if tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .is_err()
    {
        panic!(
            "version {v} not complete after {secs} s: {:?}",
            drive.progress()
        );
    }
}

/// Wait until `dst` holds the same files as `src` at version `v` or later. A writer that
/// watches its folder may publish a file in several versions (created empty, then filled, or
/// its folder first): each is replicated in turn, and only the last one matches `src`.
pub async fn same_tree_within(drive: &Drive, src: &Path, dst: &Path, v: u64, secs: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut v = v;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        version_within(drive, v, left.as_secs().max(1)).await;
        if tree(src) == tree(dst) {
            return;
        }
        if tokio::time::Instant::now() >= deadline {
            assert_same_tree(src, dst);
        }
        v = drive.progress().version + 1;
    }
}

/// A child process (a JS peer) whose stdout lines arrive on a channel; stopped on drop.
pub use dat_test::Proc;

pub fn lab_command(lab: &dat_test::JsLab, program: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(program);
    cmd.env("DAT_LAB", lab.root())
        .env("HOME", lab.root().join("home"))
        .env("NO_UPDATE_NOTIFIER", "1");
    cmd
}

/// A lab script from `interop/scripts`.
pub fn script(name: &str) -> PathBuf {
    dat_test::interop_dir().join("scripts").join(name)
}

/// Start the real `dat share` (dat@13 CLI, no discovery) on `dir`; returns it with the key
/// and its TCP address once its import is done.
pub fn js_share(lab: &dat_test::JsLab, dir: &Path) -> (Proc, PublicKey, SocketAddr) {
    let mut cmd = lab_command(lab, "bash");
    cmd.arg(script("js-share.sh"))
        .arg(dir)
        .env("TIMEOUT", "300");
    let mut p = Proc::spawn(cmd);
    let key = p.wait_for(120, |l| l.strip_prefix("KEY=").map(String::from));
    let addr = p.wait_for(10, |l| l.strip_prefix("ADDR=").map(String::from));
    p.wait_for(10, |l| (l == "READY").then_some(()));
    let key = PublicKey::from_slice(&hex::decode(key).unwrap()).unwrap();
    (p, key, addr.parse().unwrap())
}

/// Clone `key` from `addr` into `dir` with dat-node (`modules`: "dat13" or "dat14"), until it
/// reports a full sync of `until` or a later version.
pub fn js_dat_node_clone(
    lab: &dat_test::JsLab,
    modules: &str,
    key: &PublicKey,
    addr: SocketAddr,
    dir: &Path,
    until: u64,
) -> Proc {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/js/dat-node-clone.js");
    let mut cmd = lab_command(lab, "node");
    cmd.arg(script)
        .args(["--connect", &addr.to_string(), "--key", &key.to_hex()])
        .arg("--dir")
        .arg(dir)
        .args(["--timeout", "120", "--until-version", &until.to_string()])
        .env("DAT_LAB_MODULES", lab.root().join(modules));
    Proc::spawn(cmd)
}
