//! The discovery answers, `io.nats.micro.v1.{ping,info,stats}_response`: what a service sends
//! on `$SRV.PING|INFO|STATS`, and what [`discover`](super::discover) reads back.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;

/// The `type` of a PING answer.
pub const PING_RESPONSE_TYPE: &str = "io.nats.micro.v1.ping_response";
/// The `type` of an INFO answer.
pub const INFO_RESPONSE_TYPE: &str = "io.nats.micro.v1.info_response";
/// The `type` of a STATS answer.
pub const STATS_RESPONSE_TYPE: &str = "io.nats.micro.v1.stats_response";

/// A service's answer to `$SRV.PING` (`io.nats.micro.v1.ping_response`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PingResponse {
    /// The message type, [`PING_RESPONSE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The service's name (its kind, shared by all its instances).
    pub name: String,
    /// The instance's unique id.
    pub id: String,
    /// The service's SemVer version.
    pub version: String,
    /// The service's metadata (`null` on the wire reads as empty).
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: BTreeMap<String, String>,
}

/// A service's answer to `$SRV.INFO` (`io.nats.micro.v1.info_response`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    /// The message type, [`INFO_RESPONSE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The service's name.
    pub name: String,
    /// The instance's unique id.
    pub id: String,
    /// The service's version.
    pub version: String,
    /// The service's metadata.
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: BTreeMap<String, String>,
    /// The service's description (empty when none was given).
    #[serde(default)]
    pub description: String,
    /// The endpoints, in the order they were added.
    #[serde(default, deserialize_with = "nullable")]
    pub endpoints: Vec<EndpointInfo>,
}

/// One endpoint in an [`Info`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointInfo {
    /// The endpoint's name.
    pub name: String,
    /// The subject it listens on (group prefix included).
    pub subject: String,
    /// Its queue group; `None` when queue groups are disabled for it (every instance gets
    /// every request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_group: Option<String>,
    /// Its metadata.
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: BTreeMap<String, String>,
}

/// A service's answer to `$SRV.STATS` (`io.nats.micro.v1.stats_response`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// The message type, [`STATS_RESPONSE_TYPE`].
    #[serde(rename = "type")]
    pub kind: String,
    /// The service's name.
    pub name: String,
    /// The instance's unique id.
    pub id: String,
    /// The service's version.
    pub version: String,
    /// The service's metadata.
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: BTreeMap<String, String>,
    /// When the instance started (RFC 3339, UTC).
    #[serde(with = "time::serde::rfc3339")]
    pub started: OffsetDateTime,
    /// The statistics of each endpoint, in the order they were added.
    #[serde(default, deserialize_with = "nullable")]
    pub endpoints: Vec<EndpointStats>,
}

/// The statistics of one endpoint, in a [`Stats`] and given to the stats handler.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EndpointStats {
    /// The endpoint's name.
    pub name: String,
    /// The subject it listens on.
    pub subject: String,
    /// Its queue group; `None` when disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_group: Option<String>,
    /// Requests received.
    pub num_requests: u64,
    /// Requests answered with an error (including handlers that panicked).
    pub num_errors: u64,
    /// The last error, as `"<code>:<description>"`; empty when there was none.
    #[serde(default)]
    pub last_error: String,
    /// Total time spent handling requests (nanoseconds on the wire).
    #[serde(with = "nanos")]
    pub processing_time: Duration,
    /// `processing_time / num_requests` (nanoseconds on the wire).
    #[serde(with = "nanos")]
    pub average_processing_time: Duration,
    /// What the service's stats handler returned for this endpoint, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<serde_json::Value>,
}

/// `null` reads as the default (Go services send `"metadata": null`).
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A `Duration` as integer nanoseconds (a Go `time.Duration`).
mod nanos {
    use super::*;

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(
            u64::try_from(d.as_nanos())
                .unwrap_or(i64::MAX as u64)
                .min(i64::MAX as u64),
        )
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let n = i64::deserialize(d)?;
        Ok(Duration::from_nanos(n.max(0) as u64))
    }
}
