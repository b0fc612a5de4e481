//! Hostile peers (issue #4). A test double written with dat-wire's `Session` speaks a valid
//! handshake and encryption on a real loopback socket, then misbehaves in one way. For each
//! way the Rust clone (a `Drive` under a `Swarm`) must detect it, drop the peer, store
//! nothing unverified (`Feed::verify_all` of both feeds clean, files identical to the source)
//! and complete from an honest Rust share within a time bound.
//!
//! The honest peer is dialed only once the clone has dropped the hostile one (or, for a peer
//! that stalls, once it holds requests), so every case really meets the misbehaviour: had an
//! honest peer delivered the signed roots first, a bad signature would never be looked at
//! (rightly: the proof then ends at trusted nodes). Each test prints one row of the table in
//! the report.
#![allow(clippy::unwrap_used)]

mod replicate_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dat_core::{Feed, RemoteTree};
use dat_drive::{Archive, FeedKind};
use dat_net::replication::{Drive, DriveOptions, Mode, NetEvent, Swarm};
use dat_wire::message::{Data, Have, Request};
use dat_wire::replicator::WANT_REGION;
use dat_wire::{
    Channel, Event, Message, PeerAction, Replicator, ReplicatorOptions, Session, SessionOptions,
};
use replicate_support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The one thing a hostile peer does wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Misbehaviour {
    /// Answers Requests with the block's bytes altered (honest proof).
    WrongBlock,
    /// Answers the first [`HONEST_FIRST`] Requests honestly, then alters the blocks (so the
    /// proofs end at tree nodes the clone already trusts, not at a signature).
    WrongBlockLater,
    /// Answers with the first proof node's hash altered.
    WrongNodeHash,
    /// Answers with the proof's signature altered.
    BadSignature,
    /// Answers Request `i` with Data for block `length + i`, which it never announced.
    UnannouncedIndex,
    /// Announces the first half of the feed only and answers Request `i` with the block and a
    /// valid proof of `i + length / 2`, which it never announced.
    UnannouncedWithin,
    /// Answers Requests for blocks with a valid proof but no block (a hash-only answer).
    ProofOnly,
    /// Announces 1000 blocks past the feed's end and never answers Requests for them.
    LongerFeed,
    /// Sends one 9 MiB frame after the handshake.
    HugeFrame,
    /// Sends a Have whose RLE bitfield decodes to 2^40 bits after the handshake.
    HugeHave,
    /// Writes pseudo-random bytes after the handshake.
    Garbage,
    /// Takes Requests and never answers them (and keeps the connection alive with pings).
    Stall,
}

use Misbehaviour::*;

/// Honest answers before [`WrongBlockLater`] starts lying.
const HONEST_FIRST: u32 = 8;

/// What the hostile peer did, shared with the test.
#[derive(Clone, Debug, Default)]
struct Stats {
    connections: u32,
    misbehaved: u32,
    /// Connections that ended (the other side hung up, or we gave up).
    ended: u32,
    first: Option<Instant>,
}

fn record(stats: &watch::Sender<Stats>) {
    stats.send_modify(|s| {
        s.misbehaved += 1;
        s.first.get_or_insert_with(Instant::now);
    });
}

/// Accept connections one after the other (a peer that is redialed is met again) and
/// misbehave on each; `feed` is the feed whose Requests a data misbehaviour answers.
async fn hostile_peer(
    listener: TcpListener,
    mut archive: Archive,
    how: Misbehaviour,
    feed: FeedKind,
    stats: watch::Sender<Stats>,
) {
    for _ in 0..20 {
        let Ok((mut tcp, _)) = listener.accept().await else {
            return;
        };
        stats.send_modify(|s| s.connections += 1);
        connection(&mut tcp, &mut archive, how, feed, &stats).await;
        stats.send_modify(|s| s.ended += 1);
    }
}

/// Run `f` on feed `k` (0 metadata, 1 content).
fn with_feed<R>(archive: &mut Archive, k: usize, f: impl FnOnce(&mut Feed) -> R) -> R {
    if k == 0 {
        f(&mut archive.metadata())
    } else {
        f(archive.content_mut())
    }
}

async fn connection(
    tcp: &mut TcpStream,
    archive: &mut Archive,
    how: Misbehaviour,
    target: FeedKind,
    stats: &watch::Sender<Stats>,
) {
    let mut session = Session::new(SessionOptions::new([7; 32]), Instant::now());
    let channels: [Channel; 2] = [
        session.open_feed(archive.key(), [1; 24]).unwrap(),
        session.open_feed(archive.content_key(), [2; 24]).unwrap(),
    ];
    // Uploaders answer Wants with Haves (and Requests, unless we misbehave on them).
    let opts = ReplicatorOptions {
        download: false,
        ..Default::default()
    };
    let mut reps = channels.map(|c| Replicator::new(c, opts.clone()));
    let mut trees = [RemoteTree::new(), RemoteTree::new()];
    let mut answered = 0;
    let target = usize::from(target == FeedKind::Content);
    let (mut buf, mut out) = (vec![0u8; 65536], Vec::new());
    loop {
        session.poll_transmit(&mut out);
        if !out.is_empty() && tcp.write_all(&out).await.is_err() {
            return;
        }
        out.clear();
        let Some(deadline) = session.poll_timeout() else {
            return; // closed
        };
        tokio::select! {
            r = tcp.read(&mut buf) => match r {
                Ok(n) if n > 0 => session.handle_input(Instant::now(), &buf[..n]),
                _ => return,
            },
            _ = tokio::time::sleep_until(deadline.into()) => session.handle_timeout(Instant::now()),
        }
        let now = Instant::now();
        while let Some(ev) = session.poll_event() {
            match ev {
                Event::Handshake(_) => match how {
                    HugeFrame => {
                        let data = Data {
                            index: 0,
                            value: Some(vec![0x5a; 9 * 1024 * 1024].into()),
                            nodes: Vec::new(),
                            signature: None,
                        };
                        session.send(channels[0], &Message::Data(data)).unwrap();
                        record(stats);
                    }
                    HugeHave => {
                        // One run header: 2^37 bytes of 0xff.
                        let mut rle = Vec::new();
                        dat_core::protobuf::write_varint(&mut rle, ((1u64 << 37) << 2) | 3);
                        let have = Have {
                            start: 0,
                            length: Some(WANT_REGION),
                            bitfield: Some(rle.into()),
                            ack: false,
                        };
                        session.send(channels[0], &Message::Have(have)).unwrap();
                        record(stats);
                    }
                    Garbage => {
                        session.poll_transmit(&mut out);
                        let _ = tcp.write_all(&out).await;
                        record(stats);
                        return write_garbage(tcp).await;
                    }
                    _ => {}
                },
                Event::Message { channel, message } => {
                    let Some(k) = channels.iter().position(|c| *c == channel) else {
                        continue;
                    };
                    if let Message::Request(r) = &message {
                        let beyond = with_feed(archive, k, |f| r.index >= f.len());
                        if how == Stall || (how == LongerFeed && beyond) {
                            record(stats);
                            continue;
                        }
                        if k == target && !r.hash {
                            // WrongBlockLater answers honestly until it starts lying.
                            let how = match how {
                                WrongBlockLater if answered >= HONEST_FIRST => WrongBlock,
                                how => how,
                            };
                            answered += 1;
                            let (data, altered) =
                                with_feed(archive, k, |f| forge(how, f, r, &mut trees[k]));
                            session.send(channel, &Message::Data(data)).unwrap();
                            if altered {
                                record(stats);
                            }
                            continue;
                        }
                    }
                    if how == UnannouncedWithin
                        && k == target
                        && matches!(message, Message::Want(_))
                    {
                        let have = Have {
                            start: 0,
                            length: Some(with_feed(archive, k, |f| f.len() / 2)),
                            bitfield: None,
                            ack: false,
                        };
                        session.send(channel, &Message::Have(have)).unwrap();
                        continue;
                    }
                    let rep = &mut reps[k];
                    let session = &mut session;
                    let _ = with_feed(archive, k, |f| {
                        rep.handle_message(now, session, f, &message)
                    });
                    if how == LongerFeed && k == target && matches!(message, Message::Want(_)) {
                        let have = Have {
                            start: with_feed(archive, k, |f| f.len()),
                            length: Some(1000),
                            bitfield: None,
                            ack: false,
                        };
                        session.send(channel, &Message::Have(have)).unwrap();
                    }
                }
                Event::Closed(_) => return,
                _ => {}
            }
        }
    }
}

/// The answer to `r` with `how` applied; whether anything was altered (a proof may have no
/// node or no signature to alter, and is then sent honestly).
fn forge(
    how: Misbehaviour,
    feed: &Feed,
    r: &Request,
    tree: &mut RemoteTree,
) -> (Data<'static>, bool) {
    let hash_only = how == ProofOnly;
    let (index, digest) = match how {
        UnannouncedWithin => (r.index + feed.len() / 2, 0), // 0: a whole proof
        _ => (r.index, r.nodes),
    };
    let proof = feed.proof(index, digest, hash_only, tree).unwrap();
    let mut data = Data {
        index,
        value: (!hash_only).then(|| feed.get(index).unwrap().into()),
        nodes: proof.nodes,
        signature: proof.signature,
    };
    let altered = match how {
        WrongBlock => data
            .value
            .as_mut()
            .and_then(|v| v.to_mut().first_mut().map(|b| *b ^= 1))
            .is_some(),
        WrongNodeHash => data.nodes.first_mut().map(|n| n.hash.0[0] ^= 1).is_some(),
        BadSignature => data.signature.as_mut().map(|s| s.0[0] ^= 1).is_some(),
        UnannouncedIndex => {
            data.index = feed.len() + r.index;
            true
        }
        ProofOnly | UnannouncedWithin => true,
        WrongBlockLater | LongerFeed | HugeFrame | HugeHave | Garbage | Stall => false,
    };
    (data, altered)
}

/// Pseudo-random bytes straight onto the socket (past the session's cipher: the receiver
/// decrypts them into other random bytes) until the peer hangs up, at most 64 MiB or 20 s.
async fn write_garbage(tcp: &mut TcpStream) {
    let until = Instant::now() + Duration::from_secs(20);
    for seed in 1..=1024u64 {
        let chunk = bytes(seed ^ 0xdead_beef, 64 * 1024);
        let left = until.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, tcp.write_all(&chunk)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
}

/// Timestamped driver events.
type Log = Arc<Mutex<Vec<(Instant, NetEvent)>>>;

fn collect_events(drive: &Drive) -> Log {
    let log: Log = Arc::default();
    let mut rx = drive.events();
    let l = log.clone();
    tokio::spawn(async move {
        while let Ok(ev) = rx.recv().await {
            l.lock().unwrap().push((Instant::now(), ev));
        }
    });
    log
}

/// When, why and how the clone first dropped `peer`.
fn dropped(log: &Log, peer: SocketAddr) -> Option<(Instant, String, PeerAction)> {
    log.lock().unwrap().iter().find_map(|(t, e)| match e {
        NetEvent::PeerClosed {
            addr,
            reason,
            action,
        } if *addr == peer => Some((*t, reason.clone(), *action)),
        _ => None,
    })
}

/// What a case must look like.
struct Expect {
    action: PeerAction,
    /// A phrase of the close reason (any reason when empty).
    reason: &'static str,
    /// Longest time from the misbehaviour to the peer's disconnection.
    detect: Duration,
    /// Longest time from dialing the hostile peer to a complete clone.
    complete: Duration,
}

fn banned(reason: &'static str) -> Expect {
    Expect {
        action: PeerAction::Ban,
        reason,
        detect: Duration::from_secs(3),
        complete: Duration::from_secs(20),
    }
}

/// Run one case: clone a 4 MiB sample tree with the hostile peer dialed first and the honest
/// share dialed once the hostile peer has misbehaved.
async fn case(how: Misbehaviour, feed: FeedKind, expect: Expect) {
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
    let copy = Archive::open_dat(&src, &dat_dir(&src, &secrets)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hostile_addr = listener.local_addr().unwrap();
    let (stats_tx, mut stats) = watch::channel(Stats::default());
    let hostile = tokio::spawn(hostile_peer(listener, copy, how, feed, stats_tx));
    let (share, _share_swarm, honest_addr) = serve(archive).await;

    std::fs::create_dir_all(&dst).unwrap();
    let opts = DriveOptions::default();
    let drive = Drive::clone_dat(&dst, dat_dir(&dst, &secrets), key, Mode::Full, opts).unwrap();
    let log = collect_events(&drive);
    let swarm = Swarm::start(drive.clone(), Default::default())
        .await
        .unwrap();
    let t0 = Instant::now();
    swarm.add_peer(hostile_addr);
    let first = tokio::time::timeout(
        Duration::from_secs(10),
        stats.wait_for(|s| s.misbehaved > 0),
    )
    .await
    .unwrap_or_else(|_| panic!("{how:?}: the hostile peer never got to misbehave"))
    .unwrap()
    .first
    .unwrap();
    if expect.action == PeerAction::Ban {
        let until = first + expect.detect;
        while dropped(&log, hostile_addr).is_none() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    swarm.add_peer(honest_addr);
    let version = match tokio::time::timeout(expect.complete, drive.wait_complete()).await {
        Ok(v) => v.unwrap(),
        Err(_) => panic!(
            "{how:?}: not complete after {:?}: {:?}\nevents: {:?}",
            expect.complete,
            drive.progress(),
            log.lock().unwrap()
        ),
    };
    let done = Instant::now();
    // Long enough for a redial (500 ms) of a peer that was not banned.
    tokio::time::sleep(Duration::from_millis(800)).await;
    drop(swarm);

    // Dropped, for the reason expected, in time.
    let events = log.lock().unwrap().clone();
    let (closed_at, reason, action) = dropped(&log, hostile_addr).unwrap_or_else(|| {
        panic!(
            "{how:?}: the hostile peer was never dropped: {events:?}\nshare {:?}\nclone {:?}",
            share.progress(),
            drive.progress()
        )
    });
    let detect = closed_at.saturating_duration_since(first);
    assert_eq!(action, expect.action, "{how:?}: {reason}");
    assert!(reason.contains(expect.reason), "{how:?}: {reason}");
    assert!(detect <= expect.detect, "{how:?}: dropped after {detect:?}");
    let redials = events
        .iter()
        .filter(|(_, e)| matches!(e, NetEvent::PeerConnected { addr } if *addr == hostile_addr))
        .count();
    if action == PeerAction::Ban {
        assert_eq!(redials, 1, "{how:?}: a banned peer is never dialed again");
        assert_eq!(stats.borrow().connections, 1);
    }

    // Nothing unverified stored: every block downloaded once, both feeds verify, and what
    // is on disk matches the source.
    let p = drive.progress();
    assert_eq!(p.version, version);
    assert_eq!(
        p.content.downloaded_blocks, p.content.wanted_blocks,
        "{p:?}"
    );
    assert_eq!(p.metadata.downloaded_blocks, p.metadata.length, "{p:?}");
    drive.flush().await.unwrap();
    let reports = drive
        .with_archive(|a| {
            // Content in working files looks its files up in the metadata feed: one at a time.
            let metadata = a.metadata().verify_all().unwrap();
            (metadata, a.content().verify_all().unwrap())
        })
        .await
        .unwrap();
    assert!(reports.0.is_ok() && reports.1.is_ok(), "{reports:?}");
    assert_eq!(reports.1.blocks_checked, p.content.wanted_blocks);
    drop(drive);
    assert_same_tree(&src, &dst);
    let reopened = Archive::open_dat(&dst, &dat_dir(&dst, &secrets)).unwrap();
    assert!(reopened.metadata().verify_all().unwrap().is_ok());
    assert!(reopened.content().verify_all().unwrap().is_ok());
    hostile.abort();

    let s = stats.borrow().clone();
    eprintln!(
        "| {how:?} ({feed}) | {action:?}: {reason} | detected {:.0} ms after it | complete {:.0} ms after dialing | misbehaved {} time(s), {} connection(s) |",
        detect.as_secs_f64() * 1e3,
        done.duration_since(t0).as_secs_f64() * 1e3,
        s.misbehaved,
        s.connections,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_block() {
    let e = banned("failed verification");
    case(WrongBlock, FeedKind::Content, e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_block_of_metadata() {
    let e = banned("failed verification");
    case(WrongBlock, FeedKind::Metadata, e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_block_after_honest_ones() {
    let e = banned("hash mismatch at tree node");
    case(WrongBlockLater, FeedKind::Content, e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_proof_node_hash() {
    let e = banned("failed verification");
    case(WrongNodeHash, FeedKind::Content, e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signature() {
    let e = banned("does not verify");
    case(BadSignature, FeedKind::Content, e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_signature_on_metadata() {
    let e = banned("does not verify");
    case(BadSignature, FeedKind::Metadata, e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_for_a_block_never_announced() {
    let e = banned("never announced");
    case(UnannouncedIndex, FeedKind::Content, e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_for_a_block_it_has_but_never_announced() {
    let e = banned("never announced");
    case(UnannouncedWithin, FeedKind::Content, e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frame_of_9_mib() {
    let e = banned("exceeds the 8388608-byte limit");
    case(HugeFrame, FeedKind::Metadata, e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn have_of_2_pow_40_bits() {
    let e = banned("bad Have bitfield");
    case(HugeHave, FeedKind::Metadata, e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_after_the_handshake() {
    let e = banned("");
    case(Garbage, FeedKind::Metadata, e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_requests() {
    // The request timeout (7.5 s) drops it; it may be redialed (it only went quiet).
    let timeout = DriveOptions::default().request_timeout;
    let e = Expect {
        action: PeerAction::Retry,
        reason: "timed out",
        detect: timeout + Duration::from_secs(3),
        complete: timeout + Duration::from_secs(20),
    };
    case(Stall, FeedKind::Metadata, e).await;
}

/// The honest share behind a listener that accepts nothing until `gate` says so: a client
/// that dials it at once (the `dat` CLI dials every `--peer` together) meets the hostile peer
/// first.
async fn gated_share(
    listener: TcpListener,
    share: Drive,
    mut stats: watch::Receiver<Stats>,
    gate: fn(&Stats) -> bool,
) {
    if stats.wait_for(gate).await.is_err() {
        return;
    }
    while let Ok((stream, addr)) = listener.accept().await {
        tokio::spawn(dat_net::replication::run_connection(
            stream,
            addr,
            share.clone(),
            dat_net::replication::Origin::Accepted,
        ));
    }
}

/// `dat clone LINK DIR --peer HOSTILE --peer HONEST` (the CLI, discovery off): exits 0 with
/// the tree byte-identical, reports the hostile peer closed with `action`, and both feeds
/// verify; returns the wall time.
async fn cli_case(how: Misbehaviour, feed: FeedKind, action: &str, bound: Duration) {
    let tmp = tempfile::tempdir().unwrap();
    let (src, dst, secrets, home) = (
        tmp.path().join("src"),
        tmp.path().join("dst"),
        tmp.path().join("keys"),
        tmp.path().join("home"),
    );
    std::fs::create_dir_all(&home).unwrap();
    sample_tree(&src, 4 * 1024 * 1024);
    let archive = create_share(&src, &secrets);
    let key = archive.key();
    let copy = Archive::open_dat(&src, &dat_dir(&src, &secrets)).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hostile_addr = listener.local_addr().unwrap();
    let (stats_tx, stats) = watch::channel(Stats::default());
    let hostile = tokio::spawn(hostile_peer(listener, copy, how, feed, stats_tx));
    let honest = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let honest_addr = honest.local_addr().unwrap();
    let share = Drive::share(archive, DriveOptions::default());
    // A stalling peer keeps its connection: serve once it holds requests. Any other is
    // served once the clone has hung up on it.
    let gate: fn(&Stats) -> bool = if how == Stall {
        |s| s.misbehaved > 0
    } else {
        |s| s.ended > 0
    };
    let honest = tokio::spawn(gated_share(honest, share, stats.clone(), gate));

    let mut cmd = std::process::Command::new(dat_test::dat_bin());
    cmd.env("DAT_CONFIG", dat_test::offline_config())
        .env("HOME", &home)
        .args(["--json", "clone", &key.to_hex()])
        .arg(&dst)
        .args(["--peer", &hostile_addr.to_string()])
        .args(["--peer", &honest_addr.to_string()]);
    let t0 = Instant::now();
    let (status, seen) = tokio::task::spawn_blocking(move || {
        let mut p = Proc::spawn(cmd);
        let status = p.wait_exit(bound.as_secs() + 1);
        (status, p.seen.clone())
    })
    .await
    .unwrap();
    let took = t0.elapsed();
    assert!(status.success(), "{how:?}: dat clone failed: {seen:?}");
    assert!(took <= bound, "{how:?}: dat clone took {took:?}");
    assert!(stats.borrow().misbehaved > 0, "{how:?}: never misbehaved");
    let lines = dat_test::parse_json_lines(&seen.join("\n"));
    let closed = lines
        .iter()
        .find(|j| j["event"] == "peer-closed" && j["addr"] == hostile_addr.to_string())
        .unwrap_or_else(|| panic!("{how:?}: the hostile peer was never dropped: {seen:?}"));
    assert_eq!(closed["action"], action, "{closed}");
    assert!(lines.iter().any(|j| j["event"] == "cloned"), "{seen:?}");
    assert_same_tree(&src, &dst);
    let cloned = Archive::open_dat(&dst, &dat_dir(&dst, &secrets)).unwrap();
    let metadata = cloned.metadata().verify_all().unwrap();
    let content = cloned.content().verify_all().unwrap();
    assert!(
        metadata.is_ok() && content.is_ok(),
        "{metadata:?} {content:?}"
    );
    assert_eq!(content.length, cloned.content().len());
    hostile.abort();
    honest.abort();
    eprintln!(
        "| dat clone, {how:?} ({feed}) | {}: {} | complete {:.0} ms after starting |",
        closed["action"],
        closed["reason"],
        took.as_secs_f64() * 1e3
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_clone_past_a_peer_sending_wrong_blocks() {
    cli_case(
        WrongBlock,
        FeedKind::Content,
        "ban",
        Duration::from_secs(30),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_clone_past_a_stalling_peer() {
    let bound = DriveOptions::default().request_timeout + Duration::from_secs(30);
    cli_case(Stall, FeedKind::Metadata, "retry", bound).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proof_only_answers() {
    let e = banned("");
    case(ProofOnly, FeedKind::Content, e).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn longer_feed_than_it_has() {
    let timeout = DriveOptions::default().request_timeout;
    let e = Expect {
        action: PeerAction::Retry,
        reason: "timed out",
        detect: timeout + Duration::from_secs(3),
        complete: timeout + Duration::from_secs(20),
    };
    case(LongerFeed, FeedKind::Metadata, e).await;
}
