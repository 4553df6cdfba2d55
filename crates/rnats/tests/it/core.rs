//! Core NATS: publish, subscribe (wildcards, queue groups, auto-unsubscribe), headers,
//! payload edge cases, echo, server lists and connect failures, a reconnect.

use std::time::Duration;

use bytes::Bytes;
use rnats::{ConnectionState, ErrorKind, HeaderMap};
use rnats_test::NatsServer;

use crate::{collect_until_end, next_msg, Bounded};

#[tokio::test]
async fn publish_subscribe_round_trip() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    assert_eq!(client.connection_state(), ConnectionState::Connected);
    let mut sub = client.subscribe("greet.joe").await.unwrap();
    client.publish("greet.joe", "hello").await.unwrap();
    let msg = next_msg(&mut sub).await;
    assert_eq!(msg.subject, "greet.joe");
    assert_eq!(msg.payload, "hello");
    assert!(msg.headers.is_none());
    assert!(msg.reply.is_none());
}

#[tokio::test]
async fn headers_round_trip_multi_value_and_case() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("h").await.unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("Trace-Id", "abc");
    headers.append("X-Tag", "one");
    headers.append("X-Tag", "two");
    headers.insert("lower-case", "kept");
    client
        .publish_with_headers("h", headers.clone(), "body")
        .await
        .unwrap();
    let msg = next_msg(&mut sub).await;
    let got = msg.headers.expect("headers");
    assert_eq!(got.get("Trace-Id"), Some("abc"));
    assert_eq!(got.get_all("X-Tag").collect::<Vec<_>>(), ["one", "two"]);
    assert_eq!(got.get("lower-case"), Some("kept"));
    assert_eq!(got.get("Lower-Case"), None);
    assert_eq!(got, headers);
    assert_eq!(msg.payload, "body");
}

#[tokio::test]
async fn invalid_header_is_refused_and_connection_stays_up() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("Evil", "a\r\nInjected: 1");
    let err = client
        .publish_with_headers("h", headers, "x")
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    client.flush().bounded().await.unwrap();
    // The same connection: nothing was sent that made the server drop it.
    assert_eq!(client.statistics().connects, 1);
}

#[tokio::test]
async fn wildcards() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut star = client.subscribe("orders.*.new").await.unwrap();
    let mut gt = client.subscribe("orders.>").await.unwrap();
    for s in [
        "orders.eu.new",
        "orders.us.new",
        "orders.eu.old",
        "orders.x.y.z",
        // Last, a marker both subscriptions match: whatever `*` wrongly got comes before it.
        "orders.end.new",
    ] {
        client.publish(s, s.to_owned()).await.unwrap();
    }
    client.flush().bounded().await.unwrap();
    assert_eq!(next_msg(&mut star).await.subject, "orders.eu.new");
    assert_eq!(next_msg(&mut star).await.subject, "orders.us.new");
    assert_eq!(next_msg(&mut star).await.subject, "orders.end.new");
    let mut got = Vec::new();
    for _ in 0..5 {
        got.push(next_msg(&mut gt).await.subject.to_string());
    }
    assert_eq!(
        got,
        [
            "orders.eu.new",
            "orders.us.new",
            "orders.eu.old",
            "orders.x.y.z",
            "orders.end.new"
        ]
    );
    assert_eq!((star.pending(), gt.pending()), (0, 0));
}

#[tokio::test]
async fn queue_group_delivers_each_message_once_per_group() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut members = Vec::new();
    for _ in 0..3 {
        members.push(client.queue_subscribe("jobs", "workers").await.unwrap());
    }
    let mut other_group = client.queue_subscribe("jobs", "auditors").await.unwrap();
    let mut plain = client.subscribe("jobs").await.unwrap();
    client.flush().bounded().await.unwrap();
    let n = 300;
    for i in 0..n {
        client.publish("jobs", format!("{i}")).await.unwrap();
    }
    client.flush().bounded().await.unwrap();
    // Everyone stops so the streams end after what was delivered.
    let mut counts = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for m in &mut members {
        m.drain().bounded().await.unwrap();
        let msgs = collect_until_end(m).await;
        counts.push(msgs.len());
        for msg in msgs {
            assert!(seen.insert(msg.payload.clone()), "delivered twice: {msg:?}");
        }
    }
    assert_eq!(seen.len(), n, "every message delivered to the group once");
    assert!(
        counts.iter().filter(|c| **c > 0).count() >= 2,
        "spread over members: {counts:?}"
    );
    other_group.drain().bounded().await.unwrap();
    assert_eq!(collect_until_end(&mut other_group).await.len(), n);
    plain.drain().bounded().await.unwrap();
    assert_eq!(collect_until_end(&mut plain).await.len(), n);
}

#[tokio::test]
async fn auto_unsubscribe_after_n() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("n").await.unwrap();
    sub.unsubscribe_after(3).await.unwrap();
    for i in 0..10 {
        client.publish("n", format!("{i}")).await.unwrap();
    }
    let got = collect_until_end(&mut sub).await;
    let payloads: Vec<_> = got.iter().map(|m| m.payload.clone()).collect();
    assert_eq!(payloads, ["0", "1", "2"]);
}

#[tokio::test]
async fn unsubscribe_ends_the_stream() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("u").await.unwrap();
    client.publish("u", "before").await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "before");
    sub.unsubscribe().await.unwrap();
    client.publish("u", "after").await.unwrap();
    client.flush().bounded().await.unwrap();
    assert!(collect_until_end(&mut sub).await.is_empty());
}

#[tokio::test]
async fn oversize_payload_and_invalid_subject_are_refused_connection_stays_up() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let max = client.server_info().max_payload;
    assert_eq!(max, 1024 * 1024);
    let err = client
        .publish("big", Bytes::from(vec![0u8; max + 1]))
        .await
        .unwrap_err();
    assert!(err.is_max_payload_exceeded(), "{err:?}");
    assert!(err.to_string().contains(&max.to_string()), "{err}");
    let mut h = HeaderMap::new();
    h.insert("K", "V");
    let err = client
        .publish_with_headers("big", h, Bytes::from(vec![0u8; max]))
        .await
        .unwrap_err();
    assert!(err.is_max_payload_exceeded(), "headers count: {err:?}");
    for bad in ["", "a b", "a..b", "a.*", "a.>", "a\r\nPUB x 1"] {
        let err = client.publish(bad, "x").await.unwrap_err();
        assert!(err.is_invalid_argument(), "{bad:?}: {err:?}");
    }
    for bad in ["", "a b", "a.>.b", "a*"] {
        let err = client.subscribe(bad).await.unwrap_err();
        assert!(err.is_invalid_argument(), "{bad:?}: {err:?}");
    }
    let err = client.queue_subscribe("ok", "bad group").await.unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
    // Still connected and working.
    let mut sub = client.subscribe("ok").await.unwrap();
    client.publish("ok", "fine").await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "fine");
    assert_eq!(client.connection_state(), ConnectionState::Connected);
    assert_eq!(
        client.statistics().connects,
        1,
        "the first connection, not a new one"
    );
}

#[tokio::test]
async fn message_of_exactly_max_payload() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let max = client.server_info().max_payload;
    let mut sub = client.subscribe("max").await.unwrap();
    let payload: Vec<u8> = (0..max).map(|i| (i % 251) as u8).collect();
    client.publish("max", payload.clone()).await.unwrap();
    let msg = next_msg(&mut sub).await;
    assert_eq!(msg.payload.len(), max);
    assert_eq!(msg.payload, payload);
}

#[tokio::test]
async fn empty_and_binary_payloads() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("bin").await.unwrap();
    client.publish("bin", Bytes::new()).await.unwrap();
    let tricky: &[u8] = b"\r\nMSG fake 1 2\r\n\r\n\x00\xff\r";
    client.publish("bin", tricky).await.unwrap();
    let all: Vec<u8> = (0..=255).collect();
    client.publish("bin", all.clone()).await.unwrap();
    assert!(next_msg(&mut sub).await.payload.is_empty());
    assert_eq!(next_msg(&mut sub).await.payload, tricky);
    assert_eq!(next_msg(&mut sub).await.payload, all);
}

#[tokio::test]
async fn a_thousand_subscriptions_on_one_connection() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut subs = Vec::new();
    for i in 0..1000 {
        subs.push(client.subscribe(format!("many.{i}")).await.unwrap());
    }
    for i in 0..1000 {
        client
            .publish(format!("many.{i}"), format!("{i}"))
            .await
            .unwrap();
    }
    for (i, sub) in subs.iter_mut().enumerate() {
        let msg = next_msg(sub).await;
        assert_eq!(msg.payload, format!("{i}"));
        assert_eq!(msg.subject, format!("many.{i}"));
    }
}

#[tokio::test]
async fn no_echo_skips_own_messages() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::ConnectOptions::new()
        .no_echo(true)
        .connect(server.url())
        .await
        .unwrap();
    let other = rnats::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("e").await.unwrap();
    let mut watcher = other.subscribe("e").await.unwrap();
    client.flush().bounded().await.unwrap();
    other.flush().bounded().await.unwrap();
    client.publish("e", "mine").await.unwrap();
    // Once the flush returns the server has handled "mine": an echo would already be
    // queued ahead of "theirs".
    client.flush().bounded().await.unwrap();
    other.publish("e", "theirs").await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "theirs");
    // The other connection (echo on) got both, so "mine" was really published.
    assert_eq!(next_msg(&mut watcher).await.payload, "mine");
    assert_eq!(next_msg(&mut watcher).await.payload, "theirs");
}

#[tokio::test]
async fn connect_failure_lists_servers() {
    let _shared = crate::shared().await;
    // A port nothing listens on: bind, read the port, release it.
    let port = crate::free_port();
    let url = format!("nats://127.0.0.1:{port}");
    let err = rnats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(url.as_str())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), rnats::ErrorKind::ConnectFailed);
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test]
async fn several_urls_and_bare_host_port() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let bare = format!("127.0.0.1:{}", server.port());
    let client = rnats::connect(bare.as_str()).await.unwrap();
    client.flush().bounded().await.unwrap();
    // A second URL where nothing listens: the client connects to the one that answers.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("nats://{}", dead.local_addr().unwrap());
    drop(dead);
    let list = format!("{},{}, {}", server.url(), dead_url, server.url());
    let client = rnats::connect(list).await.unwrap();
    // The same server given twice is kept once.
    assert_eq!(client.servers().len(), 2);
    assert_eq!(client.connected_server().unwrap().port(), server.port());
    let client = rnats::connect(vec![server.url()]).await.unwrap();
    client.flush().bounded().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_server_restart_and_keeps_subscriptions() {
    let _shared = crate::shared().await;
    let server = std::sync::Arc::new(NatsServer::start());
    let client = rnats::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("r").await.unwrap();
    client.publish("r", "before").await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "before");
    let s = server.clone();
    tokio::task::spawn_blocking(move || s.restart())
        .await
        .unwrap();
    // Wait for the reconnect: a publish racing the server's death could be written to the
    // dead socket and lost (core NATS is at-most-once), which this test is not about.
    tokio::time::timeout(Duration::from_secs(10), async {
        while client.statistics().connects < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("reconnected");
    assert_eq!(client.statistics().reconnects, 1);
    client.publish("r", "after").await.unwrap();
    // The subscription was replayed on the new connection.
    assert_eq!(next_msg(&mut sub).await.payload, "after");
    assert_eq!(client.connection_state(), ConnectionState::Connected);
}

#[tokio::test]
async fn connect_failure_says_why() {
    let _shared = crate::shared().await;
    let port = crate::free_port();
    let err = rnats::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("refused"),
        "the cause is in the message: {err}"
    );
    assert_eq!(err.kind(), ErrorKind::ConnectFailed, "{err:?}");
    let cause = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<rnats::Error>())
        .unwrap();
    assert!(cause.is_io(), "{cause:?}");
}

/// `unsubscribe_after(max)` counts what was already received: when that many arrived, the
/// stream yields them and ends at once.
#[tokio::test]
async fn unsubscribe_after_a_count_already_reached_ends_now() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("reached").await.unwrap();
    for i in 0..3 {
        client.publish("reached", format!("{i}")).await.unwrap();
    }
    client.flush().bounded().await.unwrap();
    assert_eq!(sub.pending(), 3);
    sub.unsubscribe_after(2).await.unwrap();
    // Later messages are not delivered: the subscription is gone.
    client.publish("reached", "late").await.unwrap();
    client.flush().bounded().await.unwrap();
    let got: Vec<_> = collect_until_end(&mut sub)
        .await
        .into_iter()
        .map(|m| m.payload)
        .collect();
    assert_eq!(got, ["0", "1", "2"]);
}
