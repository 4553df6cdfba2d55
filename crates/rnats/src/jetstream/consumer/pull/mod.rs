//! Pull consumers: [`Config`], one-shot [`Batch`]es (`fetch`, `batch`, `next`) and the
//! continuous [`Messages`] stream.

mod messages;

pub(crate) use messages::PullEvent;
pub use messages::{Messages, StreamBuilder};

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream as FuturesStream;
use futures_util::StreamExt;
use serde::Serialize;

use super::{CommonConfig, Consumer, FromConsumer, IntoConsumerConfig, PriorityPolicy};
use crate::jetstream::api::json_body;
use crate::jetstream::api::ApiError;
use crate::jetstream::{nanos, Context, Message};
use crate::{Client, Error, ErrorKind, StatusCode, Subscriber};

/// A pull consumer's configuration: [`super::Config`] without the push-only fields.
///
/// The settings every consumer has are in [`CommonConfig`] (field `common`), which this type
/// dereferences to: `config.ack_policy` is `config.common.ack_policy`. The type is
/// `#[non_exhaustive]`: start from [`Config::durable`], [`Config::ephemeral`] or `Default`
/// and set fields.
///
/// ```
/// use rnats::jetstream::consumer::{pull, AckPolicy};
/// let mut config = pull::Config::durable("processor");
/// config.filter_subject = "orders.>".into();
/// config.ack_policy = AckPolicy::Explicit;
/// config.max_batch = 100;
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Config {
    /// The settings push consumers have too.
    pub common: CommonConfig,
    /// How many pulls may wait at once (0: the server's 512).
    pub max_waiting: i64,
    /// Largest batch of one pull (0: unlimited).
    pub max_batch: i64,
    /// Longest expiry of one pull (zero: unlimited).
    pub max_expires: Duration,
    /// Largest `max_bytes` of one pull (0: unlimited).
    pub max_bytes: i64,
    /// Priority groups (server 2.11+; one group).
    pub priority_groups: Vec<String>,
    /// Priority policy (server 2.11+).
    pub priority_policy: PriorityPolicy,
    /// How long a pinned client keeps its pin without pulling (zero: 2 min).
    pub priority_timeout: Duration,
}

impl Config {
    /// A durable consumer named `name` (explicit acks, from the first message).
    pub fn durable(name: impl Into<String>) -> Self {
        Self {
            common: CommonConfig {
                durable_name: Some(name.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    /// An ephemeral consumer (a generated name; deleted by the server once inactive).
    pub fn ephemeral() -> Self {
        Self::default()
    }
}

impl Deref for Config {
    type Target = CommonConfig;

    fn deref(&self) -> &CommonConfig {
        &self.common
    }
}

impl DerefMut for Config {
    fn deref_mut(&mut self) -> &mut CommonConfig {
        &mut self.common
    }
}

impl IntoConsumerConfig for Config {
    fn into_consumer_config(self) -> super::Config {
        super::Config {
            max_waiting: self.max_waiting,
            max_batch: self.max_batch,
            max_expires: self.max_expires,
            max_bytes: self.max_bytes,
            priority_groups: self.priority_groups,
            priority_policy: self.priority_policy,
            priority_timeout: self.priority_timeout,
            ..self.common.into_config()
        }
    }
}

impl FromConsumer for Config {
    fn try_from_consumer_config(mut c: super::Config) -> Result<Self, Error> {
        if let Some(subject) = &c.deliver_subject {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("the consumer is a push consumer (deliver subject {subject:?})"),
            ));
        }
        Ok(Config {
            max_waiting: c.max_waiting,
            max_batch: c.max_batch,
            max_expires: c.max_expires,
            max_bytes: c.max_bytes,
            priority_groups: std::mem::take(&mut c.priority_groups),
            priority_policy: c.priority_policy,
            priority_timeout: c.priority_timeout,
            common: CommonConfig::from_config(c),
        })
    }
}

/// The body of a `CONSUMER.MSG.NEXT` pull request.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct PullRequest<'a> {
    batch: usize,
    #[serde(skip_serializing_if = "crate::jetstream::is_default")]
    max_bytes: usize,
    #[serde(with = "nanos::option", skip_serializing_if = "Option::is_none")]
    expires: Option<Duration>,
    #[serde(skip_serializing_if = "crate::jetstream::is_default")]
    no_wait: bool,
    #[serde(with = "nanos::option", skip_serializing_if = "Option::is_none")]
    idle_heartbeat: Option<Duration>,
    #[serde(flatten)]
    priority: Option<&'a PriorityRequest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
}

/// The priority-group part of a pull, held by both [`FetchBuilder`] and [`StreamBuilder`]
/// and set by the methods [`priority_setters`] gives them.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct PriorityRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_pending: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_ack_pending: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    priority: Option<u8>,
}

impl PriorityRequest {
    /// Refuses what the server is too old for (pull priorities need 2.12).
    fn check(&self, context: &Context) -> Result<(), Error> {
        if self.priority.is_some() {
            context.require_api_level(crate::jetstream::api_level::V2_12, "pull priorities")?;
        }
        Ok(())
    }
}

/// The priority-group setters of the pull builders, written once: expands, inside the
/// `impl` of a builder with a `priority: PriorityRequest` field, to its `group`,
/// `min_pending`, `min_ack_pending` and `priority` methods. (A trait would need importing
/// before the methods could be called.)
macro_rules! priority_setters {
    () => {
        /// Pulls as a member of priority group `group` (needed by consumers with priority
        /// groups).
        pub fn group(mut self, group: impl Into<String>) -> Self {
            self.priority.group = Some(group.into());
            self
        }

        /// Overflow policy: only get messages when the consumer has at least this many
        /// pending.
        pub fn min_pending(mut self, n: i64) -> Self {
            self.priority.min_pending = Some(n);
            self
        }

        /// Overflow policy: only get messages when at least this many are unacknowledged.
        pub fn min_ack_pending(mut self, n: i64) -> Self {
            self.priority.min_ack_pending = Some(n);
            self
        }

        /// Prioritized policy (server 2.12+): the pulls' priority, 0 (served first) to 9
        /// (larger values count as 9).
        pub fn priority(mut self, priority: u8) -> Self {
            self.priority.priority = Some(priority.min(9));
            self
        }
    };
}
use priority_setters;

/// The largest batch sent when only a byte limit is given.
pub(super) const BYTES_ONLY_BATCH: usize = 1_000_000;

impl Consumer<Config> {
    /// A pull that returns at once with the messages available now, up to the limits set on
    /// the builder (default 100 messages). See [`FetchBuilder`].
    ///
    /// ```no_run
    /// # async fn demo(consumer: rnats::jetstream::consumer::PullConsumer) -> Result<(), rnats::Error> {
    /// use futures_util::StreamExt;
    /// let mut batch = consumer.fetch().max_messages(10).messages().await?;
    /// while let Some(msg) = batch.next().await {
    ///     msg?.ack().await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub fn fetch(&self) -> FetchBuilder {
        FetchBuilder::new(self.clone(), true)
    }

    /// A pull that waits up to its expiry (default 30 s) to fill the batch (default 100
    /// messages). See [`FetchBuilder`].
    pub fn batch(&self) -> FetchBuilder {
        FetchBuilder::new(self.clone(), false)
    }

    /// The next message, waiting up to 30 s for one (`None` when none came).
    pub async fn next(&self) -> Result<Option<Message>, Error> {
        let mut batch = self.batch().max_messages(1).messages().await?;
        batch.next().await.transpose()
    }

    /// A continuous stream of messages with default settings: see [`Consumer::stream`].
    pub async fn messages(&self) -> Result<Messages, Error> {
        self.stream().messages().await
    }

    /// Configures a continuous stream of messages, kept topped up by pulls issued before the
    /// previous ones are used up. See [`StreamBuilder`].
    pub fn stream(&self) -> StreamBuilder {
        StreamBuilder::new(self.clone())
    }

    fn pull_subject(&self) -> String {
        format!(
            "{}.CONSUMER.MSG.NEXT.{}.{}",
            self.context.api_prefix(),
            self.info.stream_name,
            self.info.name
        )
    }
}

/// Options of a one-shot pull, from [`Consumer::fetch`] or [`Consumer::batch`].
#[derive(Debug, Clone)]
#[must_use = "call .messages() to send the pull"]
pub struct FetchBuilder {
    consumer: Consumer<Config>,
    max_messages: usize,
    max_bytes: usize,
    expires: Option<Duration>,
    no_wait: bool,
    heartbeat: Option<Duration>,
    priority: PriorityRequest,
}

impl FetchBuilder {
    fn new(consumer: Consumer<Config>, no_wait: bool) -> Self {
        Self {
            consumer,
            max_messages: 100,
            max_bytes: 0,
            expires: if no_wait {
                None
            } else {
                Some(Duration::from_secs(30))
            },
            no_wait,
            heartbeat: None,
            priority: PriorityRequest::default(),
        }
    }

    /// At most this many messages (at least 1).
    pub fn max_messages(mut self, n: usize) -> Self {
        self.max_messages = n.max(1);
        self
    }

    /// At most this many bytes (the batch ends before the message that would exceed it). With
    /// only a byte limit wanted, set `max_messages` high.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// How long the server keeps the pull open. With [`FetchBuilder::no_wait`] as well, the
    /// pull ends as soon as any message is there, or at expiry.
    pub fn expires(mut self, expires: Duration) -> Self {
        self.expires = Some(expires);
        self
    }

    /// Whether to end the pull at once when no message is available.
    pub fn no_wait(mut self, no_wait: bool) -> Self {
        self.no_wait = no_wait;
        self
    }

    /// Asks for idle heartbeats at this interval; the batch fails when two are missed.
    /// Default: 5 s for pulls that wait 10 s or more, none otherwise.
    pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }

    priority_setters!();

    /// Sends the pull and returns the stream of its messages, which ends when the batch is
    /// complete, the pull expired, or (with no-wait) no more messages were available.
    pub async fn messages(self) -> Result<Batch, Error> {
        let consumer = self.consumer;
        self.priority.check(&consumer.context)?;
        let client = consumer.context.client().clone();
        let heartbeat = self.heartbeat.or(match self.expires {
            Some(e) if e >= Duration::from_secs(10) => Some(Duration::from_secs(5)),
            _ => None,
        });
        if let (Some(hb), Some(expires)) = (heartbeat, self.expires) {
            if expires < hb.saturating_mul(2) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("a pull's expiry ({expires:?}) must be at least twice its heartbeat ({hb:?})"),
                ));
            }
        }
        let inbox = client.new_inbox();
        let sub = client.subscribe(&inbox).await?;
        let request = PullRequest {
            batch: self.max_messages,
            max_bytes: self.max_bytes,
            expires: self.expires,
            no_wait: self.no_wait,
            idle_heartbeat: heartbeat,
            priority: Some(&self.priority),
            id: None,
        };
        client
            .publish_with_reply(consumer.pull_subject(), &inbox, json_body(&request)?)
            .await?;
        // The client must wait longer than the server keeps the pull.
        let wait = self.expires.map_or(consumer.context.timeout(), |e| {
            e.saturating_add(Duration::from_secs(1))
        });
        Ok(Batch {
            context: consumer.context.clone(),
            consumer_name: consumer.info.name.clone(),
            sub,
            remaining: self.max_messages,
            deadline: Box::pin(tokio::time::sleep(wait)),
            heartbeat: heartbeat.map(|hb| (hb, Box::pin(tokio::time::sleep(hb.saturating_mul(2))))),
            done: false,
        })
    }
}

/// The messages of one pull, from [`FetchBuilder::messages`]. Ends when the pull is over;
/// yields an error and ends when the pull failed (consumer deleted, missed heartbeats...).
pub struct Batch {
    context: Context,
    consumer_name: String,
    sub: Subscriber,
    remaining: usize,
    deadline: Pin<Box<tokio::time::Sleep>>,
    heartbeat: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
    done: bool,
}

impl FuturesStream for Batch {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match this.sub.poll_next_unpin(cx) {
                Poll::Ready(Some(msg)) => {
                    if let Some((hb, sleep)) = &mut this.heartbeat {
                        sleep
                            .as_mut()
                            .reset(crate::jetstream::deadline(hb.saturating_mul(2)));
                    }
                    let Some(status) = msg.status else {
                        this.remaining = this.remaining.saturating_sub(1);
                        if this.remaining == 0 {
                            this.done = true;
                        }
                        return Poll::Ready(Some(Ok(Message {
                            message: msg,
                            context: this.context.clone(),
                        })));
                    };
                    match classify(status, msg.description.as_deref()) {
                        StatusClass::Heartbeat => {
                            answer_stalled(this.context.client(), &msg);
                            continue;
                        }
                        StatusClass::PullEnded | StatusClass::PullLost => {
                            this.done = true;
                            return Poll::Ready(None);
                        }
                        StatusClass::PinMismatch
                        | StatusClass::Warning
                        | StatusClass::Unreachable
                        | StatusClass::Terminal => {
                            this.done = true;
                            return Poll::Ready(Some(Err(status_error(
                                &this.consumer_name,
                                status,
                                msg.description.as_deref(),
                            ))));
                        }
                    }
                }
                Poll::Ready(None) => {
                    this.done = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => break,
            }
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.done = true;
            return Poll::Ready(None);
        }
        if let Some((hb, sleep)) = &mut this.heartbeat {
            if sleep.as_mut().poll(cx).is_ready() {
                this.done = true;
                return Poll::Ready(Some(Err(missed_heartbeat(&this.consumer_name, *hb))));
            }
        }
        Poll::Pending
    }
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("consumer", &self.consumer_name)
            .field("remaining", &self.remaining)
            .finish_non_exhaustive()
    }
}

/// What a status message means for a pull.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum StatusClass {
    /// 100 Idle Heartbeat.
    Heartbeat,
    /// The pull ended normally (no messages, expired, byte limit reached); pending headers
    /// tell what it left undelivered.
    PullEnded,
    /// The pull was dropped by the server (leadership change, shutdown).
    PullLost,
    /// 423: the pin id is not (or no longer) ours.
    PinMismatch,
    /// Worth telling, not ending a continuous stream for.
    Warning,
    /// 503: nobody serves the consumer (gone with a restarted server, not loaded yet, no
    /// leader): the pull is lost; try again a little later.
    Unreachable,
    /// The consumer cannot be pulled from any more.
    Terminal,
}

pub(super) fn classify(status: StatusCode, description: Option<&str>) -> StatusClass {
    let d = description.unwrap_or_default().to_ascii_lowercase();
    match status.as_u16() {
        100 => StatusClass::Heartbeat,
        404 | 408 => StatusClass::PullEnded,
        409 if d.starts_with("message size exceeds maxbytes")
            || d.starts_with("batch completed") =>
        {
            StatusClass::PullEnded
        }
        409 if d.starts_with("leadership change") || d.starts_with("server shutdown") => {
            StatusClass::PullLost
        }
        409 if d.starts_with("consumer deleted") || d.starts_with("consumer is push based") => {
            StatusClass::Terminal
        }
        409 => StatusClass::Warning,
        423 => StatusClass::PinMismatch,
        400 => StatusClass::Terminal,
        503 => StatusClass::Unreachable,
        _ => StatusClass::Warning,
    }
}

/// Answers a heartbeat that says the consumer is stalled (flow control); true if it did.
pub(super) fn answer_stalled(client: &Client, msg: &crate::Message) -> bool {
    let stalled = msg
        .headers
        .as_ref()
        .and_then(|h| h.get("Nats-Consumer-Stalled"))
        .map(str::to_owned);
    if let Some(subject) = stalled {
        let client = client.clone();
        tokio::spawn(async move {
            let _ = client.publish(subject, Bytes::new()).await;
        });
        return true;
    }
    false
}

pub(super) fn status_error(consumer: &str, status: StatusCode, description: Option<&str>) -> Error {
    Error::jetstream_api(
        format!("pull from consumer {consumer:?} failed"),
        ApiError::from_status(status, description),
    )
}

pub(super) fn missed_heartbeat(consumer: &str, heartbeat: Duration) -> Error {
    Error::new(
        ErrorKind::Timeout,
        format!(
            "no heartbeat from consumer {consumer:?} for {:?}",
            heartbeat.saturating_mul(2)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let s = |c| StatusCode::from_u16(c).unwrap();
        assert_eq!(
            classify(s(100), Some("Idle Heartbeat")),
            StatusClass::Heartbeat
        );
        assert_eq!(
            classify(s(404), Some("No Messages")),
            StatusClass::PullEnded
        );
        assert_eq!(
            classify(s(408), Some("Request Timeout")),
            StatusClass::PullEnded
        );
        assert_eq!(
            classify(s(409), Some("Message Size Exceeds MaxBytes")),
            StatusClass::PullEnded
        );
        assert_eq!(
            classify(s(409), Some("Leadership Change")),
            StatusClass::PullLost
        );
        assert_eq!(
            classify(s(409), Some("Consumer Deleted")),
            StatusClass::Terminal
        );
        assert_eq!(
            classify(s(409), Some("Consumer is push based")),
            StatusClass::Terminal
        );
        assert_eq!(
            classify(s(409), Some("Exceeded MaxWaiting")),
            StatusClass::Warning
        );
        assert_eq!(
            classify(s(423), Some("Nats-Wrong-Pin-Id")),
            StatusClass::PinMismatch
        );
        assert_eq!(classify(s(400), Some("Bad Request")), StatusClass::Terminal);
    }

    #[test]
    fn pull_request_json() {
        let r = PullRequest {
            batch: 10,
            expires: Some(Duration::from_secs(1)),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"batch":10,"expires":1000000000}"#
        );
        let priority = PriorityRequest {
            group: Some("g".into()),
            min_pending: Some(5),
            priority: Some(2),
            ..Default::default()
        };
        let r = PullRequest {
            batch: 1,
            priority: Some(&priority),
            id: Some("pin"),
            ..Default::default()
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"batch":1,"group":"g","min_pending":5,"priority":2,"id":"pin"}"#
        );
    }
}
