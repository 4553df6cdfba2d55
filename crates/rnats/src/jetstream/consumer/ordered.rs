//! Ordered consumers: every message of a stream (or of some subjects) exactly once and in
//! order, with no acknowledgements, through ephemeral consumers that are recreated from the
//! next expected sequence whenever something goes wrong.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_core::Stream as FuturesStream;
use time::OffsetDateTime;

use super::pull::{self, Messages};
use super::{AckPolicy, Consumer, DeliverPolicy, ReplayPolicy};
use crate::jetstream::stream::Stream;
use crate::jetstream::Message;
use crate::{Error, ErrorKind};

/// The configuration of an ordered consumer, from [`Stream::ordered_messages`].
///
/// ```no_run
/// # async fn demo(stream: rnats::jetstream::stream::Stream) -> Result<(), rnats::Error> {
/// use futures_util::StreamExt;
/// use rnats::jetstream::consumer::OrderedConfig;
/// let mut config = OrderedConfig::default();
/// config.filter_subjects = vec!["orders.eu.>".into()];
/// let mut messages = stream.ordered_messages(config).await?;
/// while let Some(msg) = messages.next().await {
///     println!("{:?}", msg?.payload);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct OrderedConfig {
    /// Only subjects matching these filters (empty: all).
    pub filter_subjects: Vec<String>,
    /// Where to start the first time (afterwards: after the last message delivered).
    pub deliver_policy: DeliverPolicy,
    /// The start sequence for [`DeliverPolicy::ByStartSequence`].
    pub opt_start_seq: Option<u64>,
    /// The start time for [`DeliverPolicy::ByStartTime`].
    pub opt_start_time: Option<OffsetDateTime>,
    /// Delivery rate.
    pub replay_policy: ReplayPolicy,
    /// Deliver only headers.
    pub headers_only: bool,
    /// The server deletes an ephemeral consumer idle this long (default 5 min).
    pub inactive_threshold: Duration,
    /// Messages pulled ahead (default 500).
    pub max_messages_per_batch: usize,
    /// Bytes pulled ahead instead (default 0: the message limit applies). When set, the
    /// message limit no longer applies: memory stays bounded whatever the message sizes.
    pub max_bytes_per_batch: usize,
    /// Idle heartbeat of the pulls; two missed ones recreate the consumer (default 2 s).
    pub heartbeat: Duration,
    /// How many times in a row recreating the consumer may fail before the stream gives up
    /// with an error (default 20, with waits from 250 ms doubling up to 2 s between them;
    /// each attempt waits at most 2 s for the server, or the context's timeout if shorter).
    pub max_reset_attempts: usize,
}

impl Default for OrderedConfig {
    fn default() -> Self {
        Self {
            filter_subjects: Vec::new(),
            deliver_policy: DeliverPolicy::All,
            opt_start_seq: None,
            opt_start_time: None,
            replay_policy: ReplayPolicy::Instant,
            headers_only: false,
            inactive_threshold: Duration::from_secs(300),
            max_messages_per_batch: 500,
            max_bytes_per_batch: 0,
            heartbeat: Duration::from_secs(2),
            max_reset_attempts: 20,
        }
    }
}

/// The longest wait for one attempt to create (or recreate) the consumer.
const RESET_ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

type Reset = Pin<Box<dyn Future<Output = Result<(String, Messages, u64), Error>> + Send>>;

impl Stream {
    /// Delivers the stream's messages (matching the filters) in order, each exactly once,
    /// through an ephemeral, memory, R1, ack-none consumer. On a gap in the delivery
    /// sequence (also one at the end: an idle heartbeat names the consumer's last delivery,
    /// so a message lost with a broken connection is noticed without another one following
    /// it), missed heartbeats, or the consumer's deletion or loss (after a reconnect the
    /// pulls are sent again; a consumer that did not survive answers them with a 503), the
    /// consumer is recreated from the stream sequence after the last message delivered. A
    /// consumer that survived a reconnect is kept: no recreation, no wait for the stream's
    /// leader. After
    /// `max_reset_attempts` failed recreations in a row the stream yields the error and ends.
    pub async fn ordered_messages(&self, config: OrderedConfig) -> Result<Ordered, Error> {
        let mut ordered = Ordered {
            stream: self.clone(),
            config,
            prefix: nuid::next().to_string(),
            serial: 0,
            consumer: None,
            attempt: None,
            abandoned: Vec::new(),
            last_stream_seq: 0,
            next_consumer_seq: 1,
            messages: None,
            reset: None,
            failures: 0,
            done: false,
            initial_pending: 0,
        };
        let first = ordered.start_reset(Duration::ZERO);
        let (name, messages, pending) = first.await?;
        ordered.initial_pending = pending;
        ordered.attempt = None;
        ordered.consumer = Some(name);
        ordered.messages = Some(messages);
        // Recreations happen while the cluster is changing (an election takes seconds and
        // requests meanwhile go unanswered): short attempts, retried, land soon after it.
        ordered.stream.context = self
            .context
            .for_requests_with_timeout(self.context.timeout().min(RESET_ATTEMPT_TIMEOUT));
        Ok(ordered)
    }
}

/// The messages of an ordered consumer, from [`Stream::ordered_messages`]. Messages need no
/// acknowledgement. Errors are yielded only when the consumer could not be recreated, and
/// then the stream ends.
pub struct Ordered {
    stream: Stream,
    config: OrderedConfig,
    prefix: String,
    serial: u64,
    consumer: Option<String>,
    /// The consumer a recreation under way is creating.
    attempt: Option<String>,
    /// Consumers that failed attempts asked for: a creation that timed out may still be
    /// carried out (the server handles API requests concurrently, so a delete sent at once
    /// can overtake it). They are deleted once a recreation succeeds.
    abandoned: Vec<String>,
    last_stream_seq: u64,
    next_consumer_seq: u64,
    messages: Option<Messages>,
    reset: Option<Reset>,
    failures: usize,
    done: bool,
    /// Messages the first consumer had to deliver when it was created.
    initial_pending: u64,
}

impl Ordered {
    /// Recreates the consumer after `delay`, starting after the last delivered message; the
    /// old consumer is deleted in the background.
    fn start_reset(&mut self, delay: Duration) -> Reset {
        self.messages = None;
        if let Some(old) = self.consumer.take() {
            self.delete_in_background(vec![old]);
        }
        if let Some(failed) = self.attempt.take() {
            self.abandoned.push(failed);
        }
        self.serial += 1;
        let name = format!("{}_{}", self.prefix, self.serial);
        self.attempt = Some(name.clone());
        let mut config = pull::Config::ephemeral();
        config.name = Some(name.clone());
        config.ack_policy = AckPolicy::None;
        config.mem_storage = true;
        config.num_replicas = 1;
        config.max_deliver = 1;
        config.inactive_threshold = self.config.inactive_threshold;
        config.replay_policy = self.config.replay_policy;
        config.headers_only = self.config.headers_only;
        match self.config.filter_subjects.as_slice() {
            // The server wants a filter with last-per-subject: all subjects it is.
            [] if self.config.deliver_policy == DeliverPolicy::LastPerSubject => {
                config.filter_subject = ">".to_owned();
            }
            [] => {}
            [one] => config.filter_subject = one.clone(),
            many => config.filter_subjects = many.to_vec(),
        }
        if self.last_stream_seq > 0 {
            config.deliver_policy = DeliverPolicy::ByStartSequence;
            config.opt_start_seq = Some(self.last_stream_seq + 1);
        } else {
            config.deliver_policy = self.config.deliver_policy;
            config.opt_start_seq = self.config.opt_start_seq;
            config.opt_start_time = self.config.opt_start_time;
        }
        self.next_consumer_seq = 1;
        let stream = self.stream.clone();
        let batch = self.config.max_messages_per_batch;
        let batch_bytes = self.config.max_bytes_per_batch;
        let heartbeat = self.config.heartbeat;
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            let consumer: Consumer<pull::Config> = stream.create_consumer(config).await?;
            let pending = consumer.cached_info().num_pending;
            let mut builder = consumer.stream().max_messages_per_batch(batch);
            if batch_bytes > 0 {
                builder = builder.max_bytes_per_batch(batch_bytes);
            }
            let messages = builder
                .heartbeat(heartbeat)
                .expires(heartbeat.saturating_mul(5).max(Duration::from_secs(1)))
                .messages()
                .await?;
            Ok((name, messages, pending))
        })
    }

    fn delete_in_background(&self, names: Vec<String>) {
        if names.is_empty() {
            return;
        }
        let stream = self.stream.clone();
        tokio::spawn(async move {
            for name in names {
                let _ = stream.delete_consumer(&name).await;
            }
        });
    }

    /// How many messages the first consumer had to deliver when it was created (its
    /// `num_pending`): 0 means that, at that moment, nothing matched its filters and start
    /// policy. Each delivered message's [`Info::pending`](crate::jetstream::message::Info)
    /// counts down from there (and up again as new messages arrive).
    pub fn initial_pending(&self) -> u64 {
        self.initial_pending
    }

    /// How many times the consumer was recreated (0 while the first one serves).
    pub fn resets(&self) -> u64 {
        self.serial.saturating_sub(1)
    }

    /// The name of the consumer serving now (`None` while one is being recreated).
    pub fn consumer_name(&self) -> Option<&str> {
        self.consumer.as_deref()
    }

    fn backoff(&self) -> Duration {
        let exp = u32::try_from(self.failures.min(4)).unwrap_or(4);
        (Duration::from_millis(250) * 2u32.pow(exp)).min(Duration::from_secs(2))
    }
}

impl Ordered {
    /// The next message with what its reply subject says (read once here, for the
    /// sequence check, and handed on: a KV watcher needs it too).
    pub(crate) fn poll_next_delivered(
        &mut self,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Option<Result<(Message, Delivered), Error>>> {
        let this = self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            if let Some(reset) = &mut this.reset {
                match reset.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok((name, messages, _))) => {
                        this.reset = None;
                        this.attempt = None;
                        this.failures = 0;
                        let abandoned = std::mem::take(&mut this.abandoned);
                        this.delete_in_background(abandoned);
                        this.consumer = Some(name);
                        this.messages = Some(messages);
                    }
                    Poll::Ready(Err(e)) => {
                        this.reset = None;
                        this.failures += 1;
                        if let Some(failed) = this.attempt.take() {
                            this.abandoned.push(failed);
                        }
                        if this.failures >= this.config.max_reset_attempts
                            || e.is_connection_closed()
                        {
                            this.done = true;
                            return Poll::Ready(Some(Err(Error::with_source(
                                ErrorKind::JetStream,
                                format!(
                                    "ordered consumer of stream {:?} gave up after {} failed \
                                     attempts to recreate it",
                                    this.stream.name(),
                                    this.failures
                                ),
                                e,
                            ))));
                        }
                        let delay = this.backoff();
                        this.reset = Some(this.start_reset(delay));
                        continue;
                    }
                }
            }
            let Some(messages) = &mut this.messages else {
                this.reset = Some(this.start_reset(Duration::ZERO));
                continue;
            };
            let next = match messages.poll_event(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => None,
                Poll::Ready(Some(pull::PullEvent::Next(next))) => Some(next),
                Poll::Ready(Some(pull::PullEvent::Heartbeat {
                    last_consumer_sequence,
                })) => {
                    // Idle: everything the consumer sent came before this. A message lost
                    // on the way (its connection broke, the subscriber's queue was full)
                    // shows here even when no message follows it.
                    if last_consumer_sequence
                        .is_some_and(|last| last.saturating_add(1) != this.next_consumer_seq)
                    {
                        this.reset = Some(this.start_reset(Duration::ZERO));
                    }
                    continue;
                }
            };
            match next {
                Some(Ok(msg)) => {
                    let Ok(info) = msg.info() else {
                        continue;
                    };
                    if info.consumer_sequence != this.next_consumer_seq {
                        // A gap (or a message of an older consumer): start over after the
                        // last message delivered.
                        this.reset = Some(this.start_reset(Duration::ZERO));
                        continue;
                    }
                    this.next_consumer_seq += 1;
                    this.last_stream_seq = info.stream_sequence;
                    let delivered = Delivered {
                        stream_sequence: info.stream_sequence,
                        pending: info.pending,
                        published: info.published,
                    };
                    return Poll::Ready(Some(Ok((msg, delivered))));
                }
                Some(Err(e)) => {
                    if e.is_connection_closed() {
                        this.done = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                    // Missed heartbeats, a deleted or unreachable consumer, a warning: the
                    // consumer is not to be trusted any more.
                    this.reset = Some(this.start_reset(Duration::ZERO));
                }
                None => {
                    if this.stream.context.client().connection_state()
                        == crate::ConnectionState::Closed
                    {
                        this.done = true;
                        return Poll::Ready(None);
                    }
                    this.reset = Some(this.start_reset(Duration::ZERO));
                }
            }
        }
    }
}

impl FuturesStream for Ordered {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        self.poll_next_delivered(cx)
            .map(|next| next.map(|result| result.map(|(msg, _)| msg)))
    }
}

/// A delivered message's place in the stream, from its reply subject.
#[derive(Debug, Clone, Copy)]
#[cfg_attr(not(feature = "kv"), allow(dead_code))]
pub(crate) struct Delivered {
    /// Its stream sequence.
    pub(crate) stream_sequence: u64,
    /// Messages left for the consumer after it.
    pub(crate) pending: u64,
    /// When it was stored.
    pub(crate) published: time::OffsetDateTime,
}

impl std::fmt::Debug for Ordered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ordered")
            .field("stream", &self.stream.name())
            .field("consumer", &self.consumer)
            .field("last_stream_seq", &self.last_stream_seq)
            .finish_non_exhaustive()
    }
}
