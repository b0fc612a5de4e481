//! One connection's protocol state machine (hypercore-protocol 6.12 `Protocol`), sans-IO.
//!
//! Verbs in the style of quinn-proto: feed received bytes to [`Session::handle_input`], take
//! bytes to write from [`Session::poll_transmit`] (already encrypted), drain
//! [`Session::poll_event`], and drive time with [`Session::poll_timeout`] /
//! [`Session::handle_timeout`]. The session frames, encrypts (each side's first Feed frame in
//! clear, everything after it XSalsa20, DAT-SPEC §4.3), maps the remote's channel ids to feeds
//! by discovery key, holds back messages for feeds not yet opened, pings before JS would drop
//! us, and closes with a typed reason on anything JS would destroy the stream for.
//!
//! Bounded whatever the peer sends (see [`crate::limits`]): parsing stops while the
//! application has [`MAX_QUEUED_EVENTS`] events (or [`MAX_QUEUED_EVENT_BYTES`]) to take, and no
//! event is handed out while more than [`MAX_QUEUED_OUT`] bytes wait to be transmitted; the
//! input that waits meanwhile is held up to [`MAX_PENDING_INPUT`], past which the peer is
//! dropped. A driver that reads only when [`Session::wants_input`] never holds more than one
//! read of input.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use dat_core::{DiscoveryKey, PublicKey};

use crate::channels::Channels;
use crate::cipher::{CipherFactory, StreamCipher, XSalsa20Cipher};
use crate::event::{Channel, CloseReason, Event, SendError, SessionError};
use crate::frame::{Frame, FrameDecoder, MAX_FEEDS, encode_ping};
pub use crate::limits::{MAX_BUFFERED, MAX_BUFFERED_BYTES, MAX_PENDING_INPUT};
use crate::limits::{
    MAX_QUEUED_EVENT_BYTES, MAX_QUEUED_EVENTS, MAX_QUEUED_OUT, MAX_SPARE_BUFFER, MAX_SPARE_BUFFERS,
};
use crate::message::{self, Handshake, Message, MessageError};

/// Capacity of an emptied input or output buffer worth keeping for the next use. (A bulk
/// transfer seldom empties its input buffer: a read usually ends inside a frame.)
const KEEP_BUFFER_CAPACITY: usize = 1024 * 1024;

/// How a session behaves; [`SessionOptions::new`] gives dat's choices.
#[derive(Clone, Debug)]
pub struct SessionOptions {
    /// Our peer id, sent in the Handshake (random per process in JS).
    pub id: [u8; 32],
    /// Replicate forever (dat: true).
    pub live: bool,
    /// Handshake user data (unset in dat).
    pub user_data: Option<Vec<u8>>,
    /// Extension names we understand (sorted by the session).
    pub extensions: Vec<String>,
    /// Ask for per-block acknowledgements (dat: false).
    pub ack: bool,
    /// Keep-alive timer granularity (JS ticks every 1250 ms).
    pub tick: Duration,
    /// Ping after this many ticks without sending (2 → at most 2.5 s, well inside JS's ~7 s).
    pub ping_ticks: u32,
    /// Silence after which the remote is considered gone (JS: 6.25–7.5 s).
    pub idle_timeout: Duration,
    /// Makes the per-direction stream cipher.
    pub cipher: CipherFactory,
}

impl SessionOptions {
    /// dat's settings with the given peer id.
    pub fn new(id: [u8; 32]) -> Self {
        Self {
            id,
            live: true,
            user_data: None,
            extensions: Vec::new(),
            ack: false,
            tick: Duration::from_millis(1250),
            ping_ticks: 2,
            idle_timeout: Duration::from_millis(7000),
            cipher: XSalsa20Cipher::boxed,
        }
    }
}

/// One connection. See the module docs.
pub struct Session {
    options: SessionOptions,
    channels: Channels,
    decoder: FrameDecoder,
    /// Public key and discovery key of the first feed we opened: the stream key.
    key: Option<(PublicKey, DiscoveryKey)>,
    remote_first: Option<DiscoveryKey>,
    remote_nonce: Option<[u8; 24]>,
    tx: Option<Box<dyn StreamCipher>>,
    rx: Option<Box<dyn StreamCipher>>,
    /// Parsing waits until a local feed gives the key (JS `_needsKey`).
    stalled: bool,
    /// Received bytes not parsed yet are `input[input_pos..input_end]` (plaintext iff `rx`
    /// is set); the rest of `input` is initialized room to receive into.
    input: Vec<u8>,
    input_pos: usize,
    input_end: usize,
    buffered_bytes: usize,
    /// Approximate bytes held by `events` (see `event_size`).
    event_bytes: usize,
    /// Feed messages received (each opens or re-opens a remote channel).
    remote_opens: u64,
    remote_handshake: Option<Handshake<'static>>,
    out: Vec<u8>,
    events: VecDeque<Event>,
    /// Buffers of Data blocks handed back through [`Session::recycle`], reused for the next
    /// blocks received (an allocation, and its page faults, saved per block).
    spare: Vec<Vec<u8>>,
    closed: bool,
    next_tick: Instant,
    idle_deadline: Instant,
    sent_since_tick: bool,
    idle_ticks: u32,
    dropped: u64,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("key", &self.key.map(|k| k.1))
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A new connection at time `now` (deadlines count from here).
    pub fn new(mut options: SessionOptions, now: Instant) -> Self {
        options.extensions.sort();
        options.extensions.dedup();
        Self {
            next_tick: now + options.tick,
            idle_deadline: now + options.idle_timeout,
            options,
            channels: Channels::default(),
            decoder: FrameDecoder::new(),
            key: None,
            remote_first: None,
            remote_nonce: None,
            tx: None,
            rx: None,
            stalled: false,
            input: Vec::new(),
            input_pos: 0,
            input_end: 0,
            buffered_bytes: 0,
            event_bytes: 0,
            remote_opens: 0,
            remote_handshake: None,
            out: Vec::new(),
            events: VecDeque::new(),
            spare: Vec::new(),
            closed: false,
            sent_since_tick: false,
            idle_ticks: 0,
            dropped: 0,
        }
    }

    /// Whether the session has ended.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// The remote's handshake, once received.
    pub fn remote_handshake(&self) -> Option<&Handshake<'static>> {
        self.remote_handshake.as_ref()
    }

    /// Messages dropped because they did not decode (JS drops them silently too).
    pub fn dropped_messages(&self) -> u64 {
        self.dropped
    }

    /// Our channel for a discovery key, if opened.
    pub fn channel_of(&self, dk: &DiscoveryKey) -> Option<Channel> {
        self.channels.local_of(dk)
    }

    /// Open a channel for feed `key` (JS `Protocol.feed`); returns our channel number, or
    /// the existing one. The first feed opened keys the encryption: `nonce` becomes our
    /// stream nonce and is sent in clear; later calls ignore `nonce`.
    pub fn open_feed(&mut self, key: PublicKey, nonce: [u8; 24]) -> Result<Channel, SendError> {
        if self.closed {
            return Err(SendError::Closed);
        }
        let dk = key.discovery_key();
        if let Some(ch) = self.channels.get_or_insert(dk).local {
            return Ok(ch);
        }
        if self.channels.local_ids_used() as u64 >= crate::frame::MAX_FEEDS {
            return Err(SendError::TooManyFeeds);
        }
        let first = self.key.is_none();
        if first {
            if let Some(remote) = self.remote_first
                && remote != dk
            {
                let err = SessionError::DifferentFeed { local: dk, remote };
                self.fail(err.clone());
                return Err(err.into());
            }
            self.key = Some((key, dk));
            self.tx = Some((self.options.cipher)(&key, &nonce));
            if let Some(n) = self.remote_nonce {
                self.start_rx(&key, &n);
            }
        }
        let channel = self
            .channels
            .assign_local(dk)
            .ok_or(SendError::TooManyFeeds)?;
        let feed = Message::Feed(message::Feed {
            discovery_key: dk,
            nonce: first.then_some(nonce),
        });
        if first {
            feed.encode_frame(channel, &mut self.out); // the one frame sent in clear
            self.sent_since_tick = true;
            let handshake = Message::Handshake(Handshake {
                id: Some(self.options.id.to_vec().into()),
                live: self.options.live,
                user_data: self.options.user_data.clone().map(Into::into),
                extensions: self
                    .options
                    .extensions
                    .iter()
                    .map(|e| e.clone().into())
                    .collect(),
                ack: self.options.ack,
            });
            self.push_encrypted(channel, &handshake);
        } else {
            self.push_encrypted(channel, &feed);
        }
        self.release_buffer(dk, channel);
        if self.stalled {
            self.stalled = false;
            self.parse();
        }
        Ok(channel)
    }

    /// Queue `message` on our channel `channel` (encrypted).
    pub fn send(&mut self, channel: Channel, message: &Message<'_>) -> Result<(), SendError> {
        if self.closed {
            return Err(SendError::Closed);
        }
        match message {
            Message::Feed(_) => return Err(SendError::Reserved { kind: "Feed" }),
            Message::Handshake(_) => return Err(SendError::Reserved { kind: "Handshake" }),
            _ => {}
        }
        if self.channels.by_local(channel).is_none() {
            return Err(SendError::NotOpen { channel });
        }
        self.push_encrypted(channel, message);
        Ok(())
    }

    /// Send an extension message by name (the id is its index in our sorted list).
    pub fn send_extension(
        &mut self,
        channel: Channel,
        name: &str,
        payload: &[u8],
    ) -> Result<(), SendError> {
        let id = self
            .options
            .extensions
            .iter()
            .position(|e| e == name)
            .ok_or_else(|| SendError::UnknownExtension { name: name.into() })?;
        self.send(
            channel,
            &Message::Extension {
                id: id as u64,
                payload: payload.into(),
            },
        )
    }

    /// End the session locally. Bytes already queued can still be taken and written.
    pub fn close(&mut self) {
        if !self.closed {
            self.closed = true;
            self.push_event(Event::Closed(CloseReason::Local));
        }
    }

    /// Hand back a message taken from [`poll_event`](Self::poll_event) once done with it: the
    /// buffer of a Data block is kept (at most [`MAX_SPARE_BUFFERS`] of at most
    /// [`MAX_SPARE_BUFFER`] bytes) to receive a later block into.
    pub fn recycle(&mut self, message: Message<'static>) {
        if let Message::Data(message::Data {
            value: Some(Cow::Owned(buf)),
            ..
        }) = message
            && self.spare.len() < MAX_SPARE_BUFFERS
            && buf.capacity() <= MAX_SPARE_BUFFER
        {
            self.spare.push(buf);
        }
    }

    /// Append all bytes waiting to be written to `buf`; returns how many. An empty `buf`
    /// trades places with the queue (no copy; the queue keeps `buf`'s allocation).
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        let n = self.out.len();
        if buf.is_empty() {
            std::mem::swap(buf, &mut self.out);
        } else {
            buf.append(&mut self.out);
        }
        if self.out.capacity() > KEEP_BUFFER_CAPACITY {
            self.out = Vec::new(); // a burst's memory is not kept for the connection's life
        }
        n
    }

    /// Bytes queued for [`poll_transmit`](Self::poll_transmit). While this exceeds
    /// [`MAX_QUEUED_OUT`], [`poll_event`](Self::poll_event) hands out nothing.
    pub fn pending_transmit(&self) -> usize {
        self.out.len()
    }

    /// Whether reading more from the transport is useful now: the session is open, has parsed
    /// all input it was given and is not waiting for its transmit queue to drain. Input given
    /// anyway is held (up to [`MAX_PENDING_INPUT`], then the peer is dropped).
    pub fn wants_input(&self) -> bool {
        !self.closed && self.input_pos == self.input_end && self.out.len() <= MAX_QUEUED_OUT
    }

    /// The next thing the application must see. Nothing while more than [`MAX_QUEUED_OUT`]
    /// bytes wait to be transmitted: take them with [`poll_transmit`](Self::poll_transmit),
    /// then poll again. Parses held input when the queue runs dry.
    pub fn poll_event(&mut self) -> Option<Event> {
        if !self.closed && self.out.len() > MAX_QUEUED_OUT {
            return None;
        }
        if self.events.is_empty() {
            self.parse();
        }
        let event = self.events.pop_front()?;
        self.event_bytes = self.event_bytes.saturating_sub(event_size(&event));
        Some(event)
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        (!self.closed).then(|| self.next_tick.min(self.idle_deadline))
    }

    /// Advance timers to `now`: keep-alive pings and the silence timeout.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.closed {
            return;
        }
        if now >= self.idle_deadline {
            self.fail(SessionError::Timeout);
            return;
        }
        if now < self.next_tick {
            return;
        }
        // However late we are, one tick of keep-alive bookkeeping is enough.
        while self.next_tick <= now {
            self.next_tick += self.options.tick;
        }
        if self.sent_since_tick {
            self.idle_ticks = 0;
        } else {
            self.idle_ticks += 1;
        }
        self.sent_since_tick = false;
        if self.idle_ticks >= self.options.ping_ticks
            && let Some(tx) = &mut self.tx
        {
            let start = self.out.len();
            encode_ping(&mut self.out);
            tx.apply(&mut self.out[start..]);
            self.idle_ticks = 0;
        }
    }

    /// Bytes received from the transport at `now`. Parsed at once unless the session is
    /// waiting (for a local feed, or for the application to take events or transmit bytes),
    /// in which case they are held; more than [`MAX_PENDING_INPUT`] held closes the session.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) {
        if self.closed || data.is_empty() || !self.admit(data.len()) {
            return;
        }
        self.input_buffer(data.len()).copy_from_slice(data);
        self.received(now, data.len());
    }

    /// Room for the next `len` bytes from the transport, to read into directly (saving the
    /// copy [`handle_input`](Self::handle_input) makes); report how many arrived with
    /// [`input_filled`](Self::input_filled). Reading into it is the same as passing those
    /// bytes to `handle_input`: the same bounds apply when they are reported.
    pub fn input_buffer(&mut self, len: usize) -> &mut [u8] {
        if self.input_pos > 0 {
            // Move the unparsed rest (at most a partial frame, usually) to the front.
            self.input.copy_within(self.input_pos..self.input_end, 0);
            self.input_end -= self.input_pos;
            self.input_pos = 0;
        }
        let need = self.input_end + len;
        if need > self.input.len() {
            // Amortised growth, but a backlog never doubles past the bound it is held to.
            let target = need.max((2 * self.input.len()).min(MAX_PENDING_INPUT));
            self.input.resize(target, 0);
        }
        &mut self.input[self.input_end..need]
    }

    /// `n` bytes were read into the front of the last [`input_buffer`](Self::input_buffer)
    /// at `now`: as [`handle_input`](Self::handle_input) with those bytes.
    pub fn input_filled(&mut self, now: Instant, n: usize) {
        let room = self.input.len() - self.input_end;
        if self.closed || n == 0 || n > room || !self.admit(n) {
            return;
        }
        self.received(now, n);
    }

    /// Whether `len` more bytes may be held; closes the session if not.
    fn admit(&mut self, len: usize) -> bool {
        let held = self.input_end - self.input_pos;
        if held > 0 && held + len > MAX_PENDING_INPUT {
            let bytes = held + len;
            self.fail(if self.stalled {
                SessionError::TooMuchBeforeOpen { bytes }
            } else {
                SessionError::Backlog { bytes }
            });
            return false;
        }
        true
    }

    /// The `n` bytes after `input_end` arrived at `now`: decrypt and parse them.
    fn received(&mut self, now: Instant, n: usize) {
        self.idle_deadline = now + self.options.idle_timeout;
        let start = self.input_end;
        self.input_end += n;
        if let Some(rx) = &mut self.rx {
            rx.apply(&mut self.input[start..self.input_end]);
        }
        self.parse();
    }

    /// Parse held input until it runs out, the session waits for a key, or the application
    /// has enough events to take.
    fn parse(&mut self) {
        while !self.closed
            && !self.stalled
            && self.input_pos < self.input_end
            && self.events.len() < MAX_QUEUED_EVENTS
            && self.event_bytes < MAX_QUEUED_EVENT_BYTES
        {
            let mut rest = &self.input[self.input_pos..self.input_end];
            let before = rest.len();
            let frame = match self.decoder.decode(&mut rest) {
                Ok(Some(frame)) => Incoming::from_frame(frame, &mut self.spare),
                Ok(None) => {
                    self.input_pos = self.input_end;
                    break;
                }
                Err(e) => return self.fail(e.into()),
            };
            self.input_pos += before - rest.len();
            let needs_key = !matches!(frame, Incoming::Ping) && self.key.is_none();
            self.on_frame(frame);
            if needs_key && !self.closed {
                // JS stops parsing until a local feed supplies the key.
                self.stalled = true;
            }
        }
        if self.input_pos == self.input_end {
            self.input_pos = 0;
            self.input_end = 0;
            if self.input.len() > KEEP_BUFFER_CAPACITY {
                self.input = Vec::new();
            }
        }
    }

    /// Start decrypting the remote's stream, including the input already held (received
    /// after its first Feed frame, so encrypted).
    fn start_rx(&mut self, key: &PublicKey, nonce: &[u8; 24]) {
        let mut rx = (self.options.cipher)(key, nonce);
        rx.apply(&mut self.input[self.input_pos..self.input_end]);
        self.rx = Some(rx);
    }

    fn push_event(&mut self, event: Event) {
        self.event_bytes += event_size(&event);
        self.events.push_back(event);
    }

    fn on_frame(&mut self, frame: Incoming) {
        let Incoming::Message {
            channel,
            kind,
            message,
        } = frame
        else {
            return;
        };
        if kind == 0 {
            self.remote_opens += 1;
            if self.remote_opens > MAX_FEEDS {
                let opens = self.remote_opens;
                return self.fail(SessionError::TooManyOpens { opens });
            }
            if let Some(old) = self.channels.close_remote(channel) {
                self.buffered_bytes -= old.buffered_bytes;
                if let Some(local) = old.local {
                    self.push_event(Event::ChannelClosed {
                        channel: local,
                        discovery_key: old.dk,
                    });
                }
            }
            return self.on_feed(channel, message);
        }
        let Some(state) = self.channels.by_remote(channel) else {
            return self.fail(SessionError::UnknownChannel { channel });
        };
        let (local, dk) = (state.local, state.dk);
        let message = match message {
            Ok(m) => m,
            Err(_) => {
                self.dropped += 1;
                return;
            }
        };
        match message {
            Message::Handshake(h) => self.on_handshake(h),
            Message::Extension { id, payload } => {
                let name = self.extension_name(id);
                if let (Some(channel), Some(name)) = (local, name) {
                    self.push_event(Event::Extension {
                        channel,
                        name,
                        payload: payload.into_owned(),
                    });
                }
            }
            message => match local {
                Some(channel) => self.push_event(Event::Message { channel, message }),
                None => self.buffer(channel, dk, message),
            },
        }
    }

    fn on_feed(&mut self, channel: u16, message: Result<Message<'static>, MessageError>) {
        let feed = match message {
            Ok(Message::Feed(f)) => f,
            Ok(_) => return self.fail(SessionError::BadFeed(MessageError::UnknownType(0))),
            Err(e) => return self.fail(SessionError::BadFeed(e)),
        };
        let dk = feed.discovery_key;
        if self.remote_first.is_none() {
            self.remote_first = Some(dk);
            if let Some((_, local)) = self.key
                && local != dk
            {
                return self.fail(SessionError::DifferentFeed { local, remote: dk });
            }
            let Some(nonce) = feed.nonce else {
                return self.fail(SessionError::NoNonce);
            };
            self.remote_nonce = Some(nonce);
            if let Some((key, _)) = self.key {
                self.start_rx(&key, &nonce);
            }
        }
        self.channels.assign_remote(channel, dk);
        let local = self.channels.get_or_insert(dk).local;
        self.push_event(Event::RemoteFeed {
            discovery_key: dk,
            channel: local,
        });
    }

    fn on_handshake(&mut self, handshake: Handshake<'static>) {
        if self.remote_handshake.is_some() {
            return;
        }
        self.remote_handshake = Some(handshake.clone());
        self.push_event(Event::Handshake(handshake));
    }

    /// The name of the remote's extension `id`, if we registered it too.
    fn extension_name(&self, id: u64) -> Option<String> {
        let remote = self.remote_handshake.as_ref()?;
        let name = remote.extensions.get(usize::try_from(id).ok()?)?;
        self.options
            .extensions
            .iter()
            .find(|e| e.as_str() == name.as_ref())
            .cloned()
    }

    fn buffer(&mut self, channel: u16, dk: DiscoveryKey, message: Message<'static>) {
        let size = approx_size(&message);
        if self.buffered_bytes + size > MAX_BUFFERED_BYTES {
            return self.fail(SessionError::TooManyBuffered { channel });
        }
        let state = self.channels.get_or_insert(dk);
        if state.buffer.len() >= MAX_BUFFERED {
            return self.fail(SessionError::TooManyBuffered { channel });
        }
        state.buffer.push(message);
        state.buffered_bytes += size;
        self.buffered_bytes += size;
    }

    fn release_buffer(&mut self, dk: DiscoveryKey, channel: Channel) {
        let state = self.channels.get_or_insert(dk);
        let held = std::mem::take(&mut state.buffer);
        self.buffered_bytes -= std::mem::take(&mut state.buffered_bytes);
        for message in held {
            self.push_event(Event::Message { channel, message });
        }
    }

    fn push_encrypted(&mut self, channel: Channel, message: &Message<'_>) {
        let start = self.out.len();
        // Frame prefix and header take at most 6 bytes.
        let need = start + message.encoded_len() + 8;
        let cap = self.out.capacity();
        if need > cap {
            // Amortised growth, but never doubling past MAX_QUEUED_OUT: the queue is allowed
            // about one answer beyond it, not twice its size.
            let grown = if cap < MAX_QUEUED_OUT {
                (2 * cap).min(MAX_QUEUED_OUT)
            } else {
                cap + cap / 32
            };
            self.out.reserve_exact(need.max(grown) - start);
        }
        message.encode_frame(channel, &mut self.out);
        if let Some(tx) = &mut self.tx {
            tx.apply(&mut self.out[start..]);
        }
        self.sent_since_tick = true;
    }

    fn fail(&mut self, error: SessionError) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.out.clear();
        self.input = Vec::new();
        self.input_pos = 0;
        self.input_end = 0;
        self.push_event(Event::Closed(CloseReason::Error(error)));
    }
}

/// A frame detached from the input buffer.
enum Incoming {
    Ping,
    Empty,
    Message {
        channel: u16,
        kind: u8,
        message: Result<Message<'static>, MessageError>,
    },
}

impl Incoming {
    /// Detach `frame`; a Data block is copied into a buffer from `spare` when there is one.
    fn from_frame(frame: Frame<'_>, spare: &mut Vec<Vec<u8>>) -> Self {
        match frame {
            Frame::Ping => Self::Ping,
            // JS ignores a one-byte frame, but it still needs the key to go on (`_needsKey`).
            Frame::Empty => Self::Empty,
            Frame::Message {
                channel,
                kind,
                body,
            } => Self::Message {
                channel,
                kind,
                message: Message::decode(kind, body).map(|m| match m {
                    Message::Data(d) => Message::Data(message::Data {
                        index: d.index,
                        value: d.value.map(|v| {
                            let mut buf = spare.pop().unwrap_or_default();
                            buf.clear();
                            buf.extend_from_slice(&v);
                            Cow::Owned(buf)
                        }),
                        nodes: d.nodes,
                        signature: d.signature,
                    }),
                    m => m.into_owned(),
                }),
            },
        }
    }
}

/// What an event holds, roughly: its payload plus a fixed overhead.
fn event_size(event: &Event) -> usize {
    match event {
        Event::Message { message, .. } => approx_size(message),
        Event::Extension { name, payload, .. } => 64 + name.len() + payload.len(),
        Event::Handshake(h) => {
            let bytes = |b: &Option<Cow<'_, [u8]>>| b.as_ref().map_or(0, |b| b.len());
            let names: usize = h.extensions.iter().map(|e| 16 + e.len()).sum();
            64 + bytes(&h.id) + bytes(&h.user_data) + names
        }
        _ => 64,
    }
}

fn approx_size(message: &Message<'_>) -> usize {
    match message {
        Message::Data(d) => 64 + d.value.as_ref().map_or(0, |v| v.len()) + 48 * d.nodes.len(),
        Message::Have(h) => 64 + h.bitfield.as_ref().map_or(0, |b| b.len()),
        _ => 64,
    }
}
