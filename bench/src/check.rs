//! Correctness checks after an import: every file read back through the archive (Rust
//! through dat-drive, JS through hyperdrive) against the sha256 written by the generator, the
//! content feed's leaf hashes compared between the two sides (they depend only on the bytes
//! and how they were cut into blocks, not on keys), and the size of the metadata feed.

use std::io::Read;
use std::path::Path;
use std::time::Duration;

use dat_core::DatDir;
use dat_drive::Archive;
use dat_test::JsLab;
use sha2::{Digest, Sha256};

use crate::data::{Expect, Expected, hex};

/// Read every file of the Rust-written archive in `dir` back and compare with `expected`;
/// all of `expected` must be there if the import was `complete` (else it was stopped, and the
/// archive holds a part). Returns the number of files checked.
pub fn rust_read_back(dir: &Path, secrets: &Path, expected: &Expected, complete: bool) -> usize {
    let dat = DatDir::new(dir.join(".dat")).with_secret_dir(secrets);
    let archive = Archive::open_dat(dir, &dat).unwrap_or_else(|e| panic!("open archive: {e}"));
    let version = archive.version();
    let tree = archive.latest().unwrap_or_else(|e| panic!("latest: {e}"));
    let mut found = Vec::new();
    let mut dirs = vec!["/".to_string()];
    while let Some(d) = dirs.pop() {
        let names = tree
            .readdir(&d)
            .unwrap_or_else(|e| panic!("readdir {d}: {e}"))
            .unwrap_or_default();
        for name in names {
            let path = if d == "/" {
                format!("/{name}")
            } else {
                format!("{d}/{name}")
            };
            let st = tree
                .get(&path)
                .unwrap_or_else(|e| panic!("stat {path}: {e}"));
            match st {
                Some(st) if st.is_file() => found.push(path),
                _ => dirs.push(path),
            }
        }
    }
    for path in &found {
        let mut reader = archive
            .read_file(version, path)
            .unwrap_or_else(|e| panic!("read {path}: {e}"));
        let got = digest(&mut reader, path);
        compare(path, got, expected);
    }
    assert!(
        found.len() == expected.len() || !complete,
        "the Rust archive holds {} files, {} were generated",
        found.len(),
        expected.len()
    );
    found.len()
}

/// Read every file of the JS-written archive in `dir` back with JS hyperdrive and compare with
/// `expected`. The import reported `files` done; if it was `stopped` early, the file in flight
/// may be stored too. Returns the number of files read back.
pub fn js_read_back(
    lab: &JsLab,
    dir: &Path,
    secrets: &Path,
    expected: &Expected,
    files: u64,
    stopped: bool,
) -> u64 {
    let lines = lab.node(
        "js/hyperdrive-bench.js",
        &["verify", &dir.to_string_lossy(), &secrets.to_string_lossy()],
        Duration::from_secs(1800),
    );
    let mut n = 0u64;
    for l in lines.iter().filter(|l| l["event"] == "file") {
        let path = l["path"].as_str().unwrap_or_default();
        let size = l["size"].as_u64().unwrap_or(u64::MAX);
        let sha = l["sha256"].as_str().unwrap_or_default();
        let e = expected
            .get(path)
            .unwrap_or_else(|| panic!("JS archive holds {path}, which was not generated"));
        assert_eq!(
            (size, sha),
            (e.size, hex(&e.sha256).as_str()),
            "JS read back {path} wrong"
        );
        n += 1;
    }
    assert!(
        n == files || (stopped && n == files + 1),
        "JS archive holds {n} files, its import reported {files}"
    );
    n
}

fn digest(reader: &mut impl Read, path: &str) -> Expect {
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut size = 0u64;
    loop {
        let n = reader
            .read(&mut buf)
            .unwrap_or_else(|e| panic!("read {path}: {e}"));
        if n == 0 {
            break;
        }
        size += n as u64;
        hash.update(&buf[..n]);
    }
    Expect {
        size,
        sha256: hash.finalize().into(),
    }
}

fn compare(path: &str, got: Expect, expected: &Expected) {
    let want = expected
        .get(path)
        .unwrap_or_else(|| panic!("archive holds {path}, which was not generated"));
    assert_eq!(got, *want, "read back {path} wrong");
}

/// The content feed's leaf records (hash and size of each block), in block order.
pub fn content_leaves(dir: &Path) -> Vec<[u8; 40]> {
    leaves(dir, "content")
}

/// Sizes of the metadata entries after the header (one per file in a new import), from the
/// metadata feed's leaf records: lets imports of different lengths be compared on the same
/// first files.
pub fn metadata_entry_sizes(dir: &Path) -> Vec<u64> {
    leaves(dir, "metadata")
        .iter()
        .skip(1)
        .map(|r| u64::from_be_bytes(r[32..].try_into().unwrap_or([0; 8])))
        .collect()
}

/// A feed's leaf records (a 32-byte hash, then the block size big-endian), in block order.
fn leaves(dir: &Path, feed: &str) -> Vec<[u8; 40]> {
    let tree = std::fs::read(dir.join(format!(".dat/{feed}.tree"))).unwrap_or_default();
    tree.get(32..)
        .unwrap_or_default()
        .chunks_exact(40)
        .step_by(2)
        .map(|r| r.try_into().unwrap_or([0; 40]))
        .collect()
}

/// Compare the first `n` content leaves of two imports of the same data; `n` must be > 0.
pub fn same_leaves(rust: &[[u8; 40]], js: &[[u8; 40]], n: usize) -> bool {
    n > 0 && rust.len() >= n && js.len() >= n && rust[..n] == js[..n]
}

/// Bytes of the metadata feed on disk (`data`, `tree`, `signatures`, `bitfield`), and of
/// its `data` alone (the entries).
pub fn metadata_bytes(dir: &Path) -> (u64, u64) {
    let size = |name: &str| std::fs::metadata(dir.join(".dat").join(name)).map_or(0, |m| m.len());
    let data = size("metadata.data");
    let all =
        data + size("metadata.tree") + size("metadata.signatures") + size("metadata.bitfield");
    (all, data)
}

/// Remove an import's `.dat` folder and secret keys, so the next run starts fresh on the same
/// (unchanged) files.
pub fn reset(dir: &Path, secrets: &Path) {
    for d in [dir.join(".dat"), secrets.to_path_buf()] {
        match std::fs::remove_dir_all(&d) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => panic!("rm {}: {e}", d.display()),
        }
    }
}
