//! Load in one process: 100 connections, 10,000 subscriptions on one connection (a message
//! through each), 1,000 requests in flight at once. It reports the memory each connection
//! and each subscription costs, counted by a global allocator that tracks live bytes (a test
//! binary of its own, so nothing else allocates meanwhile), and checks that `close()` leaves
//! no task and no memory behind. Run it with `-- --nocapture` to see the report.

#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::time::Duration;

use futures_util::StreamExt;
use rnats_test::NatsServer;
use stats_alloc::{StatsAlloc, INSTRUMENTED_SYSTEM};

#[global_allocator]
static ALLOCATOR: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// Live heap bytes of the whole process.
fn live() -> i64 {
    let s = ALLOCATOR.stats();
    // Reallocations are already in these two (growth allocated, shrinking deallocated).
    s.bytes_allocated as i64 - s.bytes_deallocated as i64
}

const CONNECTIONS: usize = 100;
const SUBSCRIPTIONS: usize = 10_000;
const REQUESTS: usize = 1_000;

/// Waits (at most 10 s) until `done()` holds; the last value seen otherwise.
async fn settle(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..200 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    done()
}

/// What one round of load cost: bytes per connection and per subscription.
struct Round {
    per_connection: i64,
    per_subscription: i64,
}

/// One round: 100 connections, 10,000 subscriptions with a message each, 1,000 requests in
/// flight; then every client closed.
async fn round(url: &str) -> Round {
    let live0 = live();
    let clients: Vec<rnats::Client> =
        futures_util::future::join_all((0..CONNECTIONS).map(|_| rnats::connect(url)))
            .await
            .into_iter()
            .collect::<Result<_, _>>()
            .unwrap();
    for c in &clients {
        c.flush().await.unwrap();
    }
    let live1 = live();

    // 10,000 subscriptions on one connection, a message through each.
    let subscriber = &clients[0];
    let mut subs = Vec::with_capacity(SUBSCRIPTIONS);
    for i in 0..SUBSCRIPTIONS {
        subs.push(subscriber.subscribe(format!("load.{i}")).await.unwrap());
    }
    subscriber.flush().await.unwrap();
    let live2 = live();
    let publisher = &clients[1];
    for i in 0..SUBSCRIPTIONS {
        publisher.publish(format!("load.{i}"), "m").await.unwrap();
    }
    publisher.flush().await.unwrap();
    for (i, sub) in subs.iter_mut().enumerate() {
        let m = tokio::time::timeout(Duration::from_secs(10), sub.next())
            .await
            .unwrap_or_else(|_| panic!("subscription {i} got nothing"))
            .unwrap();
        assert_eq!(m.subject.as_str(), format!("load.{i}"));
    }
    let dropped: u64 = subs.iter().map(|s| s.dropped()).sum();
    assert_eq!(dropped, 0);
    drop(subs);

    // 1,000 requests in flight at once, answered by a responder on another connection.
    let responder = clients[2].clone();
    let mut requests = responder.subscribe("load.echo").await.unwrap();
    responder.flush().await.unwrap();
    let answering = tokio::spawn(async move {
        let mut answered = 0;
        while answered < REQUESTS {
            let Some(m) = requests.next().await else {
                break;
            };
            if let Some(reply) = m.reply.clone() {
                responder.publish(reply, m.payload.clone()).await.unwrap();
                answered += 1;
            }
        }
        answered
    });
    let requester = &clients[3];
    let answers = futures_util::future::join_all(
        (0..REQUESTS).map(|i| requester.request("load.echo", format!("{i}"))),
    )
    .await;
    for (i, a) in answers.into_iter().enumerate() {
        assert_eq!(a.unwrap().payload, format!("{i}"), "request {i}");
    }
    assert_eq!(answering.await.unwrap(), REQUESTS);

    for c in &clients {
        c.close().await.unwrap();
    }
    Round {
        per_connection: (live1 - live0) / CONNECTIONS as i64,
        per_subscription: (live2 - live1) / SUBSCRIPTIONS as i64,
    }
}

#[test]
fn load_in_one_process_leaves_nothing_behind() {
    let server = NatsServer::start();
    let url = server.url();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let metrics = runtime.metrics();
    runtime.block_on(async {
        let tasks0 = metrics.num_alive_tasks();
        // The first round also grows what is made once and then reused (the runtime's I/O
        // and timer slabs, lazy statics): its end is the baseline. Two more rounds must not
        // grow the heap beyond it, nor leave a task.
        let first = round(&url).await;
        assert!(
            settle(|| metrics.num_alive_tasks() <= tasks0).await,
            "tasks left after close: {} vs {tasks0}",
            metrics.num_alive_tasks()
        );
        let baseline = live();
        let mut after = Vec::new();
        for _ in 0..2 {
            round(&url).await;
            assert!(
                settle(|| metrics.num_alive_tasks() <= tasks0).await,
                "tasks left after close: {} vs {tasks0}",
                metrics.num_alive_tasks()
            );
            // A little slack for allocator-visible noise (a timer entry, a log buffer).
            settle(|| live() <= baseline + 64 * 1024).await;
            after.push(live() - baseline);
        }
        println!(
            "load: {CONNECTIONS} connections at {} B each, {SUBSCRIPTIONS} subscriptions at \
             {} B each (a message through each), {REQUESTS} requests in flight answered; \
             after close: {} tasks alive (before: {tasks0}); live heap after rounds 2 and 3 \
             vs after round 1: {:+} B, {:+} B",
            first.per_connection,
            first.per_subscription,
            metrics.num_alive_tasks(),
            after[0],
            after[1]
        );
        for grown in after {
            assert!(
                grown <= 64 * 1024,
                "memory left behind by a round: {grown:+} B"
            );
        }
    });
}
