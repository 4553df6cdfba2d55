//! The blocking client (feature `blocking`) from plain `#[test]` functions, with no runtime
//! of the test's own: connect, publish, the subscription iterator, request, flush, drain,
//! close, JetStream publish / fetch / ack, and the panic when called from async code.

use std::time::Duration;

use rnats::blocking;
use rnats_test::NatsServer;

#[test]
fn blocking_core() {
    let _shared = crate::shared_blocking();
    let server = NatsServer::start();
    let client = blocking::connect(server.url()).unwrap();

    // A responder on a thread of its own, itself a blocking subscription.
    let service = client.subscribe("svc.upper").unwrap();
    let responder = client.clone();
    let handle = std::thread::spawn(move || {
        let mut served = 0;
        for req in service {
            let reply = req.reply.unwrap();
            let text = String::from_utf8_lossy(&req.payload).to_uppercase();
            responder.publish(reply, text).unwrap();
            served += 1;
        }
        served
    });

    let mut sub = client.subscribe("greet.*").unwrap();
    for i in 0..5 {
        client
            .publish(format!("greet.{i}"), format!("hello {i}"))
            .unwrap();
    }
    client.flush().unwrap();
    let got: Vec<_> = (&mut sub).take(5).map(|m| m.payload).collect();
    assert_eq!(
        got,
        (0..5).map(|i| format!("hello {i}")).collect::<Vec<_>>()
    );
    // Nothing more: next_timeout says so with a timeout error.
    let err = sub.next_timeout(Duration::from_millis(50)).unwrap_err();
    assert!(err.is_timeout(), "{err}");

    let answer = client.request("svc.upper", "abc").unwrap();
    assert_eq!(answer.payload, "ABC");
    let answer = client
        .request_with(
            "svc.upper",
            rnats::Request::new()
                .payload("x")
                .timeout(Duration::from_secs(5)),
        )
        .unwrap();
    assert_eq!(answer.payload, "X");
    let err = client.request("svc.nobody", "").unwrap_err();
    assert!(err.is_no_responders(), "{err}");

    // Request-many as an iterator: the one responder's answer, then the stall ends it.
    let mut replies = client
        .request_many("svc.upper", "many", |r| {
            r.timeout(Duration::from_secs(5)).max_messages(1)
        })
        .unwrap();
    assert_eq!(replies.next().unwrap().payload, "MANY");
    assert!(replies.next().is_none());
    assert_eq!(replies.end(), Some(&rnats::RequestManyEnd::MaxMessages));

    // block_on runs any async call.
    blocking::block_on(client.async_client().rtt()).unwrap();

    // Drain ends the responder's iterator; the client is closed afterwards.
    client.drain().unwrap();
    assert_eq!(handle.join().unwrap(), 3);
    assert!(sub.next().is_none());
    assert!(client.publish("greet.x", "late").is_err());

    let other = blocking::connect(server.url()).unwrap();
    other.close().unwrap();
    assert!(other.flush().unwrap_err().is_connection_closed());
}

#[cfg(feature = "jetstream")]
#[test]
fn blocking_jetstream() {
    use rnats::jetstream::{consumer::pull, stream};
    let _shared = crate::shared_blocking();
    let server = NatsServer::start_jetstream();
    let client = blocking::connect(server.url()).unwrap();
    let js = client.jetstream();
    let mut config = stream::Config::new("BLK");
    config.subjects = vec!["blk.>".into()];
    let info = js.get_or_create_stream(config).unwrap();
    assert_eq!(info.config.name, "BLK");
    for i in 1..=3u64 {
        let ack = js.publish("blk.a", format!("m{i}")).unwrap();
        assert_eq!(ack.sequence, i);
    }
    let ack = js
        .publish_with(
            "blk.a",
            rnats::jetstream::Publish::new()
                .payload("m4")
                .message_id("id4"),
        )
        .unwrap();
    assert_eq!(ack.sequence, 4);
    blocking::block_on(
        js.context()
            .create_consumer_on_stream(pull::Config::durable("c"), "BLK"),
    )
    .unwrap();
    let msgs = js.fetch("BLK", "c", 10, Duration::from_secs(1)).unwrap();
    assert_eq!(msgs.len(), 4);
    assert_eq!(msgs[0].payload, "m1");
    for m in &msgs {
        js.ack(m).unwrap();
    }
    // Acked: the next fetch waits out its expiry and finds nothing.
    let msgs = js
        .fetch("BLK", "c", 10, Duration::from_millis(300))
        .unwrap();
    assert!(msgs.is_empty());
    // A consumer that does not exist: the API error, typed.
    let err = js
        .fetch("BLK", "nope", 1, Duration::from_millis(300))
        .unwrap_err();
    assert!(err.is_consumer_not_found(), "{err}");
    client.close().unwrap();
}

#[test]
#[should_panic(expected = "rnats::blocking: `connect` was called from inside a tokio runtime")]
fn blocking_call_in_async_context_panics() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let _ = blocking::connect("nats://127.0.0.1:1");
    });
}
