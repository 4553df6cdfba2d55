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
    /// every request). On the wire the key is always there, `""` when disabled (as nats.go
    /// sends it, and as nats-py's readers require it).
    #[serde(default, with = "queue_group")]
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
    /// When the instance started (RFC 3339; sent in UTC with microseconds,
    /// `2026-01-02T03:04:05.123456Z`, the form nats-py's reader parses).
    #[serde(with = "started")]
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
    /// Its queue group; `None` when disabled (`""` on the wire).
    #[serde(default, with = "queue_group")]
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
    /// What the service's stats handler returned for this endpoint, if it has one (`null` on
    /// the wire otherwise: nats-py's reader requires the key).
    #[serde(default)]
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

/// A queue group: `""` on the wire when disabled.
mod queue_group {
    use super::*;

    pub(super) fn serialize<S: Serializer>(q: &Option<String>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(q.as_deref().unwrap_or(""))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(Option::<String>::deserialize(d)?.filter(|q| !q.is_empty()))
    }
}

/// The start time: written in UTC with exactly six fractional digits and `Z`, read as any
/// RFC 3339 time.
mod started {
    use super::*;
    use time::format_description::well_known::Rfc3339;

    pub(super) fn serialize<S: Serializer>(t: &OffsetDateTime, s: S) -> Result<S::Ok, S::Error> {
        let utc = t.to_offset(time::UtcOffset::UTC);
        let text = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            utc.year(),
            u8::from(utc.month()),
            utc.day(),
            utc.hour(),
            utc.minute(),
            utc.second(),
            utc.microsecond()
        );
        s.serialize_str(&text)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<OffsetDateTime, D::Error> {
        let text = String::deserialize(d)?;
        OffsetDateTime::parse(&text, &Rfc3339).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn endpoint(queue_group: Option<&str>, data: Option<serde_json::Value>) -> EndpointStats {
        EndpointStats {
            name: "e".into(),
            subject: "s.e".into(),
            queue_group: queue_group.map(str::to_owned),
            num_requests: 3,
            num_errors: 1,
            last_error: "500:x".into(),
            processing_time: Duration::from_nanos(3_000_000_001),
            average_processing_time: Duration::from_nanos(1_000_000_000),
            data,
        }
    }

    /// The exact wire text: key order as the schema lists them, the start time with six
    /// fractional digits and `Z` (whatever the offset it was held in), `queue_group` `""`
    /// when disabled, `data` `null` without a stats handler.
    #[test]
    fn stats_wire_text() {
        let started = OffsetDateTime::from_unix_timestamp_nanos(1_780_000_000_123_456_789)
            .unwrap()
            .to_offset(time::UtcOffset::from_hms(2, 0, 0).unwrap());
        let stats = Stats {
            kind: STATS_RESPONSE_TYPE.into(),
            name: "svc".into(),
            id: "ID".into(),
            version: "1.0.0".into(),
            metadata: BTreeMap::from([("a".into(), "b".into())]),
            started,
            endpoints: vec![
                endpoint(None, None),
                endpoint(Some("q"), Some(json!({"k": 1}))),
            ],
        };
        let text = serde_json::to_string(&stats).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"type":"io.nats.micro.v1.stats_response","name":"svc","id":"ID","version":"1.0.0","#,
                r#""metadata":{"a":"b"},"started":"2026-05-28T20:26:40.123456Z","endpoints":["#,
                r#"{"name":"e","subject":"s.e","queue_group":"","num_requests":3,"num_errors":1,"#,
                r#""last_error":"500:x","processing_time":3000000001,"average_processing_time":1000000000,"data":null},"#,
                r#"{"name":"e","subject":"s.e","queue_group":"q","num_requests":3,"num_errors":1,"#,
                r#""last_error":"500:x","processing_time":3000000001,"average_processing_time":1000000000,"data":{"k":1}}]}"#
            )
        );
        let back: Stats = serde_json::from_str(&text).unwrap();
        assert_eq!(back.endpoints, stats.endpoints);
        assert_eq!(
            back.started.unix_timestamp_nanos(),
            1_780_000_000_123_456_000
        );
    }

    /// What other implementations send reads too: Go's `null` metadata and nanosecond
    /// times, a missing `queue_group` and `data`, unknown fields.
    #[test]
    fn reads_other_implementations() {
        let stats: Stats = serde_json::from_value(json!({
            "type": STATS_RESPONSE_TYPE, "name": "go", "id": "X", "version": "1.0.0",
            "metadata": null, "started": "2026-01-02T03:04:05.123456789+01:00",
            "endpoints": [{"name": "e", "subject": "e", "num_requests": 1, "num_errors": 0,
                           "last_error": "", "processing_time": 5, "average_processing_time": 5,
                           "extra": true}]
        }))
        .unwrap();
        assert!(stats.metadata.is_empty());
        assert_eq!(stats.endpoints[0].queue_group, None);
        assert_eq!(stats.endpoints[0].data, None);
        assert_eq!(
            stats.started.offset(),
            time::UtcOffset::from_hms(1, 0, 0).unwrap()
        );
        let info: Info = serde_json::from_value(json!({
            "type": INFO_RESPONSE_TYPE, "name": "go", "id": "X", "version": "1.0.0",
            "metadata": null, "endpoints": null
        }))
        .unwrap();
        assert_eq!(info.description, "");
        assert!(info.endpoints.is_empty());
        // A negative duration (a broken peer) reads as zero, not as an error or a panic.
        let e: EndpointStats = serde_json::from_value(json!({
            "name": "e", "subject": "e", "num_requests": 0, "num_errors": 0, "last_error": "",
            "processing_time": -1, "average_processing_time": 0
        }))
        .unwrap();
        assert_eq!(e.processing_time, Duration::ZERO);
    }
}
