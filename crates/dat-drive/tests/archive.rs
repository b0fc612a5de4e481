//! Archives written by us and by the JS client: every version reads back.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::{Path, PathBuf};

use dat_core::{DatDir, KeyPair};
use dat_drive::{Archive, DriveError, WriteOptions};

fn interop() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop")
}

fn read_all(a: &Archive, v: u64, p: &str) -> Vec<u8> {
    let mut out = Vec::new();
    a.read_file(v, p).unwrap().read_to_end(&mut out).unwrap();
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), dst).unwrap();
        }
    }
}

fn write_history(a: &mut Archive) -> Vec<(String, Vec<u8>)> {
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let opts = WriteOptions {
        mtime: Some(1),
        ctime: Some(1),
        ..Default::default()
    };
    a.write_file("/a.txt", &b"one"[..], opts).unwrap();
    a.write_file("/dir/big.bin", &big[..], opts).unwrap();
    a.write_file("/a.txt", &b"two!"[..], opts).unwrap();
    a.mkdir("/empty", 0, Some(1)).unwrap();
    a.unlink("/dir/big.bin").unwrap();
    a.write_file("/dir/e", &b""[..], opts).unwrap();
    vec![
        ("/a.txt".into(), b"one".to_vec()),
        ("/dir/big.bin".into(), big),
        ("/a.txt".into(), b"two!".to_vec()),
    ]
}

fn check_history(a: &Archive, written: &[(String, Vec<u8>)]) {
    assert_eq!(a.version(), 6);
    assert_eq!(read_all(a, 1, "/a.txt"), written[0].1);
    assert_eq!(read_all(a, 2, "/dir/big.bin"), written[1].1);
    assert_eq!(read_all(a, 4, "/dir/big.bin"), written[1].1);
    assert_eq!(read_all(a, 3, "/a.txt"), written[2].1);
    assert_eq!(read_all(a, 6, "/dir/e"), b"");
    assert!(matches!(
        a.read_file(5, "/dir/big.bin"),
        Err(DriveError::NotFound { .. })
    ));
    // Ranges, including ones that start inside a later block.
    for (start, len) in [
        (0u64, 10u64),
        (65_530, 20),
        (70_000, 100_000),
        (199_990, 100),
    ] {
        let mut out = Vec::new();
        a.read_range(2, "/dir/big.bin", start, len)
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        let s = start as usize;
        let e = (s + len as usize).min(written[1].1.len());
        assert_eq!(out, &written[1].1[s..e], "range {start}+{len}");
    }
    let root = a.checkout(6).unwrap().readdir("/").unwrap().unwrap();
    assert_eq!(root, ["a.txt", "empty", "dir"]);
    assert!(
        a.checkout(6)
            .unwrap()
            .stat("/empty")
            .unwrap()
            .unwrap()
            .is_directory()
    );
    let hist: Vec<_> = a
        .file_history("/a.txt")
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(hist, [1, 3]);
    let changes: Vec<_> = a
        .diff(2, 6)
        .unwrap()
        .map(|c| c.unwrap())
        .map(|c| (c.kind, c.name, c.seq))
        .collect();
    assert_eq!(changes.len(), 5, "{changes:?}");
}

#[test]
fn memory_archive_every_version() {
    let mut a = Archive::in_memory(KeyPair::generate().unwrap()).unwrap();
    let written = write_history(&mut a);
    check_history(&a, &written);
    assert!(a.content().verify_all().unwrap().is_ok());
}

#[test]
fn sleep_archive_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let keys = KeyPair::generate().unwrap();
    let key = keys.public;
    let written = {
        let mut a = Archive::create_sleep(dir.path(), keys).unwrap();
        write_history(&mut a)
    };
    let mut a = Archive::open_sleep(dir.path()).unwrap();
    assert_eq!(a.key(), key);
    assert!(a.writable());
    check_history(&a, &written);
    a.write_file("/more", &b"x"[..], WriteOptions::default())
        .unwrap();
    assert_eq!(read_all(&a, 7, "/more"), b"x");
}

#[test]
fn js_drive1_every_version() {
    let a = Archive::open_hyperdrive_dir(&interop().join("vectors/drive1")).unwrap();
    assert!(a.writable());
    assert_eq!(a.version(), 7);
    assert_eq!(read_all(&a, 1, "/results.csv"), b"a,b\n1,2\n");
    assert_eq!(read_all(&a, 3, "/results.csv"), b"a,b\n1,2\n");
    assert_eq!(read_all(&a, 3, "/figures/graph1.png"), vec![7u8; 70000]);
    assert_eq!(read_all(&a, 4, "/figures/graph2.png"), b"PNG2");
    assert_eq!(read_all(&a, 7, "/results.csv"), b"a,b\n3,4\n");
    assert_eq!(
        a.checkout(7).unwrap().readdir("/").unwrap().unwrap(),
        ["results.csv", "empty"]
    );
}

#[test]
fn js_sleep_layout_reads_like_share13_files() {
    let a = Archive::open_sleep(&interop().join("fixtures/sleep-layout-small/archive")).unwrap();
    assert!(!a.writable());
    let src = interop().join("fixtures/share13-small/archive");
    check_against_folder(&a, &src);
    assert!(a.content().verify_all().unwrap().is_ok());
}

fn check_against_folder(a: &Archive, src: &Path) {
    let v = a.version();
    let tree = a.checkout(v).unwrap();
    let mut stack = vec!["/".to_string()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for name in tree.readdir(&dir).unwrap().unwrap() {
            let path = if dir == "/" {
                format!("/{name}")
            } else {
                format!("{dir}/{name}")
            };
            let st = tree.stat(&path).unwrap().unwrap();
            if st.is_directory() {
                stack.push(path);
            } else {
                let expected = std::fs::read(src.join(&path[1..])).unwrap();
                assert_eq!(read_all(a, v, &path), expected, "{path}");
                files += 1;
            }
        }
    }
    assert!(files >= 2);
}

#[test]
fn js_dat_folders_latest_mode() {
    for (name, home) in [
        ("fixtures/share13-small/archive", None),
        ("vectors/datdir", Some("vectors/home")),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        copy_dir(&interop().join(name), tmp.path());
        let secrets = match home {
            Some(h) => interop().join(h).join(".dat/secret_keys"),
            None => tmp.path().join("no-secrets"),
        };
        let dat = DatDir::new(tmp.path().join(".dat")).with_secret_dir(secrets);
        let a = Archive::open_dat(tmp.path(), &dat).unwrap();
        assert!(a.latest_mode());
        assert_eq!(a.writable(), home.is_some(), "{name}");
        check_against_folder(&a, &interop().join(name));
        assert!(a.content().verify_all().unwrap().is_ok(), "{name}");
    }
}

#[test]
fn corrupt_metadata_block_names_version_and_path() {
    let dir = tempfile::tempdir().unwrap();
    {
        let mut a = Archive::create_sleep(dir.path(), KeyPair::generate().unwrap()).unwrap();
        a.write_file("/x/y.txt", &b"hello"[..], WriteOptions::default())
            .unwrap();
        a.write_file("/z.txt", &b"hi"[..], WriteOptions::default())
            .unwrap();
    }
    // Corrupt entry 1's name field length byte inside metadata.data (entry 0 is the header).
    let data = dir.path().join("metadata.data");
    let mut bytes = std::fs::read(&data).unwrap();
    let header_len = 2 + 10 + 2 + 32;
    bytes[header_len + 1] = 0x7f; // name length runs past the entry
    std::fs::write(&data, bytes).unwrap();
    let a = Archive::open_sleep(dir.path()).unwrap();
    let err = a.checkout(2).unwrap().get("/x/y.txt").unwrap_err();
    match &err {
        DriveError::Entry {
            seq, version, path, ..
        } => {
            assert_eq!((*seq, *version, path.as_str()), (1, 2, "/x/y.txt"));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("version 2") && err.to_string().contains("/x/y.txt"));
}
