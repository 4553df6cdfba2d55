//! The ordered consumer: in order, exactly once, across deletions, restarts, missed
//! heartbeats and sequence gaps.

use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use rnats::jetstream::consumer::{self, AckPolicy};
use rnats::jetstream::stream;

use crate::jetstream::{js_server, within};
use crate::jetstream_consumer::{next_within, publish_n, restartable_stream, stream_with};

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
    assert_eq!(messages.consumer_name(), Some(names[0].as_str()));
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
    assert_eq!(
        messages.consumer_name(),
        Some(format!("{prefix}_2").as_str())
    );
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
    let (server, js, stream) = restartable_stream("ORDR", "ordr").await;
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

/// Another client's pull of one delivery of `consumer` (of `stream`), waiting up to `expires_s`
/// seconds: the way to make a gap in an ordered consumer's deliveries (a forged delivery cannot
/// be injected: the server drops client messages with a `$JS.ACK` reply subject). Returns the
/// client and the subscription the delivery comes to.
async fn thief_pull(
    server: &rnats_test::NatsServer,
    stream: &str,
    consumer: &str,
    expires_s: u64,
) -> (rnats::Client, rnats::Subscriber) {
    let thief = rnats::connect(server.url()).await.unwrap();
    let inbox = thief.new_inbox();
    let stolen = thief.subscribe(inbox.as_str()).await.unwrap();
    thief
        .publish_with_reply(
            format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
            inbox.as_str(),
            format!(r#"{{"batch":1,"expires":{}}}"#, expires_s * 1_000_000_000),
        )
        .await
        .unwrap();
    thief.flush().await.unwrap();
    (thief, stolen)
}

/// The stream sequence of a delivery of `consumer` of `stream`, from its reply subject
/// (`$JS.ACK.<stream>.<consumer>.<delivered>.<stream seq>.<consumer seq>.<ts>.<pending>`).
fn stolen_stream_seq(taken: &rnats::Message, stream: &str, consumer: &str) -> u64 {
    let reply = taken.reply.clone().expect("a delivery has an ack subject");
    let tokens: Vec<&str> = reply.split('.').collect();
    assert_eq!(&tokens[..4], ["$JS", "ACK", stream, consumer], "{reply}");
    tokens[5].parse().unwrap()
}

/// A memory stream `name` on `subject` with `n` messages, an ordered consumer on it with 500 ms
/// heartbeats that has delivered all `n`, and the name of its (only) consumer.
async fn ordered_after(
    js: &rnats::jetstream::Context,
    name: &str,
    subject: &str,
    n: u64,
) -> (stream::Stream, consumer::Ordered, String) {
    let stream = stream_with(js, name, &[subject]).await;
    publish_n(js, subject, usize::try_from(n).unwrap()).await;
    let mut config = consumer::OrderedConfig::default();
    config.heartbeat = Duration::from_millis(500);
    let mut messages = stream.ordered_messages(config).await.unwrap();
    read_ordered(&mut messages, 1, n, |_| {}).await;
    let names = consumer_names(&stream).await;
    assert_eq!(names.len(), 1, "{names:?}");
    assert_eq!(messages.resets(), 0);
    let consumer_name = names[0].clone();
    (stream, messages, consumer_name)
}

/// A frozen server: the ordered consumer misses its heartbeats, recreates its consumer (a new
/// name) once the server is back, and delivers every sequence once, in order.
#[tokio::test]
async fn ordered_consumer_recovers_from_missed_heartbeats() {
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let (stream, mut messages, first) = ordered_after(&js, "ORDHB", "ordhb", 20).await;
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
    let name = format!("{}_{}", first.rsplit_once('_').unwrap().0, resets + 1);
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
    let (_thief, mut stolen) = thief_pull(&server, "ORDGAP", &consumer_name, 10).await;
    publish_n(&js, "ordgap", 10).await;
    let taken = next_within(&mut stolen, 10, "the stolen delivery").await;
    let taken_seq = stolen_stream_seq(&taken, "ORDGAP", &consumer_name);
    assert!((11..=20).contains(&taken_seq), "{taken_seq}");
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

/// A gap at the end, with nothing after it: another client takes the last delivery of the
/// ordered consumer's consumer and no message follows. The consumer's next idle heartbeat
/// says which delivery was its last; the ordered consumer sees it never got it, recreates
/// its consumer and delivers that message, in order, without waiting for another one (a
/// message lost with a broken connection is the same case).
#[tokio::test]
async fn ordered_consumer_finds_a_gap_at_the_end_from_a_heartbeat() {
    let _shared = crate::shared().await;
    let (server, js) = js_server().await;
    let (_stream, mut messages, consumer_name) = ordered_after(&js, "ORDTAIL", "ordtail", 5).await;
    let (_thief, mut stolen) = thief_pull(&server, "ORDTAIL", &consumer_name, 30).await;
    // One message at a time until the thief has one: then nothing more is published.
    let mut taken_seq = None;
    for _ in 0..20 {
        publish_n(&js, "ordtail", 1).await;
        if let Ok(Some(taken)) =
            tokio::time::timeout(Duration::from_millis(300), stolen.next()).await
        {
            taken_seq = Some(stolen_stream_seq(&taken, "ORDTAIL", &consumer_name));
            break;
        }
    }
    let last = taken_seq.expect("the thief's pull was never served");
    assert!(last > 5, "{last}");
    // Every message up to the stolen one, the stolen one too, with nothing published after.
    read_ordered(&mut messages, 6, last - 5, |_| {}).await;
    assert_eq!(messages.resets(), 1, "one gap, one recreation");
    assert!(
        tokio::time::timeout(Duration::from_secs(2), messages.next())
            .await
            .is_err(),
        "nothing more was published"
    );
    assert_eq!(
        messages.resets(),
        1,
        "idle heartbeats of the new consumer agree"
    );
}
