//! Request-many (ADR-47): one request, any number of replies, gathered until a stop
//! condition. [`Client::request_many`] gives a [`RequestMany`] builder; sending it gives
//! [`Responses`], a `Stream` of the replies that ends at the total timeout, the stall timer,
//! the maximum count, the sentinel, or a status reply (such as 503 no responders), and says
//! which in [`Responses::end`].
//!
//! Each request-many has a subscription of its own (a fresh inbox; the shared reply
//! subscription of [`Client::request`] hands one reply to one request). It is removed when
//! the stream ends, and when the stream is dropped before its end.

use std::fmt;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream;
use futures_util::future::BoxFuture;
use rnats_proto::{HeaderMap, StatusCode};
use tokio::time::Sleep;

use crate::client::Client;
use crate::error::Error;
use crate::message::Message;
use crate::subscriber::Subscriber;

type Predicate = Arc<dyn Fn(&Message) -> bool + Send + Sync>;

/// What ends the replies early: nothing, the standard sentinel (an empty payload), or a
/// predicate.
#[derive(Clone, Default)]
enum Sentinel {
    #[default]
    None,
    Empty,
    Predicate(Predicate),
}

impl Sentinel {
    fn matches(&self, msg: &Message) -> bool {
        match self {
            Sentinel::None => false,
            Sentinel::Empty => msg.payload.is_empty(),
            Sentinel::Predicate(p) => p(msg),
        }
    }
}

impl fmt::Debug for Sentinel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sentinel::None => "None",
            Sentinel::Empty => "Empty",
            Sentinel::Predicate(_) => "Predicate",
        })
    }
}

/// Why a [`Responses`] stream ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum End {
    /// The total timeout passed.
    Timeout,
    /// No reply came within the stall timer after the previous one.
    Stalled,
    /// The maximum number of replies arrived.
    MaxMessages,
    /// The sentinel arrived (it is not yielded).
    Sentinel,
    /// A status message came in place of a reply (503: nobody is subscribed to the subject).
    Status(StatusCode, Option<String>),
    /// The client closed, or the subscription ended for another reason.
    Closed,
}

/// A request-many being set up, from [`Client::request_many`]. `.await` it (or call
/// [`RequestMany::send`]) to send the request and get the [`Responses`].
///
/// ```no_run
/// # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
/// use futures_util::StreamExt;
/// use std::time::Duration;
///
/// // Ask every instance of a service; keep what arrives within 2 s, stop early when no
/// // answer came for 200 ms after the previous one, or at 10 answers.
/// let mut replies = client
///     .request_many("svc.status", "who is there?")
///     .timeout(Duration::from_secs(2))
///     .stall(Duration::from_millis(200))
///     .max_messages(10)
///     .await?;
/// while let Some(reply) = replies.next().await {
///     println!("{:?}", reply.payload);
/// }
/// println!("ended by {:?}", replies.end());
/// # Ok(()) }
/// ```
#[must_use = "nothing is sent until the RequestMany is awaited"]
#[derive(Debug)]
pub struct RequestMany {
    client: Client,
    subject: String,
    payload: Bytes,
    headers: Option<HeaderMap>,
    timeout: Option<Duration>,
    stall: Option<Duration>,
    max_messages: Option<usize>,
    sentinel: Sentinel,
}

impl RequestMany {
    /// The total time to wait for replies (default: the client's request timeout, or 10 s
    /// when the client has none). The first reply may take all of it.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Ends when no reply came for `stall` after the previous one (the wait for the first
    /// one is the total timeout). A stall of zero, or not shorter than the total timeout, is
    /// the same as none. Time the caller spends between two polls is not counted.
    pub fn stall(mut self, stall: Duration) -> Self {
        self.stall = Some(stall);
        self
    }

    /// Ends after `max` replies (a maximum of 0 is the same as none).
    pub fn max_messages(mut self, max: usize) -> Self {
        self.max_messages = Some(max);
        self
    }

    /// Ends at the standard sentinel: a reply with an empty payload. The
    /// sentinel is not yielded.
    pub fn sentinel_empty(mut self) -> Self {
        self.sentinel = Sentinel::Empty;
        self
    }

    /// Ends at the first reply for which `is_sentinel` returns `true`. The sentinel is not
    /// yielded.
    pub fn sentinel(
        mut self,
        is_sentinel: impl Fn(&Message) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.sentinel = Sentinel::Predicate(Arc::new(is_sentinel));
        self
    }

    /// Headers to send with the request.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = Some(headers);
        self
    }

    /// Subscribes a fresh inbox, sends the request and returns the replies' stream. Fails
    /// when the subject is invalid, the message too large or the client closed.
    pub async fn send(self) -> Result<Responses, Error> {
        let inbox = self.client.new_inbox();
        let sub = self.client.subscribe(&inbox).await?;
        if let Some(max) = self.max_messages.filter(|m| *m > 0) {
            // One more than asked for: a status reply must still be able to arrive (and we
            // check the count ourselves; the server may see the UNSUB after replies passed).
            sub.unsubscribe_after(max as u64 + 1).await?;
        }
        let total = self
            .timeout
            .or(self.client.shared.options.request_timeout)
            .unwrap_or(Duration::from_secs(10));
        let stall = self.stall.filter(|s| !s.is_zero() && *s < total);
        self.client
            .shared
            .publish(
                &self.subject,
                Some(&inbox),
                self.headers.as_ref(),
                &self.payload,
            )
            .await?;
        let deadline = crate::request::deadline_in(total);
        Ok(Responses {
            sub: Some(sub),
            total: Box::pin(tokio::time::sleep_until(deadline)),
            stall,
            stall_sleep: None,
            received: 0,
            max: self.max_messages.filter(|m| *m > 0),
            sentinel: self.sentinel,
            end: None,
        })
    }
}

impl IntoFuture for RequestMany {
    type Output = Result<Responses, Error>;
    type IntoFuture = BoxFuture<'static, Result<Responses, Error>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// The replies to a request-many: a `Stream` of [`Message`]s that ends at the first stop
/// condition ([`Responses::end`] says which). Its subscription is removed when it ends or
/// is dropped.
pub struct Responses {
    sub: Option<Subscriber>,
    total: Pin<Box<Sleep>>,
    stall: Option<Duration>,
    /// Armed at the first poll after a reply was yielded.
    stall_sleep: Option<Pin<Box<Sleep>>>,
    received: usize,
    max: Option<usize>,
    sentinel: Sentinel,
    end: Option<End>,
}

impl Responses {
    /// Why the stream ended; `None` while it has not.
    pub fn end(&self) -> Option<&End> {
        self.end.as_ref()
    }

    /// How many replies were yielded so far.
    pub fn received(&self) -> usize {
        self.received
    }

    fn finish(&mut self, end: End) -> Poll<Option<Message>> {
        // Dropping the subscriber unsubscribes (the server stops sending at once).
        self.sub = None;
        self.end = Some(end);
        Poll::Ready(None)
    }
}

impl Stream for Responses {
    type Item = Message;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Message>> {
        let this = &mut *self;
        let Some(sub) = this.sub.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(sub).poll_next(cx) {
            Poll::Ready(None) => return this.finish(End::Closed),
            Poll::Ready(Some(msg)) => {
                if let Some(code) = msg.status {
                    return this.finish(End::Status(code, msg.description));
                }
                if this.sentinel.matches(&msg) {
                    return this.finish(End::Sentinel);
                }
                this.received += 1;
                if this.max.is_some_and(|max| this.received >= max) {
                    this.sub = None;
                    this.end = Some(End::MaxMessages);
                } else {
                    this.stall_sleep = None;
                }
                return Poll::Ready(Some(msg));
            }
            Poll::Pending => {}
        }
        if this.total.as_mut().poll(cx).is_ready() {
            return this.finish(End::Timeout);
        }
        if let (Some(stall), true) = (this.stall, this.received > 0) {
            let sleep = this
                .stall_sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(stall)));
            if sleep.as_mut().poll(cx).is_ready() {
                return this.finish(End::Stalled);
            }
        }
        Poll::Pending
    }
}

impl fmt::Debug for Responses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responses")
            .field("received", &self.received)
            .field("max", &self.max)
            .field("stall", &self.stall)
            .field("sentinel", &self.sentinel)
            .field("end", &self.end)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Sends a request that may have many replies (scatter-gather), ADR-47. Set its stop
    /// conditions on the returned [`RequestMany`], then `.await` it for the [`Responses`]
    /// stream. The total timeout always applies (the client's request timeout unless set).
    /// A status reply such as 503 (no responders) ends the stream; see [`Responses::end`].
    pub fn request_many(
        &self,
        subject: impl Into<String>,
        payload: impl Into<Bytes>,
    ) -> RequestMany {
        RequestMany {
            client: self.clone(),
            subject: subject.into(),
            payload: payload.into(),
            headers: None,
            timeout: None,
            stall: None,
            max_messages: None,
            sentinel: Sentinel::None,
        }
    }
}
