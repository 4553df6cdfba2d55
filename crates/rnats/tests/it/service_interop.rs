//! Services across clients: the cross-client `service core` case (§3.2 of the conformance
//! digest), and nats-py's `nats.micro` on both sides (`tests/data/service_interop.py`, run with
//! the repository's `.venv`).

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::Duration;

use futures_util::StreamExt;
use rnats::service::{self, Service};
use rnats::Client;
use rnats_test::NatsServer;
use serde_json::{json, Value};

use crate::service::{assert_valid, echo, gather, within};
use crate::Bounded;

/// The cross-client harness side of the `service core` test (§3.2): a command on
/// `tests.service.core.<step>.command` carries the config; the first builds the service, the
/// second stops it; each is answered with an empty reply.
async fn core_harness(client: Client) {
    let mut commands = client.subscribe("tests.service.core.>").await.unwrap();
    let mut service: Option<Service> = None;
    while let Some(cmd) = commands.next().await {
        if !cmd.subject.ends_with(".command") {
            continue;
        }
        let Some(reply) = cmd.reply.clone() else {
            continue;
        };
        match service.take() {
            None => {
                let req: Value = serde_json::from_slice(&cmd.payload).unwrap();
                let config = &req["config"];
                let metadata: BTreeMap<String, String> =
                    serde_json::from_value(config["metadata"].clone()).unwrap_or_default();
                let svc = client
                    .service_builder()
                    .description(config["description"].as_str().unwrap_or_default())
                    .metadata(metadata)
                    .stats_handler(|e| json!({ "endpoint": e.name }))
                    .start(
                        config["name"].as_str().unwrap(),
                        config["version"].as_str().unwrap(),
                    )
                    .await
                    .unwrap();
                let mut groups = HashMap::new();
                for g in config["groups"].as_array().unwrap() {
                    let mut group = svc.group(g["name"].as_str().unwrap());
                    if let Some(q) = g["queue_group"].as_str() {
                        group = group.queue_group(q);
                    }
                    groups.insert(g["name"].as_str().unwrap().to_owned(), group);
                }
                for e in config["endpoints"].as_array().unwrap() {
                    let name = e["name"].as_str().unwrap();
                    let mut builder = match e["group"].as_str() {
                        Some(g) => groups[g].endpoint(name),
                        None => svc.endpoint(name),
                    };
                    if let Some(s) = e["subject"].as_str() {
                        builder = builder.subject(s);
                    }
                    if let Some(q) = e["queue_group"].as_str() {
                        builder = builder.queue_group(q);
                    }
                    if let Some(m) = e["metadata"].as_object() {
                        builder = builder.metadata(
                            m.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_owned())),
                        );
                    }
                    if name == "faulty" {
                        builder
                            .handler(|req: service::Request| async move {
                                let _ = req.respond_error(500, "handler error", "").await;
                            })
                            .await
                            .unwrap();
                    } else {
                        builder
                            .handler(|req: service::Request| async move {
                                let _ = req.respond(req.payload().clone()).await;
                            })
                            .await
                            .unwrap();
                    }
                }
                service = Some(svc);
            }
            Some(svc) => {
                svc.stop().await.unwrap();
            }
        }
        client.publish(reply, "").await.unwrap();
    }
}

#[tokio::test]
async fn cross_client_service_core_case() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let harness_client = rnats::connect(server.url()).await.unwrap();
    let harness = tokio::spawn(core_harness(harness_client.clone()));
    let runner = rnats::connect(server.url()).await.unwrap();
    // The harness subscribes before the runner starts (as the real runner requires).
    harness_client.flush().bounded().await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    harness_client.flush().bounded().await.unwrap();

    let command = json!({
        "suite": "service", "test": "core", "command": "add",
        "config": {
            "name": "demo", "version": "1.0.0", "description": "demo service",
            "metadata": {"workload": "cpu"},
            "groups": [{"name": "g1"}, {"name": "g2", "queue_group": "group-queue"}],
            "endpoints": [
                {"name": "demo-default-queue", "subject": "demo.default", "metadata": {"key": "value"}},
                {"name": "demo-custom-queue", "subject": "demo.custom", "queue_group": "endpoint-group"},
                {"name": "g1-parent-queue", "subject": "parent.queue", "group": "g1"},
                {"name": "g1-custom-queue", "subject": "custom.queue", "queue_group": "endpoint-group", "group": "g1"},
                {"name": "g2-parent-queue", "subject": "parent.queue", "group": "g2"},
                {"name": "g2-custom-queue", "subject": "custom.queue", "queue_group": "endpoint-group", "group": "g2"},
                {"name": "faulty", "subject": "faulty"}
            ]
        }
    });
    let reply = runner
        .request(
            "tests.service.core.0.command",
            serde_json::to_vec(&command).unwrap(),
        )
        .bounded()
        .await
        .unwrap();
    assert!(reply.payload.is_empty());

    let window = Duration::from_millis(300);
    let ping = gather(&runner, "$SRV.PING", window).await;
    assert_eq!(ping.len(), 1);
    let id = ping[0]["id"].as_str().unwrap().to_owned();
    for verb in ["PING", "INFO", "STATS"] {
        for subject in [
            format!("$SRV.{verb}"),
            format!("$SRV.{verb}.demo"),
            format!("$SRV.{verb}.demo.{id}"),
        ] {
            let answers = gather(&runner, &subject, window).await;
            assert_eq!(answers.len(), 1, "{subject}");
            assert_valid(&verb.to_ascii_lowercase(), &answers[0]);
            assert_eq!(answers[0]["metadata"], json!({"workload": "cpu"}));
        }
    }
    let info = &gather(&runner, "$SRV.INFO.demo", window).await[0];
    assert_eq!(info["description"], "demo service");
    let endpoints: Vec<(String, String, String)> = info["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["subject"].as_str().unwrap().to_owned(),
                e["queue_group"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        ("demo-default-queue", "demo.default", "q"),
        ("demo-custom-queue", "demo.custom", "endpoint-group"),
        ("g1-parent-queue", "g1.parent.queue", "q"),
        ("g1-custom-queue", "g1.custom.queue", "endpoint-group"),
        ("g2-parent-queue", "g2.parent.queue", "group-queue"),
        ("g2-custom-queue", "g2.custom.queue", "endpoint-group"),
        ("faulty", "faulty", "q"),
    ];
    assert_eq!(
        endpoints,
        expected.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()))
    );
    assert_eq!(info["endpoints"][0]["metadata"], json!({"key": "value"}));

    for (_, subject, _) in &expected[..6] {
        let answer = service::call(&runner, subject, format!("hello {subject}"))
            .bounded()
            .await
            .unwrap();
        assert_eq!(answer.payload, format!("hello {subject}"));
    }
    let err = service::call(&runner, "faulty", "x")
        .bounded()
        .await
        .unwrap_err();
    let s = err.service_error().unwrap();
    assert_eq!((s.code(), s.description()), (500, "handler error"));

    let stats = &gather(&runner, "$SRV.STATS.demo", window).await[0];
    for e in stats["endpoints"].as_array().unwrap() {
        assert_eq!(e["data"], json!({"endpoint": e["name"]}));
        assert_eq!(e["num_requests"], 1, "{e}");
    }
    let faulty = &stats["endpoints"][6];
    assert_eq!(faulty["num_errors"], 1);
    assert_eq!(faulty["last_error"], "500:handler error");

    // Second command: stop.
    runner
        .request("tests.service.core.1.command", "{}")
        .bounded()
        .await
        .unwrap();
    assert!(gather(&runner, "$SRV.PING", window).await.is_empty());
    let err = runner
        .request("demo.default", "")
        .bounded()
        .await
        .unwrap_err();
    assert!(err.is_no_responders());
    harness.abort();
}

/// The repository's Python (with nats-py), or a failure saying how to make it.
fn python() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/setup.sh to build the venv with nats-py (scripts/test.sh does it before cargo test)",
        python.display()
    );
    python
}

fn interop_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/service_interop.py")
}

#[tokio::test]
async fn nats_py_discovers_and_calls_an_rnats_service() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut services = Vec::new();
    for _ in 0..2 {
        let svc = client
            .service_builder()
            .description("from rust")
            .metadata([("lang", "rust")])
            .stats_handler(|e| json!({ "endpoint": e.name }))
            .start("rs-svc", "3.1.4")
            .await
            .unwrap();
        svc.group("rs")
            .endpoint("echo")
            .metadata([("kind", "echo")])
            .handler(echo)
            .await
            .unwrap();
        services.push(svc);
    }
    client.flush().bounded().await.unwrap();
    let (python, script, url) = (python(), interop_script(), server.url());
    let output = within(
        60,
        "the nats-py discovery script",
        tokio::task::spawn_blocking(move || {
            std::process::Command::new(python)
                .arg(script)
                .args(["discover", &url, "rs-svc"])
                .output()
        }),
    )
    .await
    .unwrap()
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the script failed: {stderr}");
    let out: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    assert_eq!(out["ping_all"], 2);
    assert_eq!(out["ping_name"], 2);
    assert_eq!(out["types"], json!(["io.nats.micro.v1.ping_response"]));
    let mut ids: Vec<String> = services.iter().map(|s| s.id().to_owned()).collect();
    ids.sort();
    assert_eq!(out["ids"], json!(ids));
    assert_eq!(
        out["info"],
        json!([{
            "name": "rs-svc", "id": ids[0], "version": "3.1.4", "description": "from rust",
            "metadata": {"lang": "rust"},
            "endpoints": [{"name": "echo", "subject": "rs.echo", "queue_group": "q", "metadata": {"kind": "echo"}}]
        }])
    );
    assert_eq!(
        out["calls"],
        json!({
            "echo:hello": {"data": "hello", "error": null, "code": null},
            "echo:error": {"data": "details", "error": "bad request", "code": "400"}
        })
    );
    let stats = out["stats"].as_array().unwrap();
    assert_eq!(stats.len(), 2);
    let mut total = 0;
    for s in stats {
        assert_eq!(s["type"], "io.nats.micro.v1.stats_response");
        // nats-py parses the start time (its format: six fractional digits and a Z).
        let ours = services.iter().find(|svc| svc.id() == s["id"]).unwrap();
        let ours = serde_json::to_value(ours.stats()).unwrap();
        let ours = ours["started"].as_str().unwrap().strip_suffix('Z').unwrap();
        assert_eq!(s["started"], ours);
        let e = &s["endpoints"][0];
        assert_eq!(e["data"], json!({"endpoint": "echo"}));
        total += e["num_requests"].as_u64().unwrap();
        if e["num_requests"] == 2 {
            // Both calls went to one instance.
            assert_eq!(e["num_errors"], 1);
            assert_eq!(e["last_error"], "400:bad request");
        }
    }
    assert_eq!(total, 2);
    for svc in services {
        svc.stop().bounded().await.unwrap();
    }
}

#[tokio::test]
async fn rnats_discovers_and_calls_a_nats_py_service() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let mut child = std::process::Command::new(python())
        .arg(interop_script())
        .args(["serve", &server.url()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    /// Kills the Python service if the test fails before it quits.
    struct KillOnDrop(Option<std::process::Child>);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            if let Some(child) = &mut self.0 {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
    let stdout = child.stdout.take().unwrap();
    let mut guard = KillOnDrop(Some(child));
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let ready = within(30, "the nats-py service's READY", lines.recv())
        .await
        .expect("the nats-py service ended before READY (see its stderr)");
    let id = ready.strip_prefix("READY ").unwrap().to_owned();

    let window = Duration::from_millis(300);
    let pings = service::discover(&client)
        .name("py-svc")
        .window(window)
        .ping()
        .bounded()
        .await
        .unwrap();
    assert_eq!(pings.len(), 1);
    assert_eq!(pings[0].id, id);
    assert_eq!(pings[0].kind, service::PING_RESPONSE_TYPE);
    assert_eq!(
        pings[0].metadata,
        BTreeMap::from([("lang".into(), "python".into())])
    );
    let info = service::discover(&client)
        .instance("py-svc", &id)
        .info()
        .bounded()
        .await
        .unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].version, "1.2.3");
    assert_eq!(info[0].description, "a nats-py service");
    let eps: Vec<(&str, &str, Option<&str>)> = info[0]
        .endpoints
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.subject.as_str(),
                e.queue_group.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        eps,
        [
            ("echo", "py.echo", Some("q")),
            ("fail", "py.fail", Some("q")),
            ("upper", "grp.upper", Some("gq"))
        ]
    );

    let echo = service::call(&client, "py.echo", "hi")
        .bounded()
        .await
        .unwrap();
    assert_eq!(echo.payload, "hi");
    let upper = service::call(&client, "grp.upper", "hi")
        .bounded()
        .await
        .unwrap();
    assert_eq!(upper.payload, "HI");
    let err = service::call(&client, "py.fail", "")
        .bounded()
        .await
        .unwrap_err();
    let s = err.service_error().expect("a service error");
    assert_eq!((s.code(), s.description()), (418, "teapot"));
    assert_eq!(s.data(), "no coffee");

    let stats = service::discover(&client)
        .name("py-svc")
        .window(window)
        .stats()
        .bounded()
        .await
        .unwrap();
    assert_eq!(stats.len(), 1);
    let requests: Vec<u64> = stats[0].endpoints.iter().map(|e| e.num_requests).collect();
    assert_eq!(requests, [1, 1, 1]);
    assert!(stats[0].started <= time::OffsetDateTime::now_utc());

    client.publish("py.quit", "").await.unwrap();
    let stopped = within(30, "the nats-py service's STOPPED", lines.recv()).await;
    assert_eq!(stopped.as_deref(), Some("STOPPED"));
    let mut child = guard.0.take().unwrap();
    let status = within(
        30,
        "the nats-py service's exit",
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(status.success());
    let left = service::discover(&client)
        .name("py-svc")
        .window(window)
        .ping()
        .bounded()
        .await
        .unwrap();
    assert!(
        left.is_empty(),
        "the stopped service still answers: {left:?}"
    );
}
