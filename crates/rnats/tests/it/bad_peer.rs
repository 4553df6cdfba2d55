//! A server that misbehaves, played by a scripted peer: garbage, a control line over the
//! limit, INFO with wrong types, inconsistent and truncated frames, a close in the middle of
//! a frame. Each must end that connection with a typed reason (never a panic, never a
//! half-frame delivered as a message), and the client must come back on the next
//! connection with its subscriptions replayed and nothing it was asked to publish lost.

use std::time::Duration;

use rnats::{ConnectOptions, ErrorKind, Event};
use tokio::net::TcpListener;

use crate::{next_msg, peer_listener, wait_event, Peer};

/// Reconnects to the same peer at once, however often.
fn options() -> ConnectOptions {
    ConnectOptions::new()
        .reconnect_delay_callback(|_| Duration::from_millis(5))
        .max_reconnects(None)
}

/// Plays `misbehave` on the first connection, then checks the second: the subscription
/// comes back, the publish made while disconnected arrives, a good message is delivered,
/// and nothing else was. Returns the reason the first connection ended with.
async fn survives(misbehave: &[u8], close_after: bool) -> std::sync::Arc<rnats::Error> {
    let (listener, url) = peer_listener().await;
    let (client, peer) = tokio::join!(options().connect(url.as_str()), Peer::accept(&listener));
    let (client, mut peer) = (client.expect("connects to the scripted peer"), peer);
    let mut events = client.events();
    let mut sub = client.subscribe("a").await.unwrap();
    peer.read_until(b"SUB a 1\r\n").await;
    peer.send(misbehave).await;
    if close_after {
        drop(peer);
    }
    let reason =
        match wait_event(&mut events, 10, |e| matches!(e, Event::Disconnected { .. })).await {
            Event::Disconnected { reason } => reason,
            other => unreachable!("{other:?}"),
        };
    // Published while there is no connection: kept for the next one.
    client.publish("during", "kept").await.unwrap();

    let mut again = accept_again(&listener).await;
    again.read_until(b"SUB a 1\r\n").await;
    again.read_until(b"PUB during 4\r\nkept\r\n").await;
    again.send(b"MSG a 1 2\r\nok\r\n").await;
    let m = next_msg(&mut sub).await;
    assert_eq!(m.payload, "ok", "only the good message is delivered");
    again.sync().await;
    assert_eq!(sub.pending(), 0, "nothing else was delivered");
    assert_eq!(sub.dropped(), 0);
    assert_eq!(client.connection_state(), rnats::ConnectionState::Connected);
    client.close().await.unwrap();
    reason
}

/// The client's next connection to the peer (it reconnects on its own).
async fn accept_again(listener: &TcpListener) -> Peer {
    Peer::accept(listener).await
}

#[tokio::test]
async fn garbage_is_a_protocol_error_and_the_client_comes_back() {
    let _shared = crate::shared().await;
    let reason = survives(b"\x00\xff\x13 nonsense\r\n", false).await;
    assert_eq!(reason.kind(), ErrorKind::Protocol, "{reason:?}");
}

#[tokio::test]
async fn a_control_line_over_the_limit_is_refused_without_waiting_for_its_end() {
    let _shared = crate::shared().await;
    // 64 KiB of a MSG line that never ends: the client must not buffer it forever.
    let mut line = b"MSG a 1 ".to_vec();
    line.extend(std::iter::repeat_n(b'x', 64 * 1024));
    let reason = survives(&line, false).await;
    assert_eq!(reason.kind(), ErrorKind::Protocol, "{reason:?}");
    // The cause (rnats-proto's error) is the source, as std's convention has it.
    let cause = std::error::Error::source(&*reason).map(ToString::to_string);
    assert!(
        cause.as_deref().is_some_and(|c| c.contains("4096 bytes")),
        "says what was wrong: {reason} / {cause:?}"
    );
}

#[tokio::test]
async fn an_info_with_wrong_types_is_a_protocol_error() {
    let _shared = crate::shared().await;
    let reason = survives(
        b"INFO {\"server_id\":7,\"max_payload\":\"big\",\"headers\":\"yes\"}\r\n",
        false,
    )
    .await;
    assert_eq!(reason.kind(), ErrorKind::Protocol, "{reason:?}");
}

#[tokio::test]
async fn an_hmsg_whose_header_is_longer_than_the_message_is_refused() {
    let _shared = crate::shared().await;
    let reason = survives(b"HMSG a 1 40 12\r\nNATS/1.0\r\n\r\nhi\r\n", false).await;
    assert_eq!(reason.kind(), ErrorKind::Protocol, "{reason:?}");
}

#[tokio::test]
async fn a_header_block_that_is_not_one_is_refused() {
    let _shared = crate::shared().await;
    let reason = survives(b"HMSG a 1 12 14\r\nHTTP/1.1 xx\r\nhi\r\n", false).await;
    assert_eq!(reason.kind(), ErrorKind::Protocol, "{reason:?}");
}

#[tokio::test]
async fn a_close_in_the_middle_of_a_frame_delivers_nothing_of_it() {
    let _shared = crate::shared().await;
    // The peer goes away after 3 of the 10 payload bytes: an I/O end, not a message.
    let reason = survives(b"MSG a 1 10\r\nhel", true).await;
    assert_ne!(reason.kind(), ErrorKind::Protocol, "{reason:?}");
}

#[tokio::test]
async fn a_close_in_the_middle_of_a_control_line_delivers_nothing() {
    let _shared = crate::shared().await;
    let reason = survives(b"MSG a 1", true).await;
    assert_ne!(reason.kind(), ErrorKind::Protocol, "{reason:?}");
}

#[tokio::test]
async fn a_negative_or_huge_size_is_a_protocol_error() {
    let _shared = crate::shared().await;
    for frame in [
        &b"MSG a 1 -5\r\nhello\r\n"[..],
        &b"MSG a 1 99999999999999999999999\r\n"[..],
    ] {
        let reason = survives(frame, false).await;
        assert_eq!(
            reason.kind(),
            ErrorKind::Protocol,
            "{:?}: {reason:?}",
            String::from_utf8_lossy(frame)
        );
    }
}

#[tokio::test]
async fn an_initial_info_with_wrong_types_fails_the_connect_saying_so() {
    let _shared = crate::shared().await;
    let (listener, url) = peer_listener().await;
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt;
        let (mut sock, _) = listener.accept().await.unwrap();
        let _ = sock
            .write_all(b"INFO {\"server_id\":[1],\"proto\":\"one\"}\r\n")
            .await;
        tokio::time::sleep(Duration::from_secs(10)).await;
    });
    let err = ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .connect(url.as_str())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectFailed, "{err:?}");
    let cause = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<rnats::Error>())
        .unwrap_or_else(|| panic!("no typed cause: {err:?}"));
    assert_eq!(cause.kind(), ErrorKind::Protocol, "{err:?}");
    assert!(err.to_string().contains("INFO"), "names the INFO: {err}");
}
