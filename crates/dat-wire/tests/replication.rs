//! Replication between two in-memory feeds over two Sessions in one thread: full clone, sparse,
//! live append, and hostile peers.
#![allow(clippy::unwrap_used)]

use std::borrow::Cow;
use std::time::Instant;

use dat_core::{Feed, FeedError, FeedStorage, KeyPair, RemoteTree, Signature, VerifyError};
use dat_wire::message::{self, Data, Have, Request};
use dat_wire::{
    Event, Message, ReplicationError, Replicator, ReplicatorEvent, ReplicatorOptions, Session,
    SessionOptions,
};

struct Side {
    session: Session,
    feed: Feed,
    rep: Replicator,
    downloaded: Vec<u64>,
}

fn block(i: u64) -> Vec<u8> {
    format!("block number {i} {}", "x".repeat((i % 7) as usize)).into_bytes()
}

fn writer(n: u64) -> (Feed, KeyPair) {
    let keys = KeyPair::from_seed(&[42; 32]);
    let mut feed = Feed::create(FeedStorage::memory(), keys.clone()).unwrap();
    let half: Vec<Vec<u8>> = (0..n / 2).map(block).collect();
    feed.append_batch(half.iter().map(|b| b.as_slice()))
        .unwrap();
    for i in n / 2..n {
        feed.append(&block(i)).unwrap();
    }
    (feed, keys)
}

fn side(feed: Feed, id: u8, t0: Instant, download: Option<std::ops::Range<u64>>) -> Side {
    let mut session = Session::new(SessionOptions::new([id; 32]), t0);
    let ch = session.open_feed(*feed.key(), [id; 24]).unwrap();
    let mut rep = Replicator::new(ch, ReplicatorOptions::default());
    if let Some(r) = download {
        rep.download(r);
    }
    Side {
        session,
        feed,
        rep,
        downloaded: Vec::new(),
    }
}

/// Deliver bytes and events both ways until quiet; returns the first replication error.
fn run(a: &mut Side, b: &mut Side, now: Instant) -> Result<(), ReplicationError> {
    for _ in 0..10_000 {
        let mut moved = false;
        let mut bytes = Vec::new();
        if a.session.poll_transmit(&mut bytes) > 0 {
            moved = true;
            b.session.handle_input(now, &bytes);
        }
        let mut bytes = Vec::new();
        if b.session.poll_transmit(&mut bytes) > 0 {
            moved = true;
            a.session.handle_input(now, &bytes);
        }
        for s in [&mut *a, &mut *b] {
            while let Some(ev) = s.session.poll_event() {
                moved = true;
                match ev {
                    Event::Handshake(_) => s.rep.start(now, &mut s.session, &s.feed),
                    Event::Message { message, .. } => {
                        s.rep
                            .handle_message(now, &mut s.session, &mut s.feed, &message)?;
                    }
                    Event::Closed(r) => panic!("session closed: {r:?}"),
                    _ => {}
                }
            }
            while let Some(ev) = s.rep.poll_event() {
                if let ReplicatorEvent::Downloaded { index } = ev {
                    s.downloaded.push(index);
                }
            }
        }
        if !moved {
            return Ok(());
        }
    }
    panic!("replication did not settle");
}

fn reader_of(w: &Feed) -> Feed {
    Feed::open_or_create_reader(FeedStorage::memory(), *w.key()).unwrap()
}

#[test]
fn full_clone() {
    let t0 = Instant::now();
    let (wfeed, _) = writer(40);
    let rfeed = reader_of(&wfeed);
    let mut w = side(wfeed, 1, t0, None);
    let mut r = side(rfeed, 2, t0, Some(0..u64::MAX));
    run(&mut w, &mut r, t0).unwrap();
    assert_eq!(r.feed.len(), 40);
    for i in 0..40 {
        assert_eq!(r.feed.get(i).unwrap(), block(i), "block {i}");
    }
    assert_eq!(r.downloaded.len(), 40);
    assert!(r.rep.inflight().is_empty());
    assert_eq!(r.feed.root_hash().unwrap(), w.feed.root_hash().unwrap());
}

#[test]
fn sparse_clone_gets_only_the_selection() {
    let t0 = Instant::now();
    let (wfeed, _) = writer(30);
    let rfeed = reader_of(&wfeed);
    let mut w = side(wfeed, 1, t0, None);
    let mut r = side(rfeed, 2, t0, Some(5..9));
    r.rep.download(20..21);
    run(&mut w, &mut r, t0).unwrap();
    let have: Vec<u64> = (0..30).filter(|&i| r.feed.has(i)).collect();
    assert_eq!(have, vec![5, 6, 7, 8, 20]);
    assert_eq!(r.feed.get(20).unwrap(), block(20));
    assert_eq!(r.rep.remote_length(), 30);
}

#[test]
fn live_append_is_announced_and_fetched() {
    let t0 = Instant::now();
    let (wfeed, _) = writer(10);
    let rfeed = reader_of(&wfeed);
    let mut w = side(wfeed, 1, t0, None);
    let mut r = side(rfeed, 2, t0, Some(0..u64::MAX));
    run(&mut w, &mut r, t0).unwrap();
    assert_eq!(r.feed.len(), 10);
    for round in 0..3u64 {
        let start = w.feed.len();
        let blocks: Vec<Vec<u8>> = (0..=round).map(|k| block(100 + 10 * round + k)).collect();
        let range = w
            .feed
            .append_batch(blocks.iter().map(|b| b.as_slice()))
            .unwrap();
        assert_eq!(range.start, start);
        w.rep.announce(&mut w.session, range.clone());
        run(&mut w, &mut r, t0).unwrap();
        assert_eq!(r.feed.len(), range.end);
        for (k, i) in range.enumerate() {
            assert_eq!(r.feed.get(i).unwrap(), blocks[k]);
        }
    }
}

/// A reader whose peer we script by hand: the proof material comes from the real writer.
struct Scripted {
    writer: Feed,
    reader: Side,
    now: Instant,
}

fn scripted(n: u64) -> Scripted {
    let now = Instant::now();
    let (wfeed, _) = writer(n);
    let rfeed = reader_of(&wfeed);
    let mut reader = side(rfeed, 2, now, Some(0..u64::MAX));
    reader.rep.start(now, &mut reader.session, &reader.feed);
    Scripted {
        writer: wfeed,
        reader,
        now,
    }
}

impl Scripted {
    fn deliver(&mut self, m: Message<'_>) -> Result<(), ReplicationError> {
        let r = &mut self.reader;
        r.rep
            .handle_message(self.now, &mut r.session, &mut r.feed, &m)
    }
    fn advertise(&mut self, start: u64, length: u64) {
        self.deliver(Message::Have(Have {
            start,
            length: Some(length),
            bitfield: None,
            ack: false,
        }))
        .unwrap();
    }
    fn honest_data(&self, index: u64) -> Data<'static> {
        let proof = self
            .writer
            .proof(
                index,
                self.reader.feed.digest(index),
                false,
                &mut RemoteTree::new(),
            )
            .unwrap();
        Data {
            index,
            value: Some(Cow::Owned(self.writer.get(index).unwrap())),
            nodes: proof.nodes,
            signature: proof.signature,
        }
    }
}

#[test]
fn never_requests_unadvertised_blocks() {
    let mut s = scripted(40);
    s.advertise(3, 4);
    assert_eq!(s.reader.rep.inflight(), vec![3, 4, 5, 6]);
    s.advertise(30, 30); // claims more than 16 requests' worth
    let inflight = s.reader.rep.inflight();
    assert_eq!(inflight.len(), 16);
    assert!(inflight.iter().all(|&i| s.reader.rep.remote_has(i)));
}

#[test]
fn wrong_block_is_detected() {
    let mut s = scripted(8);
    s.advertise(0, 8);
    let mut d = s.honest_data(0);
    d.value = Some(Cow::Owned(b"not block zero".to_vec()));
    match s.deliver(Message::Data(d)) {
        Err(ReplicationError::Verify {
            index: 0,
            source: FeedError::Verify(VerifyError::BadSignature { .. }),
        }) => {}
        other => panic!("{other:?}"),
    }
    assert!(!s.reader.feed.has(0));
    // The honest block still verifies.
    let d = s.honest_data(0);
    s.deliver(Message::Data(d)).unwrap();
    assert!(s.reader.feed.has(0));
    // Now block 1's proof hashes up to stored nodes: a wrong value is a hash mismatch.
    let mut d = s.honest_data(1);
    d.value = Some(Cow::Owned(b"evil".to_vec()));
    match s.deliver(Message::Data(d)) {
        Err(ReplicationError::Verify {
            index: 1,
            source: FeedError::Verify(VerifyError::HashMismatch { .. }),
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_signature_is_detected() {
    let mut s = scripted(8);
    s.advertise(0, 8);
    let mut d = s.honest_data(5);
    let mut sig = d.signature.unwrap().0;
    sig[10] ^= 1;
    d.signature = Some(Signature(sig));
    match s.deliver(Message::Data(d)) {
        Err(ReplicationError::Verify {
            index: 5,
            source: FeedError::Verify(VerifyError::BadSignature { length: 8 }),
        }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn unrequested_data_is_refused_with_unhave() {
    let mut s = scripted(8);
    // Nothing advertised, nothing requested: a pushed block is dropped.
    let d = s.honest_data(2);
    s.deliver(Message::Data(d)).unwrap();
    assert!(!s.reader.feed.has(2));
    assert_eq!(
        s.reader.rep.poll_event(),
        Some(ReplicatorEvent::Unrequested { index: 2 })
    );
}

#[test]
fn request_for_a_block_we_never_advertised() {
    let mut s = scripted(8);
    let r = &mut s.reader;
    // The reader has nothing; a peer requesting block 3 is hostile (JS destroys).
    let req = Message::Request(Request {
        index: 3,
        bytes: 0,
        hash: false,
        nodes: 0,
    });
    match r
        .rep
        .handle_message(s.now, &mut r.session, &mut r.feed, &req)
    {
        Err(ReplicationError::Unavailable { index: 3, .. }) => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn huge_have_bitfield_is_refused() {
    let mut s = scripted(8);
    let mut enc = Vec::new();
    dat_core::protobuf::write_varint(&mut enc, ((1u64 << 37) << 2) | 3);
    let have = Message::Have(Have {
        start: 0,
        length: Some(1 << 20),
        bitfield: Some(Cow::Owned(enc)),
        ack: false,
    });
    assert!(matches!(
        s.deliver(have),
        Err(ReplicationError::Bitfield(
            dat_wire::rle::RleError::TooLarge { .. }
        ))
    ));
    let have = Message::Have(Have {
        start: 0,
        length: Some(1 << 40),
        bitfield: None,
        ack: false,
    });
    assert!(matches!(
        s.deliver(have),
        Err(ReplicationError::TooLarge(_))
    ));
}

#[test]
fn request_timeout() {
    let mut s = scripted(8);
    s.advertise(0, 1);
    let deadline = s.reader.rep.poll_timeout().unwrap();
    assert_eq!(deadline - s.now, std::time::Duration::from_millis(7500));
    assert!(s.reader.rep.handle_timeout(s.now, &s.reader.feed).is_ok());
    assert!(matches!(
        s.reader.rep.handle_timeout(deadline, &s.reader.feed),
        Err(ReplicationError::RequestTimeout { index: 0 })
    ));
}

#[test]
fn want_gets_eager_length_and_rle_bitfield() {
    let t0 = Instant::now();
    let (wfeed, _) = writer(5);
    let mut w = side(wfeed, 1, t0, None);
    let mut out = Vec::new();
    w.session.poll_transmit(&mut out);
    let want = Message::Want(message::Range {
        start: 0,
        length: Some(1 << 20),
    });
    // Capture what the writer sends by looping its output through a second session.
    let mut peer = Session::new(SessionOptions::new([9; 32]), t0);
    peer.open_feed(*w.feed.key(), [9; 24]).unwrap();
    peer.handle_input(t0, &out);
    w.rep
        .handle_message(t0, &mut w.session, &mut w.feed, &want)
        .unwrap();
    let mut out = Vec::new();
    w.session.poll_transmit(&mut out);
    peer.handle_input(t0, &out);
    let msgs: Vec<Message<'static>> = std::iter::from_fn(|| peer.poll_event())
        .filter_map(|e| match e {
            Event::Message { message, .. } => Some(message),
            _ => None,
        })
        .collect();
    assert_eq!(
        msgs,
        vec![
            Message::Have(Have {
                start: 4,
                length: None,
                bitfield: None,
                ack: false
            }),
            Message::Have(Have {
                start: 0,
                length: Some(1 << 20),
                bitfield: Some(Cow::Owned(vec![0x02, 0xf8])), // DAT-SPEC §4.11
                ack: false
            }),
        ]
    );
}
