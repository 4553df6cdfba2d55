//! rnats' own Python bindings as a service: `tests/data/micro_service.py` runs an
//! `rnats.micro` service (nats-py's `nats.micro` API on rnats::service) with the repository's
//! `.venv`, and the Rust client discovers it, checks its answers against the micro v1 schemas,
//! and calls its endpoints. Skipped, with the reason printed, when the venv or the bindings in
//! it are missing.

use std::collections::BTreeMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::time::Duration;

use rnats::service;
use rnats::HeaderMap;
use rnats_test::NatsServer;
use serde_json::{json, Value};

use crate::service::{assert_valid, gather, within};
use crate::Bounded;

/// The repository's `.venv/bin/python`, or `None` (with the reason printed) when absent.
fn venv_python() -> Option<PathBuf> {
    let python = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python");
    if python.exists() {
        Some(python)
    } else {
        eprintln!(
            "skipped: {} is missing (scripts/setup.sh builds the venv with the rnats bindings)",
            python.display()
        );
        None
    }
}

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

#[tokio::test]
async fn rnats_discovers_and_calls_an_rnats_micro_python_service() {
    let _shared = crate::shared().await;
    let Some(python) = venv_python() else {
        return;
    };
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/micro_service.py");
    let mut child = std::process::Command::new(python)
        .arg(script)
        .arg(server.url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut guard = KillOnDrop(Some(child));
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let Some(ready) = within(30, "the rnats.micro service's READY", lines.recv()).await else {
        let child = guard.0.take().unwrap();
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.code() == Some(3) {
            eprintln!("skipped: {}", stderr.trim());
            return;
        }
        panic!("the rnats.micro service ended before READY: {stderr}");
    };
    let id = ready.strip_prefix("READY ").unwrap().to_owned();

    // Discovery on the three subject levels, each answer valid against the schemas.
    let window = Duration::from_millis(300);
    for verb in ["PING", "INFO", "STATS"] {
        for subject in [
            format!("$SRV.{verb}"),
            format!("$SRV.{verb}.py-micro"),
            format!("$SRV.{verb}.py-micro.{id}"),
        ] {
            let answers: Vec<Value> = gather(&client, &subject, window)
                .await
                .into_iter()
                .filter(|a| a["name"] == "py-micro")
                .collect();
            assert_eq!(answers.len(), 1, "{subject}: {answers:?}");
            assert_eq!(answers[0]["id"], id.as_str());
            assert_valid(&verb.to_lowercase(), &answers[0]);
        }
    }
    let pings = service::discover(&client)
        .name("py-micro")
        .window(window)
        .ping()
        .bounded()
        .await
        .unwrap();
    assert_eq!(pings.len(), 1);
    assert_eq!(
        (
            pings[0].id.as_str(),
            pings[0].kind.as_str(),
            pings[0].version.as_str()
        ),
        (id.as_str(), service::PING_RESPONSE_TYPE, "2.0.0")
    );
    let metadata = BTreeMap::from([
        ("client".to_owned(), "rnats".to_owned()),
        ("lang".to_owned(), "python".to_owned()),
    ]);
    assert_eq!(pings[0].metadata, metadata);
    let info = service::discover(&client)
        .instance("py-micro", &id)
        .info()
        .bounded()
        .await
        .unwrap();
    assert_eq!(info.len(), 1);
    assert_eq!(info[0].description, "an rnats.micro service");
    assert_eq!(info[0].metadata, metadata);
    let eps: Vec<(&str, &str, Option<&str>, Option<&str>)> = info[0]
        .endpoints
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.subject.as_str(),
                e.queue_group.as_deref(),
                e.metadata.get("kind").map(String::as_str),
            )
        })
        .collect();
    assert_eq!(
        eps,
        [
            ("echo", "pm.echo", Some("q"), Some("echo")),
            ("fail", "pm.fail", Some("q"), None),
            ("boom", "pm.boom", Some("q"), None),
            ("upper", "pg.upper", Some("pq"), None),
        ]
    );

    // Calls: an answer with headers, an error answer, a raised error, a group's endpoint.
    let mut headers = HeaderMap::new();
    headers.insert("X-Trace", "t1");
    let echo = service::call_with(
        &client,
        "pm.echo",
        rnats::Request::new().payload("hi").headers(headers),
    )
    .bounded()
    .await
    .unwrap();
    assert_eq!(echo.payload, "hi");
    assert_eq!(
        echo.headers
            .as_ref()
            .and_then(|h| h.get("X-Trace"))
            .map(|v| v.to_string()),
        Some("t1".to_owned())
    );
    let err = service::call(&client, "pm.fail", "")
        .bounded()
        .await
        .unwrap_err();
    let s = err.service_error().expect("a service error");
    assert_eq!((s.code(), s.description()), (418, "teapot"));
    assert_eq!(s.data(), "no coffee");
    let err = service::call(&client, "pm.boom", "")
        .bounded()
        .await
        .unwrap_err();
    let s = err.service_error().expect("a service error");
    assert_eq!((s.code(), s.description()), (503, "down"));
    for _ in 0..3 {
        let upper = service::call(&client, "pg.upper", "abc")
            .bounded()
            .await
            .unwrap();
        assert_eq!(upper.payload, "ABC");
    }

    let stats = service::discover(&client)
        .instance("py-micro", &id)
        .stats()
        .bounded()
        .await
        .unwrap();
    assert_eq!(stats.len(), 1);
    let counted: Vec<(&str, u64, u64, &str, Option<&Value>)> = stats[0]
        .endpoints
        .iter()
        .map(|e| {
            (
                e.name.as_str(),
                e.num_requests,
                e.num_errors,
                e.last_error.as_str(),
                e.data.as_ref(),
            )
        })
        .collect();
    let data = |n: &str| json!({ "endpoint": n });
    let (d_echo, d_fail, d_boom, d_upper) =
        (data("echo"), data("fail"), data("boom"), data("upper"));
    assert_eq!(
        counted,
        [
            ("echo", 1, 0, "", Some(&d_echo)),
            ("fail", 1, 1, "418:teapot", Some(&d_fail)),
            ("boom", 1, 1, "503:down", Some(&d_boom)),
            ("upper", 3, 0, "", Some(&d_upper)),
        ]
    );
    assert!(stats[0].started <= time::OffsetDateTime::now_utc());

    // The service's own view (svc.stats() in Python) agrees, then it stops and is gone.
    client.publish("pm.quit", "").await.unwrap();
    let own = within(30, "the service's own statistics", lines.recv())
        .await
        .expect("the service ended before printing its statistics");
    let own: Value = serde_json::from_str(&own).unwrap();
    assert_eq!(own["id"], id.as_str());
    let own_counts: Vec<(String, u64)> = own["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_owned(),
                e["num_requests"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        own_counts,
        [
            ("echo".to_owned(), 1),
            ("fail".to_owned(), 1),
            ("boom".to_owned(), 1),
            ("upper".to_owned(), 3)
        ]
    );
    let stopped = within(30, "the service's STOPPED", lines.recv()).await;
    assert_eq!(stopped.as_deref(), Some("STOPPED"));
    let mut child = guard.0.take().unwrap();
    let status = within(
        30,
        "the service's exit",
        tokio::task::spawn_blocking(move || child.wait()),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(status.success());
    let left = service::discover(&client)
        .name("py-micro")
        .window(window)
        .ping()
        .bounded()
        .await
        .unwrap();
    assert!(left.is_empty(), "still answering after stop: {left:?}");
}
