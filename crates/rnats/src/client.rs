//! The [`Client`] handle and the state it shares with the driver.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use rand::Rng;
use rnats_proto::{
    subject, Backoff, ConnState, Connection, ConnectionConfig, FlushToken, HeaderMap, PoolLimits,
    ServerInfo, ServerPool, Sid, StatusCode,
};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};

use crate::driver;
use crate::error::{Error, ErrorKind};
use crate::events::{Event, EventHub, EventStream};
use crate::message::Message;
use crate::options::{ConnectOptions, ServerAddr};
use crate::subscriber::{SubQueue, Subscriber};

/// Where the client is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Opening a connection (or reconnecting): not yet able to exchange messages.
    Pending,
    /// Connected to a server.
    Connected,
    /// The connection was lost; the client is trying to reconnect.
    Disconnected,
    /// Draining: finishing in-flight work before closing.
    Draining,
    /// Closed for good.
    Closed,
}

/// Counters of the client's traffic, kept across reconnects.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Statistics {
    /// Messages received (`MSG` and `HMSG`).
    pub in_msgs: u64,
    /// Messages published (`PUB` and `HPUB`).
    pub out_msgs: u64,
    /// Bytes read from the socket.
    pub in_bytes: u64,
    /// Bytes written to the socket.
    pub out_bytes: u64,
    /// Successful connections, the first one included.
    pub connects: u64,
    /// Successful reconnections (`connects` minus the first).
    pub reconnects: u64,
    /// Messages dropped because a subscriber fell behind its pending limits.
    pub dropped_msgs: u64,
}

/// Counters only the driver writes; message counts live in [`Core`], under the lock the
/// publishers and the driver already hold, so no cache line bounces between them.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) in_bytes: AtomicU64,
    pub(crate) out_bytes: AtomicU64,
    pub(crate) connects: AtomicU64,
    pub(crate) dropped_msgs: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    Open,
    Draining,
    Closing,
    Closed,
}

/// State shared by every [`Client`] clone, every [`Subscriber`] and the driver task.
pub(crate) struct Shared {
    pub(crate) core: Mutex<Core>,
    /// Wakes the driver when there is something to write or the client closes.
    pub(crate) driver_waker: AtomicWaker,
    /// Set (with a wake) when the driver must look at the core: bytes to write, close,
    /// force_reconnect. Lets the driver skip the lock when it was woken only to read.
    pub(crate) attention: AtomicBool,
    /// The driver holds bytes it took from the write buffer and has not finished writing:
    /// nothing may be written past them. Set under the core lock when it takes bytes,
    /// cleared (without the lock) once they are written.
    pub(crate) driver_busy: AtomicBool,
    /// Wakes publishers waiting for room in the write buffer.
    pub(crate) space: Notify,
    /// Wakes the driver out of a reconnect wait when the client closes.
    pub(crate) close_requested: Notify,
    pub(crate) stats: Stats,
    pub(crate) options: ConnectOptions,
    /// `<inbox prefix>.<nuid>.`: requests get reply subjects under it.
    pub(crate) mux_prefix: String,
    pub(crate) events: EventHub,
}

/// The mutable part of [`Shared`], behind one lock.
pub(crate) struct Core {
    pub(crate) conn: Connection,
    pub(crate) subs: HashMap<Sid, Arc<SubQueue>>,
    pub(crate) mux_sid: Option<Sid>,
    pub(crate) requests: HashMap<u64, oneshot::Sender<Message>>,
    next_request: u64,
    pub(crate) flushes: HashMap<FlushToken, oneshot::Sender<Result<(), Error>>>,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) close_waiters: Vec<oneshot::Sender<()>>,
    pub(crate) pool: ServerPool<ServerAddr>,
    /// The server of the current (or latest) connection.
    pub(crate) current_server: Option<ServerAddr>,
    /// Set by [`Client::force_reconnect`]; the driver drops the connection when it sees it.
    pub(crate) force_reconnect: bool,
    /// The plain TCP socket of the current connection, for [`Shared::write_through`].
    pub(crate) direct: Option<Arc<TcpStream>>,
    /// When bytes were last handed to the socket.
    pub(crate) last_write: Option<std::time::Instant>,
    pub(crate) in_msgs: u64,
    pub(crate) out_msgs: u64,
}

impl Core {
    fn check_open(&self) -> Result<(), Error> {
        match self.lifecycle {
            Lifecycle::Open => Ok(()),
            Lifecycle::Draining => Err(Error::new(
                ErrorKind::Draining,
                "the client is draining and takes no new subscriptions or requests",
            )),
            Lifecycle::Closing | Lifecycle::Closed => Err(Error::closed()),
        }
    }

    /// Removes a subscription's queue and ends its stream.
    pub(crate) fn close_queue(&mut self, sid: Sid, wakers: &mut Vec<Waker>) {
        if let Some(q) = self.subs.remove(&sid) {
            wakers.extend(q.close());
        }
    }
}

impl Shared {
    /// Wakes the driver to look at the core (see [`Shared::attention`]).
    pub(crate) fn wake_driver(&self) {
        self.attention.store(true, Ordering::Release);
        self.driver_waker.wake();
    }

    /// Wakes the driver if the write buffer went from empty to not empty.
    fn after_write(&self, was_empty: bool) {
        if was_empty {
            self.wake_driver();
        }
    }

    /// Sends what was just encoded: on an idle plain-TCP connection the caller writes it to
    /// the socket itself (saving the hop to the driver task, which is most of a request's
    /// latency); otherwise, or for what the socket does not take at once, the driver is woken.
    /// Call under the core lock, right after encoding into a write buffer that was empty.
    fn send_now(&self, core: &mut Core, was_empty: bool) {
        if was_empty && !self.write_through(core) {
            self.wake_driver();
        }
    }

    /// True when the whole write buffer went to the socket. Only when the driver has nothing
    /// in hand (so bytes stay in order) and the connection was idle for a moment: a busy
    /// connection is better served by the driver's batched writes than by a syscall per
    /// message.
    fn write_through(&self, core: &mut Core) -> bool {
        /// Writes closer together than this are left to the driver to batch.
        const IDLE: Duration = Duration::from_micros(50);
        let Some(tcp) = core.direct.as_ref() else {
            return false;
        };
        if self.driver_busy.load(Ordering::Acquire) {
            return false;
        }
        // Other requests are waiting for answers: more traffic is on its way, and the
        // driver's batched writes serve it better than a syscall per request.
        if core.requests.len() > 1 {
            return false;
        }
        let now = std::time::Instant::now();
        if core
            .last_write
            .is_some_and(|at| now.saturating_duration_since(at) < IDLE)
        {
            return false;
        }
        match tcp.try_write(core.conn.transmit_pending()) {
            Ok(n) => {
                core.conn.consume_transmit(n);
                core.last_write = Some(now);
                self.stats.out_bytes.fetch_add(n as u64, Ordering::Relaxed);
                core.conn.transmit_len() == 0
            }
            // Not writable now, or broken: the driver will find out and handle it.
            Err(_) => false,
        }
    }

    /// Encodes the publish if the write buffer has room (or the connection is down: the
    /// reconnect buffer has its own bound); `None` when the caller must wait for room.
    fn try_publish(
        &self,
        core: &mut Core,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Option<Result<(), Error>> {
        // Once close() started, a publish could land after the driver's last write: refuse it
        // rather than return Ok for a message that is never sent.
        if matches!(core.lifecycle, Lifecycle::Closing | Lifecycle::Closed) {
            return Some(Err(Error::closed()));
        }
        let len = core.conn.transmit_len();
        if len >= self.options.write_buffer_size && core.conn.state() == ConnState::Connected {
            return None;
        }
        if let Err(e) = core.conn.publish(subject, reply, headers, payload) {
            return Some(Err(e.into()));
        }
        core.out_msgs += 1;
        self.send_now(core, len == 0);
        Some(Ok(()))
    }

    pub(crate) async fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<(), Error> {
        // Fast path: room in the write buffer (or not connected: the reconnect buffer has its
        // own bound). One lock, no allocation.
        if let Some(done) =
            self.try_publish(&mut self.core.lock(), subject, reply, headers, payload)
        {
            return done;
        }
        // The connection is behind: wait until the driver takes the buffer.
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            {
                let mut core = self.core.lock();
                if let Some(done) = self.try_publish(&mut core, subject, reply, headers, payload) {
                    return done;
                }
                // Enabled under the lock: the driver cannot take the buffer and notify
                // before this waiter is registered.
                notified.as_mut().enable();
            }
            self.wake_driver();
            notified.await;
        }
    }

    pub(crate) fn subscribe(
        self: &Arc<Self>,
        subject: &str,
        queue_group: Option<&str>,
    ) -> Result<Subscriber, Error> {
        let mut core = self.core.lock();
        core.check_open()?;
        let was_empty = core.conn.transmit_len() == 0;
        let sid = core.conn.subscribe(subject, queue_group)?;
        let queue = Arc::new(SubQueue::new(
            subject.to_owned(),
            self.options.pending_msgs_limit,
            self.options.pending_bytes_limit,
        ));
        core.subs.insert(sid, queue.clone());
        drop(core);
        self.after_write(was_empty);
        Ok(Subscriber::new(sid, self.clone(), queue))
    }

    pub(crate) fn unsubscribe(&self, sid: Sid) {
        let mut wakers = Vec::new();
        let mut core = self.core.lock();
        let was_empty = core.conn.transmit_len() == 0;
        core.conn.unsubscribe(sid);
        core.close_queue(sid, &mut wakers);
        drop(core);
        wakers.into_iter().for_each(Waker::wake);
        self.after_write(was_empty);
    }

    pub(crate) fn unsubscribe_after(&self, sid: Sid, max: u64) -> Result<(), Error> {
        let mut wakers = Vec::new();
        let mut core = self.core.lock();
        let was_empty = core.conn.transmit_len() == 0;
        if core.conn.unsubscribe_after(sid, max) == Some(true) {
            core.close_queue(sid, &mut wakers);
        }
        drop(core);
        wakers.into_iter().for_each(Waker::wake);
        self.after_write(was_empty);
        Ok(())
    }

    /// Registers a flush; the receiver completes when the server answered its PING.
    fn start_flush(&self, core: &mut Core) -> Result<oneshot::Receiver<Result<(), Error>>, Error> {
        let token = core.conn.flush()?;
        let (tx, rx) = oneshot::channel();
        core.flushes.insert(token, tx);
        Ok(rx)
    }

    pub(crate) async fn flush(&self) -> Result<(), Error> {
        let rx = {
            let mut core = self.core.lock();
            let was_empty = core.conn.transmit_len() == 0;
            let rx = self.start_flush(&mut core)?;
            self.send_now(&mut core, was_empty);
            rx
        };
        rx.await.unwrap_or_else(|_| Err(Error::closed()))
    }

    pub(crate) async fn drain_subscription(&self, sid: Sid) -> Result<(), Error> {
        let rx = {
            let mut core = self.core.lock();
            let was_empty = core.conn.transmit_len() == 0;
            if !core.conn.drain_subscription(sid) {
                return Ok(());
            }
            let rx = self.start_flush(&mut core);
            drop(core);
            self.after_write(was_empty);
            rx
        };
        let flushed = match rx {
            Ok(rx) => rx.await.unwrap_or_else(|_| Err(Error::closed())),
            Err(e) => Err(e),
        };
        self.unsubscribe(sid);
        flushed
    }

    /// Asks the driver to write what is buffered and close.
    pub(crate) fn request_close(&self) -> Option<oneshot::Receiver<()>> {
        let mut core = self.core.lock();
        if core.lifecycle == Lifecycle::Closed {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        core.close_waiters.push(tx);
        core.lifecycle = Lifecycle::Closing;
        drop(core);
        self.wake_driver();
        self.close_requested.notify_one();
        Some(rx)
    }

    /// Queues a request on the shared reply subscription; the answer comes on the receiver.
    fn start_request(
        &self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &[u8],
    ) -> Result<(u64, oneshot::Receiver<Message>), Error> {
        let (tx, rx) = oneshot::channel();
        let mut core = self.core.lock();
        core.check_open()?;
        let was_empty = core.conn.transmit_len() == 0;
        if core.mux_sid.is_none() {
            let sid = core
                .conn
                .subscribe(&format!("{}*", self.mux_prefix), None)?;
            core.mux_sid = Some(sid);
        }
        let token = core.next_request;
        core.next_request += 1;
        let mut reply = String::with_capacity(self.mux_prefix.len() + 20);
        reply.push_str(&self.mux_prefix);
        reply.push_str(itoa::Buffer::new().format(token));
        core.conn.publish(subject, Some(&reply), headers, payload)?;
        core.out_msgs += 1;
        core.requests.insert(token, tx);
        self.send_now(&mut core, was_empty);
        Ok((token, rx))
    }
}

/// The answer to one request, from [`Client::send_request`]: a future resolving to the first
/// reply.
///
/// Fails with [`Error::is_no_responders`] when nobody is subscribed to the subject, with
/// [`Error::is_timeout`] when the request's timeout passes first (counted from the send), and
/// with a closed error when the client closes. Dropping it forgets the request: a late answer
/// is discarded.
#[must_use = "a request's answer is only received by awaiting its Response"]
pub struct Response {
    shared: Arc<Shared>,
    rx: oneshot::Receiver<Message>,
    token: u64,
    /// The driver took the entry out (answer delivered, or the client closed).
    answered: bool,
    subject: String,
    timeout: Option<Duration>,
    deadline: tokio::time::Instant,
    /// Armed at the first poll that finds no answer yet.
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Response {
    /// The subject the request was sent to.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// When the request's timeout ends (the time of the send for a request without one).
    #[cfg(feature = "jetstream")] // only a JetStream publish's ack future reads it
    pub(crate) fn deadline(&self) -> tokio::time::Instant {
        self.deadline
    }
}

impl Future for Response {
    type Output = Result<Message, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.answered {
            return Poll::Ready(Err(Error::new(
                ErrorKind::InvalidArgument,
                "this Response was already awaited to completion",
            )));
        }
        match Pin::new(&mut this.rx).poll(cx) {
            Poll::Ready(answer) => {
                this.answered = true;
                let msg = answer.map_err(|_| Error::closed())?;
                if msg.status == Some(StatusCode::NO_RESPONDERS) && msg.payload.is_empty() {
                    return Poll::Ready(Err(Error::new(
                        ErrorKind::NoResponders,
                        format!("no responders are subscribed to {:?}", this.subject),
                    )));
                }
                return Poll::Ready(Ok(msg));
            }
            Poll::Pending => {}
        }
        let Some(timeout) = this.timeout else {
            return Poll::Pending;
        };
        let deadline = this.deadline;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_ready() {
            this.answered = true;
            this.shared.core.lock().requests.remove(&this.token);
            return Poll::Ready(Err(Error::new(
                ErrorKind::Timeout,
                format!("request to {:?} timed out after {timeout:?}", this.subject),
            )));
        }
        Poll::Pending
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        if !self.answered {
            self.shared.core.lock().requests.remove(&self.token);
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("subject", &self.subject)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Closes the connection when the last [`Client`] clone is dropped.
struct Handle {
    shared: Arc<Shared>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let _ = self.shared.request_close();
    }
}

/// A connection to NATS. Cheap to clone: every clone shares the one connection, which closes
/// when [`Client::close`] or [`Client::drain`] is called or the last clone is dropped
/// (buffered publishes are written first).
///
/// ```no_run
/// # async fn demo() -> Result<(), rnats::Error> {
/// use futures_util::StreamExt;
/// let client = rnats::connect("nats://127.0.0.1:4222").await?;
/// let mut sub = client.subscribe("greet.*").await?;
/// client.publish("greet.joe", "hello").await?;
/// let msg = sub.next().await.expect("subscription open");
/// assert_eq!(msg.payload, "hello");
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
    _handle: Arc<Handle>,
}

/// Options of one request: payload, headers and timeout.
///
/// ```no_run
/// # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
/// use std::time::Duration;
/// let mut headers = rnats::HeaderMap::new();
/// headers.insert("Trace-Id", "42");
/// let answer = client
///     .request_with(
///         "service.time",
///         rnats::Request::new()
///             .payload("now?")
///             .headers(headers)
///             .timeout(Duration::from_millis(500)),
///     )
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Request {
    payload: Bytes,
    headers: Option<HeaderMap>,
    timeout: Option<Option<Duration>>,
}

impl Request {
    /// An empty request using the client's default timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// The payload to send.
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Headers to send.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = Some(headers);
        self
    }

    /// How long to wait for the answer (instead of the client's request timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(Some(timeout));
        self
    }

    /// Wait for the answer without a time limit.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = Some(None);
        self
    }
}

impl Client {
    /// Publishes `payload` to `subject`.
    ///
    /// Returns once the message is in the client's write buffer (it is written to the socket
    /// in batches; call [`Client::flush`] to wait until the server has it). Waits only when
    /// the buffer is full. While disconnected the message is kept for the next connection,
    /// up to the reconnect buffer size.
    ///
    /// Fails without sending when the subject is invalid or the message is larger than the
    /// server's `max_payload`; the connection is unaffected.
    ///
    /// Cancelling: dropping the future before it completes publishes nothing.
    pub async fn publish(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let payload = payload.into();
        self.shared
            .publish(subject.as_ref(), None, None, &payload)
            .await
    }

    /// Publishes with headers. See [`Client::publish`].
    pub async fn publish_with_headers(
        &self,
        subject: impl AsRef<str>,
        headers: HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let payload = payload.into();
        self.shared
            .publish(subject.as_ref(), None, Some(&headers), &payload)
            .await
    }

    /// Publishes with a reply subject, for the receiver to answer to. See [`Client::publish`].
    pub async fn publish_with_reply(
        &self,
        subject: impl AsRef<str>,
        reply: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let payload = payload.into();
        self.shared
            .publish(subject.as_ref(), Some(reply.as_ref()), None, &payload)
            .await
    }

    /// Publishes with a reply subject and headers. See [`Client::publish`].
    pub async fn publish_with_reply_and_headers(
        &self,
        subject: impl AsRef<str>,
        reply: impl AsRef<str>,
        headers: HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let payload = payload.into();
        self.shared
            .publish(
                subject.as_ref(),
                Some(reply.as_ref()),
                Some(&headers),
                &payload,
            )
            .await
    }

    /// Subscribes to `subject` (wildcards `*` and `>` allowed).
    pub async fn subscribe(&self, subject: impl AsRef<str>) -> Result<Subscriber, Error> {
        self.shared.subscribe(subject.as_ref(), None)
    }

    /// Subscribes as a member of queue group `queue_group`: each message goes to one member.
    pub async fn queue_subscribe(
        &self,
        subject: impl AsRef<str>,
        queue_group: impl AsRef<str>,
    ) -> Result<Subscriber, Error> {
        self.shared
            .subscribe(subject.as_ref(), Some(queue_group.as_ref()))
    }

    /// Sends a request and waits for the first answer, up to the client's request timeout.
    ///
    /// Fails with [`Error::is_no_responders`] at once when nobody is subscribed to `subject`,
    /// and with [`Error::is_timeout`] when nobody answers in time. All requests share one
    /// wildcard subscription; no subscription is made per request.
    ///
    /// Cancelling: dropping the future after its first poll may still send the request.
    pub async fn request(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<Message, Error> {
        self.request_with(subject, Request::new().payload(payload))
            .await
    }

    /// Sends a request with headers and/or its own timeout. See [`Client::request`].
    pub async fn request_with(
        &self,
        subject: impl AsRef<str>,
        request: Request,
    ) -> Result<Message, Error> {
        self.send_request(subject, request).await?.await
    }

    /// Sends a request now and returns its [`Response`] to await later: many requests in
    /// flight from one task, each answer delivered straight to its `Response` (the shared
    /// reply subscription of [`Client::request`], no subscription per request).
    ///
    /// The timeout (the request's, or the client's request timeout) counts from now. Fails
    /// at once, sending nothing, when the subject is invalid, the message too large, or the
    /// client closed.
    ///
    /// ```no_run
    /// # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
    /// use rnats::Request;
    /// let mut pending = Vec::new();
    /// for i in 0..100 {
    ///     pending.push(client.send_request("square", Request::new().payload(i.to_string())).await?);
    /// }
    /// for response in pending {
    ///     let answer = response.await?;
    ///     println!("{:?}", answer.payload);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send_request(
        &self,
        subject: impl AsRef<str>,
        request: Request,
    ) -> Result<Response, Error> {
        let subject = subject.as_ref();
        let timeout = request
            .timeout
            .unwrap_or(self.shared.options.request_timeout);
        let deadline = tokio::time::Instant::now() + timeout.unwrap_or(Duration::ZERO);
        let (token, rx) =
            self.shared
                .start_request(subject, request.headers.as_ref(), &request.payload)?;
        Ok(Response {
            shared: Arc::clone(&self.shared),
            rx,
            token,
            answered: false,
            subject: subject.to_owned(),
            timeout,
            deadline,
            sleep: None,
        })
    }

    /// A new unique subject under the inbox prefix, to receive replies on.
    pub fn new_inbox(&self) -> String {
        format!("{}.{}", self.shared.options.inbox_prefix, nuid::next())
    }

    /// Waits until the server has processed everything published before this call (a PING /
    /// PONG round trip).
    pub async fn flush(&self) -> Result<(), Error> {
        self.shared.flush().await
    }

    /// Drains, then closes: every subscription stops receiving new messages but delivers those
    /// already sent by the server, buffered publishes are written, then the connection closes.
    /// New subscriptions and requests are refused meanwhile.
    pub async fn drain(&self) -> Result<(), Error> {
        let rx = {
            let mut core = self.shared.core.lock();
            if core.lifecycle != Lifecycle::Open {
                return Err(Error::closed());
            }
            core.lifecycle = Lifecycle::Draining;
            let was_empty = core.conn.transmit_len() == 0;
            let sids: Vec<Sid> = core.subs.keys().copied().chain(core.mux_sid).collect();
            for sid in sids {
                core.conn.drain_subscription(sid);
            }
            let rx = self.shared.start_flush(&mut core);
            drop(core);
            self.shared.after_write(was_empty);
            rx
        };
        if let Ok(rx) = rx {
            let _ = rx.await;
        }
        {
            let mut wakers = Vec::new();
            let mut core = self.shared.core.lock();
            let sids: Vec<Sid> = core.subs.keys().copied().collect();
            for sid in sids {
                core.conn.unsubscribe(sid);
                core.close_queue(sid, &mut wakers);
            }
            drop(core);
            wakers.into_iter().for_each(Waker::wake);
        }
        self.close().await
    }

    /// Writes buffered publishes, closes the connection and ends every subscription.
    /// Pending requests and flushes fail with a closed error.
    pub async fn close(&self) -> Result<(), Error> {
        if let Some(rx) = self.shared.request_close() {
            let _ = rx.await;
        }
        Ok(())
    }

    /// The latest `INFO` the server sent.
    pub fn server_info(&self) -> ServerInfo {
        self.shared
            .core
            .lock()
            .conn
            .server_info()
            .cloned()
            .unwrap_or_default()
    }

    /// Traffic counters.
    pub fn statistics(&self) -> Statistics {
        let s = &self.shared.stats;
        let (in_msgs, out_msgs) = {
            let core = self.shared.core.lock();
            (core.in_msgs, core.out_msgs)
        };
        Statistics {
            in_msgs,
            out_msgs,
            in_bytes: s.in_bytes.load(Ordering::Relaxed),
            out_bytes: s.out_bytes.load(Ordering::Relaxed),
            connects: s.connects.load(Ordering::Relaxed),
            reconnects: s.connects.load(Ordering::Relaxed).saturating_sub(1),
            dropped_msgs: s.dropped_msgs.load(Ordering::Relaxed),
        }
    }

    /// Where the connection is in its life.
    pub fn connection_state(&self) -> ConnectionState {
        let core = self.shared.core.lock();
        match core.lifecycle {
            Lifecycle::Closed => return ConnectionState::Closed,
            Lifecycle::Draining | Lifecycle::Closing => return ConnectionState::Draining,
            Lifecycle::Open => {}
        }
        match core.conn.state() {
            ConnState::Connected => ConnectionState::Connected,
            ConnState::Disconnected => ConnectionState::Disconnected,
            ConnState::Closed => ConnectionState::Closed,
            _ => ConnectionState::Pending,
        }
    }

    /// The servers the client knows (given and discovered), in the order it tries them.
    pub fn servers(&self) -> Vec<ServerAddr> {
        self.shared
            .core
            .lock()
            .pool
            .entries()
            .iter()
            .map(|e| e.server.clone())
            .collect()
    }

    /// The server of the current connection (or of the latest one, while reconnecting).
    pub fn connected_server(&self) -> Option<ServerAddr> {
        self.shared.core.lock().current_server.clone()
    }

    /// A stream of the connection [`Event`]s raised from now on. Several streams may be open;
    /// each gets every event. The stream ends once the client has closed.
    ///
    /// ```no_run
    /// # async fn demo(client: rnats::Client) {
    /// use futures_util::StreamExt;
    /// let mut events = client.events();
    /// tokio::spawn(async move {
    ///     while let Some(event) = events.next().await {
    ///         eprintln!("nats: {event}");
    ///     }
    /// });
    /// # }
    /// ```
    pub fn events(&self) -> EventStream {
        self.shared.events.subscribe()
    }

    /// Drops the current connection and connects again (to the next server of the pool),
    /// replaying subscriptions; publishes not yet written are kept and sent after.
    pub async fn force_reconnect(&self) -> Result<(), Error> {
        let mut core = self.shared.core.lock();
        core.check_open()?;
        core.force_reconnect = true;
        drop(core);
        self.shared.wake_driver();
        Ok(())
    }

    /// The round-trip time to the server: one PING / PONG.
    pub async fn rtt(&self) -> Result<Duration, Error> {
        let start = tokio::time::Instant::now();
        self.flush().await?;
        Ok(start.elapsed())
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("state", &self.connection_state())
            .finish_non_exhaustive()
    }
}

/// Connects with `options` to one of `servers`.
pub(crate) async fn connect_with(
    options: ConnectOptions,
    servers: Vec<ServerAddr>,
) -> Result<Client, Error> {
    subject::validate_publish(&options.inbox_prefix).map_err(|e| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid inbox prefix: {}", e.detail()),
        )
    })?;
    let mixed = servers.iter().any(|s| matches!(s.scheme(), "ws" | "wss"))
        && servers.iter().any(|s| !matches!(s.scheme(), "ws" | "wss"));
    if mixed {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "websocket (ws://, wss://) and plain (nats://, tls://) servers cannot be mixed in one pool",
        ));
    }
    let mut pool = ServerPool::new(
        servers,
        Backoff::default(),
        PoolLimits::new(
            options
                .max_reconnects_per_server
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            options.max_reconnects.map(|n| n as u64),
        ),
    );
    if !options.retain_servers_order {
        let mut rng = rand::thread_rng();
        pool.shuffle(&mut || rng.gen());
    }
    let config = {
        let mut c = ConnectionConfig::default();
        c.ping_interval = options.ping_interval;
        c.max_pings_out = options.max_pings_out;
        c.reconnect_buffer_size = options.reconnect_buffer_size;
        c
    };
    let initial: Vec<ServerAddr> = pool.entries().iter().map(|e| e.server.clone()).collect();
    let mux_prefix = format!("{}.{}.", options.inbox_prefix, nuid::next());
    let events = EventHub::new(options.event_callback.clone());
    let retry = options.retry_on_initial_connect;
    let shared = Arc::new(Shared {
        core: Mutex::new(Core {
            conn: Connection::new(config),
            subs: HashMap::new(),
            mux_sid: None,
            requests: HashMap::new(),
            next_request: 0,
            flushes: HashMap::new(),
            lifecycle: Lifecycle::Open,
            close_waiters: Vec::new(),
            pool,
            current_server: None,
            force_reconnect: false,
            direct: None,
            last_write: None,
            in_msgs: 0,
            out_msgs: 0,
        }),
        driver_waker: AtomicWaker::new(),
        attention: AtomicBool::new(true),
        driver_busy: AtomicBool::new(false),
        space: Notify::new(),
        close_requested: Notify::new(),
        stats: Stats::default(),
        options,
        mux_prefix,
        events,
    });
    let client = |shared: Arc<Shared>| Client {
        _handle: Arc::new(Handle {
            shared: shared.clone(),
        }),
        shared,
    };
    if retry {
        tokio::spawn(driver::Driver::new(shared.clone(), None).run());
        return Ok(client(shared));
    }
    let mut failures = Vec::new();
    let mut last_error = None;
    for addr in &initial {
        match driver::open(&shared, addr).await {
            Ok(transport) => {
                shared.core.lock().pool.connected(addr);
                shared.events.emit(Event::Connected {
                    server: addr.clone(),
                });
                tokio::spawn(driver::Driver::new(shared.clone(), Some(transport)).run());
                return Ok(client(shared));
            }
            // Wrong credentials or options fail the same way on every server.
            Err(e) if e.is_auth_error() || e.is_invalid_argument() => return Err(e),
            Err(e) => {
                failures.push(format!("{addr}: {}", e.with_causes()));
                last_error = Some(e);
            }
        }
    }
    let message = format!(
        "could not connect to any server ({}); check the address and that nats-server is running",
        failures.join("; ")
    );
    Err(match last_error {
        Some(e) => Error::with_source(ErrorKind::ConnectFailed, message, e),
        None => Error::new(ErrorKind::ConnectFailed, message),
    })
}
