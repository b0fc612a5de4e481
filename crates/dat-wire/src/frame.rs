//! Framing (DAT-SPEC §4.1): `varint L`, then `varint (channel << 4 | type)` and the body.
//!
//! The decoder is streaming: it takes whatever chunk the transport delivered and yields frames
//! one at a time, so the session can switch on decryption exactly after the first frame. It
//! refuses an oversized frame from its length prefix alone, before buffering a single byte
//! of it, and refuses channel numbers beyond [`MAX_FEEDS`].

use dat_core::protobuf::{read_varint, varint_len, write_varint};

pub use crate::limits::{MAX_FEEDS, MAX_FRAME_LEN};

/// Bytes of the longest length prefix JS accepts (`varint.encodingLength(8388608)`).
const MAX_LEN_PREFIX: usize = 4;

/// Message type of an Extension frame.
pub const EXTENSION_TYPE: u8 = 15;

/// Why a byte stream is not valid framing. Each of these ends the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The length prefix announced more than [`MAX_FRAME_LEN`] (or ran past 4 bytes).
    #[error("remote frame of {len} bytes exceeds the {MAX_FRAME_LEN}-byte limit")]
    TooLarge {
        /// The announced length (a lower bound when the prefix itself was too long).
        len: u64,
    },
    /// The header varint did not end inside the frame.
    #[error("remote sent an invalid frame header")]
    BadHeader,
    /// A channel number at or beyond [`MAX_FEEDS`].
    #[error("remote used channel {channel}; at most {MAX_FEEDS} feeds are supported")]
    TooManyFeeds {
        /// The channel number.
        channel: u64,
    },
}

/// One decoded frame, borrowing its body from the input or the decoder's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    /// `L = 0`: a keep-alive.
    Ping,
    /// `L = 1`: a header without body, which JS ignores entirely.
    Empty,
    /// A message frame.
    Message {
        /// The sender's channel number (`< MAX_FEEDS`).
        channel: u16,
        /// The message type, `0..=15`.
        kind: u8,
        /// The message body (protobuf, or `varint id || payload` for extensions).
        body: &'a [u8],
    },
}

/// Streaming frame decoder; holds at most one partial frame.
#[derive(Debug, Default)]
pub struct FrameDecoder {
    prefix: [u8; MAX_LEN_PREFIX],
    prefix_len: usize,
    /// Bytes still missing of the current frame (0 = reading a length prefix).
    missing: usize,
    /// Partial frame bytes, when a frame spans chunks.
    buf: Vec<u8>,
    /// `buf` holds the frame returned last; clear it before reading on.
    returned_buf: bool,
}

impl FrameDecoder {
    /// A decoder at a frame boundary.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the decoder sits exactly between frames (no partial prefix or body).
    pub fn at_boundary(&self) -> bool {
        self.prefix_len == 0 && self.missing == 0
    }

    /// Decode at most one frame from the front of `input`, advancing it past what was used.
    /// `Ok(None)` means `input` is exhausted without completing a frame (the partial frame is
    /// kept). After an error the decoder must not be used again.
    pub fn decode<'s, 'i: 's>(
        &'s mut self,
        input: &mut &'i [u8],
    ) -> Result<Option<Frame<'s>>, FrameError> {
        if self.returned_buf {
            self.returned_buf = false;
            self.buf.clear();
            if self.buf.capacity() > 64 * 1024 {
                self.buf = Vec::new(); // do not keep a large frame's memory for the connection's life
            }
        }
        if self.missing == 0 {
            match self.read_prefix(input)? {
                None => return Ok(None),
                Some(0) => return Ok(Some(Frame::Ping)),
                Some(len) => self.missing = len,
            }
        }
        if self.buf.is_empty() && input.len() >= self.missing {
            let (body, rest) = input.split_at(self.missing);
            *input = rest;
            self.missing = 0;
            return parse_frame(body).map(Some);
        }
        let take = self.missing.min(input.len());
        // Grow only by what has arrived (a peer announcing 8 MiB and sending 1 byte costs 1
        // byte), doubling for amortised cost, but never past the frame's own length: the
        // buffer of an 8 MiB frame is 8 MiB, not the 16 MiB plain doubling could reach.
        let need = self.buf.len() + take;
        if need > self.buf.capacity() {
            let frame_len = self.buf.len() + self.missing;
            let target = need.max(2 * self.buf.capacity()).min(frame_len);
            self.buf.reserve_exact(target - self.buf.len());
        }
        self.buf.extend_from_slice(&input[..take]);
        *input = &input[take..];
        self.missing -= take;
        if self.missing > 0 {
            return Ok(None);
        }
        self.returned_buf = true;
        parse_frame(&self.buf).map(Some)
    }

    /// Read a length prefix; `Ok(None)` if the input ended inside it.
    fn read_prefix(&mut self, input: &mut &[u8]) -> Result<Option<usize>, FrameError> {
        while let Some((&byte, rest)) = input.split_first() {
            *input = rest;
            self.prefix[self.prefix_len] = byte;
            self.prefix_len += 1;
            if byte & 0x80 == 0 {
                let mut p = &self.prefix[..self.prefix_len];
                self.prefix_len = 0;
                let len = read_varint(&mut p).map_err(|_| FrameError::BadHeader)?;
                if len > MAX_FRAME_LEN {
                    return Err(FrameError::TooLarge { len });
                }
                return Ok(Some(len as usize));
            }
            if self.prefix_len >= MAX_LEN_PREFIX {
                return Err(FrameError::TooLarge {
                    len: 1 << (7 * MAX_LEN_PREFIX),
                });
            }
        }
        Ok(None)
    }
}

/// Split a complete frame (header varint + body) into its parts.
pub fn parse_frame(frame: &[u8]) -> Result<Frame<'_>, FrameError> {
    match frame.len() {
        0 => return Ok(Frame::Ping),
        1 => return Ok(Frame::Empty),
        _ => {}
    }
    let mut rest = frame;
    let header = read_varint(&mut rest).map_err(|_| FrameError::BadHeader)?;
    let channel = header >> 4;
    if channel >= MAX_FEEDS {
        return Err(FrameError::TooManyFeeds { channel });
    }
    Ok(Frame::Message {
        channel: channel as u16,
        kind: (header & 15) as u8,
        body: rest,
    })
}

/// Append a frame: length prefix, header, then `body_len` bytes written by `body`.
pub fn encode_frame(
    out: &mut Vec<u8>,
    channel: u16,
    kind: u8,
    body_len: usize,
    body: impl FnOnce(&mut Vec<u8>),
) {
    let header = (u64::from(channel) << 4) | u64::from(kind & 15);
    write_varint(out, (varint_len(header) + body_len) as u64);
    write_varint(out, header);
    let start = out.len();
    body(out);
    debug_assert_eq!(out.len() - start, body_len, "frame body length mismatch");
}

/// Append a keep-alive (a single zero byte).
pub fn encode_ping(out: &mut Vec<u8>) {
    out.push(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(decoder: &mut FrameDecoder, mut input: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(f) = decoder.decode(&mut input).expect("valid") {
            out.push(format!("{f:?}"));
        }
        assert!(input.is_empty());
        out
    }

    #[test]
    fn round_trip_and_any_split() {
        let mut wire = Vec::new();
        encode_frame(&mut wire, 0, 5, 3, |o| o.extend_from_slice(b"abc"));
        encode_ping(&mut wire);
        encode_frame(&mut wire, 255, 9, 200, |o| o.extend_from_slice(&[7; 200]));
        encode_frame(&mut wire, 1, 2, 0, |_| {});
        let whole = frames(&mut FrameDecoder::new(), &wire);
        assert_eq!(whole.len(), 4);
        assert!(whole[0].contains("channel: 0, kind: 5, body: [97, 98, 99]"));
        assert_eq!(whole[1], "Ping");
        assert_eq!(whole[3], "Empty");
        for split in 0..wire.len() {
            let mut d = FrameDecoder::new();
            let mut got = frames(&mut d, &wire[..split]);
            got.extend(frames(&mut d, &wire[split..]));
            assert_eq!(got, whole, "split at {split}");
        }
        let mut d = FrameDecoder::new();
        let mut got = Vec::new();
        for b in &wire {
            got.extend(frames(&mut d, std::slice::from_ref(b)));
        }
        assert_eq!(got, whole);
        assert!(d.at_boundary());
    }

    #[test]
    fn oversized_frame_refused_from_prefix() {
        let mut wire = Vec::new();
        write_varint(&mut wire, 9 * 1024 * 1024);
        let mut d = FrameDecoder::new();
        let mut input = &wire[..];
        assert_eq!(
            d.decode(&mut input),
            Err(FrameError::TooLarge {
                len: 9 * 1024 * 1024
            })
        );
        assert_eq!(d.buf.capacity(), 0);
        // Exactly 8 MiB is allowed (JS checks `> 8388608`).
        let mut wire = Vec::new();
        write_varint(&mut wire, MAX_FRAME_LEN);
        wire.push(0x05);
        let mut input = &wire[..];
        assert_eq!(FrameDecoder::new().decode(&mut input), Ok(None));
        // A five-byte prefix is refused at its fourth byte.
        let mut input = &[0x80u8, 0x80, 0x80, 0x80, 0x01][..];
        assert!(matches!(
            FrameDecoder::new().decode(&mut input),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn partial_frame_buffer_never_exceeds_the_frame() {
        let len = MAX_FRAME_LEN as usize;
        let mut wire = Vec::new();
        write_varint(&mut wire, MAX_FRAME_LEN);
        wire.push(0x02);
        wire.resize(4 + len, 0);
        // 65432 * 2^7 falls just short of 8 MiB, so plain doubling would end at 16 MiB.
        let mut d = FrameDecoder::new();
        let mut most = 0;
        for mut piece in wire.chunks(65_432) {
            while let Some(f) = d.decode(&mut piece).expect("valid") {
                assert!(matches!(f, Frame::Message { kind: 2, .. }));
            }
            most = most.max(d.buf.capacity());
        }
        assert_eq!(most, len);
    }

    #[test]
    fn bad_header_and_channel() {
        let mut input = &[0x02u8, 0x80, 0x80][..];
        assert_eq!(
            FrameDecoder::new().decode(&mut input),
            Err(FrameError::BadHeader)
        );
        let mut wire = Vec::new();
        encode_frame(&mut wire, 0, 0, 0, |_| {});
        let mut w2 = vec![3];
        write_varint(&mut w2, 256 << 4);
        w2.push(0);
        let mut input = &w2[..];
        assert_eq!(
            FrameDecoder::new().decode(&mut input),
            Err(FrameError::TooManyFeeds { channel: 256 })
        );
    }
}
