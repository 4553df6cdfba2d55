//! bench: numbers and a plot.

use rnats_test::NatsServer;

use crate::common::Cli;

#[test]
fn pubsub_bench_reports_numbers_and_writes_a_plot() {
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let dir = tempfile::tempdir().unwrap();
    let plot = dir.path().join("latency.svg");
    let out = cli.ok([
        "bench",
        "pubsub",
        "--msgs",
        "2000",
        "--size",
        "64",
        "--plot",
        plot.to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["publish"]["msgs"], 2000);
    assert_eq!(v["receive"]["msgs"], 2000);
    assert_eq!(v["latency_us"]["count"], 2000);
    assert!(v["publish"]["msgs_per_sec"].as_f64().unwrap() > 0.0);
    assert!(v["latency_us"]["p99"].as_f64().unwrap() >= v["latency_us"]["p50"].as_f64().unwrap());
    let svg = std::fs::read_to_string(&plot).unwrap();
    assert!(svg.starts_with("<svg "), "{svg}");
    assert!(svg.contains("Latency by percentile") && svg.contains("Throughput over time"));
    assert!(svg.contains("<polyline"), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"));
}

#[test]
fn pub_req_and_sub_benches() {
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let out = cli.ok(["bench", "pub", "--msgs", "1000", "--pubs", "3"]);
    assert!(
        out.starts_with("pub bench on \"rnats.bench\": 128 B messages, 3 publishers\n"),
        "{out}"
    );
    assert!(out.contains("publish  1,000 "), "{out}");

    let v: serde_json::Value = serde_json::from_str(&cli.ok([
        "bench", "req", "--msgs", "300", "--pubs", "2", "--subs", "2", "--json",
    ]))
    .unwrap();
    assert_eq!(v["request"]["msgs"], 300);
    assert_eq!(v["latency_us"]["count"], 300);

    // A timed run publishes something and stops.
    let v: serde_json::Value =
        serde_json::from_str(&cli.ok(["bench", "pub", "--duration", "200ms", "--json"])).unwrap();
    assert!(v["publish"]["msgs"].as_u64().unwrap() > 0);

    // `sub` receives what another process publishes.
    let sub = cli.spawn_ready(
        ["bench", "sub", "b.x", "--msgs", "500", "--json"],
        "Waiting for",
    );
    cli.ok(["bench", "pub", "b.x", "--msgs", "500"]);
    let v: serde_json::Value = serde_json::from_str(&crate::common::finish(sub)).unwrap();
    assert_eq!(v["receive"]["msgs"], 500);
}

#[test]
fn bench_errors() {
    let port = rnats_test::free_ports(1)[0];
    let err = Cli::new(format!("nats://127.0.0.1:{port}")).fails(["bench", "pub", "--msgs", "10"]);
    assert!(err.contains("cannot connect"), "{err}");
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let err = cli.fails(["bench", "req", "--pubs", "0"]);
    assert!(err.contains("at least 1"), "{err}");
    let err = cli.fails(["bench", "pubsub", "bad..subject", "--msgs", "10"]);
    assert!(err.contains("invalid subject"), "{err}");
}

#[test]
fn help_texts() {
    let cli = Cli::bare();
    insta::assert_snapshot!("help_bench_pubsub", cli.ok(["bench", "pubsub", "--help"]));
}
