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
    (drive, swarm, addr)
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
