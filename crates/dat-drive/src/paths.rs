//! append-tree's `paths` directory index (DAT-SPEC §5.4): for an entry at sequence `s` whose
//! name has `k` components, `k + 1` levels; level `i` lists one sequence number per child of
//! the `i`-th ancestor directory (the newest entry under that child), ascending.
//!
//! Encoding: a flag byte (bit 0: every level ends with `s`, which is then not stored), then
//! per level a varint count followed by delta-encoded varints.

use dat_core::protobuf::{DecodeError, read_varint, varint_len, write_varint};

use crate::error::PathsError;
use crate::limits::MAX_DEPTH;

/// The decoded index of one entry: `levels[i]` with the entry's own sequence included.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Paths {
    /// One ascending list of sequence numbers per level.
    pub levels: Vec<Vec<u64>>,
}

impl Paths {
    /// Encode for the entry at `seq` exactly as append-tree `_deflate` does.
    pub fn encode(&self, seq: u64) -> Vec<u8> {
        let ends_with_seq = self.levels.iter().all(|l| l.last() == Some(&seq));
        let stored = |l: &Vec<u64>| if ends_with_seq { l.len() - 1 } else { l.len() };
        let len = 1 + self
            .levels
            .iter()
            .map(|l| varint_len(stored(l) as u64) + 5 * stored(l))
            .sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.push(u8::from(ends_with_seq));
        for level in &self.levels {
            let n = stored(level);
            write_varint(&mut out, n as u64);
            let mut prev = 0;
            for &s in &level[..n] {
                match s.wrapping_sub(prev) {
                    // Siblings are mostly consecutive: one-byte deltas, written directly.
                    d @ 0..0x80 => out.push(d as u8),
                    d => write_varint(&mut out, d),
                }
                prev = s;
            }
        }
        out
    }

    /// Decode the index of the entry at `seq` (append-tree `_inflate`), bounded: at most
    /// `MAX_DEPTH + 1` levels, counts no larger than the bytes left, sums without overflow,
    /// and every stored sequence at most `seq` (an entry can only index older ones, and a deletion
    /// stores its own sequence explicitly).
    pub fn decode(seq: u64, bytes: &[u8]) -> Result<Self, PathsError> {
        let mut input = bytes;
        let flags = read_varint(&mut input).map_err(varint_error)?;
        if flags > 1 {
            return Err(PathsError::BadFlags { flags });
        }
        let ends_with_seq = flags == 1;
        let mut levels = Vec::new();
        while !input.is_empty() {
            let level = levels.len();
            if level > MAX_DEPTH {
                return Err(PathsError::TooManyLevels { levels: level + 1 });
            }
            let count = read_varint(&mut input).map_err(varint_error)?;
            if count > input.len() as u64 {
                return Err(PathsError::CountTooLarge { level, count });
            }
            let mut seqs = Vec::with_capacity(count as usize + usize::from(ends_with_seq));
            let mut prev = 0u64;
            for _ in 0..count {
                let delta = read_varint(&mut input).map_err(varint_error)?;
                let s = prev
                    .checked_add(delta)
                    .ok_or(PathsError::SeqOverflow { level })?;
                if s > seq {
                    return Err(PathsError::ForwardReference { level, seq: s });
                }
                seqs.push(s);
                prev = s;
            }
            if ends_with_seq {
                seqs.push(seq);
            }
            levels.push(seqs);
        }
        Ok(Self { levels })
    }

    /// Level `i`, if the entry has it.
    pub fn level(&self, i: usize) -> Option<&[u64]> {
        self.levels.get(i).map(Vec::as_slice)
    }
}

fn varint_error(e: DecodeError) -> PathsError {
    match e {
        DecodeError::VarintOverflow => PathsError::VarintOverflow,
        _ => PathsError::Truncated,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(v: &[&[u64]]) -> Paths {
        Paths {
            levels: v.iter().map(|l| l.to_vec()).collect(),
        }
    }

    #[test]
    fn spec_examples() {
        // DAT-SPEC §5.7: (seq, raw, decoded levels)
        let cases: [(u64, &str, &[&[u64]]); 7] = [
            (1, "010000", &[&[1], &[1]]),
            (2, "0101010000", &[&[1, 2], &[2], &[2]]),
            (3, "010101010200", &[&[1, 3], &[2, 3], &[3]]),
            (4, "000201030103", &[&[1, 4], &[3]]),
            (5, "01010400", &[&[4, 5], &[5]]),
            (6, "0102040100", &[&[4, 5, 6], &[6]]),
            (7, "00020501", &[&[5, 6]]),
        ];
        for (seq, raw, decoded) in cases {
            let bytes = hex::decode(raw).unwrap();
            let paths = Paths::decode(seq, &bytes).unwrap();
            assert_eq!(paths, levels(decoded), "seq {seq}");
            assert_eq!(hex::encode(paths.encode(seq)), raw, "seq {seq}");
        }
    }

    #[test]
    fn hostile_paths() {
        assert_eq!(Paths::decode(5, &[]), Err(PathsError::Truncated));
        assert_eq!(
            Paths::decode(5, &[2]),
            Err(PathsError::BadFlags { flags: 2 })
        );
        assert_eq!(
            Paths::decode(5, &[1, 3, 1]),
            Err(PathsError::CountTooLarge { level: 0, count: 3 })
        );
        assert_eq!(
            Paths::decode(5, &[1, 0xff, 0xff, 0xff, 0xff, 0x0f]),
            Err(PathsError::CountTooLarge {
                level: 0,
                count: 0xffff_ffff
            })
        );
        assert_eq!(Paths::decode(5, &[1, 1, 0x80]), Err(PathsError::Truncated));
        let mut overflow = vec![1, 2];
        overflow.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        overflow.extend_from_slice(&[0x02]);
        assert_eq!(
            Paths::decode(u64::MAX, &overflow),
            Err(PathsError::SeqOverflow { level: 0 })
        );
        assert_eq!(
            Paths::decode(5, &[1, 1, 6]),
            Err(PathsError::ForwardReference { level: 0, seq: 6 })
        );
        let mut deep = vec![1];
        deep.extend(std::iter::repeat_n(0u8, MAX_DEPTH + 2));
        assert_eq!(
            Paths::decode(5, &deep),
            Err(PathsError::TooManyLevels {
                levels: MAX_DEPTH + 2
            })
        );
        let mut varint = vec![1];
        varint.extend_from_slice(&[0xff; 11]);
        assert_eq!(Paths::decode(5, &varint), Err(PathsError::VarintOverflow));
    }
}
