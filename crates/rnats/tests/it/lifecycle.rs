//! The connection's life: flush as a server round trip, drain, close.

use std::time::Duration;

use rnats::{ConnectionState, ErrorKind};
use rnats_test::NatsServer;

use crate::{collect_until_end, next_msg, Bounded};

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
