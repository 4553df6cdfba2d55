//! A stream's configuration, modelled on the server's `stream_configuration` schema.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use crate::jetstream::{is_default, is_minus_one, minus_one, nanos};

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
        deserialize_with = "crate::jetstream::null_as_default"
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
        deserialize_with = "crate::jetstream::null_as_default"
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
        deserialize_with = "crate::jetstream::null_as_default"
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
        deserialize_with = "crate::jetstream::null_as_default"
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
        deserialize_with = "crate::jetstream::null_as_default"
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

impl External {
    /// Another JetStream API reached through `api_prefix` (`$JS.<domain>.API` for a domain).
    pub fn new(api_prefix: impl Into<String>) -> Self {
        Self {
            api_prefix: api_prefix.into(),
            delivery_prefix: None,
        }
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
