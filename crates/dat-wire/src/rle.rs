//! bitfield-rle 2.2.1, the run-length code of the bitfield in Have messages (DAT-SPEC §4.6).
//!
//! Runs: varint `h`; odd `h` = `h >> 2` bytes of `0xff` (if `h & 2`) or `0x00`; even `h` =
//! `h >> 1` literal bytes. The encoder makes the same choices as JS so output is
//! byte-identical; the decoder takes a bound from the caller, because a ten-byte run header can
//! claim 2^60 bytes and must be refused without allocating them.

use dat_core::protobuf::{DecodeError, read_varint, varint_len, write_varint};

/// hypercore decodes with `align(4)`: the output is zero-padded to a multiple of 4 bytes.
pub const ALIGN: usize = 4;

/// Why an RLE bitfield was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RleError {
    /// A run header was not a valid varint.
    #[error("bad RLE run header: {0}")]
    Varint(#[from] DecodeError),
    /// A literal run claims more bytes than remain (JS "Invalid RLE bitfield").
    #[error("literal run of {len} bytes at offset {offset} runs past the end")]
    Truncated {
        /// Offset of the run's payload.
        offset: usize,
        /// Claimed length.
        len: u64,
    },
    /// The decoded bitfield would exceed the caller's bound.
    #[error("decoded bitfield exceeds {max} bytes")]
    TooLarge {
        /// The bound given.
        max: usize,
    },
}

/// Encode `bitfield` as JS `rle.encode` does.
pub fn encode(bitfield: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_into(bitfield, &mut out);
    out
}

/// Append the encoding of `bitfield` to `out`.
pub fn encode_into(bitfield: &[u8], out: &mut Vec<u8>) {
    let end = bitfield.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let input = &bitfield[..end];
    let mut state = Encoder {
        input,
        input_offset: 0,
        out,
    };
    let mut len = 0usize;
    let mut bits = 0u8;
    for (i, &byte) in input.iter().enumerate() {
        if byte == bits {
            len += 1;
            continue;
        }
        if len > 0 {
            state.update(i, len, bits);
        }
        if byte == 0 || byte == 0xff {
            bits = byte;
            len = 1;
        } else {
            len = 0;
        }
    }
    if len > 0 {
        state.update(input.len(), len, bits);
    }
    state.finish();
}

struct Encoder<'a, 'o> {
    input: &'a [u8],
    input_offset: usize,
    out: &'o mut Vec<u8>,
}

impl Encoder<'_, '_> {
    /// A run of `len` equal bytes ends before `i`: emit it as a repeat run if that is
    /// strictly cheaper than leaving it in the literal run (JS `encodeUpdate`).
    fn update(&mut self, i: usize, len: usize, bits: u8) {
        let head = i - len - self.input_offset;
        let head_cost = if head > 0 {
            varint_len(2 * head as u64) + head
        } else {
            0
        };
        let repeat = 4 * len as u64 + if bits != 0 { 2 } else { 0 } + 1;
        let enc_cost = head_cost + varint_len(repeat);
        let literal = i - self.input_offset;
        let base_cost = varint_len(2 * literal as u64) + literal;
        if enc_cost >= base_cost {
            return;
        }
        if head > 0 {
            self.literal(i - len);
        }
        write_varint(self.out, repeat);
        self.input_offset = i;
    }

    fn literal(&mut self, end: usize) {
        let bytes = &self.input[self.input_offset..end];
        write_varint(self.out, 2 * bytes.len() as u64);
        self.out.extend_from_slice(bytes);
        self.input_offset = end;
    }

    fn finish(&mut self) {
        if self.input_offset < self.input.len() {
            self.literal(self.input.len());
        }
    }
}

/// Decoded length of `encoded` (padded to [`ALIGN`]), checked against `max` without
/// allocating.
pub fn decoded_len(encoded: &[u8], max: usize) -> Result<usize, RleError> {
    let mut input = encoded;
    let mut len = 0u64;
    while !input.is_empty() {
        let h = read_varint(&mut input)?;
        let run = if h & 1 == 1 { h >> 2 } else { h >> 1 };
        if h & 1 == 0 {
            if run > input.len() as u64 {
                return Err(RleError::Truncated {
                    offset: encoded.len() - input.len(),
                    len: run,
                });
            }
            input = &input[run as usize..];
        }
        len = len.saturating_add(run);
        if len > max as u64 {
            return Err(RleError::TooLarge { max });
        }
    }
    let len = len as usize;
    let padded = len.div_ceil(ALIGN).saturating_mul(ALIGN);
    if padded > max.div_ceil(ALIGN).saturating_mul(ALIGN) {
        return Err(RleError::TooLarge { max });
    }
    Ok(padded)
}

/// One run of an encoded bitfield.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Run<'a> {
    /// `len` bytes, all `0xff` if `ones`, else all zero.
    Repeat {
        /// Whether the bytes are `0xff`.
        ones: bool,
        /// How many bytes.
        len: u64,
    },
    /// Bytes as they are.
    Literal(&'a [u8]),
}

/// The runs of `encoded` in order, without building the bytes (a run of a million `0xff`
/// bytes costs its header); an invalid run ends them with its error. Check the decoded
/// length against a bound with [`decoded_len`] first.
pub fn runs(encoded: &[u8]) -> impl Iterator<Item = Result<Run<'_>, RleError>> {
    let mut input = encoded;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed || input.is_empty() {
            return None;
        }
        let run = read_varint(&mut input)
            .map_err(RleError::from)
            .and_then(|h| {
                if h & 1 == 1 {
                    return Ok(Run::Repeat {
                        ones: h & 2 != 0,
                        len: h >> 2,
                    });
                }
                let len = h >> 1;
                let offset = encoded.len() - input.len();
                match usize::try_from(len).ok().filter(|&n| n <= input.len()) {
                    Some(n) => {
                        let (lit, rest) = input.split_at(n);
                        input = rest;
                        Ok(Run::Literal(lit))
                    }
                    None => Err(RleError::Truncated { offset, len }),
                }
            });
        failed = run.is_err();
        Some(run)
    })
}

/// Decode `encoded`, refusing (before allocating) any bitfield longer than `max` bytes
/// (before alignment padding).
pub fn decode(encoded: &[u8], max: usize) -> Result<Vec<u8>, RleError> {
    let len = decoded_len(encoded, max)?;
    let mut out = Vec::with_capacity(len);
    let mut input = encoded;
    while !input.is_empty() {
        let h = read_varint(&mut input)?;
        if h & 1 == 1 {
            let byte = if h & 2 != 0 { 0xff } else { 0 };
            out.resize(out.len() + (h >> 2) as usize, byte);
        } else {
            let (lit, rest) = input.split_at((h >> 1) as usize);
            out.extend_from_slice(lit);
            input = rest;
        }
    }
    out.resize(len, 0);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn spec_examples() {
        assert_eq!(encode(&[0xff]), [0x07]);
        assert_eq!(encode(&[0xf8]), [0x02, 0xf8]);
        assert_eq!(encode(&[0, 0, 0]), Vec::<u8>::new());
        assert_eq!(decode(&[0x07], 16), Ok(vec![0xff, 0, 0, 0]));
        assert_eq!(decode(&[0x02, 0xf8], 16), Ok(vec![0xf8, 0, 0, 0]));
    }

    #[test]
    fn huge_runs_refused_without_allocation() {
        // One repeat run of 2^37 bytes of 0xff (2^40 blocks).
        let mut enc = Vec::new();
        write_varint(&mut enc, (1u64 << 37) << 2 | 3);
        assert_eq!(
            decode(&enc, 1 << 20),
            Err(RleError::TooLarge { max: 1 << 20 })
        );
        // Many runs that each fit but sum past the bound.
        let mut enc = Vec::new();
        for _ in 0..1000 {
            write_varint(&mut enc, (1u64 << 20) << 2 | 1);
        }
        assert!(matches!(
            decode(&enc, 1 << 24),
            Err(RleError::TooLarge { .. })
        ));
        // A literal run past the end.
        assert_eq!(
            decode(&[0x08, 1, 2], 100),
            Err(RleError::Truncated { offset: 1, len: 4 })
        );
        assert!(matches!(decode(&[0x80], 100), Err(RleError::Varint(_))));
    }

    proptest! {
        #[test]
        fn round_trip(bits in proptest::collection::vec(
            prop_oneof![Just(0u8), Just(0xffu8), any::<u8>()], 0..600)) {
            let enc = encode(&bits);
            let dec = decode(&enc, bits.len()).unwrap();
            let trimmed = bits.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
            prop_assert_eq!(&dec[..trimmed], &bits[..trimmed]);
            prop_assert!(dec[trimmed..].iter().all(|&b| b == 0));
            prop_assert_eq!(dec.len() % ALIGN, 0);
        }

        #[test]
        fn runs_rebuild_the_decoded_bytes(enc in proptest::collection::vec(any::<u8>(), 0..64)) {
            let mut out = Vec::new();
            let mut err = None;
            for run in runs(&enc) {
                match run {
                    Ok(Run::Repeat { ones, len }) if len < 4096 => {
                        out.resize(out.len() + len as usize, if ones { 0xff } else { 0 });
                    }
                    Ok(Run::Repeat { .. }) => return Ok(()), // too large to rebuild here
                    Ok(Run::Literal(bytes)) => out.extend_from_slice(bytes),
                    Err(e) => err = Some(e),
                }
            }
            match decode(&enc, 1 << 20) {
                Ok(d) => {
                    prop_assert_eq!(err, None);
                    out.resize(d.len(), 0);
                    prop_assert_eq!(out, d);
                }
                Err(e) => prop_assert_eq!(err, Some(e)),
            }
        }

        #[test]
        fn decode_never_panics(enc in proptest::collection::vec(any::<u8>(), 0..64)) {
            if let Ok(d) = decode(&enc, 4096) {
                prop_assert!(d.len() <= 4096);
            }
        }
    }
}
