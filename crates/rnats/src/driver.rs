//! The one task that owns the socket: reads, parses, routes, writes, keeps time and
//! reconnects. Everything else talks to it through [`Shared`].

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::BytesMut;
use rnats_proto::{parse, ConnState, ConnectInfo, Delivery, Event, ServerOp, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::time::{Instant, Sleep};
use tokio_util::io::poll_read_buf;
use tracing::Instrument;

use crate::addr::ServerAddr;
use crate::error::{Error, ErrorKind};
use crate::events::Event as ClientEvent;
use crate::request::{expire_requests, Answer, ReplySlot};
use crate::shared::{Core, Lifecycle, Shared};
use crate::subscriber::Pushed;
use crate::transport::batch::WriteBatch;
use crate::transport::{self, Stream};

/// Read buffer growth step.
const READ_CHUNK: usize = 64 * 1024;
/// Iterations of the IO loop before yielding to other tasks.
const MAX_SPINS: usize = 32;

/// An open, handshaken connection.
pub(crate) struct Transport {
    stream: Stream,
    /// Bytes read past the handshake.
    rbuf: BytesMut,
}

/// What happened during event processing that the IO loop must act on.
#[derive(Default)]
struct Flags {
    need_connect: bool,
    connected: bool,
    stale: bool,
    lame_duck: bool,
    server_error: Option<String>,
}

/// What the driver hands out once it has released the core lock: waking a task or completing
/// a request while holding the lock would let that task run straight into the held lock.
#[derive(Default)]
pub(crate) struct Outbox {
    wakers: Vec<Waker>,
    events: Vec<ClientEvent>,
    /// Requests ended: answered, timed out, or closed.
    replies: Vec<(Arc<ReplySlot>, Answer)>,
    flushes: Vec<(FlushSender, Result<(), Error>)>,
    /// Messages queued for subscribers (added to `Shared::unconsumed` before the wakes).
    queued: isize,
}

/// Completes one `flush()`.
type FlushSender = oneshot::Sender<Result<(), Error>>;

impl Outbox {
    /// Wakes subscribers, answers requests and flushes, raises events. Call without the lock.
    fn deliver(&mut self, shared: &Shared) {
        let queued = std::mem::take(&mut self.queued);
        if queued != 0 {
            shared.unconsumed.fetch_add(queued, Ordering::Relaxed);
        }
        self.wakers.drain(..).for_each(Waker::wake);
        // Every answer is in its slot before the first task is woken (see `ReplyWakes`).
        if !self.replies.is_empty() {
            let filled = self.replies.drain(..).map(|(slot, answer)| {
                slot.fill(answer);
                slot
            });
            shared.reply_wakes.queue(filled);
            shared.reply_wakes.wake_all();
        }
        for (tx, result) in self.flushes.drain(..) {
            let _ = tx.send(result);
        }
        for e in self.events.drain(..) {
            shared.events.emit(e);
        }
    }
}

/// Handles every pending event of the connection state machine; what must wait until the
/// lock is released goes to `out`.
fn process_events(shared: &Shared, core: &mut Core, out: &mut Outbox) -> Flags {
    let mut flags = Flags::default();
    while let Some(event) = core.conn.poll_event() {
        match event {
            Event::Message(msg) => {
                core.in_msgs += 1;
                route(shared, core, msg, out);
            }
            Event::SubscriptionDone(sid) => core.close_queue(sid, &mut out.wakers),
            Event::FlushComplete(token) => {
                if let Some(tx) = core.flushes.remove(&token) {
                    out.flushes.push((tx, Ok(())));
                }
            }
            Event::FlushFailed(token) => {
                if let Some(tx) = core.flushes.remove(&token) {
                    out.flushes.push((tx, Err(Error::closed())));
                }
            }
            Event::ServerError(text) => {
                let err = Error::from_server(&text);
                if err.is_permission_denied() {
                    close_denied_subscription(core, &text, &mut out.wakers);
                }
                out.events.push(ClientEvent::ServerError(Arc::new(err)));
                flags.server_error = Some(text);
            }
            Event::StaleConnection => flags.stale = true,
            Event::LameDuck => flags.lame_duck = true,
            Event::Info(info) => {
                if core.conn.state() == ConnState::Handshaking {
                    flags.need_connect = true;
                }
                if !shared.options.ignore_discovered_servers {
                    if let Some(origin) = core.current_server.clone() {
                        let found = info
                            .connect_urls
                            .iter()
                            .filter_map(|u| ServerAddr::discovered(u, &origin).ok());
                        let added = core.pool.add_discovered(found);
                        if !added.is_empty() {
                            out.events.push(ClientEvent::DiscoveredServers(added));
                        }
                    }
                }
            }
            Event::Connected => flags.connected = true,
            _ => {}
        }
    }
    flags
}

/// Hands a message to the request waiting for it or to its subscription's queue.
fn route(shared: &Shared, core: &mut Core, msg: rnats_proto::Msg, out: &mut Outbox) {
    if Some(msg.sid) == core.mux_sid {
        if let Some(tx) = crate::request::waiting_request(shared, core, &msg.subject) {
            // Told apart here, where the clock is read for this rare answer only.
            let answer = if msg.status == Some(StatusCode::NO_RESPONDERS) && msg.payload.is_empty()
            {
                Answer::NoResponders(tokio::time::Instant::now())
            } else {
                Answer::Message(msg.into())
            };
            out.replies.push((tx, answer));
        }
    } else if let Some(queue) = core.subs.get(&msg.sid) {
        match queue.push(msg.into()) {
            Pushed::Queued(waker) => {
                out.queued += 1;
                out.wakers.extend(waker);
            }
            Pushed::Abandoned => {}
            Pushed::Dropped { first, total } => {
                shared.stats.dropped_msgs.fetch_add(1, Ordering::Relaxed);
                if first {
                    out.events.push(ClientEvent::SlowConsumer {
                        subject: queue.subject.clone(),
                        dropped: total,
                    });
                }
            }
        }
    }
}

/// A `Permissions Violation for Subscription to "<subject>"` ends the first subscription on
/// that subject: the server dropped its interest (ADR-40).
fn close_denied_subscription(core: &mut Core, text: &str, wakers: &mut Vec<Waker>) {
    let Some(rest) = text.split_once("Subscription to ").map(|(_, r)| r) else {
        return;
    };
    let subject = rest.trim().trim_matches('"');
    let subject = subject.split('"').next().unwrap_or(subject);
    let sid = core
        .subs
        .iter()
        .find(|(_, q)| q.subject == subject)
        .map(|(sid, _)| *sid);
    if let Some(sid) = sid {
        core.conn.unsubscribe(sid);
        core.close_queue(sid, wakers);
    }
}

/// The CONNECT options for `addr`: credentials (explicit options win over the URL's,
/// callbacks asked anew, the nonce signed) and TLS.
async fn connect_info(
    shared: &Shared,
    addr: &ServerAddr,
    nonce: Option<&str>,
    tls: bool,
) -> Result<ConnectInfo, Error> {
    let o = &shared.options;
    let mut ci = ConnectInfo::default();
    ci.name = o.name.clone();
    ci.echo = !o.no_echo;
    ci.tls_required = tls;
    crate::auth::fill(o, addr, nonce, &mut ci).await?;
    Ok(ci)
}

/// Opens the byte stream to `addr`: TCP, then TLS first if asked, or the websocket upgrade
/// (over TLS for `wss://`).
async fn open_stream(shared: &Shared, addr: &ServerAddr) -> Result<Stream, Error> {
    let tls = &shared.options.tls;
    if addr.scheme() == "ws" {
        if let Some(why) = tls_reason(shared, addr) {
            return Err(Error::new(
                ErrorKind::Tls,
                format!(
                    "TLS is required ({why}) but {addr} is a plain websocket address; \
                     not connecting in plain text: use wss://"
                ),
            ));
        }
    }
    let tcp = TcpStream::connect(addr.host_port())
        .await
        .map_err(|e| Error::io("tcp connect failed", e))?;
    tcp.set_nodelay(true)
        .map_err(|e| Error::io("setting TCP_NODELAY failed", e))?;
    Ok(match addr.scheme() {
        "ws" => Stream::Ws(Box::new(transport::websocket::connect(addr, tcp).await?)),
        "wss" => {
            let tls = transport::tls::handshake(tls, addr, tcp).await?;
            Stream::Wss(Box::new(transport::websocket::connect(addr, tls).await?))
        }
        _ if tls.first => Stream::Tls(Box::new(transport::tls::handshake(tls, addr, tcp).await?)),
        _ => Stream::Tcp(Arc::new(tcp)),
    })
}

/// Why `addr` must be reached over TLS whatever its server offers, if it must: the options
/// ask for TLS, the address (or any address the client was given) is `tls://`/`wss://`, or an
/// earlier connection of this client used TLS. TLS never downgrades: once a client has
/// spoken TLS, neither its traffic nor its credentials go to any server in plain text,
/// discovered servers included.
pub(crate) fn tls_reason(shared: &Shared, addr: &ServerAddr) -> Option<&'static str> {
    let tls = &shared.options.tls;
    if tls.required {
        Some("require_tls is set")
    } else if tls.first {
        Some("tls_first is set")
    } else if addr.is_tls() {
        Some("the address is tls:// or wss://")
    } else if shared.tls_in_pool {
        Some("the client was given a tls:// or wss:// address")
    } else if shared.tls_used.load(Ordering::Acquire) {
        Some("an earlier connection of this client used TLS")
    } else {
        None
    }
}

/// After INFO on a plain TCP stream: upgrades to TLS when the client wants it (see
/// [`tls_reason`]) or the server requires it. Never goes on in plain text when TLS was
/// wanted: the connection ends before CONNECT, so no credentials are sent.
async fn upgrade_if_needed(
    shared: &Shared,
    addr: &ServerAddr,
    stream: Stream,
    rbuf: &BytesMut,
) -> Result<Stream, Error> {
    let Stream::Tcp(tcp) = stream else {
        // Already TLS, or a websocket (whose TLS, if any, is the wss:// layer's).
        return Ok(stream);
    };
    // Nothing else holds the stream during the handshake; TLS needs it by value.
    let Ok(tcp) = Arc::try_unwrap(tcp) else {
        return Err(Error::new(
            ErrorKind::Tls,
            "internal: the TCP stream is shared during the handshake; not going on without TLS",
        ));
    };
    let (required, available) = {
        let core = shared.core.lock();
        let info = core.conn.server_info();
        (
            info.is_some_and(|i| i.tls_required),
            info.is_some_and(|i| i.tls_available),
        )
    };
    let wanted = tls_reason(shared, addr);
    let Some(why) = wanted.or(required.then_some("the server requires it")) else {
        return Ok(Stream::Tcp(Arc::new(tcp)));
    };
    if !required && !available {
        return Err(Error::new(
            ErrorKind::Tls,
            format!(
                "TLS is required ({why}) but {addr} does not offer TLS; \
                 not connecting in plain text (nothing was sent to it)"
            ),
        ));
    }
    if !rbuf.is_empty() {
        return Err(Error::new(
            ErrorKind::Protocol,
            "the server sent data after INFO before the TLS handshake",
        ));
    }
    let tls = transport::tls::handshake(&shared.options.tls, addr, tcp).await?;
    Ok(Stream::Tls(Box::new(tls)))
}

/// Opens a connection to `addr` and completes the NATS handshake, within the connection
/// timeout.
pub(crate) async fn open(shared: &Arc<Shared>, addr: &ServerAddr) -> Result<Transport, Error> {
    let timeout = shared.options.connection_timeout;
    match tokio::time::timeout(timeout, open_inner(shared, addr)).await {
        Ok(result) => result,
        Err(_) => Err(Error::new(
            ErrorKind::Timeout,
            format!("connecting took longer than {timeout:?}"),
        )),
    }
}

async fn open_inner(shared: &Arc<Shared>, addr: &ServerAddr) -> Result<Transport, Error> {
    let mut stream = open_stream(shared, addr).await?;
    {
        let mut core = shared.core.lock();
        core.conn.handle_transport_open();
        core.current_server = Some(addr.clone());
    }
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK);
    let mut wbuf = BytesMut::new();
    loop {
        let n = stream
            .read_buf(&mut rbuf)
            .await
            .map_err(|e| Error::io("reading from the server failed during the handshake", e))?;
        if n == 0 {
            return Err(Error::new(
                ErrorKind::Io,
                "the server closed the connection during the handshake",
            ));
        }
        shared.stats.in_bytes.fetch_add(n as u64, Ordering::Relaxed);
        let mut out = Outbox::default();
        let flags = {
            let mut core = shared.core.lock();
            core.conn
                .handle_input(&mut rbuf, std::time::Instant::now())?;
            process_events(shared, &mut core, &mut out)
        };
        if let Some(text) = flags.server_error {
            out.wakers.drain(..).for_each(Waker::wake);
            return Err(Error::from_server(&text));
        }
        out.deliver(shared);
        if flags.need_connect {
            // INFO read: TLS now if wanted or required, then CONNECT (over TLS).
            stream = upgrade_if_needed(shared, addr, stream, &rbuf).await?;
            if stream.is_tls() {
                shared.tls_used.store(true, Ordering::Release);
            }
            let nonce = shared
                .core
                .lock()
                .conn
                .server_info()
                .and_then(|i| i.nonce.clone());
            let info = connect_info(shared, addr, nonce.as_deref(), stream.is_tls()).await?;
            shared.core.lock().conn.send_connect(&info)?;
        }
        shared.core.lock().conn.poll_transmit(&mut wbuf);
        if !wbuf.is_empty() {
            stream
                .write_all(&wbuf)
                .await
                .map_err(|e| Error::io("writing to the server failed during the handshake", e))?;
            stream
                .flush()
                .await
                .map_err(|e| Error::io("writing to the server failed during the handshake", e))?;
            shared
                .stats
                .out_bytes
                .fetch_add(wbuf.len() as u64, Ordering::Relaxed);
            wbuf.clear();
        }
        if flags.connected {
            shared.stats.connects.fetch_add(1, Ordering::Relaxed);
            return Ok(Transport { stream, rbuf });
        }
    }
}

/// Why the connected loop ended.
enum Exit {
    Closed,
    Disconnected(Error),
}

/// The IO task.
pub(crate) struct Driver {
    shared: Arc<Shared>,
    stream: Option<Stream>,
    rbuf: BytesMut,
    /// What the driver took from the core and is writing.
    batch: WriteBatch,
    out: Outbox,
    timer: Pin<Box<Sleep>>,
    timer_at: Option<Instant>,
    close_deadline: Option<Instant>,
    ever_connected: bool,
    /// The driver itself queued output (PONG, keep-alive PING) or changed the ping schedule:
    /// look at the core even if nobody set `attention`.
    refill_needed: bool,
    /// close() was seen: keep checking until the last bytes are written.
    closing_seen: bool,
    /// What one read parsed, before the lock is taken to route it (kept for its capacity).
    ops: Vec<ServerOp>,
}

impl Driver {
    /// A driver for an open connection, or (`None`) one that starts by connecting.
    pub(crate) fn new(shared: Arc<Shared>, transport: Option<Transport>) -> Self {
        let ever_connected = transport.is_some();
        let (stream, rbuf) = match transport {
            Some(t) => (Some(t.stream), t.rbuf),
            None => (None, BytesMut::with_capacity(READ_CHUNK)),
        };
        Self {
            shared,
            stream,
            rbuf,
            batch: WriteBatch::default(),
            out: Outbox::default(),
            timer: Box::pin(tokio::time::sleep(Duration::from_secs(3600))),
            timer_at: None,
            close_deadline: None,
            ever_connected,
            refill_needed: true,
            closing_seen: false,
            ops: Vec::new(),
        }
    }

    /// Lets callers write to the socket directly while it is plain TCP (see
    /// `Shared::write_through`).
    fn share_socket(&self) {
        let direct = match &self.stream {
            Some(Stream::Tcp(tcp)) => Some(tcp.clone()),
            _ => None,
        };
        let mut core = self.shared.core.lock();
        core.direct = direct;
        self.shared.driver_busy.store(false, Ordering::Release);
        drop(core);
        self.shared.attention.store(true, Ordering::Release);
    }

    /// Runs until the client closes (or the reconnect policy gives up).
    pub(crate) async fn run(mut self) {
        self.share_socket();
        loop {
            if self.stream.is_none() {
                let span = tracing::info_span!("rnats.reconnect", first = !self.ever_connected);
                // Requests still time out while there is no connection to read answers from.
                let shared = Arc::clone(&self.shared);
                let reconnecting = self.reconnect().instrument(span);
                let Some(transport) = expire_requests_while(&shared, reconnecting).await else {
                    break;
                };
                let server = self.shared.core.lock().current_server.clone();
                if let Some(server) = server {
                    let event = if self.ever_connected {
                        ClientEvent::Reconnected { server }
                    } else {
                        ClientEvent::Connected { server }
                    };
                    self.shared.events.emit(event);
                }
                self.ever_connected = true;
                self.stream = Some(transport.stream);
                self.share_socket();
                self.rbuf = transport.rbuf;
                self.timer_at = None;
                // Anything already read after the handshake is handled now.
                if let Err(e) = self.handle_read() {
                    self.disconnected(e);
                    continue;
                }
            }
            match poll_fn(|cx| self.poll_connected(cx)).await {
                Exit::Closed => break,
                Exit::Disconnected(err) => self.disconnected(err),
            }
        }
        self.finish().await;
    }

    /// Drops the transport, keeps unsent publishes for the next connection, tells the user.
    fn disconnected(&mut self, err: Error) {
        tracing::info!(error = %err, "disconnected");
        {
            let mut core = self.shared.core.lock();
            let (unsent, written) = self.batch.unsent();
            core.conn.handle_disconnect(&unsent, written);
            core.direct = None;
            self.shared.driver_busy.store(false, Ordering::Release);
        }
        self.stream = None;
        self.batch.clear();
        self.rbuf.clear();
        self.shared.events.emit(ClientEvent::Disconnected {
            reason: Arc::new(err),
        });
    }

    /// Tries servers as the pool and the reconnect policy say, until one connects, the
    /// client closes or the policy gives up. `None` means stop.
    async fn reconnect(&mut self) -> Option<Transport> {
        loop {
            if self.closing() {
                return None;
            }
            let next = {
                let mut core = self.shared.core.lock();
                let delay = &self.shared.options.reconnect_delay;
                let random: u64 = rand::random();
                core.pool
                    .next_attempt_with(std::time::Instant::now(), |round| {
                        delay.delay(round, random)
                    })
            };
            let Some((addr, at)) = next else {
                let failures = self.shared.core.lock().pool.total_failures();
                let err = Error::new(
                    ErrorKind::ConnectFailed,
                    format!(
                        "gave up reconnecting after {failures} failed attempt(s): the reconnect limits were reached"
                    ),
                );
                self.shared
                    .events
                    .emit(ClientEvent::ClientError(Arc::new(err)));
                return None;
            };
            let at = Instant::from_std(at);
            if at > Instant::now() {
                tokio::select! {
                    _ = tokio::time::sleep_until(at) => {}
                    _ = self.shared.close_requested.notified() => return None,
                }
            }
            let shared = self.shared.clone();
            let result = tokio::select! {
                r = open(&shared, &addr) => r,
                _ = self.shared.close_requested.notified() => return None,
            };
            match result {
                Ok(transport) => {
                    self.shared.core.lock().pool.connected(&addr);
                    tracing::info!(server = %addr, "connected");
                    return Some(transport);
                }
                Err(e) => {
                    tracing::debug!(server = %addr, error = %e, "connect attempt failed");
                    self.shared.core.lock().pool.failed(&addr);
                    let err = Arc::new(Error::new(
                        e.kind(),
                        format!("connecting to {addr} failed: {}", e.with_causes()),
                    ));
                    let event = if e.is_auth_error() {
                        ClientEvent::ServerError(err)
                    } else {
                        ClientEvent::ClientError(err)
                    };
                    self.shared.events.emit(event);
                }
            }
        }
    }

    fn closing(&self) -> bool {
        matches!(
            self.shared.core.lock().lifecycle,
            Lifecycle::Closing | Lifecycle::Closed
        )
    }

    /// Parses what was read, then routes it under the lock, taken once for the whole batch.
    /// Parsing happens before the lock is taken: callers publishing or starting requests
    /// meanwhile (on other threads) are not held up by it. Messages take the short path (no
    /// event queue); everything else goes through the state machine's events.
    fn handle_read(&mut self) -> Result<(), Error> {
        let mut result = Ok(());
        let mut ops = std::mem::take(&mut self.ops);
        loop {
            match parse(&mut self.rbuf) {
                Ok(Some(op)) => ops.push(op),
                Ok(None) => break,
                Err(e) => {
                    result = Err(Error::with_source(
                        ErrorKind::Protocol,
                        "bad data from the server",
                        e,
                    ));
                    break;
                }
            }
        }
        let mut core = self.shared.core.lock();
        for op in ops.drain(..) {
            match op {
                ServerOp::Msg(msg) => {
                    core.in_msgs += 1;
                    let sid = msg.sid;
                    match core.conn.deliver(sid) {
                        Delivery::Unknown => {}
                        Delivery::Last => {
                            route(&self.shared, &mut core, msg, &mut self.out);
                            core.close_queue(sid, &mut self.out.wakers);
                        }
                        _ => route(&self.shared, &mut core, msg, &mut self.out),
                    }
                }
                op => {
                    if let Err(e) = core.conn.handle_op(op, std::time::Instant::now()) {
                        // What follows a frame the state machine refused is not handled.
                        result = Err(Error::with_source(
                            ErrorKind::Protocol,
                            "bad data from the server",
                            e,
                        ));
                        break;
                    }
                }
            }
        }
        ops.clear();
        self.ops = ops;
        let flags = process_events(&self.shared, &mut core, &mut self.out);
        // Cloned only when needed: this runs for every read batch.
        let server = if flags.lame_duck {
            core.current_server.clone()
        } else {
            None
        };
        // PONGs to the server's PINGs, for one.
        self.refill_needed |= core.conn.transmit_len() > 0;
        drop(core);
        self.out.deliver(&self.shared);
        result?;
        if flags.stale {
            return Err(stale_error());
        }
        if flags.lame_duck {
            if let Some(server) = server {
                self.shared.events.emit(ClientEvent::LameDuck { server });
            }
            return Err(Error::new(
                ErrorKind::Io,
                "the server entered lame duck mode; moving to another server",
            ));
        }
        Ok(())
    }

    fn poll_connected(&mut self, cx: &mut Context<'_>) -> Poll<Exit> {
        self.shared.driver_waker.register(cx.waker());
        let Some(mut stream) = self.stream.take() else {
            return Poll::Ready(Exit::Disconnected(Error::new(
                ErrorKind::Io,
                "not connected",
            )));
        };
        let exit = self.poll_io(&mut stream, cx);
        self.stream = Some(stream);
        exit
    }

    /// One pass of the connected loop, repeated while anything moves (at most `MAX_SPINS`
    /// times before yielding): read and route, take what callers buffered and write it,
    /// then the keep-alive timer. Each step says whether it made progress or the connection
    /// must end.
    fn poll_io(&mut self, stream: &mut Stream, cx: &mut Context<'_>) -> Poll<Exit> {
        for _ in 0..MAX_SPINS {
            let step = self
                .poll_read_step(stream, cx)
                .and_then(|read| Ok(read | self.poll_transmit_step(stream, cx)?))
                .and_then(|moved| Ok(moved | self.poll_timer_step(cx)?));
            match step {
                Ok(true) => {}
                Ok(false) => return Poll::Pending,
                Err(exit) => return Poll::Ready(exit),
            }
        }
        // Busy: let other tasks run, then come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Step 1: reads what the socket has and routes it. True when bytes were read.
    fn poll_read_step(&mut self, stream: &mut Stream, cx: &mut Context<'_>) -> Result<bool, Exit> {
        if self.rbuf.capacity() - self.rbuf.len() < READ_CHUNK / 2 {
            self.rbuf.reserve(READ_CHUNK);
        }
        let read = match &mut *stream {
            // Plain TCP reads into the spare capacity without zeroing it first.
            Stream::Tcp(tcp) => transport::poll_read_tcp_buf(tcp, cx, &mut self.rbuf),
            other => poll_read_buf(Pin::new(other), cx, &mut self.rbuf),
        };
        match read {
            Poll::Ready(Ok(0)) => Err(Exit::Disconnected(Error::new(
                ErrorKind::Io,
                "the server closed the connection",
            ))),
            Poll::Ready(Ok(n)) => {
                self.shared
                    .stats
                    .in_bytes
                    .fetch_add(n as u64, Ordering::Relaxed);
                self.handle_read().map_err(Exit::Disconnected)?;
                Ok(true)
            }
            Poll::Ready(Err(e)) => Err(Exit::Disconnected(Error::io("reading failed", e))),
            Poll::Pending => Ok(false),
        }
    }

    /// Step 2: takes what callers buffered (once the previous batch is all written) and
    /// writes it; ends the connection once closing and written. True when bytes were
    /// written.
    fn poll_transmit_step(
        &mut self,
        stream: &mut Stream,
        cx: &mut Context<'_>,
    ) -> Result<bool, Exit> {
        let mut progress = false;
        // The lock is taken only when someone asked (attention) or the driver queued output
        // itself. The request to look is consumed only when the previous bytes are all
        // written and the buffer can actually be taken: consumed earlier, it would be lost.
        let mut closing = self.closing_seen;
        let look = self.batch.is_done()
            && (std::mem::take(&mut self.refill_needed)
                | self.shared.attention.swap(false, Ordering::AcqRel)
                | closing);
        if look {
            let mut core = self.shared.core.lock();
            let taken = core.conn.transmit_len();
            self.batch.take_from(&mut core.conn);
            if !self.batch.is_empty() {
                self.shared.driver_busy.store(true, Ordering::Release);
                core.last_write = Some(std::time::Instant::now());
            }
            closing |= matches!(core.lifecycle, Lifecycle::Closing | Lifecycle::Closed);
            self.closing_seen = closing;
            let deadline = match (
                core.conn.poll_timeout().map(Instant::from_std),
                core.next_expiry,
            ) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let forced = std::mem::take(&mut core.force_reconnect);
            drop(core);
            if forced && !closing {
                return Err(Exit::Disconnected(Error::new(
                    ErrorKind::Io,
                    "reconnect requested by force_reconnect",
                )));
            }
            if taken >= self.shared.options.write_buffer_size {
                self.shared.space.notify_waiters();
            }
            self.set_timer(deadline);
        }
        while !self.batch.is_done() {
            match self.batch.poll_write(stream, cx) {
                Poll::Ready(Ok(0)) => {
                    return Err(Exit::Disconnected(Error::new(
                        ErrorKind::Io,
                        "the socket accepts no more data",
                    )))
                }
                Poll::Ready(Ok(n)) => {
                    progress = true;
                    self.shared
                        .stats
                        .out_bytes
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
                Poll::Ready(Err(e)) => {
                    return Err(Exit::Disconnected(Error::io("writing failed", e)))
                }
                Poll::Pending => break,
            }
        }
        // TLS and websocket streams may hold written bytes back; TCP's flush is a no-op.
        if self.batch.is_done() {
            if let Poll::Ready(Err(e)) = Pin::new(&mut *stream).poll_flush(cx) {
                return Err(Exit::Disconnected(Error::io("writing failed", e)));
            }
            // All taken bytes are written: callers may write directly again, and the
            // buffers go back to the connection's write buffer for reuse.
            if !self.batch.is_empty() {
                self.shared.driver_busy.store(false, Ordering::Release);
                self.batch.clear();
            }
        }
        if closing {
            let deadline = *self
                .close_deadline
                .get_or_insert_with(|| Instant::now() + self.shared.options.connection_timeout);
            if self.batch.is_done() || Instant::now() >= deadline {
                return Err(Exit::Closed);
            }
            self.set_timer(Some(deadline));
        }
        Ok(progress)
    }

    /// Step 3: keep-alive pings, stale detection and request timeouts, when the timer is
    /// due. True when it fired.
    fn poll_timer_step(&mut self, cx: &mut Context<'_>) -> Result<bool, Exit> {
        // A request with a sooner deadline than the timer's: re-armed here, not only when
        // the transmit step next looks at the core (which waits for a write to finish).
        if self.shared.expiry_sooner.swap(false, Ordering::AcqRel) {
            let next = self.shared.core.lock().next_expiry;
            self.set_timer(next);
        }
        if self.timer_at.is_none() || self.timer.as_mut().poll(cx).is_pending() {
            return Ok(false);
        }
        self.timer_at = None;
        let mut core = self.shared.core.lock();
        core.conn.handle_timeout(std::time::Instant::now());
        expire_requests(&mut core, Instant::now(), &mut self.out.replies);
        // A keep-alive PING to write, and a new deadline to arm.
        self.refill_needed = true;
        let flags = process_events(&self.shared, &mut core, &mut self.out);
        drop(core);
        self.out.deliver(&self.shared);
        if flags.stale {
            return Err(Exit::Disconnected(stale_error()));
        }
        Ok(true)
    }

    fn set_timer(&mut self, at: Option<Instant>) {
        if let Some(at) = at {
            if self.timer_at.is_none_or(|cur| at < cur) {
                self.timer.as_mut().reset(at);
                self.timer_at = Some(at);
            }
        }
    }

    /// Closes the socket and ends everything that waits on the connection.
    async fn finish(mut self) {
        if let Some(stream) = self.stream.as_mut() {
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.shutdown()).await;
        }
        let mut out = Outbox::default();
        let waiters = {
            let mut core = self.shared.core.lock();
            core.conn.close();
            process_events(&self.shared, &mut core, &mut out);
            let sids: Vec<_> = core.subs.keys().copied().collect();
            for sid in sids {
                core.close_queue(sid, &mut out.wakers);
            }
            for (_, slot) in core.requests.drain() {
                out.replies.push((slot, Answer::Closed));
            }
            for (_, tx) in core.flushes.drain() {
                out.flushes.push((tx, Err(Error::closed())));
            }
            core.lifecycle = Lifecycle::Closed;
            core.direct = None;
            std::mem::take(&mut core.close_waiters)
        };
        out.deliver(&self.shared);
        for tx in waiters {
            let _ = tx.send(());
        }
        self.shared.space.notify_waiters();
        self.shared.events.emit(ClientEvent::Closed);
        self.shared.events.close();
    }
}

/// Runs `work` (reconnecting), meanwhile ending requests whose deadline passes: the
/// connected loop's timer step does that otherwise.
async fn expire_requests_while<F: Future>(shared: &Shared, work: F) -> F::Output {
    tokio::pin!(work);
    loop {
        let next = shared.core.lock().next_expiry;
        let moved = shared.expiry_moved.notified();
        let expiry = async {
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            out = &mut work => return out,
            () = moved => {}
            () = expiry => {
                let mut out = Outbox::default();
                expire_requests(&mut shared.core.lock(), Instant::now(), &mut out.replies);
                out.deliver(shared);
            }
        }
    }
}

fn stale_error() -> Error {
    Error::new(
        ErrorKind::Io,
        "stale connection: the server stopped answering PINGs",
    )
}
