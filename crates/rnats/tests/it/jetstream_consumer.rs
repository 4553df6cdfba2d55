//! JetStream consumers against a real nats-server: management (create, update, list, pause,
//! reset), policies (deliver, replay, retention, limits), mirrors and sources. The helpers
//! the other consumer test files share live here.

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use rnats::jetstream::consumer::{self, pull, AckPolicy, PullConsumer};
use rnats::jetstream::{self, stream, Context};

use crate::jetstream::{assert_api_error, js_server, memory_stream, with};

pub async fn publish_n(js: &Context, subject: &str, n: usize) {
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

pub async fn stream_with(js: &Context, name: &str, subjects: &[&str]) -> stream::Stream {
    js.create_stream(memory_stream(name, subjects))
        .await
        .unwrap()
}

/// Publishes `n` copies of `payload` to `subject`, all acks in flight, then awaits every ack.
pub async fn publish_copies(js: &Context, subject: &str, payload: &[u8], n: usize) {
    let payload = bytes::Bytes::copy_from_slice(payload);
    let mut acks = Vec::with_capacity(n);
    for _ in 0..n {
        acks.push(
            js.publish(subject.to_owned(), payload.clone())
                .await
                .unwrap(),
        );
    }
    for ack in acks {
        ack.await.unwrap();
    }
}

/// A durable pull consumer `name` on `stream` that needs no acks.
pub async fn pull_without_acks(stream: &stream::Stream, name: &str) -> PullConsumer {
    stream
        .create_consumer(with(pull::Config::durable(name), |c| {
            c.ack_policy = AckPolicy::None
        }))
        .await
        .unwrap()
}

/// A JetStream server that a test may restart, a client that reconnects every 50 ms, and a
/// file-backed stream `name` on `subject` (it outlives a restart).
pub async fn restartable_stream(
    name: &str,
    subject: &str,
) -> (rnats_test::NatsServer, Context, stream::Stream) {
    let server = rnats_test::NatsServer::start_jetstream();
    let client = rnats::ConnectOptions::new()
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .connect(server.url())
        .await
        .unwrap();
    let js = jetstream::new(client);
    let mut config = stream::Config::new(name);
    config.subjects = vec![subject.into()];
    let stream = js.create_stream(config).await.unwrap();
    (server, js, stream)
}

/// Every message of a batch, failing the test on an error.
pub async fn drain(batch: pull::Batch) -> Vec<jetstream::Message> {
    tokio::time::timeout(Duration::from_secs(40), batch.try_collect())
        .await
        .expect("the batch did not end")
        .unwrap()
}

/// Exactly `n` messages from a pull waiting up to 10 s for them. (A no-wait fetch right
/// after publishing can come back short: the server's consumer learns of new messages
/// asynchronously.)
pub async fn fetch_exact(consumer: &PullConsumer, n: usize) -> Vec<jetstream::Message> {
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

/// Waits up to `secs` for the next message of a raw subscription.
pub async fn next_within(sub: &mut rnats::Subscriber, secs: u64, what: &str) -> rnats::Message {
    tokio::time::timeout(Duration::from_secs(secs), sub.next())
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
        .unwrap_or_else(|| panic!("the subscription ended waiting for {what}"))
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
    assert_api_error(&err, 400, 10099);
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
