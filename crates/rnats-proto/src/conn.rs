//! The connection state machine: handshake, subscriptions, pings, flushes and the reconnect
//! buffer. No IO and no clock: the caller feeds it operations and the current time.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::encode::{encode_pub, encode_pub_head, encode_sub, encode_unsub};
use crate::error::{ProtoError, ProtoErrorKind};
use crate::headers::HeaderMap;
use crate::info::{ConnectInfo, ServerInfo};
use crate::op::{Msg, ServerOp, Sid};
use crate::parse::parse;
use crate::subject::{self, Subject};

/// Settings of a [`Connection`].
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConnectionConfig {
    /// How often to PING the server to detect a dead connection.
    pub ping_interval: Duration,
    /// How many PINGs may go unanswered before the connection is declared stale.
    pub max_pings_out: usize,
    /// Most bytes of publishes kept while not connected; 0 refuses publishing when not
    /// connected.
    pub reconnect_buffer_size: usize,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            ping_interval: Duration::from_secs(60),
            max_pings_out: 2,
            reconnect_buffer_size: 8 * 1024 * 1024,
        }
    }
}

/// Where the connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnState {
    /// A transport is being opened; waiting for the server's first `INFO`.
    Connecting,
    /// `INFO` arrived; waiting for the caller to [`Connection::send_connect`].
    Handshaking,
    /// `CONNECT` and `PING` were sent; waiting for the `PONG` that confirms them.
    AwaitingPong,
    /// Connected: operations flow.
    Connected,
    /// The transport was lost; publishes are buffered until the next handshake.
    Disconnected,
    /// Closed for good.
    Closed,
}

/// Identifies a flush: completed when the server answers the `PING` sent for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlushToken(pub u64);

/// Something the caller must act on, returned by [`Connection::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The server sent `INFO`. During the handshake the caller must answer with
    /// [`Connection::send_connect`].
    Info(Box<ServerInfo>),
    /// The handshake completed: subscriptions were replayed and buffered publishes released.
    Connected,
    /// A message for a live subscription.
    Message(Msg),
    /// A subscription reached its auto-unsubscribe limit; its last message was already
    /// returned.
    SubscriptionDone(Sid),
    /// The `PING` of a flush was answered.
    FlushComplete(FlushToken),
    /// A flush could not complete because the connection was closed.
    FlushFailed(FlushToken),
    /// The server sent `-ERR`; the text has its quotes stripped.
    ServerError(String),
    /// `max_pings_out` PINGs went unanswered: the caller should drop the transport.
    StaleConnection,
    /// The server announced lame duck mode: it will shut down soon.
    LameDuck,
}

/// What to do with a message, from [`Connection::deliver`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// Deliver it to its subscription.
    Deliver,
    /// Deliver it; it is the subscription's last (auto-unsubscribe limit reached): end the
    /// subscription after it.
    Last,
    /// No such subscription (normal right after an unsubscribe): drop it.
    Unknown,
}

/// A live subscription, as replayed on reconnect.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionInfo {
    /// Subject (may contain wildcards).
    pub subject: Subject,
    /// Queue group, if any.
    pub queue_group: Option<String>,
    /// Auto-unsubscribe after this many messages in total.
    pub max: Option<u64>,
    /// Messages delivered so far.
    pub delivered: u64,
    /// `UNSUB` was sent; messages already on their way are still delivered.
    pub draining: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PingPurpose {
    Handshake,
    KeepAlive,
    Flush(FlushToken),
}

/// The client side of one NATS connection, across reconnects.
///
/// Driving order, once per wake-up of the IO task:
/// 1. feed bytes read from the transport to [`Connection::handle_input`] (or parsed operations
///    to [`Connection::handle_op`]);
/// 2. write what [`Connection::poll_transmit`] hands out;
/// 3. call [`Connection::handle_timeout`] when [`Connection::poll_timeout`]'s instant passed;
/// 4. act on every [`Connection::poll_event`].
///
/// When the transport fails call [`Connection::handle_disconnect`]; when a new one is open call
/// [`Connection::handle_transport_open`] and go on from step 1.
#[derive(Debug)]
pub struct Connection {
    config: ConnectionConfig,
    state: ConnState,
    info: Option<ServerInfo>,
    /// Bytes to write on the current transport: the tail being encoded, after `chunks`.
    out: BytesMut,
    /// Complete buffers to write before `out`, in order: large payloads queued as they are
    /// (not copied) and the encoded bytes that came before each. Empty unless a payload of
    /// at least [`VECTORED_PAYLOAD`] bytes is waiting.
    chunks: VecDeque<Bytes>,
    /// Bytes in `chunks`.
    chunks_len: usize,
    /// Publishes held while not connected, released after the handshake.
    pending: BytesMut,
    /// Keyed by the connection's own ids: a fast hasher, nothing chosen by a peer.
    subs: HashMap<Sid, SubscriptionInfo, foldhash::fast::RandomState>,
    next_sid: u64,
    pings: VecDeque<PingPurpose>,
    keepalives_unanswered: usize,
    next_ping_at: Option<Instant>,
    deferred_flushes: Vec<FlushToken>,
    next_flush: u64,
    events: VecDeque<Event>,
    unknown_sid_msgs: u64,
}

impl Connection {
    /// A connection in the [`ConnState::Connecting`] state.
    pub fn new(config: ConnectionConfig) -> Self {
        Self {
            config,
            state: ConnState::Connecting,
            info: None,
            out: BytesMut::with_capacity(64 * 1024),
            chunks: VecDeque::new(),
            chunks_len: 0,
            pending: BytesMut::new(),
            subs: HashMap::default(),
            next_sid: 1,
            pings: VecDeque::new(),
            keepalives_unanswered: 0,
            next_ping_at: None,
            deferred_flushes: Vec::new(),
            next_flush: 0,
            events: VecDeque::new(),
            unknown_sid_msgs: 0,
        }
    }

    /// The current state.
    pub fn state(&self) -> ConnState {
        self.state
    }

    /// The latest `INFO` from the server.
    pub fn server_info(&self) -> Option<&ServerInfo> {
        self.info.as_ref()
    }

    /// Messages that arrived for a subscription that no longer exists (normal right after an
    /// unsubscribe), dropped.
    pub fn unknown_sid_messages(&self) -> u64 {
        self.unknown_sid_msgs
    }

    // ----- input -----

    /// Parses every complete operation in `buf` and handles it. A parse error means the
    /// stream is corrupt: drop the transport.
    pub fn handle_input(&mut self, buf: &mut BytesMut, now: Instant) -> Result<(), ProtoError> {
        while let Some(op) = parse(buf)? {
            self.handle_op(op, now)?;
        }
        Ok(())
    }

    /// Handles one operation from the server.
    pub fn handle_op(&mut self, op: ServerOp, now: Instant) -> Result<(), ProtoError> {
        match op {
            ServerOp::Msg(msg) => self.handle_msg(msg),
            ServerOp::Ping => {
                if self.state != ConnState::Closed {
                    self.out.extend_from_slice(b"PONG\r\n");
                }
            }
            ServerOp::Pong => self.handle_pong(now),
            ServerOp::Ok => {}
            ServerOp::Err(text) => self.events.push_back(Event::ServerError(text)),
            ServerOp::Info(info) => self.handle_info(info)?,
        }
        Ok(())
    }

    fn handle_msg(&mut self, msg: Msg) {
        let sid = msg.sid;
        match self.deliver(sid) {
            Delivery::Unknown => {}
            Delivery::Deliver => self.events.push_back(Event::Message(msg)),
            Delivery::Last => {
                self.events.push_back(Event::Message(msg));
                self.events.push_back(Event::SubscriptionDone(sid));
            }
        }
    }

    /// Bookkeeping for a message to `sid`, for callers that route messages themselves instead
    /// of taking them from [`Connection::poll_event`] (the hot path: no move through the
    /// event queue). Counts the delivery, and removes the subscription when it reached its
    /// auto-unsubscribe limit.
    pub fn deliver(&mut self, sid: Sid) -> Delivery {
        let Some(sub) = self.subs.get_mut(&sid) else {
            self.unknown_sid_msgs += 1;
            return Delivery::Unknown;
        };
        sub.delivered += 1;
        if sub.max.is_some_and(|max| sub.delivered >= max) {
            self.subs.remove(&sid);
            Delivery::Last
        } else {
            Delivery::Deliver
        }
    }

    fn handle_pong(&mut self, now: Instant) {
        self.keepalives_unanswered = 0;
        match self.pings.pop_front() {
            Some(PingPurpose::Handshake) if self.state == ConnState::AwaitingPong => {
                self.on_connected(now);
            }
            Some(PingPurpose::Flush(token)) => {
                self.events.push_back(Event::FlushComplete(token));
            }
            _ => {}
        }
    }

    fn handle_info(&mut self, info: Box<ServerInfo>) -> Result<(), ProtoError> {
        if self.state == ConnState::Connecting {
            self.state = ConnState::Handshaking;
        }
        if info.lame_duck_mode {
            self.events.push_back(Event::LameDuck);
        }
        self.info = Some((*info).clone());
        self.events.push_back(Event::Info(info));
        Ok(())
    }

    fn on_connected(&mut self, now: Instant) {
        self.state = ConnState::Connected;
        self.next_ping_at = Some(now + self.config.ping_interval);
        let mut sids: Vec<_> = self.subs.keys().copied().collect();
        sids.sort_unstable();
        for sid in sids {
            let sub = &self.subs[&sid];
            if sub.draining {
                continue;
            }
            encode_sub(&mut self.out, sid, &sub.subject, sub.queue_group.as_deref());
            if let Some(max) = sub.max {
                encode_unsub(&mut self.out, sid, Some(max.saturating_sub(sub.delivered)));
            }
        }
        self.out.extend_from_slice(&self.pending);
        self.pending.clear();
        for token in std::mem::take(&mut self.deferred_flushes) {
            self.out.extend_from_slice(b"PING\r\n");
            self.pings.push_back(PingPurpose::Flush(token));
        }
        self.events.push_back(Event::Connected);
    }

    /// A new transport is open (first connect or reconnect): wait for the server's `INFO`.
    pub fn handle_transport_open(&mut self) {
        if self.state != ConnState::Closed {
            self.state = ConnState::Connecting;
            self.clear_output();
            self.pings.clear();
            self.keepalives_unanswered = 0;
            self.next_ping_at = None;
        }
    }

    /// The transport was lost. `unsent` holds bytes the caller took with
    /// [`Connection::poll_transmit`] but did not finish writing, `written` of them having
    /// been written: the publishes among them that were not completely written, and all
    /// publishes not yet taken, are kept for the next connection (bounded by the reconnect
    /// buffer). Outstanding flushes fail; subscriptions are kept for replay.
    pub fn handle_disconnect(&mut self, unsent: &[u8], written: usize) {
        if self.state == ConnState::Closed {
            return;
        }
        let was_connected = self.state == ConnState::Connected;
        self.state = ConnState::Disconnected;
        if was_connected {
            let mut kept = BytesMut::new();
            salvage_publishes(unsent, written, &mut kept);
            if self.chunks.is_empty() {
                salvage_publishes(&self.out, 0, &mut kept);
            } else {
                // Rare (a disconnect with a large payload queued): one contiguous copy.
                let mut queued = BytesMut::with_capacity(self.transmit_len());
                self.chunks.iter().for_each(|c| queued.extend_from_slice(c));
                queued.extend_from_slice(&self.out);
                salvage_publishes(&queued, 0, &mut kept);
            }
            kept.extend_from_slice(&self.pending);
            self.pending = kept;
        }
        self.clear_output();
        self.next_ping_at = None;
        self.keepalives_unanswered = 0;
        for ping in self.pings.drain(..) {
            if let PingPurpose::Flush(token) = ping {
                self.deferred_flushes.push(token);
            }
        }
    }

    /// Closes for good: pending flushes fail, buffered publishes are discarded (the caller
    /// should flush before closing if it cares).
    pub fn close(&mut self) {
        if self.state == ConnState::Closed {
            return;
        }
        self.state = ConnState::Closed;
        self.pending.clear();
        self.next_ping_at = None;
        let failed: Vec<FlushToken> = self
            .pings
            .drain(..)
            .filter_map(|p| match p {
                PingPurpose::Flush(t) => Some(t),
                _ => None,
            })
            .chain(self.deferred_flushes.drain(..))
            .collect();
        for t in failed {
            self.events.push_back(Event::FlushFailed(t));
        }
    }

    /// Answers the server's `INFO` with `CONNECT` and a `PING`; the `PONG` completes the
    /// handshake ([`Event::Connected`]).
    pub fn send_connect(&mut self, connect: &ConnectInfo) -> Result<(), ProtoError> {
        if self.state != ConnState::Handshaking {
            return Err(ProtoError::new(
                ProtoErrorKind::InvalidState,
                format!("CONNECT can only follow INFO (state is {:?})", self.state),
            ));
        }
        let mut connect = connect.clone();
        if self.info.as_ref().is_some_and(|i| i.proto < 1) {
            connect.echo = true;
        }
        self.out.extend_from_slice(b"CONNECT ");
        self.out.extend_from_slice(connect.to_json().as_bytes());
        self.out.extend_from_slice(b"\r\nPING\r\n");
        self.pings.push_back(PingPurpose::Handshake);
        self.state = ConnState::AwaitingPong;
        Ok(())
    }

    // ----- output -----

    /// Drops everything waiting to be written (the transport is gone).
    fn clear_output(&mut self) {
        self.out.clear();
        self.chunks.clear();
        self.chunks_len = 0;
    }

    /// Ends the encoded tail as a complete buffer in `chunks`, so that a payload can follow
    /// it as a buffer of its own.
    fn seal_output(&mut self) {
        if !self.out.is_empty() {
            let head = self.out.split().freeze();
            self.chunks_len += head.len();
            self.chunks.push_back(head);
        }
    }

    /// Moves the bytes ready to be written into `buf` (swapping buffers when `buf` is empty
    /// and no large payload is queued, so no copy is made). See
    /// [`Connection::poll_transmit_chunks`] for the copy-free form.
    pub fn poll_transmit(&mut self, buf: &mut BytesMut) {
        if buf.is_empty() && self.chunks.is_empty() {
            std::mem::swap(&mut self.out, buf);
            return;
        }
        buf.reserve(self.transmit_len());
        for chunk in self.chunks.drain(..) {
            buf.extend_from_slice(&chunk);
        }
        self.chunks_len = 0;
        buf.extend_from_slice(&self.out);
        self.out.clear();
    }

    /// Moves the bytes ready to be written to the end of `queue`, as buffers to write in
    /// order (vectored): large payloads as they were given, never copied.
    pub fn poll_transmit_chunks(&mut self, queue: &mut Vec<Bytes>) {
        queue.extend(self.chunks.drain(..));
        self.chunks_len = 0;
        if !self.out.is_empty() {
            queue.push(self.out.split().freeze());
        }
    }

    /// Bytes waiting in the write buffer.
    pub fn transmit_len(&self) -> usize {
        self.chunks_len + self.out.len()
    }

    /// The bytes waiting in the write buffer when they are one contiguous slice (no large
    /// payload queued), for a caller that writes them itself; follow with
    /// [`Connection::consume_transmit`] for what was written. `None` when they are not.
    pub fn transmit_pending(&self) -> Option<&[u8]> {
        self.chunks.is_empty().then_some(&self.out[..])
    }

    /// Drops the first `n` bytes of the write buffer: they were written.
    pub fn consume_transmit(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                break;
            };
            let take = n.min(front.len());
            bytes::Buf::advance(front, take);
            self.chunks_len -= take;
            n -= take;
            if front.is_empty() {
                self.chunks.pop_front();
            }
        }
        let n = n.min(self.out.len());
        // `advance` moves the start without splitting the allocation; a later reserve reclaims
        // the consumed front.
        bytes::Buf::advance(&mut self.out, n);
    }

    /// Bytes of publishes held until the next connection.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// When [`Connection::handle_timeout`] should next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_ping_at
    }

    /// Sends a keep-alive `PING` when one is due, or reports a stale connection.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(at) = self.next_ping_at else { return };
        if now < at || self.state != ConnState::Connected {
            return;
        }
        if self.keepalives_unanswered >= self.config.max_pings_out {
            self.next_ping_at = None;
            self.events.push_back(Event::StaleConnection);
            return;
        }
        self.keepalives_unanswered += 1;
        self.out.extend_from_slice(b"PING\r\n");
        self.pings.push_back(PingPurpose::KeepAlive);
        self.next_ping_at = Some(now + self.config.ping_interval);
    }

    /// The next event to act on.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    // ----- operations -----

    fn check_size(
        &self,
        headers: Option<&HeaderMap>,
        payload_len: usize,
    ) -> Result<(), ProtoError> {
        let Some(info) = &self.info else {
            return Ok(());
        };
        let size = headers.map_or(0, HeaderMap::encoded_len) + payload_len;
        if info.max_payload > 0 && size > info.max_payload {
            return Err(ProtoError::new(
                ProtoErrorKind::MaxPayloadExceeded,
                format!(
                    "message is {size} bytes (headers included) but the server accepts at most {}",
                    info.max_payload
                ),
            ));
        }
        Ok(())
    }

    /// Validates and encodes a publish. When not connected it is kept for the next connection;
    /// an error says the reconnect buffer is full.
    pub fn publish(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<(), ProtoError> {
        self.publish_inner(subject, reply, headers, Payload::Slice(payload))
    }

    /// [`Connection::publish`] for a payload the caller holds as [`Bytes`]: one of at least
    /// [`VECTORED_PAYLOAD`] bytes is queued as it is, not copied, and handed out by
    /// [`Connection::poll_transmit_chunks`] as a buffer of its own.
    pub fn publish_bytes(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) -> Result<(), ProtoError> {
        self.publish_inner(subject, reply, headers, Payload::Shared(payload))
    }

    fn publish_inner(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: Payload<'_>,
    ) -> Result<(), ProtoError> {
        subject::validate_publish(subject)?;
        if let Some(reply) = reply {
            subject::validate_reply(reply)?;
        }
        if let Some(h) = headers {
            h.validate()?;
        }
        self.check_size(headers, payload.len())?;
        match self.state {
            ConnState::Connected => {
                match payload {
                    Payload::Shared(bytes) if bytes.len() >= VECTORED_PAYLOAD => {
                        encode_pub_head(&mut self.out, subject, reply, headers, bytes.len());
                        self.seal_output();
                        self.chunks_len += bytes.len();
                        self.chunks.push_back(bytes.clone());
                        self.out.extend_from_slice(b"\r\n");
                    }
                    _ => encode_pub(&mut self.out, subject, reply, headers, payload.as_slice()),
                }
                Ok(())
            }
            ConnState::Closed => Err(ProtoError::new(ProtoErrorKind::Closed, "")),
            _ => {
                let size = subject.len()
                    + reply.map_or(0, str::len)
                    + headers.map_or(0, HeaderMap::encoded_len)
                    + payload.len()
                    + 32;
                if self.pending.len() + size > self.config.reconnect_buffer_size {
                    return Err(ProtoError::new(
                        ProtoErrorKind::ReconnectBufferFull,
                        format!(
                            "not connected, and this publish does not fit in the {} bytes kept for the next connection",
                            self.config.reconnect_buffer_size
                        ),
                    ));
                }
                encode_pub(
                    &mut self.pending,
                    subject,
                    reply,
                    headers,
                    payload.as_slice(),
                );
                Ok(())
            }
        }
    }

    /// Validates and registers a subscription; sends `SUB` when connected (otherwise it is
    /// sent by the next handshake).
    pub fn subscribe(
        &mut self,
        subject: &str,
        queue_group: Option<&str>,
    ) -> Result<Sid, ProtoError> {
        subject::validate_subscribe(subject)?;
        if let Some(q) = queue_group {
            subject::validate_queue_group(q)?;
        }
        if self.state == ConnState::Closed {
            return Err(ProtoError::new(ProtoErrorKind::Closed, ""));
        }
        let sid = Sid(self.next_sid);
        self.next_sid += 1;
        if self.state == ConnState::Connected {
            encode_sub(&mut self.out, sid, subject, queue_group);
        }
        self.subs.insert(
            sid,
            SubscriptionInfo {
                subject: Subject::from(subject),
                queue_group: queue_group.map(str::to_owned),
                max: None,
                delivered: 0,
                draining: false,
            },
        );
        Ok(sid)
    }

    /// Removes a subscription now. False when it did not exist (already done).
    pub fn unsubscribe(&mut self, sid: Sid) -> bool {
        let Some(sub) = self.subs.remove(&sid) else {
            return false;
        };
        if self.state == ConnState::Connected && !sub.draining {
            encode_unsub(&mut self.out, sid, None);
        }
        true
    }

    /// Starts draining a subscription: `UNSUB` is sent now, but messages the server sent
    /// before it processed the `UNSUB` are still delivered until [`Connection::unsubscribe`]
    /// removes it (typically once a [`Connection::flush`] completes). A draining subscription
    /// is not replayed on reconnect. False when it does not exist.
    pub fn drain_subscription(&mut self, sid: Sid) -> bool {
        let Some(sub) = self.subs.get_mut(&sid) else {
            return false;
        };
        if !sub.draining {
            sub.draining = true;
            if self.state == ConnState::Connected {
                encode_unsub(&mut self.out, sid, None);
            }
        }
        true
    }

    /// Removes a subscription once it has delivered `max` messages in total. Returns
    /// `Some(true)` when that is already the case (it was removed now, emit no more),
    /// `Some(false)` when the limit was recorded, `None` when the subscription does not exist.
    pub fn unsubscribe_after(&mut self, sid: Sid, max: u64) -> Option<bool> {
        let sub = self.subs.get_mut(&sid)?;
        if sub.draining {
            return Some(false);
        }
        if sub.delivered >= max {
            self.unsubscribe(sid);
            return Some(true);
        }
        sub.max = Some(max);
        if self.state == ConnState::Connected {
            encode_unsub(&mut self.out, sid, Some(max));
        }
        Some(false)
    }

    /// The live subscription `sid`.
    pub fn subscription(&self, sid: Sid) -> Option<&SubscriptionInfo> {
        self.subs.get(&sid)
    }

    /// Number of live subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.subs.len()
    }

    /// Sends a `PING` whose `PONG` completes the returned token: everything written before it
    /// has then been processed by the server. When not connected the `PING` is sent after
    /// the next handshake.
    pub fn flush(&mut self) -> Result<FlushToken, ProtoError> {
        if self.state == ConnState::Closed {
            return Err(ProtoError::new(ProtoErrorKind::Closed, ""));
        }
        let token = FlushToken(self.next_flush);
        self.next_flush += 1;
        if self.state == ConnState::Connected {
            self.out.extend_from_slice(b"PING\r\n");
            self.pings.push_back(PingPurpose::Flush(token));
        } else {
            self.deferred_flushes.push(token);
        }
        Ok(token)
    }
}

/// Payloads of at least this many bytes given as [`Bytes`] ([`Connection::publish_bytes`]) are
/// not copied into the write buffer: they are written from their own buffer, vectored.
/// Smaller ones cost less to copy than an extra buffer to write.
pub const VECTORED_PAYLOAD: usize = 16 * 1024;

/// A publish's payload: borrowed (always copied) or shared (large ones queued as they are).
#[derive(Clone, Copy)]
enum Payload<'a> {
    Slice(&'a [u8]),
    Shared(&'a Bytes),
}

impl Payload<'_> {
    fn as_slice(&self) -> &[u8] {
        match self {
            Payload::Slice(s) => s,
            Payload::Shared(b) => b,
        }
    }

    fn len(&self) -> usize {
        self.as_slice().len()
    }
}

/// Copies to `out` the `PUB`/`HPUB` operations of the client byte stream `buf` that were not
/// completely written (those ending after `written`). Other operations (`SUB`, `PING`, …) are
/// dropped: the handshake replays what is still needed.
pub(crate) fn salvage_publishes(buf: &[u8], written: usize, out: &mut BytesMut) {
    let mut pos = 0;
    while pos < buf.len() {
        let rest = &buf[pos..];
        let Some(nl) = memchr::memchr(b'\n', rest) else {
            return;
        };
        let line = &rest[..nl.saturating_sub(1)];
        let mut end = nl + 1;
        let is_pub = line.starts_with(b"PUB ") || line.starts_with(b"HPUB ");
        if is_pub {
            // The last field is the total size of what follows the line.
            let size = line
                .rsplit(|b| *b == b' ')
                .next()
                .and_then(|s| std::str::from_utf8(s).ok())
                .and_then(|s| s.parse::<usize>().ok());
            let Some(size) = size else { return };
            // Sizes come from our own encoder, but never trust arithmetic on bytes.
            match size.checked_add(end + 2) {
                Some(e) if e <= buf.len() - pos => end = e,
                _ => return,
            }
            if pos + end > written {
                out.extend_from_slice(&rest[..end]);
            }
        }
        pos += end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn info_op() -> ServerOp {
        ServerOp::Info(Box::new(ServerInfo {
            max_payload: 1024,
            proto: 1,
            headers: true,
            ..ServerInfo::default()
        }))
    }

    fn take(conn: &mut Connection) -> Vec<u8> {
        let mut b = BytesMut::new();
        conn.poll_transmit(&mut b);
        b.to_vec()
    }

    fn events(conn: &mut Connection) -> Vec<Event> {
        std::iter::from_fn(|| conn.poll_event()).collect()
    }

    fn connected(now: Instant) -> Connection {
        connected_with(now, info_op())
    }

    /// Connected to a server that takes 1 MiB payloads.
    fn connected_big(now: Instant) -> Connection {
        connected_with(
            now,
            ServerOp::Info(Box::new(ServerInfo {
                max_payload: 1 << 20,
                proto: 1,
                headers: true,
                ..ServerInfo::default()
            })),
        )
    }

    fn connected_with(now: Instant, info: ServerOp) -> Connection {
        let mut c = Connection::new(ConnectionConfig::default());
        c.handle_op(info, now).unwrap();
        c.send_connect(&ConnectInfo::default()).unwrap();
        c.handle_op(ServerOp::Pong, now).unwrap();
        assert_eq!(c.state(), ConnState::Connected);
        take(&mut c);
        events(&mut c);
        c
    }

    fn msg(sid: u64, payload: &'static [u8]) -> ServerOp {
        ServerOp::Msg(Msg {
            subject: "s".into(),
            sid: Sid(sid),
            reply: None,
            headers: None,
            status: None,
            description: None,
            payload: Bytes::from_static(payload),
            length: payload.len(),
        })
    }

    #[test]
    fn handshake() {
        let now = Instant::now();
        let mut c = Connection::new(ConnectionConfig::default());
        assert!(c.send_connect(&ConnectInfo::default()).is_err());
        c.handle_op(info_op(), now).unwrap();
        assert!(matches!(events(&mut c)[..], [Event::Info(_)]));
        c.send_connect(&ConnectInfo::default()).unwrap();
        let out = String::from_utf8(take(&mut c)).unwrap();
        assert!(
            out.starts_with("CONNECT {") && out.ends_with("}\r\nPING\r\n"),
            "{out}"
        );
        assert_eq!(c.state(), ConnState::AwaitingPong);
        c.handle_op(ServerOp::Pong, now).unwrap();
        assert_eq!(events(&mut c), [Event::Connected]);
        assert_eq!(c.poll_timeout(), Some(now + Duration::from_secs(60)));
    }

    #[test]
    fn server_ping_is_answered() {
        let now = Instant::now();
        let mut c = connected(now);
        c.handle_op(ServerOp::Ping, now).unwrap();
        assert_eq!(take(&mut c), b"PONG\r\n");
    }

    #[test]
    fn auto_unsubscribe_counts() {
        let now = Instant::now();
        let mut c = connected(now);
        let sid = c.subscribe("s", None).unwrap();
        assert_eq!(c.unsubscribe_after(sid, 2), Some(false));
        assert_eq!(take(&mut c), b"SUB s 1\r\nUNSUB 1 2\r\n");
        c.handle_op(msg(1, b"a"), now).unwrap();
        c.handle_op(msg(1, b"b"), now).unwrap();
        c.handle_op(msg(1, b"c"), now).unwrap();
        let ev = events(&mut c);
        assert_eq!(ev.len(), 3);
        assert!(matches!(ev[2], Event::SubscriptionDone(Sid(1))));
        assert_eq!(c.unknown_sid_messages(), 1);
        assert_eq!(c.subscription_count(), 0);
    }

    #[test]
    fn keepalive_then_stale() {
        let now = Instant::now();
        let mut c = connected(now);
        let t1 = now + Duration::from_secs(60);
        c.handle_timeout(t1);
        assert_eq!(take(&mut c), b"PING\r\n");
        c.handle_timeout(t1 + Duration::from_secs(60));
        assert_eq!(take(&mut c), b"PING\r\n");
        c.handle_timeout(t1 + Duration::from_secs(120));
        assert_eq!(events(&mut c), [Event::StaleConnection]);
        assert_eq!(c.poll_timeout(), None);
    }

    #[test]
    fn pong_resets_keepalive_count() {
        let now = Instant::now();
        let mut c = connected(now);
        for i in 1..10 {
            c.handle_timeout(now + Duration::from_secs(60 * i));
            c.handle_op(ServerOp::Pong, now).unwrap();
        }
        assert!(events(&mut c).is_empty());
    }

    #[test]
    fn flushes_complete_in_order() {
        let now = Instant::now();
        let mut c = connected(now);
        let a = c.flush().unwrap();
        let b = c.flush().unwrap();
        assert_eq!(take(&mut c), b"PING\r\nPING\r\n");
        c.handle_op(ServerOp::Pong, now).unwrap();
        c.handle_op(ServerOp::Pong, now).unwrap();
        assert_eq!(
            events(&mut c),
            [Event::FlushComplete(a), Event::FlushComplete(b)]
        );
    }

    #[test]
    fn reconnect_replays_subs_then_publishes_then_flushes() {
        let now = Instant::now();
        let mut c = connected(now);
        let s1 = c.subscribe("a", Some("q")).unwrap();
        let s2 = c.subscribe("b.>", None).unwrap();
        c.unsubscribe_after(s2, 5);
        c.handle_op(msg(s2.0, b"x"), now).unwrap();
        let written = take(&mut c);
        c.publish("p", None, None, b"lost?").unwrap();
        let tok = c.flush().unwrap();
        c.handle_disconnect(&written, written.len());
        assert_eq!(c.state(), ConnState::Disconnected);
        c.publish("p", Some("r"), None, b"later").unwrap();
        c.handle_transport_open();
        c.handle_op(info_op(), now).unwrap();
        c.send_connect(&ConnectInfo::default()).unwrap();
        take(&mut c);
        c.handle_op(ServerOp::Pong, now).unwrap();
        let out = String::from_utf8(take(&mut c)).unwrap();
        assert_eq!(
            out,
            format!(
                "SUB a q {s1}\r\nSUB b.> {s2}\r\nUNSUB {s2} 4\r\nPUB p 5\r\nlost?\r\nPUB p r 5\r\nlater\r\nPING\r\n"
            )
        );
        c.handle_op(ServerOp::Pong, now).unwrap();
        assert!(events(&mut c).contains(&Event::FlushComplete(tok)));
    }

    #[test]
    fn partially_written_publish_is_kept() {
        let stream = b"PUB a 1\r\nx\r\nSUB b 1\r\nPUB c 2\r\nyy\r\nPING\r\n";
        let mut out = BytesMut::new();
        salvage_publishes(stream, 14, &mut out);
        assert_eq!(&out[..], b"PUB c 2\r\nyy\r\n");
        let mut out = BytesMut::new();
        salvage_publishes(stream, 0, &mut out);
        assert_eq!(&out[..], b"PUB a 1\r\nx\r\nPUB c 2\r\nyy\r\n");
    }

    #[test]
    fn reconnect_buffer_is_bounded() {
        let mut c = Connection::new(ConnectionConfig {
            reconnect_buffer_size: 100,
            ..ConnectionConfig::default()
        });
        c.publish("a", None, None, &[0; 40]).unwrap();
        let err = c.publish("a", None, None, &[0; 40]).unwrap_err();
        assert_eq!(err.kind(), ProtoErrorKind::ReconnectBufferFull);
        assert!(err.to_string().contains("reconnect buffer"));
    }

    #[test]
    fn publish_checks() {
        let now = Instant::now();
        let mut c = connected(now);
        assert!(c.publish("a", None, None, &[0; 1024]).is_ok());
        let err = c.publish("a", None, None, &[0; 1025]).unwrap_err();
        assert_eq!(err.kind(), ProtoErrorKind::MaxPayloadExceeded);
        let mut h = HeaderMap::new();
        h.insert("K", "v");
        let err = c.publish("a", None, Some(&h), &[0; 1020]).unwrap_err();
        assert_eq!(err.kind(), ProtoErrorKind::MaxPayloadExceeded);
        assert!(c.publish("a b", None, None, b"").is_err());
        assert!(c.publish("a", Some("r r"), None, b"").is_err());
        assert!(c.subscribe("a..b", None).is_err());
        assert!(c.subscribe("a", Some("q q")).is_err());
    }

    #[test]
    fn drain_keeps_routing_until_removed() {
        let now = Instant::now();
        let mut c = connected(now);
        let sid = c.subscribe("s", None).unwrap();
        assert!(c.drain_subscription(sid));
        assert_eq!(take(&mut c), b"SUB s 1\r\nUNSUB 1\r\n");
        c.handle_op(msg(1, b"in flight"), now).unwrap();
        assert!(matches!(events(&mut c)[..], [Event::Message(_)]));
        assert!(c.unsubscribe(sid));
        assert!(take(&mut c).is_empty(), "no second UNSUB");
    }

    /// Everything `poll_transmit_chunks` hands out, concatenated, and the buffers' count.
    fn take_chunks(c: &mut Connection) -> (Vec<u8>, usize) {
        let mut queue = Vec::new();
        c.poll_transmit_chunks(&mut queue);
        (queue.concat(), queue.len())
    }

    #[test]
    fn large_shared_payloads_are_queued_without_copy() {
        let now = Instant::now();
        let mut c = connected_big(now);
        let big = Bytes::from(vec![7u8; VECTORED_PAYLOAD]);
        let small = Bytes::from_static(b"tiny");
        c.publish_bytes("a", None, None, &small).unwrap();
        c.publish_bytes("b", Some("r"), None, &big).unwrap();
        c.publish_bytes("c", None, None, &small).unwrap();
        assert_eq!(c.transmit_len(), 9 + 6 + 15 + VECTORED_PAYLOAD + 2 + 15);
        // Not one contiguous slice: a caller may not write it itself.
        assert_eq!(c.transmit_pending(), None);
        let mut queue = Vec::new();
        c.poll_transmit_chunks(&mut queue);
        assert_eq!(queue.len(), 3, "head, payload, tail");
        // The payload buffer is the caller's own allocation, not a copy.
        assert_eq!(queue[1].as_ptr(), big.as_ptr());
        let mut expected = b"PUB a 4\r\ntiny\r\nPUB b r ".to_vec();
        expected.extend_from_slice(format!("{VECTORED_PAYLOAD}\r\n").as_bytes());
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"\r\nPUB c 4\r\ntiny\r\n");
        assert_eq!(queue.concat(), expected);
        assert_eq!(c.transmit_len(), 0);
        // The same bytes as the copying encoder would have produced.
        let mut copy = connected_big(now);
        copy.publish("a", None, None, &small).unwrap();
        copy.publish("b", Some("r"), None, &big).unwrap();
        copy.publish("c", None, None, &small).unwrap();
        assert_eq!(take(&mut copy), expected);
    }

    #[test]
    fn queued_large_payloads_are_consumed_and_salvaged_in_order() {
        let now = Instant::now();
        let mut c = connected_big(now);
        let big = Bytes::from(vec![1u8; VECTORED_PAYLOAD + 5]);
        c.publish_bytes("a", None, None, &big).unwrap();
        c.publish("b", None, None, b"xy").unwrap();
        let total = c.transmit_len();
        // A caller-side consume crosses buffer boundaries.
        c.consume_transmit(10);
        c.consume_transmit(VECTORED_PAYLOAD);
        assert_eq!(c.transmit_len(), total - 10 - VECTORED_PAYLOAD);
        let (rest, _) = take_chunks(&mut c);
        assert!(rest.ends_with(b"\r\nPUB b 2\r\nxy\r\n"), "{rest:?}");
        // A disconnect with a large payload still queued keeps both publishes, in order.
        c.publish_bytes("a", None, None, &big).unwrap();
        c.publish("b", None, None, b"xy").unwrap();
        c.handle_disconnect(&[], 0);
        assert_eq!(c.transmit_len(), 0);
        c.handle_transport_open();
        c.handle_op(info_op(), now).unwrap();
        c.send_connect(&ConnectInfo::default()).unwrap();
        c.handle_op(ServerOp::Pong, now).unwrap();
        let (replayed, _) = take_chunks(&mut c);
        let mut expected = format!("PUB a {}\r\n", big.len()).into_bytes();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"\r\nPUB b 2\r\nxy\r\n");
        assert!(
            replayed.ends_with(&expected),
            "replay lost or reordered a publish"
        );
    }

    #[test]
    fn poll_transmit_copies_queued_chunks_in_order() {
        let now = Instant::now();
        let mut c = connected_big(now);
        let big = Bytes::from(vec![9u8; VECTORED_PAYLOAD]);
        c.publish_bytes("a", None, None, &big).unwrap();
        let mut buf = BytesMut::new();
        c.poll_transmit(&mut buf);
        let mut expected = format!("PUB a {VECTORED_PAYLOAD}\r\n").into_bytes();
        expected.extend_from_slice(&big);
        expected.extend_from_slice(b"\r\n");
        assert_eq!(&buf[..], &expected[..]);
        assert_eq!(c.transmit_len(), 0);
    }

    #[test]
    fn transmit_can_be_written_by_the_caller() {
        let now = Instant::now();
        let mut c = connected(now);
        c.publish("a", None, None, b"xy").unwrap();
        assert_eq!(c.transmit_pending(), Some(&b"PUB a 2\r\nxy\r\n"[..]));
        c.consume_transmit(4);
        assert_eq!(c.transmit_pending(), Some(&b"a 2\r\nxy\r\n"[..]));
        c.consume_transmit(100);
        assert_eq!(c.transmit_len(), 0);
        c.publish("b", None, None, b"").unwrap();
        assert_eq!(take(&mut c), b"PUB b 0\r\n\r\n");
    }

    #[test]
    fn close_fails_flushes() {
        let now = Instant::now();
        let mut c = connected(now);
        let t = c.flush().unwrap();
        c.close();
        assert_eq!(events(&mut c), [Event::FlushFailed(t)]);
        assert!(c.publish("a", None, None, b"").is_err());
    }

    #[test]
    fn lame_duck_info_is_reported() {
        let now = Instant::now();
        let mut c = connected(now);
        let info = ServerInfo {
            lame_duck_mode: true,
            ..ServerInfo::default()
        };
        c.handle_op(ServerOp::Info(Box::new(info)), now).unwrap();
        assert!(events(&mut c).contains(&Event::LameDuck));
    }
}
