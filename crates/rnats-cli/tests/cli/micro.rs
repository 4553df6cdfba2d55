//! micro and server commands.

use rnats_test::NatsServer;

use crate::common::Cli;

/// Starts service `echo` 1.2.3 with endpoint `say` and keeps it running on the runtime.
fn echo_service(url: &str) -> (tokio::runtime::Runtime, String) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let id = rt.block_on(async {
        let client = rnats::connect(url).await.unwrap();
        let service = client
            .service_builder()
            .description("says it back")
            .start("echo", "1.2.3")
            .await
            .unwrap();
        service
            .endpoint("say")
            .handler(|req: rnats::service::Request| async move {
                let body = req.payload().clone();
                req.respond(body).await.ok();
            })
            .await
            .unwrap();
        client.flush().await.unwrap();
        service.id().to_owned()
    });
    (rt, id)
}

#[test]
fn micro_commands() {
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let (_rt, id) = echo_service(&server.url());
    let ls = cli.ok(["micro", "ls", "--max", "1", "--window", "10s"]);
    assert_eq!(ls, format!("NAME  VERSION  ID\necho  1.2.3    {id}\n"));
    let ping = cli.ok(["micro", "ping", "echo", "--max", "1", "--window", "10s"]);
    assert_eq!(ping, format!("Pong from echo {id} (version 1.2.3)\n"));
    let info = cli.ok(["micro", "info", "echo", "--max", "1", "--window", "10s"]);
    assert!(info.contains("Description: says it back"), "{info}");
    assert!(info.contains("say       say      q"), "{info}");
    assert_eq!(cli.ok(["req", "say", "hi", "--raw"]), "hi\n");
    let stats: serde_json::Value = serde_json::from_str(&cli.ok([
        "micro", "stats", "echo", &id, "--max", "1", "--window", "10s", "--json",
    ]))
    .unwrap();
    assert_eq!(stats[0]["endpoints"][0]["num_requests"], 1);
    let table = cli.ok(["micro", "stats", "echo", "--max", "1", "--window", "10s"]);
    assert!(table.starts_with("ID "), "{table}");
    let err = cli.fails(["micro", "info", "nope", "--window", "100ms"]);
    assert!(err.contains("no instance of service \"nope\""), "{err}");
}

#[test]
fn server_commands() {
    let server = NatsServer::start();
    let cli = Cli::new(server.url());
    let info = cli.ok(["server", "info"]);
    assert!(
        info.contains(&format!("Connected To: 127.0.0.1:{}", server.port())),
        "{info}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&cli.ok(["server", "info", "--json"])).unwrap();
    assert_eq!(json["port"], server.port());
    let ping = cli.ok(["server", "ping", "--count", "3"]);
    assert_eq!(ping.lines().count(), 4, "{ping}");
    assert!(
        ping.lines().last().unwrap().starts_with("3 pings: min "),
        "{ping}"
    );
    let rtt: serde_json::Value =
        serde_json::from_str(&cli.ok(["server", "rtt", "--json"])).unwrap();
    assert!(rtt["rtt_us"].is_u64());
}

#[test]
fn help_texts() {
    let cli = Cli::bare();
    insta::assert_snapshot!("help_micro", cli.ok(["micro", "--help"]));
    insta::assert_snapshot!("help_server", cli.ok(["server", "--help"]));
    insta::assert_snapshot!("help_top", cli.ok(["--help"]));
}
