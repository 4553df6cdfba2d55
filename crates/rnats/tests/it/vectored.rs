//! Payloads of at least `rnats_proto::VECTORED_PAYLOAD` bytes are not copied into the write
//! buffer: they are queued as buffers of their own and written vectored. Mixed with small
//! publishes (and with headers and reply subjects), they must arrive intact and in order over
//! every transport: TCP, TLS and WebSocket.

use std::time::Duration;

use bytes::Bytes;
use rnats::{HeaderMap, Publish};
use rnats_proto::VECTORED_PAYLOAD;
use rnats_test::NatsServer;

use crate::next_msg;
use crate::tls::{tls_server, write, TestCa};

/// The payload of message `i`: a size cycling through the edges around the vectored
/// threshold, filled with bytes derived from `i` so that a mix-up or a torn write shows.
fn payload(i: usize) -> Bytes {
    let sizes = [
        0,
        7,
        VECTORED_PAYLOAD - 1,
        VECTORED_PAYLOAD,
        VECTORED_PAYLOAD + 1,
        100_000,
        3,
    ];
    let len = sizes[i % sizes.len()];
    (0..len)
        .map(|j| (i * 31 + j * 7) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// Publishes 300 messages back to back (so batches hold many buffers: more than one
/// vectored write's worth), then checks every one.
async fn mixed_sizes_arrive_intact_and_in_order(client: &rnats::Client) {
    const N: usize = 300;
    let mut sub = client.subscribe("vec.>").await.unwrap();
    bounded("the first flush", client.flush()).await.unwrap();
    for i in 0..N {
        let mut publish = Publish::new().payload(payload(i));
        if i % 3 == 0 {
            let mut headers = HeaderMap::new();
            headers.insert("Index", i.to_string());
            publish = publish.headers(headers);
        }
        if i % 5 == 0 {
            publish = publish.reply(format!("vec.reply.{i}"));
        }
        bounded(
            "a publish",
            client.publish_with(format!("vec.{i}"), publish),
        )
        .await
        .unwrap();
    }
    bounded("the flush after publishing", client.flush())
        .await
        .unwrap();
    for i in 0..N {
        let msg = next_msg(&mut sub).await;
        assert_eq!(msg.subject, format!("vec.{i}"));
        let want = payload(i);
        assert!(
            msg.payload == want,
            "message {i}: {} bytes received, {} sent, or different bytes",
            msg.payload.len(),
            want.len()
        );
        let index = msg.headers.as_ref().and_then(|h| h.get("Index"));
        assert_eq!(index, (i % 3 == 0).then(|| i.to_string()).as_deref());
        let reply = (i % 5 == 0).then(|| format!("vec.reply.{i}"));
        assert_eq!(msg.reply.map(|r| r.to_string()), reply);
    }
    // Requests with large payloads go the same way.
    let mut echo = client.subscribe("vec-echo").await.unwrap();
    let responder = client.clone();
    tokio::spawn(async move {
        while let Some(req) = futures_util::StreamExt::next(&mut echo).await {
            if let Some(reply) = req.reply {
                responder.publish(reply, req.payload).await.unwrap();
            }
        }
    });
    let big = payload(5);
    let answer = bounded("a request", client.request("vec-echo", big.clone()))
        .await
        .unwrap();
    assert!(answer.payload == big, "the echoed large payload differs");
}

/// Awaits `fut`, failing the test after 20 s: a torn write can make the server drop the
/// connection again and again, and that must fail the test, not hang it.
async fn bounded<T>(what: &str, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .unwrap_or_else(|_| panic!("{what} did not complete within 20 s"))
}

fn options() -> rnats::ConnectOptions {
    rnats::ConnectOptions::new().connection_timeout(Duration::from_secs(3))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_payloads_over_tcp() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = options().connect(server.url()).await.unwrap();
    mixed_sizes_arrive_intact_and_in_order(&client).await;
    // Nothing was torn: the server never dropped the connection.
    assert_eq!(client.statistics().connects, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_payloads_over_tls() {
    let _shared = crate::shared().await;
    let ca = TestCa::new("rnats test CA");
    let server = tls_server(&ca, &["localhost"], "");
    let dir = tempfile::tempdir().unwrap();
    let ca_path = write(dir.path(), "ca.pem", &ca.pem);
    let client = options()
        .add_root_certificates(&ca_path)
        .connect(format!("tls://localhost:{}", server.port()))
        .await
        .unwrap();
    mixed_sizes_arrive_intact_and_in_order(&client).await;
    // Nothing was torn: the server never dropped the connection.
    assert_eq!(client.statistics().connects, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_payloads_over_websocket() {
    let _shared = crate::shared().await;
    let ws_port = rnats_test::free_ports(1)[0];
    let _server = NatsServer::builder()
        .config(&format!("websocket {{ port: {ws_port}\n no_tls: true }}"))
        .start();
    let client = options()
        .connect(format!("ws://127.0.0.1:{ws_port}"))
        .await
        .unwrap();
    mixed_sizes_arrive_intact_and_in_order(&client).await;
    // Nothing was torn: the server never dropped the connection.
    assert_eq!(client.statistics().connects, 1);
}
