//! Resource limits (issue #6): a hostile peer cannot make a session allocate more than a fixed
//! bound. Each test drives a byte stream a hostile peer could send through the public API
//! (`Session::handle_input`, `poll_event`, `Replicator::handle_message`) and asserts, with a
//! counting allocator, the peak bytes allocated on the test's thread while it ran.
//!
//! Run with `--nocapture` to see the measured figures (`limits: ...` lines).
#![allow(clippy::unwrap_used)]

use std::borrow::Cow;
use std::time::{Duration, Instant};

use dat_core::protobuf::write_varint;
use dat_core::{DiscoveryKey, Feed, FeedStorage, KeyPair, PublicKey};
use dat_wire::cipher::{StreamCipher, XSalsa20Cipher};
use dat_wire::limits::{
    MAX_BLOCK_INDEX, MAX_BUFFERED_BYTES, MAX_FEEDS, MAX_FRAME_LEN, MAX_HAVE_BITFIELD, MAX_PAGES,
    MAX_PENDING_INPUT, MAX_QUEUED_OUT,
};
use dat_wire::message::{self, Data, Handshake, Have, Request};
use dat_wire::remote_bitfield::RemoteBitfield;
use dat_wire::{
    CloseReason, Event, FrameError, Message, ReplicationError, Replicator, ReplicatorOptions,
    Session, SessionError, SessionOptions,
};

/// Counts the bytes allocated by the current thread, so tests running in parallel do not see
/// each other's allocations.
mod meter {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        // `const` initialisers of a type without `Drop`: reading them never allocates and
        // registers no destructor, so the allocator can use them without recursing.
        static NOW: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn account(delta: isize) {
        // `try_with` fails (and we skip counting) only while the thread is being torn down.
        let _ = NOW.try_with(|now| {
            let v = now.get() + delta;
            now.set(v);
            let _ = PEAK.try_with(|peak| {
                if v > peak.get() {
                    peak.set(v);
                }
            });
        });
    }

    /// Forwards every call unchanged to [`System`] and counts sizes on the side.
    pub struct Counting;

    // SAFETY: every method forwards its arguments unchanged to `System`, which implements
    // `GlobalAlloc` correctly, and returns `System`'s result unchanged, so all of the trait's
    // contracts (layout, alignment, null on failure, realloc semantics) are `System`'s. The
    // bookkeeping only touches `Cell<isize>` thread-locals with `const` initialisers: it never
    // allocates (no recursion into the allocator), never panics (`try_with`, wrapping-free
    // arithmetic on sizes that fit in `isize` because `Layout` guarantees it) and never
    // unwinds.
    #[allow(unsafe_code)]
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: same contract as ours; the caller upholds it.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                account(layout.size() as isize);
            }
            p
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: same contract as ours; the caller upholds it.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                account(layout.size() as isize);
            }
            p
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: `ptr` came from `System` through this allocator with `layout`.
            unsafe { System.dealloc(ptr, layout) };
            account(-(layout.size() as isize));
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: `ptr` came from `System` through this allocator with `layout`; the
            // caller upholds the rest of the contract.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                account(new_size as isize - layout.size() as isize);
            }
            p
        }
    }

    /// Measures the peak of this thread's allocations above where it started.
    pub struct Meter {
        base: isize,
    }

    impl Meter {
        /// Start measuring here.
        pub fn start() -> Self {
            let base = NOW.with(Cell::get);
            PEAK.with(|p| p.set(base));
            Self { base }
        }

        /// Bytes held now above the start.
        pub fn held(&self) -> isize {
            NOW.with(Cell::get) - self.base
        }

        /// Highest bytes held above the start since [`Meter::start`].
        pub fn peak(&self) -> usize {
            (PEAK.with(Cell::get) - self.base).max(0) as usize
        }
    }
}

#[global_allocator]
static ALLOCATOR: meter::Counting = meter::Counting;

use meter::Meter;

const KIB: usize = 1024;
const MIB: usize = 1024 * 1024;

fn report(test: &str, peak: usize, bound: usize) {
    println!(
        "limits: {test}: peak {peak} bytes ({:.2} MiB), bound {bound} bytes ({:.2} MiB)",
        peak as f64 / MIB as f64,
        bound as f64 / MIB as f64
    );
    assert!(peak <= bound, "{test}: peak {peak} > bound {bound}");
}

/// The hostile peer: it knows the feed key (it would, to connect at all), so it speaks the
/// real wire format and encrypts with the real keystream, and can then send anything.
struct Attacker {
    tx: XSalsa20Cipher,
}

const ATTACKER_NONCE: [u8; 24] = [7; 24];

impl Attacker {
    /// The attacker and its opening bytes: the Feed frame in clear, then a Handshake.
    fn connect(key: &PublicKey) -> (Self, Vec<u8>) {
        Self::connect_with(key, Vec::new())
    }

    /// As [`Attacker::connect`], announcing `extensions`.
    fn connect_with(key: &PublicKey, extensions: Vec<Cow<'static, str>>) -> (Self, Vec<u8>) {
        let mut opening = Vec::new();
        Message::Feed(message::Feed {
            discovery_key: key.discovery_key(),
            nonce: Some(ATTACKER_NONCE),
        })
        .encode_frame(0, &mut opening);
        let mut attacker = Self {
            tx: XSalsa20Cipher::new(key, &ATTACKER_NONCE),
        };
        let handshake = Handshake {
            id: Some(Cow::Owned(vec![9; 32])),
            live: true,
            extensions,
            ..Handshake::default()
        };
        let hs = attacker.seal(frame(0, &Message::Handshake(handshake)));
        opening.extend_from_slice(&hs);
        (attacker, opening)
    }

    /// Encrypt the next bytes of the stream (must be called in sending order).
    fn seal(&mut self, mut bytes: Vec<u8>) -> Vec<u8> {
        self.tx.apply(&mut bytes);
        bytes
    }
}

fn frame(channel: u16, m: &Message<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    m.encode_frame(channel, &mut out);
    out
}

/// A raw frame: length prefix, header, body.
fn raw_frame(channel: u64, kind: u8, body: &[u8]) -> Vec<u8> {
    let mut header = Vec::new();
    write_varint(&mut header, (channel << 4) | u64::from(kind));
    let mut out = Vec::new();
    write_varint(&mut out, (header.len() + body.len()) as u64);
    out.extend_from_slice(&header);
    out.extend_from_slice(body);
    out
}

fn keys() -> KeyPair {
    KeyPair::from_seed(&[42; 32])
}

/// Our side, with `key` opened and the attacker's opening delivered.
fn our_session(key: PublicKey, t0: Instant) -> (Session, Attacker) {
    let mut session = Session::new(SessionOptions::new([1; 32]), t0);
    session.open_feed(key, [1; 24]).unwrap();
    session.poll_transmit(&mut Vec::new());
    let (attacker, opening) = Attacker::connect(&key);
    session.handle_input(t0, &opening);
    let events: Vec<Event> = std::iter::from_fn(|| session.poll_event()).collect();
    assert!(
        matches!(events[..], [Event::RemoteFeed { .. }, Event::Handshake(_)]),
        "{events:?}"
    );
    (session, attacker)
}

/// The error the session closed with, if it did (events drained and dropped).
fn drain(session: &mut Session) -> Option<SessionError> {
    while let Some(event) = session.poll_event() {
        if let Event::Closed(reason) = event {
            match reason {
                CloseReason::Error(e) => return Some(e),
                CloseReason::Local => panic!("closed locally"),
            }
        }
    }
    None
}

fn writer(blocks: usize, block_len: usize) -> Feed {
    let mut feed = Feed::create(FeedStorage::memory(), keys()).unwrap();
    let data: Vec<Vec<u8>> = (0..blocks).map(|i| vec![i as u8; block_len]).collect();
    feed.append_batch(data.iter().map(Vec::as_slice)).unwrap();
    feed
}

fn reader() -> Feed {
    Feed::open_or_create_reader(FeedStorage::memory(), keys().public).unwrap()
}

// ---------------------------------------------------------------- 1. frames

/// A length prefix beyond 8 MiB (or one too long to be a length at all) closes the session
/// with a typed error, before anything beyond the prefix's few bytes is allocated.
#[test]
fn oversized_frame_header_is_refused_before_allocating() {
    let t0 = Instant::now();
    for announced in [9 * MIB as u64, MAX_FRAME_LEN + 1, 1 << 60, u64::MAX] {
        let (mut session, mut attacker) = our_session(keys().public, t0);
        let mut prefix = Vec::new();
        write_varint(&mut prefix, announced);
        let bytes = attacker.seal(prefix);
        let meter = Meter::start();
        session.handle_input(t0, &bytes);
        let err = drain(&mut session);
        let peak = meter.peak();
        assert!(
            matches!(err, Some(SessionError::Frame(FrameError::TooLarge { .. }))),
            "{announced}: {err:?}"
        );
        assert!(session.is_closed());
        report(&format!("frame header {announced}"), peak, 4 * KIB);
    }
}

/// Frames of exactly 8 MiB dripped in 64 KiB chunks: the session never holds more than one
/// frame (its buffer never grows past the frame's length), and returns the memory after.
#[test]
fn partial_frames_buffer_at_most_one_frame() {
    let t0 = Instant::now();
    let (mut session, mut attacker) = our_session(keys().public, t0);
    // An Info whose body is padded with an unknown length-delimited field (skipped by the
    // decoder), so the event it yields is tiny and the only large thing is the frame.
    let body_len = MAX_FRAME_LEN as usize - 1; // minus the one-byte header
    let mut body = vec![0x1a]; // field 3, length-delimited
    let pad = body_len - 1 - 4;
    write_varint(&mut body, pad as u64);
    assert_eq!(body.len(), 5);
    body.resize(body_len, 0xAA);
    let one = raw_frame(0, 2, &body);
    assert_eq!(one.len() as u64, MAX_FRAME_LEN + 4);
    let mut stream = Vec::new();
    for _ in 0..3 {
        stream.extend_from_slice(&one);
    }
    drop(one);
    drop(body);
    let stream = attacker.seal(stream);
    let chunk = 64 * KIB + 7; // not aligned with frames
    let meter = Meter::start();
    let mut infos = 0;
    for piece in stream.chunks(chunk) {
        session.handle_input(t0, piece);
        while let Some(event) = session.poll_event() {
            match event {
                Event::Message {
                    message: Message::Info(_),
                    ..
                } => infos += 1,
                other => panic!("{other:?}"),
            }
        }
    }
    let peak = meter.peak();
    assert_eq!(infos, 3);
    assert!(!session.is_closed());
    // One frame, the copy of one chunk, and a little bookkeeping.
    report(
        "3 x 8 MiB frames in 64 KiB chunks",
        peak,
        MAX_FRAME_LEN as usize + 256 * KIB,
    );
}

// ---------------------------------------------------------------- 2. Have bitfields

/// A downloading replicator on our session, and the attacker.
struct Downloader {
    session: Session,
    attacker: Attacker,
    rep: Replicator,
    feed: Feed,
    t0: Instant,
}

impl Downloader {
    fn new(selection: std::ops::Range<u64>) -> Self {
        let t0 = Instant::now();
        let feed = reader();
        let (mut session, attacker) = our_session(*feed.key(), t0);
        let ch = session.channel_of(&feed.discovery_key()).unwrap();
        let mut rep = Replicator::new(ch, ReplicatorOptions::default());
        rep.download(selection);
        rep.start(t0, &mut session, &feed);
        session.poll_transmit(&mut Vec::new());
        Self {
            session,
            attacker,
            rep,
            feed,
            t0,
        }
    }

    /// Deliver `messages` on channel 0 and hand every event to the replicator; the first
    /// replication error, as a driver would close the peer on it.
    fn deliver(&mut self, messages: &[Message<'_>]) -> Result<(), ReplicationError> {
        let mut plain = Vec::new();
        for m in messages {
            m.encode_frame(0, &mut plain);
        }
        let bytes = self.attacker.seal(plain);
        self.session.handle_input(self.t0, &bytes);
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Message { message, .. } => {
                    self.rep.handle_message(
                        self.t0,
                        &mut self.session,
                        &mut self.feed,
                        &message,
                    )?;
                }
                Event::Closed(r) => panic!("{r:?}"),
                _ => {}
            }
        }
        self.session.poll_transmit(&mut Vec::new());
        Ok(())
    }
}

fn have_bitfield(start: u64, encoded: Vec<u8>) -> Message<'static> {
    Message::Have(Have {
        start,
        length: None,
        bitfield: Some(Cow::Owned(encoded)),
        ack: false,
    })
}

/// An RLE bitfield claiming 2^40 blocks (one run header of a few bytes) is refused from the
/// run lengths alone.
#[test]
fn have_bitfield_of_2_pow_40_bits_is_refused_without_allocating() {
    let mut d = Downloader::new(0..u64::MAX);
    let mut enc = Vec::new();
    write_varint(&mut enc, ((1u64 << 37) << 2) | 3); // 2^37 bytes of 0xff
    let meter = Meter::start();
    let r = d.deliver(&[have_bitfield(0, enc)]);
    let peak = meter.peak();
    assert!(
        matches!(
            r,
            Err(ReplicationError::Bitfield(
                dat_wire::rle::RleError::TooLarge { .. }
            ))
        ),
        "{r:?}"
    );
    report("Have RLE of 2^40 bits", peak, 64 * KIB);
}

/// The largest Have bitfield accepted (4 MiB decoded) costs the decoded bytes once plus the
/// pages it fills, nothing more.
#[test]
fn largest_accepted_have_bitfield_costs_its_pages() {
    let mut d = Downloader::new(0..u64::MAX);
    let enc = dat_wire::rle::encode(&vec![0xff; MAX_HAVE_BITFIELD]);
    assert!(enc.len() < 16);
    let meter = Meter::start();
    d.deliver(&[have_bitfield(0, enc)]).unwrap();
    let peak = meter.peak();
    assert_eq!(d.rep.remote_length(), 8 * MAX_HAVE_BITFIELD as u64);
    assert!(d.rep.remote_has(8 * MAX_HAVE_BITFIELD as u64 - 1));
    // The decoded bitfield (4 MiB, freed after) and the same bits as pages (4 MiB, kept).
    report(
        "Have RLE of 4 MiB (largest accepted)",
        peak,
        2 * MAX_HAVE_BITFIELD + 512 * KIB,
    );
}

/// A Have at the far end of the u64 range, with a bitfield or a length: no overflow, no
/// allocation beyond the message, and no belief in blocks past 2^53.
#[test]
fn have_at_huge_start_is_clamped() {
    let mut d = Downloader::new(0..u64::MAX);
    let top = u64::MAX - 8191; // a multiple of 8192, as JS requires for a bitfield
    let meter = Meter::start();
    d.deliver(&[have_bitfield(top, dat_wire::rle::encode(&[0xff; 1024]))])
        .unwrap();
    let r = d.deliver(&[Message::Have(Have {
        start: u64::MAX - 10,
        length: Some(5),
        bitfield: None,
        ack: false,
    })]);
    // Either refused or ignored; never believed, never allocated.
    assert!(
        r.is_ok() || matches!(r, Err(ReplicationError::TooLarge(_))),
        "{r:?}"
    );
    let peak = meter.peak();
    assert!(d.rep.remote_length() <= MAX_BLOCK_INDEX);
    assert!(!d.rep.remote_has(top));
    report("Have at start 2^64 - 8192", peak, 64 * KIB);
}

/// Haves at scattered huge offsets, each creating a page: the peer's bitfield stops at
/// MAX_PAGES pages and the peer is refused; every Have is handled in bounded time.
#[test]
fn scattered_haves_are_bounded_in_pages_and_time() {
    let mut d = Downloader::new(0..1);
    let started = Instant::now();
    let meter = Meter::start();
    let mut refused_at = None;
    for k in 0..MAX_PAGES as u64 + 10 {
        let have = Message::Have(Have {
            start: (k + 1) << 30,
            length: None,
            bitfield: None,
            ack: false,
        });
        match d.deliver(&[have]) {
            Ok(()) => {}
            Err(ReplicationError::TooLarge(_)) => {
                refused_at = Some(k);
                break;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
    let peak = meter.peak();
    let elapsed = started.elapsed();
    assert_eq!(refused_at, Some(MAX_PAGES as u64));
    println!("limits: {MAX_PAGES} scattered Haves handled in {elapsed:?}");
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    // Per page: 1 KiB plus the map's entry.
    report(
        "scattered Haves (pages)",
        peak,
        MAX_PAGES * (KIB + 128) + 256 * KIB,
    );
}

/// A Have far away then one at 0: looking for the next advertised block must not walk every
/// absent page in between (2^40 of them).
#[test]
fn next_advertised_block_search_skips_absent_pages() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut d = Downloader::new(0..1);
        let far = MAX_BLOCK_INDEX - 8192;
        let r = d.deliver(&[
            Message::Have(Have {
                start: far,
                length: None,
                bitfield: None,
                ack: false,
            }),
            Message::Have(Have {
                start: 0,
                length: Some(2),
                bitfield: None,
                ack: false,
            }),
        ]);
        let _ = tx.send((r.is_ok(), d.rep.inflight()));
    });
    let (ok, inflight) = rx
        .recv_timeout(Duration::from_secs(20))
        .expect("a Have at 2^53 made the block search walk absent pages for > 20 s");
    assert!(ok);
    assert_eq!(inflight, vec![0]);
}

/// RemoteBitfield itself: page count is observable and bounded.
#[test]
fn remote_bitfield_pages_are_bounded() {
    let mut r = RemoteBitfield::default();
    let meter = Meter::start();
    for k in 0..MAX_PAGES as u64 {
        r.set_range(k << 20, 1, true).unwrap();
    }
    assert!(r.set_range(u64::from(u32::MAX) << 20, 1, true).is_err());
    let peak = meter.peak();
    assert_eq!(r.pages(), MAX_PAGES);
    report(
        "RemoteBitfield at MAX_PAGES",
        peak,
        MAX_PAGES * (KIB + 128) + 256 * KIB,
    );
}

// ---------------------------------------------------------------- 3. pending requests

/// Our uploading side: a writer of `blocks` blocks, its session, a replicator that only
/// uploads, and the attacker's stream of `requests` Requests (built before measuring).
struct Uploader {
    session: Session,
    rep: Replicator,
    feed: Feed,
    stream: Vec<u8>,
    t0: Instant,
}

impl Uploader {
    fn new(blocks: usize, block_len: usize, requests: u64) -> Self {
        let t0 = Instant::now();
        let feed = writer(blocks, block_len);
        let (mut session, mut attacker) = our_session(*feed.key(), t0);
        let ch = session.channel_of(&feed.discovery_key()).unwrap();
        let rep = Replicator::new(
            ch,
            ReplicatorOptions {
                download: false,
                ..ReplicatorOptions::default()
            },
        );
        let mut plain = Vec::new();
        for i in 0..requests {
            Message::Request(Request {
                index: i % blocks as u64,
                ..Request::default()
            })
            .encode_frame(0, &mut plain);
        }
        let stream = attacker.seal(plain);
        session.poll_transmit(&mut Vec::new());
        Self {
            session,
            rep,
            feed,
            stream,
            t0,
        }
    }

    /// Hand every available event to the replicator (as a driver does); the error the
    /// session closed with, if it did. Returns the Requests answered.
    fn serve(&mut self, most_out: &mut usize) -> Result<u64, SessionError> {
        let mut answered = 0;
        while let Some(event) = self.session.poll_event() {
            match event {
                Event::Message { message, .. } => {
                    assert!(matches!(message, Message::Request(_)));
                    self.rep
                        .handle_message(self.t0, &mut self.session, &mut self.feed, &message)
                        .unwrap();
                    answered += 1;
                    *most_out = (*most_out).max(self.session.pending_transmit());
                }
                Event::Closed(CloseReason::Error(e)) => return Err(e),
                other => panic!("{other:?}"),
            }
        }
        Ok(answered)
    }
}

/// The largest Data answer: a 64 KiB block, its proof and framing.
const ANSWER: usize = 64 * KIB + 4 * KIB;

/// 2e6 Requests for blocks we have (64 KiB each) from a peer that never reads what we send:
/// the session answers until MAX_QUEUED_OUT bytes wait, then hands out no more Requests, holds
/// the peer's further input up to MAX_PENDING_INPUT and then drops it. Our queued Data never
/// exceeds MAX_QUEUED_OUT + one answer, whatever the number of Requests.
#[test]
fn request_flood_from_a_peer_that_never_reads_is_bounded() {
    let mut up = Uploader::new(64, 64 * KIB, 2_000_000);
    let stream = std::mem::take(&mut up.stream);
    let meter = Meter::start();
    let (mut most_out, mut answered, mut fed) = (0, 0, 0);
    let mut closed = None;
    for piece in stream.chunks(64 * KIB) {
        up.session.handle_input(up.t0, piece);
        fed += piece.len();
        match up.serve(&mut most_out) {
            Ok(n) => answered += n,
            Err(e) => {
                closed = Some(e);
                break;
            }
        }
    }
    let peak = meter.peak();
    println!(
        "limits: Request flood: {} bytes of Requests, {fed} fed before the close, {answered} \
         answered, most queued out {most_out}, closed: {closed:?}",
        stream.len()
    );
    assert!(
        matches!(closed, Some(SessionError::Backlog { bytes }) if bytes > MAX_PENDING_INPUT),
        "{closed:?}"
    );
    assert!(most_out <= MAX_QUEUED_OUT + ANSWER, "{most_out}");
    assert!(answered < 200, "{answered}");
    // Held input, queued answers, one read, and the replicator's bookkeeping.
    report(
        "2e6 Requests, peer never reads",
        peak,
        MAX_PENDING_INPUT + MAX_QUEUED_OUT + 2 * ANSWER + 512 * KIB,
    );
}

/// The same flood from a peer that reads (the driver transmits whenever the session holds
/// back events, and reads only when the session wants input): every Request is answered, in
/// bounded memory, and no input is ever held beyond one read.
#[test]
fn request_flood_from_a_reading_peer_is_served_in_bounded_memory() {
    let requests = 20_000;
    let mut up = Uploader::new(16, 4 * KIB, requests);
    let stream = std::mem::take(&mut up.stream);
    let meter = Meter::start();
    let (mut most_out, mut answered, mut sent) = (0, 0, 0u64);
    let mut reads = stream.chunks(64 * KIB);
    let mut sink = Vec::new();
    loop {
        answered += up.serve(&mut most_out).unwrap();
        sink.clear();
        sent += up.session.poll_transmit(&mut sink) as u64;
        if up.session.wants_input() {
            let Some(piece) = reads.next() else { break };
            up.session.handle_input(up.t0, piece);
        }
    }
    let peak = meter.peak();
    println!(
        "limits: {requests} Requests from a reading peer: {answered} answered, {sent} bytes \
         sent, most queued out {most_out}"
    );
    assert_eq!(answered, requests);
    assert!(most_out <= MAX_QUEUED_OUT + ANSWER, "{most_out}");
    report(
        "2e4 Requests, peer reads",
        peak,
        2 * (MAX_QUEUED_OUT + ANSWER) + 512 * KIB,
    );
}

// ---------------------------------------------------------------- 4. channels

/// 1e5 Feed messages with distinct discovery keys on the 256 allowed channel ids: the session
/// closes after 256 (no JS peer sends more: it never reuses a channel id), and memory stays
/// small throughout.
#[test]
fn feed_flood_is_bounded() {
    let t0 = Instant::now();
    let (mut session, mut attacker) = our_session(keys().public, t0);
    let meter = Meter::start();
    let mut closed = None;
    let mut sent = 0;
    'flood: for batch in 0..1000u32 {
        let mut plain = Vec::new();
        for i in 0..100u32 {
            let n = batch * 100 + i;
            let mut dk = [0u8; 32];
            dk[..4].copy_from_slice(&n.to_le_bytes());
            let channel = (1 + n % (MAX_FEEDS as u32 - 1)) as u16;
            Message::Feed(message::Feed {
                discovery_key: DiscoveryKey(dk),
                nonce: None,
            })
            .encode_frame(channel, &mut plain);
        }
        let bytes = attacker.seal(plain);
        session.handle_input(t0, &bytes);
        sent += 100;
        if let Some(e) = drain(&mut session) {
            closed = Some(e);
            break 'flood;
        }
    }
    let peak = meter.peak();
    println!("limits: Feed flood: {sent} Feed messages sent, closed: {closed:?}");
    // The attacker's first Feed was the 1st; the 256th of the flood is the 257th.
    assert_eq!(closed, Some(SessionError::TooManyOpens { opens: 257 }));
    report("1e5 Feed messages", peak, 256 * KIB);
}

/// A channel beyond MAX_FEEDS closes the session.
#[test]
fn channel_beyond_max_feeds_closes() {
    let t0 = Instant::now();
    let (mut session, mut attacker) = our_session(keys().public, t0);
    let dk = DiscoveryKey([5; 32]);
    let bytes = attacker.seal(frame(
        MAX_FEEDS as u16,
        &Message::Feed(message::Feed {
            discovery_key: dk,
            nonce: None,
        }),
    ));
    session.handle_input(t0, &bytes);
    assert_eq!(
        drain(&mut session),
        Some(SessionError::Frame(FrameError::TooManyFeeds {
            channel: 256
        }))
    );
}

/// Data on channels we never opened is held back, but in total at most MAX_BUFFERED_BYTES.
#[test]
fn unopened_channels_hold_bounded_bytes() {
    let t0 = Instant::now();
    let (mut session, mut attacker) = our_session(keys().public, t0);
    let value = vec![0x55; MIB];
    // Eight channels of 4 MiB each, encrypted in sending order before measuring.
    let mut streams = Vec::new();
    for channel in 1..=8u16 {
        let mut plain = frame(
            channel,
            &Message::Feed(message::Feed {
                discovery_key: DiscoveryKey([channel as u8; 32]),
                nonce: None,
            }),
        );
        for index in 0..4 {
            Message::Data(Data {
                index,
                value: Some(Cow::Borrowed(&value)),
                nodes: Vec::new(),
                signature: None,
            })
            .encode_frame(channel, &mut plain);
        }
        streams.push(attacker.seal(plain));
    }
    let meter = Meter::start();
    let mut closed = None;
    'flood: for bytes in &streams {
        for piece in bytes.chunks(256 * KIB) {
            session.handle_input(t0, piece);
            if let Some(e) = drain(&mut session) {
                closed = Some(e);
                break 'flood;
            }
        }
    }
    let peak = meter.peak();
    assert!(
        matches!(closed, Some(SessionError::TooManyBuffered { .. })),
        "{closed:?}"
    );
    report(
        "Data on unopened channels",
        peak,
        MAX_BUFFERED_BYTES + 2 * MIB + 256 * KIB,
    );
}

// ---------------------------------------------------------------- 5. floods of small messages

/// 1e6 tiny messages (Cancel, Unwant, Info) arriving in one 8 MiB read: what the session
/// queues for the application is bounded, not ~100 bytes of event per 6-byte frame.
#[test]
fn small_message_flood_in_one_read_is_bounded() {
    let t0 = Instant::now();
    let (mut session, mut attacker) = our_session(keys().public, t0);
    let mut plain = Vec::new();
    let mut count = 0u64;
    while plain.len() < 8 * MIB - 64 {
        let m = match count % 3 {
            0 => Message::Cancel(Request {
                index: count % 100,
                ..Request::default()
            }),
            1 => Message::Unwant(message::Range {
                start: 0,
                length: None,
            }),
            _ => Message::Info(message::Info::default()),
        };
        m.encode_frame(0, &mut plain);
        count += 1;
    }
    let bytes = attacker.seal(plain);
    let meter = Meter::start();
    session.handle_input(t0, &bytes);
    let after_input = meter.peak();
    let mut events = 0u64;
    while let Some(event) = session.poll_event() {
        assert!(matches!(event, Event::Message { .. }), "{event:?}");
        events += 1;
    }
    let peak = meter.peak();
    assert_eq!(events, count);
    println!(
        "limits: {count} small messages in one {} byte read; peak after handle_input {after_input}",
        bytes.len()
    );
    report(
        "1e6 small messages in one read",
        peak,
        bytes.len() + 2 * MIB,
    );
}

/// 1000 Extension messages of 16 KiB (a registered extension) in one 16 MiB read: events
/// queued for the application stay near MAX_QUEUED_EVENT_BYTES, not the read's size again.
#[test]
fn extension_flood_in_one_read_is_bounded() {
    let t0 = Instant::now();
    let key = keys().public;
    let mut options = SessionOptions::new([1; 32]);
    options.extensions = vec!["flood".into()];
    let mut session = Session::new(options, t0);
    session.open_feed(key, [1; 24]).unwrap();
    let (mut attacker, opening) = Attacker::connect_with(&key, vec!["flood".into()]);
    session.handle_input(t0, &opening);
    assert_eq!(drain(&mut session), None);
    let payload = vec![0x33; 16 * KIB];
    let mut plain = Vec::new();
    for _ in 0..1000 {
        Message::Extension {
            id: 0,
            payload: Cow::Borrowed(&payload),
        }
        .encode_frame(0, &mut plain);
    }
    let bytes = attacker.seal(plain);
    let meter = Meter::start();
    session.handle_input(t0, &bytes);
    let after_input = meter.peak();
    let mut events = 0;
    while let Some(event) = session.poll_event() {
        assert!(matches!(event, Event::Extension { .. }), "{event:?}");
        events += 1;
    }
    let peak = meter.peak();
    assert_eq!(events, 1000);
    println!("limits: extension flood: peak after handle_input {after_input}");
    report(
        "1000 x 16 KiB Extensions in one read",
        peak,
        bytes.len() + 2 * MIB,
    );
}

/// Handshakes after the first are ignored: 64 more Handshakes with 1 MiB ids are not kept.
#[test]
fn repeated_handshakes_are_not_kept() {
    let t0 = Instant::now();
    let (mut session, mut attacker) = our_session(keys().public, t0);
    let (mut peak, mut held) = (0, 0);
    for _ in 0..64 {
        let hs = Message::Handshake(Handshake {
            id: Some(Cow::Owned(vec![1; MIB])),
            ..Handshake::default()
        });
        let bytes = attacker.seal(frame(0, &hs));
        let meter = Meter::start();
        session.handle_input(t0, &bytes);
        assert_eq!(drain(&mut session), None);
        peak = peak.max(meter.peak());
        held += meter.held();
    }
    println!("limits: 64 Handshakes of 1 MiB: {held} bytes still held after all of them");
    assert!(held < 4 * KIB as isize, "{held}");
    // While each is handled: the read's copy and the decoded copy, dropped after.
    report("a repeated Handshake of 1 MiB", peak, 2 * MIB + 64 * KIB);
}

/// Pending input before the first local feed is opened is bounded (JS `_needsKey`).
#[test]
fn input_before_open_is_bounded() {
    let t0 = Instant::now();
    let key = keys().public;
    let mut session = Session::new(SessionOptions::new([1; 32]), t0);
    let (mut attacker, opening) = Attacker::connect(&key);
    let meter = Meter::start();
    session.handle_input(t0, &opening);
    let junk = attacker.seal(vec![0; MIB]);
    let mut closed = None;
    for _ in 0..64 {
        session.handle_input(t0, &junk);
        if let Some(e) = drain(&mut session) {
            closed = Some(e);
            break;
        }
    }
    let peak = meter.peak();
    assert!(
        matches!(closed, Some(SessionError::TooMuchBeforeOpen { .. })),
        "{closed:?}"
    );
    report("input before open", peak, MAX_PENDING_INPUT + 2 * MIB);
}
