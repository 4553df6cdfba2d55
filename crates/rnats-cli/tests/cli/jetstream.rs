//! stream and consumer commands.

use rnats_test::NatsServer;

use crate::common::{mask_from, Cli};

#[test]
fn stream_lifecycle() {
    let server = NatsServer::start_jetstream();
    let cli = Cli::new(server.url());
    cli.ok([
        "stream",
        "add",
        "ORDERS",
        "--subjects",
        "orders.>",
        "--storage",
        "memory",
        "--max-age",
        "1h",
    ]);
    cli.ok([
        "stream",
        "add",
        "LOGS",
        "--subjects",
        "logs.*,audit",
        "--max-bytes",
        "1MB",
    ]);
    cli.ok([
        "pub",
        "orders.new",
        "o{{Count}}",
        "--count",
        "3",
        "-H",
        "K:v",
    ]);
    insta::assert_snapshot!(mask_from(&cli.ok(["stream", "ls"]), "LAST MESSAGE"), @r"
    NAME    SUBJECTS       STORAGE  MESSAGES  BYTES  CONSUMERS  ~
    LOGS    logs.*, audit  file            0    0 B          0  ~
    ORDERS  orders.>       memory          3  138 B          0  ~
    ");
    let info = cli.ok(["stream", "info", "ORDERS"]);
    assert!(info.contains("Max Age: 1h"), "{info}");
    assert!(info.contains("Messages: 3"), "{info}");
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(["stream", "info", "ORDERS", "--json"])).unwrap();
    assert_eq!(json["state"]["messages"], 3);
    assert_eq!(cli.ok(["stream", "get", "ORDERS", "2", "--raw"]), "o2\n");
    assert_eq!(
        cli.ok([
            "stream",
            "get",
            "ORDERS",
            "--last-for",
            "orders.new",
            "--raw"
        ]),
        "o3\n"
    );
    assert_eq!(
        cli.ok(["stream", "view", "ORDERS", "--raw", "--start", "2"]),
        "o2\no3\n"
    );
    let view = cli.ok(["stream", "view", "ORDERS", "--count", "1"]);
    assert!(
        view.starts_with("[ORDERS#1] ") && view.contains("K: v\n\no1\n"),
        "{view}"
    );
    let edited = cli.ok([
        "stream",
        "edit",
        "ORDERS",
        "--max-msgs",
        "10",
        "--description",
        "orders",
    ]);
    assert!(edited.contains("Max Messages: 10"), "{edited}");
    assert!(edited.contains("Description: orders"), "{edited}");
    cli.ok(["stream", "purge", "ORDERS", "--keep", "1"]);
    assert_eq!(cli.ok(["stream", "view", "ORDERS", "--raw"]), "o3\n");
    let purged = cli.ok(["stream", "purge", "ORDERS", "--json"]);
    assert!(purged.contains("\"purged\": 1"), "{purged}");
    cli.ok(["stream", "rm", "LOGS"]);
    cli.ok(["stream", "rm", "ORDERS"]);
    assert_eq!(cli.ok(["stream", "ls", "--json"]).trim(), "[]");
}

#[test]
fn stream_errors() {
    let server = NatsServer::start_jetstream();
    let cli = Cli::new(server.url());
    let err = cli.fails(["stream", "info", "NOPE"]);
    assert!(
        err.contains("stream not found") && err.contains("rnats stream ls"),
        "{err}"
    );
    let err = cli.fails(["stream", "rm", "NOPE"]);
    assert!(err.contains("stream not found"), "{err}");
    cli.ok(["stream", "add", "S", "--subjects", "s"]);
    let err = cli.fails(["stream", "get", "S", "9"]);
    assert!(err.contains("no message found"), "{err}");
    let err = cli.fails(["stream", "add", "S2", "--subjects", "s"]);
    assert!(err.contains("cannot create stream"), "{err}");
    let err = cli.fails(["stream", "add", "bad.name"]);
    assert!(err.contains("cannot create stream"), "{err}");

    // A server without JetStream.
    let plain = NatsServer::start();
    let err = Cli::new(plain.url()).fails(["stream", "ls"]);
    assert!(
        err.contains("-js") || err.contains("JetStream") || err.contains("jetstream"),
        "{err}"
    );
}

#[test]
fn consumer_lifecycle() {
    let server = NatsServer::start_jetstream();
    let cli = Cli::new(server.url());
    cli.ok(["stream", "add", "JOBS", "--subjects", "jobs.*"]);
    cli.ok(["pub", "jobs.a", "a{{Count}}", "--count", "3"]);
    cli.ok(["pub", "jobs.b", "b"]);
    cli.ok([
        "consumer",
        "add",
        "JOBS",
        "W",
        "--filter",
        "jobs.a",
        "--max-deliver",
        "5",
    ]);
    insta::assert_snapshot!(cli.ok(["consumer", "ls", "JOBS"]), @r"
    NAME  FILTER  DELIVERED  ACK PENDING  PENDING  REDELIVERED
    W     jobs.a          0            0        3            0
    ");
    assert_eq!(
        cli.ok(["consumer", "next", "JOBS", "W", "--count", "2", "--raw"]),
        "a1\na2\n"
    );
    let next = cli.ok(["consumer", "next", "JOBS", "W", "--json"]);
    let v: serde_json::Value = serde_json::from_str(next.trim()).unwrap();
    assert_eq!(v["data"], "a3");
    assert_eq!(v["seq"], 3);
    let info = cli.ok(["consumer", "info", "JOBS", "W"]);
    assert!(info.contains("Ack Floor: stream sequence 3"), "{info}");
    assert!(info.contains("Max Deliver: 5"), "{info}");
    // Nothing left: an error after the wait, not a hang.
    let err = cli.fails(["consumer", "next", "JOBS", "W", "--wait", "100ms"]);
    assert!(err.contains("no message"), "{err}");
    cli.ok(["consumer", "rm", "JOBS", "W"]);
    let err = cli.fails(["consumer", "info", "JOBS", "W"]);
    assert!(err.contains("consumer not found"), "{err}");
    let err = cli.fails(["consumer", "ls", "NOPE"]);
    assert!(err.contains("stream not found"), "{err}");
}

#[test]
fn help_texts() {
    let cli = Cli::bare();
    insta::assert_snapshot!("help_stream", cli.ok(["stream", "--help"]));
    insta::assert_snapshot!("help_stream_add", cli.ok(["stream", "add", "--help"]));
    insta::assert_snapshot!("help_consumer", cli.ok(["consumer", "--help"]));
}
