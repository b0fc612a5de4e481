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

/// A peer written with dat-wire that serves the metadata honestly but corrupts every content
/// block it sends (one flipped byte, honest proof).
async fn corrupting_peer(listener: tokio::net::TcpListener, archive: dat_drive::Archive) -> u32 {
    use dat_wire::message::{Data, Have};
    use dat_wire::{Event, Message, Replicator, ReplicatorOptions, Session, SessionOptions};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let mut corrupted = 0;
    let Ok((mut tcp, _)) = listener.accept().await else {
        return 0;
    };
    drop(listener); // one connection only: a redial would fail
    let t0 = std::time::Instant::now();
    let mut session = Session::new(SessionOptions::new([7; 32]), t0);
    let ch0 = session.open_feed(archive.key(), [1; 24]).unwrap();
    let ch1 = session.open_feed(archive.content_key(), [2; 24]).unwrap();
    let opts = ReplicatorOptions {
        download: false,
        ..Default::default()
    };
    let mut meta = Replicator::new(ch0, opts);
    let mut remote_tree = dat_core::RemoteTree::new();
    let (mut buf, mut out) = (vec![0u8; 65536], Vec::new());
    loop {
        session.poll_transmit(&mut out);
        if tcp.write_all(&out).await.is_err() {
            return corrupted;
        }
        out.clear();
        let n = match tokio::time::timeout(Duration::from_secs(10), tcp.read(&mut buf)).await {
            Ok(Ok(n)) if n > 0 => n,
            _ => return corrupted,
        };
        let now = std::time::Instant::now();
        session.handle_input(now, &buf[..n]);
        while let Some(ev) = session.poll_event() {
            match ev {
                Event::Handshake(_) => meta.start(now, &mut session, &archive.metadata()),
                Event::Message { channel, message } if channel == ch0 => {
                    let _ =
                        meta.handle_message(now, &mut session, &mut archive.metadata(), &message);
                }
                Event::Message {
                    channel,
                    message: Message::Want(_),
                } if channel == ch1 => {
                    let have = Have {
                        start: 0,
                        length: Some(archive.content().len()),
                        bitfield: None,
                        ack: false,
                    };
                    session.send(ch1, &Message::Have(have)).unwrap();
                }
                Event::Message {
                    channel,
                    message: Message::Request(r),
                } if channel == ch1 => {
                    let c = archive.content();
                    let proof = c.proof(r.index, r.nodes, false, &mut remote_tree).unwrap();
                    let mut value = c.get(r.index).unwrap();
                    value[0] ^= 1;
                    corrupted += 1;
                    let data = Data {
                        index: r.index,
                        value: Some(value.into()),
                        nodes: proof.nodes,
                        signature: proof.signature,
                    };
                    session.send(ch1, &Message::Data(data)).unwrap();
                }
                Event::Closed(_) => return corrupted,
                _ => {}
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupting_peer_is_banned_and_the_clone_completes_from_an_honest_one() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, secrets) = (
        tmp.path().join("src"),
        tmp.path().join("dst"),
        tmp.path().join("keys"),
    );
    sample_tree(&src, 4 * 1024 * 1024);
    let archive = create_share(&src, &secrets);
    let key = archive.key();
    // The hostile peer reads the same feeds through a second handle.
    let copy = dat_drive::Archive::open_dat(&src, &dat_dir(&src, &secrets)).unwrap();
    let hostile = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hostile_addr = hostile.local_addr().unwrap();
    let hostile_task = tokio::spawn(corrupting_peer(hostile, copy));
    let (_share, _ss, honest_addr) = serve(archive).await;

    std::fs::create_dir_all(&dst).unwrap();
    let drive = Drive::clone_dat(
        &dst,
        dat_dir(&dst, &secrets),
        key,
        Mode::Full,
        DriveOptions::default(),
    )
    .unwrap();
    let mut events = drive.events();
    let swarm = dat_net::replication::Swarm::start(drive.clone(), Default::default())
        .await
        .unwrap();
    swarm.add_peer(hostile_addr);
    tokio::time::sleep(Duration::from_millis(200)).await;
    swarm.add_peer(honest_addr);
    complete_within(&drive, 30).await;
    assert_same_tree(&src, &dst);
    let corrupted = hostile_task.await.unwrap();
    assert!(corrupted > 0, "the hostile peer was asked for blocks");
    let mut banned = false;
    while let Ok(ev) = events.try_recv() {
        match ev {
            dat_net::replication::NetEvent::PeerClosed {
                addr,
                action,
                reason,
            } if addr == hostile_addr => {
                eprintln!("hostile peer closed: {reason}");
                banned |= action == dat_wire::PeerAction::Ban;
            }
            dat_net::replication::NetEvent::DialFailed { addr, .. } => {
                assert_ne!(addr, hostile_addr, "a banned peer is not dialed again")
            }
            _ => {}
        }
    }
    assert!(banned);
}
