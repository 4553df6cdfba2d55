//! Push consumers: deliver groups, flow control, missed heartbeats, `Nats-Consumer-Stalled`,
//! a deleted consumer.

use std::collections::BTreeSet;
use std::time::Duration;

use futures_util::StreamExt;
use rnats::jetstream::consumer::{self, pull, AckPolicy};
use rnats::jetstream::stream;

use crate::jetstream::js_server;
use crate::jetstream_consumer::{next_within, publish_n, stream_with};

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
