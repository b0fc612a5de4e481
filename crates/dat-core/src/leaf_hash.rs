//! Leaf hashes `H(0x00 || u64be(len) || block)` of many blocks at once.
//!
//! BLAKE2b is the dominant cost of an append, so leaves are hashed in SIMD lanes. Where the
//! CPU has AVX-512, groups of five to eight blocks of similar size go through the 8-lane
//! kernel of [`crate::blake2b_lanes`], which takes the 9-byte prefix and the block as two
//! parts and reads the block where it lies (~20% faster per leaf than the 4-lane AVX2 kernel
//! here, and no copy). Elsewhere the 4-lane kernel of `blake2b_simd::many` is used; it needs
//! each preimage contiguous, and the prefix shifts every block off the 128-byte block grid,
//! so `update_many` would hash the first and last block of every leaf one lane at a time
//! (for 1 KiB blocks, 2 of 9 compressions at a third of the speed). So small blocks are
//! copied, a few at a time (the copy stays in L1), behind their prefix and hashed whole with
//! `hash_many`; large blocks, where two single-lane compressions are noise, are hashed in
//! place.

use blake2b_simd::Params;
use blake2b_simd::many::{HashManyJob, hash_many, update_many};

use crate::blake2b_lanes::{self, BLOCK, LANES, Message};
use crate::crypto::Hash;

/// Blocks up to this size are copied behind their prefix and hashed whole in SIMD lanes.
const COPY_MAX: usize = 16 * 1024;
/// Leaves hashed per `hash_many` call: two rounds of the 4-lane kernel.
const GROUP: usize = 8;
/// Bytes of the leaf prefix: the type byte and the length.
const PREFIX: usize = 9;
/// Bytes of a parent preimage: type, size, left hash, right hash.
pub(crate) const PARENT_PREIMAGE: usize = 1 + 8 + 32 + 32;

/// The prefix of a leaf preimage: `0x00 || u64be(len)`.
pub(crate) fn leaf_prefix(len: u64) -> [u8; PREFIX] {
    let mut prefix = [0u8; PREFIX];
    prefix[1..].copy_from_slice(&len.to_be_bytes());
    prefix
}

/// A parent preimage: `0x01 || u64be(size) || left || right`.
pub(crate) fn parent_preimage(size: u64, left: &Hash, right: &Hash) -> [u8; PARENT_PREIMAGE] {
    let mut p = [0u8; PARENT_PREIMAGE];
    p[0] = 1;
    p[1..9].copy_from_slice(&size.to_be_bytes());
    p[9..41].copy_from_slice(&left.0);
    p[41..].copy_from_slice(&right.0);
    p
}

/// A parent preimage zero-padded to one BLAKE2b block, for [`hash_parent_blocks`]: building
/// it in place saves copying the preimage into a padded block again for the lanes.
pub(crate) fn parent_block(size: u64, left: &Hash, right: &Hash) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    block[..PARENT_PREIMAGE].copy_from_slice(&parent_preimage(size, left, right));
    block
}

/// The hashes of parents given as [`parent_block`]s (at most [`LANES`]): one compression in
/// SIMD lanes where the CPU has AVX-512 (eight parents 300 ns, against 380 through
/// [`hash_preimages`]), else as [`hash_preimages`] does.
pub(crate) fn hash_parent_blocks(blocks: &[[u8; BLOCK]], out: &mut [Hash]) {
    let n = blocks.len();
    debug_assert!(n <= LANES && out.len() == n);
    if n >= 2 && blake2b_lanes::available() {
        let mut digests = [[0u8; 32]; LANES];
        blake2b_lanes::hash_blocks(blocks, &[PARENT_PREIMAGE; LANES][..n], &mut digests[..n]);
        to_hashes(&digests, out);
        return;
    }
    let preimages: [&[u8]; LANES] =
        std::array::from_fn(|k| blocks.get(k).map_or(&[][..], |b| &b[..PARENT_PREIMAGE]));
    hash_preimages(&preimages[..n], out);
}

/// The BLAKE2b-256 hashes of whole preimages (at most [`GROUP`]), in SIMD lanes: two or more
/// in [`blake2b_lanes`] where the CPU has AVX-512 (up to four in its 256-bit kernel: four
/// parents 270 ns there against 424 in `blake2b_simd`'s), else in `blake2b_simd`'s.
pub(crate) fn hash_preimages(preimages: &[&[u8]], out: &mut [Hash]) {
    debug_assert!(preimages.len() <= GROUP && preimages.len() == out.len());
    if preimages.len() >= 2 && blake2b_lanes::available() {
        let mut messages = [Message::default(); LANES];
        for (m, p) in messages.iter_mut().zip(preimages) {
            *m = Message::whole(p);
        }
        hash_messages(&messages[..preimages.len()], out);
        return;
    }
    let params = params();
    if preimages.len() <= 2 {
        // One or two short messages: lanes cost more to set up than they save (a parent
        // measured 130 ns alone, 260 ns through `hash_many`).
        for (h, p) in out.iter_mut().zip(preimages) {
            *h = to_hash(params.hash(p).as_bytes());
        }
        return;
    }
    let mut jobs: [Option<HashManyJob<'_>>; GROUP] =
        std::array::from_fn(|k| preimages.get(k).map(|p| HashManyJob::new(&params, p)));
    hash_many(jobs.iter_mut().flatten());
    for (h, job) in out.iter_mut().zip(jobs.iter().flatten()) {
        *h = to_hash(job.to_hash().as_bytes());
    }
}

/// At most [`LANES`] messages through the 8-lane kernel.
fn hash_messages(messages: &[Message<'_>], out: &mut [Hash]) {
    let mut digests = [[0u8; 32]; LANES];
    let n = messages.len();
    blake2b_lanes::hash_many(messages, &mut digests[..n]);
    to_hashes(&digests, out);
}

/// Lane digests into the hashes they are, as many as `out` takes.
fn to_hashes(digests: &[[u8; 32]], out: &mut [Hash]) {
    for (h, d) in out.iter_mut().zip(digests) {
        *h = Hash(*d);
    }
}

/// How many of the first blocks (at most [`LANES`]) hash well together in lanes: the lanes
/// run until the longest message ends, so a group keeps to blocks of similar length (within
/// twice the shortest, in 128-byte compressions).
fn lane_group(blocks: &[&[u8]]) -> usize {
    let compressions = |b: &[u8]| (b.len() + PREFIX).div_ceil(128);
    let Some(first) = blocks.first() else {
        return 0;
    };
    let (mut least, mut most) = (compressions(first), compressions(first));
    let mut n = 1;
    for b in blocks.iter().take(LANES).skip(1) {
        let c = compressions(b);
        let (l, m) = (least.min(c), most.max(c));
        if m > 2 * l + 1 {
            break;
        }
        (least, most) = (l, m);
        n += 1;
    }
    n
}

/// Leaf hashes of at most [`LANES`] blocks in [`blake2b_lanes`] (four or fewer in its 256-bit
/// kernel, which hashes four 64 KiB blocks a quarter faster than `blake2b_simd`), each block
/// hashed where it lies behind its prefix.
fn hash_leaf_lanes(blocks: &[&[u8]], out: &mut [Hash]) {
    let prefixes: [[u8; PREFIX]; LANES] =
        std::array::from_fn(|k| leaf_prefix(blocks.get(k).map_or(0, |b| b.len() as u64)));
    let mut messages = [Message::default(); LANES];
    for ((m, prefix), block) in messages.iter_mut().zip(&prefixes).zip(blocks) {
        *m = Message {
            head: prefix,
            body: block,
        };
    }
    hash_messages(&messages[..blocks.len()], out);
}

fn params() -> Params {
    let mut p = Params::new();
    p.hash_length(32);
    p
}

fn to_hash(bytes: &[u8]) -> Hash {
    let mut h = [0u8; 32];
    h.copy_from_slice(&bytes[..32]);
    Hash(h)
}

/// Reusable buffers for [`hash_into`].
#[derive(Default)]
pub(crate) struct LeafScratch {
    preimages: Vec<u8>,
}

/// Append the leaf hashes of `blocks`, in order, to `out`.
pub(crate) fn hash_append(blocks: &[&[u8]], out: &mut Vec<Hash>, scratch: &mut LeafScratch) {
    let at = out.len();
    out.resize(at + blocks.len(), Hash([0; 32]));
    hash_into(blocks, &mut out[at..], scratch);
}

/// The leaf hashes of `blocks` into `out` (same length).
pub(crate) fn hash_into(blocks: &[&[u8]], out: &mut [Hash], scratch: &mut LeafScratch) {
    debug_assert_eq!(blocks.len(), out.len());
    if !blake2b_lanes::available() {
        hash_without_lanes(blocks, out, scratch);
        return;
    }
    let mut i = 0;
    while i < blocks.len() {
        let n = lane_group(&blocks[i..]);
        if n >= 2 {
            hash_leaf_lanes(&blocks[i..i + n], &mut out[i..i + n]);
        } else {
            hash_without_lanes(&blocks[i..i + n], &mut out[i..i + n], scratch);
        }
        i += n;
    }
}

/// Leaf hashes in `blake2b_simd`'s kernels: small blocks copied behind their prefixes in
/// groups, large ones in place.
fn hash_without_lanes(blocks: &[&[u8]], out: &mut [Hash], scratch: &mut LeafScratch) {
    let params = params();
    let mut i = 0;
    while i < blocks.len() {
        let small = blocks[i..]
            .iter()
            .take(GROUP)
            .take_while(|b| b.len() <= COPY_MAX)
            .count();
        if small > 0 {
            let out = &mut out[i..i + small];
            hash_group(&blocks[i..i + small], out, &mut scratch.preimages);
            i += small;
            continue;
        }
        let large = blocks[i..]
            .iter()
            .position(|b| b.len() <= COPY_MAX)
            .unwrap_or(blocks.len() - i);
        hash_in_place(&params, &blocks[i..i + large], &mut out[i..i + large]);
        i += large;
    }
}

/// Up to `GROUP` small blocks: copy each behind its prefix, then hash them whole in SIMD lanes.
fn hash_group(blocks: &[&[u8]], out: &mut [Hash], buf: &mut Vec<u8>) {
    debug_assert!(blocks.len() <= GROUP);
    let mut ends = [0usize; GROUP];
    buf.clear();
    for (k, block) in blocks.iter().enumerate() {
        buf.push(0);
        buf.extend_from_slice(&(block.len() as u64).to_be_bytes());
        buf.extend_from_slice(block);
        ends[k] = buf.len();
    }
    let start = |k: usize| if k == 0 { 0 } else { ends[k - 1] };
    let n = blocks.len();
    let preimages: [&[u8]; GROUP] =
        std::array::from_fn(|k| if k < n { &buf[start(k)..ends[k]] } else { &[] });
    hash_preimages(&preimages[..n], out);
}

/// Blocks hashed from the caller's memory: the prefix goes into each state's buffer and the
/// lanes cover the body.
fn hash_in_place(params: &Params, blocks: &[&[u8]], out: &mut [Hash]) {
    let mut states: Vec<_> = blocks
        .iter()
        .map(|b| {
            let mut state = params.to_state();
            let mut prefix = [0u8; PREFIX];
            prefix[1..].copy_from_slice(&(b.len() as u64).to_be_bytes());
            state.update(&prefix);
            state
        })
        .collect();
    update_many(states.iter_mut().zip(blocks.iter()));
    for (h, state) in out.iter_mut().zip(&states) {
        *h = to_hash(state.finalize().as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::hash_leaf;

    #[test]
    fn every_size_mix_matches_single_hashing() {
        let sizes = [
            0usize, 1, 118, 119, 120, 127, 128, 1024, 1033, 4096, 16384, 16385, 70_000,
        ];
        let data: Vec<Vec<u8>> = (0..61)
            .map(|i| vec![i as u8; sizes[(i * 7) % sizes.len()]])
            .collect();
        for n in [0, 1, 7, 8, 9, 17, 61] {
            let blocks: Vec<&[u8]> = data[..n].iter().map(|v| v.as_slice()).collect();
            let mut out = vec![Hash([9; 32])];
            hash_append(&blocks, &mut out, &mut LeafScratch::default());
            assert_eq!(out.len(), n + 1);
            assert_eq!(out[0], Hash([9; 32]), "existing entries kept");
            for (b, h) in blocks.iter().zip(&out[1..]) {
                assert_eq!(*h, hash_leaf(b), "size {}", b.len());
            }
            // The kernels a CPU without AVX-512 uses.
            let mut out = vec![Hash([0; 32]); n];
            hash_without_lanes(&blocks, &mut out, &mut LeafScratch::default());
            for (b, h) in blocks.iter().zip(&out) {
                assert_eq!(*h, hash_leaf(b), "size {} without lanes", b.len());
            }
        }
    }

    #[test]
    fn lane_groups_keep_to_similar_sizes() {
        let sized = |sizes: &[usize]| -> usize {
            let data: Vec<Vec<u8>> = sizes.iter().map(|&s| vec![0; s]).collect();
            let blocks: Vec<&[u8]> = data.iter().map(|v| v.as_slice()).collect();
            lane_group(&blocks)
        };
        assert_eq!(sized(&[1024; 20]), 8);
        assert_eq!(sized(&[]), 0);
        // 1024 bytes and the prefix are 9 compressions; 2100 are 17, 2500 are 20.
        assert_eq!(sized(&[1024, 1024, 2100, 10]), 3);
        assert_eq!(sized(&[1024, 2500]), 1);
        assert_eq!(sized(&[65536, 65536, 60000, 1]), 3);
    }
}
