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
pub mod consumer;
mod context;
mod errors;
pub mod message;
pub mod publish;
pub mod stream;

use std::time::Duration;

pub use api::{ApiError, ErrorCode, Paged};
pub use context::{AccountInfo, AccountLimits, ApiStats, Context, ContextBuilder, Names};
pub use message::Message;
pub use publish::{PubAck, PubAckFuture, Publish};

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
}
