//! Wire cases a real server never produces, played by a scripted peer on loopback.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

use crate::{peer_listener, Peer};

/// Connects a client to a scripted peer; both sides are returned once the handshake is done.
async fn connected(options: rnats::ConnectOptions) -> (rnats::Client, Peer) {
    let (listener, url) = peer_listener().await;
    let (client, peer) = tokio::join!(options.connect(url.as_str()), Peer::accept(&listener));
    (client.expect("connects to the scripted peer"), peer)
}

#[tokio::test]
async fn split_frames_are_reassembled() {
    let _shared = crate::shared().await;
    let (client, mut peer) = connected(rnats::ConnectOptions::new()).await;
    let mut sub = client.subscribe("a").await.unwrap();
    // Frames for sid 1 only once the client has subscribed: earlier ones would be dropped.
    peer.read_until(b"SUB a 1\r\n").await;
    peer.sock.set_nodelay(true).unwrap();
    let frames: &[u8] = b"MSG a 1 5\r\nhello\r\nHMSG a 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n";
    // Partial writes: the client must reassemble.
    for chunk in frames.chunks(3) {
        peer.send(chunk).await;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert_eq!(crate::next_msg(&mut sub).await.payload, "hello");
    let m = crate::next_msg(&mut sub).await;
    assert_eq!(m.payload, "hi");
    assert!(m.headers.unwrap().is_empty());
    assert_eq!(sub.pending(), 0);
}

#[tokio::test]
async fn malformed_frame_drops_the_connection_without_panic() {
    let _shared = crate::shared().await;
    let (client, mut peer) =
        connected(rnats::ConnectOptions::new().retain_servers_order(true)).await;
    let mut events = client.events();
    let _sub = client.subscribe("a").await.unwrap();
    peer.read_until(b"SUB a 1\r\n").await;
    // The payload is not followed by CRLF.
    peer.send(b"MSG a 1 5\r\nhelloXX").await;
    // The client sees the corrupt frame, drops that connection (a protocol error, said so)
    // and tries to reconnect.
    let e = crate::wait_event(&mut events, 5, |e| {
        matches!(e, rnats::Event::Disconnected { .. })
    })
    .await;
    let rnats::Event::Disconnected { reason } = e else {
        unreachable!()
    };
    assert_eq!(reason.kind(), rnats::ErrorKind::Protocol, "{reason:?}");
    assert_ne!(client.connection_state(), rnats::ConnectionState::Connected);
    tokio::time::timeout(Duration::from_secs(5), client.close())
        .await
        .expect("close returns while reconnecting")
        .unwrap();
    assert_eq!(client.connection_state(), rnats::ConnectionState::Closed);
}

#[tokio::test]
async fn a_peer_that_never_sends_info_fails_in_bounded_time() {
    let _shared = crate::shared().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("nats://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (_sock, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let started = std::time::Instant::now();
    let err = rnats::ConnectOptions::new()
        .connection_timeout(Duration::from_millis(500))
        .connect(url.as_str())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    // The connection timeout is what ended it: not before it, and not much after.
    assert!(
        elapsed >= Duration::from_millis(500) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );
    assert_eq!(err.kind(), rnats::ErrorKind::ConnectFailed);
    assert!(err.to_string().contains("took longer than 500ms"), "{err}");
    let cause = source_of(&err);
    assert!(cause.is_timeout(), "{cause:?}");
}

/// The typed cause of a failed connect.
fn source_of(err: &rnats::Error) -> &rnats::Error {
    std::error::Error::source(err)
        .and_then(|s| s.downcast_ref::<rnats::Error>())
        .unwrap_or_else(|| panic!("no rnats::Error source: {err:?}"))
}

#[tokio::test]
async fn a_peer_that_is_not_nats_fails_with_a_protocol_error() {
    let _shared = crate::shared().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("nats://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let _ = sock
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    });
    let started = std::time::Instant::now();
    let err = rnats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(2))
        .connect(url.as_str())
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.kind(), rnats::ErrorKind::ConnectFailed, "{err:?}");
    assert_eq!(
        source_of(&err).kind(),
        rnats::ErrorKind::Protocol,
        "{err:?}"
    );
    assert!(
        err.to_string().contains("unknown operation"),
        "says what was wrong: {err}"
    );
}

/// `rtt` is one PING / PONG: a peer that holds the PONG back 300 ms makes it at least that.
#[tokio::test]
async fn rtt_is_the_time_to_the_pong() {
    let _shared = crate::shared().await;
    let (client, mut peer) = connected(rnats::ConnectOptions::new()).await;
    let (rtt, ()) = tokio::join!(
        tokio::time::timeout(Duration::from_secs(5), client.rtt()),
        async {
            peer.read_until(b"PING\r\n").await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            peer.send(b"PONG\r\n").await;
        }
    );
    let rtt = rtt.expect("rtt completes once the PONG is sent").unwrap();
    assert!(
        rtt >= Duration::from_millis(300) && rtt < Duration::from_secs(5),
        "{rtt:?}"
    );
}

/// What the options put in CONNECT, as the server reads it.
#[tokio::test]
async fn connect_carries_the_name_echo_and_credentials() {
    let _shared = crate::shared().await;
    let (_client, peer) = connected(
        rnats::ConnectOptions::new()
            .name("billing-worker")
            .no_echo(true)
            .user_and_password("alice", "pw-connect"),
    )
    .await;
    let text = String::from_utf8(peer.handshake.clone()).unwrap();
    let json = text
        .strip_prefix("CONNECT ")
        .and_then(|rest| rest.split_once("\r\n"))
        .map(|(json, _)| json)
        .unwrap_or_else(|| panic!("a CONNECT first: {text:?}"));
    let connect: serde_json::Value = serde_json::from_str(json).unwrap();
    assert_eq!(connect["name"], "billing-worker", "{connect}");
    assert_eq!(connect["echo"], false, "{connect}");
    assert_eq!(connect["user"], "alice", "{connect}");
    assert_eq!(connect["pass"], "pw-connect", "{connect}");
    assert_eq!(connect["headers"], true, "{connect}");
    assert_eq!(connect["no_responders"], true, "{connect}");
    assert_eq!(connect["verbose"], false, "{connect}");
    assert!(text.ends_with("PING\r\n"), "{text:?}");
}

/// `try_publish_with` never waits: with a peer that stops reading it reports the full write
/// buffer (`Ok(false)`, nothing queued), and once the peer reads again it publishes at once.
#[tokio::test]
async fn try_publish_reports_a_full_buffer_without_waiting() {
    let _shared = crate::shared().await;
    let options = rnats::ConnectOptions::new().write_buffer_size(64 * 1024);
    let (client, mut peer) = connected(options).await;
    let msg = rnats::Publish::new().payload(vec![b'x'; 8 * 1024]);
    // The peer reads nothing: the socket's buffers, then the client's, fill up.
    let mut sent = 0u64;
    let full = loop {
        match client.try_publish_with("fill", &msg) {
            Ok(true) => sent += 1,
            Ok(false) => break true,
            Err(e) => panic!("try_publish_with failed: {e}"),
        }
        if sent > 100_000 {
            break false; // 800 MB never filled the buffers: the test cannot work here
        }
        tokio::task::yield_now().await;
    };
    assert!(full, "the write buffer never filled ({sent} messages sent)");
    // Refused without waiting, and nothing was queued: the statistics count only what went in.
    let before = client.statistics().out_msgs;
    assert_eq!(client.try_publish_with("fill", &msg).ok(), Some(false));
    assert_eq!(client.statistics().out_msgs, before);
    // The peer reads again: room comes back and the next try goes through.
    let reader = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 1 << 20];
        while peer.sock.read(&mut buf).await.is_ok_and(|n| n > 0) {}
    });
    tokio::time::timeout(Duration::from_secs(10), async {
        while !client.try_publish_with("fill", &msg).unwrap() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await
    .expect("room never came back after the peer read again");
    drop(client);
    reader.abort();
}
