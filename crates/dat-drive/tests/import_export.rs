//! Import a folder, re-import after changes, export versions; hostile names never escape.
#![allow(clippy::unwrap_used)]

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use dat_core::{DatDir, KeyPair};
use dat_drive::{
    Archive, DriveError, Entry, ImportOptions, NameError, Paths, Stat, export, import,
};

fn write(p: &Path, data: &[u8]) {
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, data).unwrap();
}

fn read_all(a: &Archive, v: u64, p: &str) -> Vec<u8> {
    let mut out = Vec::new();
    a.read_file(v, p).unwrap().read_to_end(&mut out).unwrap();
    out
}

#[test]
fn import_into_dat_folder_and_reimport() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("share");
    let big: Vec<u8> = (0..150_000u32).map(|i| i as u8).collect();
    write(&dir.join("a.txt"), b"hello world\n");
    write(&dir.join("sub/big.bin"), &big);
    write(&dir.join("sub/deeper/c.md"), b"c");
    write(&dir.join(".hidden"), b"h");
    write(&dir.join("skip.log"), b"log");
    write(&dir.join("gone/x"), b"x");
    write(&dir.join(".datignore"), b"*.log\n");
    let dat = DatDir::new(dir.join(".dat")).with_secret_dir(tmp.path().join("secrets"));
    let mut a = Archive::create_dat(&dir, &dat, KeyPair::generate().unwrap()).unwrap();
    let r = import(&mut a, &dir, &ImportOptions::default()).unwrap();
    assert_eq!(
        (r.added, r.updated, r.unchanged, r.deleted),
        (4, 0, 0, 0),
        "{r:?}"
    );
    assert_eq!(r.bytes, 12 + 150_000 + 1 + 1);
    let v1 = a.version();
    assert_eq!(
        a.latest().unwrap().readdir("/").unwrap().unwrap(),
        ["a.txt", "gone", "sub"]
    );
    assert_eq!(read_all(&a, v1, "/sub/big.bin"), big);
    let st = a.latest().unwrap().get("/sub/big.bin").unwrap().unwrap();
    assert_eq!((st.blocks(), st.size(), st.uid), (3, 150_000, Some(0)));
    assert!(a.content().verify_all().unwrap().is_ok());

    // Unchanged files are skipped.
    let r = import(&mut a, &dir, &ImportOptions::default()).unwrap();
    assert_eq!(
        (r.added, r.updated, r.unchanged, r.deleted),
        (0, 0, 4, 0),
        "{r:?}"
    );
    assert_eq!(a.version(), v1);

    // A changed size, a removed folder, a new file.
    write(&dir.join("a.txt"), b"hello again, world\n");
    std::fs::remove_dir_all(dir.join("gone")).unwrap();
    write(&dir.join("new.txt"), b"new");
    let r = import(&mut a, &dir, &ImportOptions::default()).unwrap();
    assert_eq!(
        (r.added, r.updated, r.unchanged, r.deleted),
        (1, 1, 2, 1),
        "{r:?}"
    );
    let latest = a.version();
    assert_eq!(read_all(&a, latest, "/a.txt"), b"hello again, world\n");
    assert_eq!(
        a.latest().unwrap().readdir("/").unwrap().unwrap(),
        ["sub", "a.txt", "new.txt"]
    );
    assert!(a.content().verify_all().unwrap().is_ok());
    // Latest mode: the old bytes of a.txt are gone from the content feed.
    assert!(
        a.read_file(v1, "/a.txt")
            .unwrap()
            .read_to_end(&mut Vec::new())
            .is_err()
    );
    drop(a);

    // Reopens writable and reads the same.
    let a = Archive::open_dat(&dir, &dat).unwrap();
    assert!(a.writable());
    assert_eq!(read_all(&a, latest, "/sub/deeper/c.md"), b"c");
}

#[test]
fn import_archival_then_export_versions() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    write(&src.join("x/y.txt"), b"first");
    write(&src.join("z.bin"), &vec![9u8; 70_000]);
    let mut a =
        Archive::create_sleep(&tmp.path().join("sleep"), KeyPair::generate().unwrap()).unwrap();
    import(&mut a, &src, &ImportOptions::default()).unwrap();
    let v1 = a.version();
    write(&src.join("x/y.txt"), b"second version");
    import(&mut a, &src, &ImportOptions::default()).unwrap();
    let v2 = a.version();
    assert_eq!(v2, v1 + 1);

    let out1 = tmp.path().join("out1");
    let r = export(&a, v1, "/", &out1).unwrap();
    assert_eq!((r.files, r.bytes), (2, 5 + 70_000));
    assert_eq!(std::fs::read(out1.join("x/y.txt")).unwrap(), b"first");
    let out2 = tmp.path().join("out2");
    export(&a, v2, "/x", &out2).unwrap();
    assert_eq!(
        std::fs::read(out2.join("y.txt")).unwrap(),
        b"second version"
    );
    assert!(!out2.join("z.bin").exists());
    let st = a.checkout(v2).unwrap().get("/x/y.txt").unwrap().unwrap();
    let mtime = std::fs::metadata(out2.join("y.txt"))
        .unwrap()
        .modified()
        .unwrap();
    let ms = mtime
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    assert_eq!(ms, st.mtime());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(out2.join("y.txt"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, st.mode & 0o777);
}

#[test]
fn hostile_names_export_nothing_outside() {
    let tmp = tempfile::tempdir().unwrap();
    for evil in [
        "/../evil",
        "/a/../../evil",
        "/a\\..\\..\\evil",
        "/a//b",
        "/a/\0x",
        "/./x",
    ] {
        let mut a = Archive::in_memory(KeyPair::generate().unwrap()).unwrap();
        a.write_file("/ok.txt", &b"fine"[..], Default::default())
            .unwrap();
        // Forge an entry with a hostile name pointing at real content.
        let seq = a.metadata().len();
        let paths = a.latest().unwrap().put_index(evil, seq).unwrap();
        let st = Stat::file(0o644, 4, 1, 0, 0, 0);
        let entry = Entry::new(seq, evil, Some(st), paths);
        a.metadata().append(&entry.encode()).unwrap();
        let dest = tmp.path().join("dest").join("inner");
        let err = export(&a, a.version(), "/", &dest).unwrap_err();
        assert!(
            matches!(err, DriveError::UnsafeName { .. }),
            "{evil}: {err}"
        );
        // Nothing next to the destination.
        let siblings: Vec<_> = std::fs::read_dir(tmp.path().join("dest"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(siblings, ["inner"], "{evil}");
        assert!(!tmp.path().join("evil").exists());
        std::fs::remove_dir_all(tmp.path().join("dest")).unwrap();
    }
    let _ = (Paths::default(), NameError::DotComponent);
}

/// Import rate must not fall as the archive grows (JS drops from 1.6k/s to 40/s by 72k files).
#[test]
fn import_rate_stays_flat() {
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let (dirs, per_dir) = (120, 100);
    for d in 0..dirs {
        for f in 0..per_dir {
            write(
                &src.join(format!("d{d:03}/f{f:03}.txt")),
                format!("{d}-{f}").as_bytes(),
            );
        }
    }
    let mut a =
        Archive::create_sleep(&tmp.path().join("sleep"), KeyPair::generate().unwrap()).unwrap();
    // Import in two halves: the second half's rate must be close to the first's.
    let mut rates = Vec::new();
    let opts = ImportOptions {
        delete_removed: false,
        ..Default::default()
    };
    let half = tmp.path().join("half");
    for part in 0..2 {
        std::fs::create_dir_all(&half).unwrap();
        for d in (part * dirs / 2)..((part + 1) * dirs / 2) {
            std::fs::rename(src.join(format!("d{d:03}")), half.join(format!("d{d:03}"))).unwrap();
        }
        let t = Instant::now();
        let r = import(&mut a, &half, &opts).unwrap();
        let el = t.elapsed().max(Duration::from_micros(1));
        let imported = r.added as f64;
        rates.push(imported / el.as_secs_f64());
        eprintln!(
            "part {part}: {:?} {} files, {:.0} files/s",
            el, r.added, rates[part]
        );
    }
    assert_eq!(
        a.latest().unwrap().readdir("/").unwrap().unwrap().len(),
        dirs
    );
    assert!(rates[1] > rates[0] * 0.5, "rate fell: {rates:?}");
}
