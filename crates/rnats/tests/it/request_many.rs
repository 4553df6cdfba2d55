//! Request-many (ADR-47, RR-3): scatter-gather over several responders and every stop
//! condition (total timeout, stall, max messages, the standard sentinel, a predicate, a 503),
//! and the subscription removed when the stream ends or is dropped.

use std::time::Duration;

use futures_util::StreamExt;
use rnats::{Message, RequestManyEnd, Responses, StatusCode};
use rnats_test::NatsServer;

use crate::Bounded;

/// Starts `n` responders on `subject`, each answering with its index, then `extra` (when
/// given) as a second reply.
async fn responders(client: &rnats::Client, subject: &str, n: usize, extra: Option<&'static str>) {
    for i in 0..n {
        let mut sub = client.subscribe(subject).await.unwrap();
        let c = client.clone();
        tokio::spawn(async move {
            while let Some(req) = sub.next().await {
                let reply = req.reply.unwrap();
                c.publish(reply.clone(), format!("r{i}")).await.unwrap();
                if let Some(extra) = extra {
                    c.publish(reply, extra).await.unwrap();
                }
            }
        });
    }
    client.flush().await.unwrap();
}

async fn collect(mut r: Responses) -> (Vec<Message>, Option<RequestManyEnd>) {
    let mut out = Vec::new();
    while let Some(m) = r.next().bounded().await {
        out.push(m);
    }
    (out, r.end().cloned())
}

/// The number of subscriptions the server holds.
fn server_subs(server: &NatsServer) -> u64 {
    let v: serde_json::Value = serde_json::from_str(&server.http_get("/subsz")).unwrap();
    v["num_subscriptions"].as_u64().unwrap()
}

#[tokio::test]
async fn request_many_scatter_gather_and_stops() {
    let _shared = crate::shared().await;
    let server = NatsServer::builder().monitoring(true).start();
    let client = rnats::connect(server.url()).await.unwrap();
    responders(&client, "svc.many", 3, None).await;
    let base = server_subs(&server);

    // Total timeout only: every responder's answer, then the timeout.
    let (got, end) = collect(
        client
            .request_many("svc.many", "hi")
            .timeout(Duration::from_millis(500))
            .await
            .unwrap(),
    )
    .await;
    let mut payloads: Vec<_> = got.iter().map(|m| m.payload.clone()).collect();
    payloads.sort();
    assert_eq!(payloads, ["r0", "r1", "r2"]);
    assert_eq!(end, Some(RequestManyEnd::Timeout));

    // Max messages.
    let (got, end) = collect(
        client
            .request_many("svc.many", "hi")
            .timeout(Duration::from_secs(5))
            .max_messages(2)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got.len(), 2);
    assert_eq!(end, Some(RequestManyEnd::MaxMessages));

    // No practical limit (Duration::MAX is not an overflow): the count ends it.
    let (got, end) = collect(
        client
            .request_many("svc.many", "hi")
            .timeout(Duration::MAX)
            .max_messages(3)
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got.len(), 3);
    assert_eq!(end, Some(RequestManyEnd::MaxMessages));

    // Stall: ends long before the 30 s total once the three answers are in.
    let (got, end) = collect(
        client
            .request_many("svc.many", "hi")
            .timeout(Duration::from_secs(30))
            .stall(Duration::from_millis(300))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got.len(), 3);
    assert_eq!(end, Some(RequestManyEnd::Stalled));

    // No responders: a 503 ends it, nothing yielded.
    let (got, end) = collect(
        client
            .request_many("svc.nobody", "hi")
            .timeout(Duration::from_secs(30))
            .await
            .unwrap(),
    )
    .await;
    assert!(got.is_empty());
    assert!(
        matches!(
            end,
            Some(RequestManyEnd::Status(StatusCode::NO_RESPONDERS, _))
        ),
        "{end:?}"
    );

    // Every request-many's subscription is gone once it ended.
    client.flush().bounded().await.unwrap();
    assert_eq!(server_subs(&server), base);
}

#[tokio::test]
async fn request_many_sentinels_and_drop() {
    let _shared = crate::shared().await;
    let server = NatsServer::builder().monitoring(true).start();
    let client = rnats::connect(server.url()).await.unwrap();
    // One responder streaming "a", "b", "", "after": the empty one is the standard sentinel.
    let mut sub = client.subscribe("svc.stream").await.unwrap();
    let c = client.clone();
    tokio::spawn(async move {
        while let Some(req) = sub.next().await {
            let reply = req.reply.unwrap();
            for p in ["a", "b", "", "after", "END", "late"] {
                c.publish(reply.clone(), p).await.unwrap();
            }
        }
    });
    client.flush().await.unwrap();
    let base = server_subs(&server);

    let (got, end) = collect(
        client
            .request_many("svc.stream", "go")
            .timeout(Duration::from_secs(30))
            .sentinel_empty()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        got.iter().map(|m| &m.payload[..]).collect::<Vec<_>>(),
        [&b"a"[..], b"b"]
    );
    assert_eq!(end, Some(RequestManyEnd::Sentinel));

    let (got, end) = collect(
        client
            .request_many("svc.stream", "go")
            .timeout(Duration::from_secs(30))
            .sentinel(|m| m.payload == "END")
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(got.len(), 4, "a, b, the empty one, after");
    assert_eq!(end, Some(RequestManyEnd::Sentinel));

    // Dropped before its end: the subscription is removed all the same.
    let mut r = client
        .request_many("svc.stream", "go")
        .timeout(Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(r.next().bounded().await.unwrap().payload, "a");
    assert!(r.end().is_none());
    drop(r);
    client.flush().bounded().await.unwrap();
    assert_eq!(server_subs(&server), base);

    // Invalid subject: a typed error, nothing left behind.
    let err = client.request_many("bad subject", "x").await.unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    client.flush().bounded().await.unwrap();
    assert_eq!(server_subs(&server), base);
}
