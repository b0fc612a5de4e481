//! Replicating one feed with one peer over a [`Session`] channel (JS hypercore
//! `lib/replicate.js` `Peer`), sans-IO (DAT-SPEC §4.6–§4.9).
//!
//! Downloader: Wants in 1 MiB-block regions, the remote bitfield from Have/Unhave, at most 16
//! Requests in flight carrying the digest, only for blocks the remote advertised; Data is
//! verified and stored by `Feed::put`. Uploader: eager `Have{length-1}` and an RLE bitfield Have
//! per Want, Data with proofs from `Feed::proof`, Have for new blocks to a peer that Wanted.
//! Anything JS would destroy the connection for is returned as a [`ReplicationError`].
//!
//! Looking for blocks to request costs work in proportion to what changed, not to what the
//! peer advertises: only the bits a Have newly sets (and a new selection) are searched, the
//! selection is skipped a range at a time, and the remote and local bitfields are compared a
//! 64-bit word at a time over the remote's held pages. A peer that advertised 32 Mi blocks
//! and then sends tiny Haves costs a few steps per message ([`Replicator::search_steps`]).

use std::borrow::Cow;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dat_core::proof::HashedBlock;
use dat_core::{Feed, FeedError, Proof, RemoteTree};

use crate::block_ranges::BlockRanges;
use crate::event::Channel;
use crate::message::{self, Data, Have, Message, Request};
use crate::remote_bitfield::{FillError, RemoteBitfield, TooLarge};
use crate::rle::{self, RleError};
use crate::session::Session;

/// Blocks per Want region (JS: 1024 * 1024).
pub const WANT_REGION: u64 = 1024 * 1024;

/// Most Wants awaiting their Have (JS: 16).
pub const MAX_INFLIGHT_WANTS: usize = 16;

/// Largest decoded Have bitfield accepted (4 MiB = 32 Mi blocks).
pub const MAX_HAVE_BITFIELD: usize = 4 * 1024 * 1024;

/// Most separate ranges still to search; past it the two closest are joined (the blocks
/// between them, searched already, are searched again: wasted but bounded work).
const MAX_SEARCH_RANGES: usize = 64;

/// Blocks skipped because another peer claimed them are tidied (the ones no longer wanted
/// dropped) when their number doubles, and at least at this many.
const MIN_DEFERRED_TIDY: usize = 64;

/// Largest block buffer kept between answers (two 64 KiB content blocks' worth).
const KEEP_BLOCK_CAPACITY: usize = 128 * 1024;

/// Blocks per page of the local bitfield fetched at a time by the search.
const LOCAL_PAGE_BITS: u64 = 8192;

/// How the replicator behaves.
#[derive(Debug, Clone)]
pub struct ReplicatorOptions {
    /// Download what the selection asks for (JS default: `!feed.writable`).
    pub download: bool,
    /// Requests in flight (JS: 16).
    pub max_requests: usize,
    /// How long a Request may stay unanswered (JS: 6 ticks ≈ 7.5 s).
    pub request_timeout: Duration,
}

impl Default for ReplicatorOptions {
    fn default() -> Self {
        Self {
            download: true,
            max_requests: 16,
            request_timeout: Duration::from_millis(7500),
        }
    }
}

/// Progress the application may want to act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplicatorEvent {
    /// A block arrived and verified; announce it to other peers with [`Replicator::announce`].
    Downloaded {
        /// Block index.
        index: u64,
    },
    /// The peer's advertised length grew.
    RemoteLength {
        /// Highest advertised block + 1.
        length: u64,
    },
    /// The peer pushed a block we did not request; it was dropped and Unhave sent (JS does the
    /// same; not fatal).
    Unrequested {
        /// Block index.
        index: u64,
    },
}

/// A peer behaved in a way JS destroys the connection for.
#[derive(Debug, thiserror::Error)]
pub enum ReplicationError {
    /// Data failed verification (wrong block, bad proof, bad signature).
    #[error("block {index} from peer failed verification: {source}")]
    Verify {
        /// Block index.
        index: u64,
        /// Why (`FeedError::Verify(..)` for proof failures).
        source: FeedError,
    },
    /// The peer requested a block we do not have (never advertised).
    #[error("peer requested block {index}, which we do not have: {source}")]
    Unavailable {
        /// Block index.
        index: u64,
        /// The feed's error.
        source: FeedError,
    },
    /// A Request went unanswered too long.
    #[error("request for block {index} timed out")]
    RequestTimeout {
        /// Block index.
        index: u64,
    },
    /// A seek (a hash Request by byte offset) went unanswered too long.
    #[error("seek to byte {bytes} timed out")]
    SeekTimeout {
        /// The byte offset asked for.
        bytes: u64,
    },
    /// A Have bitfield that does not decode or is too large.
    #[error("bad Have bitfield: {0}")]
    Bitfield(#[from] RleError),
    /// The peer claims more blocks than we track per peer.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
}

impl From<FillError> for ReplicationError {
    fn from(e: FillError) -> Self {
        match e {
            FillError::Rle(e) => Self::Bitfield(e),
            FillError::TooLarge(e) => Self::TooLarge(e),
        }
    }
}

/// Which blocks of one feed are requested from which peer. Shared by the replicators of every
/// connection that downloads the feed (clone it into each), so that with several peers each
/// block is asked of one peer only; a claim ends when the block verifies, the request is
/// cancelled, or its replicator is dropped (the connection ended).
#[derive(Debug, Clone, Default)]
pub struct Claims(Arc<Mutex<ClaimTable>>);

#[derive(Debug, Default)]
struct ClaimTable {
    next_owner: u64,
    owners: HashMap<u64, u64>,
}

impl Claims {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn table(&self) -> std::sync::MutexGuard<'_, ClaimTable> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn new_owner(&self) -> u64 {
        let mut t = self.table();
        t.next_owner += 1;
        t.next_owner
    }

    /// Claim `index` for `owner`; false if another owner holds it.
    fn claim(&self, index: u64, owner: u64) -> bool {
        *self.table().owners.entry(index).or_insert(owner) == owner
    }

    fn release(&self, index: u64, owner: u64) {
        let mut t = self.table();
        if t.owners.get(&index) == Some(&owner) {
            t.owners.remove(&index);
        }
    }

    /// Blocks currently claimed by some peer.
    pub fn len(&self) -> usize {
        self.table().owners.len()
    }

    /// Whether no block is claimed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `index` is requested from some peer.
    pub fn is_claimed(&self, index: u64) -> bool {
        self.table().owners.contains_key(&index)
    }
}

/// One feed's replication state with one peer.
#[derive(Debug)]
pub struct Replicator {
    channel: Channel,
    options: ReplicatorOptions,
    remote: RemoteBitfield,
    remote_length: u64,
    remote_want: bool,
    compat: bool,
    wants: BTreeSet<u64>,
    inflight_wants: usize,
    /// The Want regions were all sent for this selection and `(remote_length - 1) / region`.
    wants_sent_for: Option<u64>,
    /// The selection as given (its Want regions are computed per range, as JS does).
    selections: Vec<Range<u64>>,
    /// The same blocks as sorted disjoint ranges, for lookups.
    selected: BlockRanges,
    /// Blocks that may have become worth requesting (newly advertised, newly selected) and
    /// are not searched yet; the search takes them lowest first.
    unsearched: BlockRanges,
    inflight: VecDeque<(u64, Instant)>,
    remote_tree: RemoteTree,
    last_bytes: u64,
    events: VecDeque<ReplicatorEvent>,
    /// The shared claim table and our owner id in it.
    claims: Option<(Claims, u64)>,
    /// Selected blocks skipped because another peer had claimed them (or answered without
    /// their value): tried again once the search finds nothing else, since that peer may
    /// have dropped them.
    deferred: BTreeSet<u64>,
    /// Size of `deferred` at which it is next tidied.
    deferred_tidy_at: usize,
    /// Seeks (hash Requests by byte offset) in flight, answered in order.
    seeks: VecDeque<(u64, Instant)>,
    /// Pages, words, ranges and blocks the request search examined so far.
    steps: u64,
    /// The buffer blocks are read into to answer Requests.
    block: Vec<u8>,
}

impl Replicator {
    /// Replication on our channel `channel`.
    pub fn new(channel: Channel, options: ReplicatorOptions) -> Self {
        Self {
            channel,
            options,
            remote: RemoteBitfield::default(),
            remote_length: 0,
            remote_want: false,
            compat: false,
            wants: BTreeSet::new(),
            inflight_wants: 0,
            wants_sent_for: None,
            selections: Vec::new(),
            selected: BlockRanges::default(),
            unsearched: BlockRanges::default(),
            inflight: VecDeque::new(),
            remote_tree: RemoteTree::new(),
            last_bytes: 0,
            events: VecDeque::new(),
            claims: None,
            deferred: BTreeSet::new(),
            deferred_tidy_at: MIN_DEFERRED_TIDY,
            seeks: VecDeque::new(),
            steps: 0,
            block: Vec::new(),
        }
    }

    /// Coordinate requests with the other replicators sharing `claims`.
    pub fn with_claims(mut self, claims: &Claims) -> Self {
        self.claims = Some((claims.clone(), claims.new_owner()));
        self
    }

    /// Replace what to download with `ranges`. Requests in flight for blocks no longer
    /// selected are cancelled (a late answer is then refused like any unrequested block).
    /// Call [`request_more`](Self::request_more) afterwards.
    pub fn set_selection(&mut self, session: &mut Session, ranges: Vec<Range<u64>>) {
        self.selected = BlockRanges::new(ranges.iter().cloned());
        self.unsearched.clear();
        if let Some(first) = self.selected.first() {
            self.unsearched.insert(first.start..u64::MAX);
        }
        self.selections = ranges;
        self.wants_sent_for = None;
        self.deferred.clear();
        let mut kept = VecDeque::with_capacity(self.inflight.len());
        for (index, deadline) in std::mem::take(&mut self.inflight) {
            if self.selected(index) {
                kept.push_back((index, deadline));
                continue;
            }
            self.release(index);
            let cancel = Request {
                index,
                bytes: 0,
                hash: false,
                nodes: 0,
            };
            self.send(session, &Message::Cancel(cancel));
        }
        self.inflight = kept;
    }

    /// Send Wants and fill the request window (after a selection changed, another peer let
    /// a claim go, or a block arrived through another connection).
    pub fn request_more(&mut self, now: Instant, session: &mut Session, feed: &Feed) {
        self.send_wants(session);
        self.update(now, session, feed);
    }

    /// Ask for the block holding content byte `bytes` as a hash-only answer (JS `seek` on a
    /// sparse feed): the proof stores the tree nodes `Feed::seek` needs for that offset.
    pub fn seek(&mut self, now: Instant, session: &mut Session, bytes: u64) {
        let request = Request {
            index: 0,
            bytes,
            hash: true,
            nodes: 0,
        };
        self.seeks
            .push_back((bytes, now + self.options.request_timeout));
        self.send(session, &Message::Request(request));
    }

    /// Seeks sent and not yet answered.
    pub fn seeks_in_flight(&self) -> usize {
        self.seeks.len()
    }

    fn release(&self, index: u64) {
        if let Some((claims, me)) = &self.claims {
            claims.release(index, *me);
        }
    }

    /// Download blocks in `range` (`0..u64::MAX` for everything, including future appends).
    pub fn download(&mut self, range: Range<u64>) {
        self.selected.insert(range.clone());
        self.search_again(range.clone());
        self.selections.push(range);
        self.wants_sent_for = None;
    }

    /// Pages, 64-bit words, ranges and blocks the search for blocks to request has examined
    /// since this replicator was made: a measure of the CPU a peer's messages cost us, for
    /// tests that bound it (wall time on a shared machine is too noisy).
    pub fn search_steps(&self) -> u64 {
        self.steps
    }

    /// Search `range` again for blocks to request.
    fn search_again(&mut self, range: Range<u64>) {
        self.unsearched.insert(range);
        if self.unsearched.len() > MAX_SEARCH_RANGES {
            self.unsearched.join_closest();
        }
    }

    /// The channel this replicator talks on.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The peer's advertised length.
    pub fn remote_length(&self) -> u64 {
        self.remote_length
    }

    /// Blocks requested and not yet answered.
    pub fn inflight(&self) -> Vec<u64> {
        self.inflight.iter().map(|r| r.0).collect()
    }

    /// Whether the peer advertised block `index`.
    pub fn remote_has(&self, index: u64) -> bool {
        self.remote.get(index)
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ReplicatorEvent> {
        self.events.pop_front()
    }

    /// Call once the session reported the remote's Handshake: send our Wants.
    pub fn start(&mut self, now: Instant, session: &mut Session, feed: &Feed) {
        self.send_wants(session);
        self.update(now, session, feed);
    }

    /// Tell the peer about blocks we now have (appended, or downloaded from another peer).
    /// Sent only if the peer Wanted (JS `Peer.have`).
    pub fn announce(&mut self, session: &mut Session, blocks: Range<u64>) {
        if !self.remote_want || blocks.is_empty() {
            return;
        }
        let length = blocks.end - blocks.start;
        let have = Have {
            start: blocks.start,
            length: (length > 1).then_some(length),
            bitfield: None,
            ack: false,
        };
        self.send(session, &Message::Have(have));
    }

    /// When [`handle_timeout`](Self::handle_timeout) must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let request = self.inflight.front().map(|r| r.1);
        let seek = self.seeks.front().map(|s| s.1);
        request.into_iter().chain(seek).min()
    }

    /// Fail the oldest request if it is overdue and its block is still missing.
    pub fn handle_timeout(&mut self, now: Instant, feed: &Feed) -> Result<(), ReplicationError> {
        while let Some(&(index, deadline)) = self.inflight.front() {
            if deadline > now {
                break;
            }
            if !feed.has(index) {
                return Err(ReplicationError::RequestTimeout { index });
            }
            self.inflight.pop_front();
            self.release(index);
        }
        if let Some(&(bytes, deadline)) = self.seeks.front()
            && deadline <= now
        {
            return Err(ReplicationError::SeekTimeout { bytes });
        }
        Ok(())
    }

    /// Act on a message the session delivered on our channel.
    pub fn handle_message(
        &mut self,
        now: Instant,
        session: &mut Session,
        feed: &mut Feed,
        message: &Message<'_>,
    ) -> Result<(), ReplicationError> {
        self.handle_message_hashed(now, session, feed, message, None)?;
        if let Message::Data(d) = message {
            let index = d.index;
            feed.flush_puts()
                .map_err(|source| ReplicationError::Verify { index, source })?;
        }
        Ok(())
    }

    /// The leaf hashes of the blocks in a run of Data messages, computed together (SIMD
    /// lanes, two threads for a big run): give each to
    /// [`handle_message_hashed`](Self::handle_message_hashed) with its message.
    pub fn hash_blocks<'a>(messages: &'a [Message<'_>]) -> Vec<Option<HashedBlock<'a>>> {
        let values: Vec<&[u8]> = messages
            .iter()
            .filter_map(|m| match m {
                Message::Data(d) => d.value.as_deref(),
                _ => None,
            })
            .collect();
        let mut hashed = Feed::hash_blocks(&values).into_iter();
        messages
            .iter()
            .map(|m| match m {
                Message::Data(d) if d.value.is_some() => hashed.next(),
                _ => None,
            })
            .collect()
    }

    /// [`handle_message`](Self::handle_message) for one of a run of messages: a Data
    /// message's block comes with its leaf hash from [`hash_blocks`](Self::hash_blocks), and
    /// a verified block is stored without its bitfield bit: call [`Feed::flush_puts`] after
    /// the run (the blocks count as stored, and are announced, only from then on).
    pub fn handle_message_hashed(
        &mut self,
        now: Instant,
        session: &mut Session,
        feed: &mut Feed,
        message: &Message<'_>,
        hashed: Option<HashedBlock<'_>>,
    ) -> Result<(), ReplicationError> {
        match message {
            Message::Want(w) => self.on_want(session, feed, w),
            Message::Have(h) => self.on_have(now, session, feed, h)?,
            Message::Unhave(u) => self.on_unhave(u),
            Message::Request(r) => self.on_request(session, feed, r)?,
            Message::Data(d) => self.on_data(now, session, feed, d, hashed)?,
            // Info only matters for non-live wind-down; Unwant and Cancel are no-ops in JS.
            _ => {}
        }
        Ok(())
    }

    fn send(&self, session: &mut Session, message: &Message<'_>) {
        // A closed session reports itself through its own events.
        let _ = session.send(self.channel, message);
    }

    fn on_want(&mut self, session: &mut Session, feed: &Feed, want: &message::Range) {
        let length = want.length.unwrap_or(0);
        if want.start & 8191 != 0 || length & 8191 != 0 {
            return; // JS ignores unaligned Wants
        }
        let len = feed.len();
        if !self.remote_want && len > 0 && feed.has(len - 1) {
            let eager = Have {
                start: len - 1,
                length: None,
                bitfield: None,
                ack: false,
            };
            self.send(session, &Message::Have(eager));
        }
        self.remote_want = true;
        // Bits past our length are zero and RLE drops them: never build more than we have.
        let ours = len.div_ceil(8) * 8;
        let span = match length {
            0 if want.start == 0 => ours,
            0 => 0,
            l => l.min(ours.saturating_sub(want.start)),
        };
        let bits = feed.bitfield_bytes(want.start, span);
        let have = Have {
            start: want.start,
            length: want.length,
            bitfield: Some(Cow::Owned(rle::encode(&bits))),
            ack: false,
        };
        self.send(session, &Message::Have(have));
    }

    fn on_have(
        &mut self,
        now: Instant,
        session: &mut Session,
        feed: &Feed,
        have: &Have<'_>,
    ) -> Result<(), ReplicationError> {
        if have.length == Some(WANT_REGION) {
            self.inflight_wants = self.inflight_wants.saturating_sub(1);
        }
        let (end, grown) = if let Some(encoded) = &have.bitfield {
            if matches!(have.length, None | Some(0) | Some(1)) {
                self.compat = true; // JS backwards-compat mode: stop sending Wants
            }
            if !have.start.is_multiple_of(8192) {
                return Ok(()); // JS can only apply whole pages
            }
            let filled = self
                .remote
                .fill_rle(have.start, encoded, MAX_HAVE_BITFIELD)?;
            (filled.end, filled.grown)
        } else {
            let len = have.length.unwrap_or(1).max(1);
            let grown = self.remote.set_range(have.start, len, true)?;
            (Some(have.start + len), grown)
        };
        if let Some(end) = end
            && end > self.remote_length
        {
            self.remote_length = end.min(dat_core::limits::MAX_BLOCK_INDEX);
            self.events.push_back(ReplicatorEvent::RemoteLength {
                length: self.remote_length,
            });
        }
        // Bits the peer had advertised already were searched when they were set.
        if let Some(grown) = grown {
            self.search_again(grown);
        }
        self.send_wants(session);
        self.update(now, session, feed);
        Ok(())
    }

    fn on_unhave(&mut self, unhave: &message::Range) {
        let len = unhave.length.unwrap_or(1).max(1);
        if unhave.start == 0 && len >= self.remote_length {
            self.remote.clear();
            self.remote_length = 0;
            return;
        }
        let len = len.min(self.remote_length.saturating_sub(unhave.start));
        // Clearing never allocates, so this cannot fail.
        let _ = self.remote.set_range(unhave.start, len, false);
    }

    fn on_request(
        &mut self,
        session: &mut Session,
        feed: &Feed,
        request: &Request,
    ) -> Result<(), ReplicationError> {
        let (mut index, mut digest) = (request.index, request.nodes);
        if request.bytes != 0
            && let Ok((block, _)) = feed.seek(request.bytes)
        {
            if self.last_bytes == request.bytes {
                return Ok(()); // JS drops a repeated bytes request
            }
            self.last_bytes = request.bytes;
            (index, digest) = (block, 0);
        }
        let unavailable = |source| ReplicationError::Unavailable { index, source };
        let proof = feed
            .proof(index, digest, request.hash, &mut self.remote_tree)
            .map_err(unavailable)?;
        let mut block = std::mem::take(&mut self.block);
        let value = if request.hash {
            None
        } else {
            feed.get_into(index, &mut block).map_err(unavailable)?;
            Some(Cow::Borrowed(block.as_slice()))
        };
        let data = Data {
            index,
            value,
            nodes: proof.nodes,
            signature: proof.signature,
        };
        self.send(session, &Message::Data(data));
        if block.capacity() <= KEEP_BLOCK_CAPACITY {
            self.block = block;
        }
        Ok(())
    }

    fn on_data(
        &mut self,
        now: Instant,
        session: &mut Session,
        feed: &mut Feed,
        data: &Data<'_>,
        hashed: Option<HashedBlock<'_>>,
    ) -> Result<(), ReplicationError> {
        let index = data.index;
        let requested = self.inflight.iter().position(|r| r.0 == index);
        if data.value.is_some() && requested.is_none() {
            if !feed.has(index) {
                let unhave = message::Range {
                    start: index,
                    length: None,
                };
                self.send(session, &Message::Unhave(unhave));
            }
            self.events
                .push_back(ReplicatorEvent::Unrequested { index });
            return Ok(());
        }
        if data.value.is_none() && requested.is_none() {
            self.seeks.pop_front();
        }
        if !(data.value.is_some() && feed.has(index)) {
            let proof = Proof {
                index,
                nodes: data.nodes.clone(),
                signature: data.signature,
            };
            // The hash given must be of this very block; otherwise it is hashed here.
            let value = data.value.as_deref().map(|v| match hashed {
                Some(h) if std::ptr::eq(h.value(), v) => h,
                _ => Feed::hash_blocks(&[v])[0],
            });
            feed.put_hashed(index, value, &proof)
                .map_err(|source| ReplicationError::Verify { index, source })?;
            if data.value.is_some() {
                self.events.push_back(ReplicatorEvent::Downloaded { index });
            }
        }
        // Only a verified answer clears the request (a failed one ends the connection anyway).
        if let Some(i) = requested {
            self.inflight.remove(i);
            self.release(index);
            if !feed.has(index) {
                self.deferred.insert(index); // answered with proof only: ask again later
            }
        }
        self.update(now, session, feed);
        Ok(())
    }

    fn selected(&self, index: u64) -> bool {
        self.selected.contains(index)
    }

    /// Send Wants for the regions our selections need, up to 16 outstanding (JS `_sendWants`).
    fn send_wants(&mut self, session: &mut Session) {
        if !self.options.download || self.compat || self.inflight_wants >= MAX_INFLIGHT_WANTS {
            return;
        }
        // The regions depend on the selection and on the remote length's region only.
        let key = self.remote_length.saturating_sub(1) / WANT_REGION;
        if self.wants_sent_for == Some(key) {
            return;
        }
        let mut regions = vec![0u64];
        for sel in &self.selections {
            let last = sel.end.min(self.remote_length).saturating_sub(1) / WANT_REGION;
            let first = sel.start / WANT_REGION;
            regions.extend((first..=last).take(4 * MAX_INFLIGHT_WANTS));
        }
        for j in regions {
            if self.inflight_wants >= MAX_INFLIGHT_WANTS {
                return;
            }
            if self.wants.insert(j) {
                self.inflight_wants += 1;
                let want = message::Range {
                    start: j * WANT_REGION,
                    length: Some(WANT_REGION),
                };
                self.send(session, &Message::Want(want));
            }
        }
        self.wants_sent_for = Some(key);
    }

    /// Fill the request window with advertised, selected, missing blocks (JS `_update`),
    /// lowest first; blocks another peer claimed are tried again once nothing else is found.
    fn update(&mut self, now: Instant, session: &mut Session, feed: &Feed) {
        if !self.options.download {
            return;
        }
        let mut local = LocalBits::new(feed);
        while self.inflight.len() < self.options.max_requests {
            let Some(i) = self.next_candidate(&mut local) else {
                self.retry_deferred(now, session, feed);
                break;
            };
            if self.inflight.iter().any(|r| r.0 == i) {
                continue;
            }
            if !self.claim(i) {
                self.defer(i, feed);
                continue;
            }
            self.request(now, session, feed, i);
        }
        self.steps += local.words;
    }

    /// The lowest unsearched block that the peer advertised, we selected and we lack; the
    /// search moves past it.
    fn next_candidate(&mut self, local: &mut LocalBits<'_>) -> Option<u64> {
        loop {
            self.steps += 1;
            let front = self.unsearched.first()?.clone();
            let (a, b) = (front.start, front.end.min(self.remote_length));
            if a >= b {
                // Nothing is advertised from here on; a Have that changes that searches it.
                self.unsearched.clear();
                return None;
            }
            let Some(sel) = self.selected.next_from(a) else {
                self.unsearched.clear();
                return None;
            };
            let (from, to) = (a.max(sel.start), b.min(sel.end));
            if from >= to {
                // Nothing selected before `b`, nothing advertised after it.
                self.unsearched.remove_below(front.end);
                continue;
            }
            let mut have = |at, end, bits| local.had(at, end, bits);
            let found = self
                .remote
                .next_set_unless(from, to, &mut have, &mut self.steps);
            self.unsearched.remove_below(found.map_or(to, |i| i + 1));
            if found.is_some() {
                return found;
            }
        }
    }

    /// Whether `index` is still worth requesting.
    fn wanted(&self, index: u64, feed: &Feed) -> bool {
        self.remote.get(index) && self.selected(index) && !feed.has(index)
    }

    fn claim(&self, index: u64) -> bool {
        self.claims
            .as_ref()
            .is_none_or(|(claims, me)| claims.claim(index, *me))
    }

    /// Remember a block another peer claimed; when their number doubles, forget the ones no
    /// longer wanted (that peer got them), so they stay about as many as the claims of others.
    fn defer(&mut self, index: u64, feed: &Feed) {
        self.deferred.insert(index);
        if self.deferred.len() >= self.deferred_tidy_at {
            self.steps += self.deferred.len() as u64;
            let deferred = std::mem::take(&mut self.deferred);
            self.deferred = deferred
                .into_iter()
                .filter(|&d| self.wanted(d, feed))
                .collect();
            self.deferred_tidy_at = MIN_DEFERRED_TIDY.max(2 * self.deferred.len());
        }
    }

    /// Request the deferred blocks no other peer holds any more, lowest first.
    fn retry_deferred(&mut self, now: Instant, session: &mut Session, feed: &Feed) {
        let deferred: Vec<u64> = self.deferred.iter().copied().collect();
        for d in deferred {
            if self.inflight.len() >= self.options.max_requests {
                break;
            }
            self.steps += 1;
            if !self.wanted(d, feed) || self.inflight.iter().any(|r| r.0 == d) {
                self.deferred.remove(&d);
            } else if self.claim(d) {
                self.deferred.remove(&d);
                self.request(now, session, feed, d);
            }
        }
    }

    fn request(&mut self, now: Instant, session: &mut Session, feed: &Feed, index: u64) {
        let request = Request {
            index,
            bytes: 0,
            hash: false,
            nodes: feed.digest(index),
        };
        self.inflight
            .push_back((index, now + self.options.request_timeout));
        self.send(session, &Message::Request(request));
    }
}

/// The local feed's bitfield as the search reads it: 64 blocks at a time, fetched in
/// stretches that start at 64 blocks (the next missing block is usually the next one) and
/// double up to a page, counted.
struct LocalBits<'a> {
    feed: &'a Feed,
    start: u64,
    bytes: Vec<u8>,
    /// Blocks the next fetch asks for.
    stretch: u64,
    /// 64-bit words fetched.
    words: u64,
}

impl<'a> LocalBits<'a> {
    fn new(feed: &'a Feed) -> Self {
        Self {
            feed,
            start: 0,
            bytes: Vec::new(),
            stretch: 64,
            words: 0,
        }
    }

    /// Which of `bits` (blocks `at..at + 64`, `at` a multiple of 64, MSB-first, some set)
    /// we have, or none if we lack the first (enough to make it the next candidate, and the
    /// usual case, checked without a fetch); `end` says how far on the caller may read in
    /// this page.
    fn had(&mut self, at: u64, end: u64, bits: u64) -> u64 {
        if !self.feed.has(at + u64::from(bits.leading_zeros())) {
            return 0;
        }
        let held = 8 * self.bytes.len() as u64;
        if at < self.start || at + 64 > self.start + held {
            let page_end = (at / LOCAL_PAGE_BITS + 1) * LOCAL_PAGE_BITS;
            let stop = end.min(page_end).min(at + self.stretch).max(at + 1);
            let len = (stop - at).div_ceil(64) * 64;
            self.start = at;
            self.bytes = self.feed.bitfield_bytes(at, len);
            self.words += len / 64;
            self.stretch = (2 * self.stretch).min(LOCAL_PAGE_BITS);
        }
        let k = ((at - self.start) / 8) as usize;
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.bytes[k..k + 8]);
        u64::from_be_bytes(word)
    }
}

impl Drop for Replicator {
    fn drop(&mut self) {
        for &(index, _) in &self.inflight {
            self.release(index);
        }
    }
}
