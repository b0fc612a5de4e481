//! Session tests: two sessions back to back in one thread with a virtual clock, the real JS
//! byte stream, and hostile input (each must end in a specific typed error, never a panic).
#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use dat_core::{DiscoveryKey, KeyPair, PublicKey};
use dat_wire::cipher::{StreamCipher, XSalsa20Cipher};
use dat_wire::message::{self, Range};
use dat_wire::{
    CloseReason, Event, Message, PeerAction, SendError, Session, SessionError, SessionOptions,
};

fn key(seed: u8) -> PublicKey {
    KeyPair::from_seed(&[seed; 32]).public
}

fn feed1() -> PublicKey {
    let k = hex::decode("8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c");
    PublicKey::from_slice(&k.unwrap()).unwrap()
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

/// Move bytes both ways until neither side has anything to send (bounded).
fn pump(a: &mut Session, b: &mut Session, now: Instant, chunk: usize) {
    for _ in 0..100 {
        let (mut ab, mut ba) = (Vec::new(), Vec::new());
        a.poll_transmit(&mut ab);
        b.poll_transmit(&mut ba);
        if ab.is_empty() && ba.is_empty() {
            return;
        }
        for c in ab.chunks(chunk) {
            b.handle_input(now, c);
        }
        for c in ba.chunks(chunk) {
            a.handle_input(now, c);
        }
    }
    panic!("pump did not settle");
}

fn want(start: u64) -> Message<'static> {
    Message::Want(Range {
        start,
        length: Some(1048576),
    })
}

fn run_pair(chunk: usize) {
    let t0 = Instant::now();
    let (k1, k2) = (key(1), key(2));
    let mut a = Session::new(SessionOptions::new([0xa; 32]), t0);
    let mut b = Session::new(SessionOptions::new([0xb; 32]), t0);
    assert_eq!(a.open_feed(k1, [1; 24]), Ok(0));
    pump(&mut a, &mut b, t0, chunk);
    // B learns the discovery key only, opens the matching feed, then hears A's handshake.
    assert_eq!(
        events(&mut b),
        vec![Event::RemoteFeed {
            discovery_key: k1.discovery_key(),
            channel: None
        }]
    );
    assert_eq!(b.open_feed(k1, [2; 24]), Ok(0));
    a.send(0, &want(0)).unwrap();
    pump(&mut a, &mut b, t0, chunk);
    let eb = events(&mut b);
    assert!(
        matches!(&eb[0], Event::Handshake(h) if h.id.as_deref() == Some(&[0xa; 32][..]) && h.live)
    );
    assert_eq!(
        eb[1],
        Event::Message {
            channel: 0,
            message: want(0)
        }
    );
    let ea = events(&mut a);
    assert_eq!(
        ea[0],
        Event::RemoteFeed {
            discovery_key: k1.discovery_key(),
            channel: Some(0)
        }
    );
    assert!(matches!(&ea[1], Event::Handshake(h) if h.id.as_deref() == Some(&[0xb; 32][..])));
    // B opens a second feed and talks on it before A opened it: A holds the message back.
    assert_eq!(b.open_feed(k2, [0; 24]), Ok(1));
    b.send(1, &want(0)).unwrap();
    pump(&mut a, &mut b, t0, chunk);
    assert_eq!(
        events(&mut a),
        vec![Event::RemoteFeed {
            discovery_key: k2.discovery_key(),
            channel: None
        }]
    );
    assert_eq!(a.open_feed(k2, [0; 24]), Ok(1));
    assert_eq!(
        events(&mut a),
        vec![Event::Message {
            channel: 1,
            message: want(0)
        }]
    );
    assert!(!a.is_closed() && !b.is_closed());
}

#[test]
fn two_sessions_back_to_back() {
    run_pair(usize::MAX);
}

#[test]
fn two_sessions_byte_by_byte() {
    run_pair(1);
    run_pair(7);
}

fn js_stream() -> Vec<u8> {
    hex::decode(include_str!("data/js-stream-feed1.hex").trim()).unwrap()
}

fn js_expected_messages() -> Vec<u8> {
    vec![5, 3, 7, 9, 2]
}

fn check_js_events(ev: &[Event]) {
    assert_eq!(
        ev[0],
        Event::RemoteFeed {
            discovery_key: feed1().discovery_key(),
            channel: Some(0)
        }
    );
    assert!(matches!(&ev[1], Event::Handshake(h) if h.id.as_deref() == Some(&[0xaa; 32][..])));
    let kinds: Vec<u8> = ev[2..]
        .iter()
        .map(|e| match e {
            Event::Message {
                channel: 0,
                message,
            } => message.kind(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(kinds, js_expected_messages());
    let Event::Message {
        message: Message::Data(d),
        ..
    } = &ev[5]
    else {
        panic!()
    };
    assert_eq!(d.value.as_deref(), Some(&b"hello"[..]));
}

#[test]
fn decrypts_the_js_stream_in_any_chunking() {
    let wire = js_stream();
    let t0 = Instant::now();
    for chunk in [wire.len(), 1, 2, 3, 64, 65, 100] {
        let mut s = Session::new(SessionOptions::new([1; 32]), t0);
        s.open_feed(feed1(), [9; 24]).unwrap();
        for c in wire.chunks(chunk) {
            s.handle_input(t0, c);
        }
        check_js_events(&events(&mut s));
        assert!(!s.is_closed());
    }
}

#[test]
fn js_stream_before_we_open_waits_for_the_key() {
    let wire = js_stream();
    let t0 = Instant::now();
    for chunk in [wire.len(), 1, 70] {
        let mut s = Session::new(SessionOptions::new([1; 32]), t0);
        for c in wire.chunks(chunk) {
            s.handle_input(t0, c);
        }
        let first = events(&mut s);
        assert_eq!(
            first,
            vec![Event::RemoteFeed {
                discovery_key: feed1().discovery_key(),
                channel: None
            }]
        );
        s.open_feed(feed1(), [9; 24]).unwrap();
        let mut ev = first;
        ev[0] = Event::RemoteFeed {
            discovery_key: feed1().discovery_key(),
            channel: Some(0),
        };
        ev.extend(events(&mut s));
        check_js_events(&ev);
    }
}

#[test]
fn keepalive_and_idle_timeout() {
    let t0 = Instant::now();
    let mut a = Session::new(SessionOptions::new([0xa; 32]), t0);
    let mut b = Session::new(SessionOptions::new([0xb; 32]), t0);
    a.open_feed(key(1), [1; 24]).unwrap();
    b.open_feed(key(1), [2; 24]).unwrap();
    pump(&mut a, &mut b, t0, usize::MAX);
    events(&mut a);
    events(&mut b);
    // A stays quiet; B keeps sending nothing either. Both ping within 2.5 s and, as long as
    // the pings are delivered, neither times out for a minute.
    let mut now = t0;
    let mut pings = 0;
    let mut last_rx = t0;
    while now < t0 + Duration::from_secs(60) {
        now = a.poll_timeout().unwrap().min(b.poll_timeout().unwrap());
        a.handle_timeout(now);
        b.handle_timeout(now);
        let mut out = Vec::new();
        if a.poll_transmit(&mut out) == 1 {
            pings += 1;
        }
        b.handle_input(now, &out);
        let mut out = Vec::new();
        if b.poll_transmit(&mut out) > 0 {
            last_rx = now;
        }
        a.handle_input(now, &out);
    }
    assert!((22..=24).contains(&pings), "{pings} pings in 60 s"); // one per 2.5 s
    assert!(!a.is_closed() && !b.is_closed());
    assert!(events(&mut a).is_empty());
    // Now B stops delivering: A gives up after 7 s of silence.
    while !a.is_closed() {
        now = a.poll_timeout().unwrap();
        a.handle_timeout(now);
    }
    assert_eq!(now - last_rx, Duration::from_secs(7));
    let ev = events(&mut a);
    assert_eq!(
        ev,
        vec![Event::Closed(CloseReason::Error(SessionError::Timeout))]
    );
    assert_eq!(SessionError::Timeout.action(), PeerAction::Retry);
}

/// A hand-driven remote: its clear Feed frame, then frames encrypted with its nonce.
struct RawPeer {
    cipher: XSalsa20Cipher,
    nonce: [u8; 24],
}

impl RawPeer {
    fn new(key: &PublicKey) -> Self {
        Self {
            cipher: XSalsa20Cipher::new(key, &[7; 24]),
            nonce: [7; 24],
        }
    }
    fn first_feed(&self, dk: DiscoveryKey, nonce: bool) -> Vec<u8> {
        let mut out = Vec::new();
        Message::Feed(message::Feed {
            discovery_key: dk,
            nonce: nonce.then_some(self.nonce),
        })
        .encode_frame(0, &mut out);
        out
    }
    fn encrypt(&mut self, mut plain: Vec<u8>) -> Vec<u8> {
        self.cipher.apply(&mut plain);
        plain
    }
    fn frame(&mut self, channel: u16, m: &Message<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        m.encode_frame(channel, &mut out);
        self.encrypt(out)
    }
}

/// Open feed1 locally, feed `bytes` after the remote's valid first Feed, return the close
/// reason.
fn hostile(after_feed: impl FnOnce(&mut RawPeer) -> Vec<u8>) -> (Session, Option<SessionError>) {
    let (s, ev) = hostile_events(after_feed);
    let err = ev.into_iter().find_map(|e| match e {
        Event::Closed(CloseReason::Error(err)) => Some(err),
        _ => None,
    });
    (s, err)
}

fn hostile_events(after_feed: impl FnOnce(&mut RawPeer) -> Vec<u8>) -> (Session, Vec<Event>) {
    let t0 = Instant::now();
    let mut s = Session::new(SessionOptions::new([1; 32]), t0);
    s.open_feed(feed1(), [3; 24]).unwrap();
    let mut peer = RawPeer::new(&feed1());
    s.handle_input(t0, &peer.first_feed(feed1().discovery_key(), true));
    let rest = after_feed(&mut peer);
    s.handle_input(t0, &rest);
    let ev = events(&mut s);
    (s, ev)
}

#[test]
fn oversized_frame_is_refused_at_once() {
    let (s, err) = hostile(|p| {
        let mut plain = Vec::new();
        dat_core::protobuf::write_varint(&mut plain, 9 * 1024 * 1024);
        plain.extend_from_slice(&[0x01, 0x02]);
        p.encrypt(plain)
    });
    assert_eq!(
        err,
        Some(SessionError::Frame(dat_wire::FrameError::TooLarge {
            len: 9 * 1024 * 1024
        }))
    );
    assert!(s.is_closed());
    assert_eq!(err.unwrap().action(), PeerAction::Ban);
}

#[test]
fn garbage_after_the_handshake() {
    // Channel 300 (beyond 256 feeds).
    let (_, err) = hostile(|p| {
        let mut plain = vec![0x03];
        dat_core::protobuf::write_varint(&mut plain, (300 << 4) | 5);
        plain.push(0x08);
        p.encrypt(plain)
    });
    assert_eq!(
        err,
        Some(SessionError::Frame(dat_wire::FrameError::TooManyFeeds {
            channel: 300
        }))
    );
    // A message on a channel the remote never opened.
    let (_, err) = hostile(|p| p.frame(4, &want(0)));
    assert_eq!(err, Some(SessionError::UnknownChannel { channel: 4 }));
    // A frame whose header varint never ends.
    let (_, err) = hostile(|p| p.encrypt(vec![0x02, 0x80, 0x80]));
    assert_eq!(
        err,
        Some(SessionError::Frame(dat_wire::FrameError::BadHeader))
    );
    // Bytes encrypted under the wrong key (a peer that does not know the feed key): closes
    // with some protocol error, never a panic, for many garbage streams.
    for seed in 0..200u32 {
        let (s, err) = hostile(|_| {
            let mut g = Vec::new();
            let mut c = XSalsa20Cipher::new(&key(9), &[seed as u8; 24]);
            g.resize(64 + seed as usize * 3, 0);
            c.apply(&mut g);
            g
        });
        // Either closed with a ban-worthy error or still waiting for the rest of a frame.
        assert_eq!(s.is_closed(), err.is_some());
        if let Some(e) = err {
            assert_eq!(e.action(), PeerAction::Ban, "{e}");
        }
    }
}

#[test]
fn missing_required_field_is_dropped_like_js() {
    let (s, err) = hostile(|p| {
        let mut plain = Vec::new();
        // Want without `start`: JS drops it silently.
        dat_wire::frame::encode_frame(&mut plain, 0, 5, 2, |o| o.extend_from_slice(&[0x10, 0x01]));
        p.encrypt(plain)
    });
    assert_eq!(err, None);
    assert_eq!(s.dropped_messages(), 1);
    assert!(!s.is_closed());
}

#[test]
fn wrong_first_feed_and_missing_nonce() {
    let t0 = Instant::now();
    let mut s = Session::new(SessionOptions::new([1; 32]), t0);
    s.open_feed(feed1(), [3; 24]).unwrap();
    let peer = RawPeer::new(&key(5));
    s.handle_input(t0, &peer.first_feed(key(5).discovery_key(), true));
    let ev = events(&mut s);
    let Event::Closed(reason) = &ev[0] else {
        panic!("{ev:?}")
    };
    assert_eq!(
        reason,
        &CloseReason::Error(SessionError::DifferentFeed {
            local: feed1().discovery_key(),
            remote: key(5).discovery_key()
        })
    );
    assert_eq!(reason.action(), PeerAction::Forget);
    // The same check when the remote's Feed arrived first and we then open another feed.
    let mut s = Session::new(SessionOptions::new([1; 32]), t0);
    s.handle_input(t0, &peer.first_feed(key(5).discovery_key(), true));
    events(&mut s);
    assert!(matches!(
        s.open_feed(feed1(), [3; 24]),
        Err(SendError::Fatal(SessionError::DifferentFeed { .. }))
    ));
    // No nonce.
    let mut s = Session::new(SessionOptions::new([1; 32]), t0);
    s.open_feed(feed1(), [3; 24]).unwrap();
    let peer = RawPeer::new(&feed1());
    s.handle_input(t0, &peer.first_feed(feed1().discovery_key(), false));
    assert_eq!(
        events(&mut s),
        vec![Event::Closed(CloseReason::Error(SessionError::NoNonce))]
    );
}

#[test]
fn truncated_frames() {
    // A truncated Feed body inside a complete frame is an invalid feed.
    let t0 = Instant::now();
    let mut s = Session::new(SessionOptions::new([1; 32]), t0);
    s.open_feed(feed1(), [3; 24]).unwrap();
    s.handle_input(t0, &[0x05, 0x00, 0x0a, 0x20, 0x01, 0x02]);
    assert!(matches!(
        events(&mut s).as_slice(),
        [Event::Closed(CloseReason::Error(SessionError::BadFeed(_)))]
    ));
    // A frame cut off by the transport just waits, then the silence timeout ends it.
    let (mut s, err) = hostile(|p| {
        let mut f = p.frame(0, &want(0));
        f.truncate(3);
        f
    });
    assert_eq!(err, None);
    let deadline = s.poll_timeout().unwrap();
    s.handle_timeout(t0 + Duration::from_secs(8).max(deadline - t0));
    assert!(s.is_closed());
}

#[test]
fn too_many_messages_on_an_unopened_feed() {
    let other = key(6).discovery_key();
    let (_, err) = hostile(|p| {
        let mut out = p.frame(
            1,
            &Message::Feed(message::Feed {
                discovery_key: other,
                nonce: None,
            }),
        );
        for i in 0..16 {
            out.extend(p.frame(1, &want(i * 8192)));
        }
        out
    });
    assert_eq!(err, None, "16 held messages are fine");
    let (_, err) = hostile(|p| {
        let mut out = p.frame(
            1,
            &Message::Feed(message::Feed {
                discovery_key: other,
                nonce: None,
            }),
        );
        for i in 0..17 {
            out.extend(p.frame(1, &want(i * 8192)));
        }
        out
    });
    assert_eq!(err, Some(SessionError::TooManyBuffered { channel: 1 }));
}

#[test]
fn reopened_remote_channel_closes_ours() {
    let (mut s, ev) = hostile_events(|p| {
        p.frame(
            0,
            &Message::Feed(message::Feed {
                discovery_key: key(6).discovery_key(),
                nonce: None,
            }),
        )
    });
    // The remote's channel 0 (feed1) was replaced by another feed: our channel 0 closed.
    assert!(ev.contains(&Event::ChannelClosed {
        channel: 0,
        discovery_key: feed1().discovery_key()
    }));
    assert_eq!(
        ev.last(),
        Some(&Event::RemoteFeed {
            discovery_key: key(6).discovery_key(),
            channel: None
        })
    );
    assert!(!s.is_closed());
    assert_eq!(s.send(0, &want(0)), Err(SendError::NotOpen { channel: 0 }));
}

#[test]
fn extensions_by_name() {
    let t0 = Instant::now();
    let mut oa = SessionOptions::new([0xa; 32]);
    oa.extensions = vec!["zeta".into(), "alpha".into()];
    let mut ob = SessionOptions::new([0xb; 32]);
    ob.extensions = vec!["alpha".into()];
    let mut a = Session::new(oa, t0);
    let mut b = Session::new(ob, t0);
    a.open_feed(key(1), [1; 24]).unwrap();
    b.open_feed(key(1), [2; 24]).unwrap();
    pump(&mut a, &mut b, t0, usize::MAX);
    events(&mut b);
    a.send_extension(0, "alpha", b"hi").unwrap();
    a.send_extension(0, "zeta", b"ignored").unwrap();
    assert_eq!(
        a.send_extension(0, "nope", b""),
        Err(SendError::UnknownExtension {
            name: "nope".into()
        })
    );
    pump(&mut a, &mut b, t0, usize::MAX);
    assert_eq!(
        events(&mut b),
        vec![Event::Extension {
            channel: 0,
            name: "alpha".into(),
            payload: b"hi".to_vec()
        }]
    );
}

fn data(index: u64, len: usize) -> Message<'static> {
    Message::Data(message::Data {
        index,
        value: Some(vec![index as u8; len].into()),
        nodes: Vec::new(),
        signature: None,
    })
}

fn data_value(event: Event) -> Vec<u8> {
    match event {
        Event::Message {
            message:
                Message::Data(message::Data {
                    value: Some(value), ..
                }),
            ..
        } => value.into_owned(),
        other => panic!("expected Data, got {other:?}"),
    }
}

/// A recycled Data block's buffer receives the next block (same allocation, right bytes),
/// a buffer too large to keep is let go, and at most `MAX_SPARE_BUFFERS` are kept.
#[test]
fn recycled_block_buffers_are_reused_within_bounds() {
    use dat_wire::limits::{MAX_SPARE_BUFFER, MAX_SPARE_BUFFERS};
    let t0 = Instant::now();
    let k = key(1);
    let mut a = Session::new(SessionOptions::new([0xa; 32]), t0);
    let mut b = Session::new(SessionOptions::new([0xb; 32]), t0);
    a.open_feed(k, [1; 24]).unwrap();
    b.open_feed(k, [2; 24]).unwrap();
    pump(&mut a, &mut b, t0, 4096);
    events(&mut b);
    a.send(0, &data(1, 65536)).unwrap();
    pump(&mut a, &mut b, t0, 4096);
    let first = b.poll_event().unwrap();
    let Event::Message { message, .. } = first else {
        panic!("expected a message")
    };
    let Message::Data(message::Data { value: Some(v), .. }) = &message else {
        panic!("expected Data")
    };
    let ptr = v.as_ptr();
    b.recycle(message);
    a.send(0, &data(2, 1000)).unwrap();
    pump(&mut a, &mut b, t0, 4096);
    let Some(Event::Message { message, .. }) = b.poll_event() else {
        panic!("expected a message")
    };
    let Message::Data(message::Data { value: Some(v), .. }) = &message else {
        panic!("expected Data")
    };
    assert_eq!(v.as_ptr(), ptr, "the recycled buffer was reused");
    assert_eq!(v.as_ref(), &[2u8; 1000][..]);
    // A block larger than MAX_SPARE_BUFFER is not kept: the next block gets a new buffer.
    a.send(0, &data(3, MAX_SPARE_BUFFER + 1)).unwrap();
    pump(&mut a, &mut b, t0, 1 << 20);
    let Some(Event::Message { message: big, .. }) = b.poll_event() else {
        panic!("expected a message")
    };
    let Message::Data(message::Data { value: Some(v), .. }) = &big else {
        panic!("expected Data")
    };
    let big_ptr = v.as_ptr();
    b.recycle(big);
    a.send(0, &data(4, 10)).unwrap();
    pump(&mut a, &mut b, t0, 4096);
    let next = b.poll_event().unwrap();
    let Event::Message { message: ref m, .. } = next else {
        panic!("expected a message")
    };
    let Message::Data(message::Data { value: Some(v), .. }) = m else {
        panic!("expected Data")
    };
    assert_ne!(v.as_ptr(), big_ptr);
    assert_eq!(data_value(next), vec![4u8; 10]);
    // Many blocks at once, recycled as they are taken: all arrive intact.
    for i in 0..(2 * MAX_SPARE_BUFFERS as u64) {
        a.send(0, &data(i, 100 + i as usize)).unwrap();
    }
    pump(&mut a, &mut b, t0, 1 << 16);
    let got: Vec<Event> = events(&mut b);
    assert_eq!(got.len(), 2 * MAX_SPARE_BUFFERS);
    for (i, e) in got.into_iter().enumerate() {
        let v = data_value(e.clone());
        assert_eq!(v, vec![i as u8; 100 + i]);
        if let Event::Message { message, .. } = e {
            b.recycle(message);
        }
    }
}

/// Taking the transmit queue into an empty buffer moves it (no bytes lost or reordered), and
/// into a non-empty one appends.
#[test]
fn poll_transmit_moves_or_appends() {
    let t0 = Instant::now();
    let mut a = Session::new(SessionOptions::new([0xa; 32]), t0);
    a.open_feed(key(1), [1; 24]).unwrap();
    let mut first = Vec::new();
    let n = a.poll_transmit(&mut first);
    assert_eq!(n, first.len());
    assert!(n > 0);
    a.send(0, &want(0)).unwrap();
    let mut more = vec![7u8];
    let m = a.poll_transmit(&mut more);
    assert_eq!(more.len(), 1 + m);
    assert_eq!(more[0], 7);
    assert_eq!(a.pending_transmit(), 0);
    assert_eq!(a.poll_transmit(&mut Vec::new()), 0);
}

/// Reading into `input_buffer` and reporting with `input_filled` is the same as
/// `handle_input`, in any chunking, with reads that fill only part of the room offered.
#[test]
fn input_buffer_reads_equal_handle_input() {
    let wire = js_stream();
    let t0 = Instant::now();
    for (chunk, room) in [
        (wire.len(), wire.len()),
        (1, 1),
        (3, 64),
        (64, 1 << 20),
        (100, 101),
    ] {
        let mut s = Session::new(SessionOptions::new([1; 32]), t0);
        s.open_feed(feed1(), [9; 24]).unwrap();
        for c in wire.chunks(chunk) {
            let buf = s.input_buffer(room);
            assert_eq!(buf.len(), room);
            buf[..c.len()].copy_from_slice(c);
            s.input_filled(t0, c.len());
        }
        check_js_events(&events(&mut s));
        assert!(!s.is_closed());
    }
    // Before the feed is opened, input is held as by handle_input and parsed once it is.
    let mut s = Session::new(SessionOptions::new([1; 32]), t0);
    for c in wire.chunks(70) {
        s.input_buffer(4096)[..c.len()].copy_from_slice(c);
        s.input_filled(t0, c.len());
    }
    let mut ev = events(&mut s);
    assert_eq!(ev.len(), 1);
    s.open_feed(feed1(), [9; 24]).unwrap();
    ev[0] = Event::RemoteFeed {
        discovery_key: feed1().discovery_key(),
        channel: Some(0),
    };
    ev.extend(events(&mut s));
    check_js_events(&ev);
}

/// Held input past `MAX_PENDING_INPUT` closes the session through `input_filled` too, and a
/// count larger than the room offered is ignored.
#[test]
fn input_filled_keeps_the_pending_bound() {
    use dat_wire::limits::MAX_PENDING_INPUT;
    let t0 = Instant::now();
    let mut s = Session::new(SessionOptions::new([1; 32]), t0);
    let wire = js_stream();
    // The remote's first Feed frame, then bytes held while no local feed is open.
    s.input_buffer(wire.len())[..wire.len()].copy_from_slice(&wire);
    s.input_filled(t0, wire.len());
    s.input_buffer(10);
    s.input_filled(t0, 11);
    assert!(!s.is_closed());
    let mut closed = None;
    for _ in 0..64 {
        let n = 1 << 20;
        s.input_buffer(n);
        s.input_filled(t0, n);
        if let Some(Event::Closed(CloseReason::Error(e))) = events(&mut s)
            .into_iter()
            .find(|e| matches!(e, Event::Closed(_)))
        {
            closed = Some(e);
            break;
        }
    }
    assert!(
        matches!(closed, Some(SessionError::TooMuchBeforeOpen { bytes }) if bytes > MAX_PENDING_INPUT),
        "{closed:?}"
    );
}
