//! Integration tests of rnats against real nats-server processes (see rnats-test).
#![allow(clippy::unwrap_used, missing_docs)]

mod api;
mod auth;
mod core;
#[cfg(feature = "jetstream")]
mod jetstream;
#[cfg(feature = "jetstream")]
mod jetstream_cluster;
#[cfg(feature = "jetstream")]
mod jetstream_consumer;
#[cfg(feature = "jetstream")]
mod jetstream_schema;
mod resilience;
mod tls;
mod vectored;
mod websocket;
mod wire;

use std::time::Duration;

use futures_util::StreamExt;

/// Every test holds this lock for reading; the failover test holds it for writing, so it runs
/// alone. Its loss bound depends on how quickly a killed server's socket closes and the client
/// notices, which on 2 cores busy with other tests can take 100 ms instead of a few.
pub static EXCLUSIVE: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

/// The shared side of [`EXCLUSIVE`]: call first in every test.
pub async fn shared() -> tokio::sync::RwLockReadGuard<'static, ()> {
    EXCLUSIVE.read().await
}

/// Waits for the first event matching `pred` (fails the test after `secs`).
pub async fn wait_event(
    events: &mut rnats::EventStream,
    secs: u64,
    pred: impl Fn(&rnats::Event) -> bool,
) -> rnats::Event {
    tokio::time::timeout(Duration::from_secs(secs), async {
        loop {
            let e = events.next().await.expect("event stream ended");
            if pred(&e) {
                return e;
            }
        }
    })
    .await
    .expect("timed out waiting for an event")
}

/// A loopback port nothing listens on (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

/// Receives the next message or fails the test after 5 s.
pub async fn next_msg(sub: &mut rnats::Subscriber) -> rnats::Message {
    tokio::time::timeout(Duration::from_secs(5), sub.next())
        .await
        .expect("timed out waiting for a message")
        .expect("subscription ended early")
}

/// Collects what a subscription yields until it ends (fails after 10 s).
pub async fn collect_until_end(sub: &mut rnats::Subscriber) -> Vec<rnats::Message> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(m) = sub.next().await {
            out.push(m);
        }
    })
    .await
    .expect("subscription did not end");
    out
}
