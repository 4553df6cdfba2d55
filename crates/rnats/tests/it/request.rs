//! Request / reply: the shared reply subscription, pipelined `send_request`, timeouts (the
//! client's, per request, none), no responders, `new_inbox` and the inbox prefix.

use std::time::Duration;

use futures_util::StreamExt;
use rnats::{HeaderMap, StatusCode};
use rnats_test::NatsServer;

use crate::{next_msg, Bounded};

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

/// Regression (found by the Python bindings' tests): a client's first request failing its
/// own checks (oversized payload, invalid subject) after the reply subscription was queued
/// left that SUB in the write buffer without waking the driver, and every later publish,
/// flush and request stalled behind it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_request_refused_locally_does_not_stall_the_connection() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    for bad in ["oversized", "invalid subject"] {
        let client = rnats::connect(server.url()).await.unwrap();
        // Let the driver go idle (parked on the socket), as it is on a connection that was
        // quiet for a while: only a wake-up from a caller makes it write.
        tokio::time::sleep(Duration::from_millis(50)).await;
        let max = client.server_info().max_payload;
        let err = if bad == "oversized" {
            let request = rnats::Request::new().payload(vec![0u8; max + 1]);
            client.send_request("big", request).await.unwrap_err()
        } else {
            let request = rnats::Request::new().payload("x");
            client
                .send_request("bad subject", request)
                .await
                .unwrap_err()
        };
        assert!(!err.is_timeout(), "{bad}: refused at once: {err}");
        let mut sub = client.subscribe("after.refused").await.unwrap();
        client.publish("after.refused", "ok").await.unwrap();
        // Well within a second (the stall lasted until some timer woke the driver).
        let msg = tokio::time::timeout(Duration::from_secs(1), sub.next())
            .await
            .unwrap_or_else(|_| panic!("{bad}: the connection stalled"))
            .unwrap();
        assert_eq!(msg.payload, "ok", "{bad}");
        client.flush().bounded().await.unwrap();
        client.close().await.unwrap();
    }
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

/// Many requests in flight on several tasks of a two-thread runtime, each with its own answer:
/// answers are left in their slots and woken in batches, partly by the driver and partly by
/// whichever `Response` is polled first (on any task). A wake-up lost on the way leaves a
/// request waiting for its 5 s timeout, which fails the test; a crossed answer fails the
/// comparison. Then a close with requests outstanding ends every one of them at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_requests_in_flight_on_several_tasks_each_get_their_own_answer() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let responder = rnats::connect(server.url()).await.unwrap();
    let service = responder.subscribe("svc.echo").await.unwrap();
    responder.flush().bounded().await.unwrap();
    spawn_echo(&responder, service);
    let client = rnats::ConnectOptions::new()
        .request_timeout(Duration::from_secs(5))
        .connect(server.url())
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for t in 0..4u64 {
        let client = client.clone();
        tasks.push(tokio::spawn(async move {
            let answered = futures_util::stream::iter(0..1_000u64)
                .map(|i| {
                    let client = client.clone();
                    async move {
                        let payload = format!("{t}-{i}");
                        let answer = client.request("svc.echo", payload.clone()).await?;
                        assert_eq!(answer.payload, payload, "an answer went to another request");
                        Ok::<_, rnats::Error>(())
                    }
                })
                .buffer_unordered(32)
                .collect::<Vec<_>>()
                .await;
            answered
                .into_iter()
                .collect::<Result<Vec<_>, _>>()
                .map(|v| v.len())
        }));
    }
    for task in tasks {
        let answered = tokio::time::timeout(Duration::from_secs(30), task)
            .await
            .expect("the requests finished")
            .unwrap()
            .expect("every request was answered");
        assert_eq!(answered, 1_000);
    }

    // Outstanding requests (nobody answers this subject) end when the client closes.
    let _silent = client.subscribe("svc.silent").await.unwrap();
    client.flush().bounded().await.unwrap();
    let mut waiting = Vec::new();
    for _ in 0..64 {
        let request = rnats::Request::new().timeout(Duration::from_secs(60));
        waiting.push(client.send_request("svc.silent", request).await.unwrap());
    }
    client.close().bounded().await.unwrap();
    for response in waiting {
        let err = tokio::time::timeout(Duration::from_secs(5), response)
            .await
            .expect("a closed client ends its requests")
            .unwrap_err();
        assert!(err.is_connection_closed(), "{err:?}");
    }
    responder.close().bounded().await.unwrap();
}

/// A caller outside the runtime's tasks (this test's own future, run by `block_on`) has its
/// requests written at the end of a pass over its futures instead of by the driver: a burst
/// made with `buffer_unordered` is answered request by request, a lone request too, a loop
/// sending one at a time with many in flight as well, and a `send_request` dropped after its
/// first poll (the yield before the write) still has its request sent without holding back
/// the ones after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_from_outside_the_tasks_are_written_in_batches_and_never_held() {
    let _shared = crate::shared().await;
    assert!(
        tokio::task::try_id().is_none(),
        "the test's future must run outside the runtime's tasks"
    );
    let server = NatsServer::start();
    let responder = rnats::connect(server.url()).await.unwrap();
    let service = responder.subscribe("svc.echo").await.unwrap();
    let mut seen = responder.subscribe("svc.seen").await.unwrap();
    responder.flush().bounded().await.unwrap();
    spawn_echo(&responder, service);
    let client = rnats::connect(server.url()).await.unwrap();

    let answered = futures_util::stream::iter(0..2_000u32)
        .map(|i| {
            let client = client.clone();
            async move {
                let answer = client.request("svc.echo", i.to_string()).await?;
                assert_eq!(
                    answer.payload,
                    i.to_string(),
                    "an answer went to another request"
                );
                Ok::<_, rnats::Error>(())
            }
        })
        .buffer_unordered(64)
        .collect::<Vec<_>>()
        .bounded()
        .await;
    assert_eq!(answered.len(), 2_000);
    assert!(answered.iter().all(Result::is_ok), "{answered:?}");

    let lone = client.request("svc.echo", "lone").bounded().await.unwrap();
    assert_eq!(lone.payload, "lone");

    let mut pending = std::collections::VecDeque::new();
    for i in 0..500u32 {
        if pending.len() == 64 {
            let response: rnats::Response = pending.pop_front().unwrap();
            response.bounded().await.unwrap();
        }
        let request = rnats::Request::new().payload(i.to_string());
        pending.push_back(client.send_request("svc.echo", request).await.unwrap());
    }
    for response in pending {
        response.bounded().await.unwrap();
    }

    // Dropped during its yield: the request is still written (the responder sees it), its
    // answer is discarded, and the connection goes on.
    let mut dropped =
        Box::pin(client.send_request("svc.seen", rnats::Request::new().payload("dropped")));
    let first = std::future::poll_fn(|cx| {
        std::task::Poll::Ready(std::future::Future::poll(dropped.as_mut(), cx))
    })
    .await;
    assert!(
        first.is_pending(),
        "send_request yields once outside a task"
    );
    drop(dropped);
    assert_eq!(next_msg(&mut seen).await.payload, "dropped");
    let after = client.request("svc.echo", "after").bounded().await.unwrap();
    assert_eq!(after.payload, "after");

    client.close().bounded().await.unwrap();
    responder.close().bounded().await.unwrap();
}

/// Deadlines are kept by the driver's timer, so they must pass while it reconnects too: a
/// request sent before the server went away and one sent while it is away (with a sooner
/// deadline, which re-arms the timer mid-reconnect) both end with a timeout on time.
#[tokio::test]
async fn requests_time_out_while_the_client_reconnects() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let _silent = client.subscribe("silent").await.unwrap();
    client.flush().bounded().await.unwrap();
    let request = |ms| rnats::Request::new().timeout(Duration::from_millis(ms));
    let first_sent = std::time::Instant::now();
    let first = client.send_request("silent", request(1500)).await.unwrap();
    server.stop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let second_sent = std::time::Instant::now();
    let second = client.send_request("silent", request(300)).await.unwrap();

    let err = second.bounded().await.unwrap_err();
    let waited = second_sent.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_millis(1200),
        "{waited:?}"
    );
    let err = first.bounded().await.unwrap_err();
    let waited = first_sent.elapsed();
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        waited >= Duration::from_millis(1500) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    assert_ne!(
        client.connection_state(),
        rnats::ConnectionState::Connected,
        "the server is down: the timeouts above passed while reconnecting"
    );
}

/// A request's deadline must pass on time even while the driver is in the middle of a write
/// the server does not take (here the server is frozen with SIGSTOP and megabytes of
/// publishes fill the socket): the driver re-arms its timer without waiting for the write.
#[tokio::test]
async fn a_request_times_out_on_time_while_a_write_is_stuck() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    client.flush().bounded().await.unwrap();
    server.kill_signal(rnats_test::Signal::Stop);
    let publisher = client.clone();
    let filling = tokio::spawn(async move {
        let chunk = bytes::Bytes::from(vec![b'x'; 512 * 1024]);
        for _ in 0..128 {
            if publisher.publish("fill", chunk.clone()).await.is_err() {
                break;
            }
        }
    });
    // Let the driver take a batch the frozen server does not read.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let sent = std::time::Instant::now();
    let request = rnats::Request::new().timeout(Duration::from_millis(300));
    let response = client.send_request("nobody.reads", request).await.unwrap();
    let err = response.bounded().await.unwrap_err();
    let waited = sent.elapsed();
    server.kill_signal(rnats_test::Signal::Cont);
    assert!(err.is_timeout(), "{err:?}");
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    filling.abort();
    drop(client);
}

/// Answers every request on `service` with its own payload, through `responder`.
fn spawn_echo(responder: &rnats::Client, mut service: rnats::Subscriber) {
    let replier = responder.clone();
    tokio::spawn(async move {
        while let Some(req) = service.next().await {
            if let Some(reply) = req.reply {
                let _ = replier.publish(reply, req.payload).await;
            }
        }
    });
}
