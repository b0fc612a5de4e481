//! CPU bounds of the downloader against a hostile peer: one Have whose RLE bitfield decodes to
//! 4 MiB of ones (32 Mi blocks advertised, a dozen bytes on the wire), then 10,000 tiny Haves,
//! Unhaves and Wants. Looking for what to request must cost each message work in proportion to
//! what the message changed and the requests it lets us send, not to the advertised range: the
//! replicator's `search_steps` counter (pages, words, runs and blocks its search examined) is
//! asserted; wall time is only printed (this machine is shared and noisy).
#![allow(clippy::unwrap_used)]

use std::borrow::Cow;
use std::ops::Range;
use std::time::Instant;

use dat_core::{Feed, FeedStorage, KeyPair};
use dat_wire::message::{self, Have};
use dat_wire::replicator::MAX_HAVE_BITFIELD;
use dat_wire::{
    Channel, Claims, Event, Message, Replicator, ReplicatorOptions, Session, SessionOptions, rle,
};

/// Blocks the hostile Have advertises (4 MiB of ones).
const ADVERTISED: u64 = 8 * MAX_HAVE_BITFIELD as u64;

/// Tiny messages sent after the big Have.
const MESSAGES: u64 = 10_000;

/// Search steps one tiny message may cost: a few runs and words, never a walk.
const STEPS_PER_MESSAGE: u64 = 64;

/// Our session and replicator with our feed, and the hostile peer's session.
struct Hostile {
    ours: Session,
    rep: Replicator,
    feed: Feed,
    theirs: Session,
    their_channel: Channel,
    /// Block indexes the peer received Requests for, in order.
    requested: Vec<u64>,
    now: Instant,
}

impl Hostile {
    fn new(feed: Feed, selection: Vec<Range<u64>>, claims: Option<&Claims>) -> Self {
        let now = Instant::now();
        let mut ours = Session::new(SessionOptions::new([1; 32]), now);
        let channel = ours.open_feed(*feed.key(), [1; 24]).unwrap();
        let mut rep = Replicator::new(channel, ReplicatorOptions::default());
        if let Some(claims) = claims {
            rep = rep.with_claims(claims);
        }
        rep.set_selection(&mut ours, selection);
        let mut theirs = Session::new(SessionOptions::new([2; 32]), now);
        let their_channel = theirs.open_feed(*feed.key(), [2; 24]).unwrap();
        let mut h = Self {
            ours,
            rep,
            feed,
            theirs,
            their_channel,
            requested: Vec::new(),
            now,
        };
        h.pump();
        assert!(h.ours.remote_handshake().is_some());
        h
    }

    /// Move bytes both ways and hand our events to the replicator until quiet.
    fn pump(&mut self) {
        for _ in 0..100 {
            let mut moved = false;
            let mut bytes = Vec::new();
            if self.theirs.poll_transmit(&mut bytes) > 0 {
                moved = true;
                self.ours.handle_input(self.now, &bytes);
            }
            while let Some(ev) = self.ours.poll_event() {
                moved = true;
                match ev {
                    Event::Handshake(_) => self.rep.start(self.now, &mut self.ours, &self.feed),
                    Event::Message { message, .. } => self
                        .rep
                        .handle_message(self.now, &mut self.ours, &mut self.feed, &message)
                        .unwrap(),
                    Event::Closed(r) => panic!("our session closed: {r:?}"),
                    _ => {}
                }
            }
            let mut bytes = Vec::new();
            if self.ours.poll_transmit(&mut bytes) > 0 {
                moved = true;
                self.theirs.handle_input(self.now, &bytes);
            }
            while let Some(ev) = self.theirs.poll_event() {
                moved = true;
                match ev {
                    Event::Message {
                        message: Message::Request(r),
                        ..
                    } => self.requested.push(r.index),
                    Event::Closed(r) => panic!("their session closed: {r:?}"),
                    _ => {}
                }
            }
            if !moved {
                return;
            }
        }
        panic!("sessions did not settle");
    }

    fn send(&mut self, m: Message<'_>) {
        self.theirs.send(self.their_channel, &m).unwrap();
        self.pump();
    }

    /// Advertise `bytes` (a bitfield, MSB-first) from block 0 in one RLE Have.
    fn have_bitfield(&mut self, bytes: &[u8]) {
        let encoded = rle::encode(bytes);
        assert!(encoded.len() < 64, "{} bytes", encoded.len());
        self.send(Message::Have(Have {
            start: 0,
            length: None,
            bitfield: Some(Cow::Owned(encoded)),
            ack: false,
        }));
    }

    /// The hostile sequence: `MESSAGES` tiny Haves, Unhaves and Wants at blocks spread over
    /// `0..span` (an Unhave is followed by the Have that restores the bit, so what the peer
    /// advertises stays the same). Returns the search steps it cost and prints the time.
    fn flood(&mut self, case: &str, span: u64) -> u64 {
        let steps = self.rep.search_steps();
        let started = Instant::now();
        for k in 0..MESSAGES {
            let block = (k / 4).wrapping_mul(2_654_435_761) % span;
            let m = match k % 4 {
                0 => Message::Have(Have {
                    start: 0,
                    length: None,
                    bitfield: None,
                    ack: false,
                }),
                1 => Message::Unhave(message::Range {
                    start: block,
                    length: None,
                }),
                2 => Message::Have(Have {
                    start: block,
                    length: None,
                    bitfield: None,
                    ack: false,
                }),
                _ => Message::Want(message::Range {
                    start: (block / 8192) * 8192,
                    length: Some(8192),
                }),
            };
            self.send(m);
        }
        let elapsed = started.elapsed();
        let spent = self.rep.search_steps() - steps;
        println!(
            "replicator_cpu {case}: {MESSAGES} tiny messages after a {span}-block Have in \
             {elapsed:?} ({:?}/message), {spent} search steps",
            elapsed / MESSAGES as u32
        );
        spent
    }
}

fn keys() -> KeyPair {
    KeyPair::from_seed(&[7; 32])
}

fn empty_reader() -> Feed {
    Feed::open_or_create_reader(FeedStorage::memory(), keys().public).unwrap()
}

fn writer(blocks: u64) -> Feed {
    let mut feed = Feed::create(FeedStorage::memory(), keys()).unwrap();
    let data: Vec<[u8; 1]> = (0..blocks).map(|i| [i as u8]).collect();
    feed.append_batch(data.iter().map(|b| b.as_slice()))
        .unwrap();
    feed
}

/// A selection of one range.
fn only(range: Range<u64>) -> Vec<Range<u64>> {
    vec![range]
}

fn sorted(mut v: Vec<u64>) -> Vec<u64> {
    v.sort_unstable();
    v
}

/// Sparse selection (three short ranges) of a feed we have nothing of: the big Have gets the
/// nine selected blocks requested and nothing else; the flood requests nothing more and costs
/// a bounded number of steps per message.
#[test]
fn sparse_selection_under_a_flood() {
    let selection = vec![3..5, 100_000..100_004, 30_000_000..30_000_003];
    let mut h = Hostile::new(empty_reader(), selection, None);
    let before = h.rep.search_steps();
    h.have_bitfield(&vec![0xff; MAX_HAVE_BITFIELD]);
    let big = h.rep.search_steps() - before;
    let want: Vec<u64> = [3, 4, 100_000, 100_001, 100_002, 100_003]
        .into_iter()
        .chain(30_000_000..30_000_003)
        .collect();
    assert_eq!(h.rep.remote_length(), ADVERTISED);
    assert_eq!(h.requested, want);
    println!("replicator_cpu sparse: the 32 Mi-block Have cost {big} search steps");
    // Three selected ranges: a few words each, not the 4096 pages advertised.
    assert!(big < 200, "{big}");
    let spent = h.flood("sparse", ADVERTISED);
    assert!(spent <= MESSAGES * STEPS_PER_MESSAGE, "{spent}");
    assert_eq!(h.requested, want, "the flood made us request again");
    assert_eq!(sorted(h.rep.inflight()), want);
}

/// We already have every selected block (0..65536) and the peer advertises 32 Mi: nothing
/// is requested, and neither the selected-and-had blocks nor the unselected rest are walked
/// per message.
#[test]
fn already_have_the_selection_under_a_flood() {
    let n = 1 << 16;
    let mut h = Hostile::new(writer(n), only(0..n), None);
    let before = h.rep.search_steps();
    h.have_bitfield(&vec![0xff; MAX_HAVE_BITFIELD]);
    let big = h.rep.search_steps() - before;
    println!("replicator_cpu have-selection: the 32 Mi-block Have cost {big} search steps");
    // 8 pages of 128 words we have (remote and local words), once; the 4088 unselected
    // pages are skipped in one step.
    assert!(big <= 8 * (1 + 2 * 128) + 100, "{big}");
    let spent = h.flood("have-selection", ADVERTISED);
    assert!(spent <= MESSAGES * STEPS_PER_MESSAGE, "{spent}");
    assert!(h.requested.is_empty(), "{:?}", h.requested);
}

/// Selection "everything", we have all 65536 blocks and the peer advertises exactly those:
/// each tiny message must not walk the 65536 blocks we have.
#[test]
fn already_have_everything_under_a_flood() {
    let n = 1 << 16;
    let mut h = Hostile::new(writer(n), only(0..u64::MAX), None);
    h.have_bitfield(&vec![0xff; (n / 8) as usize]);
    assert_eq!(h.rep.remote_length(), n);
    let spent = h.flood("have-everything", n);
    assert!(spent <= MESSAGES * STEPS_PER_MESSAGE, "{spent}");
    assert!(h.requested.is_empty(), "{:?}", h.requested);
}

/// Full clone of a feed we have nothing of: the window fills with 0..16 and the flood
/// changes nothing.
#[test]
fn full_selection_under_a_flood() {
    let mut h = Hostile::new(empty_reader(), only(0..u64::MAX), None);
    h.have_bitfield(&vec![0xff; MAX_HAVE_BITFIELD]);
    let first: Vec<u64> = (0..16).collect();
    assert_eq!(h.requested, first);
    let spent = h.flood("full", ADVERTISED);
    assert!(spent <= MESSAGES * STEPS_PER_MESSAGE, "{spent}");
    assert_eq!(h.requested, first);
}

/// An honest peer holds the claims on 0..16; the hostile one is asked for 16..20 only, and
/// its flood costs each message at most a look at those 16 claims. Once the honest peer is
/// gone, its blocks are asked of the hostile one.
#[test]
fn claimed_blocks_under_a_flood() {
    let claims = Claims::new();
    let mut honest = Hostile::new(empty_reader(), only(0..20), Some(&claims));
    honest.have_bitfield(&[0xff, 0xff]);
    assert_eq!(honest.requested, (0..16).collect::<Vec<_>>());
    let mut h = Hostile::new(empty_reader(), only(0..20), Some(&claims));
    h.have_bitfield(&vec![0xff; MAX_HAVE_BITFIELD]);
    assert_eq!(h.requested, (16..20).collect::<Vec<_>>());
    let spent = h.flood("claimed", ADVERTISED);
    assert!(spent <= MESSAGES * (STEPS_PER_MESSAGE + 16), "{spent}");
    assert_eq!(h.requested, (16..20).collect::<Vec<_>>());
    drop(honest);
    let (now, feed) = (h.now, &h.feed);
    h.rep.request_more(now, &mut h.ours, feed);
    h.pump();
    let expected: Vec<u64> = (16..20).chain(0..12).collect();
    assert_eq!(h.requested, expected);
}

/// The big messages themselves, repeated: the 4 MiB-of-ones RLE Have again, a Have of 2^27
/// blocks by length, and an Unhave and Have of that whole range. Each costs a few range
/// operations on the peer's bitfield (full pages are held as ranges) and searches only what
/// it newly set.
#[test]
fn repeated_big_haves() {
    let selection = vec![3..5, 100_000..100_004, 30_000_000..30_000_003];
    let mut h = Hostile::new(empty_reader(), selection, None);
    let ones = rle::encode(&vec![0xff; MAX_HAVE_BITFIELD]);
    let rle_have = Message::Have(Have {
        start: 0,
        length: None,
        bitfield: Some(Cow::Borrowed(&ones)),
        ack: false,
    });
    let have_all = Message::Have(Have {
        start: 0,
        length: Some(1 << 27),
        bitfield: None,
        ack: false,
    });
    let unhave_all_but_0 = Message::Unhave(message::Range {
        start: 1,
        length: Some(1 << 27),
    });
    h.send(rle_have.clone());
    let requested = h.requested.clone();
    assert_eq!(requested.len(), 9);
    let steps = h.rep.search_steps();
    let started = Instant::now();
    let rounds = MESSAGES / 4;
    for _ in 0..rounds {
        for m in [&rle_have, &have_all, &unhave_all_but_0, &have_all] {
            h.send(m.clone());
        }
    }
    let elapsed = started.elapsed();
    let spent = h.rep.search_steps() - steps;
    println!(
        "replicator_cpu repeated-big: {MESSAGES} Haves/Unhaves of 2^25..2^27 blocks in \
         {elapsed:?} ({:?}/message), {spent} search steps",
        elapsed / MESSAGES as u32
    );
    assert_eq!(h.rep.remote_length(), 1 << 27);
    assert!(spent <= MESSAGES * STEPS_PER_MESSAGE, "{spent}");
    assert_eq!(h.requested, requested);
}
