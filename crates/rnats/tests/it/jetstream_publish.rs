//! JetStream publishing: acks, de-duplication, expectations, TTLs, rollups, the ack window,
//! timeouts and the retry policies.

use std::time::Duration;

use crate::jetstream::{js_server, memory_stream, with, within};
use rnats::jetstream::{self, ErrorCode, Publish};
use rnats_test::NatsServer;

#[tokio::test]
async fn publish_acks_and_deduplicates_by_message_id() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    js.create_stream(with(memory_stream("PUB", &["pub.>"]), |c| {
        c.duplicate_window = Duration::from_secs(60)
    }))
    .await
    .unwrap();
    let ack = js.publish("pub.a", "one").await.unwrap().await.unwrap();
    assert_eq!(
        (ack.stream.as_str(), ack.sequence, ack.duplicate),
        ("PUB", 1, false)
    );
    assert_eq!(ack.domain, None);
    let first = js
        .publish_with("pub.a", Publish::new().payload("two").message_id("id-2"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((first.sequence, first.duplicate), (2, false));
    let again = js
        .publish_with("pub.a", Publish::new().payload("two").message_id("id-2"))
        .await
        .unwrap()
        .await
        .unwrap();
    assert_eq!((again.sequence, again.duplicate), (2, true));
    let info = js.stream_info("PUB").await.unwrap();
    assert_eq!(info.state.messages, 2);
}

#[tokio::test]
async fn publish_expectations_are_typed_errors() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    js.create_stream(memory_stream("EXP", &["exp.>"]))
        .await
        .unwrap();
    let publish = |subject: &'static str, p: Publish| {
        let js = js.clone();
        async move { js.publish_with(subject, p).await.unwrap().await }
    };
    publish("exp.a", Publish::new().message_id("m1"))
        .await
        .unwrap();

    let err = publish("exp.a", Publish::new().expected_stream("OTHER"))
        .await
        .unwrap_err();
    assert!(err.is_wrong_expected_stream(), "{err:?}");
    publish("exp.a", Publish::new().expected_stream("EXP"))
        .await
        .unwrap();

    let err = publish("exp.a", Publish::new().expected_last_sequence(1))
        .await
        .unwrap_err();
    assert!(err.is_wrong_last_sequence(), "{err:?}");
    publish("exp.a", Publish::new().expected_last_sequence(2))
        .await
        .unwrap();

    let err = publish("exp.b", Publish::new().expected_last_subject_sequence(3))
        .await
        .unwrap_err();
    assert!(err.is_wrong_last_sequence(), "{err:?}");
    publish("exp.b", Publish::new().expected_last_subject_sequence(0))
        .await
        .unwrap();
    publish("exp.a", Publish::new().expected_last_subject_sequence(3))
        .await
        .unwrap();

    let err = publish("exp.a", Publish::new().expected_last_message_id("nope"))
        .await
        .unwrap_err();
    assert!(err.is_wrong_last_message_id(), "{err:?}");
    let err = publish("nostream.a", Publish::new()).await.unwrap_err();
    assert!(err.is_no_responders(), "{err:?}");
}

#[tokio::test]
async fn per_message_ttl_removes_the_message() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let mut stream = js
        .create_stream(with(memory_stream("TTL", &["ttl.>"]), |c| {
            c.allow_message_ttl = true
        }))
        .await
        .unwrap();
    js.publish_with(
        "ttl.a",
        Publish::new().payload("short").ttl(Duration::from_secs(1)),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    js.publish("ttl.b", "kept").await.unwrap().await.unwrap();
    let m = stream.get_raw_message(1).await.unwrap();
    assert_eq!(m.headers.get("Nats-TTL"), Some("1s"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while stream.info().await.unwrap().state.messages != 1 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the TTL did not expire the message"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let err = js
        .publish_with("ttl.a", Publish::new().ttl(Duration::from_millis(10)))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument());
    // A stream without allow_msg_ttl refuses TTLs.
    js.create_stream(memory_stream("NOTTL", &["nottl"]))
        .await
        .unwrap();
    let err = js
        .publish_with("nottl", Publish::new().ttl(Duration::from_secs(5)))
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert_eq!(
        err.jetstream_error().map(|e| e.err_code),
        Some(ErrorCode::MESSAGE_TTL_DISABLED),
        "{err:?}"
    );
}

#[tokio::test]
async fn pipelined_publish_is_bounded_by_the_ack_window() {
    let _shared = crate::shared().await;
    let server = NatsServer::start_jetstream();
    let client = rnats::connect(server.url()).await.unwrap();
    let js = jetstream::ContextBuilder::new()
        .max_ack_inflight(2)
        .build(client);
    js.create_stream(memory_stream("WIN", &["win"]))
        .await
        .unwrap();
    let a = js.publish("win", "1").await.unwrap();
    let b = js.publish("win", "2").await.unwrap();
    // The window is full: the third publish waits until an acknowledgement is taken.
    let third = tokio::time::timeout(Duration::from_millis(300), js.publish("win", "3")).await;
    assert!(third.is_err(), "a third publish got through a window of 2");
    assert_eq!(a.await.unwrap().sequence, 1);
    let c = tokio::time::timeout(Duration::from_secs(5), js.publish("win", "3"))
        .await
        .expect("a place freed in the window")
        .unwrap();
    drop(b); // dropping an acknowledgement frees its place too
    let d = js.publish("win", "4").await.unwrap();
    // A publish that has to wait for a place goes out once one frees.
    let waiting = tokio::spawn({
        let js = js.clone();
        async move { js.publish("win", "5").await?.await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !waiting.is_finished(),
        "a publish got through a full window"
    );
    assert_eq!(c.await.unwrap().sequence, 3);
    assert_eq!(d.await.unwrap().sequence, 4);
    let fifth = tokio::time::timeout(Duration::from_secs(5), waiting)
        .await
        .expect("the waiting publish got a place")
        .unwrap()
        .unwrap();
    assert_eq!(fifth.sequence, 5);

    // Many in flight with a large window: every acknowledgement arrives, in order.
    let js = jetstream::ContextBuilder::new()
        .max_ack_inflight(256)
        .build(js.client().clone());
    let mut acks = std::collections::VecDeque::new();
    let mut last = 5;
    for i in 0..5000 {
        acks.push_back(js.publish("win", format!("{i}")).await.unwrap());
        if acks.len() == 256 {
            let ack = acks.pop_front().unwrap().await.unwrap();
            assert_eq!(ack.sequence, last + 1);
            last = ack.sequence;
        }
    }
    for ack in acks {
        let ack = ack.await.unwrap();
        assert_eq!(ack.sequence, last + 1);
        last = ack.sequence;
    }
    assert_eq!(js.stream_info("WIN").await.unwrap().state.messages, 5005);
}

#[tokio::test]
async fn request_timeout_applies_to_api_calls_and_acks() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    // Something answers nothing on the API subject: the context's timeout ends the wait.
    let _silent = client.subscribe("$JS.API.>").await.unwrap();
    let _silent_stream = client.subscribe("silent").await.unwrap();
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_millis(200))
        .build(client);
    assert_eq!(js.timeout(), Duration::from_millis(200));
    let started = tokio::time::Instant::now();
    let err = js.account_info().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    let err = js.publish("silent", "x").await.unwrap().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// A JetStream server, a context for its administration, and a publisher's context on a
/// connection of its own, whose counts of messages out and in tell its attempts apart
/// ([`out_in`]).
async fn js_server_and_publisher() -> (NatsServer, jetstream::Context, jetstream::Context) {
    let (server, admin) = js_server().await;
    let js = jetstream::new(rnats::connect(server.url()).await.unwrap());
    (server, admin, js)
}

/// The messages `js`'s connection sent and received so far: one publish attempt is one
/// message out and, with nobody listening, one no-responders status in.
fn out_in(js: &jetstream::Context) -> (u64, u64) {
    let s = js.client().statistics();
    (s.out_msgs, s.in_msgs)
}

/// The attempts of a publish, counted by its connection ([`out_in`]), with no retries, the
/// default retries, and retries until a stream appears.
#[tokio::test]
async fn publish_retries_no_responders_until_a_stream_appears() {
    let _shared = crate::shared().await;
    let (_server, admin, js) = js_server_and_publisher().await;
    let before = out_in(&js);
    let err = within(
        10,
        "a publish without retries",
        js.publish_with("late.a", Publish::new().payload("x").retry_attempts(0))
            .await
            .unwrap(),
    )
    .await
    .unwrap_err();
    assert!(err.is_no_responders(), "{err:?}");
    let after = out_in(&js);
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 1),
        "retried with 0 attempts"
    );

    // The DEFAULT policy: 2 retries 250 ms apart, so 3 attempts, then the no-responders error.
    let (before, started) = (out_in(&js), tokio::time::Instant::now());
    let err = within(
        10,
        "a default publish",
        js.publish("nowhere", "x").await.unwrap(),
    )
    .await
    .unwrap_err();
    let waited = started.elapsed();
    assert!(err.is_no_responders(), "{err:?}");
    let after = out_in(&js);
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (3, 3),
        "attempts, answers"
    );
    assert!(waited >= Duration::from_millis(450), "{waited:?}");

    // The stream is created (from another connection) once two attempts have failed: a
    // later retry is stored.
    let before = out_in(&js);
    let creator = {
        let client = js.client().clone();
        tokio::spawn(async move {
            while client.statistics().in_msgs < before.1 + 2 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            admin
                .create_stream(memory_stream("LATE", &["late.>"]))
                .await
                .unwrap();
        })
    };
    let ack = within(
        30,
        "a publish retried until the stream appears",
        js.publish_with(
            "late.a",
            Publish::new()
                .payload("x")
                .retry_attempts(100)
                .retry_wait(Duration::from_millis(100)),
        )
        .await
        .unwrap(),
    )
    .await
    .unwrap();
    within(10, "the stream's creation", creator).await.unwrap();
    assert_eq!((ack.stream.as_str(), ack.sequence), ("LATE", 1));
    let attempts = out_in(&js).0 - before.0;
    assert!(attempts >= 3, "stored after {attempts} attempts");
    eprintln!("stored at attempt {attempts}");
}

#[tokio::test]
async fn publish_retry_on_timeout_resends_the_same_message_id() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    // A fake stream that ignores the first two sends and acknowledges the third.
    let mut fake = client.subscribe("fake").await.unwrap();
    let _silent = client.subscribe("fake").await.unwrap(); // listens, never answers
    let responder = client.clone();
    let seen = tokio::spawn(async move {
        let mut ids = Vec::new();
        while let Some(msg) = futures_util::StreamExt::next(&mut fake).await {
            ids.push(
                msg.headers
                    .as_ref()
                    .unwrap()
                    .get("Nats-Msg-Id")
                    .unwrap()
                    .to_owned(),
            );
            if ids.len() == 3 {
                responder
                    .publish(
                        msg.reply.unwrap(),
                        r#"{"stream":"FAKE","seq":1,"duplicate":true}"#,
                    )
                    .await
                    .unwrap();
                return ids;
            }
        }
        ids
    });
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_millis(200))
        .build(client);
    let ack = js
        .publish_with(
            "fake",
            Publish::new()
                .payload("x")
                .retry_on_timeout(true)
                .retry_attempts(3)
                .retry_wait(Duration::from_millis(10)),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(ack.duplicate);
    let ids = within(5, "the fake stream's task", seen).await.unwrap();
    assert_eq!(ids.len(), 3);
    assert!(!ids[0].is_empty());
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    // Without retry_on_timeout a lost acknowledgement is a timeout at once.
    let err = js
        .publish_with("fake", Publish::new().payload("y"))
        .await
        .unwrap()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}

#[tokio::test]
async fn expected_sequence_of_other_subjects_and_rollups() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    let mut stream = js
        .create_stream(with(memory_stream("ROLL", &["roll.>"]), |c| {
            c.allow_rollup = true
        }))
        .await
        .unwrap();
    let publish = |subject: &'static str, p: Publish| {
        let js = js.clone();
        async move { js.publish_with(subject, p).await.unwrap().await }
    };
    publish("roll.a", Publish::new()).await.unwrap(); // 1
    publish("roll.b", Publish::new()).await.unwrap(); // 2
                                                      // The last of roll.* is 2, though roll.c has nothing yet.
    let err = publish(
        "roll.c",
        Publish::new()
            .expected_last_subject_sequence(1)
            .expected_last_subject_sequence_subject("roll.*"),
    )
    .await
    .unwrap_err();
    assert!(err.is_wrong_last_sequence(), "{err:?}");
    publish(
        "roll.c",
        Publish::new()
            .expected_last_subject_sequence(2)
            .expected_last_subject_sequence_subject("roll.*"),
    )
    .await
    .unwrap(); // 3
    publish("roll.a", Publish::new()).await.unwrap(); // 4
    publish("roll.a", Publish::new().payload("latest").rollup(false))
        .await
        .unwrap(); // 5 replaces 1 and 4
    assert_eq!(stream.info().await.unwrap().state.messages, 3);
    publish("roll.z", Publish::new().rollup(true))
        .await
        .unwrap(); // 6 replaces everything
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
}

#[tokio::test]
async fn a_message_id_is_new_again_after_the_duplicate_window() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    js.create_stream(with(memory_stream("WINDOW", &["window"]), |c| {
        c.duplicate_window = Duration::from_millis(500)
    }))
    .await
    .unwrap();
    let publish = || {
        let js = js.clone();
        async move {
            js.publish_with("window", Publish::new().message_id("same"))
                .await
                .unwrap()
                .await
                .unwrap()
        }
    };
    let first_at = tokio::time::Instant::now();
    assert!(!publish().await.duplicate);
    assert!(publish().await.duplicate);
    // Publish the id again until the server takes it as new (it forgets ids on a timer of
    // its own): not before the window has passed, and within 10 s.
    let again = loop {
        let ack = publish().await;
        if !ack.duplicate {
            break ack;
        }
        assert_eq!(ack.sequence, 1);
        assert!(
            first_at.elapsed() < Duration::from_secs(10),
            "the id was still remembered 10 s later"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(
        first_at.elapsed() >= Duration::from_millis(500),
        "the id was forgotten within the window, after {:?}",
        first_at.elapsed()
    );
    assert_eq!(again.sequence, 2);
}

/// Sixteen default publishes (2 retries, 250 ms apart) all answered "no responders" before
/// anyone awaits them; once the stream exists, awaited one after another, each retries at
/// once, because its wait counts from when its answer arrived, long past: not 250 ms from
/// when it is polled, which made a window of failed publishes cost 250 ms each, in a row
/// (16 here: 4 s), and pushed their retries into whatever came later (a next leader election).
#[tokio::test]
async fn acks_polled_late_retry_no_responders_at_once() {
    let _shared = crate::shared().await;
    let (_server, admin, js) = js_server_and_publisher().await;
    let before = out_in(&js);
    let mut acks = Vec::new();
    for i in 0..16 {
        acks.push(js.publish("later.x", i.to_string()).await.unwrap());
    }
    within(10, "the sixteen no-responders answers", async {
        while out_in(&js).1 < before.1 + 16 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    admin
        .create_stream(memory_stream("LATER", &["later.>"]))
        .await
        .unwrap();
    let started = tokio::time::Instant::now();
    for (i, ack) in acks.into_iter().enumerate() {
        let ack = within(10, "a retried publish", ack).await.unwrap();
        assert_eq!((ack.stream.as_str(), ack.sequence), ("LATER", i as u64 + 1));
    }
    let waited = started.elapsed();
    assert_eq!(out_in(&js).0 - before.0, 32, "one retry each");
    assert!(
        waited < Duration::from_secs(2),
        "the retries waited anew from their polls: {waited:?}"
    );
}
