//! Message tracing (ADR-41): `Client::trace` against one server (delivered and trace-only,
//! a W3C `traceparent` untouched), a JetStream stream, and a 2-node cluster (one report per
//! server, the route egress announcing the second).

use std::time::Duration;

use futures_util::StreamExt;
use rnats::msg_trace::{ConnectionKind, TraceEvent};
use rnats::HeaderMap;
use rnats_test::NatsServer;

use crate::{next_msg, Bounded};

const TRACEPARENT: &str = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

#[tokio::test]
async fn trace_single_server() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let subscriber = rnats::ConnectOptions::new()
        .name("the-subscriber")
        .connect(server.url())
        .await
        .unwrap();
    let mut sub = subscriber.subscribe("traced.>").await.unwrap();
    subscriber.flush().await.unwrap();

    let mut headers = HeaderMap::new();
    headers.insert("traceparent", TRACEPARENT);
    headers.insert("App", "1");
    let trace = client
        .trace("traced.a", "payload")
        .headers(headers)
        .send()
        .bounded()
        .await
        .unwrap();
    assert!(trace.complete);
    assert_eq!(trace.messages.len(), 1);
    let report = &trace.messages[0];
    assert_eq!(report.hops, 0);
    let ingress = report.ingress().expect("an ingress event");
    assert_eq!(ingress.kind, ConnectionKind::Client);
    assert_eq!(ingress.subject, "traced.a");
    assert_eq!(ingress.error, None);
    // The message as the server saw it: our headers, traceparent untouched.
    assert_eq!(
        report.request.headers.get("traceparent"),
        Some(&vec![TRACEPARENT.to_owned()])
    );
    let egress: Vec<_> = trace.client_egresses().collect();
    assert_eq!(egress.len(), 1);
    assert_eq!(egress[0].name.as_deref(), Some("the-subscriber"));
    assert_eq!(egress[0].subscription.as_deref(), Some("traced.>"));
    // Delivered, with the headers as sent.
    let msg = next_msg(&mut sub).await;
    assert_eq!(msg.payload, "payload");
    let got = msg.headers.unwrap();
    assert_eq!(got.get("traceparent"), Some(TRACEPARENT));
    assert_eq!(got.get("App"), Some("1"));

    // Trace-only: reported as it would have been delivered, not delivered.
    let trace = client
        .trace("traced.b", "not for you")
        .trace_only(true)
        .send()
        .bounded()
        .await
        .unwrap();
    assert_eq!(trace.client_egresses().count(), 1);
    subscriber.flush().await.unwrap();
    let nothing = tokio::time::timeout(Duration::from_millis(200), sub.next()).await;
    assert!(
        nothing.is_err(),
        "a trace-only message was delivered: {nothing:?}"
    );

    // Nobody listening: an ingress and no egress.
    let trace = client
        .trace("nobody.here", "")
        .send()
        .bounded()
        .await
        .unwrap();
    assert!(trace.complete);
    assert!(trace.events().all(|e| !matches!(e, TraceEvent::Egress(_))));
}

#[cfg(feature = "jetstream")]
#[tokio::test]
async fn trace_into_a_stream() {
    let _shared = crate::shared().await;
    let (_server, js) = crate::jetstream::js_server().await;
    js.create_stream(crate::jetstream::memory_stream("TRACED", &["js.traced.>"]))
        .await
        .unwrap();
    let trace = js
        .client()
        .trace("js.traced.a", "stored")
        .send()
        .bounded()
        .await
        .unwrap();
    let stored = trace
        .events()
        .find_map(|e| match e {
            TraceEvent::JetStream { stream, error, .. } => Some((stream.clone(), error.clone())),
            _ => None,
        })
        .expect("a JetStream event");
    assert_eq!(stored, ("TRACED".to_owned(), None));
}

#[tokio::test]
async fn trace_across_a_route() {
    let _shared = crate::shared().await;
    let cluster = tokio::task::spawn_blocking(|| rnats_test::cluster(2))
        .await
        .unwrap();
    let urls = cluster.urls();
    let publisher = rnats::connect(urls[0].as_str()).await.unwrap();
    let subscriber = rnats::connect(urls[1].as_str()).await.unwrap();
    let _sub = subscriber.subscribe("routed").await.unwrap();
    subscriber.flush().await.unwrap();
    // The subscription's interest reaches the other node in its own time: trace until the
    // message is seen crossing the route.
    let trace = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            let trace = publisher
                .trace("routed", "x")
                .trace_only(true)
                .await
                .unwrap();
            if trace.client_egresses().count() == 1 {
                return trace;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("no trace crossed the route within 20 s");
    assert!(trace.complete);
    assert_eq!(trace.messages.len(), 2, "{trace:#?}");
    // Reports arrive in any order: find the origin's and the routed one's.
    let (first, second) = match trace.messages[0].ingress().unwrap().kind {
        ConnectionKind::Client => (&trace.messages[0], &trace.messages[1]),
        _ => (&trace.messages[1], &trace.messages[0]),
    };
    let route = first.egresses().next().expect("an egress to the route");
    assert_eq!(route.kind, ConnectionKind::Router);
    assert_eq!(second.ingress().unwrap().kind, ConnectionKind::Router);
    assert_eq!(
        second.egresses().next().unwrap().kind,
        ConnectionKind::Client
    );
    assert_ne!(first.server.name, second.server.name);
}
