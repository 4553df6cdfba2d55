use std::collections::BTreeSet;
use std::time::Duration;

use rnats_test::{cluster, jetstream_cluster, Cluster};

use crate::{eventually, process_exists, Conn};

/// The distinct peers a node's /routez names.
fn peers(cluster: &Cluster, i: usize) -> BTreeSet<String> {
    let routez = cluster.node(i).http_get("/routez");
    routez
        .split("\"remote_name\": \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

/// Publishes on `from` until a subscriber on `to` receives it: interest crosses routes
/// asynchronously, so the first publishes may find none.
fn message_crosses(cluster: &Cluster, from: usize, to: usize) {
    let mut sub = Conn::connect(cluster.node(to).port());
    sub.send("SUB crossing 1\r\nPING\r\n");
    assert_eq!(sub.line().expect("PONG"), "PONG");
    let mut publisher = Conn::connect(cluster.node(from).port());
    let received = eventually(Duration::from_secs(10), || {
        publisher.send("PUB crossing 2\r\nhi\r\n");
        publisher.ping();
        sub.send("PING\r\n");
        loop {
            match sub.line().expect("reading from the subscriber").as_str() {
                "PONG" => return false,
                line if line.starts_with("MSG crossing 1 2") => return true,
                _ => {}
            }
        }
    });
    assert!(received, "no message from node {from} reached node {to}");
}

#[test]
fn a_three_node_cluster_forms_routes() {
    let cluster = cluster(3);
    assert_eq!(cluster.servers().len(), 3);
    assert_eq!(cluster.urls().len(), 3);
    for (i, server) in cluster.servers().iter().enumerate() {
        let name = format!("n{}", i + 1);
        assert_eq!(server.name(), Some(name.as_str()));
        assert_eq!(cluster.urls()[i], server.url());
        let expected: BTreeSet<String> = ["n1", "n2", "n3"]
            .into_iter()
            .filter(|peer| *peer != name)
            .map(str::to_owned)
            .collect();
        assert_eq!(peers(&cluster, i), expected, "routes of {name}");
        let info = server.info();
        assert!(info.contains(&format!("\"cluster\":\"{}\"", cluster.name())));
    }
    message_crosses(&cluster, 0, 2);
    message_crosses(&cluster, 2, 1);
}

#[test]
fn a_restarted_node_rejoins() {
    let cluster = cluster(3);
    let old_pid = cluster.node(1).pid();
    cluster.node(1).restart();
    assert!(!process_exists(old_pid));
    cluster.wait_for_routes();
    message_crosses(&cluster, 0, 1);
    message_crosses(&cluster, 1, 2);
}

#[test]
fn a_jetstream_cluster_elects_a_meta_leader() {
    let cluster = jetstream_cluster(3);
    let mut stores = BTreeSet::new();
    for server in cluster.servers() {
        assert!(server.info().contains("\"jetstream\":true"));
        stores.insert(server.store_dir().expect("a store dir").to_path_buf());
        assert!(server.http_get("/jsz").contains("\"meta_cluster\""));
    }
    assert_eq!(stores.len(), 3, "each node needs its own store");
}

#[test]
fn a_single_node_cluster_starts() {
    let cluster = cluster(1);
    cluster.node(0).info();
    assert!(peers(&cluster, 0).is_empty());
}

#[test]
#[should_panic(expected = "nodes count from 0")]
fn node_index_out_of_range_panics_clearly() {
    let cluster = cluster(1);
    cluster.node(1);
}
