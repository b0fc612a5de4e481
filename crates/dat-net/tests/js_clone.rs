//! Replication with the JS reference client (dat@13 / dat@14: hyperdrive 9.16, hypercore
//! 7.7.1, hypercore-protocol 6.12) over loopback TCP, both directions, full, live and sparse.
//! Needs the JS lab (DAT_LAB or target/js-lab); skipped with a message without it, a failure
//! under CI.
#![allow(clippy::unwrap_used)]

mod replicate_support;

use std::time::Duration;

use dat_net::replication::{Drive, DriveOptions, Mode, Swarm, SwarmOptions};
use replicate_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn js_share_to_rust_clone() {
    let Some(lab) = dat_test::JsLab::get("js_share_to_rust_clone") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, secrets) = (
        tmp.path().join("src"),
        tmp.path().join("dst"),
        tmp.path().join("keys"),
    );
    sample_tree(&src, 5 * 1024 * 1024 + 3);
    let (js, key, addr) = js_share(&lab, &src);

    let (drive, _swarm) = clone_from(&dst, &secrets, key, Mode::Full, &[addr], false).await;
    let version = complete_within(&drive, 60).await;
    assert_same_tree(&src, &dst);
    // The verified metadata is the JS writer's, byte for byte (every version's entry).
    let ours = std::fs::read(dst.join(".dat/metadata.data")).unwrap();
    let theirs = std::fs::read(src.join(".dat/metadata.data")).unwrap();
    assert!(ours == theirs, "metadata.data differs");
    assert_eq!(drive.progress().metadata.length, version + 1);
    drop(js);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_share_to_js_dat13_cli_clone() {
    let Some(lab) = dat_test::JsLab::get("rust_share_to_js_dat13_cli_clone") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, secrets) = (
        tmp.path().join("src"),
        tmp.path().join("dst"),
        tmp.path().join("keys"),
    );
    sample_tree(&src, 5 * 1024 * 1024 + 3);
    let archive = create_share(&src, &secrets);
    let key = archive.key();
    let (_share, _swarm, addr) = serve(archive).await;

    // The real `dat clone` CLI, pointed at us through a seeded local discovery server.
    let mut js = Proc::spawn(lab.clone_command(&key.to_hex(), &dst, &addr.to_string()));
    let status = tokio::task::spawn_blocking(move || {
        let s = js.wait_exit(150);
        (s, js)
    })
    .await
    .unwrap();
    assert!(status.0.success(), "dat clone failed: {:?}", status.1.seen);
    assert_same_tree_js(&src, &dst);
}

async fn rust_share_to_dat_node(modules: &str) {
    let Some(lab) = dat_test::JsLab::get("rust_share_to_dat_node") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, secrets) = (
        tmp.path().join("src"),
        tmp.path().join("dst"),
        tmp.path().join("keys"),
    );
    sample_tree(&src, 2 * 1024 * 1024 + 5);
    let archive = create_share(&src, &secrets);
    let key = archive.key();
    let v1 = archive.version();
    let (share, _swarm, addr) = serve(archive).await;

    let mut js = js_dat_node_clone(&lab, modules, &key, addr, &dst, v1);
    let mut js = tokio::task::spawn_blocking(move || {
        js.wait_for(60, |l| l.contains("\"sync\"").then_some(()));
        js
    })
    .await
    .unwrap();
    assert_same_tree_js(&src, &dst);
    assert!(js.wait_exit(10).success());
    drop(share);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_share_to_js_dat13_dat_node() {
    rust_share_to_dat_node("dat13").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rust_share_to_js_dat14_dat_node() {
    rust_share_to_dat_node("dat14").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_js_writer_to_rust_sync() {
    let Some(lab) = dat_test::JsLab::get("live_js_writer_to_rust_sync") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, secrets) = (
        tmp.path().join("src"),
        tmp.path().join("dst"),
        tmp.path().join("keys"),
    );
    sample_tree(&src, 300_000);
    let (js, key, addr) = js_share(&lab, &src);
    let (drive, _swarm) = clone_from(&dst, &secrets, key, Mode::Full, &[addr], false).await;
    let v1 = complete_within(&drive, 60).await;

    // `dat share` watches its folder: the new file becomes a new version, sent live. The
    // watcher may see the folder or the file before its bytes are written, so it may take
    // more than one version to match.
    write(&src, "later/added.bin", &bytes(77, 150_000));
    same_tree_within(&drive, &src, &dst, v1 + 1, 60).await;
    assert_eq!(
        drive.progress().peers,
        1,
        "the same connection carried the update"
    );
    drop(js);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_rust_writer_to_js_dat_node() {
    let Some(lab) = dat_test::JsLab::get("live_rust_writer_to_js_dat_node") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, secrets) = (
        tmp.path().join("src"),
        tmp.path().join("dst"),
        tmp.path().join("keys"),
    );
    sample_tree(&src, 300_000);
    let archive = create_share(&src, &secrets);
    let key = archive.key();
    let v1 = archive.version();
    let (share, _swarm, addr) = serve(archive).await;

    let mut js = js_dat_node_clone(&lab, "dat13", &key, addr, &dst, v1 + 1);
    let mut js = tokio::task::spawn_blocking(move || {
        js.wait_for(60, |l| l.contains("\"sync\"").then_some(()));
        js
    })
    .await
    .unwrap();
    write(&src, "later/added.bin", &bytes(78, 150_000));
    let (share2, src2) = (share.clone(), src.clone());
    let v2 = tokio::task::spawn_blocking(move || {
        share2
            .with_archive_blocking(|a| {
                dat_drive::import(a, &src2, &dat_drive::ImportOptions::default()).unwrap();
                a.version()
            })
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(v2, v1 + 1);
    let js = tokio::task::spawn_blocking(move || {
        let s = js.wait_exit(60);
        assert!(s.success(), "{:?}", js.seen);
        js
    })
    .await
    .unwrap();
    assert!(
        js.seen
            .iter()
            .any(|l| l.contains(&format!("\"version\":{v2}")))
    );
    assert_same_tree_js(&src, &dst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_read_of_a_range_from_js() {
    let Some(lab) = dat_test::JsLab::get("sparse_read_of_a_range_from_js") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (src, store) = (tmp.path().join("src"), tmp.path().join("sparse"));
    const MIB: usize = 1024 * 1024;
    let big = bytes(5, 200 * MIB);
    write(&src, "big.bin", &big);
    write(&src, "small.txt", b"small");
    // JS creates and serves the archive (hyperdrive 9.16 import, archival layout).
    let mut cmd = lab_command(&lab, "node");
    cmd.arg(script("dat-serve.js"))
        .arg("--dir")
        .arg(tmp.path().join("js-archive"))
        .arg("--import")
        .arg(&src)
        .args(["--port", "0", "--timeout", "300", "--quiet"]);
    let mut js = Proc::spawn(cmd);
    let ready = js.wait_for(240, |l| {
        dat_test::parse_json_lines(l)
            .into_iter()
            .find(|j| j["event"] == "ready")
    });
    let key =
        dat_core::PublicKey::from_slice(&hex::decode(ready["key"].as_str().unwrap()).unwrap())
            .unwrap();
    let addr: std::net::SocketAddr = ready["addr"].as_str().unwrap().parse().unwrap();

    let drive = Drive::clone_sleep(&store, key, Mode::Sparse, DriveOptions::default()).unwrap();
    let swarm = Swarm::start(drive.clone(), SwarmOptions::default())
        .await
        .unwrap();
    swarm.add_peer(addr);
    let t0 = std::time::Instant::now();
    let first = tokio::time::timeout(
        Duration::from_secs(60),
        drive.read("/big.bin", 100 * MIB as u64, 1),
    )
    .await
    .unwrap()
    .unwrap();
    let ttfb = t0.elapsed();
    let got = tokio::time::timeout(
        Duration::from_secs(120),
        drive.read("/big.bin", 100 * MIB as u64, 10 * MIB as u64),
    )
    .await
    .unwrap()
    .unwrap();
    let total = t0.elapsed();
    assert_eq!(first, big[100 * MIB..100 * MIB + 1]);
    assert!(got == big[100 * MIB..110 * MIB], "bytes differ");
    let p = drive.progress();
    eprintln!(
        "sparse from JS: first byte after {ttfb:?}, 10 MiB after {total:?}; {} content blocks ({} bytes), {} metadata blocks fetched; content feed length {}",
        p.content.downloaded_blocks,
        p.content.downloaded_bytes,
        p.metadata.downloaded_blocks,
        p.content.length
    );
    // 10 MiB of 64 KiB blocks is 160 (161 when unaligned), of a 3200-block file.
    assert!(p.content.downloaded_blocks <= 161, "{p:?}");
    assert!(p.content.downloaded_blocks >= 160, "{p:?}");
    assert!(p.content.length >= 3200);
    assert!(p.metadata.downloaded_blocks <= 4, "{p:?}");
    drop(js);
}
