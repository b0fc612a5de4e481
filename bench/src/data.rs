//! Generated inputs: pseudo-random (incompressible) bytes from a fixed seed, so every run and
//! both sides import exactly the same files. The expected sha256 of every file is computed
//! while it is written, and is what read-backs are checked against.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

/// The seed of every generated input.
pub const SEED: u64 = 0xDA7_2026_0001;

/// splitmix64: fast, seedable, and its output does not compress.
pub struct Rng(u64);

impl Rng {
    /// A generator for stream `stream` of the bench seed.
    pub fn new(stream: u64) -> Self {
        let mut rng = Self(SEED ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        rng.next_u64();
        rng
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Fill `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        let mut chunks = buf.chunks_exact_mut(8);
        for c in &mut chunks {
            c.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        let rest = chunks.into_remainder();
        let last = self.next_u64().to_le_bytes();
        let n = rest.len();
        rest.copy_from_slice(&last[..n]);
    }
}

/// A file's expected size and sha256.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expect {
    /// Size in bytes.
    pub size: u64,
    /// sha256 of the contents.
    pub sha256: [u8; 32],
}

/// Expected files by archive path (`/dir/name`).
pub type Expected = BTreeMap<String, Expect>;

/// Write `len` random bytes of stream `stream` to `path`.
pub fn write_file(path: &Path, stream: u64, len: u64) -> Expect {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {}: {e}", parent.display()));
    }
    let file = File::create(path).unwrap_or_else(|e| panic!("create {}: {e}", path.display()));
    let mut out = BufWriter::with_capacity((1 << 20).min(len as usize).max(1), file);
    let mut rng = Rng::new(stream);
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; (1 << 20).min(len as usize)];
    let mut left = len;
    while left > 0 {
        let n = buf.len().min(left as usize);
        rng.fill(&mut buf[..n]);
        hash.update(&buf[..n]);
        out.write_all(&buf[..n])
            .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        left -= n as u64;
    }
    out.flush()
        .unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    Expect {
        size: len,
        sha256: hash.finalize().into(),
    }
}

/// A folder of small files: `count` files of 1–4 KiB spread evenly over `folders` folders
/// (`d00/f000000.bin`, ...), or directly in `one/` when `folders` is 1.
pub fn small_files(root: &Path, count: u64, folders: u64) -> Expected {
    let mut expected = Expected::new();
    let per = count.div_ceil(folders.max(1));
    let mut sizes = Rng::new(u64::MAX);
    for i in 0..count {
        let dir = if folders <= 1 {
            "one".to_string()
        } else {
            format!("d{:02}", i / per)
        };
        let rel = format!("{dir}/f{i:06}.bin");
        let size = 1024 + sizes.next_u64() % (3 * 1024 + 1);
        let e = write_file(&root.join(&rel), i, size);
        expected.insert(format!("/{rel}"), e);
    }
    expected
}

/// Lowercase hex of a digest.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_fixed_and_distinct() {
        let mut a = [0u8; 13];
        let mut b = [0u8; 13];
        Rng::new(1).fill(&mut a);
        Rng::new(1).fill(&mut b);
        assert_eq!(a, b);
        Rng::new(2).fill(&mut b);
        assert_ne!(a, b);
    }

    #[test]
    fn small_files_are_1_to_4_kib_in_folders() {
        let dir = tempfile::tempdir().unwrap();
        let expected = small_files(dir.path(), 30, 3);
        assert_eq!(expected.len(), 30);
        assert!(expected.values().all(|e| (1024..=4096).contains(&e.size)));
        let e = expected["/d01/f000010.bin"];
        let bytes = fs::read(dir.path().join("d01/f000010.bin")).unwrap();
        assert_eq!(bytes.len() as u64, e.size);
        assert_eq!(<[u8; 32]>::from(Sha256::digest(&bytes)), e.sha256);
    }
}
