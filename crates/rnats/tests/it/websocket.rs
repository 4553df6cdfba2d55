//! NATS over WebSocket through nats-server's websocket listener: plain (`ws://`) and TLS
//! (`wss://`), pub/sub and request/reply.

use std::time::Duration;

use futures_util::StreamExt;
use rnats_test::NatsServer;

use crate::tls::TestCa;
use crate::{next_msg, Bounded};

/// Subscribe, publish, request/reply, headers and a payload bigger than one frame.
async fn exercise(client: &rnats::Client) {
    let mut sub = client.subscribe("ws.>").await.unwrap();
    client.publish("ws.hello", "over websocket").await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "over websocket");
    let big = vec![b'x'; 300 * 1024];
    client.publish("ws.big", big.clone()).await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload.len(), big.len());

    let mut service = client.subscribe("ws.svc").await.unwrap();
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(req) = service.next().await {
            if let Some(reply) = req.reply {
                let mut answer = b"re: ".to_vec();
                answer.extend_from_slice(&req.payload);
                responder.publish(reply, answer).await.unwrap();
            }
        }
    });
    for i in 0..20 {
        let answer = client.request("ws.svc", format!("q{i}")).await.unwrap();
        assert_eq!(answer.payload, format!("re: q{i}"));
    }
}

/// The typed cause of a failed connect.
fn cause(err: &rnats::Error) -> &rnats::Error {
    std::error::Error::source(err)
        .and_then(|s| s.downcast_ref::<rnats::Error>())
        .unwrap_or_else(|| panic!("no rnats::Error source: {err:?}"))
}

#[tokio::test]
async fn plain_websocket() {
    let _shared = crate::shared().await;
    let ws_port = rnats_test::free_ports(1)[0];
    let server = NatsServer::builder()
        .config(&format!("websocket {{ port: {ws_port}\n no_tls: true }}"))
        .start();
    let client = rnats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .connect(format!("ws://127.0.0.1:{ws_port}"))
        .await
        .unwrap();
    assert_eq!(client.connected_server().unwrap().scheme(), "ws");
    exercise(&client).await;
    // A plain NATS client on the same server sees the websocket client's messages.
    let plain = rnats::connect(server.url()).await.unwrap();
    let mut sub = plain.subscribe("cross").await.unwrap();
    plain.flush().bounded().await.unwrap();
    client.publish("cross", "from ws").await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "from ws");
    // Websocket and plain servers do not mix in one pool.
    let err = rnats::connect(format!("ws://127.0.0.1:{ws_port},{}", server.url()))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
    // TLS asked for and a ws:// address: refused, never plain text.
    let err = rnats::ConnectOptions::new()
        .require_tls(true)
        .connect(format!("ws://127.0.0.1:{ws_port}"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), rnats::ErrorKind::ConnectFailed, "{err:?}");
    assert!(cause(&err).is_tls_error(), "{err:?}");
    assert!(format!("{err:?}").contains("use wss://"), "{err:?}");
}

#[tokio::test]
async fn websocket_over_tls() {
    let _shared = crate::shared().await;
    let ws_port = rnats_test::free_ports(1)[0];
    let ca = TestCa::new("rnats test CA");
    let issued = ca.server(&["localhost"]);
    let server = NatsServer::builder()
        .file("ca.pem", &ca.pem)
        .file("cert.pem", &issued.cert)
        .file("key.pem", &issued.key)
        .config(&format!(
            "websocket {{ port: {ws_port}\n tls {{ cert_file: \"cert.pem\"\n key_file: \"key.pem\" }} }}"
        ))
        .start();
    let ca_path = server.dir().join("ca.pem");
    let client = rnats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .add_root_certificates(&ca_path)
        .user_and_password("ignored", "by-this-server")
        .connect(format!("wss://localhost:{ws_port}"))
        .await
        .unwrap();
    assert_eq!(client.connected_server().unwrap().scheme(), "wss");
    exercise(&client).await;
    // The same TLS rules as tls://: a certificate for another name is refused.
    let err = rnats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .add_root_certificates(&ca_path)
        .connect(format!("wss://127.0.0.1:{ws_port}"))
        .await
        .unwrap_err();
    assert!(cause(&err).is_tls_error(), "{err:?}");
    assert!(format!("{err:?}").contains("NotValidForName"), "{err:?}");
}

/// A refused websocket upgrade fails the connect with the address (and no credentials):
/// the password of the URL is neither in the upgrade request nor in the error, its causes
/// or its `Debug`.
#[tokio::test]
async fn a_refused_upgrade_shows_no_credentials() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let _shared = crate::shared().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = sock.read(&mut buf).await.unwrap();
            assert!(n > 0, "the client closed before its upgrade request ended");
            request.extend_from_slice(&buf[..n]);
        }
        sock.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        String::from_utf8_lossy(&request).into_owned()
    });
    let started = std::time::Instant::now();
    let err = rnats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .connect(format!("ws://alice:ws-pass-q7@127.0.0.1:{port}"))
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(3), "not by timeout");
    let request = tokio::time::timeout(Duration::from_secs(5), peer)
        .await
        .expect("the peer read the upgrade request")
        .unwrap();
    assert!(request.starts_with("GET / HTTP/1.1\r\n"), "{request}");
    assert!(!request.contains("ws-pass-q7"), "{request}");
    assert!(
        !request.to_ascii_lowercase().contains("authorization"),
        "{request}"
    );
    assert_eq!(err.kind(), rnats::ErrorKind::ConnectFailed, "{err:?}");
    let cause = std::error::Error::source(&err)
        .and_then(|s| s.downcast_ref::<rnats::Error>())
        .unwrap();
    assert!(cause.is_io(), "{cause:?}");
    let mut text = format!("{err} {err:?}");
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        text.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    assert!(text.contains("websocket upgrade"), "{text}");
    assert!(text.contains(&format!("ws://127.0.0.1:{port}")), "{text}");
    assert!(!text.contains("ws-pass-q7"), "{text}");
    assert!(!text.contains("alice:"), "{text}");
}
