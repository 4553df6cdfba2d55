//! Wire cases a real server never produces, played by a scripted peer on loopback.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const INFO: &[u8] = b"INFO {\"server_id\":\"scripted\",\"version\":\"0.0.0\",\"proto\":1,\"headers\":true,\"max_payload\":1048576}\r\n";

/// Accepts one connection, sends INFO, answers the handshake PING, then sends `then`.
async fn scripted_peer(then: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("nats://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        sock.write_all(INFO).await.unwrap();
        let mut buf = vec![0u8; 4096];
        let mut seen = Vec::new();
        while !seen.windows(6).any(|w| w == b"PING\r\n") {
            let n = sock.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        sock.write_all(b"PONG\r\n").await.unwrap();
        // Partial writes: the client must reassemble.
        for chunk in then.chunks(3) {
            sock.write_all(chunk).await.unwrap();
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        // Keep the socket open a while so the client decides, not EOF.
        let _ = tokio::time::timeout(Duration::from_secs(5), sock.read(&mut buf)).await;
    });
    url
}

#[tokio::test]
async fn split_frames_are_reassembled() {
    let _shared = crate::shared().await;
    let url =
        scripted_peer(b"MSG a 1 5\r\nhello\r\nHMSG a 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\n").await;
    let client = rnats::ConnectOptions::new()
        .connect(url.as_str())
        .await
        .unwrap();
    let mut sub = client.subscribe("a").await.unwrap();
    assert_eq!(crate::next_msg(&mut sub).await.payload, "hello");
    let m = crate::next_msg(&mut sub).await;
    assert_eq!(m.payload, "hi");
    assert!(m.headers.unwrap().is_empty());
}

#[tokio::test]
async fn malformed_frame_drops_the_connection_without_panic() {
    let _shared = crate::shared().await;
    let url = scripted_peer(b"MSG a 1 5\r\nhelloXX").await;
    let client = rnats::ConnectOptions::new()
        .retain_servers_order(true)
        .connect(url.as_str())
        .await
        .unwrap();
    let _sub = client.subscribe("a").await.unwrap();
    // The client sees the corrupt frame, drops that connection and tries to reconnect.
    tokio::time::timeout(Duration::from_secs(5), async {
        while client.connection_state() == rnats::ConnectionState::Connected {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the connection was dropped");
    client.close().await.unwrap();
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
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err.kind(), rnats::ErrorKind::ConnectFailed);
    assert!(err.to_string().contains("took longer than 500ms"), "{err}");
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
    assert!(
        err.to_string().contains("unknown operation"),
        "says what was wrong: {err}"
    );
}
