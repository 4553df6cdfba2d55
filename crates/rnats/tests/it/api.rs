//! The API made for bindings and tools: `Client::publish_with`, and a `Subscriber` shared
//! between tasks (one reads through `&Subscriber` while another drains or unsubscribes).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rnats::{HeaderMap, Publish};
use rnats_test::NatsServer;

use crate::next_msg;

#[tokio::test]
async fn publish_with_sends_payload_reply_and_headers() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut sub = client.subscribe("api.publish").await.unwrap();
    let mut headers = HeaderMap::new();
    headers.insert("Trace-Id", "42");
    client
        .publish_with(
            "api.publish",
            Publish::new()
                .payload("all parts")
                .reply("api.replies")
                .headers(headers),
        )
        .await
        .unwrap();
    client
        .publish_with("api.publish", Publish::new())
        .await
        .unwrap();
    let full = next_msg(&mut sub).await;
    assert_eq!(full.payload, "all parts");
    assert_eq!(full.reply.as_deref(), Some("api.replies"));
    let got = full.headers.as_ref().and_then(|h| h.get("Trace-Id"));
    assert_eq!(got, Some("42"));
    let empty = next_msg(&mut sub).await;
    assert!(empty.payload.is_empty());
    assert!(empty.reply.is_none() && empty.headers.is_none());
    // The same checks as publish: an invalid subject is refused, the connection stays up.
    let err = client
        .publish_with("bad subject", Publish::new().payload("x"))
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
    client.flush().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_task_drains_while_another_reads() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let sub = Arc::new(client.subscribe("api.drain").await.unwrap());
    client.flush().await.unwrap();
    const N: usize = 2_000;
    for i in 0..N {
        client.publish("api.drain", i.to_string()).await.unwrap();
    }
    // The reader holds only a shared reference, and is reading (waiting) while the drain
    // starts from this task.
    let reader = {
        let sub = sub.clone();
        tokio::spawn(async move {
            let mut stream = &*sub;
            let mut got = Vec::new();
            while let Some(msg) = stream.next().await {
                got.push(String::from_utf8(msg.payload.to_vec()).unwrap());
            }
            got
        })
    };
    tokio::time::timeout(Duration::from_secs(10), sub.drain())
        .await
        .expect("drain finished")
        .unwrap();
    let got = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("the reader's stream ended after the drain")
        .unwrap();
    // Every message published before the drain arrived, in order, and the stream ended.
    let want: Vec<String> = (0..N).map(|i| i.to_string()).collect();
    assert_eq!(got, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_task_unsubscribes_while_another_waits() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let sub = Arc::new(client.subscribe("api.unsub").await.unwrap());
    let reader = {
        let sub = sub.clone();
        tokio::spawn(async move { (&*sub).next().await })
    };
    // Most likely the reader is parked waiting by now (the sleep is no synchronization:
    // had it not started yet, its stream must end all the same).
    tokio::time::sleep(Duration::from_millis(50)).await;
    sub.unsubscribe().await.unwrap();
    let next = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the waiting reader was woken by the unsubscribe")
        .unwrap();
    assert!(next.is_none(), "{next:?}");
}
