//! Pull consumers: fetch, batch, `messages()` (byte budgets, heartbeats, restarts, a consumer
//! that goes away), priority groups.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use rnats::jetstream::consumer::{self, pull, PullConsumer};

use crate::jetstream::{assert_api_error, js_server, with, within};
use crate::jetstream_consumer::{
    drain, fetch_exact, publish_copies, publish_n, pull_without_acks, restartable_stream,
    stream_with,
};

#[tokio::test]
async fn fetch_no_wait_returns_what_is_there() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "F", &["f"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("f"))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    let got = drain(consumer.fetch().max_messages(10).messages().await.unwrap()).await;
    assert!(got.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5), "no-wait waited");
    publish_n(&js, "f", 5).await;
    wait_pending(&stream, "f", 5).await;
    let started = tokio::time::Instant::now();
    let got = drain(consumer.fetch().max_messages(10).messages().await.unwrap()).await;
    let payloads: Vec<&[u8]> = got.iter().map(|m| &m.payload[..]).collect();
    assert_eq!(payloads, [b"0", b"1", b"2", b"3", b"4"]);
    assert!(started.elapsed() < Duration::from_secs(5), "no-wait waited");
    for m in &got {
        m.ack().await.unwrap();
    }
}

#[tokio::test]
async fn batch_waits_until_full_or_expired() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "B", &["b"]).await;
    let consumer: PullConsumer = pull_without_acks(&stream, "b").await;
    publish_n(&js, "b", 1).await;
    let started = tokio::time::Instant::now();
    let got = drain(
        consumer
            .batch()
            .max_messages(3)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got.len(), 1);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    // A message arriving while the pull waits is delivered by it.
    let pending = consumer
        .batch()
        .max_messages(2)
        .expires(Duration::from_secs(15))
        .messages()
        .await
        .unwrap();
    publish_n(&js, "b", 2).await;
    let started = tokio::time::Instant::now();
    assert_eq!(drain(pending).await.len(), 2);
    assert!(
        started.elapsed() < Duration::from_secs(7),
        "a full batch waited for expiry"
    );
    // no_wait with expires: ends as soon as something is there, or at expiry.
    let started = tokio::time::Instant::now();
    let got = drain(
        consumer
            .fetch()
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap(),
    )
    .await;
    assert!(got.is_empty());
    assert!(started.elapsed() < Duration::from_secs(5));
    // next(): one message, or None after the expiry.
    publish_n(&js, "b", 1).await;
    let next = within(10, "next()", consumer.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(next.payload, "0");
}

#[tokio::test]
async fn fetch_max_bytes_limits_the_batch() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "MB", &["mb"]).await;
    let consumer: PullConsumer = pull_without_acks(&stream, "mb").await;
    publish_copies(&js, "mb", &[b'x'; 100], 10).await;
    wait_pending(&stream, "mb", 10).await;
    let got = drain(
        consumer
            .fetch()
            .max_messages(100)
            .max_bytes(450)
            .messages()
            .await
            .unwrap(),
    )
    .await;
    // The server counts subject, reply subject, headers and payload: 2 + 41 + 100 bytes
    // each, so 3 fit in 450 and a 4th would not.
    let sizes: Vec<usize> = got
        .iter()
        .map(|m| m.subject.len() + m.reply.as_ref().unwrap().len() + m.length)
        .collect();
    assert_eq!(sizes, [143, 143, 143]);
    assert_eq!(got.len(), 3);
    let rest = fetch_exact(&consumer, 7).await;
    assert_eq!(got.len() + rest.len(), 10);
}

#[tokio::test]
async fn messages_keep_pulls_topped_up_and_ack_everything() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "M", &["m.>"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("m"))
        .await
        .unwrap();
    publish_n(&js, "m.a", 1000).await;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(50)
        .messages()
        .await
        .unwrap();
    let mut seen = BTreeSet::new();
    let publisher = {
        let js = js.clone();
        tokio::spawn(async move { publish_n(&js, "m.b", 1000).await })
    };
    while seen.len() < 2000 {
        let msg = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("messages() stalled")
            .unwrap()
            .unwrap();
        let info = msg.info().unwrap();
        assert_eq!((info.stream, info.consumer), ("M", "m"));
        assert_eq!(info.delivered, 1);
        assert!(seen.insert(info.stream_sequence));
        msg.ack().await.unwrap();
    }
    within(30, "the publisher", publisher).await.unwrap();
    // Exactly the stream's sequences (each was seen once: insert() said so above).
    assert_eq!(seen, (1..=2000).collect::<BTreeSet<u64>>());
    js.client().flush().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let info = stream.consumer_info("m").await.unwrap();
        if info.num_ack_pending == 0 {
            assert_eq!(info.num_pending, 0);
            assert_eq!(info.ack_floor.stream_sequence, 2000);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{info:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn messages_with_a_byte_budget() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "MBB", &["mbb"]).await;
    let consumer: PullConsumer = pull_without_acks(&stream, "c").await;
    publish_copies(&js, "mbb", &[b'y'; 1000], 300).await;
    let mut messages = consumer
        .stream()
        .max_bytes_per_batch(8 * 1024)
        .messages()
        .await
        .unwrap();
    for _ in 0..300 {
        tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("messages() stalled with a byte budget")
            .unwrap()
            .unwrap();
    }
}

#[tokio::test]
async fn pull_readers_end_when_the_consumer_is_deleted() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "GONE", &["gone"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("g"))
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    publish_n(&js, "gone", 1).await;
    let first = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    first.ack().await.unwrap();
    stream.delete_consumer("g").await.unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .expect("no end after the consumer was deleted")
        .unwrap();
    let err = end.unwrap_err();
    assert!(err.is_consumer_deleted(), "{err:?}");
    assert!(within(5, "the end", messages.next()).await.is_none());

    // A single pull waiting when its consumer is deleted ends the same way.
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("g2"))
        .await
        .unwrap();
    let mut batch = consumer
        .batch()
        .max_messages(10)
        .expires(Duration::from_secs(30))
        .messages()
        .await
        .unwrap();
    let first = within(5, "the batch's first message", batch.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.info().unwrap().stream_sequence, 1);
    stream.delete_consumer("g2").await.unwrap();
    let err = within(5, "the batch's error", batch.next())
        .await
        .expect("the batch ended without saying why")
        .unwrap_err();
    assert!(err.is_consumer_deleted(), "{err:?}");
    assert!(within(5, "the batch's end", batch.next()).await.is_none());
}

#[tokio::test]
async fn missed_heartbeats_are_reported_and_pulling_resumes() {
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let stream = stream_with(&js, "HB", &["hb"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("hb"))
        .await
        .unwrap();
    const HB: Duration = Duration::from_secs(1);
    let mut messages = consumer
        .stream()
        .expires(HB * 4)
        .heartbeat(HB)
        .messages()
        .await
        .unwrap();
    // Nothing to deliver for longer than a pull and than the miss window: heartbeats and
    // expiries keep the stream quiet.
    assert!(
        tokio::time::timeout(HB * 5, messages.next()).await.is_err(),
        "heartbeats or expiries surfaced as items"
    );
    // A frozen server sends no heartbeats: the stream says so, without ending.
    server.pause();
    let item = tokio::time::timeout(Duration::from_secs(10), messages.next()).await;
    server.resume();
    let err = item
        .expect("no missed-heartbeat error")
        .expect("the stream ended")
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        err.to_string()
            .contains("no heartbeat from consumer \"hb\" for 2s"),
        "{err}"
    );
    publish_n(&js, "hb", 1).await;
    let msg = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            match messages.next().await.unwrap() {
                Ok(m) => return m,
                Err(e) => assert!(e.is_timeout(), "{e:?}"),
            }
        }
    })
    .await
    .expect("pulling did not resume");
    assert_eq!(msg.payload, "0");
    assert_eq!(msg.info().unwrap().delivered, 1);
}

#[tokio::test]
async fn messages_survive_a_server_restart() {
    let _shared = crate::shared().await;
    let (server, js, stream) = restartable_stream("DURABLE", "durable").await;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("d"))
        .await
        .unwrap();
    publish_n(&js, "durable", 600).await;
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(100)
        .messages()
        .await
        .unwrap();
    let mut seen = BTreeSet::new();
    let mut redeliveries = 0;
    let mut errors = Vec::new();
    let mut restarted_at = None;
    let started = tokio::time::Instant::now();
    while seen.len() < 600 {
        if seen.len() == 300 && restarted_at.is_none() {
            server.restart(); // SIGKILL, then start on the same port and store
            restarted_at = Some(tokio::time::Instant::now());
        }
        let item = tokio::time::timeout(Duration::from_secs(20), messages.next())
            .await
            .unwrap_or_else(|_| panic!("messages() stalled after {} messages", seen.len()))
            .expect("messages() ended");
        match item {
            Ok(m) => {
                let seq = m.info().unwrap().stream_sequence;
                if !seen.insert(seq) {
                    redeliveries += 1;
                }
                // (Published into the reconnect buffer while the server is away.)
                m.ack().await.unwrap();
            }
            Err(e) => {
                // Missed heartbeats, or pulls the restarted server could not serve yet.
                assert!(
                    e.is_timeout() || e.jetstream_error().is_some_and(|a| a.code == 503),
                    "{e:?}"
                );
                errors.push(e.to_string());
            }
        }
    }
    let recovered = restarted_at.map(|t| t.elapsed());
    eprintln!(
        "restart: 600 messages, {redeliveries} redelivered, {} non-terminal errors {errors:?}, \
         recovered {recovered:?} after the restart, total {:?}",
        errors.len(),
        started.elapsed()
    );
    assert_eq!(seen, (1..=600).collect::<BTreeSet<u64>>());
    assert!(restarted_at.is_some(), "the server was never restarted");
}

#[tokio::test]
async fn priority_group_pins_one_client_until_unpinned() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "PIN", &["pin"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(with(pull::Config::durable("pinned"), |c| {
            c.priority_groups = vec!["jobs".into()];
            c.priority_policy = consumer::PriorityPolicy::PinnedClient;
            c.priority_timeout = Duration::from_secs(30);
        }))
        .await
        .unwrap();
    let mut a = consumer.stream().group("jobs").messages().await.unwrap();
    let mut b = consumer.stream().group("jobs").messages().await.unwrap();
    publish_n(&js, "pin", 10).await;
    let mut got_a = Vec::new();
    let mut got_b = Vec::new();
    while got_a.len() + got_b.len() < 10 {
        tokio::select! {
            Some(m) = a.next() => got_a.push(m.unwrap()),
            Some(m) = b.next() => got_b.push(m.unwrap()),
            _ = tokio::time::sleep(Duration::from_secs(10)) => panic!(
                "delivery stalled: a {}, b {}", got_a.len(), got_b.len()
            ),
        }
    }
    let (pinned, other) = if got_a.is_empty() {
        (&got_b, &got_a)
    } else {
        (&got_a, &got_b)
    };
    assert_eq!(pinned.len(), 10, "a: {}, b: {}", got_a.len(), got_b.len());
    assert!(other.is_empty(), "a: {}, b: {}", got_a.len(), got_b.len());
    let pin = pinned[0]
        .headers
        .as_ref()
        .unwrap()
        .get("Nats-Pin-Id")
        .unwrap()
        .to_owned();
    for m in pinned {
        m.ack().await.unwrap();
    }
    let info = stream.consumer_info("pinned").await.unwrap();
    assert_eq!(info.priority_groups.len(), 1);
    assert_eq!(
        info.priority_groups[0].pinned_client_id.as_deref(),
        Some(pin.as_str())
    );

    // Unpinned, the server pins a client anew (either one), with a new id.
    stream.unpin_consumer("pinned", "jobs").await.unwrap();
    publish_n(&js, "pin", 5).await;
    // (Pulls the server stops serving after the unpin end with 423 Nats-Wrong-Pin-Id,
    // yielded as errors while the stream goes on.)
    let mut after = Vec::new();
    let mut errors = Vec::new();
    while after.len() < 5 {
        let item = tokio::select! {
            Some(m) = a.next() => m,
            Some(m) = b.next() => m,
            _ = tokio::time::sleep(Duration::from_secs(10)) => panic!(
                "{} of the 5 messages after unpinning; errors {errors:?}", after.len()
            ),
        };
        match item {
            Ok(m) => after.push(m),
            Err(e) => {
                assert_eq!(e.jetstream_error().map(|a| a.code), Some(423), "{e:?}");
                errors.push(e.to_string());
            }
        }
    }
    let new_pin = after[0]
        .headers
        .as_ref()
        .unwrap()
        .get("Nats-Pin-Id")
        .unwrap();
    assert_ne!(new_pin, pin);
    let err = stream
        .unpin_consumer("pinned", "nogroup")
        .await
        .unwrap_err();
    assert_api_error(&err, 400, 10160);
}

#[tokio::test]
async fn priority_group_overflow_waits_for_min_pending() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "OVER", &["over"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(with(pull::Config::durable("o"), |c| {
            c.priority_groups = vec!["g".into()];
            c.priority_policy = consumer::PriorityPolicy::Overflow;
        }))
        .await
        .unwrap();
    publish_n(&js, "over", 3).await;
    let few = drain(
        consumer
            .batch()
            .group("g")
            .min_pending(5)
            .max_messages(10)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap(),
    )
    .await;
    assert!(few.is_empty(), "served below min_pending");
    publish_n(&js, "over", 3).await;
    let enough = drain(
        consumer
            .batch()
            .group("g")
            .min_pending(5)
            .max_messages(10)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap(),
    )
    .await;
    // Served while at least 5 are pending: 6 -> 5 -> 4, two messages.
    assert_eq!(enough.len(), 2);
    let rest = drain(consumer.fetch().group("g").messages().await.unwrap()).await;
    assert_eq!(rest.len(), 4);
    // A pull without the group is refused by a consumer with priority groups.
    let err = consumer
        .fetch()
        .messages()
        .await
        .unwrap()
        .next()
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.jetstream_error().unwrap().code, 400, "{err:?}");
}

#[tokio::test]
async fn prioritized_policy_serves_the_lowest_priority_pull_first() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "PRIO", &["prio"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(with(pull::Config::durable("p"), |c| {
            c.priority_groups = vec!["g".into()];
            c.priority_policy = consumer::PriorityPolicy::Prioritized;
        }))
        .await
        .unwrap();
    let pull = |priority: u8| {
        consumer
            .batch()
            .group("g")
            .priority(priority)
            .max_messages(1)
            .expires(Duration::from_secs(2))
            .messages()
    };
    // The low-priority pull arrives first; the message still goes to priority 0.
    let low = pull(5).await.unwrap();
    js.client().flush().await.unwrap();
    let high = pull(0).await.unwrap();
    js.client().flush().await.unwrap();
    publish_n(&js, "prio", 1).await;
    let (high, low) = tokio::join!(drain(high), drain(low));
    assert_eq!(high.len(), 1, "the priority-0 pull got nothing");
    assert!(low.is_empty(), "the priority-5 pull was served first");
}

#[tokio::test]
async fn messages_wait_out_a_consumer_that_is_gone_and_resume_when_it_is_back() {
    let _shared = crate::shared().await;
    let (server, js, stream) = restartable_stream("BACK", "back").await;
    // Kept in memory: a restarted server has forgotten it.
    let consumer_config = with(pull::Config::durable("mem"), |c| c.mem_storage = true);
    let consumer: PullConsumer = stream
        .create_consumer(consumer_config.clone())
        .await
        .unwrap();
    let mut messages = consumer
        .stream()
        .expires(Duration::from_secs(2))
        .heartbeat(Duration::from_millis(500))
        .messages()
        .await
        .unwrap();
    publish_n(&js, "back", 1).await;
    let first = within(10, "the first message", messages.next())
        .await
        .unwrap()
        .unwrap();
    first.double_ack().await.unwrap();
    server.restart();
    // Pulls now find nobody (503) or go unanswered: errors, but the stream goes on.
    let mut errors = 0;
    while errors < 2 {
        let item = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .expect("no error while the consumer is gone")
            .expect("the stream ended");
        let err = item.unwrap_err();
        eprintln!("while the consumer is gone: {err:?}");
        assert!(
            err.is_timeout() || err.jetstream_error().is_some_and(|e| e.code == 503),
            "{err:?}"
        );
        errors += 1;
    }
    // Back with the same name (from where it was: the server forgot the ack state too).
    stream.create_consumer(consumer_config).await.unwrap();
    publish_n(&js, "back", 1).await;
    let mut late_errors = Vec::new();
    let msg = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match messages.next().await.expect("the stream ended") {
                Ok(m) => return m,
                Err(e) => {
                    assert!(
                        e.is_timeout() || e.jetstream_error().is_some_and(|e| e.code == 503),
                        "{e:?}"
                    );
                    late_errors.push(e.to_string());
                }
            }
        }
    })
    .await
    .expect("messages() did not resume once the consumer was back");
    eprintln!("errors after the consumer was back: {late_errors:?}");
    // The recreated consumer starts from the beginning: the stream (on file) kept both.
    let info = msg.info().unwrap();
    assert_eq!((info.stream_sequence, info.consumer_sequence), (1, 1));
    msg.ack().await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(10), messages.next())
        .await
        .expect("the second message did not come")
        .unwrap()
        .unwrap();
    assert_eq!(second.info().unwrap().stream_sequence, 2);
}

/// Waits (at most 10 s) until consumer `name` counts `n` messages pending. The consumer
/// learns of new messages asynchronously, after their publishes are acknowledged: a no-wait
/// fetch sent before that finds nothing (seen once on a loaded machine).
async fn wait_pending(stream: &rnats::jetstream::stream::Stream, name: &str, n: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stream.consumer_info(name).await.unwrap().num_pending != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} messages never pending for {name}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
