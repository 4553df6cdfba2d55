//! Integration tests of rnats against real nats-server processes (see rnats-test).
#![allow(clippy::unwrap_used, missing_docs)]

mod auth;
mod core;
mod resilience;
mod tls;
mod websocket;
mod wire;

use std::time::Duration;

use futures_util::StreamExt;

/// Held by the tests that load the machine (clusters, floods), so that they do not run at the
/// same time: the failover test's loss bound depends on how quickly a killed server's socket
/// closes, which on 2 busy cores can take tens of milliseconds.
pub static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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
