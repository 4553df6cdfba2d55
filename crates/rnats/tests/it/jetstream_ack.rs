//! Acknowledgements: every ack kind as sent on the wire and as the server sees it, `+TERM`
//! reasons, `in_progress`, redelivery with backoff.

use std::time::Duration;

use futures_util::StreamExt;
use rnats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use rnats::jetstream::{self};

use crate::jetstream::{js_server, with, within};
use crate::jetstream_consumer::{drain, fetch_exact, next_within, publish_n, stream_with};

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
