//! Message schedules (ADR-51, server 2.12+): a message held by a stream with
//! `allow_msg_schedules` that makes the stream publish into a target subject of its own: once
//! at a time (`@at`), at an interval (`@every`), or on a cron schedule. The last message on
//! a subject holds that subject's schedule, so each schedule has a subject of its own;
//! purging the subject stops it.
//!
//! [`Context::publish_schedule`] publishes one ([`MessageSchedule`]: the `Nats-Schedule`,
//! `Nats-Schedule-Target`, `-Source`, `-TTL`, `-Time-Zone` and `-Rollup` headers);
//! [`Stream::get_schedule`] reads one back.

use std::time::Duration;

use bytes::Bytes;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::context::Context;
use super::publish::{format_ttl, PubAck, Publish};
use super::stream::{Stream, StreamMessage};
use crate::{Error, ErrorKind, HeaderMap};

const SCHEDULE: &str = "Nats-Schedule";
const TARGET: &str = "Nats-Schedule-Target";
const SOURCE: &str = "Nats-Schedule-Source";
const TTL: &str = "Nats-Schedule-TTL";
const TIME_ZONE: &str = "Nats-Schedule-Time-Zone";
const ROLLUP: &str = "Nats-Schedule-Rollup";

/// When a scheduled message is published.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Schedule {
    /// Once, at this time (at once if it has passed); the schedule is then removed
    /// (`@at <RFC 3339>`).
    At(OffsetDateTime),
    /// Repeatedly, at this interval, at least 1 s (`@every <duration>`).
    Every(Duration),
    /// On a cron schedule: six fields (seconds first) or a predefined one such as `@hourly`
    /// or `@daily`; the time zone is [`MessageSchedule::time_zone`]'s, UTC by default.
    Cron(String),
}

impl Schedule {
    fn header_value(&self) -> Result<String, Error> {
        match self {
            Schedule::At(at) => {
                let utc = at.to_offset(time::UtcOffset::UTC);
                let text = utc.format(&Rfc3339).map_err(|e| {
                    Error::with_source(
                        ErrorKind::InvalidArgument,
                        "a schedule time that RFC 3339 cannot express",
                        e,
                    )
                })?;
                Ok(format!("@at {text}"))
            }
            Schedule::Every(every) => {
                if *every < Duration::from_secs(1) {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!("a schedule interval must be at least 1s, not {every:?}"),
                    ));
                }
                Ok(format!("@every {}", format_ttl(*every)))
            }
            Schedule::Cron(spec) => {
                if spec.trim().is_empty() || spec.contains(['\r', '\n']) {
                    return Err(Error::new(
                        ErrorKind::InvalidArgument,
                        format!("{spec:?} is not a cron schedule"),
                    ));
                }
                Ok(spec.clone())
            }
        }
    }

    /// Reads a `Nats-Schedule` value back; anything not `@at` / `@every` is a cron schedule.
    fn parse(value: &str) -> Result<Schedule, Error> {
        if let Some(at) = value.strip_prefix("@at ") {
            return OffsetDateTime::parse(at.trim(), &Rfc3339)
                .map(Schedule::At)
                .map_err(|e| {
                    Error::with_source(
                        ErrorKind::JetStream,
                        format!("schedule {value:?} has no valid time"),
                        e,
                    )
                });
        }
        if let Some(every) = value.strip_prefix("@every ") {
            return parse_go_duration(every.trim())
                .map(Schedule::Every)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::JetStream,
                        format!("schedule {value:?} has no valid interval"),
                    )
                });
        }
        Ok(Schedule::Cron(value.to_owned()))
    }
}

/// A Go duration such as `1m30s`, `1500ms` or `2h` (no sign, no fractions beyond
/// decimals of a unit).
fn parse_go_duration(text: &str) -> Option<Duration> {
    let mut rest = text;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number: f64 = rest[..number_len].parse().ok()?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let nanos_per = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        rest = &rest[unit_len..];
        total = total.checked_add(Duration::from_nanos((number * nanos_per) as u64))?;
    }
    Some(total)
}

/// A scheduled message to publish with [`Context::publish_schedule`]: the schedule, the
/// target subject (in the same stream), and what the produced messages carry.
///
/// ```no_run
/// # async fn demo(js: rnats::jetstream::Context) -> Result<(), rnats::Error> {
/// use rnats::jetstream::{MessageSchedule, Schedule};
/// use std::time::Duration;
/// // In 10 minutes, publish "remind" to orders.reminders (once).
/// let at = time::OffsetDateTime::now_utc() + Duration::from_secs(600);
/// js.publish_schedule(
///     "schedules.orders.7",
///     MessageSchedule::new(Schedule::At(at), "orders.reminders").payload("remind"),
/// )
/// .await?;
/// // Every 5 minutes, the latest temperature reading into a sampled subject.
/// js.publish_schedule(
///     "schedules.sampled",
///     MessageSchedule::new(Schedule::Every(Duration::from_secs(300)), "sensors.sampled")
///         .source("sensors.temperature"),
/// )
/// .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct MessageSchedule {
    /// When the message is published.
    pub schedule: Schedule,
    /// The subject the produced messages go to (`Nats-Schedule-Target`).
    pub target: String,
    /// Publish the last message of this subject instead of the schedule's own payload
    /// (`Nats-Schedule-Source`; the schedule's payload when that subject has none).
    pub source: Option<String>,
    /// The produced messages' TTL (`Nats-Schedule-TTL`; the stream needs `allow_msg_ttl`).
    pub ttl: Option<Duration>,
    /// The cron schedule's time zone, an IANA name such as `Europe/Amsterdam`
    /// (`Nats-Schedule-Time-Zone`; cron schedules only).
    pub time_zone: Option<String>,
    /// The produced messages roll up their subject (`Nats-Schedule-Rollup: sub`).
    pub rollup: bool,
    /// The payload of the produced messages.
    pub payload: Bytes,
    /// Other headers, passed on to the produced messages.
    pub headers: HeaderMap,
}

impl MessageSchedule {
    /// A schedule publishing an empty message to `target`.
    pub fn new(schedule: Schedule, target: impl Into<String>) -> Self {
        Self {
            schedule,
            target: target.into(),
            source: None,
            ttl: None,
            time_zone: None,
            rollup: false,
            payload: Bytes::new(),
            headers: HeaderMap::new(),
        }
    }

    /// The payload of the produced messages.
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Publishes the last message of `subject` instead (sampling).
    pub fn source(mut self, subject: impl Into<String>) -> Self {
        self.source = Some(subject.into());
        self
    }

    /// The produced messages' TTL.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }

    /// The cron schedule's time zone (IANA name).
    pub fn time_zone(mut self, zone: impl Into<String>) -> Self {
        self.time_zone = Some(zone.into());
        self
    }

    /// The produced messages roll up their subject.
    pub fn rollup(mut self, rollup: bool) -> Self {
        self.rollup = rollup;
        self
    }

    /// Adds a header passed on to the produced messages.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name.into(), value.into());
        self
    }

    fn into_headers(self) -> Result<(HeaderMap, Bytes), Error> {
        let mut headers = self.headers;
        headers.insert(SCHEDULE, self.schedule.header_value()?);
        headers.insert(TARGET, self.target);
        if let Some(source) = self.source {
            headers.insert(SOURCE, source);
        }
        if let Some(ttl) = self.ttl {
            headers.insert(TTL, format_ttl(ttl));
        }
        if let Some(zone) = self.time_zone {
            headers.insert(TIME_ZONE, zone);
        }
        if self.rollup {
            headers.insert(ROLLUP, "sub");
        }
        Ok((headers, self.payload))
    }
}

/// A schedule read back with [`Stream::get_schedule`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ScheduleEntry {
    /// The subject holding the schedule.
    pub subject: String,
    /// The schedule's stream sequence.
    pub sequence: u64,
    /// When it was stored.
    pub time: OffsetDateTime,
    /// The schedule as published (its other headers in `headers`).
    pub schedule: MessageSchedule,
}

impl Context {
    /// Publishes the schedule `schedule` on `subject` (replacing the subject's previous
    /// schedule) and returns the stream's acknowledgement. The stream storing `subject`
    /// needs `allow_msg_schedules` (else [`Error::is_schedules_not_enabled`]); a pattern or
    /// target the server refuses is [`Error::is_schedule_invalid`]; below API level 2
    /// (nats-server 2.12) [`Error::is_unsupported`].
    pub async fn publish_schedule(
        &self,
        subject: impl AsRef<str>,
        schedule: MessageSchedule,
    ) -> Result<PubAck, Error> {
        self.require_api_level(super::api_level::V2_12, "message schedules")?;
        let (headers, payload) = schedule.into_headers()?;
        self.publish_with(subject, Publish::new().headers(headers).payload(payload))
            .await?
            .await
    }
}

impl Stream {
    /// The schedule held on `subject` (its last message). Fails with
    /// [`Error::is_message_not_found`] when the subject holds nothing (a fired `@at` schedule
    /// is removed), and with a JetStream error when its last message is not a schedule.
    pub async fn get_schedule(&self, subject: impl AsRef<str>) -> Result<ScheduleEntry, Error> {
        let subject = subject.as_ref();
        let msg = self.get_last_raw_message_by_subject(subject).await?;
        schedule_entry(msg)
    }
}

fn schedule_entry(msg: StreamMessage) -> Result<ScheduleEntry, Error> {
    let subject = msg.subject.to_string();
    let mut headers = msg.headers;
    let mut take = |name: &str| {
        let value = headers.get(name).map(str::to_owned);
        headers.remove(name);
        value
    };
    let Some(pattern) = take(SCHEDULE) else {
        return Err(Error::new(
            ErrorKind::JetStream,
            format!("the last message of {subject:?} holds no schedule"),
        ));
    };
    let schedule = Schedule::parse(&pattern)?;
    let target = take(TARGET).unwrap_or_default();
    let source = take(SOURCE);
    let ttl = take(TTL).and_then(|t| parse_go_duration(&t));
    let time_zone = take(TIME_ZONE);
    let rollup = take(ROLLUP).is_some_and(|r| r == "sub");
    Ok(ScheduleEntry {
        subject,
        sequence: msg.sequence,
        time: msg.time,
        schedule: MessageSchedule {
            schedule,
            target,
            source,
            ttl,
            time_zone,
            rollup,
            payload: msg.payload,
            headers,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(parse_go_duration("1s"), Some(Duration::from_secs(1)));
        assert_eq!(parse_go_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(
            parse_go_duration("1500ms"),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_go_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration(""), None);
        assert_eq!(parse_go_duration("5"), None);
        assert_eq!(parse_go_duration("5x"), None);
        // Huge values saturate instead of panicking.
        assert!(parse_go_duration("18446744073709551615h18446744073709551615h").is_some());
    }

    #[test]
    fn schedules_round_trip() {
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        for s in [
            Schedule::At(at),
            Schedule::Every(Duration::from_secs(90)),
            Schedule::Every(Duration::from_millis(1500)),
            Schedule::Cron("@hourly".into()),
            Schedule::Cron("0 30 4 * * *".into()),
        ] {
            assert_eq!(Schedule::parse(&s.header_value().unwrap()).unwrap(), s);
        }
        assert_eq!(
            Schedule::At(at).header_value().unwrap(),
            "@at 2023-11-14T22:13:20Z"
        );
        assert!(Schedule::Every(Duration::from_millis(500))
            .header_value()
            .is_err());
        assert!(Schedule::Cron(" ".into()).header_value().is_err());
    }
}
