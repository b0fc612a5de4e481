//! Crash safety of `dat clone`: the receiver is killed with SIGKILL at 50 random points of a
//! clone from a Rust `dat share`. After each kill the partial clone opens and `dat verify`
//! passes (nothing unverified was stored), and `dat clone` run again in the same folder
//! completes with every file's bytes right, fetching only what it did not have. Every tenth
//! resumed clone is then cloned in turn by the JS `dat clone`, served as stored.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use dat_test::{
    JsLab, Json, Proc, block_bytes, dat_bin, file_hashes, offline_config, parse_json_lines,
};

fn dat(home: &Path) -> Command {
    let mut c = Command::new(dat_bin());
    c.env("HOME", home)
        .env("DAT_CONFIG", offline_config())
        .stdin(Stdio::null());
    c
}

/// 200 small files and two of 8 MiB: kills land in the metadata and in the content.
fn make_source(dir: &Path) {
    for i in 0..200u64 {
        let rel = format!("d{}/f{i:03}", i % 10);
        std::fs::create_dir_all(dir.join(&rel).parent().unwrap()).unwrap();
        let len = 1 + (i as usize * 7919) % 20000;
        std::fs::write(dir.join(rel), block_bytes("crash-clone", i, len)).unwrap();
    }
    for i in 0..2u64 {
        std::fs::write(
            dir.join(format!("big{i}.bin")),
            block_bytes("crash-clone-big", i, 8 << 20),
        )
        .unwrap();
    }
}

fn last_event(stdout: &[u8], event: &str) -> Option<Json> {
    parse_json_lines(&String::from_utf8_lossy(stdout))
        .into_iter()
        .rfind(|j| j["event"] == event)
}

#[test]
fn clone_killed_at_50_points_verifies_and_resumes() {
    let lab = JsLab::get("clone_killed_at_50_points_verifies_and_resumes");
    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let src = tmp.path().join("src");
    std::fs::create_dir_all(&home).unwrap();
    make_source(&src);
    let want = file_hashes(&src);

    let mut cmd = dat(&home);
    cmd.args(["--json", "share", src.to_str().unwrap(), "--port", "0"])
        .args(["--no-watch"]);
    let mut share = Proc::spawn(cmd);
    let ev = share.json_event(120, "sharing");
    let link = ev["link"].as_str().unwrap().to_string();
    let peer = format!("127.0.0.1:{}", ev["port"].as_u64().unwrap());

    let clone = |dst: &Path| {
        let mut c = dat(&home);
        c.args([
            "--json",
            "clone",
            &link,
            dst.to_str().unwrap(),
            "--peer",
            &peer,
        ])
        .args(["--timeout", "30"]);
        c
    };

    // A whole clone, to know how long one takes and how much it fetches.
    let probe = tmp.path().join("probe");
    let start = Instant::now();
    let out = clone(&probe).output().unwrap();
    let whole = start.elapsed();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(file_hashes(&probe), want);
    let full_bytes = last_event(&out.stdout, "cloned").unwrap()["downloadedBytes"]
        .as_u64()
        .unwrap();
    println!("a whole clone takes {whole:?} and fetches {full_bytes} bytes");

    let mut seed = 0x5eed_u64;
    // Kill points are drawn over the time a whole clone took; on a loaded machine some land
    // after the clone ended. Go on until 50 kills hit a running clone (at most 150 rounds).
    let (mut interrupted, mut refetched, mut rounds, mut js_clones) = (0, 0u64, 0u64, 0);
    while interrupted < 50 && rounds < 150 {
        let round = rounds;
        rounds += 1;
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let delay = whole.mul_f64(((seed >> 33) % 1000) as f64 / 1000.0);
        let dst = tmp.path().join(format!("clone{round}"));
        let mut child = clone(&dst)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        let _ = child.kill(); // SIGKILL
        child.wait().unwrap();
        let what = format!("round {round}, killed after {delay:?}");

        // A kill before the key is written leaves no feed to verify (the key file may exist,
        // still empty); the resume below must cope with that too.
        let key_len = std::fs::metadata(dst.join(".dat/metadata.key")).map_or(0, |m| m.len());
        if key_len == 32 {
            let v = dat(&home)
                .args(["verify", dst.to_str().unwrap()])
                .output()
                .unwrap();
            assert!(
                v.status.success(),
                "{what}: verify of the partial clone failed: {}{}",
                String::from_utf8_lossy(&v.stdout),
                String::from_utf8_lossy(&v.stderr)
            );
        }
        let out = clone(&dst).output().unwrap();
        assert!(
            out.status.success(),
            "{what}: resume failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let fetched = last_event(&out.stdout, "cloned").unwrap()["downloadedBytes"]
            .as_u64()
            .unwrap();
        assert!(
            fetched <= full_bytes,
            "{what}: refetched {fetched} of {full_bytes}"
        );
        refetched += fetched;
        assert_eq!(file_hashes(&dst), want, "{what}: wrong files after resume");
        let v = dat(&home)
            .args(["verify", dst.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(v.status.success(), "{what}: verify after resume failed");
        if let Some(lab) = &lab
            && round % 10 == 0
        {
            let js = tmp.path().join(format!("js{round}"));
            assert_eq!(lab.clone_of(&dst, &home, &js), want, "{what}: JS clone");
            std::fs::remove_dir_all(&js).unwrap();
            js_clones += 1;
        }
        std::fs::remove_dir_all(&dst).unwrap();
    }
    println!(
        "{rounds} kills: {interrupted} interrupted a running clone; resumes fetched {:.1}% of {rounds} whole clones; JS cloned {js_clones} resumed clones",
        100.0 * refetched as f64 / (rounds * full_bytes) as f64
    );
    assert_eq!(
        interrupted, 50,
        "only {interrupted} of {rounds} kills hit a running clone"
    );
    drop(share);
}
