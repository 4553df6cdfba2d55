//! JetStream against a real nats-server: context, streams, publish with ack.

use std::time::Duration;

use futures_util::TryStreamExt;
use rnats::jetstream::{self, stream, Context, ErrorCode, Publish};
use rnats::{ErrorKind, HeaderMap};
use rnats_test::NatsServer;

/// A JetStream server and a context on it.
pub async fn js_server() -> (NatsServer, Context) {
    let server = NatsServer::start_jetstream();
    let client = rnats::connect(server.url()).await.unwrap();
    (server, jetstream::new(client))
}

/// `fut`'s output, or a test failure naming `what` after `secs` seconds: every await of
/// something that might never come is bounded.
pub async fn within<T>(secs: u64, what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs} s waiting for {what}"))
}

/// A memory stream storing `subjects`.
pub fn memory_stream(name: &str, subjects: &[&str]) -> stream::Config {
    let mut config = stream::Config::new(name);
    config.subjects = subjects.iter().map(|s| s.to_string()).collect();
    config.storage = stream::StorageType::Memory;
    config
}

/// Asserts that `err` is the JetStream API error `code` / `err_code`.
pub fn assert_api_error(err: &rnats::Error, code: u16, err_code: u32) {
    let api = err.jetstream_error().expect("a JetStream API error");
    assert_eq!(
        (api.code, api.err_code),
        (code, ErrorCode(err_code)),
        "{err:?}"
    );
}

/// `value` changed by `change`: configurations are `#[non_exhaustive]`, so they are built by
/// changing a default.
pub fn with<T>(mut value: T, change: impl FnOnce(&mut T)) -> T {
    change(&mut value);
    value
}

#[tokio::test]
async fn account_info_and_api_level() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let info = js.account_info().await.unwrap();
    assert_eq!(info.streams, 0);
    assert!(info.api.level >= jetstream::api_level::V2_11, "{info:?}");
    // INFO's api_lvl and the account's API level agree on a single server.
    assert_eq!(js.api_level(), info.api.level);
    js.create_stream(memory_stream("A", &["a.>"]))
        .await
        .unwrap();
    assert_eq!(js.account_info().await.unwrap().streams, 1);
}

#[tokio::test]
async fn without_jetstream_requests_fail_with_no_responders() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let js = jetstream::new(rnats::connect(server.url()).await.unwrap());
    let err = js.account_info().await.unwrap_err();
    assert!(err.is_no_responders(), "{err:?}");
    assert!(err.to_string().contains("jetstream not available"), "{err}");
    let err = js.publish("x", "y").await.unwrap().await.unwrap_err();
    assert!(err.is_no_responders(), "{err:?}");
}

#[tokio::test]
async fn domain_and_prefix_select_the_api_subjects() {
    let _shared = crate::shared().await;
    let server = NatsServer::builder()
        .jetstream(true)
        .config("jetstream { domain: hub }")
        .start();
    let client = rnats::connect(server.url()).await.unwrap();
    let info = jetstream::with_domain(client.clone(), "hub")
        .account_info()
        .await
        .unwrap();
    assert_eq!(info.domain.as_deref(), Some("hub"));
    let js = jetstream::with_prefix(client.clone(), "$JS.hub.API.");
    assert_eq!(js.api_prefix(), "$JS.hub.API");
    js.create_stream(memory_stream("D", &["d"])).await.unwrap();
    let ack = js.publish("d", "x").await.unwrap().await.unwrap();
    assert_eq!(ack.domain.as_deref(), Some("hub"));
    // nats-server 2.15.1 still sends v1 ack subjects (9 tokens: no domain, no account hash)
    // for a stream in a domain; the v2 format is covered by unit tests.
    let stream = js.get_stream("D").await.unwrap();
    let consumer: jetstream::consumer::PullConsumer = stream
        .create_consumer(jetstream::consumer::pull::Config::durable("c"))
        .await
        .unwrap();
    let mut batch = consumer
        .batch()
        .expires(Duration::from_secs(10))
        .messages()
        .await
        .unwrap();
    let msg = within(
        5,
        "the fetched message",
        futures_util::StreamExt::next(&mut batch),
    )
    .await
    .unwrap()
    .unwrap();
    let info = msg.info().unwrap();
    assert_eq!(msg.reply.as_deref().unwrap().split('.').count(), 9);
    assert_eq!(info.domain, None);
    assert_eq!(
        (info.stream, info.consumer, info.stream_sequence),
        ("D", "c", 1)
    );
    msg.double_ack().await.unwrap();
    // The default prefix still works on a server with a domain.
    assert_eq!(
        jetstream::new(client.clone())
            .account_info()
            .await
            .unwrap()
            .streams,
        1
    );
    let err = jetstream::with_domain(client, "elsewhere")
        .account_info()
        .await
        .unwrap_err();
    assert!(err.is_no_responders(), "{err:?}");
}

#[tokio::test]
async fn stream_create_get_update_delete() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let config = memory_stream("ORDERS", &["orders.>"]);
    let stream = js.create_stream(config.clone()).await.unwrap();
    assert_eq!(stream.name(), "ORDERS");
    assert_eq!(stream.cached_info().config.subjects, ["orders.>"]);
    // The response's "type" is not taken for an unknown field; what the schema does not
    // know (2.15.1 answers a create with "did_create") is kept.
    let extra = &stream.cached_info().extra;
    assert!(!extra.contains_key("type"), "{extra:?}");
    assert_eq!(
        extra.get("did_create"),
        Some(&serde_json::Value::Bool(true)),
        "{extra:?}"
    );
    // The same configuration again is fine; another one is refused.
    js.create_stream(config.clone()).await.unwrap();
    let err = js
        .create_stream(with(config.clone(), |c| c.max_messages = 10))
        .await
        .unwrap_err();
    assert!(err.is_stream_already_exists(), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::JetStream);
    let api = err.jetstream_error().unwrap();
    assert_eq!(
        (api.code, api.err_code),
        (400, ErrorCode::STREAM_NAME_EXISTS)
    );

    let info = js
        .update_stream(with(config.clone(), |c| {
            c.subjects = vec!["orders.>".into(), "returns.>".into()];
            c.max_messages = 1000;
            c.description = Some("all orders".into());
        }))
        .await
        .unwrap();
    assert_eq!(info.config.subjects, ["orders.>", "returns.>"]);
    assert_eq!(info.config.max_messages, 1000);
    let mut stream = js.get_stream("ORDERS").await.unwrap();
    assert_eq!(
        stream.cached_info().config.description.as_deref(),
        Some("all orders")
    );
    js.publish("returns.1", "r").await.unwrap().await.unwrap();
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    assert_eq!(js.stream_by_subject("returns.9").await.unwrap(), "ORDERS");

    let err = js
        .update_stream(memory_stream("NOPE", &["n"]))
        .await
        .unwrap_err();
    assert!(err.is_stream_not_found(), "{err:?}");
    let info = js
        .create_or_update_stream(memory_stream("NEW", &["new"]))
        .await
        .unwrap();
    assert_eq!(info.config.name, "NEW");
    let info = js
        .create_or_update_stream(with(memory_stream("NEW", &["new"]), |c| c.max_messages = 5))
        .await
        .unwrap();
    assert_eq!(info.config.max_messages, 5);
    let got = js
        .get_or_create_stream(memory_stream("NEW", &["other"]))
        .await
        .unwrap();
    assert_eq!(got.cached_info().config.subjects, ["new"]);

    js.delete_stream("ORDERS").await.unwrap();
    let err = js.get_stream("ORDERS").await.unwrap_err();
    assert!(err.is_stream_not_found(), "{err:?}");
    let api = err.jetstream_error().unwrap();
    assert_eq!((api.code, api.err_code), (404, ErrorCode::STREAM_NOT_FOUND));
    assert!(js
        .delete_stream("ORDERS")
        .await
        .unwrap_err()
        .is_stream_not_found());
    let err = js
        .create_stream(memory_stream("bad.name", &["b"]))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
}

#[tokio::test]
async fn stream_names_and_list_page_and_filter() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    // STREAM.LIST pages by 256: 300 streams take two pages.
    for i in 0..300 {
        js.create_stream(memory_stream(&format!("S{i}"), &[&format!("s.{i}.>")]))
            .await
            .unwrap();
    }
    let mut names: Vec<String> = js.stream_names().try_collect().await.unwrap();
    names.sort();
    assert_eq!(names.len(), 300);
    names.dedup();
    assert_eq!(names.len(), 300);
    let infos: Vec<stream::Info> = js.streams().try_collect().await.unwrap();
    assert_eq!(infos.len(), 300);
    let filtered: Vec<String> = js
        .stream_names()
        .with_subject("s.7.x")
        .try_collect()
        .await
        .unwrap();
    assert_eq!(filtered, ["S7"]);
    let none: Vec<String> = js
        .stream_names()
        .with_subject("nothing.here")
        .try_collect()
        .await
        .unwrap();
    assert!(none.is_empty());
}

#[tokio::test]
async fn purge_all_filtered_keep_and_up_to_sequence() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = js
        .create_stream(memory_stream("P", &["p.>"]))
        .await
        .unwrap();
    let publish_n = |n: usize| {
        let js = js.clone();
        async move {
            for i in 0..n {
                let subject = if i % 2 == 0 { "p.even" } else { "p.odd" };
                js.publish(subject, "x").await.unwrap().await.unwrap();
            }
        }
    };
    publish_n(10).await;
    let r = stream.purge().filter("p.even").keep(2).await.unwrap();
    assert!(r.success);
    assert_eq!(r.purged, 3);
    let r = stream.purge().filter("p.odd").await.unwrap();
    assert_eq!(r.purged, 5);
    publish_n(10).await; // sequences 11..=20
    let r = stream.purge().sequence(15).await.unwrap();
    assert_eq!(r.purged, 2 + 4, "the 2 kept evens and sequences 11..15");
    let r = stream.purge().keep(3).await.unwrap();
    assert_eq!(r.purged, 3);
    let r = stream.purge().await.unwrap();
    assert_eq!(r.purged, 3);
    let err = stream.purge().keep(1).sequence(3).await.unwrap_err();
    assert!(err.is_invalid_argument());
}

#[tokio::test]
async fn get_messages_through_the_api_and_direct_get() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = js
        .create_stream(with(memory_stream("G", &["g.>"]), |c| {
            c.allow_direct = true
        }))
        .await
        .unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("Kind", "first");
    js.publish_with_headers("g.a", headers, "one")
        .await
        .unwrap()
        .await
        .unwrap();
    js.publish("g.b", "two").await.unwrap().await.unwrap();
    js.publish("g.a", "three").await.unwrap().await.unwrap();

    let m = stream.get_raw_message(1).await.unwrap();
    assert_eq!((m.subject.as_str(), m.sequence), ("g.a", 1));
    assert_eq!(m.payload, "one");
    assert_eq!(m.headers.get("Kind"), Some("first"));
    let m = stream.get_last_raw_message_by_subject("g.a").await.unwrap();
    assert_eq!((m.sequence, &m.payload[..]), (3, &b"three"[..]));
    let m = stream
        .get_next_raw_message_by_subject("g.b", 1)
        .await
        .unwrap();
    assert_eq!(m.sequence, 2);
    let err = stream.get_raw_message(99).await.unwrap_err();
    assert!(err.is_message_not_found(), "{err:?}");

    let m = stream.direct_get(1).await.unwrap();
    assert_eq!((m.subject.as_str(), m.sequence), ("g.a", 1));
    assert_eq!(m.payload, "one");
    assert_eq!(m.headers.get("Kind"), Some("first"));
    let m = stream.direct_get_last_for_subject("g.a").await.unwrap();
    assert_eq!((m.sequence, &m.payload[..]), (3, &b"three"[..]));
    let m = stream.direct_get_next_for_subject("g.a", 2).await.unwrap();
    assert_eq!(m.sequence, 3);
    let err = stream.direct_get(99).await.unwrap_err();
    assert!(err.is_message_not_found(), "{err:?}");
    let err = stream
        .direct_get_last_for_subject("g.none")
        .await
        .unwrap_err();
    assert!(err.is_message_not_found(), "{err:?}");
}

#[tokio::test]
async fn delete_and_erase_messages_then_info_details() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = js
        .create_stream(memory_stream("DEL", &["del.>"]))
        .await
        .unwrap();
    for i in 0..6 {
        js.publish(format!("del.{}", i % 3), "x")
            .await
            .unwrap()
            .await
            .unwrap();
    }
    stream.delete_message(2).await.unwrap();
    stream.erase_message(4).await.unwrap();
    assert!(stream
        .get_raw_message(2)
        .await
        .unwrap_err()
        .is_message_not_found());
    assert!(stream
        .get_raw_message(4)
        .await
        .unwrap_err()
        .is_message_not_found());
    // Deleting a deleted message again: "sequence not found".
    let err = stream.delete_message(2).await.unwrap_err();
    assert_api_error(&err, 400, 10043);

    let info = stream
        .info_with(stream::InfoOptions::new().deleted_details(true))
        .await
        .unwrap();
    assert_eq!(info.state.messages, 4);
    assert_eq!(info.state.num_deleted, 2);
    assert_eq!(info.state.deleted, [2, 4]);
    let info = stream
        .info_with(stream::InfoOptions::new().subjects_filter(">"))
        .await
        .unwrap();
    assert_eq!(info.state.subjects.len(), 3);
    assert_eq!(info.state.subjects["del.0"], 1);
    assert_eq!(info.state.subjects["del.1"], 1);
    assert_eq!(info.state.subjects["del.2"], 2);
    assert!(info.extra.get("total").is_none());
}

#[tokio::test]
async fn stream_info_subjects_are_fetched_across_pages() {
    // 100,050 publishes: heavy, so not beside timing-sensitive tests.
    let _alone = crate::EXCLUSIVE.write().await;
    let (_server, js) = js_server().await;
    let stream = js
        .create_stream(memory_stream("MANY", &["m.>"]))
        .await
        .unwrap();
    // The server pages subject details by 100,000: publish more distinct subjects than that.
    let mut acks = std::collections::VecDeque::new();
    for i in 0..100_050 {
        acks.push_back(js.publish(format!("m.{i}"), "").await.unwrap());
        if acks.len() >= 1000 {
            acks.pop_front().unwrap().await.unwrap();
        }
    }
    for ack in acks {
        ack.await.unwrap();
    }
    let info = stream
        .info_with(stream::InfoOptions::new().subjects_filter("m.>"))
        .await
        .unwrap();
    assert_eq!(info.state.subjects.len(), 100_050);
}

/// Stream `FULL` on `full.>` with every modelled setting away from its default (sourcing
/// `ORIGIN`, which must exist): the round-trip and schema tests both use it.
pub(crate) fn every_knob_stream_config() -> stream::Config {
    let mut config = stream::Config::new("FULL");
    config.description = Some("every knob".into());
    config.subjects = vec!["full.>".into()];
    config.subject_transform = Some(stream::SubjectTransform::new("full.>", "stored.>"));
    config.retention = stream::RetentionPolicy::Limits;
    config.max_consumers = 10;
    config.max_messages = 1000;
    config.max_messages_per_subject = 5;
    config.max_bytes = 1 << 20;
    config.max_age = Duration::from_secs(3600);
    config.max_message_size = 4096;
    config.storage = stream::StorageType::File;
    config.compression = stream::Compression::S2;
    config.num_replicas = 1;
    config.discard = stream::DiscardPolicy::New;
    config.discard_new_per_subject = true;
    config.duplicate_window = Duration::from_secs(30);
    config.sources = vec![with(stream::Source::new("ORIGIN"), |s| {
        s.filter_subject = Some("origin.a.>".into())
    })];
    config.deny_delete = true;
    // (deny_purge would conflict with rollups and delete markers.)
    config.allow_rollup = true;
    config.allow_direct = true;
    config.republish = Some(stream::Republish::new("stored.>", "repub.>"));
    config.metadata = [("team".to_string(), "core".to_string())].into();
    config.consumer_limits = Some(with(stream::ConsumerLimits::default(), |l| {
        l.inactive_threshold = Some(Duration::from_secs(60));
        l.max_ack_pending = 100;
    }));
    config.allow_message_ttl = true;
    config.subject_delete_marker_ttl = Some(Duration::from_secs(60));
    config
}

#[tokio::test]
async fn stream_config_round_trips_through_the_server() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    js.create_stream(memory_stream("ORIGIN", &["origin.>"]))
        .await
        .unwrap();
    let config = every_knob_stream_config();
    let stream = js.create_stream(config.clone()).await.unwrap();
    let got = &stream.cached_info().config;
    assert_eq!(got.description, config.description);
    assert_eq!(got.subject_transform, config.subject_transform);
    assert_eq!(got.max_consumers, 10);
    assert_eq!(got.max_messages, 1000);
    assert_eq!(got.max_messages_per_subject, 5);
    assert_eq!(got.max_bytes, 1 << 20);
    assert_eq!(got.max_age, Duration::from_secs(3600));
    assert_eq!(got.max_message_size, 4096);
    assert_eq!(got.compression, stream::Compression::S2);
    assert_eq!(got.discard, stream::DiscardPolicy::New);
    assert!(got.discard_new_per_subject);
    assert_eq!(got.duplicate_window, Duration::from_secs(30));
    assert_eq!(got.sources.len(), 1);
    assert_eq!(got.sources[0].name, "ORIGIN");
    assert_eq!(got.sources[0].filter_subject.as_deref(), Some("origin.a.>"));
    assert!(got.deny_delete && !got.deny_purge && got.allow_rollup && got.allow_direct);
    assert_eq!(got.republish, config.republish);
    assert_eq!(got.metadata.get("team").map(String::as_str), Some("core"));
    assert_eq!(got.consumer_limits, config.consumer_limits);
    assert!(got.allow_message_ttl);
    assert_eq!(got.subject_delete_marker_ttl, Some(Duration::from_secs(60)));
    // Updating with what the server returned (server-set metadata included) changes nothing.
    let again = js.update_stream(got.clone()).await.unwrap();
    assert_eq!(again.config, *got);
    // The stream refuses deletes, as configured.
    js.publish("full.x", "x").await.unwrap().await.unwrap();
    let err = stream.delete_message(1).await.unwrap_err();
    assert_api_error(&err, 500, 10057);
    let description = &err.jetstream_error().unwrap().description;
    assert!(description.contains("not permitted"), "{err:?}");
}

/// A scripted peer that greets with `info` and answers every PING: enough for a client to
/// connect and see the INFO, with no JetStream behind it.
pub(crate) async fn peer_with_info(info: &'static str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("nats://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        sock.write_all(format!("INFO {info}\r\n").as_bytes())
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let mut seen = Vec::new();
        loop {
            let n = match sock.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            seen.extend_from_slice(&buf[..n]);
            while let Some(at) = seen.windows(6).position(|w| w == b"PING\r\n") {
                seen.drain(..at + 6);
                if sock.write_all(b"PONG\r\n").await.is_err() {
                    return;
                }
            }
        }
    });
    url
}

#[tokio::test]
async fn features_newer_than_the_server_are_refused_up_front() {
    let _shared = crate::shared().await;
    // A 2.10 server: no api_lvl in INFO, level 0.
    let url = peer_with_info(
        r#"{"server_id":"old","version":"2.10.22","proto":1,"headers":true,"max_payload":1048576,"jetstream":true}"#,
    )
    .await;
    let js = jetstream::new(rnats::connect(url.as_str()).await.unwrap());
    assert_eq!(js.api_level(), 0);
    let err = js
        .publish_with("x", Publish::new().ttl(Duration::from_secs(5)))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err:?}");
    assert!(err.to_string().contains("API level 1"), "{err}");
    assert!(err.to_string().contains("2.10.22"), "{err}");
    let stream = js.get_stream_no_info("S");
    let err = stream
        .pause_consumer("c", time::OffsetDateTime::now_utc())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err:?}");
    let mut config = jetstream::consumer::pull::Config::durable("c");
    config.priority_groups = vec!["g".into()];
    config.priority_policy = jetstream::consumer::PriorityPolicy::PinnedClient;
    let err = stream.create_consumer(config).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err:?}");

    // A 2.11 server does not send api_lvl either, but is level 1.
    let url = peer_with_info(
        r#"{"server_id":"a","version":"2.11.9","proto":1,"headers":true,"max_payload":1048576}"#,
    )
    .await;
    assert_eq!(
        jetstream::new(rnats::connect(url.as_str()).await.unwrap()).api_level(),
        1
    );

    // A level-2 server (2.12) refuses the flow_control ack policy of level 4.
    let url = peer_with_info(r#"{"server_id":"b","version":"2.12.3","proto":1,"headers":true,"max_payload":1048576,"api_lvl":2}"#).await;
    let js = jetstream::new(rnats::connect(url.as_str()).await.unwrap());
    assert_eq!(js.api_level(), 2);
    let mut config = jetstream::consumer::pull::Config::durable("c");
    config.ack_policy = jetstream::consumer::AckPolicy::FlowControl;
    let err = js
        .get_stream_no_info("S")
        .create_consumer(config)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported, "{err:?}");
}

#[tokio::test]
async fn batched_and_multi_subject_direct_get() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let stream = js
        .create_stream(with(memory_stream("DB", &["x.>"]), |c| {
            c.allow_direct = true
        }))
        .await
        .unwrap();
    // x.a: 1 4 7 10, x.b: 2 5 8, x.c: 3 6 9
    for i in 0..10 {
        let subject = ["x.a", "x.b", "x.c"][i % 3];
        js.publish(subject, format!("{i}"))
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let seqs = |ms: &[stream::StreamMessage]| ms.iter().map(|m| m.sequence).collect::<Vec<_>>();

    let got = stream
        .direct_get_batch(stream::DirectBatch::new(3).sequence(2))
        .await
        .unwrap();
    assert_eq!(seqs(&got.messages), [2, 3, 4]);
    assert_eq!(got.last_sequence, 4);
    assert_eq!(got.num_pending, 6, "{got:?}");
    assert_eq!(got.messages[0].subject, "x.b");
    assert_eq!(got.messages[0].payload, "1");

    let got = stream
        .direct_get_batch(stream::DirectBatch::new(10).subject("x.a"))
        .await
        .unwrap();
    assert_eq!(seqs(&got.messages), [1, 4, 7, 10]);
    assert_eq!(got.num_pending, 0);

    let got = stream
        .direct_get_batch(stream::DirectBatch::new(10).max_bytes(12))
        .await
        .unwrap();
    // The server counts subject and payload: 3 + 1 bytes each, so 3 messages fit in 12.
    assert_eq!(seqs(&got.messages), [1, 2, 3], "{got:?}");

    let none = stream
        .direct_get_batch(stream::DirectBatch::new(5).sequence(50))
        .await
        .unwrap();
    assert!(none.messages.is_empty());

    let last = stream
        .direct_get_last_for_subjects(&["x.a", "x.b"], None)
        .await
        .unwrap();
    assert_eq!(seqs(&last), [8, 10]);
    let last = stream
        .direct_get_last_for_subjects(&["x.a", "x.b"], Some(6))
        .await
        .unwrap();
    assert_eq!(seqs(&last), [4, 5]);
    let last = stream
        .direct_get_last_for_subjects(&["x.>"], None)
        .await
        .unwrap();
    assert_eq!(seqs(&last), [8, 9, 10]);

    let plain = js
        .create_stream(memory_stream("NODIRECT", &["nd"]))
        .await
        .unwrap();
    let err = plain
        .direct_get_batch(stream::DirectBatch::new(1))
        .await
        .unwrap_err();
    assert!(err.is_no_responders(), "{err:?}");
}

/// A multi-last Direct Get whose answer is bigger than the server sends in one reply: the
/// server ends a reply at its `max_pending` (64 MiB by default, the only cap of a request
/// without `batch`; more than 1024 subjects is a 413, not a longer answer) with a 204 EOB saying how many are
/// pending, and the client asks again from the next sequence at the same cut-off. 140 last
/// messages of 512 KiB (70 MiB) take two replies; every subject's last message must come
/// exactly once.
#[tokio::test]
async fn multi_last_direct_get_pages_past_one_reply() {
    const SUBJECTS: usize = 140;
    const SIZE: usize = 512 * 1024;
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let stream = js
        .create_stream(with(memory_stream("PAGED", &["p.>"]), |c| {
            c.allow_direct = true
        }))
        .await
        .unwrap();
    let names: Vec<String> = (0..SUBJECTS).map(|i| format!("p.{i}")).collect();
    // A small first message per subject, then the big last one.
    for name in &names {
        js.publish(name.clone(), "old")
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let cut_off = SUBJECTS as u64;
    let big = bytes::Bytes::from(vec![b'z'; SIZE]);
    let mut last = std::collections::HashMap::new();
    for name in &names {
        let ack = js
            .publish(name.clone(), big.clone())
            .await
            .unwrap()
            .await
            .unwrap();
        last.insert(name.clone(), ack.sequence);
    }

    // The requests, seen from another connection: the test is void unless the client paged.
    let snoop = rnats::connect(server.url()).await.unwrap();
    let mut requests = snoop.subscribe("$JS.API.DIRECT.GET.PAGED").await.unwrap();
    snoop.flush().await.unwrap();
    let subjects: Vec<&str> = names.iter().map(String::as_str).collect();
    let got = stream
        .direct_get_last_for_subjects(&subjects, None)
        .await
        .unwrap();
    let first = crate::next_msg(&mut requests).await;
    let second = crate::next_msg(&mut requests).await;
    let body =
        |m: &rnats::Message| serde_json::from_slice::<serde_json::Value>(&m.payload).unwrap();
    let (first, second) = (body(&first), body(&second));
    assert!(first.get("seq").is_none(), "{first}");
    assert!(second["seq"].as_u64().unwrap() > cut_off, "{second}");
    assert_eq!(second["up_to_seq"].as_u64(), Some(2 * cut_off), "{second}");
    let mut seen = std::collections::HashSet::new();
    for m in &got {
        assert!(seen.insert(m.subject.to_string()), "{} twice", m.subject);
        assert_eq!(
            Some(&m.sequence),
            last.get(m.subject.as_str()),
            "{}",
            m.subject
        );
        assert_eq!(m.payload.len(), SIZE, "{}", m.subject);
    }
    assert_eq!(got.len(), SUBJECTS, "missing: {:?}", {
        let mut missing: Vec<_> = names.iter().filter(|n| !seen.contains(*n)).collect();
        missing.truncate(10);
        missing
    });
    assert!(got.windows(2).all(|w| w[0].sequence < w[1].sequence));

    // The same subjects by wildcard, as they were before the big messages: one small reply.
    let old = stream
        .direct_get_last_for_subjects(&["p.>"], Some(cut_off))
        .await
        .unwrap();
    assert_eq!(old.len(), SUBJECTS);
    assert!(old
        .iter()
        .all(|m| m.payload == "old" && m.sequence <= cut_off));
}

/// A responder that keeps saying "more pending" without moving past the sequence it was
/// asked to start from: the client must fail, not ask again forever. The responder is a raw
/// connection to a plain server, answering with headers no client API writes (the 204 status).
#[tokio::test]
async fn a_multi_last_direct_get_that_stops_advancing_fails() {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let sock = tokio::net::TcpStream::connect(("127.0.0.1", server.port()))
        .await
        .unwrap();
    let (read, mut write) = sock.into_split();
    let mut read = BufReader::new(read);
    let mut line = String::new();
    read.read_line(&mut line).await.unwrap(); // INFO
    write
        .write_all(
            b"CONNECT {\"verbose\":false,\"headers\":true,\"protocol\":1}\r\nSUB $JS.API.DIRECT.GET.S 1\r\nPING\r\n",
        )
        .await
        .unwrap();
    line.clear();
    within(10, "the PONG", read.read_line(&mut line))
        .await
        .unwrap();
    assert_eq!(line, "PONG\r\n");
    let responder = tokio::spawn(async move {
        let mut requests = 0;
        loop {
            line.clear();
            if read.read_line(&mut line).await.unwrap_or(0) == 0 {
                return requests;
            }
            // MSG <subject> <sid> <reply> <size>; the request body's line follows.
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.first() {
                Some(&"MSG") => {}
                Some(&"PING") => {
                    write.write_all(b"PONG\r\n").await.unwrap();
                    continue;
                }
                _ => continue, // INFO updates
            }
            let reply = words[3].to_owned();
            let mut body = String::new();
            read.read_line(&mut body).await.unwrap();
            requests += 1;
            // Always the message at sequence 5, then "3 pending after 5".
            let message = "NATS/1.0\r\nNats-Stream: S\r\nNats-Subject: a\r\nNats-Sequence: 5\r\nNats-Time-Stamp: 2024-01-01T00:00:00Z\r\nNats-Num-Pending: 3\r\n\r\n";
            let eob = "NATS/1.0 204 EOB\r\nNats-Num-Pending: 3\r\nNats-Last-Sequence: 5\r\nNats-UpTo-Sequence: 9\r\n\r\n";
            let frames = format!(
                "HPUB {reply} {} {}\r\n{message}x\r\nHPUB {reply} {} {}\r\n{eob}\r\n",
                message.len(),
                message.len() + 1,
                eob.len(),
                eob.len()
            );
            write.write_all(frames.as_bytes()).await.unwrap();
        }
    });

    let client = rnats::connect(server.url()).await.unwrap();
    let stream = jetstream::new(client).get_stream_no_info("S");
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        stream.direct_get_last_for_subjects(&["a", "b"], None),
    )
    .await
    .expect("the client kept asking")
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Protocol, "{err:?}");
    assert!(err.to_string().contains("stopped advancing"), "{err}");
    drop(server);
    // The first page ended at 5; the second, asked from 6, ended at 5 again.
    assert_eq!(
        within(10, "the responder's end", responder).await.unwrap(),
        2
    );
}
