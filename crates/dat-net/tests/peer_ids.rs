//! Connections recognised by the peer id of their Handshake: a connection to ourselves is
//! closed and its address never dialed again; of two connections to the same peer (both
//! sides dialed each other) both sides close the same one, and replication goes on over the
//! other.
#![allow(clippy::unwrap_used)]

mod replicate_support;

use std::net::SocketAddr;
use std::time::Duration;

use dat_net::replication::{Mode, NetEvent};
use dat_wire::PeerAction;
use replicate_support::*;
use tokio::sync::broadcast;

/// The next `PeerClosed` event within `secs`.
async fn next_closed(
    events: &mut broadcast::Receiver<NetEvent>,
    secs: u64,
) -> Option<(SocketAddr, String, PeerAction)> {
    let fut = async {
        loop {
            match events.recv().await {
                Ok(NetEvent::PeerClosed {
                    addr,
                    reason,
                    action,
                }) => return (addr, reason, action),
                Ok(_) => {}
                Err(e) => panic!("events: {e}"),
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .ok()
}

const REDUNDANT: &str = "a second connection to a peer we are connected to";

/// Where a connection closed and why; a redundant one is never redialed.
fn closed(e: Option<(SocketAddr, String, PeerAction)>) -> (SocketAddr, String) {
    let (addr, reason, action) = e.expect("a connection closes");
    match reason.as_str() {
        REDUNDANT => assert_eq!(action, PeerAction::Forget),
        "remote closed the connection" => {}
        other => panic!("unexpected close: {other}"),
    }
    (addr, reason)
}

/// How many `PeerConnected` events arrive within `secs`.
async fn connections_within(events: &mut broadcast::Receiver<NetEvent>, secs: u64) -> usize {
    let mut n = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while let Ok(Ok(e)) = tokio::time::timeout_at(deadline, events.recv()).await {
        n += usize::from(matches!(e, NetEvent::PeerConnected { .. }));
    }
    n
}

/// A drive served on two ports (as a share reachable under two addresses would be) dials
/// one from the other: it meets itself, closes, bans the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_to_ourselves_is_closed_and_never_redialed() {
    let tmp = tempfile::tempdir().unwrap();
    let (src, secrets) = (tmp.path().join("src"), tmp.path().join("keys"));
    sample_tree(&src, 1000);
    let (drive, _first, addr) = serve(create_share(&src, &secrets)).await;
    let (second, _) = listen(&drive).await;
    let mut events = drive.events();

    second.add_peer(addr);
    // Two ends of one connection close: the dialing one bans, the accepting one too.
    for _ in 0..2 {
        let (_, reason, action) = next_closed(&mut events, 10).await.expect("closed");
        assert_eq!(reason, "connected to ourselves");
        assert_eq!(action, PeerAction::Ban);
    }
    assert_eq!(drive.progress().peers, 0);
    // Banned: adding the address again dials nothing.
    second.add_peer(addr);
    assert_eq!(connections_within(&mut events, 2).await, 0);
}

/// Share and clone each dial the other: both keep the same one of the two connections and
/// the clone completes over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crossing_dials_leave_one_connection_on_both_sides() {
    for round in 0..5 {
        let tmp = tempfile::tempdir().unwrap();
        let (src, dst, secrets) = (
            tmp.path().join("src"),
            tmp.path().join("dst"),
            tmp.path().join("keys"),
        );
        sample_tree(&src, 2 * 1024 * 1024 + round);
        let archive = create_share(&src, &secrets);
        let (key, version) = (archive.key(), archive.version());
        let (share, share_swarm, share_addr) = serve(archive).await;
        let (clone, clone_swarm) = clone_from(&dst, &secrets, key, Mode::Full, &[], true).await;
        let clone_addr = clone_swarm.local_addr().unwrap();
        let (mut share_events, mut clone_events) = (share.events(), clone.events());

        clone_swarm.add_peer(share_addr);
        share_swarm.add_peer(clone_addr);

        // One connection closes, and it is the same TCP connection at both ends. The side
        // that decides second may instead see the other close it first (it had not read
        // the other connection's Handshake yet).
        let (at_share, why_share) = closed(next_closed(&mut share_events, 10).await);
        let (at_clone, why_clone) = closed(next_closed(&mut clone_events, 10).await);
        assert!(
            why_share == REDUNDANT || why_clone == REDUNDANT,
            "{why_share} / {why_clone}"
        );
        // A dialed connection is reported under the address dialed, an accepted one under
        // the peer's source address: the closed connection was dialed by one of them.
        assert!(
            (at_share == clone_addr) != (at_clone == share_addr),
            "share closed {at_share}, clone closed {at_clone}: not the same connection"
        );

        assert_eq!(complete_within(&clone, 30).await, version);
        assert_same_tree(&src, &dst);
        assert_eq!(clone.progress().peers, 1, "round {round}");
        assert_eq!(share.progress().peers, 1, "round {round}");
        // Nothing else closes: the kept connection carries on.
        let late = next_closed(&mut share_events, 1).await;
        assert!(
            late.is_none(),
            "{late:?} ({at_share} {why_share} / {at_clone} {why_clone})"
        );
    }
}
