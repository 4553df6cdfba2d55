//! Topologies beyond one cluster: a supercluster (two clusters joined by gateways) and a
//! leaf node with a JetStream domain of its own connected to a clustered hub with another,
//! and a leaf cluster connected to a single hub.
//! Request/reply across the gateway, JetStream through `with_domain` both ways, a KV bucket
//! mirrored across domains, and failover within each when a node dies.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rnats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use rnats::jetstream::stream::{self, External, Source};
use rnats::jetstream::{self, Context};
use rnats::kv;
use rnats_test::{Cluster, NatsServer};

/// Retries `f` every 200 ms until it succeeds, failing the test after `secs` with the last
/// error: conditions that take a moment (a gateway forming, an election) are waited for,
/// never timed.
async fn eventually<T, F, Fut>(what: &str, secs: u64, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, rnats::Error>>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if tokio::time::Instant::now() < deadline => {
                eprintln!("{what}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{what}: still failing after {secs} s: {e:?}"),
        }
    }
}

/// A client that tries the servers in the order given (so the test knows which node it is
/// on) and reconnects quickly.
async fn connect_ordered(urls: Vec<String>) -> rnats::Client {
    rnats::ConnectOptions::new()
        .retain_servers_order(true)
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .connect(urls)
        .await
        .unwrap()
}

/// Two 2-node clusters, `A` and `B`, joined by gateways: every node listens for gateways and
/// knows every node of the other cluster.
fn supercluster() -> (Cluster, Cluster) {
    let ports = rnats_test::free_ports(4);
    let urls = |ports: &[u16]| {
        ports
            .iter()
            .map(|p| format!("\"nats://127.0.0.1:{p}\""))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (a_ports, b_ports) = ports.split_at(2);
    let gateway = |name: &str, port: u16, other: &str, other_ports: &[u16]| {
        format!(
            "gateway {{ name: {name}, listen: \"127.0.0.1:{port}\", \
             gateways: [ {{ name: {other}, urls: [ {} ] }} ] }}",
            urls(other_ports)
        )
    };
    let mut a = Cluster::builder(2).name("A").node_prefix("a");
    let mut b = Cluster::builder(2).name("B").node_prefix("b");
    for i in 0..2 {
        a = a.node_config(i, &gateway("A", a_ports[i], "B", b_ports));
        b = b.node_config(i, &gateway("B", b_ports[i], "A", a_ports));
    }
    (a.start(), b.start())
}

/// A responder in cluster A, a requester in cluster B: requests cross the gateway; when the
/// node each client is on dies, both move to the other node of their cluster and requests
/// cross again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_crosses_the_gateway_and_fails_over_within_each_cluster() {
    let _alone = crate::alone().await;
    let (a, b) = tokio::task::spawn_blocking(supercluster).await.unwrap();
    let (a, b) = (Arc::new(a), Arc::new(b));
    let responder = connect_ordered(a.urls()).await;
    let requester = connect_ordered(b.urls()).await;
    let mut sub = responder.subscribe("svc.echo").await.unwrap();
    responder.flush().await.unwrap();
    let answering = responder.clone();
    let serving = tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                let mut answer = b"from A: ".to_vec();
                answer.extend_from_slice(&msg.payload);
                answering.publish(reply, answer).await.unwrap();
            }
        }
    });
    let ask = |i: usize| {
        let requester = requester.clone();
        async move {
            requester
                .request_with(
                    "svc.echo",
                    rnats::Request::new()
                        .payload(i.to_string())
                        .timeout(Duration::from_secs(2)),
                )
                .await
        }
    };
    // The gateway forms and carries the responder's interest: wait for the first answer.
    let first = eventually("a request across the gateway", 20, || ask(0)).await;
    assert_eq!(first.payload, "from A: 0");
    for i in 1..20 {
        let answer = ask(i).await.unwrap();
        assert_eq!(answer.payload, format!("from A: {i}"));
    }

    // Failover within each cluster: the node of each client dies.
    let (a2, b2) = (Arc::clone(&a), Arc::clone(&b));
    tokio::task::spawn_blocking(move || {
        a2.node(0).stop();
        b2.node(0).stop();
    })
    .await
    .unwrap();
    let again = eventually("a request after the failover", 30, || ask(100)).await;
    assert_eq!(again.payload, "from A: 100");
    for i in 101..120 {
        let answer = eventually("a request after the failover", 10, || ask(i)).await;
        assert_eq!(answer.payload, format!("from A: {i}"));
    }
    let a_port = a.node(1).port().to_string();
    let b_port = b.node(1).port().to_string();
    assert!(
        responder.server_info().port.to_string() == a_port,
        "the responder is not on A's other node"
    );
    assert!(
        requester.server_info().port.to_string() == b_port,
        "the requester is not on B's other node"
    );
    responder.close().await.unwrap();
    serving.await.unwrap();
}

/// A 3-node JetStream hub in domain `hub` (each node listening for leaf nodes) and one leaf
/// server in domain `leaf` connected to it, knowing every hub node.
fn hub_and_leaf() -> (Cluster, NatsServer) {
    let leaf_ports = rnats_test::free_ports(3);
    let mut hub = Cluster::builder(3)
        .name("hub")
        .node_prefix("hub")
        .jetstream(true)
        .config("jetstream { domain: hub }");
    for (i, port) in leaf_ports.iter().enumerate() {
        hub = hub.node_config(i, &format!("leafnodes {{ listen: \"127.0.0.1:{port}\" }}"));
    }
    let hub = hub.start();
    let remotes = leaf_ports
        .iter()
        .map(|p| format!("\"nats-leaf://127.0.0.1:{p}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let leaf = NatsServer::builder()
        .jetstream(true)
        .monitoring(true)
        .name("leaf")
        .config(&format!(
            "jetstream {{ domain: leaf }}\nleafnodes {{ remotes: [ {{ urls: [ {remotes} ] }} ] }}\n"
        ))
        .start();
    (hub, leaf)
}

/// The hub node the leaf is connected to, by each node's `/leafz` (none while it is
/// between connections).
fn leaf_connected_to(hub: &Cluster) -> Option<usize> {
    (0..3).find(|&i| {
        let node = hub.node(i);
        node.is_running()
            && serde_json::from_str::<serde_json::Value>(&node.http_get("/leafz"))
                .ok()
                .and_then(|v| v["leafnodes"].as_u64())
                .is_some_and(|n| n > 0)
    })
}

/// Publishes `payload` to `subject` through `js` and waits for the acknowledgement, retrying
/// (same message id) for up to 30 s.
async fn publish_acked(js: &Context, subject: &str, id: &str, payload: &str) -> jetstream::PubAck {
    eventually("a JetStream publish", 30, || async {
        js.publish_with(
            subject,
            jetstream::Publish::new()
                .payload(payload.to_owned())
                .message_id(id)
                .retry_on_timeout(true),
        )
        .await?
        .await
    })
    .await
}

/// Reads every message of `consumer` it has (at most `n`), payloads as text.
async fn fetch_all(consumer: &PullConsumer, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut batch = consumer
        .fetch()
        .max_messages(n)
        .expires(Duration::from_secs(2))
        .messages()
        .await
        .unwrap();
    while let Some(msg) = crate::Bounded::bounded(batch.next()).await {
        let msg = msg.unwrap();
        out.push(String::from_utf8(msg.payload.to_vec()).unwrap());
    }
    out
}

/// From a client of the leaf, the hub's JetStream through `with_domain("hub")` (an R3
/// stream made, written and read), and from a client of the hub the leaf's through
/// `with_domain("leaf")`; a KV bucket of the hub mirrored into the leaf's domain, writable
/// through the mirror. Then the hub node the leaf is connected to dies: the leaf connects to
/// another, the hub client moves on, and all of it keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaf_domain_reaches_the_hub_domain_and_survives_a_hub_node_loss() {
    let _alone = crate::alone().await;
    let (hub, leaf) = tokio::task::spawn_blocking(hub_and_leaf).await.unwrap();
    let hub = Arc::new(hub);
    let leaf_client = rnats::ConnectOptions::new()
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .connect(leaf.url())
        .await
        .unwrap();
    let hub_client = connect_ordered(hub.urls()).await;
    let hub_js = jetstream::new(hub_client.clone());
    let leaf_js = jetstream::new(leaf_client.clone());
    let leaf_to_hub = jetstream::ContextBuilder::new()
        .domain("hub")
        .timeout(Duration::from_secs(2))
        .build(leaf_client.clone());
    let hub_to_leaf = jetstream::with_domain(hub_client.clone(), "leaf");

    // The leaf connection is up once the hub's JetStream answers through the domain.
    let info = eventually("the hub's account info from the leaf", 20, || {
        leaf_to_hub.account_info()
    })
    .await;
    assert_eq!(info.domain.as_deref(), Some("hub"));
    let info = eventually("the leaf's account info from the hub", 20, || {
        hub_to_leaf.account_info()
    })
    .await;
    assert_eq!(info.domain.as_deref(), Some("leaf"));
    assert_eq!(
        leaf_js.account_info().await.unwrap().domain.as_deref(),
        Some("leaf"),
        "a leaf client's default JetStream is the leaf's"
    );

    // The hub's JetStream from the leaf: an R3 stream, written and read through the domain.
    let mut config = stream::Config::new("ORDERS");
    config.subjects = vec!["orders.>".into()];
    config.num_replicas = 3;
    let orders = eventually("creating ORDERS in the hub from the leaf", 20, || {
        leaf_to_hub.create_stream(config.clone())
    })
    .await;
    assert_eq!(orders.cached_info().config.num_replicas, 3);
    for i in 0..5 {
        let ack = publish_acked(
            &leaf_to_hub,
            "orders.new",
            &format!("o-{i}"),
            &i.to_string(),
        )
        .await;
        assert_eq!(ack.stream, "ORDERS");
        assert_eq!(ack.domain.as_deref(), Some("hub"));
        assert_eq!(ack.sequence, i + 1);
    }
    // The same stream as the hub itself sees it.
    assert_eq!(
        hub_js.stream_info("ORDERS").await.unwrap().state.messages,
        5
    );
    let reader: PullConsumer = orders
        .create_consumer({
            // No acks, so nothing comes again: what a fetch returns is what is new.
            let mut c = pull::Config::durable("leaf-reader");
            c.ack_policy = AckPolicy::None;
            c
        })
        .await
        .unwrap();
    let got = fetch_all(&reader, 5).await;
    assert_eq!(got, ["0", "1", "2", "3", "4"]);

    // And back: the leaf's JetStream from a client of the hub.
    let mut config = stream::Config::new("LOCAL");
    config.subjects = vec!["local.>".into()];
    let local = eventually("creating LOCAL in the leaf from the hub", 20, || {
        hub_to_leaf.create_stream(config.clone())
    })
    .await;
    let ack = publish_acked(&hub_to_leaf, "local.x", "l-1", "to the leaf").await;
    assert_eq!(
        (ack.stream.as_str(), ack.domain.as_deref()),
        ("LOCAL", Some("leaf"))
    );
    assert_eq!(
        leaf_js.stream_info("LOCAL").await.unwrap().state.messages,
        1
    );
    assert_eq!(
        local.get_raw_message(1).await.unwrap().payload,
        "to the leaf"
    );

    // A KV bucket of the hub (R3) mirrored into the leaf's domain (ADR-8 mirror, `external`).
    let mut origin_config = kv::Config::new("settings");
    origin_config.replicas = 3;
    let origin = eventually("creating the hub's bucket", 20, || {
        hub_js.create_key_value(origin_config.clone())
    })
    .await;
    origin.put("color", "blue").await.unwrap();
    let mut mirror_config = kv::Config::new("settings_copy");
    let mut source = Source::new("settings");
    source.external = Some(External::new("$JS.hub.API"));
    mirror_config.mirror = Some(source);
    let mirror = leaf_js.create_key_value(mirror_config).await.unwrap();
    let value = eventually("the mirrored value", 20, || mirror.get("color")).await;
    assert_eq!(value, "blue");
    // A put through the mirror goes to the origin (through the hub's API prefix) and comes
    // back through the mirror.
    let revision = mirror.put("size", "large").await.unwrap();
    assert_eq!(
        origin.get_revision("size", revision).await.unwrap().value,
        "large"
    );
    let mut watch = mirror.watch("size").await.unwrap();
    let entry = crate::Bounded::bounded(watch.next())
        .await
        .expect("the watcher ended")
        .unwrap();
    assert_eq!(
        (entry.revision, entry.value.as_ref()),
        (revision, &b"large"[..])
    );

    // Failover: the hub node the leaf is connected to dies (and with it, perhaps, the hub
    // client's node, the stream's and the bucket's leaders).
    let victim = {
        let hub = Arc::clone(&hub);
        tokio::task::spawn_blocking(move || {
            let victim = leaf_connected_to(&hub).expect("the leaf is connected to a hub node");
            hub.node(victim).stop();
            victim
        })
        .await
        .unwrap()
    };
    let now_on = {
        let hub = Arc::clone(&hub);
        tokio::task::spawn_blocking(move || {
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            loop {
                if let Some(i) = leaf_connected_to(&hub) {
                    return i;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "the leaf did not connect to another hub node"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        })
        .await
        .unwrap()
    };
    assert_ne!(now_on, victim);
    // The hub's JetStream through the domain, from the leaf: written and read again.
    for i in 5..10 {
        let ack = publish_acked(
            &leaf_to_hub,
            "orders.new",
            &format!("o-{i}"),
            &i.to_string(),
        )
        .await;
        assert_eq!((ack.domain.as_deref(), ack.sequence), (Some("hub"), i + 1));
    }
    let reader: PullConsumer = eventually("binding the reader after the failover", 30, || {
        orders.get_consumer("leaf-reader")
    })
    .await;
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < 5 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "read {got:?} of 5..10 after the failover"
        );
        got.extend(fetch_all(&reader, 5 - got.len()).await);
    }
    assert_eq!(got, ["5", "6", "7", "8", "9"]);
    // The hub client moved on; its writes reach the mirror in the leaf's domain.
    eventually("a put in the hub after the failover", 30, || {
        origin.put("color", "green")
    })
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match mirror.get("color").await {
            Ok(v) if v == "green" => break,
            other => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the mirror never caught up after the failover: {other:?}"
                );
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    // And the leaf's own JetStream, from the hub, still answers.
    let info = eventually("the leaf's account info after the failover", 20, || {
        hub_to_leaf.account_info()
    })
    .await;
    assert_eq!(info.domain.as_deref(), Some("leaf"));
}

/// A 3-node JetStream leaf cluster in domain `leaf` (every node a leaf of the hub) and a
/// single hub server in domain `hub` listening for them.
fn leaf_cluster_and_hub() -> (Cluster, NatsServer) {
    let leaf_port = rnats_test::free_ports(1)[0];
    let hub = NatsServer::builder()
        .jetstream(true)
        .name("hub")
        .config(&format!(
            "jetstream {{ domain: hub }}\nleafnodes {{ listen: \"127.0.0.1:{leaf_port}\" }}\n"
        ))
        .start();
    let leaves = Cluster::builder(3)
        .name("leaves")
        .node_prefix("leaf")
        .jetstream(true)
        .config(&format!(
            "jetstream {{ domain: leaf }}\n\
             leafnodes {{ remotes: [ {{ urls: [ \"nats-leaf://127.0.0.1:{leaf_port}\" ] }} ] }}\n"
        ))
        .start();
    (leaves, hub)
}

/// Failover within the leaf side: a client of a 3-node leaf cluster writes an R3 stream of
/// the leaf's domain, which the hub reads through `with_domain("leaf")`; the leaf node the
/// client is on dies; the client moves to another leaf node, its writes go on, and the hub
/// still reaches the leaf's domain (through the leaf connections of the nodes left).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leaf_cluster_fails_over_within_itself() {
    let _alone = crate::alone().await;
    let (leaves, hub) = tokio::task::spawn_blocking(leaf_cluster_and_hub)
        .await
        .unwrap();
    let leaves = Arc::new(leaves);
    let client = connect_ordered(leaves.urls()).await;
    let leaf_js = jetstream::new(client.clone());
    let hub_client = rnats::connect(hub.url()).await.unwrap();
    let hub_to_leaf = jetstream::with_domain(hub_client.clone(), "leaf");

    let mut config = stream::Config::new("EVENTS");
    config.subjects = vec!["events.>".into()];
    config.num_replicas = 3;
    eventually("creating EVENTS in the leaf cluster", 20, || {
        leaf_js.create_stream(config.clone())
    })
    .await;
    for i in 0..3 {
        let ack = publish_acked(&leaf_js, "events.x", &format!("e-{i}"), "before").await;
        assert_eq!((ack.domain.as_deref(), ack.sequence), (Some("leaf"), i + 1));
    }
    // The hub sees the leaf's stream through the domain (at most 30 s for it to catch up).
    let seen = |want: u64| {
        let hub_to_leaf = hub_to_leaf.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            loop {
                let got = hub_to_leaf.stream_info("EVENTS").await;
                match got {
                    Ok(info) if info.state.messages == want => return,
                    other => {
                        assert!(
                            tokio::time::Instant::now() < deadline,
                            "the hub never saw {want} messages in the leaf's EVENTS: {other:?}"
                        );
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
            }
        }
    };
    seen(3).await;

    // The leaf node the client is on dies.
    let port = client.server_info().port;
    let victim = (0..3)
        .find(|&i| leaves.node(i).port() == port)
        .expect("the client is on a leaf node");
    {
        let leaves = Arc::clone(&leaves);
        tokio::task::spawn_blocking(move || leaves.node(victim).stop())
            .await
            .unwrap();
    }
    for i in 3..6 {
        let ack = publish_acked(&leaf_js, "events.x", &format!("e-{i}"), "after").await;
        assert_eq!((ack.domain.as_deref(), ack.sequence), (Some("leaf"), i + 1));
    }
    assert_ne!(
        client.server_info().port,
        port,
        "the client moved to another leaf node"
    );
    seen(6).await;
    client.close().await.unwrap();
    hub_client.close().await.unwrap();
}
