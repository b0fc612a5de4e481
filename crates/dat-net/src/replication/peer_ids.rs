//! Recognising a peer reached twice, or ourselves, by the id in its protocol Handshake.
//!
//! Every connection of one drive sends the same random id, so a second connection to a
//! peer we already replicate with shows up as a second connection with the same remote id.
//! That happens when both sides dial each other at once (each found the other through
//! discovery), or when discovery hands out two addresses of one machine. A connection
//! whose remote id is our own is a connection to ourselves: a share that found its own
//! announcement under an address it did not know was its own.
//!
//! Of two connections with the same peer, both sides must close the same one, or each
//! would close a different one and none would be left. discovery-swarm's rule is: the new
//! connection goes when the side that dialed it has the larger id, otherwise the old one.
//! "New" is the one whose Handshake arrived second, which each side judges by itself:
//! - Two connections dialed from opposite sides: the rule comes down to "close the one
//!   dialed by the larger id", whichever arrived first. Both sides agree; we apply it.
//! - Two connections dialed from the same side: which is new depends on arrival, and the
//!   two sides can see them in opposite orders (a JS `dat clone` told of one share at two
//!   addresses lost both connections this way, one in three tries). We close neither: a JS
//!   peer closes one by its own order and we go on with the other; two dat-rs peers keep
//!   both, which costs a connection and loses nothing (requests are claimed per drive).

use std::collections::{HashMap, HashSet};

/// Longest remote id we compare (JS sends 32 bytes; longer ids are not deduplicated).
pub const MAX_PEER_ID: usize = 64;

/// One live connection, as far as deduplication cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Conn {
    /// The drive's number for the connection.
    pub id: u64,
    /// Whether we dialed it (rather than accepted it).
    pub dialed: bool,
}

/// What to do with a connection once its Handshake arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Keep it.
    Keep,
    /// Keep it, and close connection `.0`: the same peer, now redundant.
    KeepClosing(u64),
    /// Close it: we already have a connection to this peer.
    Redundant,
    /// Close it and never dial the address again: it leads back to us.
    Myself,
}

/// The remote ids of a drive's live connections.
#[derive(Debug)]
pub(crate) struct PeerIds {
    ours: [u8; 32],
    /// Per remote id, its live connections (two only when dialed from the same side).
    live: HashMap<Vec<u8>, Vec<Conn>>,
    /// Connections told to close (checked by each connection when a change wakes it).
    doomed: HashSet<u64>,
}

impl PeerIds {
    /// The table for a drive whose connections send `ours`.
    pub fn new(ours: [u8; 32]) -> Self {
        Self {
            ours,
            live: HashMap::new(),
            doomed: HashSet::new(),
        }
    }

    /// The id every connection of this drive sends.
    pub fn ours(&self) -> [u8; 32] {
        self.ours
    }

    /// Connection `conn` received a Handshake with id `remote`.
    pub fn handshake(&mut self, conn: Conn, remote: &[u8]) -> Verdict {
        if remote == self.ours {
            return Verdict::Myself;
        }
        if remote.is_empty() || remote.len() > MAX_PEER_ID {
            return Verdict::Keep;
        }
        let conns = self.live.entry(remote.to_vec()).or_default();
        if conns.iter().any(|c| c.id == conn.id) {
            return Verdict::Keep;
        }
        // Only a connection dialed from the other side is closed (see the module doc).
        let Some(at) = conns.iter().position(|c| c.dialed != conn.dialed) else {
            conns.push(conn);
            return Verdict::Keep;
        };
        let dialer_is_larger = if conn.dialed {
            self.ours.as_slice() > remote
        } else {
            remote > self.ours.as_slice()
        };
        if dialer_is_larger {
            return Verdict::Redundant;
        }
        let old = conns.swap_remove(at);
        conns.push(conn);
        self.doomed.insert(old.id);
        Verdict::KeepClosing(old.id)
    }

    /// Whether connection `conn` was told to close (answers true once).
    pub fn take_doomed(&mut self, conn: u64) -> bool {
        self.doomed.remove(&conn)
    }

    /// Connection `conn` ended.
    pub fn left(&mut self, conn: u64) {
        self.doomed.remove(&conn);
        self.live.retain(|_, conns| {
            conns.retain(|c| c.id != conn);
            !conns.is_empty()
        });
    }

    /// Whether a live connection's peer sent `remote` as its id.
    pub fn is_connected(&self, remote: &[u8]) -> bool {
        self.live.contains_key(remote)
    }

    /// How many peers (by id) we are connected to.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.live.len()
    }

    /// How many live connections we have to the peer that sent `remote`.
    #[cfg(test)]
    fn connections(&self, remote: &[u8]) -> usize {
        self.live.get(remote).map_or(0, Vec::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: [u8; 32] = [1; 32];
    const B: [u8; 32] = [2; 32];

    fn conn(id: u64, dialed: bool) -> Conn {
        Conn { id, dialed }
    }

    /// Both sides of two crossing connections (x dialed by A, y dialed by B) close the
    /// same one, in either order of arrival.
    #[test]
    fn both_sides_keep_the_same_connection() {
        for x_first_at_a in [true, false] {
            for x_first_at_b in [true, false] {
                let mut a = PeerIds::new(A);
                let mut b = PeerIds::new(B);
                // At A: x is conn 1 (dialed), y is conn 2 (accepted). At B: the reverse.
                let (ax, ay) = (conn(1, true), conn(2, false));
                let (bx, by) = (conn(1, false), conn(2, true));
                let closed_at_a = if x_first_at_a {
                    assert_eq!(a.handshake(ax, &B), Verdict::Keep);
                    a.handshake(ay, &B)
                } else {
                    assert_eq!(a.handshake(ay, &B), Verdict::Keep);
                    a.handshake(ax, &B)
                };
                let closed_at_b = if x_first_at_b {
                    assert_eq!(b.handshake(bx, &A), Verdict::Keep);
                    b.handshake(by, &A)
                } else {
                    assert_eq!(b.handshake(by, &A), Verdict::Keep);
                    b.handshake(bx, &A)
                };
                // A has the smaller id: the connection A dialed (x, number 1 on both
                // sides) survives, y (number 2) is closed on both.
                let closed = |v: Verdict, newest: u64| match v {
                    Verdict::Redundant => newest,
                    Verdict::KeepClosing(old) => old,
                    other => panic!("{other:?}"),
                };
                let newest_a = if x_first_at_a { 2 } else { 1 };
                let newest_b = if x_first_at_b { 2 } else { 1 };
                assert_eq!(closed(closed_at_a, newest_a), 2);
                assert_eq!(closed(closed_at_b, newest_b), 2);
            }
        }
    }

    /// discovery-swarm as the side that dialed both of two connections (`peer` set on
    /// both): which one it destroys, given the order their Handshakes arrived in.
    fn js_dialer_destroys(js: &[u8], remote: &[u8], first: u64, second: u64) -> u64 {
        // `(peer && remoteIdHex < idHex)`: the new one goes, else the old one.
        if remote < js { second } else { first }
    }

    /// A JS peer dials us twice (one share found at two addresses) and sees the two
    /// Handshakes in either order, as we do: we close neither, it closes one, one is left.
    #[test]
    fn two_connections_dialed_by_the_peer_leave_one_whatever_the_orders() {
        for (ours, js) in [(A, B), (B, A)] {
            for js_order in [(1, 2), (2, 1)] {
                for our_order in [(1, 2), (2, 1)] {
                    let mut ids = PeerIds::new(ours);
                    assert_eq!(ids.handshake(conn(our_order.0, false), &js), Verdict::Keep);
                    assert_eq!(ids.handshake(conn(our_order.1, false), &js), Verdict::Keep);
                    assert_eq!(ids.connections(&js), 2);
                    let gone = js_dialer_destroys(&js, &ours, js_order.0, js_order.1);
                    ids.left(gone);
                    assert_eq!(ids.connections(&js), 1);
                    assert!(ids.is_connected(&js));
                }
            }
        }
    }

    /// Two connections we dialed are both kept too (the peer, if JS, closes one); a third
    /// one the peer dialed is then judged against one of them by the two-sided rule.
    #[test]
    fn connections_we_dialed_are_kept_and_a_crossing_one_is_judged() {
        let mut a = PeerIds::new(A);
        assert_eq!(a.handshake(conn(1, true), &B), Verdict::Keep);
        assert_eq!(a.handshake(conn(2, true), &B), Verdict::Keep);
        assert_eq!(a.handshake(conn(2, true), &B), Verdict::Keep);
        assert_eq!(a.connections(&B), 2);
        // B has the larger id: what B dialed goes.
        assert_eq!(a.handshake(conn(3, false), &B), Verdict::Redundant);
        assert_eq!(a.connections(&B), 2);
        let mut b = PeerIds::new(B);
        assert_eq!(b.handshake(conn(1, false), &A), Verdict::Keep);
        assert_eq!(b.handshake(conn(2, false), &A), Verdict::Keep);
        assert_eq!(b.handshake(conn(3, true), &A), Verdict::Redundant);
        // And from A's side, what A dials replaces what B dialed.
        let mut a = PeerIds::new(A);
        assert_eq!(a.handshake(conn(1, false), &B), Verdict::Keep);
        assert_eq!(a.handshake(conn(2, false), &B), Verdict::Keep);
        assert!(matches!(
            a.handshake(conn(3, true), &B),
            Verdict::KeepClosing(1 | 2)
        ));
        assert_eq!(a.connections(&B), 2);
    }

    #[test]
    fn our_own_id_is_ourselves() {
        let mut a = PeerIds::new(A);
        assert_eq!(a.handshake(conn(1, true), &A), Verdict::Myself);
        assert_eq!(a.handshake(conn(2, false), &A), Verdict::Myself);
        assert_eq!(a.len(), 0);
    }

    #[test]
    fn a_closed_connection_is_forgotten_and_doomed_once() {
        let mut a = PeerIds::new(A);
        assert_eq!(a.handshake(conn(1, false), &B), Verdict::Keep);
        // B has the larger id; a second connection A dialed replaces the one B dialed.
        assert_eq!(a.handshake(conn(2, true), &B), Verdict::KeepClosing(1));
        assert!(a.take_doomed(1));
        assert!(!a.take_doomed(1));
        a.left(1);
        assert_eq!(a.len(), 1);
        a.left(2);
        assert_eq!(a.len(), 0);
        assert_eq!(a.handshake(conn(3, false), &B), Verdict::Keep);
    }

    #[test]
    fn missing_or_huge_ids_are_not_compared() {
        let mut a = PeerIds::new(A);
        assert_eq!(a.handshake(conn(1, true), &[]), Verdict::Keep);
        assert_eq!(a.handshake(conn(2, true), &[]), Verdict::Keep);
        let huge = vec![9u8; MAX_PEER_ID + 1];
        assert_eq!(a.handshake(conn(3, true), &huge), Verdict::Keep);
        assert_eq!(a.handshake(conn(4, true), &huge), Verdict::Keep);
        assert_eq!(a.len(), 0);
    }
}
