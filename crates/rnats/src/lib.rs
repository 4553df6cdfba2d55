//! # rnats: a fast, complete NATS client
//!
//! Connect, publish, subscribe, request/reply, queue groups and headers over one connection
//! driven by one IO task. Publishing writes straight into a shared buffer that the IO task
//! sends in batches; received payloads are zero-copy slices of the read buffer.
//!
//! ```no_run
//! use futures_util::StreamExt;
//!
//! # async fn demo() -> Result<(), rnats::Error> {
//! let client = rnats::connect("nats://127.0.0.1:4222").await?;
//!
//! // Subscribe, publish, receive.
//! let mut sub = client.subscribe("greet.*").await?;
//! client.publish("greet.joe", "hello").await?;
//! let msg = sub.next().await.expect("subscription open");
//! println!("{} said {:?}", msg.subject, msg.payload);
//!
//! // Request / reply.
//! let mut service = client.subscribe("time").await?;
//! let responder = client.clone();
//! tokio::spawn(async move {
//!     while let Some(req) = service.next().await {
//!         if let Some(reply) = req.reply {
//!             responder.publish(reply, "12:00").await.ok();
//!         }
//!     }
//! });
//! let answer = client.request("time", "").await?;
//! assert_eq!(answer.payload, "12:00");
//!
//! client.drain().await?;
//! # Ok(()) }
//! ```
//!
//! Errors are one type, [`Error`], classified by [`Error::kind`] and predicates such as
//! [`Error::is_timeout`] and [`Error::is_no_responders`].
//!
//! Beyond request/reply, [`Client::request_many`] gathers many replies to one request
//! (scatter-gather, ADR-47) as a stream that ends at a timeout, a stall, a count, a sentinel
//! or a status reply.
//!
//! # Cargo features
//!
//! | feature | default | what |
//! |---|---|---|
//! | `jetstream` | yes | `rnats::jetstream`: streams, consumers, publish with ack, atomic and fast batches, counters, schedules |
//! | `kv` | yes | `rnats::kv`: Key-Value stores |
//! | `object-store` | yes | `rnats::object_store`: Object Store |
//! | `service` | yes | `rnats::service`: services (ADR-32) |
//! | `msg-trace` | yes | `rnats::msg_trace`: message path tracing (ADR-41), `Client::trace` |
//! | `blocking` | no | `rnats::blocking`: the client for programs without an async runtime |
//! | `metrics` | no | `rnats::metrics`: counters, gauges and latencies through the `metrics` facade |

mod addr;
mod auth;
#[cfg(feature = "blocking")]
pub mod blocking;
mod client;
mod connect;
mod driver;
mod error;
mod events;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
#[cfg(feature = "jetstream")]
pub mod jetstream;
#[cfg(feature = "kv")]
pub mod kv;
mod message;
#[cfg(feature = "metrics")]
pub mod metrics;
#[cfg(feature = "msg-trace")]
pub mod msg_trace;
#[cfg(feature = "object-store")]
pub mod object_store;
mod options;
mod request;
mod request_many;
#[cfg(feature = "service")]
pub mod service;
mod shared;
mod subscriber;
mod transport;

pub use addr::{ServerAddr, ToServerAddrs, DEFAULT_PORT};
pub use client::{Client, ConnectionState, Publish, Statistics};
pub use error::{Error, ErrorKind};
pub use events::{Event, EventStream};
pub use message::Message;
pub use options::{Backoff, ConnectOptions, DangerousOptions};
pub use request::{Request, Response};
pub use request_many::{End as RequestManyEnd, RequestMany, Responses};
pub use rnats_proto::{HeaderMap, ServerInfo, StatusCode, Subject};
/// The rustls version rnats uses, for [`ConnectOptions::tls_client_config`].
pub use rustls;
pub use subscriber::Subscriber;

/// Connects to a NATS server with default options.
///
/// `addrs` is a URL (`nats://host:port`), a bare `host:port`, several of them comma-separated,
/// or a list. See [`ConnectOptions`] for everything that can be set.
///
/// ```no_run
/// # async fn demo() -> Result<(), rnats::Error> {
/// let client = rnats::connect("nats://127.0.0.1:4222").await?;
/// client.publish("events.started", "{}").await?;
/// client.flush().await?;
/// # Ok(()) }
/// ```
pub async fn connect(addrs: impl ToServerAddrs) -> Result<Client, Error> {
    ConnectOptions::new().connect(addrs).await
}

/// Compile-time checks: the handles users keep and share between tasks are `Send + Sync`;
/// what they poll is `Send + Unpin` (and `Sync` too where it holds no boxed future), so
/// bindings and tools can hold them anywhere. A change that breaks this fails the build,
/// not a user's program.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    const fn pollable<T: Send + Unpin>() {}
    shareable::<Client>();
    shareable::<ConnectOptions>();
    shareable::<Message>();
    shareable::<Error>();
    shareable::<Event>();
    shareable::<Subscriber>();
    pollable::<Subscriber>();
    pollable::<&Subscriber>();
    shareable::<Response>();
    pollable::<Response>();
    pollable::<Responses>();
    shareable::<RequestMany>();
    pollable::<EventStream>();
    #[cfg(feature = "blocking")]
    {
        shareable::<blocking::Client>();
        shareable::<blocking::Subscription>();
        shareable::<blocking::Replies>();
        #[cfg(feature = "jetstream")]
        shareable::<blocking::JetStream>();
    }
    #[cfg(feature = "jetstream")]
    {
        use jetstream::consumer;
        shareable::<jetstream::Context>();
        shareable::<jetstream::stream::Stream>();
        shareable::<consumer::Consumer<consumer::pull::Config>>();
        shareable::<consumer::Consumer<consumer::push::Config>>();
        shareable::<jetstream::Message>();
        pollable::<jetstream::PubAckFuture>();
        pollable::<consumer::pull::Messages>();
        pollable::<consumer::pull::Batch>();
        pollable::<consumer::push::Messages>();
        pollable::<consumer::Ordered>();
        pollable::<jetstream::Paged<jetstream::stream::Info>>();
    }
    #[cfg(feature = "kv")]
    {
        shareable::<kv::Store>();
        shareable::<kv::Entry>();
        shareable::<kv::Status>();
        pollable::<kv::Watch>();
        pollable::<kv::WatchEvents>();
        pollable::<kv::Keys>();
        pollable::<kv::BucketNames>();
        pollable::<kv::BucketStatuses>();
    }
    #[cfg(feature = "object-store")]
    {
        shareable::<object_store::ObjectStore>();
        shareable::<object_store::ObjectInfo>();
        pollable::<object_store::Watch>();
        pollable::<object_store::BucketNames>();
    }
    #[cfg(feature = "service")]
    {
        shareable::<service::Service>();
        shareable::<service::Group>();
        shareable::<service::Request>();
        pollable::<service::Endpoint>();
    }
};

/// The README's examples, compiled as doctests so they cannot drift from the API. (They use
/// JetStream, Key-Value and services too, so only with those features; `scripts/test.sh`
/// runs them with the defaults.)
#[cfg(all(doctest, feature = "kv", feature = "service"))]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
