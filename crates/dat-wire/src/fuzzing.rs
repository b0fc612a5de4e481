//! Fuzz entry points: each takes arbitrary bytes, must never panic, and checks a round trip
//! where one exists. A cargo-fuzz crate wraps them.

use std::time::Instant;

use crate::frame::{Frame, FrameDecoder, encode_frame, encode_ping};
use crate::message::Message;
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
