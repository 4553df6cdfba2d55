//! Push consumers: the server delivers to a subject; [`Messages`] subscribes to it, answers
//! flow control and stalled heartbeats, and watches idle heartbeats.

use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream as FuturesStream;
use futures_util::StreamExt;

use super::{CommonConfig, Consumer, FromConsumer, IntoConsumerConfig};
use crate::jetstream::api::ApiError;
use crate::jetstream::{Context, Message};
use crate::{Client, Error, ErrorKind, StatusCode, Subscriber};

/// A push consumer's configuration: [`super::Config`] without the pull-only fields, with a
/// deliver subject.
///
/// The settings every consumer has are in [`CommonConfig`] (field `common`), which this type
/// dereferences to: `config.durable_name` is `config.common.durable_name`.
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
    /// The settings pull consumers have too.
    pub common: CommonConfig,
    /// Where the server delivers messages.
    pub deliver_subject: String,
    /// The queue group sharing deliveries (several subscribers, each message to one).
    pub deliver_group: Option<String>,
    /// Delivery rate limit in bits per second (0: none).
    pub rate_limit_bps: u64,
    /// Idle heartbeat interval (zero: none); [`Messages`] reports two missed ones.
    pub idle_heartbeat: Duration,
    /// Flow control: the server waits for answers to its flow-control requests, which
    /// [`Messages`] sends.
    pub flow_control: bool,
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
            deliver_subject: Some(self.deliver_subject),
            deliver_group: self.deliver_group,
            rate_limit_bps: self.rate_limit_bps,
            idle_heartbeat: self.idle_heartbeat,
            flow_control: self.flow_control,
            ..self.common.into_config()
        }
    }
}

impl FromConsumer for Config {
    fn try_from_consumer_config(mut c: super::Config) -> Result<Self, Error> {
        let Some(deliver_subject) = c.deliver_subject.take() else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "the consumer is a pull consumer (no deliver subject)",
            ));
        };
        Ok(Config {
            deliver_subject,
            deliver_group: c.deliver_group.take(),
            rate_limit_bps: c.rate_limit_bps,
            idle_heartbeat: c.idle_heartbeat,
            flow_control: c.flow_control,
            common: CommonConfig::from_config(c),
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
