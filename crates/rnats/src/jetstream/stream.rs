//! Streams: configuration, info, and a [`Stream`] handle to purge, read and delete messages
//! and to manage its consumers.

use std::collections::HashMap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::context::{check_name, json_body, parse_response, Context, Success};
use super::errors::ApiError;
use super::{is_default, is_minus_one, minus_one, nanos};
use crate::{Error, ErrorKind, HeaderMap, Message, StatusCode, Subject};

/// How a stream keeps messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum RetentionPolicy {
    /// Until a limit (count, bytes, age) is reached.
    #[default]
    Limits,
    /// While consumers are interested: a message goes once every consumer acked it.
    Interest,
    /// As a work queue: a message goes once one consumer acked it.
    #[serde(rename = "workqueue")]
    WorkQueue,
}

/// Where a stream keeps messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum StorageType {
    /// On disk.
    #[default]
    File,
    /// In memory.
    Memory,
}

/// What a full stream does with a new message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum DiscardPolicy {
    /// Removes the oldest messages to make room.
    #[default]
    Old,
    /// Refuses the new message.
    New,
}

/// Compression of a stream's storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum Compression {
    /// None.
    #[default]
    None,
    /// S2.
    S2,
}

/// How a stream persists writes (nats-server 2.12+, R1 streams).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum PersistMode {
    /// The server's default (not sent).
    #[default]
    #[serde(rename = "")]
    Unset,
    /// Synchronous per the server's settings.
    Default,
    /// Asynchronous flushing.
    Async,
}

/// A stream's configuration, modelled on the server's `stream_configuration` schema.
///
/// Fields left at their default are not sent (except those the API requires), so older
/// servers are not confused by features they do not know. Fields the server returns that this
/// version does not model are kept in `extra` and sent back on update.
///
/// The type is `#[non_exhaustive]` (the server keeps adding knobs): start from
/// [`Config::new`] and set fields.
///
/// ```
/// use std::time::Duration;
/// use rnats::jetstream::stream::{Config, StorageType};
/// let mut config = Config::new("EVENTS");
/// config.subjects = vec!["events.>".into()];
/// config.storage = StorageType::Memory;
/// config.max_age = Duration::from_secs(3600);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Config {
    /// The stream's name (no `.`, `*`, `>` or whitespace).
    pub name: String,
    /// A description.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The subjects stored (wildcards allowed). Empty for a mirror.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::null_as_default"
    )]
    pub subjects: Vec<String>,
    /// A transform applied to the subjects of stored messages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_transform: Option<SubjectTransform>,
    /// How messages are retained.
    pub retention: RetentionPolicy,
    /// Maximum number of consumers (-1 unlimited).
    pub max_consumers: i64,
    /// Maximum number of messages (-1 unlimited).
    #[serde(rename = "max_msgs")]
    pub max_messages: i64,
    /// Maximum number of messages per subject (-1 unlimited).
    #[serde(
        rename = "max_msgs_per_subject",
        skip_serializing_if = "is_minus_one",
        default = "minus_one"
    )]
    pub max_messages_per_subject: i64,
    /// Maximum total size in bytes (-1 unlimited).
    pub max_bytes: i64,
    /// Maximum age of a message (zero: unlimited).
    #[serde(with = "nanos")]
    pub max_age: Duration,
    /// Largest message accepted, in bytes (-1 unlimited).
    #[serde(rename = "max_msg_size", skip_serializing_if = "is_minus_one32")]
    pub max_message_size: i32,
    /// Storage backend.
    pub storage: StorageType,
    /// Storage compression.
    #[serde(skip_serializing_if = "is_default")]
    pub compression: Compression,
    /// The sequence of the first message (0: the server's choice, 1).
    #[serde(skip_serializing_if = "is_default")]
    pub first_seq: u64,
    /// Number of replicas (1 to 5).
    pub num_replicas: usize,
    /// Publishes are not acknowledged.
    #[serde(skip_serializing_if = "is_default")]
    pub no_ack: bool,
    /// What happens when the stream is full.
    #[serde(skip_serializing_if = "is_default")]
    pub discard: DiscardPolicy,
    /// How long message ids are remembered for de-duplication (zero: the server's 2 min).
    #[serde(with = "nanos", skip_serializing_if = "Duration::is_zero")]
    pub duplicate_window: Duration,
    /// Where replicas are placed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub placement: Option<Placement>,
    /// The stream this one mirrors.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mirror: Option<Source>,
    /// Streams this one sources messages from.
    #[serde(
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::null_as_default"
    )]
    pub sources: Vec<Source>,
    /// No more messages can be added, deleted or purged (can only be set by an update).
    #[serde(skip_serializing_if = "is_default")]
    pub sealed: bool,
    /// Messages cannot be deleted through the API.
    #[serde(skip_serializing_if = "is_default")]
    pub deny_delete: bool,
    /// The stream cannot be purged through the API.
    #[serde(skip_serializing_if = "is_default")]
    pub deny_purge: bool,
    /// `Nats-Rollup` headers are allowed.
    #[serde(rename = "allow_rollup_hdrs", skip_serializing_if = "is_default")]
    pub allow_rollup: bool,
    /// Direct Get is allowed (`DIRECT.GET`, answered by any replica).
    #[serde(skip_serializing_if = "is_default")]
    pub allow_direct: bool,
    /// Direct Get of the mirrored stream is answered by this mirror too.
    #[serde(skip_serializing_if = "is_default")]
    pub mirror_direct: bool,
    /// Atomic batch publishing is allowed (server 2.12+).
    #[serde(skip_serializing_if = "is_default")]
    pub allow_atomic: bool,
    /// The stream is a counter (server 2.12+).
    #[serde(skip_serializing_if = "is_default")]
    pub allow_msg_counter: bool,
    /// Message schedules are allowed (server 2.12+).
    #[serde(skip_serializing_if = "is_default")]
    pub allow_msg_schedules: bool,
    /// Fast batch publishing is allowed (server 2.14+).
    #[serde(skip_serializing_if = "is_default")]
    pub allow_batched: bool,
    /// Stored messages are republished.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub republish: Option<Republish>,
    /// With discard new and a per-subject limit, refuse per subject.
    #[serde(skip_serializing_if = "is_default")]
    pub discard_new_per_subject: bool,
    /// User metadata.
    #[serde(
        skip_serializing_if = "HashMap::is_empty",
        deserialize_with = "super::null_as_default"
    )]
    pub metadata: HashMap<String, String>,
    /// Defaults and limits for the stream's consumers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consumer_limits: Option<ConsumerLimits>,
    /// Per-message TTL (`Nats-TTL`) is allowed (server 2.11+; cannot be turned off again).
    #[serde(rename = "allow_msg_ttl", skip_serializing_if = "is_default")]
    pub allow_message_ttl: bool,
    /// Leave delete markers, which live this long, when limits remove messages (server 2.11+).
    #[serde(with = "nanos::option", skip_serializing_if = "Option::is_none")]
    pub subject_delete_marker_ttl: Option<Duration>,
    /// Persistence mode (server 2.12+).
    #[serde(skip_serializing_if = "is_default")]
    pub persist_mode: PersistMode,
    /// Fields this version of rnats does not model, kept as the server sent them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

fn is_minus_one32(n: &i32) -> bool {
    *n == -1
}

impl Default for Config {
    fn default() -> Self {
        Self {
            name: String::new(),
            description: None,
            subjects: Vec::new(),
            subject_transform: None,
            retention: RetentionPolicy::Limits,
            max_consumers: -1,
            max_messages: -1,
            max_messages_per_subject: -1,
            max_bytes: -1,
            max_age: Duration::ZERO,
            max_message_size: -1,
            storage: StorageType::File,
            compression: Compression::None,
            first_seq: 0,
            num_replicas: 1,
            no_ack: false,
            discard: DiscardPolicy::Old,
            duplicate_window: Duration::ZERO,
            placement: None,
            mirror: None,
            sources: Vec::new(),
            sealed: false,
            deny_delete: false,
            deny_purge: false,
            allow_rollup: false,
            allow_direct: false,
            mirror_direct: false,
            allow_atomic: false,
            allow_msg_counter: false,
            allow_msg_schedules: false,
            allow_batched: false,
            republish: None,
            discard_new_per_subject: false,
            metadata: HashMap::new(),
            consumer_limits: None,
            allow_message_ttl: false,
            subject_delete_marker_ttl: None,
            persist_mode: PersistMode::Unset,
            extra: Map::new(),
        }
    }
}

impl Config {
    /// A stream named `name` with default settings (with no subjects, it stores subject
    /// `name`).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Default::default()
        }
    }
}

impl From<&str> for Config {
    /// A stream named `name` with default settings (it stores subject `name`).
    fn from(name: &str) -> Self {
        Self {
            name: name.to_owned(),
            ..Default::default()
        }
    }
}

impl From<String> for Config {
    fn from(name: String) -> Self {
        Self {
            name,
            ..Default::default()
        }
    }
}

/// A subject transform: `src` (with wildcards) to `dest` (with `{{wildcard(n)}}` references).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SubjectTransform {
    /// The source subject filter.
    #[serde(rename = "src", default)]
    pub source: String,
    /// The destination.
    #[serde(rename = "dest", default)]
    pub destination: String,
}

impl SubjectTransform {
    /// A transform from `source` to `destination`.
    pub fn new(source: impl Into<String>, destination: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            destination: destination.into(),
        }
    }
}

/// Republishing of stored messages.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Republish {
    /// Subjects republished (default all).
    #[serde(rename = "src", default, skip_serializing_if = "String::is_empty")]
    pub source: String,
    /// Where to.
    #[serde(rename = "dest", default)]
    pub destination: String,
    /// Only headers are republished (`Nats-Msg-Size` tells the payload size).
    #[serde(default, skip_serializing_if = "is_default")]
    pub headers_only: bool,
}

impl Republish {
    /// Republishes `source` to `destination`.
    pub fn new(source: impl Into<String>, destination: impl Into<String>) -> Self {
        Self {
            source: source.into(),
            destination: destination.into(),
            headers_only: false,
        }
    }
}

/// Placement of a stream's replicas.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Placement {
    /// The cluster.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<String>,
    /// Server tags required.
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::null_as_default"
    )]
    pub tags: Vec<String>,
    /// The preferred leader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred: Option<String>,
}

/// Defaults and limits of a stream's consumers.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ConsumerLimits {
    /// Maximum (and default) inactive threshold.
    #[serde(
        default,
        with = "nanos::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub inactive_threshold: Option<Duration>,
    /// Maximum (and default) max ack pending.
    #[serde(default, skip_serializing_if = "is_default")]
    pub max_ack_pending: i64,
}

/// A mirror or source of a stream.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Source {
    /// The stream's name.
    pub name: String,
    /// Start at this sequence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opt_start_seq: Option<u64>,
    /// Start at this time.
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub opt_start_time: Option<OffsetDateTime>,
    /// Only messages matching this subject.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_subject: Option<String>,
    /// Filters with transforms (instead of `filter_subject`).
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::null_as_default"
    )]
    pub subject_transforms: Vec<SubjectTransform>,
    /// Another account's or domain's JetStream API.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external: Option<External>,
    /// Fields this version of rnats does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Source {
    /// Sources (or mirrors) stream `name`.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ..Default::default()
        }
    }
}

/// Another account's or domain's JetStream API, for mirrors and sources.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct External {
    /// The API prefix (`$JS.<domain>.API`).
    #[serde(rename = "api")]
    pub api_prefix: String,
    /// The delivery prefix.
    #[serde(rename = "deliver", default, skip_serializing_if = "Option::is_none")]
    pub delivery_prefix: Option<String>,
}

/// A stream's info: configuration, state, cluster.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Info {
    /// The configuration.
    #[serde(default)]
    pub config: Config,
    /// When the stream was created.
    #[serde(with = "time::serde::rfc3339", default = "epoch")]
    pub created: OffsetDateTime,
    /// Messages, bytes, sequences.
    #[serde(default)]
    pub state: State,
    /// Cluster placement and replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInfo>,
    /// The mirror's state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mirror: Option<SourceInfo>,
    /// The sources' state.
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub sources: Vec<SourceInfo>,
    /// The JetStream domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
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

fn epoch() -> OffsetDateTime {
    OffsetDateTime::UNIX_EPOCH
}

impl Default for Info {
    fn default() -> Self {
        Self {
            config: Config::default(),
            created: epoch(),
            state: State::default(),
            cluster: None,
            mirror: None,
            sources: Vec::new(),
            domain: None,
            ts: None,
            _response_type: serde::de::IgnoredAny,
            extra: Map::new(),
        }
    }
}

/// A stream's state.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct State {
    /// Messages stored.
    #[serde(default, rename = "messages")]
    pub messages: u64,
    /// Bytes stored.
    #[serde(default)]
    pub bytes: u64,
    /// The first sequence.
    #[serde(default, rename = "first_seq")]
    pub first_sequence: u64,
    /// When the first message was stored.
    #[serde(with = "time::serde::rfc3339", default = "epoch")]
    pub first_ts: OffsetDateTime,
    /// The last sequence.
    #[serde(default, rename = "last_seq")]
    pub last_sequence: u64,
    /// When the last message was stored.
    #[serde(with = "time::serde::rfc3339", default = "epoch")]
    pub last_ts: OffsetDateTime,
    /// Number of consumers.
    #[serde(default)]
    pub consumer_count: usize,
    /// Number of distinct subjects.
    #[serde(default)]
    pub num_subjects: u64,
    /// Number of deleted messages (interior gaps).
    #[serde(default)]
    pub num_deleted: u64,
    /// Messages per subject, when asked for with [`InfoOptions::subjects_filter`].
    #[serde(
        default,
        skip_serializing_if = "HashMap::is_empty",
        deserialize_with = "super::null_as_default"
    )]
    pub subjects: HashMap<String, u64>,
    /// Deleted sequences, when asked for with [`InfoOptions::deleted_details`].
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "super::null_as_default"
    )]
    pub deleted: Vec<u64>,
    /// Fields this version of rnats does not model (such as `lost`).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Default for State {
    fn default() -> Self {
        Self {
            messages: 0,
            bytes: 0,
            first_sequence: 0,
            first_ts: epoch(),
            last_sequence: 0,
            last_ts: epoch(),
            consumer_count: 0,
            num_subjects: 0,
            num_deleted: 0,
            subjects: HashMap::new(),
            deleted: Vec::new(),
            extra: Map::new(),
        }
    }
}

/// A replicated asset's cluster: leader and replicas.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ClusterInfo {
    /// The cluster's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The leader's server name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    /// The other replicas.
    #[serde(default, deserialize_with = "super::null_as_default")]
    pub replicas: Vec<PeerInfo>,
    /// Fields this version of rnats does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One replica.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PeerInfo {
    /// Its server name.
    #[serde(default)]
    pub name: String,
    /// Whether it is up to date.
    #[serde(default)]
    pub current: bool,
    /// Nanoseconds since it was last seen.
    #[serde(default)]
    pub active: i64,
    /// Whether it is offline.
    #[serde(default)]
    pub offline: bool,
    /// Operations it lags behind.
    #[serde(default)]
    pub lag: u64,
}

/// The state of a mirror or source.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SourceInfo {
    /// The source stream.
    #[serde(default)]
    pub name: String,
    /// Messages it lags behind.
    #[serde(default)]
    pub lag: u64,
    /// Nanoseconds since it was last active (-1 never).
    #[serde(default)]
    pub active: i64,
    /// Its error, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ApiError>,
    /// Fields this version of rnats does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What [`Stream::info_with`] asks for beyond the plain info.
#[derive(Debug, Clone, Default, Serialize)]
#[non_exhaustive]
pub struct InfoOptions {
    /// List deleted sequences in [`State::deleted`].
    #[serde(skip_serializing_if = "is_default")]
    pub deleted_details: bool,
    /// Count messages of the subjects matching this filter in [`State::subjects`] (all pages
    /// are fetched).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subjects_filter: Option<String>,
    #[serde(skip_serializing_if = "is_default")]
    offset: usize,
}

impl InfoOptions {
    /// Nothing extra.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lists deleted sequences.
    pub fn deleted_details(mut self, yes: bool) -> Self {
        self.deleted_details = yes;
        self
    }

    /// Counts messages per subject matching `filter` (`>` for all).
    pub fn subjects_filter(mut self, filter: impl Into<String>) -> Self {
        self.subjects_filter = Some(filter.into());
        self
    }
}

/// The answer to a purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PurgeResponse {
    /// Whether it succeeded.
    #[serde(default)]
    pub success: bool,
    /// How many messages were removed.
    #[serde(default)]
    pub purged: u64,
}

/// A message read from a stream by sequence or subject.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamMessage {
    /// The subject it was stored under.
    pub subject: Subject,
    /// Its sequence in the stream.
    pub sequence: u64,
    /// Its headers (empty when it had none).
    pub headers: HeaderMap,
    /// Its payload.
    pub payload: Bytes,
    /// When it was stored.
    pub time: OffsetDateTime,
}

/// A handle to one stream: read, delete and purge its messages, manage its consumers.
#[derive(Debug, Clone)]
pub struct Stream {
    pub(crate) context: Context,
    name: String,
    info: Info,
}

impl Stream {
    pub(crate) fn new(context: Context, info: Info) -> Self {
        Self {
            context,
            name: info.config.name.clone(),
            info,
        }
    }

    pub(crate) fn without_info(context: Context, name: String) -> Self {
        let mut info = Info::default();
        info.config.name = name.clone();
        Self {
            context,
            name,
            info,
        }
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The info from the last request (creation, get, or [`Stream::info`]).
    pub fn cached_info(&self) -> &Info {
        &self.info
    }

    /// Fetches the stream's info and caches it.
    pub async fn info(&mut self) -> Result<&Info, Error> {
        self.info = self.context.stream_info(&self.name).await?;
        Ok(&self.info)
    }

    /// Fetches the stream's info with deleted sequences and/or per-subject counts; every page
    /// of subjects is fetched and merged.
    pub async fn info_with(&self, options: InfoOptions) -> Result<Info, Error> {
        #[derive(Deserialize)]
        struct Paged {
            #[serde(flatten)]
            info: Info,
            #[serde(default)]
            total: usize,
        }
        let mut options = options;
        options.offset = 0;
        let mut merged: Option<Info> = None;
        loop {
            let page: Paged = self
                .context
                .api_request(&format!("STREAM.INFO.{}", self.name), json_body(&options)?)
                .await?;
            let got = page.info.state.subjects.len();
            let info = match merged.take() {
                None => page.info,
                Some(mut m) => {
                    m.state.subjects.extend(page.info.state.subjects);
                    m
                }
            };
            options.offset += got;
            let done = got == 0 || options.offset >= page.total;
            merged = Some(info);
            if done {
                break;
            }
        }
        let mut info = merged.unwrap_or_default();
        info.extra.remove("total");
        info.extra.remove("offset");
        info.extra.remove("limit");
        Ok(info)
    }

    /// Purges messages: all of them, or those matching a filter, keeping the newest N, or
    /// below a sequence. Await the builder to send it.
    ///
    /// ```no_run
    /// # async fn demo(stream: rnats::jetstream::stream::Stream) -> Result<(), rnats::Error> {
    /// let all = stream.purge().await?;
    /// let some = stream.purge().filter("orders.eu.>").keep(10).await?;
    /// # Ok(()) }
    /// ```
    pub fn purge(&self) -> Purge {
        Purge {
            stream: self.clone(),
            request: PurgeRequest::default(),
        }
    }

    /// The message at `sequence`, read through the stream leader (`STREAM.MSG.GET`).
    pub async fn get_raw_message(&self, sequence: u64) -> Result<StreamMessage, Error> {
        self.msg_get(MsgGetRequest {
            seq: Some(sequence),
            ..Default::default()
        })
        .await
    }

    /// The last message stored under `subject` (`STREAM.MSG.GET`).
    pub async fn get_last_raw_message_by_subject(
        &self,
        subject: impl AsRef<str>,
    ) -> Result<StreamMessage, Error> {
        self.msg_get(MsgGetRequest {
            last_by_subj: Some(subject.as_ref()),
            ..Default::default()
        })
        .await
    }

    /// The first message at or after `sequence` stored under `subject` (`STREAM.MSG.GET`).
    pub async fn get_next_raw_message_by_subject(
        &self,
        subject: impl AsRef<str>,
        sequence: u64,
    ) -> Result<StreamMessage, Error> {
        self.msg_get(MsgGetRequest {
            seq: Some(sequence),
            next_by_subj: Some(subject.as_ref()),
            ..Default::default()
        })
        .await
    }

    /// The message at `sequence` by Direct Get (needs `allow_direct`; any replica answers, so
    /// a just-stored message may not be visible yet).
    pub async fn direct_get(&self, sequence: u64) -> Result<StreamMessage, Error> {
        self.direct(
            format!("DIRECT.GET.{}", self.name),
            json_body(&MsgGetRequest {
                seq: Some(sequence),
                ..Default::default()
            })?,
        )
        .await
    }

    /// The last message stored under `subject`, by Direct Get (needs `allow_direct`).
    pub async fn direct_get_last_for_subject(
        &self,
        subject: impl AsRef<str>,
    ) -> Result<StreamMessage, Error> {
        let subject = subject.as_ref();
        if subject.is_empty() || subject.contains(char::is_whitespace) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid subject {subject:?}"),
            ));
        }
        self.direct(format!("DIRECT.GET.{}.{subject}", self.name), Bytes::new())
            .await
    }

    /// The first message at or after `sequence` stored under `subject`, by Direct Get.
    pub async fn direct_get_next_for_subject(
        &self,
        subject: impl AsRef<str>,
        sequence: u64,
    ) -> Result<StreamMessage, Error> {
        self.direct(
            format!("DIRECT.GET.{}", self.name),
            json_body(&MsgGetRequest {
                seq: Some(sequence),
                next_by_subj: Some(subject.as_ref()),
                ..Default::default()
            })?,
        )
        .await
    }

    /// Several messages in one Direct Get (server 2.11+, `allow_direct`): up to
    /// `batch.max_messages` from `batch.sequence` on, optionally only those of a subject,
    /// within a byte limit. Any replica answers.
    ///
    /// ```no_run
    /// # async fn demo(stream: rnats::jetstream::stream::Stream) -> Result<(), rnats::Error> {
    /// use rnats::jetstream::stream::DirectBatch;
    /// let got = stream.direct_get_batch(DirectBatch::new(100).sequence(1).subject("orders.eu")).await?;
    /// println!("{} messages, {} more after them", got.messages.len(), got.num_pending);
    /// # Ok(()) }
    /// ```
    pub async fn direct_get_batch(&self, batch: DirectBatch) -> Result<DirectMessages, Error> {
        self.context
            .require_api_level(super::api_level::V2_11, "a batched direct get")?;
        #[derive(Serialize)]
        struct Req<'a> {
            seq: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            next_by_subj: Option<&'a str>,
            batch: usize,
            #[serde(skip_serializing_if = "is_default")]
            max_bytes: usize,
        }
        let body = json_body(&Req {
            seq: batch.sequence.max(1),
            next_by_subj: batch.subject.as_deref(),
            batch: batch.max_messages.max(1),
            max_bytes: batch.max_bytes,
        })?;
        let page = self.direct_batch(body).await?;
        Ok(DirectMessages {
            messages: page.messages,
            num_pending: page.num_pending,
            last_sequence: page.last_sequence,
        })
    }

    /// The last message of each of `subjects` (wildcards allowed; at most 1024 subjects may
    /// match), in one or more Direct Get requests (server 2.11+, `allow_direct`). With
    /// `up_to_sequence`, the last ones at or below that sequence.
    pub async fn direct_get_last_for_subjects(
        &self,
        subjects: &[&str],
        up_to_sequence: Option<u64>,
    ) -> Result<Vec<StreamMessage>, Error> {
        self.context
            .require_api_level(super::api_level::V2_11, "a multi-subject direct get")?;
        #[derive(Serialize)]
        struct Req<'a> {
            multi_last: &'a [&'a str],
            #[serde(skip_serializing_if = "Option::is_none")]
            up_to_seq: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            seq: Option<u64>,
        }
        let mut out = Vec::new();
        let mut up_to = up_to_sequence;
        let mut from = None;
        loop {
            let body = json_body(&Req {
                multi_last: subjects,
                up_to_seq: up_to,
                seq: from,
            })?;
            let page = self.direct_batch(body).await?;
            let got = page.messages.len();
            out.extend(page.messages);
            if page.num_pending == 0 || got == 0 {
                return Ok(out);
            }
            // More than one answer's worth: go on after the last one, at the same cut-off.
            up_to = page.up_to_sequence.or(up_to);
            from = Some(page.last_sequence + 1);
        }
    }

    /// One batched Direct Get: messages until the `204 EOB` status (or a 404: none).
    async fn direct_batch(&self, body: Bytes) -> Result<DirectPage, Error> {
        let client = self.context.client();
        let subject = format!("{}.DIRECT.GET.{}", self.context.api_prefix(), self.name);
        let inbox = client.new_inbox();
        let mut sub = client.subscribe(&inbox).await?;
        client.publish_with_reply(&subject, &inbox, body).await?;
        let mut page = DirectPage::default();
        loop {
            let msg = tokio::time::timeout(
                self.context.timeout(),
                futures_util::StreamExt::next(&mut sub),
            )
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "direct get {subject:?} did not finish in {:?}",
                        self.context.timeout()
                    ),
                )
            })?
            .ok_or_else(Error::closed)?;
            let header = |name: &str| {
                msg.headers
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            match msg.status.map(StatusCode::as_u16) {
                Some(204) => {
                    page.num_pending = header("Nats-Num-Pending").unwrap_or(0);
                    page.last_sequence = header("Nats-Last-Sequence").unwrap_or(0);
                    page.up_to_sequence = header("Nats-UpTo-Sequence");
                    return Ok(page);
                }
                Some(404) if msg.payload.is_empty() => return Ok(page),
                Some(503) if msg.payload.is_empty() => {
                    return Err(Error::new(
                        ErrorKind::NoResponders,
                        format!("nobody answers {subject:?}: is allow_direct set?"),
                    ))
                }
                _ => {
                    page.up_to_sequence = header("Nats-UpTo-Sequence").or(page.up_to_sequence);
                    let m = direct_message(msg, || subject.clone())?;
                    page.last_sequence = m.sequence;
                    page.messages.push(m);
                }
            }
        }
    }

    /// Deletes the message at `sequence` (marks it deleted, without overwriting its data).
    pub async fn delete_message(&self, sequence: u64) -> Result<(), Error> {
        self.msg_delete(sequence, true).await
    }

    /// Deletes the message at `sequence` and overwrites its data on disk.
    pub async fn erase_message(&self, sequence: u64) -> Result<(), Error> {
        self.msg_delete(sequence, false).await
    }

    async fn msg_delete(&self, sequence: u64, no_erase: bool) -> Result<(), Error> {
        #[derive(Serialize)]
        struct Req {
            seq: u64,
            #[serde(skip_serializing_if = "is_default")]
            no_erase: bool,
        }
        let answer: Success = self
            .context
            .api_request(
                &format!("STREAM.MSG.DELETE.{}", self.name),
                json_body(&Req {
                    seq: sequence,
                    no_erase,
                })?,
            )
            .await?;
        answer.check(&format!(
            "delete message {sequence} of stream {:?}",
            self.name
        ))
    }

    async fn msg_get(&self, request: MsgGetRequest<'_>) -> Result<StreamMessage, Error> {
        #[derive(Deserialize)]
        struct Answer {
            message: Raw,
        }
        #[derive(Deserialize)]
        struct Raw {
            subject: String,
            seq: u64,
            #[serde(default)]
            data: Option<String>,
            #[serde(default)]
            hdrs: Option<String>,
            #[serde(with = "time::serde::rfc3339")]
            time: OffsetDateTime,
        }
        let answer: Answer = self
            .context
            .api_request(
                &format!("STREAM.MSG.GET.{}", self.name),
                json_body(&request)?,
            )
            .await?;
        let raw = answer.message;
        let b64 = |s: Option<String>| -> Result<Vec<u8>, Error> {
            match s {
                None => Ok(Vec::new()),
                Some(s) => base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|e| {
                        Error::with_source(
                            ErrorKind::Protocol,
                            "invalid base64 in a stored message",
                            e,
                        )
                    }),
            }
        };
        let payload = Bytes::from(b64(raw.data)?);
        let hdrs = b64(raw.hdrs)?;
        let headers = if hdrs.is_empty() {
            HeaderMap::new()
        } else {
            let (_, _, h) = HeaderMap::decode(&hdrs)?;
            h
        };
        Ok(StreamMessage {
            subject: Subject::from(raw.subject),
            sequence: raw.seq,
            headers,
            payload,
            time: raw.time,
        })
    }

    async fn direct(&self, suffix: String, body: Bytes) -> Result<StreamMessage, Error> {
        let msg = self.context.api_request_raw(&suffix, body).await?;
        let subject = || format!("{}.{suffix}", self.context.api_prefix());
        direct_message(msg, subject)
    }
}

/// Turns a Direct Get answer (the stored message with `Nats-*` headers, or a status) into a
/// [`StreamMessage`].
pub(crate) fn direct_message(
    msg: Message,
    subject: impl Fn() -> String,
) -> Result<StreamMessage, Error> {
    if let Some(status) = msg.status {
        if status != StatusCode::OK {
            return Err(Error::jetstream_api(
                format!("direct get {:?} failed", subject()),
                ApiError::from_status(status, msg.description.as_deref()),
            ));
        }
    }
    let headers = msg.headers.unwrap_or_default();
    let missing = |name: &str| {
        Error::new(
            ErrorKind::Protocol,
            format!("direct get answer to {:?} lacks header {name}", subject()),
        )
    };
    let stored_subject = headers
        .get("Nats-Subject")
        .ok_or_else(|| missing("Nats-Subject"))?
        .to_owned();
    let sequence = headers
        .get("Nats-Sequence")
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| missing("Nats-Sequence"))?;
    let time = headers
        .get("Nats-Time-Stamp")
        .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .ok_or_else(|| missing("Nats-Time-Stamp"))?;
    Ok(StreamMessage {
        subject: Subject::from(stored_subject),
        sequence,
        headers,
        payload: msg.payload,
        time,
    })
}

/// What [`Stream::direct_get_batch`] asks for.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DirectBatch {
    /// The first sequence to look at (default 1).
    pub sequence: u64,
    /// Only messages of this subject (wildcards allowed).
    pub subject: Option<String>,
    /// At most this many messages.
    pub max_messages: usize,
    /// At most this many bytes (0: no limit).
    pub max_bytes: usize,
}

impl DirectBatch {
    /// Up to `max_messages` messages from the first sequence on.
    pub fn new(max_messages: usize) -> Self {
        Self {
            sequence: 1,
            max_messages,
            ..Default::default()
        }
    }

    /// Starts at `sequence`.
    pub fn sequence(mut self, sequence: u64) -> Self {
        self.sequence = sequence;
        self
    }

    /// Only messages of `subject`.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// At most `bytes` bytes.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }
}

/// The answer to [`Stream::direct_get_batch`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DirectMessages {
    /// The messages, in sequence order.
    pub messages: Vec<StreamMessage>,
    /// How many more messages matched after these.
    pub num_pending: u64,
    /// The sequence of the last message returned.
    pub last_sequence: u64,
}

#[derive(Debug, Default)]
struct DirectPage {
    messages: Vec<StreamMessage>,
    num_pending: u64,
    last_sequence: u64,
    up_to_sequence: Option<u64>,
}

#[derive(Debug, Default, Serialize)]
struct MsgGetRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_by_subj: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_by_subj: Option<&'a str>,
}

#[derive(Debug, Clone, Default, Serialize)]
struct PurgeRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep: Option<u64>,
}

/// A purge being built; await it to send it. From [`Stream::purge`].
#[derive(Debug, Clone)]
#[must_use = "a purge does nothing until awaited"]
pub struct Purge {
    stream: Stream,
    request: PurgeRequest,
}

impl Purge {
    /// Only messages whose subject matches `filter`.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.request.filter = Some(filter.into());
        self
    }

    /// Only messages below `sequence` (exclusive). Not with [`Purge::keep`].
    pub fn sequence(mut self, sequence: u64) -> Self {
        self.request.seq = Some(sequence);
        self
    }

    /// Keeps the newest `keep` messages (per the filter). Not with [`Purge::sequence`].
    pub fn keep(mut self, keep: u64) -> Self {
        self.request.keep = Some(keep);
        self
    }
}

impl IntoFuture for Purge {
    type Output = Result<PurgeResponse, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            if self.request.seq.is_some() && self.request.keep.is_some() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "a purge takes a sequence or a number to keep, not both",
                ));
            }
            check_name("stream", &self.stream.name)?;
            let msg = self
                .stream
                .context
                .api_request_raw(
                    &format!("STREAM.PURGE.{}", self.stream.name),
                    json_body(&self.request)?,
                )
                .await?;
            let prefix = self.stream.context.api_prefix().to_owned();
            let name = self.stream.name.clone();
            parse_response(&msg, || format!("{prefix}.STREAM.PURGE.{name}"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_omitted_and_required_fields_sent() {
        let json = serde_json::to_value(Config::from("S")).unwrap();
        let obj = json.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "max_age",
                "max_bytes",
                "max_consumers",
                "max_msgs",
                "name",
                "num_replicas",
                "retention",
                "storage"
            ]
        );
        assert_eq!(obj["max_msgs"], -1);
        assert_eq!(obj["retention"], "limits");
    }

    #[test]
    fn unknown_fields_survive_a_round_trip() {
        let text = r#"{"name":"S","subjects":["a"],"retention":"workqueue","max_consumers":-1,
            "max_msgs":-1,"max_bytes":-1,"max_age":0,"storage":"memory","num_replicas":1,
            "future_knob":{"x":1},"max_msg_size":1024,"sources":null,"metadata":null}"#;
        let config: Config = serde_json::from_str(text).unwrap();
        assert_eq!(config.retention, RetentionPolicy::WorkQueue);
        assert_eq!(config.max_message_size, 1024);
        assert_eq!(config.max_messages_per_subject, -1);
        assert_eq!(config.extra["future_knob"]["x"], 1);
        let back = serde_json::to_value(&config).unwrap();
        assert_eq!(back["future_knob"]["x"], 1);
        assert_eq!(back["max_msg_size"], 1024);
    }
}
