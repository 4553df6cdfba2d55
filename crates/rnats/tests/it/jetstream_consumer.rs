//! JetStream consumers against a real nats-server: management, pulls, acks.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use rnats::jetstream::consumer::{self, pull, AckPolicy, PullConsumer};
use rnats::jetstream::{self, stream, Context};
use rnats_test::NatsServer;

use crate::jetstream::{js_server, memory_stream, with, within};

async fn publish_n(js: &Context, subject: &str, n: usize) {
    let mut acks = Vec::with_capacity(n);
    for i in 0..n {
        acks.push(
            js.publish(subject.to_owned(), format!("{i}"))
                .await
                .unwrap(),
        );
    }
    for ack in acks {
        ack.await.unwrap();
    }
}

async fn stream_with(js: &Context, name: &str, subjects: &[&str]) -> stream::Stream {
    js.create_stream(memory_stream(name, subjects))
        .await
        .unwrap()
}

/// Every message of a batch, failing the test on an error.
async fn drain(batch: pull::Batch) -> Vec<jetstream::Message> {
    tokio::time::timeout(Duration::from_secs(40), batch.try_collect())
        .await
        .expect("the batch did not end")
        .unwrap()
}

/// Exactly `n` messages from a pull waiting up to 10 s for them. (A no-wait fetch right
/// after publishing can come back short: the server's consumer learns of new messages
/// asynchronously.)
async fn fetch_exact(consumer: &PullConsumer, n: usize) -> Vec<jetstream::Message> {
    let got = drain(
        consumer
            .batch()
            .max_messages(n)
            .expires(Duration::from_secs(10))
            .messages()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got.len(), n, "a pull of {n} within 10 s");
    got
}

#[tokio::test]
async fn consumer_create_update_get_delete_list() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "C", &["c.>"]).await;
    let mut config = pull::Config::durable("dur");
    config.filter_subject = "c.a".into();
    config.max_ack_pending = 10;
    let consumer: PullConsumer = stream.create_consumer(config.clone()).await.unwrap();
    assert_eq!(consumer.name(), "dur");
    assert_eq!(consumer.stream_name(), "C");
    assert_eq!(consumer.cached_info().config.max_ack_pending, 10);
    assert_eq!(consumer.config().filter_subject, "c.a");
    assert!(
        consumer.cached_info().extra.is_empty(),
        "{:?}",
        consumer.cached_info().extra
    );
    assert!(js.account_info().await.unwrap().extra.is_empty());
    // The same configuration again is fine; another one is refused.
    stream.create_consumer(config.clone()).await.unwrap();
    let err = stream
        .create_consumer(with(config.clone(), |c| c.max_ack_pending = 20))
        .await
        .unwrap_err();
    assert!(err.is_consumer_already_exists(), "{err:?}");

    let updated = stream
        .update_consumer(with(config.clone(), |c| c.max_ack_pending = 20))
        .await
        .unwrap();
    assert_eq!(updated.cached_info().config.max_ack_pending, 20);
    let err = stream
        .update_consumer(pull::Config::durable("missing"))
        .await
        .unwrap_err();
    assert!(err.is_consumer_not_found(), "{err:?}");
    let upserted = stream
        .create_or_update_consumer(pull::Config::durable("up"))
        .await
        .unwrap();
    assert_eq!(upserted.name(), "up");
    stream
        .create_or_update_consumer(with(pull::Config::durable("up"), |c| {
            c.description = Some("changed".into())
        }))
        .await
        .unwrap();

    // Several filters, an ephemeral with a generated name.
    let multi = stream
        .create_consumer(with(pull::Config::durable("multi"), |c| {
            c.filter_subjects = vec!["c.a".into(), "c.b".into()];
        }))
        .await
        .unwrap();
    assert_eq!(multi.cached_info().config.filter_subjects, ["c.a", "c.b"]);
    let ephemeral = stream
        .create_consumer(pull::Config::ephemeral())
        .await
        .unwrap();
    assert!(!ephemeral.name().is_empty());
    assert!(ephemeral.cached_info().config.durable_name.is_none());

    let mut got: PullConsumer = stream.get_consumer("dur").await.unwrap();
    assert_eq!(got.info().await.unwrap().config.max_ack_pending, 20);
    let mut names: Vec<String> = stream.consumer_names().try_collect().await.unwrap();
    names.sort();
    let mut expected = vec![
        "dur".to_string(),
        "multi".into(),
        "up".into(),
        ephemeral.name().to_owned(),
    ];
    expected.sort();
    assert_eq!(names, expected);
    let infos: Vec<consumer::Info> = stream.consumers().try_collect().await.unwrap();
    assert_eq!(infos.len(), 4);
    let same: PullConsumer = js.get_consumer_from_stream("dur", "C").await.unwrap();
    assert_eq!(same.name(), "dur");

    stream.delete_consumer("dur").await.unwrap();
    let err = stream.consumer_info("dur").await.unwrap_err();
    assert!(err.is_consumer_not_found(), "{err:?}");
    let api = err.jetstream_error().unwrap();
    assert_eq!(
        (api.code, api.err_code),
        (404, jetstream::ErrorCode::CONSUMER_NOT_FOUND)
    );
    js.delete_consumer_from_stream("up", "C").await.unwrap();
    assert!(stream
        .delete_consumer("up")
        .await
        .unwrap_err()
        .is_consumer_not_found());

    // A push consumer cannot be had as a pull consumer.
    let mut push = consumer::Config::default();
    push.durable_name = Some("push".into());
    push.deliver_subject = Some("deliver.here".into());
    stream.create_consumer(push).await.unwrap();
    let err = stream
        .get_consumer::<pull::Config>("push")
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
}

#[tokio::test]
async fn consumer_pause_and_resume() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "PAUSE", &["pause"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("p"))
        .await
        .unwrap();
    publish_n(&js, "pause", 3).await;
    let until = time::OffsetDateTime::now_utc() + Duration::from_secs(60);
    let paused = stream.pause_consumer("p", until).await.unwrap();
    assert!(paused.paused);
    assert!(paused.pause_remaining.unwrap() > Duration::from_secs(50));
    let info = stream.consumer_info("p").await.unwrap();
    assert!(info.paused);
    // A paused consumer delivers nothing.
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
    assert!(got.is_empty());
    let resumed = stream.resume_consumer("p").await.unwrap();
    assert!(!resumed.paused);
    let got = fetch_exact(&consumer, 3).await;
    assert_eq!(got.len(), 3);
    // pause_until in the configuration pauses from creation.
    let created = stream
        .create_consumer(with(pull::Config::durable("born_paused"), |c| {
            c.pause_until = Some(until)
        }))
        .await
        .unwrap();
    assert!(created.cached_info().paused);
}

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
    // The consumer learns of new messages asynchronously: once it counts them pending, a
    // no-wait fetch gets them all.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stream.consumer_info("f").await.unwrap().num_pending != 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "5 messages never pending"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
    let consumer: PullConsumer = stream
        .create_consumer(with(pull::Config::durable("b"), |c| {
            c.ack_policy = AckPolicy::None
        }))
        .await
        .unwrap();
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
    let consumer: PullConsumer = stream
        .create_consumer(with(pull::Config::durable("mb"), |c| {
            c.ack_policy = AckPolicy::None
        }))
        .await
        .unwrap();
    for _ in 0..10 {
        js.publish("mb", vec![b'x'; 100])
            .await
            .unwrap()
            .await
            .unwrap();
    }
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
    let consumer: PullConsumer = stream
        .create_consumer(with(pull::Config::durable("c"), |c| {
            c.ack_policy = AckPolicy::None
        }))
        .await
        .unwrap();
    for _ in 0..300 {
        js.publish("mbb", vec![b'y'; 1000])
            .await
            .unwrap()
            .await
            .unwrap();
    }
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
async fn ack_variants_are_observed_by_the_server() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "ACK", &["ack"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(with(pull::Config::durable("a"), |c| {
            c.ack_wait = Duration::from_secs(2)
        }))
        .await
        .unwrap();
    publish_n(&js, "ack", 5).await;
    let got = fetch_exact(&consumer, 5).await;
    assert_eq!(got.len(), 5);
    let info = stream.consumer_info("a").await.unwrap();
    assert_eq!(info.num_ack_pending, 5);

    got[0].double_ack().await.unwrap(); // confirmed: the server has it now
    assert_eq!(stream.consumer_info("a").await.unwrap().num_ack_pending, 4);
    assert_eq!(
        stream
            .consumer_info("a")
            .await
            .unwrap()
            .ack_floor
            .stream_sequence,
        1
    );
    got[1].nak().await.unwrap();
    got[2]
        .nak_with_delay(Duration::from_secs(30))
        .await
        .unwrap();
    got[3].term_with_reason("bad input").await.unwrap();
    got[4].in_progress().await.unwrap();
    js.client().flush().await.unwrap();

    // The nak'd message comes back at once, delivered twice; the delayed one does not.
    let again = drain(
        consumer
            .batch()
            .max_messages(5)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .unwrap(),
    )
    .await;
    let seqs: Vec<(u64, u64)> = again
        .iter()
        .map(|m| {
            let i = m.info().unwrap();
            (i.stream_sequence, i.delivered)
        })
        .collect();
    assert_eq!(seqs, [(2, 2)], "only the nak'd message is redelivered now");
    again[0].term().await.unwrap();
    // (That in_progress holds off redelivery past the ack wait is proven by
    // in_progress_holds_off_redelivery_past_the_ack_wait.) Acking message 5 leaves only the
    // delayed nak pending.
    got[4].ack().await.unwrap();
    js.client().flush().await.unwrap();
    let info = stream.consumer_info("a").await.unwrap();
    assert_eq!(info.num_ack_pending, 1, "{info:?}");
    // Six deliveries: five messages and the redelivery of the nak'd one.
    assert_eq!(info.delivered.consumer_sequence, 6, "{info:?}");
    assert_eq!(info.ack_floor.stream_sequence, 2, "{info:?}");
}

#[tokio::test]
async fn message_info_reads_the_reply_subject() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "INFO", &["info.>"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("i"))
        .await
        .unwrap();
    publish_n(&js, "info.x", 3).await;
    let before = time::OffsetDateTime::now_utc();
    let got = fetch_exact(&consumer, 2).await;
    let i = got[1].info().unwrap();
    assert_eq!((i.stream, i.consumer), ("INFO", "i"));
    assert_eq!(
        (i.stream_sequence, i.consumer_sequence, i.delivered),
        (2, 2, 1)
    );
    assert_eq!(i.pending, 1);
    assert!(i.published <= before && before - i.published < time::Duration::seconds(10));
    assert_eq!(i.domain, None);
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
async fn work_queue_retention_removes_acked_messages() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let mut config = memory_stream("WQ", &["wq.>"]);
    config.retention = stream::RetentionPolicy::WorkQueue;
    let mut stream = js.create_stream(config).await.unwrap();
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("worker"))
        .await
        .unwrap();
    publish_n(&js, "wq.job", 10).await;
    let got = fetch_exact(&consumer, 10).await;
    assert_eq!(got.len(), 10);
    for m in &got {
        m.double_ack().await.unwrap();
    }
    // The server confirms an ack before it removes the message: wait for the removal.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while stream.info().await.unwrap().state.messages != 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "acked work stayed in the queue"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // A work queue takes one consumer per subject: a second unfiltered one is refused.
    let err = stream
        .create_consumer(pull::Config::durable("second"))
        .await
        .unwrap_err();
    let api = err.jetstream_error().expect("a JetStream API error");
    assert_eq!(
        (api.code, api.err_code),
        (400, jetstream::ErrorCode(10099)),
        "{err:?}"
    );
}

#[tokio::test]
async fn max_ack_pending_is_respected() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "MAP", &["map"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(with(pull::Config::durable("map"), |c| {
            c.max_ack_pending = 5
        }))
        .await
        .unwrap();
    publish_n(&js, "map", 20).await;
    let mut messages = consumer.messages().await.unwrap();
    let mut held = Vec::new();
    for i in 0..5 {
        let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .unwrap_or_else(|_| panic!("message {i} of the first 5 did not come"))
            .unwrap()
            .unwrap();
        held.push(m);
    }
    // The server has 15 more, and pulls waiting: none comes while 5 are unacknowledged.
    let sixth = tokio::time::timeout(Duration::from_secs(1), messages.next()).await;
    assert!(
        sixth.is_err(),
        "max_ack_pending 5 let a 6th through: {sixth:?}"
    );
    let info = stream.consumer_info("map").await.unwrap();
    assert_eq!(
        (info.num_ack_pending, info.num_pending),
        (5, 15),
        "{info:?}"
    );
    for m in held.drain(..) {
        m.ack().await.unwrap();
    }
    let more = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .expect("acks did not free the consumer")
        .unwrap()
        .unwrap();
    assert_eq!(more.info().unwrap().stream_sequence, 6);
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
    let server = NatsServer::start_jetstream();
    let client = rnats::ConnectOptions::new()
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .connect(server.url())
        .await
        .unwrap();
    let js = jetstream::new(client);
    let mut config = stream::Config::new("DURABLE");
    config.subjects = vec!["durable".into()];
    let stream = js.create_stream(config).await.unwrap();
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
    let api = err.jetstream_error().expect("a JetStream API error");
    assert_eq!(
        (api.code, api.err_code),
        (400, jetstream::ErrorCode(10160)),
        "{err:?}"
    );
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

/// Reads `n` messages from an ordered consumer, checking they are the stream sequences
/// `from..from + n` in order; calls `meanwhile(i)` before reading the i-th.
async fn read_ordered(
    messages: &mut consumer::Ordered,
    from: u64,
    n: u64,
    mut meanwhile: impl FnMut(u64),
) {
    for i in 0..n {
        meanwhile(i);
        let msg = tokio::time::timeout(Duration::from_secs(20), messages.next())
            .await
            .unwrap_or_else(|_| panic!("ordered consumer stalled at message {i}"))
            .expect("ordered consumer ended")
            .unwrap();
        assert_eq!(msg.info().unwrap().stream_sequence, from + i);
    }
}

#[tokio::test]
async fn ordered_consumer_recovers_from_deletion_in_order() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "ORD", &["ord.>"]).await;
    publish_n(&js, "ord.a", 500).await;
    let mut messages = stream
        .ordered_messages(consumer::OrderedConfig::default())
        .await
        .unwrap();
    read_ordered(&mut messages, 1, 200, |_| {}).await;
    let names: Vec<String> = stream.consumer_names().try_collect().await.unwrap();
    assert_eq!(names.len(), 1);
    let info = stream.consumer_info(&names[0]).await.unwrap();
    assert_eq!(info.config.ack_policy, AckPolicy::None);
    assert!(info.config.mem_storage);
    assert_eq!(messages.resets(), 0);
    stream.delete_consumer(&names[0]).await.unwrap();
    read_ordered(&mut messages, 201, 300, |_| {}).await;
    // New messages keep coming, from the recreated consumer.
    publish_n(&js, "ord.b", 10).await;
    read_ordered(&mut messages, 501, 10, |_| {}).await;
    // Recreated once, under the next name; the deleted one is not back.
    assert_eq!(messages.resets(), 1);
    let (prefix, serial) = names[0].rsplit_once('_').unwrap();
    assert_eq!(serial, "1");
    assert_eq!(consumer_names(&stream).await, [format!("{prefix}_2")]);
}

#[tokio::test]
async fn ordered_consumer_filters_and_starts_where_asked() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "ORDF", &["ordf.>"]).await;
    for i in 0..20 {
        let subject = if i % 2 == 0 { "ordf.even" } else { "ordf.odd" };
        js.publish(subject, format!("{i}"))
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mut config = consumer::OrderedConfig::default();
    config.filter_subjects = vec!["ordf.odd".into()];
    config.deliver_policy = consumer::DeliverPolicy::ByStartSequence;
    config.opt_start_seq = Some(10);
    let mut messages = stream.ordered_messages(config).await.unwrap();
    let mut seqs = Vec::new();
    for _ in 0..6 {
        let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(m.subject, "ordf.odd");
        seqs.push(m.info().unwrap().stream_sequence);
    }
    assert_eq!(seqs, [10, 12, 14, 16, 18, 20]);
    let mut config = consumer::OrderedConfig::default();
    config.filter_subjects = vec!["ordf.odd".into(), "ordf.even".into()];
    config.deliver_policy = consumer::DeliverPolicy::Last;
    let mut last = stream.ordered_messages(config).await.unwrap();
    let m = within(10, "the last message", last.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(m.info().unwrap().stream_sequence, 20);
    // Last per subject without filters: every subject's last message.
    let mut config = consumer::OrderedConfig::default();
    config.deliver_policy = consumer::DeliverPolicy::LastPerSubject;
    let mut per_subject = stream.ordered_messages(config).await.unwrap();
    let a = within(10, "a last per subject", per_subject.next())
        .await
        .unwrap()
        .unwrap();
    let b = within(10, "a last per subject", per_subject.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            a.info().unwrap().stream_sequence,
            b.info().unwrap().stream_sequence
        ),
        (19, 20)
    );
}

#[tokio::test]
async fn ordered_consumer_survives_a_server_restart() {
    let _shared = crate::shared().await;
    let server = NatsServer::start_jetstream();
    let client = rnats::ConnectOptions::new()
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .connect(server.url())
        .await
        .unwrap();
    let js = jetstream::new(client);
    let mut config = stream::Config::new("ORDR");
    config.subjects = vec!["ordr".into()];
    let stream = js.create_stream(config).await.unwrap();
    publish_n(&js, "ordr", 1000).await;
    let mut messages = stream
        .ordered_messages(consumer::OrderedConfig::default())
        .await
        .unwrap();
    read_ordered(&mut messages, 1, 1000, |i| {
        if i == 400 {
            server.restart(); // SIGKILL: the memory consumer is gone with it
        }
    })
    .await;
    // (Attempts while the server restarts count too: how many is not fixed.)
    assert!(
        messages.resets() >= 1,
        "the lost consumer was never recreated"
    );
}

#[tokio::test]
async fn push_consumer_delivers_and_shares_a_deliver_group() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "PUSH", &["push.>"]).await;
    let mut config = consumer::push::Config::new("deliver.push");
    config.durable_name = Some("p".into());
    let consumer: consumer::PushConsumer = stream.create_consumer(config).await.unwrap();
    let mut messages = consumer.messages().await.unwrap();
    publish_n(&js, "push.a", 10).await;
    for i in 0..10 {
        let m = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        assert_eq!(m.info().unwrap().stream_sequence, i + 1);
        m.ack().await.unwrap();
    }
    js.client().flush().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while stream.consumer_info("p").await.unwrap().num_ack_pending != 0 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let same: consumer::PushConsumer = stream.get_consumer("p").await.unwrap();
    assert_eq!(same.config().deliver_subject, "deliver.push");
    let err = stream.get_consumer::<pull::Config>("p").await.unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");

    // A deliver group: each message goes to one of the members.
    let mut config = consumer::push::Config::new("deliver.group");
    config.durable_name = Some("g".into());
    config.deliver_group = Some("workers".into());
    config.filter_subject = "push.b".into();
    let grouped: consumer::PushConsumer = stream.create_consumer(config).await.unwrap();
    let mut a = grouped.messages().await.unwrap();
    let mut b = grouped.messages().await.unwrap();
    js.client().flush().await.unwrap();
    publish_n(&js, "push.b", 100).await;
    let mut seqs = BTreeSet::new();
    let (mut from_a, mut from_b) = (0, 0);
    while seqs.len() < 100 {
        let m = tokio::select! {
            Some(m) = a.next() => { from_a += 1; m }
            Some(m) = b.next() => { from_b += 1; m }
            _ = tokio::time::sleep(Duration::from_secs(5)) => panic!("group delivery stalled"),
        };
        let m = m.unwrap();
        assert!(
            seqs.insert(m.info().unwrap().stream_sequence),
            "delivered twice"
        );
        m.ack().await.unwrap();
    }
    // Shared: both members got some (all 100 to one would be a 1 in 2^99 chance).
    assert!(from_a > 0 && from_b > 0, "a {from_a}, b {from_b}");
}

#[tokio::test]
async fn push_consumer_answers_flow_control() {
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let stream = stream_with(&js, "FC", &["fc"]).await;
    let mut config = consumer::push::Config::new("deliver.fc");
    config.durable_name = Some("fc".into());
    config.ack_policy = AckPolicy::None;
    config.flow_control = true;
    // (The server wants heartbeats with flow control; missing them is tested elsewhere.)
    config.idle_heartbeat = Duration::from_secs(5);
    let consumer: consumer::PushConsumer = stream.create_consumer(config).await.unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let snoop = rnats::connect(server.url()).await.unwrap();
    let mut answers = snoop.subscribe("$JS.FC.FC.fc.>").await.unwrap();
    snoop.flush().await.unwrap();
    // Enough data for the server to ask for flow control several times: unanswered, it
    // would stop delivering.
    let payload = vec![b'z'; 16 * 1024];
    let mut acks = Vec::new();
    for _ in 0..2000 {
        acks.push(js.publish("fc", payload.clone()).await.unwrap());
    }
    for ack in acks {
        ack.await.unwrap();
    }
    for i in 0..2000 {
        tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .unwrap_or_else(|_| panic!("push delivery stalled at {i}: flow control unanswered?"))
            .unwrap()
            .unwrap();
    }
    // The answers went out as empty messages (how many the server asked for is its choice).
    snoop.flush().await.unwrap();
    let first = next_within(&mut answers, 5, "a flow-control answer").await;
    assert!(
        first.payload.is_empty() && first.headers.is_none(),
        "{first:?}"
    );
    let info = stream.consumer_info("fc").await.unwrap();
    assert_eq!(info.delivered.stream_sequence, 2000);
}

#[tokio::test]
async fn messages_wait_out_a_consumer_that_is_gone_and_resume_when_it_is_back() {
    let _shared = crate::shared().await;
    let server = NatsServer::start_jetstream();
    let client = rnats::ConnectOptions::new()
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .connect(server.url())
        .await
        .unwrap();
    let js = jetstream::new(client);
    let mut config = stream::Config::new("BACK");
    config.subjects = vec!["back".into()];
    let stream = js.create_stream(config).await.unwrap();
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

#[tokio::test]
async fn max_deliver_backoff_and_ack_all() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "RED", &["red.>"]).await;
    // Redelivered once after 300 ms without an ack, then never again (max_deliver 2).
    let consumer: PullConsumer = stream
        .create_consumer(with(pull::Config::durable("r"), |c| {
            c.max_deliver = 2;
            c.backoff = vec![Duration::from_millis(300)];
            c.filter_subject = "red.a".into();
        }))
        .await
        .unwrap();
    assert_eq!(
        consumer.cached_info().config.backoff,
        [Duration::from_millis(300)]
    );
    publish_n(&js, "red.a", 1).await;
    let started = tokio::time::Instant::now();
    let mut deliveries = Vec::new();
    let mut messages = consumer.messages().await.unwrap();
    for i in 0..2 {
        let m = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .unwrap_or_else(|_| panic!("delivery {i} did not come: {deliveries:?}"))
            .unwrap()
            .unwrap();
        deliveries.push((m.info().unwrap().delivered, started.elapsed()));
    }
    // Not a third time (a redelivery would come 300 ms after the second).
    let third = tokio::time::timeout(Duration::from_millis(1500), messages.next()).await;
    assert!(third.is_err(), "delivered beyond max_deliver: {third:?}");
    let info = stream.consumer_info("r").await.unwrap();
    assert_eq!(info.num_ack_pending, 0, "{info:?}");
    assert_eq!(info.delivered.consumer_sequence, 2, "{info:?}");
    assert_eq!((deliveries[0].0, deliveries[1].0), (1, 2));
    assert!(
        deliveries[1].1 >= Duration::from_millis(250),
        "{deliveries:?}"
    );

    // Ack all: acknowledging the 3rd acknowledges the first two.
    let all: PullConsumer = stream
        .create_consumer(with(pull::Config::durable("all"), |c| {
            c.ack_policy = AckPolicy::All;
            c.filter_subject = "red.b".into();
        }))
        .await
        .unwrap();
    publish_n(&js, "red.b", 3).await;
    let got = fetch_exact(&all, 3).await;
    assert_eq!(got.len(), 3);
    got[2].double_ack().await.unwrap();
    let info = stream.consumer_info("all").await.unwrap();
    assert_eq!(info.num_ack_pending, 0, "{info:?}");
    assert_eq!(info.ack_floor.stream_sequence, 4);
}

#[tokio::test]
async fn huge_durations_are_errors_or_work_never_panics() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "HUGE", &["huge"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("h"))
        .await
        .unwrap();
    let err = consumer
        .stream()
        .heartbeat(Duration::MAX)
        .messages()
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
    publish_n(&js, "huge", 1).await;
    // The client neither panics nor overflows; nats-server 2.15.1 takes the pull and, a
    // message being there, the no-wait fetch ends with it.
    let batch = consumer
        .fetch()
        .expires(Duration::MAX)
        .heartbeat(Duration::from_secs(u64::MAX / 4))
        .messages()
        .await
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), batch.collect::<Vec<_>>())
        .await
        .expect("the fetch with huge durations did not end");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].as_ref().unwrap().payload, "0");
    let err = js
        .publish_with("huge", jetstream::Publish::new().ttl(Duration::MAX))
        .await
        .unwrap()
        .await;
    assert!(err.is_err(), "a TTL of Duration::MAX was accepted: {err:?}");
}

#[tokio::test]
async fn ordered_consumer_gives_up_with_a_clear_error() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "BYE", &["bye"]).await;
    publish_n(&js, "bye", 3).await;
    let mut config = consumer::OrderedConfig::default();
    config.max_reset_attempts = 3;
    config.heartbeat = Duration::from_millis(500);
    let mut messages = stream.ordered_messages(config).await.unwrap();
    for _ in 0..3 {
        within(10, "an ordered message", messages.next())
            .await
            .unwrap()
            .unwrap();
    }
    // Without its stream the consumer cannot be recreated.
    js.delete_stream("BYE").await.unwrap();
    let started = tokio::time::Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(15), messages.next())
        .await
        .expect("the ordered consumer neither recovered nor gave up")
        .expect("ended without saying why")
        .unwrap_err();
    assert!(err.to_string().contains("gave up after 3"), "{err}");
    let cause = std::error::Error::source(&err)
        .and_then(|c| c.downcast_ref::<rnats::Error>())
        .expect("the last failure as cause");
    assert!(cause.is_stream_not_found(), "{cause:?}");
    assert!(within(5, "the end", messages.next()).await.is_none());
    eprintln!("gave up after {:?}: {err}: {cause}", started.elapsed());
}

#[tokio::test]
async fn mirrors_and_sources_with_a_subject_transform_replicate() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    stream_with(&js, "ORIGIN", &["orig.>"]).await;
    publish_n(&js, "orig.a", 3).await;
    publish_n(&js, "orig.b", 2).await;
    let mut mirror = stream::Config::new("MIRROR");
    mirror.storage = stream::StorageType::Memory;
    mirror.mirror = Some(stream::Source::new("ORIGIN"));
    let mut mirror = js.create_stream(mirror).await.unwrap();
    let mut source = stream::Source::new("ORIGIN");
    source.subject_transforms = vec![stream::SubjectTransform::new("orig.a", "copied.a")];
    let mut sourced = stream::Config::new("SOURCED");
    sourced.storage = stream::StorageType::Memory;
    sourced.sources = vec![source];
    let mut sourced = js.create_stream(sourced).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let m = mirror.info().await.unwrap().state.messages;
        let s = sourced.info().await.unwrap().state.messages;
        if m == 5 && s == 3 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "mirror {m}, sourced {s}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let last = sourced
        .get_last_raw_message_by_subject("copied.a")
        .await
        .unwrap();
    assert_eq!(last.payload, "2");
    let info = mirror.cached_info();
    assert_eq!(info.mirror.as_ref().unwrap().name, "ORIGIN");
    assert_eq!(sourced.cached_info().sources[0].name, "ORIGIN");
}

#[tokio::test]
async fn every_deliver_policy_starts_where_it_says() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "DP", &["dp.>"]).await;
    // dp.a: 1 3 5, dp.b: 2 4 6
    for i in 0..6 {
        let subject = if i % 2 == 0 { "dp.a" } else { "dp.b" };
        js.publish(subject, format!("{i}"))
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let middle = stream.get_raw_message(4).await.unwrap().time;
    let first_seqs = |policy: consumer::DeliverPolicy, change: fn(&mut pull::Config)| {
        let stream = stream.clone();
        async move {
            let mut config = pull::Config::ephemeral();
            config.deliver_policy = policy;
            config.ack_policy = AckPolicy::None;
            change(&mut config);
            let c: PullConsumer = stream.create_consumer(config).await.unwrap();
            drain(c.fetch().max_messages(10).messages().await.unwrap())
                .await
                .iter()
                .map(|m| m.info().unwrap().stream_sequence)
                .collect::<Vec<_>>()
        }
    };
    use consumer::DeliverPolicy as P;
    assert_eq!(first_seqs(P::All, |_| {}).await, [1, 2, 3, 4, 5, 6]);
    assert_eq!(first_seqs(P::Last, |_| {}).await, [6]);
    assert_eq!(first_seqs(P::New, |_| {}).await, Vec::<u64>::new());
    assert_eq!(
        first_seqs(P::ByStartSequence, |c| c.opt_start_seq = Some(5)).await,
        [5, 6]
    );
    // (The server wants a filter with last-per-subject.)
    assert_eq!(
        first_seqs(P::LastPerSubject, |c| c.filter_subject = "dp.>".into()).await,
        [5, 6]
    );
    let mut config = pull::Config::ephemeral();
    config.deliver_policy = P::ByStartTime;
    config.opt_start_time = Some(middle);
    let c: PullConsumer = stream.create_consumer(config).await.unwrap();
    let got = drain(c.fetch().max_messages(10).messages().await.unwrap()).await;
    assert_eq!(
        got.first().map(|m| m.info().unwrap().stream_sequence),
        Some(4)
    );
}

#[tokio::test]
async fn replay_original_inactive_threshold_and_metadata() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "RP", &["rp"]).await;
    for i in 0..3 {
        js.publish("rp", format!("{i}"))
            .await
            .unwrap()
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Original replay spaces the deliveries as the messages were stored.
    let mut config = pull::Config::ephemeral();
    config.replay_policy = consumer::ReplayPolicy::Original;
    config.metadata = [("owner".to_string(), "billing".to_string())].into();
    config.inactive_threshold = Duration::from_secs(1);
    let c: PullConsumer = stream.create_consumer(config).await.unwrap();
    assert_eq!(
        c.cached_info()
            .config
            .metadata
            .get("owner")
            .map(String::as_str),
        Some("billing")
    );
    assert_eq!(
        c.cached_info().config.inactive_threshold,
        Duration::from_secs(1)
    );
    let started = tokio::time::Instant::now();
    let got = drain(
        c.batch()
            .max_messages(3)
            .expires(Duration::from_secs(3))
            .messages()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got.len(), 3);
    for m in &got {
        m.double_ack().await.unwrap();
    }
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "original replay delivered 3 messages stored 300 ms apart in {:?}",
        started.elapsed()
    );
    // Unused for its inactive threshold, the ephemeral consumer is deleted by the server.
    let name = c.name().to_owned();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match stream.consumer_info(&name).await {
            Err(e) if e.is_consumer_not_found() => break,
            Ok(_) => {}
            Err(e) => panic!("{e:?}"),
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the idle consumer stayed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
async fn consumer_reset_rewinds_delivery() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "RESET", &["reset"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("r"))
        .await
        .unwrap();
    publish_n(&js, "reset", 5).await;
    for m in fetch_exact(&consumer, 5).await {
        m.double_ack().await.unwrap();
    }
    let info = stream.reset_consumer("r", Some(2)).await.unwrap();
    assert_eq!(info.name, "r");
    let again = fetch_exact(&consumer, 4).await;
    let seqs: Vec<u64> = again
        .iter()
        .map(|m| m.info().unwrap().stream_sequence)
        .collect();
    assert_eq!(seqs, [2, 3, 4, 5]);
    // (nats-server 2.15.1 does not answer a reset of a consumer that does not exist: the
    // request times out, so that case is not exercised here.)
}

/// Waits up to `secs` for the next message of a raw subscription.
async fn next_within(sub: &mut rnats::Subscriber, secs: u64, what: &str) -> rnats::Message {
    tokio::time::timeout(Duration::from_secs(secs), sub.next())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|| panic!("the subscription ended waiting for {what}"))
}

#[tokio::test]
async fn every_ack_kind_goes_on_the_wire_as_the_protocol_spells_it() {
    use jetstream::message::AckKind;
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let stream = stream_with(&js, "WIRE", &["wire"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("w"))
        .await
        .unwrap();
    // A second connection sees every acknowledgement the consumer's client sends.
    let snoop = rnats::connect(server.url()).await.unwrap();
    let mut acks = snoop.subscribe("$JS.ACK.WIRE.w.>").await.unwrap();
    snoop.flush().await.unwrap();
    publish_n(&js, "wire", 9).await;
    let got = fetch_exact(&consumer, 9).await;
    assert_eq!(got.len(), 9);
    got[0].ack().await.unwrap();
    got[1].nak().await.unwrap();
    got[2]
        .nak_with_delay(Duration::from_millis(1500))
        .await
        .unwrap();
    got[3].in_progress().await.unwrap();
    got[4].term().await.unwrap();
    got[5].term_with_reason("bad input").await.unwrap();
    got[6].ack_with(AckKind::Next).await.unwrap();
    got[7].double_ack().await.unwrap();
    got[8].ack_with(AckKind::Progress).await.unwrap();
    let expected: [(usize, &str); 9] = [
        (0, "+ACK"),
        (1, "-NAK"),
        (2, "-NAK {\"delay\":1500000000}"),
        (3, "+WPI"),
        (4, "+TERM"),
        (5, "+TERM bad input"),
        (6, "+NXT"),
        (7, "+ACK"),
        (8, "+WPI"),
    ];
    for (i, body) in expected {
        let seen = next_within(&mut acks, 5, &format!("acknowledgement {i}")).await;
        assert_eq!(
            seen.subject.as_str(),
            got[i].reply.as_deref().unwrap(),
            "acknowledgement {i} went elsewhere"
        );
        assert_eq!(
            std::str::from_utf8(&seen.payload).unwrap(),
            body,
            "acknowledgement {i}"
        );
        // Only the double ack is a request (it waits for the server's answer).
        assert_eq!(
            seen.reply.is_some(),
            i == 7,
            "acknowledgement {i}: {seen:?}"
        );
        assert!(seen.headers.is_none(), "acknowledgement {i}: {seen:?}");
    }
}

#[tokio::test]
async fn term_with_reason_reaches_the_servers_advisory() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = stream_with(&js, "TERMR", &["termr"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("t"))
        .await
        .unwrap();
    let mut advisories = js
        .client()
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.TERMR.t")
        .await
        .unwrap();
    js.client().flush().await.unwrap();
    publish_n(&js, "termr", 2).await;
    let got = fetch_exact(&consumer, 2).await;
    got[0].term_with_reason("bad input").await.unwrap();
    got[1].term().await.unwrap();
    for (seq, reason) in [(1, "bad input"), (2, "")] {
        let advisory = next_within(&mut advisories, 5, "a termination advisory").await;
        let v: serde_json::Value = serde_json::from_slice(&advisory.payload).unwrap();
        assert_eq!(v["stream_seq"], seq, "{v}");
        assert_eq!(v["reason"].as_str().unwrap_or_default(), reason, "{v}");
    }
    let info = stream.consumer_info("t").await.unwrap();
    assert_eq!(
        (info.num_ack_pending, info.ack_floor.stream_sequence),
        (0, 2),
        "{info:?}"
    );
}

/// `in_progress` keeps a message from redelivery for as long as it is sent, well past the
/// ack wait; the same message without it is redelivered after the ack wait.
#[tokio::test]
async fn in_progress_holds_off_redelivery_past_the_ack_wait() {
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let stream = stream_with(&js, "WPI", &["wpi.>"]).await;
    const ACK_WAIT: Duration = Duration::from_secs(1);
    let consumer: PullConsumer = stream
        .create_consumer(with(pull::Config::durable("w"), |c| {
            c.ack_wait = ACK_WAIT;
            c.filter_subject = "wpi.held".into();
        }))
        .await
        .unwrap();
    let snoop = rnats::connect(server.url()).await.unwrap();
    let mut wire = snoop.subscribe("$JS.ACK.WPI.w.>").await.unwrap();
    snoop.flush().await.unwrap();
    publish_n(&js, "wpi.held", 1).await;
    let held = fetch_exact(&consumer, 1).await;
    assert_eq!(held.len(), 1);
    // A pull waiting all along would get a redelivery, if there were one.
    let watcher = consumer
        .batch()
        .max_messages(1)
        .expires(Duration::from_secs(4))
        .messages()
        .await
        .unwrap();
    let watcher = tokio::spawn(drain(watcher));
    // 3 s of work, more than twice the ack wait, reporting progress every 300 ms.
    let started = tokio::time::Instant::now();
    let mut sent = 0;
    while started.elapsed() < ACK_WAIT * 3 {
        held[0].in_progress().await.unwrap();
        sent += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let info = stream.consumer_info("w").await.unwrap();
    assert_eq!(
        (info.num_redelivered, info.num_ack_pending),
        (0, 1),
        "{info:?}"
    );
    held[0].double_ack().await.unwrap();
    let redelivered = tokio::time::timeout(Duration::from_secs(10), watcher)
        .await
        .expect("the watching pull did not end")
        .unwrap();
    assert!(
        redelivered.is_empty(),
        "redelivered despite in_progress: {:?}",
        redelivered
            .iter()
            .map(|m| m.info().unwrap().delivered)
            .collect::<Vec<_>>()
    );
    let info = stream.consumer_info("w").await.unwrap();
    assert_eq!(
        (
            info.num_redelivered,
            info.num_ack_pending,
            info.ack_floor.stream_sequence
        ),
        (0, 0, 1),
        "{info:?}"
    );
    // Every progress report was on the wire as +WPI, then the ack.
    for i in 0..sent {
        let m = next_within(&mut wire, 5, &format!("progress report {i}")).await;
        assert_eq!(m.payload, "+WPI", "report {i}");
    }
    assert_eq!(next_within(&mut wire, 5, "the ack").await.payload, "+ACK");

    // The control: without progress reports the same consumer redelivers after the ack wait.
    publish_n(&js, "wpi.held", 1).await;
    let first = fetch_exact(&consumer, 1).await;
    assert_eq!(first[0].info().unwrap().delivered, 1);
    let again = drain(
        consumer
            .batch()
            .max_messages(1)
            .expires(Duration::from_secs(10))
            .messages()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(again.len(), 1, "not redelivered after the ack wait");
    let info = again[0].info().unwrap();
    assert_eq!((info.stream_sequence, info.delivered), (2, 2));
    again[0].double_ack().await.unwrap();
}

/// A durable push consumer `name` of `stream` delivering to `deliver`, with idle heartbeats.
async fn push_with_heartbeat(
    stream: &stream::Stream,
    name: &str,
    deliver: &str,
    heartbeat: Duration,
) -> consumer::PushConsumer {
    let mut config = consumer::push::Config::new(deliver);
    config.durable_name = Some(name.into());
    config.idle_heartbeat = heartbeat;
    stream.create_consumer(config).await.unwrap()
}

#[tokio::test]
async fn push_consumer_reports_missed_heartbeats_and_goes_on() {
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let stream = stream_with(&js, "PHB", &["phb"]).await;
    const HB: Duration = Duration::from_secs(1);
    let consumer = push_with_heartbeat(&stream, "p", "deliver.phb", HB).await;
    let mut messages = consumer.messages().await.unwrap();
    // Idle for more than twice the miss window: the heartbeats keep it quiet.
    assert!(
        tokio::time::timeout(HB * 5, messages.next()).await.is_err(),
        "an idle push consumer with heartbeats yielded something"
    );
    // A frozen server sends no heartbeats: after two intervals the stream says so.
    server.pause();
    let paused_at = tokio::time::Instant::now();
    let item = tokio::time::timeout(Duration::from_secs(10), messages.next()).await;
    let waited = paused_at.elapsed();
    server.resume();
    let err = item
        .expect("no missed-heartbeat error from a frozen server")
        .expect("the stream ended")
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        err.to_string()
            .contains("no heartbeat from push consumer \"p\" for 2s"),
        "{err}"
    );
    // (At most one interval passed since the last heartbeat when the server froze.)
    assert!(
        waited >= HB / 2,
        "reported after {waited:?}, before two heartbeats were missed"
    );
    // Not terminal: delivery goes on once the server is back.
    publish_n(&js, "phb", 1).await;
    let msg = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match messages.next().await.expect("the stream ended") {
                Ok(m) => return m,
                Err(e) => assert!(e.is_timeout(), "{e:?}"),
            }
        }
    })
    .await
    .expect("push delivery did not resume");
    assert_eq!(msg.payload, "0");
    msg.double_ack().await.unwrap();
}

/// Sends `HPUB subject` with a status header block from a raw connection (a client API
/// cannot send a status line): stands in for the server's heartbeats.
async fn raw_hpub(url: &str, subject: &str, header_block: &str) {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let addr = url.trim_start_matches("nats://");
    let sock = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut sock = BufReader::new(sock);
    let mut line = String::new();
    sock.read_line(&mut line).await.unwrap();
    assert!(line.starts_with("INFO "), "{line}");
    let hdr_len = header_block.len();
    let frame = format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}}\r\n\
         HPUB {subject} {hdr_len} {hdr_len}\r\n{header_block}\r\nPING\r\n"
    );
    sock.get_mut().write_all(frame.as_bytes()).await.unwrap();
    line.clear();
    tokio::time::timeout(Duration::from_secs(5), sock.read_line(&mut line))
        .await
        .expect("no PONG from the server")
        .unwrap();
    assert_eq!(line, "PONG\r\n", "the raw publish was refused");
}

/// A heartbeat naming a stalled flow control (`Nats-Consumer-Stalled`) is answered with an
/// empty message to the subject it names, and is not an item of the stream.
#[tokio::test]
async fn push_consumer_answers_a_stalled_heartbeat() {
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let stream = stream_with(&js, "STALL", &["stall"]).await;
    let consumer = push_with_heartbeat(&stream, "s", "deliver.stall", Duration::from_secs(5)).await;
    let mut messages = consumer.messages().await.unwrap();
    js.client().flush().await.unwrap();
    // The answer is sent while the stream is read: a reader hands over its first item.
    let reader = tokio::spawn(async move {
        let first = messages.next().await;
        (first, messages)
    });
    let snoop = rnats::connect(server.url()).await.unwrap();
    let mut answers = snoop.subscribe("stall.answer.>").await.unwrap();
    snoop.flush().await.unwrap();
    raw_hpub(
        &server.url(),
        "deliver.stall",
        "NATS/1.0 100 Idle Heartbeat\r\nNats-Last-Consumer: 0\r\nNats-Last-Stream: 0\r\n\
         Nats-Consumer-Stalled: stall.answer.probe\r\n\r\n",
    )
    .await;
    let answer = next_within(&mut answers, 5, "the answer to the stalled heartbeat").await;
    assert_eq!(answer.subject.as_str(), "stall.answer.probe");
    assert!(answer.payload.is_empty(), "{answer:?}");
    assert!(answer.headers.is_none(), "{answer:?}");
    // The heartbeat itself was no item: the first item is the first message.
    publish_n(&js, "stall", 1).await;
    let (first, _messages) = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("no delivery")
        .unwrap();
    let msg = first.expect("the stream ended").unwrap();
    assert_eq!(msg.info().unwrap().stream_sequence, 1);
}

/// nats-server 2.15 tells a push consumer's deliver subject nothing when the consumer is
/// deleted: its heartbeats stop, so the reader yields missed-heartbeat errors (and does not
/// end), and the consumer is gone. A `409 Consumer Deleted` status, if one arrives, ends it.
#[tokio::test]
async fn push_messages_when_the_consumer_is_deleted() {
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let stream = stream_with(&js, "PGONE", &["pgone"]).await;
    const HB: Duration = Duration::from_secs(1);
    let consumer = push_with_heartbeat(&stream, "g", "deliver.pgone", HB).await;
    let mut messages = consumer.messages().await.unwrap();
    publish_n(&js, "pgone", 1).await;
    let first = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .expect("no delivery")
        .unwrap()
        .unwrap();
    first.double_ack().await.unwrap();
    stream.delete_consumer("g").await.unwrap();
    publish_n(&js, "pgone", 1).await;
    for i in 0..2 {
        let err = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .unwrap_or_else(|_| panic!("nothing from a deleted push consumer ({i})"))
            .expect("the stream ended")
            .unwrap_err();
        assert!(err.is_timeout(), "{err:?}");
        assert!(err.to_string().contains("no heartbeat"), "{err}");
    }
    assert!(stream
        .consumer_info("g")
        .await
        .unwrap_err()
        .is_consumer_not_found());
    // The status the reader treats as terminal, sent as a server would.
    raw_hpub(
        &server.url(),
        "deliver.pgone",
        "NATS/1.0 409 Consumer Deleted\r\n\r\n",
    )
    .await;
    let err = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let err = messages
                .next()
                .await
                .expect("ended without the error")
                .unwrap_err();
            if !err.is_timeout() {
                return err;
            }
        }
    })
    .await
    .expect("the 409 was not reported");
    assert!(err.is_consumer_deleted(), "{err:?}");
    let end = tokio::time::timeout(Duration::from_secs(5), messages.next())
        .await
        .expect("no end after 409 Consumer Deleted");
    assert!(end.is_none(), "{end:?}");
}

/// The names of the stream's consumers, sorted.
async fn consumer_names(stream: &stream::Stream) -> Vec<String> {
    let mut names: Vec<String> = stream.consumer_names().try_collect().await.unwrap();
    names.sort();
    names
}

/// Waits (up to 10 s) until the stream's only consumer is `name`: the ordered consumer's old
/// consumers are deleted in the background.
async fn wait_only_consumer(stream: &stream::Stream, name: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let names = consumer_names(stream).await;
        if names == [name] {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "consumers {names:?}, expected only {name:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A frozen server: the ordered consumer misses its heartbeats, recreates its consumer (a new
/// name) once the server is back, and delivers every sequence once, in order.
#[tokio::test]
async fn ordered_consumer_recovers_from_missed_heartbeats() {
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let stream = stream_with(&js, "ORDHB", &["ordhb"]).await;
    publish_n(&js, "ordhb", 20).await;
    let mut config = consumer::OrderedConfig::default();
    config.heartbeat = Duration::from_millis(500);
    let mut messages = stream.ordered_messages(config).await.unwrap();
    read_ordered(&mut messages, 1, 20, |_| {}).await;
    let before = consumer_names(&stream).await;
    assert_eq!(before.len(), 1, "{before:?}");
    assert_eq!(messages.resets(), 0);
    // Frozen for 4.5 s: the heartbeats are missed after 1 s, and the first attempt to
    // recreate the consumer times out (after 2 s) unanswered; the server creates that
    // consumer once it is back, and the ordered consumer must delete it. The reader waits
    // meanwhile.
    server.pause();
    let paused = tokio::time::timeout(Duration::from_millis(4500), messages.next()).await;
    server.resume();
    assert!(paused.is_err(), "an item from a frozen server: {paused:?}");
    publish_n(&js, "ordhb", 20).await;
    read_ordered(&mut messages, 21, 20, |_| {}).await;
    let resets = messages.resets();
    assert!(resets >= 2, "recreated {resets} times: no failed attempt");
    // (Attempts during the freeze time out and count too: how many is not fixed.)
    let name = format!("{}_{}", before[0].rsplit_once('_').unwrap().0, resets + 1);
    wait_only_consumer(&stream, &name).await;
    eprintln!("recreated {resets} times, now {name}");
    // No message pending: nothing more, and no reset either.
    assert!(
        tokio::time::timeout(Duration::from_secs(2), messages.next())
            .await
            .is_err()
    );
    assert_eq!(messages.resets(), resets);
}

/// A delivery sequence gap, made by the server: another client pulls from the ordered
/// consumer's consumer, taking one delivery. The ordered consumer notices the gap, recreates
/// its consumer from the last stream sequence it delivered, exactly once, and goes on in
/// order with every message. (A forged delivery cannot be injected: the server drops client
/// messages with a `$JS.ACK` reply subject.)
#[tokio::test]
async fn ordered_consumer_resets_on_a_sequence_gap() {
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let stream = stream_with(&js, "ORDGAP", &["ordgap"]).await;
    publish_n(&js, "ordgap", 10).await;
    let mut messages = stream
        .ordered_messages(consumer::OrderedConfig::default())
        .await
        .unwrap();
    read_ordered(&mut messages, 1, 10, |_| {}).await;
    let names = consumer_names(&stream).await;
    assert_eq!(names.len(), 1, "{names:?}");
    let consumer_name = names[0].clone();
    assert_eq!(messages.resets(), 0);
    // The thief's pull waits behind the ordered consumer's; the server serves waiting pulls
    // in turn, so it takes one of the next messages.
    let thief = rnats::connect(server.url()).await.unwrap();
    let inbox = thief.new_inbox();
    let mut stolen = thief.subscribe(inbox.as_str()).await.unwrap();
    thief
        .publish_with_reply(
            format!("$JS.API.CONSUMER.MSG.NEXT.ORDGAP.{consumer_name}"),
            inbox.as_str(),
            r#"{"batch":1,"expires":10000000000}"#,
        )
        .await
        .unwrap();
    thief.flush().await.unwrap();
    publish_n(&js, "ordgap", 10).await;
    let taken = next_within(&mut stolen, 10, "the stolen delivery").await;
    // $JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>
    let reply = taken.reply.clone().expect("a delivery has an ack subject");
    let tokens: Vec<&str> = reply.split('.').collect();
    assert_eq!(
        &tokens[..4],
        ["$JS", "ACK", "ORDGAP", consumer_name.as_str()]
    );
    let taken_seq: u64 = tokens[5].parse().unwrap();
    assert!((11..=20).contains(&taken_seq), "{reply}");
    let mut payloads = Vec::new();
    for expected in 11..=20 {
        let msg = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .unwrap_or_else(|_| panic!("stalled at {expected}"))
            .expect("ended")
            .unwrap();
        assert_eq!(msg.info().unwrap().stream_sequence, expected);
        payloads.push(String::from_utf8(msg.payload.to_vec()).unwrap());
    }
    assert_eq!(payloads, (0..10).map(|i| i.to_string()).collect::<Vec<_>>());
    assert_eq!(
        messages.resets(),
        1,
        "one gap (stream sequence {taken_seq:?} went elsewhere), one recreation"
    );
    let (prefix, serial) = consumer_name.rsplit_once('_').unwrap();
    assert_eq!(serial, "1");
    let second = format!("{prefix}_2");
    wait_only_consumer(&stream, &second).await;
    // The new consumer started after the last message delivered before the gap.
    let info = stream.consumer_info(&second).await.unwrap();
    assert_eq!(info.delivered.stream_sequence, 20, "{info:?}");
    assert_eq!(
        info.delivered.consumer_sequence,
        21 - info.config.opt_start_seq.unwrap(),
        "{info:?}"
    );
}

/// `+NXT` as a double ack would have the server deliver the next message to the request's
/// inbox, where nothing receives it: refused up front, with nothing sent.
#[tokio::test]
async fn next_is_not_a_double_ack() {
    use jetstream::message::AckKind;
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let stream = stream_with(&js, "NXT", &["nxt"]).await;
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config::durable("n"))
        .await
        .unwrap();
    publish_n(&js, "nxt", 3).await;
    let got = fetch_exact(&consumer, 1).await;
    let snoop = rnats::connect(server.url()).await.unwrap();
    let mut wire = snoop.subscribe("$JS.ACK.NXT.n.>").await.unwrap();
    snoop.flush().await.unwrap();
    let err = within(10, "the refusal", got[0].double_ack_with(AckKind::Next))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
    got[0].double_ack().await.unwrap();
    // The first thing on the wire is the plain double ack.
    let first = next_within(&mut wire, 5, "the double ack").await;
    assert_eq!(first.payload, "+ACK");
    let info = stream.consumer_info("n").await.unwrap();
    assert_eq!(
        (
            info.delivered.stream_sequence,
            info.num_ack_pending,
            info.num_pending
        ),
        (1, 0, 2),
        "{info:?}"
    );
}
