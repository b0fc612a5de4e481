//! Rust ↔ Rust replication over loopback TCP: full clone into a dat folder, live updates,
//! resume, several peers without overlapping requests, sparse reads.
#![allow(clippy::unwrap_used)]

mod replicate_support;

use std::time::Duration;

use dat_drive::{ImportOptions, import};
use dat_net::replication::{Drive, DriveOptions, Mode};
use replicate_support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_clone_is_byte_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, secrets) = (
        tmp.path().join("src"),
        tmp.path().join("dst"),
        tmp.path().join("keys"),
    );
    sample_tree(&src, 3 * 1024 * 1024 + 17);
    let archive = create_share(&src, &secrets);
    let key = archive.key();
    let version = archive.version();
    let (_sd, _ss, addr) = serve(archive).await;

    let (drive, _swarm) = clone_from(&dst, &secrets, key, Mode::Full, &[addr], false).await;
    assert_eq!(complete_within(&drive, 30).await, version);
    assert_same_tree(&src, &dst);
    let p = drive.progress();
    assert_eq!(p.metadata.length, version + 1);
    assert_eq!(p.content.have_blocks, p.content.wanted_blocks);
    assert!(dst.join(".dat/metadata.key").exists() && dst.join(".dat/content.bitfield").exists());
    assert!(dst.join("empty.bin").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_update_arrives_while_connected() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, secrets) = (
        tmp.path().join("src"),
        tmp.path().join("dst"),
        tmp.path().join("keys"),
    );
    sample_tree(&src, 200_000);
    let archive = create_share(&src, &secrets);
    let key = archive.key();
    let (share, _ss, addr) = serve(archive).await;
    let (drive, _swarm) = clone_from(&dst, &secrets, key, Mode::Full, &[addr], false).await;
    let v1 = complete_within(&drive, 30).await;

    // A new file and a rewritten (shorter) one, imported while the clone stays connected.
    write(&src, "new/file.txt", b"appended live");
    write(&src, "big.bin", &bytes(9, 70_000));
    let s2 = share.clone();
    let src2 = src.clone();
    let v2 = tokio::task::spawn_blocking(move || {
        s2.with_archive_blocking(|a| {
            import(a, &src2, &ImportOptions::default()).unwrap();
            a.version()
        })
        .unwrap()
    })
    .await
    .unwrap();
    assert!(v2 > v1);
    version_within(&drive, v2, 20).await;
    assert_same_tree(&src, &dst);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_peers_split_the_blocks() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, mid, dst, secrets) = (
        tmp.path().join("src"),
        tmp.path().join("mid"),
        tmp.path().join("dst"),
        tmp.path().join("keys"),
    );
    sample_tree(&src, 8 * 1024 * 1024);
    let archive = create_share(&src, &secrets);
    let key = archive.key();
    let (share, _ss, addr) = serve(archive).await;
    // A first clone that also listens: a second full peer.
    let (mid_drive, mid_swarm) = clone_from(&mid, &secrets, key, Mode::Full, &[addr], true).await;
    complete_within(&mid_drive, 30).await;
    let mid_addr = mid_swarm.local_addr().unwrap();

    let (drive, _swarm) =
        clone_from(&dst, &secrets, key, Mode::Full, &[addr, mid_addr], false).await;
    complete_within(&drive, 30).await;
    assert_same_tree(&src, &dst);
    let p = drive.progress();
    let from_share =
        share.progress().content.uploaded_blocks - mid_drive.progress().content.downloaded_blocks;
    let from_mid = mid_drive.progress().content.uploaded_blocks;
    eprintln!(
        "content blocks {} downloaded {} (share sent {from_share}, mid sent {from_mid})",
        p.content.wanted_blocks, p.content.downloaded_blocks
    );
    // Every block was asked of exactly one peer.
    assert_eq!(from_share + from_mid, p.content.wanted_blocks);
    assert_eq!(p.content.downloaded_blocks, p.content.wanted_blocks);
    assert!(from_share > 0 && from_mid > 0, "both peers served blocks");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sparse_read_fetches_only_the_range() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, secrets) = (tmp.path().join("src"), tmp.path().join("keys"));
    let big = bytes(3, 8 * 1024 * 1024);
    sample_tree(&src, 0);
    write(&src, "big.bin", &big);
    let archive = create_share(&src, &secrets);
    let key = archive.key();
    let (_share, _ss, addr) = serve(archive).await;

    let drive = Drive::memory(key, Mode::Sparse, DriveOptions::default()).unwrap();
    let swarm = dat_net::replication::Swarm::start(drive.clone(), Default::default())
        .await
        .unwrap();
    swarm.add_peer(addr);
    let start = 3 * 1024 * 1024 + 1000;
    let len = 1024 * 1024;
    let got = tokio::time::timeout(
        Duration::from_secs(30),
        drive.read("/big.bin", start as u64, len as u64),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(got == big[start..start + len], "bytes differ");
    let p = drive.progress();
    eprintln!(
        "sparse: {} content blocks, {} metadata blocks",
        p.content.downloaded_blocks, p.metadata.downloaded_blocks
    );
    // 1 MiB spans 17 blocks of 64 KiB when unaligned.
    assert!(p.content.downloaded_blocks <= 17, "{p:?}");
    assert!(p.metadata.downloaded_blocks < 10, "{p:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupted_clone_resumes_without_refetching() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, secrets) = (
        tmp.path().join("src"),
        tmp.path().join("dst"),
        tmp.path().join("keys"),
    );
    sample_tree(&src, 48 * 1024 * 1024);
    let archive = create_share(&src, &secrets);
    let key = archive.key();
    let (_share, _ss, addr) = serve(archive).await;

    // First attempt: stopped (tasks aborted, nothing flushed) once some content is stored.
    let (drive, swarm) = clone_from(&dst, &secrets, key, Mode::Full, &[addr], false).await;
    let mut rx = drive.watch_progress();
    tokio::time::timeout(Duration::from_secs(30), async {
        while rx.borrow_and_update().content.have_blocks < 40 {
            rx.changed().await.unwrap();
        }
    })
    .await
    .unwrap();
    drop(swarm);
    drop(drive);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let (drive, _swarm) = clone_from(&dst, &secrets, key, Mode::Full, &[addr], false).await;
    let start = drive.progress();
    complete_within(&drive, 60).await;
    let end = drive.progress();
    eprintln!(
        "resume: {} of {} content blocks were stored, {} downloaded after restart",
        start.content.have_blocks, end.content.wanted_blocks, end.content.downloaded_blocks
    );
    assert!(
        start.content.have_blocks >= 40 && start.content.have_blocks < end.content.wanted_blocks
    );
    assert_eq!(
        end.content.downloaded_blocks,
        end.content.wanted_blocks - start.content.have_blocks
    );
    assert_eq!(
        end.metadata.downloaded_blocks, 0,
        "metadata was complete before the restart"
    );
    assert_same_tree(&src, &dst);
}
