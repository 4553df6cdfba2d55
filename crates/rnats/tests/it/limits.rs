//! Limits and slow consumers: pending message and byte limits per subscription, the
//! oversized-message exception, `subscription_capacity`, one event per episode, and a
//! publisher under backpressure.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use rnats_test::NatsServer;

use crate::{collect_until_end, next_msg, Bounded};

#[tokio::test]
async fn slow_consumer_drops_are_counted_never_silent() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut events = client.events();
    let mut sub = client.subscribe("slow").await.unwrap();
    sub.set_pending_limits(100, 1024 * 1024);
    client.flush().bounded().await.unwrap();
    let n = 1000u64;
    for i in 0..n {
        client.publish("slow", format!("{i}")).await.unwrap();
    }
    client.flush().bounded().await.unwrap();
    // Nothing was consumed yet: at most 100 wait, the rest were dropped and counted.
    sub.unsubscribe().await.unwrap();
    let received = collect_until_end(&mut sub).await.len() as u64;
    assert_eq!(received, 100);
    assert_eq!(sub.dropped(), n - received);
    assert_eq!(client.statistics().dropped_msgs, n - received);
    // Said once, at the first drop (the 101st message).
    let e = crate::wait_event(&mut events, 5, |e| {
        matches!(e, rnats::Event::SlowConsumer { .. })
    })
    .await;
    let rnats::Event::SlowConsumer { subject, dropped } = e else {
        unreachable!()
    };
    assert_eq!((subject.as_str(), dropped), ("slow", 1));
}

/// Regression: the driver consumed its wake-up flag while still writing the previous batch,
/// so a publisher waiting for room in a full write buffer was never woken again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backpressure_never_stalls_a_publisher() {
    // 200 MB through the loopback: alone, so that it neither slows timing-sensitive tests
    // nor is slowed past its bound by them.
    let _alone = crate::alone().await;
    let server = NatsServer::start();
    // Writes of a full 256 KiB buffer outrun the socket, so the driver is often still
    // writing when the publisher asks for room: the window the bug needed.
    let client = rnats::ConnectOptions::new()
        .write_buffer_size(256 * 1024)
        .connect(server.url())
        .await
        .unwrap();
    let receiver = rnats::connect(server.url()).await.unwrap();
    let mut sub = receiver.subscribe("bp").await.unwrap();
    receiver.flush().bounded().await.unwrap();
    let n = 100_000u64;
    // The receiver reads as it goes (200 MB would overflow its pending limits otherwise).
    let counter = tokio::spawn(async move {
        let mut got = 0u64;
        while got < n {
            next_msg(&mut sub).await;
            got += 1;
        }
        (got, sub.dropped())
    });
    let payload = Bytes::from(vec![b'x'; 2048]);
    tokio::time::timeout(Duration::from_secs(30), async {
        for _ in 0..n {
            client.publish("bp", payload.clone()).await.unwrap();
        }
        client.flush().bounded().await.unwrap();
    })
    .await
    .expect("publishing 100,000 messages of 2 KiB stalled");
    let (got, dropped) = counter.await.unwrap();
    assert_eq!((got, dropped), (n, 0));
}

/// Collects the events up to the first `SlowConsumer` on `barrier` and returns the
/// `dropped` counts of the `SlowConsumer` events on `subject` among them. Events are raised
/// in the order messages are routed, so the barrier's event comes after every event of the
/// messages published before it.
async fn slow_consumer_events_before(
    events: &mut rnats::EventStream,
    subject: &str,
    barrier: &str,
) -> Vec<u64> {
    let mut found = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.next().await.expect("event stream ended") {
                rnats::Event::SlowConsumer { subject: s, .. } if s == barrier => return,
                rnats::Event::SlowConsumer {
                    subject: s,
                    dropped,
                } if s == subject => found.push(dropped),
                _ => {}
            }
        }
    })
    .await
    .expect("the barrier's slow consumer event");
    found
}

/// A new subscription on `barrier` (limit 1 message, nothing consumed) that drops a
/// message: its first drop, so one `SlowConsumer` event, raised after those of everything
/// published before. Keep it until the events are read.
async fn trip_barrier(client: &rnats::Client, barrier: &str) -> rnats::Subscriber {
    let sub = client.subscribe(barrier).await.unwrap();
    sub.set_pending_limits(1, 1 << 20);
    client.publish(barrier, "1").await.unwrap();
    client.publish(barrier, "2").await.unwrap();
    client.flush().bounded().await.unwrap();
    sub
}

/// The byte half of `set_pending_limits`: at the byte limit further messages are dropped
/// and counted, one `SlowConsumer` event per episode, a second episode after the subscriber
/// caught up raises a second event.
#[tokio::test]
async fn pending_byte_limit_drops_counts_and_raises_one_event_per_episode() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut events = client.events();
    let mut sub = client.subscribe("bytes").await.unwrap();
    // 10 messages of 10 bytes fill it; the message limit is far away.
    sub.set_pending_limits(1000, 100);
    // One connection publishes and receives: once its flush returns, every message it
    // published has been routed back to it.
    client.flush().bounded().await.unwrap();

    // Episode 1: 25 published, 10 fit.
    for i in 0..25 {
        client.publish("bytes", format!("{i:010}")).await.unwrap();
    }
    client.flush().bounded().await.unwrap();
    assert_eq!((sub.pending(), sub.dropped()), (10, 15));
    let _barrier = trip_barrier(&client, "barrier.1").await;
    assert_eq!(
        slow_consumer_events_before(&mut events, "bytes", "barrier.1").await,
        [1],
        "one event, raised at the first drop"
    );
    // The first 10 were kept, in order.
    for i in 0..10 {
        assert_eq!(next_msg(&mut sub).await.payload, format!("{i:010}"));
    }
    assert_eq!(sub.pending(), 0);

    // Episode 2, after catching up: again 10 fit, a second event.
    for i in 25..50 {
        client.publish("bytes", format!("{i:010}")).await.unwrap();
    }
    client.flush().bounded().await.unwrap();
    assert_eq!((sub.pending(), sub.dropped()), (10, 30));
    let _barrier = trip_barrier(&client, "barrier.2").await;
    assert_eq!(
        slow_consumer_events_before(&mut events, "bytes", "barrier.2").await,
        [16],
        "a new episode, one new event"
    );
    for i in 25..35 {
        assert_eq!(next_msg(&mut sub).await.payload, format!("{i:010}"));
    }
    // 30 of "bytes" and one per barrier trip.
    assert_eq!(client.statistics().dropped_msgs, 32);
}

/// A message larger than the whole byte limit still gets through when nothing waits in the
/// queue (else it could never be received); behind it, the limit applies as usual.
#[tokio::test]
async fn one_message_over_the_byte_limit_is_delivered_when_the_queue_is_empty() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("big").await.unwrap();
    sub.set_pending_limits(1000, 100);
    client.flush().bounded().await.unwrap();
    let big = |tag: u8| Bytes::from(vec![tag; 500]);
    client.publish("big", big(b'a')).await.unwrap();
    // Queued behind an oversized one: over the limit, dropped.
    client.publish("big", "small").await.unwrap();
    client.publish("big", big(b'b')).await.unwrap();
    client.flush().bounded().await.unwrap();
    assert_eq!((sub.pending(), sub.dropped()), (1, 2));
    assert_eq!(next_msg(&mut sub).await.payload, big(b'a'));
    // Caught up: the queue is empty again, the next oversized message is taken.
    client.publish("big", big(b'c')).await.unwrap();
    client.flush().bounded().await.unwrap();
    assert_eq!((sub.pending(), sub.dropped()), (1, 2));
    assert_eq!(next_msg(&mut sub).await.payload, big(b'c'));
}

/// `subscription_capacity` is every new subscription's pending limits, in messages and in
/// bytes; `set_pending_limits` overrides it for one subscription.
#[tokio::test]
async fn subscription_capacity_limits_every_subscription() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let by_count = rnats::ConnectOptions::new()
        .subscription_capacity(10, 1 << 20)
        .connect(server.url())
        .await
        .unwrap();
    let by_bytes = rnats::ConnectOptions::new()
        .subscription_capacity(1000, 100)
        .connect(server.url())
        .await
        .unwrap();
    let a = by_count.subscribe("cap").await.unwrap();
    let b = by_count.subscribe("cap").await.unwrap();
    let wider = by_count.subscribe("cap").await.unwrap();
    wider.set_pending_limits(20, 1 << 20);
    let c = by_bytes.subscribe("cap").await.unwrap();
    by_count.flush().bounded().await.unwrap();
    by_bytes.flush().bounded().await.unwrap();
    let publisher = rnats::connect(server.url()).await.unwrap();
    for i in 0..30 {
        publisher.publish("cap", format!("{i:010}")).await.unwrap();
    }
    publisher.flush().bounded().await.unwrap();
    // The server has queued all 30 to both connections; their flushes' PONGs come after.
    by_count.flush().bounded().await.unwrap();
    by_bytes.flush().bounded().await.unwrap();
    assert_eq!((a.pending(), a.dropped()), (10, 20));
    assert_eq!((b.pending(), b.dropped()), (10, 20));
    assert_eq!((wider.pending(), wider.dropped()), (20, 10));
    // 10 messages of 10 bytes.
    assert_eq!((c.pending(), c.dropped()), (10, 20));
}
