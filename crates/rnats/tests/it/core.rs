//! Core NATS: publish, subscribe, queue groups, request/reply, flush, drain, close.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use rnats::{ConnectionState, ErrorKind, HeaderMap, StatusCode};
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
async fn request_reply() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut service = client.subscribe("svc.echo").await.unwrap();
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(req) = service.next().await {
            let mut h = HeaderMap::new();
            h.insert("Seen", "yes");
            let reply = req.reply.unwrap();
            responder
                .publish_with_reply_and_headers(reply, "unused.reply", h, req.payload)
                .await
                .unwrap();
        }
    });
    // Many concurrent requests share one inbox subscription.
    let mut tasks = Vec::new();
    for i in 0..50 {
        let c = client.clone();
        tasks.push(tokio::spawn(async move {
            let answer = c.request("svc.echo", format!("ping {i}")).await.unwrap();
            assert_eq!(answer.payload, format!("ping {i}"));
            assert_eq!(answer.headers.unwrap().get("Seen"), Some("yes"));
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut h = HeaderMap::new();
    h.insert("K", "V");
    let answer = client
        .request_with(
            "svc.echo",
            rnats::Request::new()
                .payload("with headers")
                .headers(h)
                .timeout(Duration::from_secs(2)),
        )
        .await
        .unwrap();
    assert_eq!(answer.payload, "with headers");
}

/// `send_request` keeps many requests in flight from one task: each answer reaches its own
/// `Response`, whatever the order they are awaited in; a dropped `Response` takes nothing
/// from the others; timeouts count from the send; a subject nobody serves is no-responders.
#[tokio::test]
async fn pipelined_requests_with_send_request() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut service = client.subscribe("svc.square").await.unwrap();
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(req) = service.next().await {
            let n: u64 = std::str::from_utf8(&req.payload).unwrap().parse().unwrap();
            let answer = (n * n).to_string();
            responder.publish(req.reply.unwrap(), answer).await.unwrap();
        }
    });
    let mut pending = Vec::new();
    for i in 0..500u64 {
        let request = rnats::Request::new().payload(i.to_string());
        pending.push((i, client.send_request("svc.square", request).await.unwrap()));
    }
    // Drop every tenth before it is answered; await the rest newest first.
    pending.retain(|(i, _)| i % 10 != 0);
    for (i, response) in pending.into_iter().rev() {
        let answer = response.await.unwrap();
        assert_eq!(answer.payload, (i * i).to_string());
    }

    let err = client
        .send_request("nobody.home", rnats::Request::new())
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(err.is_no_responders(), "{err:?}");

    // Nobody answers on this subject: the timeout counts from the send, not from the await.
    // Sent, then left alone past its timeout: the first await must fail at once (counted
    // from the await, it would take the whole second).
    let _silent = client.subscribe("svc.silent").await.unwrap();
    client.flush().bounded().await.unwrap();
    let response = client
        .send_request(
            "svc.silent",
            rnats::Request::new().timeout(Duration::from_secs(1)),
        )
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let awaited = std::time::Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .expect("a timed-out Response completes")
        .unwrap_err();
    let waited = awaited.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        waited < Duration::from_millis(500),
        "the await waited {waited:?}: the timeout did not count from the send"
    );

    // Invalid subjects are refused before anything is sent.
    let err = client
        .send_request("bad subject", rnats::Request::new())
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
    // The connection is still fine.
    let answer = client
        .send_request("svc.square", rnats::Request::new().payload("7"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(answer.payload, "49");
}

#[tokio::test]
async fn request_to_nobody_is_no_responders() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let started = std::time::Instant::now();
    let err = client.request("nobody.home", "?").await.unwrap_err();
    assert!(err.is_no_responders(), "{err:?}");
    assert!(!err.is_timeout());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "fails fast, not by timeout"
    );
    assert!(err.to_string().contains("nobody.home"), "{err}");
}

#[tokio::test]
async fn request_timeout() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::ConnectOptions::new()
        .request_timeout(Duration::from_secs(1))
        .connect(server.url())
        .await
        .unwrap();
    // A subscriber that never answers.
    let _silent = client.subscribe("silent").await.unwrap();
    client.flush().bounded().await.unwrap();
    // The option's 1 s, not the 10 s default: not sooner, and well before 10 s.
    let started = std::time::Instant::now();
    let err = client.request("silent", "?").bounded().await.unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(err.to_string().contains("1s"), "{err}");
    assert!(
        elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    // A request's own timeout wins over the option's, longer or shorter.
    let started = std::time::Instant::now();
    let err = client
        .request_with(
            "silent",
            rnats::Request::new().timeout(Duration::from_millis(2500)),
        )
        .bounded()
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(2500) && elapsed < Duration::from_secs(8),
        "{elapsed:?}"
    );
    let started = std::time::Instant::now();
    let err = client
        .request_with(
            "silent",
            rnats::Request::new().timeout(Duration::from_millis(100)),
        )
        .bounded()
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        elapsed >= Duration::from_millis(100) && elapsed < Duration::from_millis(900),
        "shorter than the option's 1 s: {elapsed:?}"
    );
}

#[tokio::test]
async fn replies_via_new_inbox() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let inbox = client.new_inbox();
    assert!(inbox.starts_with("_INBOX."));
    assert_ne!(inbox, client.new_inbox());
    let mut replies = client.subscribe(inbox.as_str()).await.unwrap();
    let mut svc = client.subscribe("svc").await.unwrap();
    client
        .publish_with_reply("svc", inbox.as_str(), "q")
        .await
        .unwrap();
    let req = next_msg(&mut svc).await;
    assert_eq!(req.reply.as_deref(), Some(inbox.as_str()));
    client.publish(req.reply.unwrap(), "a").await.unwrap();
    assert_eq!(next_msg(&mut replies).await.payload, "a");
}

/// A flush completes only when the server's PONG comes: a scripted peer holds it back.
/// Everything published before the flush is written before its PING; two flushes in flight
/// complete one PONG each, in order.
#[tokio::test]
async fn flush_is_a_round_trip() {
    use futures_util::FutureExt as _;
    let _shared = crate::shared().await;
    let (listener, url) = crate::peer_listener().await;
    let (client, mut peer) =
        tokio::join!(rnats::connect(url.as_str()), crate::Peer::accept(&listener));
    let client = client.unwrap();
    for i in 0..1000 {
        client.publish("f", format!("{i}")).await.unwrap();
    }
    let mut first = std::pin::pin!(client.flush());
    assert!(first.as_mut().now_or_never().is_none(), "sent its PING");
    // The server has every message before the PING, in order.
    let before = peer.read_until(b"PING\r\n").await;
    let expected: String = (0..1000)
        .map(|i| format!("PUB f {}\r\n{i}\r\n", i.to_string().len()))
        .collect();
    assert_eq!(
        String::from_utf8_lossy(&before),
        format!("{expected}PING\r\n")
    );
    let mut second = std::pin::pin!(client.flush());
    assert!(second.as_mut().now_or_never().is_none());
    peer.read_until(b"PING\r\n").await;
    // The client has read everything the peer sent (its PONG to our PING says so), and
    // neither flush is complete: no PONG yet.
    peer.sync().await;
    assert!(
        first.as_mut().now_or_never().is_none(),
        "completed without a PONG"
    );
    assert!(
        second.as_mut().now_or_never().is_none(),
        "completed without a PONG"
    );
    // One PONG completes the first flush only.
    peer.send(b"PONG\r\n").await;
    tokio::time::timeout(Duration::from_secs(5), first)
        .await
        .expect("the first flush completes on the PONG")
        .unwrap();
    peer.sync().await;
    assert!(
        second.as_mut().now_or_never().is_none(),
        "one PONG, one flush"
    );
    peer.send(b"PONG\r\n").await;
    tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("the second flush completes on the second PONG")
        .unwrap();
    assert_eq!(client.statistics().out_msgs, 1000);
}

#[tokio::test]
async fn drain_delivers_everything_received_then_closes() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let publisher = rnats::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("d").await.unwrap();
    client.flush().bounded().await.unwrap();
    let n = 5000;
    for i in 0..n {
        publisher.publish("d", format!("{i}")).await.unwrap();
    }
    publisher.flush().bounded().await.unwrap();
    client.drain().bounded().await.unwrap();
    assert_eq!(client.connection_state(), ConnectionState::Closed);
    let got = collect_until_end(&mut sub).await;
    assert_eq!(got.len(), n);
    assert!(got
        .iter()
        .enumerate()
        .all(|(i, m)| m.payload == format!("{i}")));
    let err = client.subscribe("again").await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionClosed, "{err:?}");
}

#[tokio::test]
async fn close_ends_subscriptions_and_refuses_work() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("c").await.unwrap();
    client.close().bounded().await.unwrap();
    assert_eq!(client.connection_state(), ConnectionState::Closed);
    assert!(collect_until_end(&mut sub).await.is_empty());
    let closed = |err: rnats::Error| assert_eq!(err.kind(), ErrorKind::ConnectionClosed, "{err:?}");
    closed(client.publish("c", "x").await.unwrap_err());
    closed(client.request("c", "x").await.unwrap_err());
    closed(client.flush().bounded().await.unwrap_err());
    closed(client.subscribe("c").await.unwrap_err());
    closed(client.force_reconnect().await.unwrap_err());
    // Closing twice is fine.
    client.close().bounded().await.unwrap();
}

#[tokio::test]
async fn publishes_are_written_before_close() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let observer = rnats::connect(server.url()).await.unwrap();
    let mut sub = observer.subscribe("last").await.unwrap();
    observer.flush().bounded().await.unwrap();
    {
        let client = rnats::connect(server.url()).await.unwrap();
        for i in 0..100 {
            client.publish("last", format!("{i}")).await.unwrap();
        }
        client.close().bounded().await.unwrap();
    }
    for i in 0..100 {
        assert_eq!(next_msg(&mut sub).await.payload, format!("{i}"));
    }
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

#[tokio::test]
async fn status_of_no_responders_is_visible_on_messages() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let inbox = client.new_inbox();
    let mut replies = client.subscribe(inbox.as_str()).await.unwrap();
    // Any publish with a reply subject and no subscriber gets the server's 503 status message
    // on the reply subject (the client asked for no_responders in CONNECT).
    client
        .publish_with_reply("nobody", inbox.as_str(), "")
        .await
        .unwrap();
    let msg = next_msg(&mut replies).await;
    assert_eq!(msg.status, Some(StatusCode::NO_RESPONDERS));
    assert!(msg.payload.is_empty());
    assert_eq!(msg.subject, inbox.as_str());
    // Through the request path the same status is an error.
    let err = client.request("nobody", "").await.unwrap_err();
    assert!(err.is_no_responders());
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

/// Requests' reply subjects and `new_inbox` use the `inbox_prefix`, as the responder sees
/// them; the answers come back through the client's reply subscription under it. A prefix
/// that is not a plain subject is refused when connecting.
#[tokio::test]
async fn inbox_prefix_is_used_by_requests_and_new_inbox() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let responder = rnats::connect(server.url()).await.unwrap();
    let mut service = responder.subscribe("svc.prefix").await.unwrap();
    responder.flush().bounded().await.unwrap();
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(req) = service.next().await {
            let reply = req.reply.expect("a request has a reply subject");
            seen_tx.send(reply.to_string()).unwrap();
            responder.publish(reply, "answer").await.unwrap();
        }
    });
    let client = rnats::ConnectOptions::new()
        .inbox_prefix("my.replies")
        .connect(server.url())
        .await
        .unwrap();
    assert!(client.new_inbox().starts_with("my.replies."));
    let answer = client.request("svc.prefix", "q").await.unwrap();
    assert_eq!(answer.payload, "answer");
    assert!(
        answer.subject.starts_with("my.replies."),
        "{}",
        answer.subject
    );
    let reply = seen.recv().await.unwrap();
    assert!(reply.starts_with("my.replies."), "{reply}");
    assert_eq!(reply, answer.subject.as_str());
    let answer = client
        .send_request("svc.prefix", rnats::Request::new())
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!(answer.payload, "answer");
    assert!(seen.recv().await.unwrap().starts_with("my.replies."));

    for bad in ["bad prefix", "a.*", "a.>", ""] {
        let err = rnats::ConnectOptions::new()
            .inbox_prefix(bad)
            .connect(server.url())
            .await
            .unwrap_err();
        assert!(err.is_invalid_argument(), "{bad:?}: {err:?}");
    }
}

/// `Request::no_timeout` waits for the answer however long it takes: here past the
/// client's 200 ms request timeout, which would have failed it.
#[tokio::test]
async fn a_request_without_timeout_outlives_the_client_request_timeout() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::ConnectOptions::new()
        .request_timeout(Duration::from_millis(200))
        .connect(server.url())
        .await
        .unwrap();
    let mut service = client.subscribe("svc.late").await.unwrap();
    client.flush().bounded().await.unwrap();
    let response = client
        .send_request("svc.late", rnats::Request::new().no_timeout())
        .await
        .unwrap();
    let with_default = client
        .send_request("svc.late", rnats::Request::new())
        .await
        .unwrap();
    let request = next_msg(&mut service).await;
    next_msg(&mut service).await;
    // The one with the client's timeout gives up meanwhile.
    let err = with_default.bounded().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    tokio::time::sleep(Duration::from_millis(400)).await;
    client
        .publish(request.reply.unwrap(), "late answer")
        .await
        .unwrap();
    let answer = response.bounded().await.unwrap();
    assert_eq!(answer.payload, "late answer");
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
