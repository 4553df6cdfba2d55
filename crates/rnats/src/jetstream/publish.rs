//! Publishing to streams with acknowledgement: [`Context::publish`], [`Publish`] options,
//! [`PubAck`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

use super::context::{parse_response, Context};
use crate::{Client, Error, ErrorKind, HeaderMap, Message, StatusCode};

/// A stream's acknowledgement of a published message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PubAck {
    /// The stream that stored the message.
    pub stream: String,
    /// The message's sequence in the stream.
    #[serde(rename = "seq", default)]
    pub sequence: u64,
    /// True when the message id was already stored within the duplicate window: the message
    /// was not stored again, `sequence` is the original's.
    #[serde(default)]
    pub duplicate: bool,
    /// The stream's JetStream domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// A counter stream's new value.
    #[serde(rename = "val", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Fields this version of rnats does not model (batch id and count...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The options of one publish: payload, headers, de-duplication id, expectations, TTL.
///
/// ```no_run
/// # async fn demo(js: rnats::jetstream::Context) -> Result<(), rnats::Error> {
/// use rnats::jetstream::Publish;
/// let ack = js
///     .publish_with(
///         "orders.new",
///         Publish::new()
///             .payload("order 7")
///             .message_id("order-7")
///             .expected_last_subject_sequence(0),
///     )
///     .await?
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Publish {
    payload: Bytes,
    headers: HeaderMap,
    ttl: Option<Duration>,
}

impl Publish {
    /// An empty message without headers.
    pub fn new() -> Self {
        Self::default()
    }

    /// The payload.
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Adds every header of `headers`.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        for (name, value) in headers.iter() {
            self.headers.append(name, value);
        }
        self
    }

    /// Sets header `name` to `value`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// `Nats-Msg-Id`: the stream stores a message with an id seen within its duplicate window
    /// only once ([`PubAck::duplicate`] tells).
    pub fn message_id(self, id: impl Into<String>) -> Self {
        self.header("Nats-Msg-Id", id)
    }

    /// `Nats-Expected-Stream`: refused (10060) unless the subject is stored by this stream.
    pub fn expected_stream(self, stream: impl Into<String>) -> Self {
        self.header("Nats-Expected-Stream", stream)
    }

    /// `Nats-Expected-Last-Sequence`: refused ([`Error::is_wrong_last_sequence`]) unless the
    /// stream's last sequence is `sequence`.
    pub fn expected_last_sequence(self, sequence: u64) -> Self {
        self.header("Nats-Expected-Last-Sequence", sequence.to_string())
    }

    /// `Nats-Expected-Last-Subject-Sequence`: refused unless the last message on this subject
    /// has `sequence` (0: there is none).
    pub fn expected_last_subject_sequence(self, sequence: u64) -> Self {
        self.header("Nats-Expected-Last-Subject-Sequence", sequence.to_string())
    }

    /// `Nats-Expected-Last-Msg-Id`: refused (10070) unless the stream's last message had this
    /// id.
    pub fn expected_last_message_id(self, id: impl Into<String>) -> Self {
        self.header("Nats-Expected-Last-Msg-Id", id)
    }

    /// `Nats-TTL`: the message is removed after `ttl` (at least 1 s; the stream needs
    /// `allow_message_ttl`; server 2.11+, refused with [`ErrorKind::Unsupported`] before).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

impl Context {
    /// Publishes `payload` to `subject` and returns, once the message is written to the
    /// client's buffer, a future of the stream's acknowledgement.
    ///
    /// Waits first when [`ContextBuilder::max_ack_inflight`](super::ContextBuilder::max_ack_inflight)
    /// acknowledgements are outstanding: that is the backpressure of pipelined publishing.
    /// The acknowledgement fails with [`Error::is_no_responders`] when no stream stores
    /// `subject`, with [`Error::is_timeout`] when it does not come within the context's
    /// timeout, and with a JetStream error when the stream refused the message.
    ///
    /// Cancelling: dropping this future after its first poll may still publish; dropping the
    /// returned [`PubAckFuture`] does not un-publish, it only stops waiting.
    ///
    /// ```no_run
    /// # async fn demo(js: rnats::jetstream::Context) -> Result<(), rnats::Error> {
    /// // Pipelined: publish many, then collect the acknowledgements.
    /// let mut acks = Vec::new();
    /// for i in 0..1000 {
    ///     acks.push(js.publish("events.tick", i.to_string()).await?);
    /// }
    /// for ack in acks {
    ///     ack.await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn publish(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<PubAckFuture, Error> {
        self.publish_with(subject, Publish::new().payload(payload))
            .await
    }

    /// Publishes with headers. See [`Context::publish`].
    pub async fn publish_with_headers(
        &self,
        subject: impl AsRef<str>,
        headers: HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<PubAckFuture, Error> {
        self.publish_with(subject, Publish::new().headers(headers).payload(payload))
            .await
    }

    /// Publishes with [`Publish`] options. See [`Context::publish`].
    pub async fn publish_with(
        &self,
        subject: impl AsRef<str>,
        publish: Publish,
    ) -> Result<PubAckFuture, Error> {
        let subject = subject.as_ref();
        let Publish {
            payload,
            mut headers,
            ttl,
        } = publish;
        if let Some(ttl) = ttl {
            self.require_api_level(super::api_level::V2_11, "a per-message TTL")?;
            if ttl < Duration::from_secs(1) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("a message TTL must be at least 1s, not {ttl:?}"),
                ));
            }
            headers.insert("Nats-TTL", format_ttl(ttl));
        }
        let acks = &self.inner.acks;
        let permit = Arc::clone(&acks.window)
            .acquire_owned()
            .await
            .map_err(|_| Error::closed())?;
        let router = acks.router(&self.inner.client).await?;
        let (tx, rx) = oneshot::channel();
        let token = router.next.fetch_add(1, Ordering::Relaxed);
        router.pending.lock().insert(token, tx);
        let mut guard = PendingGuard {
            pending: Some(&router.pending),
            token,
        };
        let reply = format!("{}{token}", router.prefix);
        let client = &self.inner.client;
        if headers.is_empty() {
            client.publish_with_reply(subject, &reply, payload).await?;
        } else {
            client
                .publish_with_reply_and_headers(subject, &reply, headers, payload)
                .await?;
        }
        guard.pending = None;
        Ok(PubAckFuture {
            rx,
            token,
            pending: Arc::clone(&router.pending),
            sleep: Box::pin(tokio::time::sleep(self.inner.timeout)),
            timeout: self.inner.timeout,
            permit: Some(permit),
            subject: subject.to_owned(),
        })
    }
}

/// Formats a TTL as the server parses it: whole seconds, or milliseconds.
fn format_ttl(ttl: Duration) -> String {
    if ttl.subsec_nanos() == 0 {
        format!("{}s", ttl.as_secs())
    } else {
        format!("{}ms", ttl.as_millis())
    }
}

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Message>>>>;

/// Removes a pending acknowledgement whose publish did not complete.
struct PendingGuard<'a> {
    pending: Option<&'a Pending>,
    token: u64,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.pending {
            p.lock().remove(&self.token);
        }
    }
}

/// The acknowledgement of one published message, from [`Context::publish`]. Await it.
///
/// Holds one place of the context's window of outstanding acknowledgements until it completes
/// or is dropped.
#[must_use = "the acknowledgement tells whether the stream stored the message"]
pub struct PubAckFuture {
    rx: oneshot::Receiver<Message>,
    token: u64,
    pending: Pending,
    sleep: Pin<Box<tokio::time::Sleep>>,
    timeout: Duration,
    permit: Option<OwnedSemaphorePermit>,
    subject: String,
}

impl Future for PubAckFuture {
    type Output = Result<PubAck, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        match Pin::new(&mut this.rx).poll(cx) {
            Poll::Ready(Ok(msg)) => {
                this.permit = None;
                return Poll::Ready(parse_ack(&this.subject, &msg));
            }
            Poll::Ready(Err(_)) => {
                this.permit = None;
                return Poll::Ready(Err(Error::closed()));
            }
            Poll::Pending => {}
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            this.pending.lock().remove(&this.token);
            this.permit = None;
            return Poll::Ready(Err(Error::new(
                ErrorKind::Timeout,
                format!(
                    "no acknowledgement of the publish to {:?} within {:?}",
                    this.subject, this.timeout
                ),
            )));
        }
        Poll::Pending
    }
}

impl Drop for PubAckFuture {
    fn drop(&mut self) {
        if self.permit.is_some() {
            self.pending.lock().remove(&self.token);
        }
    }
}

impl std::fmt::Debug for PubAckFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubAckFuture")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

fn parse_ack(subject: &str, msg: &Message) -> Result<PubAck, Error> {
    if msg.status == Some(StatusCode::NO_RESPONDERS) && msg.payload.is_empty() {
        return Err(Error::new(
            ErrorKind::NoResponders,
            format!("no stream stores subject {subject:?} (no responders)"),
        ));
    }
    parse_response(msg, || format!("publish to {subject:?}"))
}

/// Routes acknowledgements: one wildcard subscription per context, created on the first
/// publish, and a task that hands each answer to its [`PubAckFuture`].
pub(crate) struct AckMux {
    window: Arc<Semaphore>,
    router: tokio::sync::OnceCell<Router>,
}

struct Router {
    /// `<inbox>.`; a token is appended per publish.
    prefix: String,
    next: AtomicU64,
    pending: Pending,
    alive: Arc<AtomicBool>,
    /// Dropped with the context: stops the routing task, which unsubscribes.
    _stop: oneshot::Sender<()>,
}

impl AckMux {
    pub(crate) fn new(max_inflight: usize) -> Self {
        Self {
            window: Arc::new(Semaphore::new(max_inflight)),
            router: tokio::sync::OnceCell::new(),
        }
    }

    async fn router(&self, client: &Client) -> Result<&Router, Error> {
        let router = self
            .router
            .get_or_try_init(|| async {
                let prefix = format!("{}.", client.new_inbox());
                let mut sub = client.subscribe(format!("{prefix}*")).await?;
                let pending: Pending = Arc::default();
                let alive = Arc::new(AtomicBool::new(true));
                let (stop, mut stopped) = oneshot::channel::<()>();
                let routed = Arc::clone(&pending);
                let task_alive = Arc::clone(&alive);
                let strip = prefix.clone();
                tokio::spawn(async move {
                    loop {
                        tokio::select! {
                            biased;
                            _ = &mut stopped => break,
                            msg = sub.next() => {
                                let Some(msg) = msg else { break };
                                let token = msg
                                    .subject
                                    .strip_prefix(strip.as_str())
                                    .and_then(|t| t.parse::<u64>().ok());
                                if let Some(token) = token {
                                    if let Some(tx) = routed.lock().remove(&token) {
                                        let _ = tx.send(msg);
                                    }
                                }
                            }
                        }
                    }
                    task_alive.store(false, Ordering::Release);
                    routed.lock().clear();
                });
                Ok::<_, Error>(Router {
                    prefix,
                    next: AtomicU64::new(1),
                    pending,
                    alive,
                    _stop: stop,
                })
            })
            .await?;
        if !router.alive.load(Ordering::Acquire) {
            return Err(Error::closed());
        }
        Ok(router)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_formats() {
        assert_eq!(format_ttl(Duration::from_secs(5)), "5s");
        assert_eq!(format_ttl(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn pub_ack_parses() {
        let ack: PubAck =
            serde_json::from_str(r#"{"stream":"S","seq":7,"duplicate":true,"domain":"hub"}"#)
                .unwrap();
        assert_eq!(ack.sequence, 7);
        assert!(ack.duplicate);
        assert_eq!(ack.domain.as_deref(), Some("hub"));
    }
}
