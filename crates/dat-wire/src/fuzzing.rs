//! Fuzz entry points: each takes arbitrary bytes, must never panic, and checks a round trip
//! where one exists. A cargo-fuzz crate wraps them.

use std::time::{Duration, Instant};

use dat_core::{Feed, FeedError, FeedStorage, KeyPair, PublicKey};

use crate::cipher::StreamCipher;
use crate::event::{Channel, Event};
use crate::frame::{Frame, FrameDecoder, encode_frame, encode_ping};
use crate::message::{self, Message};
use crate::replicator::{Replicator, ReplicatorOptions};
use crate::rle;
use crate::session::{Session, SessionOptions};

/// Decode a frame stream delivered in chunks whose sizes come from the input; re-encode the
/// frames and check that decoding them again gives the same frames.
pub fn frame_stream(data: &[u8]) {
    let Some((&chunk, data)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut decoder = FrameDecoder::new();
    let mut reencoded = Vec::new();
    let mut count = 0;
    'outer: for mut piece in data.chunks(chunk) {
        loop {
            match decoder.decode(&mut piece) {
                Ok(Some(frame)) => {
                    count += 1;
                    reencode(&frame, &mut reencoded);
                }
                Ok(None) => break,
                Err(_) => break 'outer,
            }
        }
    }
    let mut again = FrameDecoder::new();
    let mut input = &reencoded[..];
    let mut n = 0;
    while let Ok(Some(_)) = again.decode(&mut input) {
        n += 1;
    }
    assert_eq!(n, count, "re-encoded frames decode to the same count");
}

fn reencode(frame: &Frame<'_>, out: &mut Vec<u8>) {
    match *frame {
        Frame::Ping => encode_ping(out),
        Frame::Empty => out.extend_from_slice(&[1, 0]),
        Frame::Message {
            channel,
            kind,
            body,
        } => encode_frame(out, channel, kind, body.len(), |o| {
            o.extend_from_slice(body)
        }),
    }
}

/// Decode a message body of the type given by the first byte (low 4 bits); if it decodes,
/// encoding and decoding again must give the same message.
pub fn message(data: &[u8]) {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let Ok(m) = Message::decode(kind & 15, body) else {
        return;
    };
    let mut out = Vec::new();
    m.encode_body(&mut out);
    assert_eq!(out.len(), m.encoded_len());
    let again = Message::decode(kind & 15, &out).map(Message::into_owned);
    assert_eq!(again.as_ref(), Ok(&m.into_owned()));
}

/// Decode an RLE bitfield with a 64 KiB bound; a decoded bitfield must re-encode to
/// something that decodes to the same bytes.
pub fn rle_decode(data: &[u8]) {
    let Ok(bits) = rle::decode(data, 64 * 1024) else {
        return;
    };
    assert!(bits.len() <= 64 * 1024);
    let enc = rle::encode(&bits);
    let again = rle::decode(&enc, bits.len()).unwrap_or_default();
    let used = bits.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    assert!(again.len() >= used && again[..used] == bits[..used]);
    assert!(again[used..].iter().all(|&b| b == 0));
}

/// Drive a session (first feed = the first 32 input bytes as a key) with the rest of the
/// input as received bytes, in chunks; it must close or wait, never panic. `now` is supplied
/// by the harness because this crate never reads the clock.
pub fn session_input(data: &[u8], now: Instant) {
    if data.len() < 33 {
        return;
    }
    let (key, rest) = data.split_at(32);
    let Ok(key) = dat_core::PublicKey::from_slice(key) else {
        return;
    };
    let (chunk, rest) = (usize::from(rest[0]).max(1), &rest[1..]);
    let mut s = Session::new(SessionOptions::new([0; 32]), now);
    let open_first = chunk % 2 == 0;
    if open_first {
        let _ = s.open_feed(key, [0; 24]);
    }
    for piece in rest.chunks(chunk) {
        s.handle_input(now, piece);
    }
    if !open_first {
        let _ = s.open_feed(key, [0; 24]);
    }
    while s.poll_event().is_some() {}
    let mut out = Vec::new();
    s.poll_transmit(&mut out);
    s.handle_timeout(now);
}

/// Blocks in [`replication_feed`].
pub const REPLICATION_BLOCKS: u64 = 40;

/// Block `index` of [`replication_feed`]: 1 to 300 bytes, different for every index.
pub fn replication_block(index: u64) -> Vec<u8> {
    let len = 1 + (index * 37 % 300) as usize;
    (0..len).map(|i| (index as usize * 31 + i) as u8).collect()
}

/// The key pair of [`replication_feed`] (a fixed seed, so recorded seeds stay valid).
pub fn replication_keys() -> KeyPair {
    KeyPair::from_seed(&[0x5a; 32])
}

/// The feed [`replication`] serves or downloads: [`REPLICATION_BLOCKS`] blocks appended in
/// three batches, so proofs need signatures of different lengths.
pub fn replication_feed() -> Result<Feed, FeedError> {
    let mut feed = Feed::create(FeedStorage::memory(), replication_keys())?;
    let blocks: Vec<Vec<u8>> = (0..REPLICATION_BLOCKS).map(replication_block).collect();
    for batch in [&blocks[..7], &blocks[7..24], &blocks[24..]] {
        feed.append_batch(batch.iter().map(Vec::as_slice))?;
    }
    Ok(feed)
}

/// A stream cipher that changes nothing: with it, fuzz input after the remote's first Feed
/// frame reaches the frame decoder as the fuzzer wrote it (with XSalsa20 every mutation
/// would decrypt to noise).
#[derive(Debug)]
pub struct PlainCipher;

impl StreamCipher for PlainCipher {
    fn apply(&mut self, _data: &mut [u8]) {}
}

/// The [`CipherFactory`](crate::cipher::CipherFactory) of [`PlainCipher`].
pub fn plain_cipher(_key: &PublicKey, _nonce: &[u8; 24]) -> Box<dyn StreamCipher> {
    Box::new(PlainCipher)
}

/// A session as [`replication`] runs it: dat's options with [`PlainCipher`] and one
/// extension, the feed `key` opened with a zero nonce. Returns the session and our channel.
pub fn replication_session(
    key: PublicKey,
    now: Instant,
) -> Result<(Session, Channel), crate::SendError> {
    let options = SessionOptions {
        cipher: plain_cipher,
        extensions: vec!["fuzz".into()],
        ..SessionOptions::new([7; 32])
    };
    let mut session = Session::new(options, now);
    let channel = session.open_feed(key, [0; 24])?;
    Ok((session, channel))
}

/// The remote's first frame, sent in clear before the fuzz input: its Feed message for `key`
/// on channel 0 with a zero nonce (what [`replication_session`] sends first).
pub fn remote_opening(key: &PublicKey) -> Vec<u8> {
    let mut out = Vec::new();
    let feed = Message::Feed(message::Feed {
        discovery_key: key.discovery_key(),
        nonce: Some([0; 24]),
    });
    feed.encode_frame(0, &mut out);
    out
}

/// A whole session with a [`Replicator`], fed hostile bytes after the remote's valid opening
/// Feed frame. First byte: bit 0 picks the role (1: we upload [`replication_feed`], 0: we
/// download it into an empty clone), the other bits the chunk size the rest arrives in (0:
/// all at once, else 8 bytes per step). The rest is the remote's plaintext stream from its
/// Handshake on (seeds are recorded traffic). Never panics, and a clone never stores a block
/// that differs from the writer's. Returns how many blocks our feed holds at the end.
pub fn replication(data: &[u8], now: Instant) -> u64 {
    let Some((&mode, input)) = data.split_first() else {
        return 0;
    };
    let upload = mode & 1 == 1;
    // Whole input at once, or chunks of 8, 16, ... bytes (byte-at-a-time delivery is the
    // frame stream target's job; here it would cost most of the executions).
    let chunk = match usize::from(mode >> 1) {
        0 => input.len().max(1),
        step => step * 8,
    };
    let key = replication_keys().public;
    let feed = if upload {
        replication_feed()
    } else {
        Feed::open_or_create_reader(FeedStorage::memory(), key)
    };
    let (Ok(mut feed), Ok((mut session, channel))) = (feed, replication_session(key, now)) else {
        return 0;
    };
    let mut replicator = Replicator::new(channel, ReplicatorOptions::default());
    if !upload {
        replicator.download(0..u64::MAX);
    }
    session.handle_input(now, &remote_opening(&key));
    let mut t = now;
    let mut out = Vec::new();
    let mut live = true;
    for piece in input.chunks(chunk) {
        t += Duration::from_millis(50);
        session.handle_input(t, piece);
        live = drive(&mut session, &mut replicator, &mut feed, channel, t);
        out.clear();
        session.poll_transmit(&mut out);
        if !live {
            break;
        }
    }
    if live {
        let late = t + Duration::from_secs(10);
        let _ = replicator.handle_timeout(late, &feed);
        session.handle_timeout(late);
        while session.poll_event().is_some() {}
    }
    if !upload {
        for i in 0..feed.len().min(REPLICATION_BLOCKS + 1) {
            if feed.has(i) {
                assert_eq!(feed.get(i).ok(), Some(replication_block(i)), "block {i}");
            }
        }
    }
    feed.downloaded(0..feed.len())
}

/// A seed for [`replication`]: a real exchange between two in-memory peers, recorded from
/// the side opposite to `upload` (our role), with its opening Feed frame cut off and the mode
/// byte (role, chunk size `8 * chunk_step`, 0 for all at once) in front.
pub fn replication_seed(upload: bool, chunk_step: u8, now: Instant) -> Result<Vec<u8>, FeedError> {
    let key = replication_keys().public;
    let open = |writer: bool| -> Result<Feed, FeedError> {
        if writer {
            replication_feed()
        } else {
            Feed::open_or_create_reader(FeedStorage::memory(), key)
        }
    };
    let mut sides = Vec::new();
    for writer in [upload, !upload] {
        let feed = open(writer)?;
        let Ok((session, channel)) = replication_session(key, now) else {
            return Err(FeedError::NotWritable);
        };
        let mut replicator = Replicator::new(channel, ReplicatorOptions::default());
        if !writer {
            replicator.download(0..u64::MAX);
        }
        sides.push((session, replicator, feed, channel));
    }
    let mut recorded = Vec::new();
    let mut t = now;
    for _ in 0..1000 {
        t += Duration::from_millis(50);
        let mut moved = 0;
        for from in [0, 1] {
            let mut bytes = Vec::new();
            sides[from].0.poll_transmit(&mut bytes);
            if from == 1 {
                recorded.extend_from_slice(&bytes);
            }
            moved += bytes.len();
            let (session, replicator, feed, channel) = &mut sides[1 - from];
            session.handle_input(t, &bytes);
            drive(session, replicator, feed, *channel, t);
        }
        if moved == 0 {
            break;
        }
    }
    let opening = remote_opening(&key);
    let stream = recorded
        .strip_prefix(opening.as_slice())
        .unwrap_or(&recorded);
    let mut seed = vec![u8::from(upload) | (chunk_step << 1)];
    seed.extend_from_slice(stream);
    Ok(seed)
}

/// Hand the session's events to the replicator, as an application does; false once the
/// connection would be closed.
fn drive(
    session: &mut Session,
    replicator: &mut Replicator,
    feed: &mut Feed,
    channel: Channel,
    now: Instant,
) -> bool {
    while let Some(event) = session.poll_event() {
        match event {
            Event::Handshake(_) => replicator.start(now, session, feed),
            Event::Message {
                channel: c,
                message,
            } if c == channel
                && replicator
                    .handle_message(now, session, feed, &message)
                    .is_err() =>
            {
                return false;
            }
            Event::Closed(_) | Event::ChannelClosed { .. } => return false,
            _ => {}
        }
    }
    while replicator.poll_event().is_some() {}
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn entry_points_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
            frame_stream(&data);
            message(&data);
            rle_decode(&data);
        }
    }

    #[test]
    fn message_round_trip_examples() {
        message(&[9, 0x08, 0x00, 0x12, 0x01, 0x61, 0x22, 0x00]); // Data with a bad signature
        message(&[7, 0x08, 0x07, 0x10, 0x00, 0x18, 0x00, 0x20, 0x00]);
        message(&[1, 0x0a, 0x01, 0xaa, 0x22, 0x01, b'x', 0x10, 0x01]);
    }
}
