//! JetStream: persistent streams, publish with acknowledgement, and consumers.
//!
//! Built only on the public [`Client`] API: every call is a request to the
//! JetStream API subjects (`$JS.API.…`), whose JSON answers are parsed here. Errors are the
//! crate's one [`Error`](crate::Error) type; JetStream API errors keep the server's `code`,
//! `err_code` and description ([`Error::jetstream_error`](crate::Error::jetstream_error)) and
//! have predicates such as [`Error::is_stream_not_found`](crate::Error::is_stream_not_found).
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use rnats::jetstream::{self, consumer, stream};
//!
//! # async fn demo() -> Result<(), rnats::Error> {
//! let client = rnats::connect("nats://127.0.0.1:4222").await?;
//! let js = jetstream::new(client);
//!
//! let mut config = stream::Config::new("ORDERS");
//! config.subjects = vec!["orders.>".into()];
//! let stream = js.create_stream(config).await?;
//!
//! // Publish, then wait for the stream's acknowledgement.
//! let ack = js.publish("orders.new", "order 1").await?.await?;
//! println!("stored as {} in {}", ack.sequence, ack.stream);
//!
//! // Consume with a durable pull consumer.
//! let consumer = stream
//!     .create_consumer(consumer::pull::Config::durable("processor"))
//!     .await?;
//! let mut messages = consumer.messages().await?;
//! while let Some(msg) = messages.next().await {
//!     let msg = msg?;
//!     println!("{:?}", msg.payload);
//!     msg.ack().await?;
//! }
//! # Ok(()) }
//! ```

//!
//! Cancelling: dropping the future of an API call (create, update, delete, purge, get…)
//! after its first poll may still have sent the request, and the server may still carry it
//! out; only the answer is lost.

pub(crate) mod api;
mod batch;
pub mod consumer;
mod context;
mod counter;
mod errors;
mod fast_batch;
pub mod message;
pub mod publish;
mod schedule;
pub mod stream;

use std::time::Duration;

pub use api::{ApiError, ErrorCode, Paged};
pub use batch::AtomicBatch;
pub use context::{AccountInfo, AccountLimits, ApiStats, Context, ContextBuilder, Names};
pub use counter::CounterEntry;
pub use fast_batch::{
    BatchGap, BatchMessageError, FastBatch, FastBatchBuilder, FastPubAck, GapMode,
};
pub use message::Message;
pub use publish::{PubAck, PubAckFuture, Publish};
pub use schedule::{MessageSchedule, Schedule, ScheduleEntry};

use crate::Client;

/// A JetStream context on `client`, using the default API prefix `$JS.API`.
pub fn new(client: Client) -> Context {
    ContextBuilder::new().build(client)
}

/// A JetStream context for JetStream domain `domain` (API prefix `$JS.<domain>.API`).
pub fn with_domain(client: Client, domain: impl AsRef<str>) -> Context {
    ContextBuilder::new().domain(domain).build(client)
}

/// A JetStream context using API prefix `prefix` instead of `$JS.API` (for example one
/// imported from another account).
pub fn with_prefix(client: Client, prefix: impl AsRef<str>) -> Context {
    ContextBuilder::new().api_prefix(prefix).build(client)
}

/// JetStream API levels (from INFO `api_lvl`) at which features appeared.
pub mod api_level {
    /// nats-server 2.11: per-message TTL, consumer pause, priority groups, batch direct get.
    pub const V2_11: i32 = 1;
    /// nats-server 2.12: atomic batches, counters, schedules, the `prioritized` policy.
    pub const V2_12: i32 = 2;
    /// nats-server 2.14: fast batches, consumer reset, the `flow_control` ack policy.
    pub const V2_14: i32 = 4;
}

/// Durations on the JetStream wire are integer nanoseconds.
pub(crate) mod nanos {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn to_i64(d: &Duration) -> i64 {
        i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
    }

    pub(crate) fn from_i64(n: i64) -> Duration {
        Duration::from_nanos(u64::try_from(n).unwrap_or(0))
    }

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(to_i64(d))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(from_i64(i64::deserialize(d)?))
    }

    /// `Option<Duration>`; absent, null and 0 are `None`.
    pub(crate) mod option {
        use std::time::Duration;

        use serde::{Deserialize, Deserializer, Serializer};

        pub(crate) fn serialize<S: Serializer>(
            d: &Option<Duration>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => s.serialize_i64(super::to_i64(d)),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<Duration>, D::Error> {
            Ok(Option::<i64>::deserialize(d)?
                .filter(|n| *n > 0)
                .map(super::from_i64))
        }
    }

    /// `Vec<Duration>` (consumer backoff).
    pub(crate) mod vec {
        use std::time::Duration;

        use serde::{ser::SerializeSeq, Deserialize, Deserializer, Serializer};

        pub(crate) fn serialize<S: Serializer>(v: &[Duration], s: S) -> Result<S::Ok, S::Error> {
            let mut seq = s.serialize_seq(Some(v.len()))?;
            for d in v {
                seq.serialize_element(&super::to_i64(d))?;
            }
            seq.end()
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Vec<Duration>, D::Error> {
            Ok(Option::<Vec<i64>>::deserialize(d)?
                .unwrap_or_default()
                .into_iter()
                .map(super::from_i64)
                .collect())
        }
    }
}

/// Serde helpers for omitting defaults.
pub(crate) fn is_default<T: Default + PartialEq>(t: &T) -> bool {
    *t == T::default()
}

pub(crate) fn is_minus_one(n: &i64) -> bool {
    *n == -1
}

pub(crate) fn minus_one() -> i64 {
    -1
}

/// `null` in the server's JSON (a Go nil slice or map) read as the empty default.
pub(crate) fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    use serde::Deserialize;
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// The instant `d` from now, or a far future one when that overflows (a caller's huge
/// heartbeat or expiry must not panic).
pub(crate) fn deadline(d: Duration) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    now.checked_add(d)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365 * 30))
}

/// The default JetStream API request timeout.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

#[cfg(test)]
mod tests {
    #[test]
    fn handles_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        fn send<T: Send>() {}
        send_sync::<super::Context>();
        send_sync::<super::stream::Stream>();
        send_sync::<super::consumer::PullConsumer>();
        send_sync::<super::consumer::PushConsumer>();
        send_sync::<super::Message>();
        send::<super::PubAckFuture>();
        send::<super::consumer::pull::Messages>();
        send::<super::consumer::pull::Batch>();
        send::<super::consumer::push::Messages>();
        send::<super::consumer::Ordered>();
        send::<super::Paged<super::stream::Info>>();
    }

    /// Times the one-pass answer parse against the two-pass one it replaced (a probe for
    /// `error`, then the type), on a stream info answer as nats-server 2.12 sends it. Not a
    /// check, a measurement: `cargo test -p rnats --lib --release -- --ignored
    /// answer_parse_timing --nocapture`.
    #[test]
    #[ignore]
    fn answer_parse_timing() {
        use std::hint::black_box;
        use std::time::Instant;

        use serde::de::DeserializeOwned;
        use serde::Deserialize;

        use super::api::{bad_json, parse_response, ApiError};
        use crate::{Error, Message};

        fn two_pass<T: DeserializeOwned>(msg: &Message) -> Result<T, Error> {
            #[derive(Deserialize)]
            struct Probe {
                #[serde(default)]
                error: Option<ApiError>,
            }
            let probe: Probe =
                serde_json::from_slice(&msg.payload).map_err(|e| bad_json("s", e))?;
            if let Some(error) = probe.error {
                // As the old parse_response made it.
                return Err(Error::jetstream_api(
                    format!("jetstream request {:?} failed", "s".to_owned()),
                    error,
                ));
            }
            serde_json::from_slice(&msg.payload).map_err(|e| bad_json("s", e))
        }

        let info = br#"{"type":"io.nats.jetstream.api.v1.stream_info_response","total":0,"offset":0,"limit":0,"config":{"name":"ORDERS","subjects":["orders.>","shipments.*"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":true,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"allow_msg_ttl":false,"allow_msg_counter":false,"allow_atomic":false,"allow_msg_schedules":false,"consumer_limits":{},"metadata":{"_nats.req.level":"0","_nats.ver":"2.12.1","_nats.level":"2"}},"created":"2026-11-30T19:00:00.123456789Z","state":{"messages":123456,"bytes":98765432,"first_seq":1,"first_ts":"2026-11-30T19:00:01.5Z","last_seq":123456,"last_ts":"2026-11-30T19:30:00.25Z","num_subjects":42,"consumer_count":3},"cluster":{"leader":"NCXYZ","leader_since":"2026-11-30T19:00:00.2Z"},"ts":"2026-11-30T19:30:01.75Z"}"#;
        let error = br#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}"#;
        let pub_ack = br#"{"stream":"ORDERS","seq":123457,"domain":"hub"}"#;
        let msg = |payload: &[u8]| Message {
            subject: crate::Subject::from("_INBOX.x.1"),
            reply: None,
            payload: bytes::Bytes::copy_from_slice(payload),
            headers: None,
            status: None,
            description: None,
            length: payload.len(),
        };
        const N: u32 = 100_000;
        fn time<T: DeserializeOwned>(
            name: &str,
            msg: &Message,
            parse: impl Fn(&Message) -> Result<T, Error>,
        ) {
            for _ in 0..N / 10 {
                let _ = black_box(parse(black_box(msg)));
            }
            let start = Instant::now();
            for _ in 0..N {
                let _ = black_box(parse(black_box(msg)));
            }
            let per = start.elapsed() / N;
            println!("{name:<28} {per:>10.2?} per answer");
        }
        let one = |m: &Message| parse_response::<super::stream::Info>(m, || "s".to_owned());
        // The same answers either way.
        let a = one(&msg(info)).unwrap_or_else(|e| panic!("{e}"));
        let b = two_pass::<super::stream::Info>(&msg(info)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a.config.name, "ORDERS");
        assert_eq!(
            (a.config.name, a.state.messages, a.created),
            (b.config.name, b.state.messages, b.created)
        );
        assert!(one(&msg(error)).is_err_and(|e| e.is_stream_not_found()));
        assert!(
            two_pass::<super::stream::Info>(&msg(error)).is_err_and(|e| e.is_stream_not_found())
        );
        assert!(parse_response::<super::PubAck>(&msg(pub_ack), || "s".to_owned()).is_ok());
        for _ in 0..3 {
            time(
                "stream info, two passes",
                &msg(info),
                two_pass::<super::stream::Info>,
            );
            time("stream info, one pass", &msg(info), one);
            time(
                "error, two passes",
                &msg(error),
                two_pass::<super::stream::Info>,
            );
            time("error, one pass", &msg(error), one);
            time(
                "pub ack, two passes",
                &msg(pub_ack),
                two_pass::<super::PubAck>,
            );
            time("pub ack, one pass", &msg(pub_ack), |m: &Message| {
                parse_response::<super::PubAck>(m, || "s".to_owned())
            });
        }
    }
}
