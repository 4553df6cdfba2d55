//! A stream's info: configuration, state, cluster, sources.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::Config;
use crate::jetstream::api::ApiError;
use crate::jetstream::is_default;

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
    #[serde(default, deserialize_with = "crate::jetstream::null_as_default")]
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
        deserialize_with = "crate::jetstream::null_as_default"
    )]
    pub subjects: HashMap<String, u64>,
    /// Deleted sequences, when asked for with [`InfoOptions::deleted_details`].
    #[serde(
        default,
        skip_serializing_if = "Vec::is_empty",
        deserialize_with = "crate::jetstream::null_as_default"
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
    #[serde(default, deserialize_with = "crate::jetstream::null_as_default")]
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

/// What [`Stream::info_with`](super::Stream::info_with) asks for beyond the plain info.
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
    pub(super) offset: usize,
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
