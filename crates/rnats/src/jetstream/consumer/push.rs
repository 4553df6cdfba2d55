//! Push consumers: the server delivers to a subject; [`Messages`] subscribes to it, answers
//! flow control and stalled heartbeats, and watches idle heartbeats.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream as FuturesStream;
use futures_util::StreamExt;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::{AckPolicy, Consumer, DeliverPolicy, FromConsumer, IntoConsumerConfig, ReplayPolicy};
use crate::jetstream::errors::ApiError;
use crate::jetstream::{Context, Message};
use crate::{Client, Error, ErrorKind, StatusCode, Subscriber};

/// A push consumer's configuration: [`super::Config`] without the pull-only fields, with a
/// deliver subject.
///
/// ```
/// use std::time::Duration;
/// use rnats::jetstream::consumer::push;
/// let mut config = push::Config::new("deliver.orders");
/// config.durable_name = Some("audit".into());
/// config.idle_heartbeat = Duration::from_secs(5);
/// config.flow_control = true;
/// ```
#[derive(Debug, Clone, PartialEq, Default)]
#[non_exhaustive]
pub struct Config {
    /// Where the server delivers messages.
    pub deliver_subject: String,
    /// The queue group sharing deliveries (several subscribers, each message to one).
    pub deliver_group: Option<String>,
    /// A durable consumer's name.
    pub durable_name: Option<String>,
    /// The consumer's name.
    pub name: Option<String>,
    /// A description.
    pub description: Option<String>,
    /// Where to start.
    pub deliver_policy: DeliverPolicy,
    /// The start sequence for [`DeliverPolicy::ByStartSequence`].
    pub opt_start_seq: Option<u64>,
    /// The start time for [`DeliverPolicy::ByStartTime`].
    pub opt_start_time: Option<OffsetDateTime>,
    /// How messages are acknowledged (default explicit).
    pub ack_policy: AckPolicy,
    /// How long the server waits for an acknowledgement (zero: 30 s).
    pub ack_wait: Duration,
    /// How many times a message is delivered at most (0 or -1: unlimited).
    pub max_deliver: i64,
    /// Only messages of subjects matching this filter.
    pub filter_subject: String,
    /// Only messages of subjects matching any of these filters.
    pub filter_subjects: Vec<String>,
    /// Delivery rate.
    pub replay_policy: ReplayPolicy,
    /// Delivery rate limit in bits per second (0: none).
    pub rate_limit_bps: u64,
    /// Percentage of acknowledgements sampled (`"50%"`).
    pub sample_freq: Option<String>,
    /// How many messages may be unacknowledged at once (0: the server's 1000).
    pub max_ack_pending: i64,
    /// Deliver only headers.
    pub headers_only: bool,
    /// Idle heartbeat interval (zero: none); [`Messages`] reports two missed ones.
    pub idle_heartbeat: Duration,
    /// Flow control: the server waits for answers to its flow-control requests, which
    /// [`Messages`] sends.
    pub flow_control: bool,
    /// An inactive consumer is deleted after this long (zero: server default).
    pub inactive_threshold: Duration,
    /// Redelivery delays.
    pub backoff: Vec<Duration>,
    /// Replicas (0: as the stream).
    pub num_replicas: usize,
    /// Keep the state in memory.
    pub mem_storage: bool,
    /// User metadata.
    pub metadata: HashMap<String, String>,
    /// Paused until then (server 2.11+).
    pub pause_until: Option<OffsetDateTime>,
    /// Fields this version of rnats does not model.
    pub extra: Map<String, Value>,
}

impl Config {
    /// A push consumer delivering to `deliver_subject`.
    pub fn new(deliver_subject: impl Into<String>) -> Self {
        Self {
            deliver_subject: deliver_subject.into(),
            ..Default::default()
        }
    }
}

impl IntoConsumerConfig for Config {
    fn into_consumer_config(self) -> super::Config {
        super::Config {
            deliver_subject: Some(self.deliver_subject),
            deliver_group: self.deliver_group,
            durable_name: self.durable_name,
            name: self.name,
            description: self.description,
            deliver_policy: self.deliver_policy,
            opt_start_seq: self.opt_start_seq,
            opt_start_time: self.opt_start_time,
            ack_policy: self.ack_policy,
            ack_wait: self.ack_wait,
            max_deliver: self.max_deliver,
            filter_subject: self.filter_subject,
            filter_subjects: self.filter_subjects,
            replay_policy: self.replay_policy,
            rate_limit_bps: self.rate_limit_bps,
            sample_freq: self.sample_freq,
            max_ack_pending: self.max_ack_pending,
            headers_only: self.headers_only,
            idle_heartbeat: self.idle_heartbeat,
            flow_control: self.flow_control,
            inactive_threshold: self.inactive_threshold,
            backoff: self.backoff,
            num_replicas: self.num_replicas,
            mem_storage: self.mem_storage,
            metadata: self.metadata,
            pause_until: self.pause_until,
            extra: self.extra,
            ..Default::default()
        }
    }
}

impl FromConsumer for Config {
    fn try_from_consumer_config(c: super::Config) -> Result<Self, Error> {
        let Some(deliver_subject) = c.deliver_subject else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "the consumer is a pull consumer (no deliver subject)",
            ));
        };
        Ok(Config {
            deliver_subject,
            deliver_group: c.deliver_group,
            durable_name: c.durable_name,
            name: c.name,
            description: c.description,
            deliver_policy: c.deliver_policy,
            opt_start_seq: c.opt_start_seq,
            opt_start_time: c.opt_start_time,
            ack_policy: c.ack_policy,
            ack_wait: c.ack_wait,
            max_deliver: c.max_deliver,
            filter_subject: c.filter_subject,
            filter_subjects: c.filter_subjects,
            replay_policy: c.replay_policy,
            rate_limit_bps: c.rate_limit_bps,
            sample_freq: c.sample_freq,
            max_ack_pending: c.max_ack_pending,
            headers_only: c.headers_only,
            idle_heartbeat: c.idle_heartbeat,
            flow_control: c.flow_control,
            inactive_threshold: c.inactive_threshold,
            backoff: c.backoff,
            num_replicas: c.num_replicas,
            mem_storage: c.mem_storage,
            metadata: c.metadata,
            pause_until: c.pause_until,
            extra: c.extra,
        })
    }
}

/// A push consumer.
pub type PushConsumer = Consumer<Config>;

impl Consumer<Config> {
    /// Subscribes to the deliver subject (in the deliver group, if any) and returns the
    /// stream of delivered messages.
    pub async fn messages(&self) -> Result<Messages, Error> {
        let client = self.context.client().clone();
        let sub = match &self.config.deliver_group {
            Some(group) => {
                client
                    .queue_subscribe(&self.config.deliver_subject, group)
                    .await?
            }
            None => client.subscribe(&self.config.deliver_subject).await?,
        };
        let heartbeat = Some(self.config.idle_heartbeat).filter(|d| !d.is_zero());
        Ok(Messages {
            context: self.context.clone(),
            consumer_name: self.info.name.clone(),
            client,
            sub,
            heartbeat: heartbeat.map(|hb| (hb, Box::pin(tokio::time::sleep(hb.saturating_mul(2))))),
            terminated: false,
        })
    }
}

/// The messages delivered to a push consumer, from [`Consumer::messages`].
///
/// Answers flow-control requests and stalled heartbeats (status 100) itself; yields a
/// non-terminal [`Error::is_timeout`] error when two idle heartbeats are missed; ends with an
/// error when the consumer is deleted (`409 Consumer Deleted`).
pub struct Messages {
    context: Context,
    consumer_name: String,
    client: Client,
    sub: Subscriber,
    heartbeat: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
    terminated: bool,
}

impl FuturesStream for Messages {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.terminated {
            return Poll::Ready(None);
        }
        loop {
            let msg = match this.sub.poll_next_unpin(cx) {
                Poll::Ready(Some(msg)) => msg,
                Poll::Ready(None) => {
                    this.terminated = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => break,
            };
            if let Some((hb, sleep)) = &mut this.heartbeat {
                sleep
                    .as_mut()
                    .reset(crate::jetstream::deadline(hb.saturating_mul(2)));
            }
            let Some(status) = msg.status else {
                return Poll::Ready(Some(Ok(Message {
                    message: msg,
                    context: this.context.clone(),
                })));
            };
            if status == StatusCode::IDLE_HEARTBEAT {
                // A flow-control request has a reply subject; a stalled heartbeat names one.
                let answer_to = msg.reply.as_ref().map(|r| r.to_string()).or_else(|| {
                    msg.headers
                        .as_ref()
                        .and_then(|h| h.get("Nats-Consumer-Stalled"))
                        .map(str::to_owned)
                });
                if let Some(subject) = answer_to {
                    let client = this.client.clone();
                    tokio::spawn(async move {
                        let _ = client.publish(subject, Bytes::new()).await;
                    });
                }
                continue;
            }
            let description = msg.description.as_deref().unwrap_or_default();
            let terminal = status == StatusCode::CONFLICT
                && description.eq_ignore_ascii_case("consumer deleted");
            this.terminated = terminal;
            return Poll::Ready(Some(Err(Error::jetstream_api(
                format!("push consumer {:?} got a status", this.consumer_name),
                ApiError::from_status(status, msg.description.as_deref()),
            ))));
        }
        if let Some((hb, sleep)) = &mut this.heartbeat {
            if sleep.as_mut().poll(cx).is_ready() {
                let missed = hb.saturating_mul(2);
                sleep.as_mut().reset(crate::jetstream::deadline(missed));
                return Poll::Ready(Some(Err(Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "no heartbeat from push consumer {:?} for {missed:?}",
                        this.consumer_name
                    ),
                ))));
            }
        }
        Poll::Pending
    }
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages")
            .field("consumer", &self.consumer_name)
            .finish_non_exhaustive()
    }
}
