//! BLAKE2b-256 (unkeyed, RFC 7693) of up to eight messages at once, one per 64-bit lane of
//! a 512-bit vector (four or fewer in a 256-bit one).
//!
//! Written in portable Rust over `[u64; N]` lanes, with no `unsafe` and no intrinsics; the
//! `multiversion` crate compiles it for AVX-512 (where each rotation is one `vprorq` and the
//! sixteen state vectors stay in registers) and the caller uses it only on CPUs that have
//! AVX-512 ([`available`]); elsewhere `blake2b_simd`'s 4-lane AVX2 kernel is faster. Messages
//! of different lengths share the lanes: a lane whose message has ended keeps its state while
//! the others go on.

use multiversion::multiversion;

/// Messages hashed at once.
pub(crate) const LANES: usize = 8;
/// Lanes of the narrow kernel, for a few short messages (a hashing unit's upper parents):
/// 256-bit vectors, which CPUs that split 512-bit operations in two (Zen 4) run twice as
/// often, so four messages cost about half of eight instead of the same.
const NARROW: usize = 4;
pub(crate) const BLOCK: usize = 128;
/// A leaf's prefix (type byte and big-endian length), the head of every leaf's message.
const LEAF_PREFIX: usize = 9;

type Lanes<const N: usize> = [u64; N];

const IV: [u64; 8] = [
    0x6a09e667f3bcc908,
    0xbb67ae8584caa73b,
    0x3c6ef372fe94f82b,
    0xa54ff53a5f1d36f1,
    0x510e527fade682d1,
    0x9b05688c2b3e6c1f,
    0x1f83d9abfb41bd6b,
    0x5be0cd19137e2179,
];

const SIGMA: [[usize; 16]; 12] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
];

/// Whether this CPU runs the AVX-512 copy.
pub(crate) fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512vl")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A message given in two parts, hashed as their concatenation without joining them: a leaf
/// is its 9-byte prefix and the caller's block, which is hashed where it lies.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Message<'a> {
    /// At most one block ([`BLOCK`] bytes) that comes first.
    pub head: &'a [u8],
    /// The rest.
    pub body: &'a [u8],
}

impl<'a> Message<'a> {
    /// A message in one piece.
    pub(crate) fn whole(bytes: &'a [u8]) -> Self {
        Self {
            head: &[],
            body: bytes,
        }
    }

    fn len(&self) -> usize {
        self.head.len() + self.body.len()
    }

    /// Block `b` when it lies wholly in the body (the caller keeps to blocks before the
    /// message's padded last one).
    fn body_block(&self, b: usize) -> Option<&'a [u8; BLOCK]> {
        let from = (b * BLOCK).checked_sub(self.head.len())?;
        self.body.get(from..from + BLOCK)?.try_into().ok()
    }

    /// Block `b` copied into `buf`, zero padded.
    fn copy_block(&self, b: usize, buf: &mut [u8; BLOCK]) {
        // A leaf's first block: its 9-byte prefix and the first bytes of its body, in two
        // copies of fixed length that compile to a few moves instead of `memcpy` calls.
        if b == 0
            && let (Ok(head), Some(body)) = (
                <&[u8; LEAF_PREFIX]>::try_from(self.head),
                self.body.first_chunk::<{ BLOCK - LEAF_PREFIX }>(),
            )
        {
            buf[..LEAF_PREFIX].copy_from_slice(head);
            buf[LEAF_PREFIX..].copy_from_slice(body);
            return;
        }
        let (from, to) = (b * BLOCK, (b + 1) * BLOCK);
        // Zeroing the whole block first is two vector stores; zeroing just its tail was a
        // `memset` call.
        *buf = [0; BLOCK];
        let mut at = 0;
        let h = self.head.len();
        if from < h {
            let part = &self.head[from..to.min(h)];
            buf[..part.len()].copy_from_slice(part);
            at = part.len();
        }
        let body_from = (from + at).saturating_sub(h).min(self.body.len());
        let body_to = to.saturating_sub(h).min(self.body.len());
        let part = &self.body[body_from..body_to];
        buf[at..at + part.len()].copy_from_slice(part);
    }
}

/// The BLAKE2b-256 digests of `messages` (at most [`LANES`]) into `out`.
pub(crate) fn hash_many(messages: &[Message<'_>], out: &mut [[u8; 32]]) {
    assert!(messages.len() <= LANES && messages.len() == out.len());
    assert!(messages.iter().all(|m| m.head.len() <= BLOCK));
    if messages.len() <= NARROW {
        hash_in::<NARROW>(messages, out, compress_narrow);
    } else {
        hash_in::<LANES>(messages, out, compress);
    }
}

/// The BLAKE2b-256 digests of messages of at most one block each (at most [`LANES`]), given
/// as their bytes zero-padded to a block and their lengths: one compression, with none of
/// [`hash_many`]'s copying into padded blocks. Parents (73 bytes) are hashed this way.
pub(crate) fn hash_blocks(blocks: &[[u8; BLOCK]], lens: &[usize], out: &mut [[u8; 32]]) {
    let n = blocks.len();
    assert!(n <= LANES && lens.len() == n && out.len() == n);
    assert!(lens.iter().all(|&len| len <= BLOCK));
    if n <= NARROW {
        blocks_in::<NARROW>(blocks, lens, out, compress_narrow);
    } else {
        blocks_in::<LANES>(blocks, lens, out, compress);
    }
}

fn blocks_in<const N: usize>(
    blocks: &[[u8; BLOCK]],
    lens: &[usize],
    out: &mut [[u8; 32]],
    compress: Compress<N>,
) {
    let (Some(first), Some(&first_len)) = (blocks.first(), lens.first()) else {
        return;
    };
    // Unused lanes hash the first message again, and are ignored.
    let words: [&[u8; BLOCK]; N] = std::array::from_fn(|l| blocks.get(l).unwrap_or(first));
    let lens: [usize; N] = std::array::from_fn(|l| lens.get(l).copied().unwrap_or(first_len));
    let mut h = initial_state::<N>();
    compress(&mut h, &words, 0, &lens, &[1; N]);
    write_digests(&h, out);
}

/// The first lanes' digests (the first 32 bytes of their final states) into `out`.
fn write_digests<const N: usize>(h: &[Lanes<N>; 8], out: &mut [[u8; 32]]) {
    for (l, digest) in out.iter_mut().enumerate() {
        for (i, word) in digest.chunks_exact_mut(8).enumerate() {
            word.copy_from_slice(&h[i][l].to_le_bytes());
        }
    }
}

/// The chaining state before the first block: the IV mixed with the parameter block
/// (digest length 32, no key, fanout 1, depth 1).
fn initial_state<const N: usize>() -> [Lanes<N>; 8] {
    let mut h: [Lanes<N>; 8] = std::array::from_fn(|i| [IV[i]; N]);
    for x in &mut h[0] {
        *x ^= 0x0101_0020;
    }
    h
}

/// A compression of every lane of `N` (see [`compress`]).
type Compress<const N: usize> =
    fn(&mut [Lanes<N>; 8], &[&[u8; BLOCK]; N], usize, &[usize; N], &[usize; N]);

fn hash_in<const N: usize>(messages: &[Message<'_>], out: &mut [[u8; 32]], compress: Compress<N>) {
    let Some(&first) = messages.first() else {
        return;
    };
    // Unused lanes hash the first message again (and are ignored), so that every lane has
    // whole blocks whenever the messages do.
    let mut lanes: [Message<'_>; N] = [first; N];
    lanes[..messages.len()].copy_from_slice(messages);
    let mut digests = [[0u8; 32]; N];
    hash_lanes(&lanes, &mut digests, compress);
    out.copy_from_slice(&digests[..messages.len()]);
}

#[inline(always)]
fn hash_lanes<const N: usize>(
    lanes: &[Message<'_>; N],
    out: &mut [[u8; 32]; N],
    compress: Compress<N>,
) {
    let lens: [usize; N] = std::array::from_fn(|l| lanes[l].len());
    // Blocks per message: an empty message still has one (all zero) block.
    let blocks: [usize; N] = std::array::from_fn(|l| lens[l].div_ceil(BLOCK).max(1));
    let most = blocks.iter().copied().max().unwrap_or(0);
    let mut h = initial_state::<N>();
    let mut buf = [[0u8; BLOCK]; N];
    // The blocks that lie wholly in every lane's body, and are not its padded last one: from
    // the first block past the longest head to the last block before the shortest end.
    let in_body_from = lanes
        .iter()
        .map(|m| m.head.len().div_ceil(BLOCK))
        .max()
        .unwrap_or(0);
    let in_body_to = lens
        .iter()
        .map(|&len| len.saturating_sub(1) / BLOCK)
        .min()
        .unwrap_or(0);
    // No software prefetch: the lanes read eight streams, which the hardware prefetcher
    // follows well enough. Prefetching two blocks ahead in each lane made a unit of sixteen
    // 1 KiB leaves 4% slower from cache and 7% slower from memory, and 64 KiB leaves from
    // memory 5% slower (`unit_speed`, `speed`).
    for b in 0..most {
        // Blocks inside every body are read where they lie; otherwise (the first, behind the
        // heads, and the padded last) every lane's block is copied. A choice per lane would
        // be fewer copies, but the compiler then stops vectorizing `compress` (3× slower).
        if (in_body_from..in_body_to).contains(&b) {
            let words: [&[u8; BLOCK]; N] =
                std::array::from_fn(|l| lanes[l].body_block(b).unwrap_or(&[0; BLOCK]));
            compress(&mut h, &words, b, &lens, &blocks);
        } else {
            for (m, buf) in lanes.iter().zip(buf.iter_mut()) {
                m.copy_block(b, buf);
            }
            let words: [&[u8; BLOCK]; N] = std::array::from_fn(|l| &buf[l]);
            compress(&mut h, &words, b, &lens, &blocks);
        }
    }
    write_digests(&h, out);
}

/// One compression in every lane: the loop over lanes has a scalar body (sixteen state words
/// in locals), which the compiler turns into vector instructions across the lanes. It is
/// compiled on its own, for AVX-512: inlined into the loop over blocks, whether the compiler
/// vectorized it depended on how that loop found each block.
#[multiversion(targets("x86_64+avx512f+avx512vl"))]
fn compress(
    h: &mut [Lanes<LANES>; 8],
    words: &[&[u8; BLOCK]; LANES],
    b: usize,
    lens: &[usize; LANES],
    blocks: &[usize; LANES],
) {
    compress_lanes(h, words, b, lens, blocks);
}

/// [`compress`] in [`NARROW`] lanes, compiled on its own for the same reason.
#[multiversion(targets("x86_64+avx512f+avx512vl"))]
fn compress_narrow(
    h: &mut [Lanes<NARROW>; 8],
    words: &[&[u8; BLOCK]; NARROW],
    b: usize,
    lens: &[usize; NARROW],
    blocks: &[usize; NARROW],
) {
    compress_lanes(h, words, b, lens, blocks);
}

#[inline(always)]
fn compress_lanes<const N: usize>(
    h: &mut [Lanes<N>; 8],
    words: &[&[u8; BLOCK]; N],
    b: usize,
    lens: &[usize; N],
    blocks: &[usize; N],
) {
    let mt = transpose(words);
    let end = (b + 1) * BLOCK;
    let counter: Lanes<N> = std::array::from_fn(|l| end.min(lens[l]) as u64);
    let last: Lanes<N> = std::array::from_fn(|l| if b + 1 == blocks[l] { u64::MAX } else { 0 });
    let active: [bool; N] = std::array::from_fn(|l| b < blocks[l]);
    for l in 0..N {
        let m: [u64; 16] = std::array::from_fn(|w| mt[w][l]);
        let mut v: [u64; 16] = [
            h[0][l],
            h[1][l],
            h[2][l],
            h[3][l],
            h[4][l],
            h[5][l],
            h[6][l],
            h[7][l],
            IV[0],
            IV[1],
            IV[2],
            IV[3],
            IV[4] ^ counter[l],
            IV[5],
            IV[6] ^ last[l],
            IV[7],
        ];
        macro_rules! rounds {
            ($($r:literal)*) => {$(
                let s = &SIGMA[$r];
                g(&mut v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
                g(&mut v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
                g(&mut v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
                g(&mut v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
                g(&mut v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
                g(&mut v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
                g(&mut v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
                g(&mut v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
            )*};
        }
        rounds!(0 1 2 3 4 5 6 7 8 9 10 11);
        for i in 0..8 {
            let next = h[i][l] ^ v[i] ^ v[i + 8];
            h[i][l] = if active[l] { next } else { h[i][l] };
        }
    }
}

/// The lanes' message words, word-major: `[w][l]` is word `w` of lane `l`, so the rounds
/// read each word of all lanes with one vector load.
#[inline(always)]
fn transpose<const N: usize>(words: &[&[u8; BLOCK]; N]) -> [Lanes<N>; 16] {
    let mut mt = [[0u64; N]; 16];
    for (l, block) in words.iter().enumerate() {
        for (w, word) in block.chunks_exact(8).enumerate() {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(word);
            mt[w][l] = u64::from_le_bytes(bytes);
        }
    }
    mt
}

#[inline(always)]
fn g(v: &mut [u64; 16], a: usize, b: usize, c: usize, d: usize, x: u64, y: u64) {
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(x);
    v[d] = (v[d] ^ v[a]).rotate_right(32);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(24);
    v[a] = v[a].wrapping_add(v[b]).wrapping_add(y);
    v[d] = (v[d] ^ v[a]).rotate_right(16);
    v[c] = v[c].wrapping_add(v[d]);
    v[b] = (v[b] ^ v[c]).rotate_right(63);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(m: &[u8]) -> [u8; 32] {
        let mut p = blake2b_simd::Params::new();
        p.hash_length(32);
        let mut out = [0u8; 32];
        out.copy_from_slice(p.hash(m).as_bytes());
        out
    }

    #[test]
    fn one_block_messages_match_blake2b_simd() {
        let bytes: Vec<u8> = (0..8 * BLOCK).map(|i| (i * 29 + 3) as u8).collect();
        for n in 1..=LANES {
            for first in [0usize, 1, 9, 73, 127, 128] {
                let lens: Vec<usize> = (0..n).map(|l| (first + 37 * l) % (BLOCK + 1)).collect();
                let blocks: Vec<[u8; BLOCK]> = lens
                    .iter()
                    .enumerate()
                    .map(|(l, &len)| {
                        let mut block = [0u8; BLOCK];
                        block[..len].copy_from_slice(&bytes[l * BLOCK..l * BLOCK + len]);
                        block
                    })
                    .collect();
                let mut out = vec![[0u8; 32]; n];
                hash_blocks(&blocks, &lens, &mut out);
                for (l, &len) in lens.iter().enumerate() {
                    let want = reference(&bytes[l * BLOCK..l * BLOCK + len]);
                    assert_eq!(out[l], want, "{n} messages, lane {l} of {len} bytes");
                }
            }
        }
    }

    #[test]
    fn matches_blake2b_simd_for_every_length_mix() {
        let lens = [0usize, 1, 73, 127, 128, 129, 255, 256, 1033, 4096, 65545];
        let data: Vec<u8> = (0..70_000u32).map(|i| (i * 7 + i / 251) as u8).collect();
        for n in 0..=LANES {
            for shift in 0..lens.len() {
                let msgs: Vec<&[u8]> = (0..n)
                    .map(|k| {
                        let len = lens[(k + shift) % lens.len()];
                        &data[k..k + len]
                    })
                    .collect();
                // Whole, and cut into a head and a body at every interesting place.
                for cut in [0usize, 1, 9, 119, 127, 128] {
                    let parts: Vec<Message<'_>> = msgs
                        .iter()
                        .map(|m| {
                            let at = cut.min(m.len());
                            Message {
                                head: &m[..at],
                                body: &m[at..],
                            }
                        })
                        .collect();
                    let mut out = vec![[0u8; 32]; n];
                    hash_many(&parts, &mut out);
                    for (m, h) in msgs.iter().zip(&out) {
                        assert_eq!(*h, reference(m), "len {} cut {cut}", m.len());
                    }
                }
            }
        }
    }

    /// Where a group of eight 1 KiB leaves spends its time: `cargo test --release -p dat-core
    /// --lib lanes_overhead -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn lanes_overhead() {
        let data: Vec<u8> = (0..8 * 1024u32).map(|i| (i * 13) as u8).collect();
        let prefix = [0u8, 0, 0, 0, 0, 0, 0, 4, 0];
        let msgs: Vec<Message<'_>> = data
            .chunks_exact(1024)
            .map(|b| Message {
                head: &prefix,
                body: b,
            })
            .collect();
        let best = |f: &mut dyn FnMut()| crate::speed::best_ns(2000, f);
        let mut out = [[0u8; 32]; 8];
        let many = best(&mut || {
            hash_many(std::hint::black_box(&msgs), &mut out);
            std::hint::black_box(&out);
        });
        let blocks: Vec<[u8; BLOCK]> = data[..BLOCK * 8]
            .chunks_exact(BLOCK)
            .map(|b| b.try_into().unwrap_or([0; BLOCK]))
            .collect();
        let words: [&[u8; BLOCK]; LANES] = std::array::from_fn(|l| &blocks[l]);
        let lens = [1033usize; LANES];
        let counts = [9usize; LANES];
        let kernel = best(&mut || {
            let mut h = initial_state::<LANES>();
            for b in 0..9 {
                compress(&mut h, std::hint::black_box(&words), b, &lens, &counts);
            }
            std::hint::black_box(&h);
        });
        eprintln!(
            "8 leaves of 1 KiB: hash_many {many:.0} ns, its 9 compressions alone {kernel:.0} ns"
        );
    }

    /// Time against blake2b_simd: `cargo test --release -p dat-core blake2b_lanes -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore]
    fn speed() {
        let data: Vec<u8> = (0..8 * 1033u32).map(|i| (i * 13) as u8).collect();
        let msgs: Vec<&[u8]> = data.chunks_exact(1033).collect();
        let whole: Vec<Message<'_>> = msgs.iter().map(|m| Message::whole(m)).collect();
        let rounds = 50_000;
        let t = std::time::Instant::now();
        let mut out = vec![[0u8; 32]; 8];
        for _ in 0..rounds {
            hash_many(std::hint::black_box(&whole), &mut out);
        }
        let lanes = t.elapsed();
        let prefix = [0u8, 0, 0, 0, 0, 0, 0, 4, 0];
        let split: Vec<Message<'_>> = data
            .chunks_exact(1033)
            .map(|m| Message {
                head: &prefix,
                body: &m[..1024],
            })
            .collect();
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            hash_many(std::hint::black_box(&split), &mut out);
        }
        let split = t.elapsed();
        // From memory far out of cache: a 64 MiB pool, walked once per pass.
        let pool: Vec<u8> = (0..64u32 << 20).map(|i| (i * 13) as u8).collect();
        let blocks: Vec<&[u8]> = pool.chunks_exact(1024).collect();
        let t = std::time::Instant::now();
        let mut cold_leaves = 0;
        for group in blocks.chunks_exact(8).cycle().take(rounds) {
            let msgs: Vec<Message<'_>> = group
                .iter()
                .map(|b| Message {
                    head: &prefix,
                    body: b,
                })
                .collect();
            hash_many(std::hint::black_box(&msgs), &mut out);
            cold_leaves += 8;
        }
        let cold = t.elapsed().as_secs_f64() * 1e9 / cold_leaves as f64;
        let mut p = blake2b_simd::Params::new();
        p.hash_length(32);
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            let mut jobs: Vec<_> = std::hint::black_box(&msgs)
                .iter()
                .map(|m| blake2b_simd::many::HashManyJob::new(&p, m))
                .collect();
            blake2b_simd::many::hash_many(jobs.iter_mut());
            std::hint::black_box(jobs[0].to_hash());
        }
        let simd = t.elapsed();
        let per = |d: std::time::Duration| d.as_secs_f64() * 1e9 / (rounds * 8) as f64;
        eprintln!(
            "available {}: lanes {:.0} ns/leaf, prefix apart {:.0} ns/leaf, from DRAM {cold:.0} ns/leaf, blake2b_simd {:.0} ns/leaf",
            available(),
            per(lanes),
            per(split),
            per(simd)
        );
    }
}
