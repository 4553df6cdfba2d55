//! Consumers: configuration, info, management, and the [`Consumer`] handle. Pull consumers
//! are in [`pull`], push consumers in [`push`]; ordered consumers are
//! [`Stream::ordered_messages`].

mod common;
mod ordered;
pub mod pull;
pub mod push;

pub use common::CommonConfig;
pub use ordered::{Ordered, OrderedConfig};
pub use push::PushConsumer;

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::api::{check_name, json_body, Paged, Success};
use super::context::{Context, Names};
use super::stream::{ClusterInfo, Stream};
use super::{is_default, nanos};
use crate::{Error, ErrorKind};

/// From where in the stream a consumer starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DeliverPolicy {
    /// From the first message.
    #[default]
    All,
    /// From the last message.
    Last,
    /// Only messages stored from now on.
    New,
    /// From `opt_start_seq`.
    ByStartSequence,
    /// From `opt_start_time`.
    ByStartTime,
    /// The last message of each subject.
    LastPerSubject,
}

/// How messages are acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum AckPolicy {
    /// Each message is acknowledged.
    #[default]
    Explicit,
    /// Nothing is acknowledged.
    None,
    /// Acknowledging a message acknowledges all before it.
    All,
    /// Flow-control acknowledgements (server 2.14+).
    FlowControl,
}

/// At what rate messages are delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ReplayPolicy {
    /// As fast as possible.
    #[default]
    Instant,
    /// At the rate they were stored.
    Original,
}

/// How pulls of a priority group share messages (server 2.11+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum PriorityPolicy {
    /// No priority groups.
    #[default]
    None,
    /// Pulls with `min_pending` / `min_ack_pending` get messages only past those thresholds.
    Overflow,
    /// One client at a time gets the messages (`Nats-Pin-Id`).
    PinnedClient,
    /// Pulls with a lower `priority` first (server 2.12+).
    Prioritized,
}

/// A consumer's configuration, push or pull, modelled on the server's `consumer_configuration`
/// schema. [`pull::Config`] and [`push::Config`] are the handier forms: each holds the
/// [`CommonConfig`] settings and only the fields of its kind.
///
/// Fields left at their default are not sent (the server applies its own default). Fields
/// the server returns that this version does not model are kept in `extra`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Config {
    /// A durable consumer's name (kept when inactive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durable_name: Option<String>,
    /// The consumer's name (durable or not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// A description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Where to start.
    pub deliver_policy: DeliverPolicy,
    /// The start sequence for [`DeliverPolicy::ByStartSequence`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_start_seq: Option<u64>,
    /// The start time for [`DeliverPolicy::ByStartTime`].
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub opt_start_time: Option<OffsetDateTime>,
    /// How messages are acknowledged.
    pub ack_policy: AckPolicy,
    /// How long the server waits for an acknowledgement before redelivering (zero: 30 s).
    #[serde(with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub ack_wait: Duration,
    /// How many times a message is delivered at most (0 or -1: unlimited).
    #[serde(skip_serializing_if = "is_default")]
    pub max_deliver: i64,
    /// Only messages of subjects matching this filter.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub filter_subject: String,
    /// Only messages of subjects matching any of these filters (server 2.10+).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::null_as_default"
    )]
    pub filter_subjects: Vec<String>,
    /// Delivery rate.
    #[serde(skip_serializing_if = "is_default")]
    pub replay_policy: ReplayPolicy,
    /// Push: delivery rate limit in bits per second.
    #[serde(skip_serializing_if = "is_default")]
    pub rate_limit_bps: u64,
    /// Percentage of acknowledgements sampled for observability (`"50%"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_freq: Option<String>,
    /// Pull: how many pulls may wait at once (0: the server's 512).
    #[serde(skip_serializing_if = "is_default")]
    pub max_waiting: i64,
    /// How many messages may be unacknowledged at once (0: the server's 1000; -1: unlimited).
    #[serde(skip_serializing_if = "is_default")]
    pub max_ack_pending: i64,
    /// Deliver only headers (`Nats-Msg-Size` tells the payload size).
    #[serde(skip_serializing_if = "is_default")]
    pub headers_only: bool,
    /// Pull: largest batch of one pull (0: unlimited).
    #[serde(skip_serializing_if = "is_default")]
    pub max_batch: i64,
    /// Pull: longest expiry of one pull (zero: unlimited).
    #[serde(with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub max_expires: Duration,
    /// Pull: largest `max_bytes` of one pull (0: unlimited).
    #[serde(skip_serializing_if = "is_default")]
    pub max_bytes: i64,
    /// An inactive consumer is deleted after this long (zero: the server's default, 5 s
    /// for an ephemeral consumer and never for a durable one).
    #[serde(with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub inactive_threshold: Duration,
    /// Redelivery delays, one per delivery attempt (the last one repeats).
    #[serde(with = "nanos::vec", skip_serializing_if = "Vec::is_empty")]
    pub backoff: Vec<Duration>,
    /// Replicas (0: as the stream).
    #[serde(skip_serializing_if = "is_default")]
    pub num_replicas: usize,
    /// Keep the consumer's state in memory.
    #[serde(skip_serializing_if = "is_default")]
    pub mem_storage: bool,
    /// User metadata.
    #[serde(
        skip_serializing_if = "HashMap::is_empty",
        deserialize_with = "super::null_as_default"
    )]
    pub metadata: HashMap<String, String>,
    /// Paused until then (server 2.11+).
    #[serde(
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub pause_until: Option<OffsetDateTime>,
    /// Priority groups (server 2.11+; one group).
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::null_as_default"
    )]
    pub priority_groups: Vec<String>,
    /// Priority policy (server 2.11+).
    #[serde(skip_serializing_if = "is_default")]
    pub priority_policy: PriorityPolicy,
    /// How long a pinned client keeps its pin without pulling (zero: 2 min).
    #[serde(with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub priority_timeout: Duration,
    /// Push: where messages are delivered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_subject: Option<String>,
    /// Push: the queue group sharing deliveries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deliver_group: Option<String>,
    /// Push: idle heartbeat interval.
    #[serde(with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub idle_heartbeat: Duration,
    /// Push: flow control.
    #[serde(skip_serializing_if = "is_default")]
    pub flow_control: bool,
    /// Fields this version of rnats does not model, kept as the server sent them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            durable_name: None,
            name: None,
            description: None,
            deliver_policy: DeliverPolicy::All,
            opt_start_seq: None,
            opt_start_time: None,
            ack_policy: AckPolicy::Explicit,
            ack_wait: Duration::ZERO,
            max_deliver: 0,
            filter_subject: String::new(),
            filter_subjects: Vec::new(),
            replay_policy: ReplayPolicy::Instant,
            rate_limit_bps: 0,
            sample_freq: None,
            max_waiting: 0,
            max_ack_pending: 0,
            headers_only: false,
            max_batch: 0,
            max_expires: Duration::ZERO,
            max_bytes: 0,
            inactive_threshold: Duration::ZERO,
            backoff: Vec::new(),
            num_replicas: 0,
            mem_storage: false,
            metadata: HashMap::new(),
            pause_until: None,
            priority_groups: Vec::new(),
            priority_policy: PriorityPolicy::None,
            priority_timeout: Duration::ZERO,
            deliver_subject: None,
            deliver_group: None,
            idle_heartbeat: Duration::ZERO,
            flow_control: false,
            extra: Map::new(),
        }
    }
}

/// A consumer configuration usable to create a consumer (see [`Stream::create_consumer`]).
pub trait IntoConsumerConfig {
    /// The full configuration.
    fn into_consumer_config(self) -> Config;
}

/// A consumer configuration that a [`Consumer`] handle can be made of.
pub trait FromConsumer: Sized {
    /// Converts, failing when the consumer is of another kind (push for a pull handle).
    fn try_from_consumer_config(config: Config) -> Result<Self, Error>;
}

impl IntoConsumerConfig for Config {
    fn into_consumer_config(self) -> Config {
        self
    }
}

impl FromConsumer for Config {
    fn try_from_consumer_config(config: Config) -> Result<Self, Error> {
        Ok(config)
    }
}

/// Positions of a consumer in its stream.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SequenceInfo {
    /// Consumer (delivery) sequence.
    #[serde(rename = "consumer_seq", default)]
    pub consumer_sequence: u64,
    /// Stream sequence.
    #[serde(rename = "stream_seq", default)]
    pub stream_sequence: u64,
    /// When it was last active.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub last_active: Option<OffsetDateTime>,
}

/// The state of a priority group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PriorityGroupState {
    /// The group.
    #[serde(default)]
    pub group: String,
    /// The pinned client's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned_client_id: Option<String>,
    /// When it was pinned.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub pinned_ts: Option<OffsetDateTime>,
}

/// A consumer's info: configuration and state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Info {
    /// The stream.
    pub stream_name: String,
    /// The consumer.
    pub name: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created: OffsetDateTime,
    /// Its configuration.
    #[serde(default)]
    pub config: Config,
    /// The last delivered message.
    #[serde(default)]
    pub delivered: SequenceInfo,
    /// Everything up to here is acknowledged.
    #[serde(default)]
    pub ack_floor: SequenceInfo,
    /// Messages delivered and not yet acknowledged.
    #[serde(default)]
    pub num_ack_pending: u64,
    /// Messages redelivered.
    #[serde(default)]
    pub num_redelivered: u64,
    /// Pulls waiting.
    #[serde(default)]
    pub num_waiting: u64,
    /// Messages not yet delivered.
    #[serde(default)]
    pub num_pending: u64,
    /// Cluster placement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// Push: whether someone listens on the deliver subject.
    #[serde(default)]
    pub push_bound: bool,
    /// Whether it is paused.
    #[serde(default)]
    pub paused: bool,
    /// How long it stays paused.
    #[serde(
        default,
        with = "nanos::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub pause_remaining: Option<Duration>,
    /// Priority groups' state.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::null_as_default"
    )]
    pub priority_groups: Vec<PriorityGroupState>,
    /// When the server produced this info.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub ts: Option<OffsetDateTime>,
    /// The API response type (`io.nats.jetstream.api.v1.…`), not part of the info.
    #[serde(rename = "type", default, skip_serializing)]
    _response_type: serde::de::IgnoredAny,
    /// Fields this version of rnats does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer to a pause or resume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PauseResponse {
    /// Whether the consumer is paused now.
    #[serde(default)]
    pub paused: bool,
    /// Until when.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub pause_until: Option<OffsetDateTime>,
    /// How long it stays paused.
    #[serde(
        default,
        with = "nanos::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub pause_remaining: Option<Duration>,
}

/// A handle to a consumer. `C` is its configuration type: [`pull::Config`] for a pull
/// consumer ([`PullConsumer`]).
#[derive(Debug, Clone)]
pub struct Consumer<C> {
    pub(crate) context: Context,
    pub(crate) info: Info,
    pub(crate) config: C,
}

/// A pull consumer.
pub type PullConsumer = Consumer<pull::Config>;

impl<C> Consumer<C> {
    /// The consumer's name.
    pub fn name(&self) -> &str {
        &self.info.name
    }

    /// The stream's name.
    pub fn stream_name(&self) -> &str {
        &self.info.stream_name
    }

    /// The configuration the consumer had when last fetched.
    pub fn config(&self) -> &C {
        &self.config
    }

    /// The info from the last request.
    pub fn cached_info(&self) -> &Info {
        &self.info
    }

    /// Fetches the consumer's info and caches it.
    pub async fn info(&mut self) -> Result<&Info, Error> {
        self.info = consumer_info(&self.context, &self.info.stream_name, &self.info.name).await?;
        Ok(&self.info)
    }
}

#[derive(Serialize)]
struct CreateRequest<'a> {
    stream_name: &'a str,
    config: &'a Config,
    #[serde(skip_serializing_if = "str::is_empty")]
    action: &'static str,
}

impl Stream {
    /// Creates a consumer. Creating one that exists with the same configuration succeeds;
    /// with a different one it fails with [`Error::is_consumer_already_exists`]. A consumer
    /// without a name or durable name gets a generated name (an ephemeral consumer).
    pub async fn create_consumer<C>(&self, config: C) -> Result<Consumer<C>, Error>
    where
        C: IntoConsumerConfig + FromConsumer,
    {
        self.context
            .upsert_consumer(self.name(), config.into_consumer_config(), "create")
            .await
    }

    /// Updates a consumer's configuration; fails with [`Error::is_consumer_not_found`] when
    /// it does not exist.
    pub async fn update_consumer<C>(&self, config: C) -> Result<Consumer<C>, Error>
    where
        C: IntoConsumerConfig + FromConsumer,
    {
        self.context
            .upsert_consumer(self.name(), config.into_consumer_config(), "update")
            .await
    }

    /// Creates the consumer, or updates it when it exists.
    pub async fn create_or_update_consumer<C>(&self, config: C) -> Result<Consumer<C>, Error>
    where
        C: IntoConsumerConfig + FromConsumer,
    {
        self.context
            .upsert_consumer(self.name(), config.into_consumer_config(), "")
            .await
    }

    /// The consumer `name` when it exists (whatever its configuration), else created with
    /// `config`.
    pub async fn get_or_create_consumer<C>(
        &self,
        name: &str,
        config: C,
    ) -> Result<Consumer<C>, Error>
    where
        C: IntoConsumerConfig + FromConsumer,
    {
        match self.get_consumer(name).await {
            Err(e) if e.is_consumer_not_found() => self.create_consumer(config).await,
            other => other,
        }
    }

    /// A handle to an existing consumer (fails with [`Error::is_consumer_not_found`]).
    ///
    /// ```no_run
    /// # async fn demo(stream: rnats::jetstream::stream::Stream) -> Result<(), rnats::Error> {
    /// use rnats::jetstream::consumer::PullConsumer;
    /// let consumer: PullConsumer = stream.get_consumer("processor").await?;
    /// # Ok(()) }
    /// ```
    pub async fn get_consumer<C: FromConsumer>(&self, name: &str) -> Result<Consumer<C>, Error> {
        let info = consumer_info(&self.context, self.name(), name).await?;
        let config = C::try_from_consumer_config(info.config.clone())?;
        Ok(Consumer {
            context: self.context.clone(),
            info,
            config,
        })
    }

    /// A consumer's info.
    pub async fn consumer_info(&self, name: &str) -> Result<Info, Error> {
        consumer_info(&self.context, self.name(), name).await
    }

    /// Deletes a consumer.
    pub async fn delete_consumer(&self, name: &str) -> Result<(), Error> {
        check_name("consumer", name)?;
        let answer: Success = self
            .context
            .api_request(
                &format!("CONSUMER.DELETE.{}.{name}", self.name()),
                Bytes::new(),
            )
            .await?;
        answer.check(&format!("delete consumer {name:?}"))
    }

    /// The names of the stream's consumers, page by page.
    pub fn consumer_names(&self) -> Names {
        self.context
            .listing(&format!("CONSUMER.NAMES.{}", self.name()), "consumers")
    }

    /// The info of the stream's consumers, page by page.
    pub fn consumers(&self) -> Paged<Info> {
        self.context
            .listing(&format!("CONSUMER.LIST.{}", self.name()), "consumers")
    }

    /// Pauses a consumer until `until`: it delivers nothing meanwhile (server 2.11+).
    pub async fn pause_consumer(
        &self,
        name: &str,
        until: OffsetDateTime,
    ) -> Result<PauseResponse, Error> {
        #[derive(Serialize)]
        struct Req {
            #[serde(with = "time::serde::rfc3339")]
            pause_until: OffsetDateTime,
        }
        self.pause_request(name, json_body(&Req { pause_until: until })?)
            .await
    }

    /// Resumes a paused consumer (server 2.11+).
    pub async fn resume_consumer(&self, name: &str) -> Result<PauseResponse, Error> {
        self.pause_request(name, Bytes::from_static(b"{}")).await
    }

    /// Unpins the client pinned in priority group `group` of consumer `name`: the server
    /// pins another pulling client (server 2.11+, policy [`PriorityPolicy::PinnedClient`]).
    pub async fn unpin_consumer(&self, name: &str, group: &str) -> Result<(), Error> {
        #[derive(Serialize)]
        struct Req<'a> {
            group: &'a str,
        }
        self.context
            .require_api_level(super::api_level::V2_11, "unpinning a consumer")?;
        check_name("consumer", name)?;
        let _: Value = self
            .context
            .api_request(
                &format!("CONSUMER.UNPIN.{}.{name}", self.name()),
                json_body(&Req { group })?,
            )
            .await?;
        Ok(())
    }

    /// Resets consumer `name` (server 2.14+): it delivers again from stream sequence
    /// `sequence`, or from its ack floor when `None`. Returns the consumer's info after the
    /// reset; its delivery sequences may go backwards (see ADR-60).
    pub async fn reset_consumer(&self, name: &str, sequence: Option<u64>) -> Result<Info, Error> {
        #[derive(Serialize)]
        struct Req {
            seq: u64,
        }
        self.context
            .require_api_level(super::api_level::V2_14, "resetting a consumer")?;
        check_name("consumer", name)?;
        let body = match sequence {
            Some(seq) => json_body(&Req { seq })?,
            None => Bytes::new(),
        };
        self.context
            .api_request(&format!("CONSUMER.RESET.{}.{name}", self.name()), body)
            .await
    }

    /// Asks the leader of consumer `name` to step down, so that another replica leads it
    /// (replicated consumers in a cluster).
    pub async fn consumer_leader_stepdown(&self, name: &str) -> Result<(), Error> {
        check_name("consumer", name)?;
        let answer: Success = self
            .context
            .api_request(
                &format!("CONSUMER.LEADER.STEPDOWN.{}.{name}", self.name()),
                Bytes::new(),
            )
            .await?;
        answer.check(&format!("leader stepdown of consumer {name:?}"))
    }

    /// Asks the stream's leader to step down, so that another replica leads it.
    pub async fn leader_stepdown(&self) -> Result<(), Error> {
        let answer: Success = self
            .context
            .api_request(
                &format!("STREAM.LEADER.STEPDOWN.{}", self.name()),
                Bytes::new(),
            )
            .await?;
        answer.check(&format!("leader stepdown of stream {:?}", self.name()))
    }

    async fn pause_request(&self, name: &str, body: Bytes) -> Result<PauseResponse, Error> {
        self.context
            .require_api_level(super::api_level::V2_11, "pausing a consumer")?;
        check_name("consumer", name)?;
        self.context
            .api_request(&format!("CONSUMER.PAUSE.{}.{name}", self.name()), body)
            .await
    }
}

impl Context {
    pub(crate) async fn upsert_consumer<C: FromConsumer>(
        &self,
        stream: &str,
        mut config: Config,
        action: &'static str,
    ) -> Result<Consumer<C>, Error> {
        check_name("stream", stream)?;
        if !config.priority_groups.is_empty()
            || config.pause_until.is_some()
            || config.priority_policy != PriorityPolicy::None
        {
            self.require_api_level(super::api_level::V2_11, "priority groups and pause_until")?;
        }
        if config.priority_policy == PriorityPolicy::Prioritized {
            self.require_api_level(super::api_level::V2_12, "the prioritized priority policy")?;
        }
        if config.ack_policy == AckPolicy::FlowControl {
            self.require_api_level(super::api_level::V2_14, "the flow_control ack policy")?;
        }
        if !config.filter_subject.is_empty() && !config.filter_subjects.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "a consumer takes filter_subject or filter_subjects, not both",
            ));
        }
        let name = match (&config.name, &config.durable_name) {
            (Some(n), Some(d)) if n != d => {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("consumer name {n:?} and durable name {d:?} differ"),
                ))
            }
            (Some(n), _) | (None, Some(n)) => n.clone(),
            (None, None) => {
                if action == "update" {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        "updating a consumer needs its name",
                    ));
                }
                let n = nuid::next().to_string();
                config.name = Some(n.clone());
                n
            }
        };
        check_name("consumer", &name)?;
        // The `.<filter>` form of the subject only helps permissions, and a filter with
        // wildcards cannot be a publish subject: rnats always uses the plain form.
        let suffix = format!("CONSUMER.CREATE.{stream}.{name}");
        let body = json_body(&CreateRequest {
            stream_name: stream,
            config: &config,
            action,
        })?;
        let info: Info = self.api_request(&suffix, body).await?;
        if !config.filter_subjects.is_empty() && info.config.filter_subjects.is_empty() {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "the server ignored filter_subjects: it does not support several filters",
            ));
        }
        let handle_config = C::try_from_consumer_config(info.config.clone())?;
        Ok(Consumer {
            context: self.clone(),
            info,
            config: handle_config,
        })
    }

    /// A handle to consumer `consumer` of stream `stream`.
    pub async fn get_consumer_from_stream<C: FromConsumer>(
        &self,
        consumer: &str,
        stream: &str,
    ) -> Result<Consumer<C>, Error> {
        self.get_stream_no_info(stream).get_consumer(consumer).await
    }

    /// Deletes consumer `consumer` of stream `stream`.
    pub async fn delete_consumer_from_stream(
        &self,
        consumer: &str,
        stream: &str,
    ) -> Result<(), Error> {
        self.get_stream_no_info(stream)
            .delete_consumer(consumer)
            .await
    }

    /// Creates a consumer on stream `stream`. See [`Stream::create_consumer`].
    pub async fn create_consumer_on_stream<C>(
        &self,
        config: C,
        stream: &str,
    ) -> Result<Consumer<C>, Error>
    where
        C: IntoConsumerConfig + FromConsumer,
    {
        self.upsert_consumer(stream, config.into_consumer_config(), "create")
            .await
    }
}

async fn consumer_info(context: &Context, stream: &str, name: &str) -> Result<Info, Error> {
    check_name("stream", stream)?;
    check_name("consumer", name)?;
    context
        .api_request(&format!("CONSUMER.INFO.{stream}.{name}"), Bytes::new())
        .await
}
