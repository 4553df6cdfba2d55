//! The [`Client`] handle: publish, subscribe, flush, drain and close, and the connection's state,
//! servers, counters and events. Requests are in `request.rs`, connecting in `connect.rs`, the
//! state shared with the driver in `shared.rs`.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use bytes::Bytes;
use rnats_proto::{ConnState, HeaderMap, ServerInfo, Sid};

use crate::addr::ServerAddr;
use crate::error::Error;
use crate::events::EventStream;
use crate::shared::{Lifecycle, Shared};
use crate::subscriber::Subscriber;

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

/// One message to publish with [`Client::publish_with`]: payload, reply subject, headers.
///
/// ```
/// let publish = rnats::Publish::new().payload("hello").reply("greet.replies");
/// ```
#[derive(Debug, Clone, Default)]
pub struct Publish {
    payload: Bytes,
    reply: Option<String>,
    headers: Option<HeaderMap>,
}

impl Publish {
    /// An empty message: no payload, no reply subject, no headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The payload to send.
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = payload.into();
        self
    }

    /// The subject the receiver should answer to.
    pub fn reply(mut self, reply: impl Into<String>) -> Self {
        self.reply = Some(reply.into());
        self
    }

    /// Headers to send.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = Some(headers);
        self
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
    pub(crate) shared: Arc<Shared>,
    _handle: Arc<Handle>,
}

impl Client {
    /// A handle on `shared`; the connection closes when the last clone is dropped.
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        Client {
            _handle: Arc::new(Handle {
                shared: shared.clone(),
            }),
            shared,
        }
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

    /// Publishes a message built with [`Publish`]: payload, and optionally a reply subject
    /// and headers. The shorthands [`Client::publish`], [`Client::publish_with_headers`],
    /// [`Client::publish_with_reply`] and [`Client::publish_with_reply_and_headers`] are this
    /// call with fewer parts; everything said of [`Client::publish`] holds.
    ///
    /// ```no_run
    /// # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
    /// use rnats::{HeaderMap, Publish};
    /// let mut headers = HeaderMap::new();
    /// headers.insert("Trace-Id", "42");
    /// client
    ///     .publish_with(
    ///         "orders.new",
    ///         Publish::new().payload("order 7").reply("orders.replies").headers(headers),
    ///     )
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish_with(
        &self,
        subject: impl AsRef<str>,
        publish: Publish,
    ) -> Result<(), Error> {
        self.shared
            .publish(
                subject.as_ref(),
                publish.reply.as_deref(),
                publish.headers.as_ref(),
                &publish.payload,
            )
            .await
    }

    /// Publishes at once if the write buffer has room, never waiting: `Ok(true)` when the
    /// message was buffered (or, while disconnected, kept for the next connection), `Ok(false)`
    /// when the write buffer is full and nothing was sent (await [`Client::publish_with`] to
    /// wait for room). Errors as [`Client::publish`]. For callers that cannot await, such as
    /// bindings driven by another language's event loop.
    ///
    /// ```no_run
    /// # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
    /// use rnats::Publish;
    /// let msg = Publish::new().payload("tick");
    /// if !client.try_publish_with("clock", &msg)? {
    ///     client.publish_with("clock", msg).await?; // the buffer was full: wait for room
    /// }
    /// # Ok(()) }
    /// ```
    pub fn try_publish_with(
        &self,
        subject: impl AsRef<str>,
        publish: &Publish,
    ) -> Result<bool, Error> {
        match self.shared.try_publish_now(
            subject.as_ref(),
            publish.reply.as_deref(),
            publish.headers.as_ref(),
            &publish.payload,
        ) {
            Some(done) => done.map(|()| true),
            None => Ok(false),
        }
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

    /// A stream of the connection [`Event`](crate::Event)s raised from now on. Several streams may be open;
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
