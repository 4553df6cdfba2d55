//! Atomic batch publishing (ADR-50): all of a batch is stored or none, the commit's ack
//! (batch id and size), committing without a last message (EOB), and the typed errors of a
//! stream without `allow_atomic` and of a batch the server refused.

use crate::jetstream::{js_server, memory_stream, with, within};
use rnats::jetstream::{self, Publish};

/// Whether the server's API level has `level`; prints why a test skips when not.
pub fn has_api_level(js: &jetstream::Context, level: i32, feature: &str) -> bool {
    let have = js.api_level();
    if have < level {
        eprintln!("skipping: {feature} needs JetStream API level {level}, the server has {have}");
        return false;
    }
    true
}

#[tokio::test]
async fn atomic_batch_all_or_nothing() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    if !has_api_level(&js, jetstream::api_level::V2_12, "atomic batches") {
        return;
    }
    js.create_stream(with(memory_stream("ATOM", &["atom.>"]), |c| {
        c.allow_atomic = true
    }))
    .await
    .unwrap();

    // A whole list at once: the commit's ack names the batch and its size.
    let ack = within(
        10,
        "publish_atomic",
        js.publish_atomic([
            ("atom.a", Publish::new().payload("1")),
            ("atom.b", Publish::new().payload("2")),
            ("atom.c", Publish::new().payload("3").message_id("m3")),
        ]),
    )
    .await
    .unwrap();
    assert_eq!((ack.stream.as_str(), ack.sequence), ("ATOM", 3));
    assert_eq!(ack.batch_size, Some(3));
    assert!(ack.batch_id.is_some());
    let stream = js.get_stream("ATOM").await.unwrap();
    let msg = stream.get_raw_message(2).await.unwrap();
    assert_eq!(msg.payload, "2");

    // Step by step, confirmed every 2nd message, committed without a last message.
    let mut batch = js.atomic_batch().unwrap().ack_every(2);
    for i in 0..5 {
        within(10, "add", batch.add("atom.s", format!("s{i}")))
            .await
            .unwrap();
    }
    assert_eq!(batch.len(), 5);
    let id = batch.id().to_owned();
    if has_api_level(&js, jetstream::api_level::V2_14, "commit without a message") {
        let ack = within(10, "eob commit", batch.commit_without_message())
            .await
            .unwrap();
        assert_eq!(ack.batch_size, Some(5));
        assert_eq!(ack.batch_id.as_deref(), Some(id.as_str()));
        assert_eq!(ack.sequence, 8);
    }
    let stored = js.stream_info("ATOM").await.unwrap().state.messages;

    // A batch whose first message expects the wrong last sequence: refused, nothing stored.
    let mut batch = js.atomic_batch().unwrap();
    within(
        10,
        "add",
        batch.add_with(
            "atom.x",
            Publish::new().payload("x").expected_last_sequence(999),
        ),
    )
    .await
    .unwrap();
    batch.add("atom.y", "y").await.unwrap();
    let err = within(10, "commit", batch.commit("atom.z", "z"))
        .await
        .unwrap_err();
    assert!(err.is_wrong_last_sequence(), "{err}");
    assert_eq!(js.stream_info("ATOM").await.unwrap().state.messages, stored);

    // A duplicate message id within the batch: the batch is rejected as a whole.
    let err = within(
        10,
        "publish_atomic",
        js.publish_atomic([
            ("atom.d", Publish::new().payload("1").message_id("dup")),
            ("atom.d", Publish::new().payload("2").message_id("dup")),
        ]),
    )
    .await
    .unwrap_err();
    assert!(err.is_batch_rejected(), "{err}");
    assert_eq!(js.stream_info("ATOM").await.unwrap().state.messages, stored);

    // Over the server's limit of messages per batch (1,000): rejected, nothing stored.
    let mut batch = js.atomic_batch().unwrap();
    let mut failed = None;
    for i in 0..1001 {
        if let Err(e) = batch.add("atom.big", i.to_string()).await {
            failed = Some(e);
            break;
        }
    }
    let err = match failed {
        Some(e) => e,
        None => within(10, "commit", batch.commit("atom.big", "last"))
            .await
            .unwrap_err(),
    };
    assert!(err.is_batch_rejected(), "{err}");
    assert_eq!(js.stream_info("ATOM").await.unwrap().state.messages, stored);

    // An empty list is the caller's mistake.
    let none: [(&str, Publish); 0] = [];
    assert!(js
        .publish_atomic(none)
        .await
        .unwrap_err()
        .is_invalid_argument());
}

#[tokio::test]
async fn atomic_batch_needs_allow_atomic() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    if !has_api_level(&js, jetstream::api_level::V2_12, "atomic batches") {
        return;
    }
    js.create_stream(memory_stream("PLAIN", &["plain.>"]))
        .await
        .unwrap();
    let mut batch = js.atomic_batch().unwrap();
    let err = within(10, "add", batch.add("plain.a", "1"))
        .await
        .unwrap_err();
    assert!(err.is_batch_not_enabled(), "{err}");
    // The batch is spent after its failure.
    assert!(batch
        .add("plain.b", "2")
        .await
        .unwrap_err()
        .is_invalid_argument());
    let err = within(
        10,
        "publish_atomic",
        js.publish_atomic([("plain.a", Publish::new().payload("1"))]),
    )
    .await
    .unwrap_err();
    assert!(err.is_batch_not_enabled(), "{err}");
    assert_eq!(js.stream_info("PLAIN").await.unwrap().state.messages, 0);
    // No stream at all: no responders.
    let err = within(
        10,
        "publish_atomic",
        js.publish_atomic([("nowhere.a", Publish::new().payload("1"))]),
    )
    .await
    .unwrap_err();
    assert!(err.is_no_responders(), "{err}");
}

#[tokio::test]
async fn fast_batch_publishes_with_flow_control() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    if !has_api_level(&js, jetstream::api_level::V2_14, "fast batches") {
        return;
    }
    js.create_stream(with(memory_stream("FAST", &["fast.>"]), |c| {
        c.allow_batched = true
    }))
    .await
    .unwrap();

    // Many messages with a small flow: the publisher waits on acknowledgements as it goes.
    let mut batch = js.fast_batch().unwrap().max_flow(10).start().await.unwrap();
    let mut last = None;
    for i in 0..500 {
        let ack = within(10, "add", batch.add("fast.a", i.to_string()))
            .await
            .unwrap();
        assert_eq!(ack.batch_sequence, i + 1);
        assert!(ack.ack_sequence <= ack.batch_sequence);
        last = Some(ack);
    }
    // Never more than max_outstanding (2) × flow (≤ 10) unacknowledged.
    let last = last.unwrap();
    assert!(last.batch_sequence - last.ack_sequence <= 20, "{last:?}");
    let ack = within(10, "commit", batch.commit("fast.a", "end"))
        .await
        .unwrap();
    assert_eq!(ack.batch_size, Some(501));
    assert_eq!(ack.sequence, 501);
    assert_eq!(js.stream_info("FAST").await.unwrap().state.messages, 501);

    // Committed without a last message.
    let mut batch = js.fast_batch().unwrap().start().await.unwrap();
    for i in 0..50 {
        batch.add("fast.b", i.to_string()).await.unwrap();
    }
    let ack = within(10, "eob commit", batch.commit_without_message())
        .await
        .unwrap();
    assert_eq!(ack.batch_size, Some(50));
    assert_eq!(js.stream_info("FAST").await.unwrap().state.messages, 551);

    // Gap mode ok: a refused message (wrong expected sequence) is reported, the rest stored.
    let mut batch = js
        .fast_batch()
        .unwrap()
        .gap_mode(jetstream::GapMode::Ok)
        .max_flow(1)
        .start()
        .await
        .unwrap();
    batch.add("fast.c", "1").await.unwrap();
    batch
        .add_with(
            "fast.c",
            Publish::new().payload("2").expected_last_sequence(1),
        )
        .await
        .unwrap();
    batch.add("fast.c", "3").await.unwrap();
    let ack = within(10, "commit", batch.commit("fast.c", "4"))
        .await
        .unwrap();
    assert_eq!(js.stream_info("FAST").await.unwrap().state.messages, 554);
    assert!(ack.batch_size.is_some());
}

#[tokio::test]
async fn fast_batch_needs_allow_batched() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    if !has_api_level(&js, jetstream::api_level::V2_14, "fast batches") {
        return;
    }
    js.create_stream(memory_stream("NOFAST", &["nofast.>"]))
        .await
        .unwrap();
    let mut batch = js.fast_batch().unwrap().start().await.unwrap();
    let err = within(10, "add", batch.add("nofast.a", "1"))
        .await
        .unwrap_err();
    assert!(err.is_batch_not_enabled(), "{err}");
    assert_eq!(js.stream_info("NOFAST").await.unwrap().state.messages, 0);
}

/// Gap mode fail: a refused message ends the batch; what came before it is kept, the commit
/// returns the final acknowledgement (or its error).
#[tokio::test]
async fn fast_batch_stops_at_an_error_in_fail_mode() {
    let _shared = crate::shared().await;
    let (_server, js) = js_server().await;
    if !has_api_level(&js, jetstream::api_level::V2_14, "fast batches") {
        return;
    }
    js.create_stream(with(memory_stream("FASTF", &["fastf.>"]), |c| {
        c.allow_batched = true
    }))
    .await
    .unwrap();
    let mut batch = js.fast_batch().unwrap().max_flow(1).start().await.unwrap();
    batch.add("fastf.a", "1").await.unwrap();
    batch.add("fastf.a", "2").await.unwrap();
    let refused = within(
        10,
        "add",
        batch.add_with(
            "fastf.a",
            Publish::new().payload("3").expected_last_sequence(99),
        ),
    )
    .await;
    // The refusal comes back asynchronously: seen at once or at one of the next messages
    // (which the ended batch no longer stores).
    let stopped = match refused {
        Err(e) => e,
        Ok(_) => {
            within(10, "the refusal", async {
                loop {
                    if let Err(e) = batch.add("fastf.a", "more").await {
                        return e;
                    }
                }
            })
            .await
        }
    };
    assert!(stopped.is_wrong_last_sequence(), "{stopped}");
    assert_eq!(batch.errors().len(), 1);
    assert_eq!(batch.errors()[0].sequence, 3);
    // The stream already ended the batch: the commit sends nothing and returns its ack.
    let ack = within(10, "commit", batch.commit("fastf.a", "5"))
        .await
        .unwrap();
    assert_eq!(ack.batch_size, Some(2));
    assert_eq!(js.stream_info("FASTF").await.unwrap().state.messages, 2);
}

/// A lost flow acknowledgement: a scripted server drops the acks of messages 2 and 3; the
/// publisher, waiting on them, pings (operation 4 at the highest sequence sent) and the
/// stream's answer to the ping lets it go on.
#[tokio::test]
async fn fast_batch_pings_for_a_lost_ack() {
    let _shared = crate::shared().await;
    const INFO: &[u8] = b"INFO {\"server_id\":\"scripted\",\"version\":\"2.15.1\",\"proto\":1,\"headers\":true,\"max_payload\":1048576,\"api_lvl\":4}\r\n";
    let (listener, url) = crate::peer_listener().await;
    let (client, mut peer) = tokio::join!(
        rnats::connect(url.as_str()),
        crate::Peer::accept_with_info(&listener, INFO)
    );
    let js = jetstream::ContextBuilder::new()
        .timeout(std::time::Duration::from_secs(2))
        .build(client.unwrap());
    let publisher = tokio::spawn(async move {
        let mut batch = js.fast_batch().unwrap().max_flow(1).start().await.unwrap();
        let mut acks = Vec::new();
        for i in 1..=3 {
            acks.push(batch.add("fast.s", i.to_string()).await.unwrap());
        }
        (acks, batch.commit("fast.s", "4").await.unwrap())
    });
    // The batch's inbox subscription and its sid.
    peer.read_until(b".> ").await;
    let sid = String::from_utf8(peer.read_until(b"\r\n").await).unwrap();
    let sid = sid.trim().to_owned();
    let answer = |reply: &[u8], json: &str| {
        let chunk = String::from_utf8_lossy(reply).into_owned();
        let reply = chunk.rsplit(' ').next().unwrap().to_owned();
        format!("MSG {reply} {sid} {}\r\n{json}\r\n", json.len())
    };
    let first = peer.read_until(b".1.0.$FI").await;
    let msg = answer(&first, r#"{"type":"ack","seq":1,"msgs":1}"#);
    peer.send(msg.as_bytes()).await;
    // Messages 2 and 3: their acks are "lost".
    peer.read_until(b".2.1.$FI").await;
    peer.read_until(b".3.1.$FI").await;
    // The publisher waits on them, then pings at sequence 3.
    let ping = peer.read_until(b".3.4.$FI").await;
    let msg = answer(&ping, r#"{"type":"ack","seq":3,"msgs":1}"#);
    peer.send(msg.as_bytes()).await;
    let commit = peer.read_until(b".4.2.$FI").await;
    let msg = answer(&commit, r#"{"stream":"S","seq":4,"batch":"b","count":4}"#);
    peer.send(msg.as_bytes()).await;
    let (acks, ack) = within(10, "the publisher", publisher).await.unwrap();
    assert_eq!(acks[0].ack_sequence, 1);
    assert_eq!((acks[2].batch_sequence, acks[2].ack_sequence), (3, 3));
    assert_eq!((ack.sequence, ack.batch_size), (4, Some(4)));
}
