//! Services (ADR-32) against a real nats-server: the discovery answers checked against the
//! official micro v1 JSON Schemas (vendored in `tests/data/schemas/micro/v1`), validation,
//! queue groups, errors and panics, stop, several services. Other clients: `service_interop.rs`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use jsonschema::Validator;
use rnats::service;
use rnats::{Client, ErrorKind, Request};
use rnats_test::NatsServer;
use serde_json::{json, Value};

use crate::Bounded;

/// `fut`'s output, or a test failure naming `what` after `secs` seconds.
pub(crate) async fn within<T>(
    secs: u64,
    what: &str,
    fut: impl std::future::Future<Output = T>,
) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out after {secs} s waiting for {what}"))
}

/// The validator of the vendored micro v1 schema `verb` (`ping`, `info`, `stats`): draft-07,
/// formats checked.
fn validator(verb: &str) -> Validator {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join(format!("tests/data/schemas/micro/v1/{verb}_response.json"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::draft7::options()
        .should_validate_formats(true)
        .should_ignore_unknown_formats(false)
        .build(&schema)
        .unwrap()
}

/// Fails the test with every way `value` breaks the `verb` schema.
pub(crate) fn assert_valid(verb: &str, value: &Value) {
    let v = validator(verb);
    let errors: Vec<String> = v
        .iter_errors(value)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "{verb} answer {value} breaks the schema: {errors:?}"
    );
}

/// Every raw JSON answer to one request on `subject` within `window`.
pub(crate) async fn gather(client: &Client, subject: &str, window: Duration) -> Vec<Value> {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(&inbox).await.unwrap();
    client
        .publish_with_reply(subject, &inbox, "")
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + window;
    let mut out = Vec::new();
    while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, sub.next()).await {
        // A 503 status: nobody listens on `subject`.
        if msg.status.is_none() {
            out.push(serde_json::from_slice(&msg.payload).unwrap());
        }
    }
    out
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut k: Vec<&str> = value
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    k.sort_unstable();
    k
}

/// An endpoint handler echoing the payload, answering "error" with a 400 service error.
pub(crate) async fn echo(req: service::Request) {
    if req.payload() == "error" {
        req.respond_error(400, "bad request", "details")
            .await
            .unwrap();
    } else {
        req.respond(req.payload().clone()).await.unwrap();
    }
}

#[tokio::test]
async fn discovery_answers_match_the_micro_v1_schemas_on_every_subject() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let svc = client
        .service_builder()
        .description("schema check")
        .metadata([("zone", "a")])
        .stats_handler(|e| json!({ "endpoint": e.name, "seen": e.num_requests }))
        .start("schema-svc", "1.2.3-rc.1+build.5")
        .await
        .unwrap();
    svc.endpoint("plain")
        .metadata([("k", "v")])
        .handler(echo)
        .await
        .unwrap();
    svc.group("grp")
        .queue_group("gq")
        .endpoint("grouped")
        .subject("x.*")
        .handler(echo)
        .await
        .unwrap();
    svc.endpoint("all")
        .disable_queue_group()
        .handler(echo)
        .await
        .unwrap();
    service::call(&client, "plain", "hi")
        .bounded()
        .await
        .unwrap();
    service::call(&client, "grp.x.1", "hi")
        .bounded()
        .await
        .unwrap();
    let err = service::call(&client, "plain", "error")
        .bounded()
        .await
        .unwrap_err();
    assert!(err.is_service_error(), "{err:?}");

    let id = svc.id().to_owned();
    let window = Duration::from_millis(300);
    for verb in ["PING", "INFO", "STATS"] {
        for subject in [
            format!("$SRV.{verb}"),
            format!("$SRV.{verb}.schema-svc"),
            format!("$SRV.{verb}.schema-svc.{id}"),
        ] {
            let answers = gather(&client, &subject, window).await;
            assert_eq!(answers.len(), 1, "{subject}: {answers:?}");
            let a = &answers[0];
            let lower = verb.to_ascii_lowercase();
            assert_valid(&lower, a);
            assert_eq!(a["type"], format!("io.nats.micro.v1.{lower}_response"));
            assert_eq!(a["name"], "schema-svc");
            assert_eq!(a["id"], id.as_str());
            assert_eq!(a["version"], "1.2.3-rc.1+build.5");
            assert_eq!(a["metadata"], json!({"zone": "a"}));
            match verb {
                "PING" => assert_eq!(keys(a), ["id", "metadata", "name", "type", "version"]),
                "INFO" => {
                    assert_eq!(
                        keys(a),
                        [
                            "description",
                            "endpoints",
                            "id",
                            "metadata",
                            "name",
                            "type",
                            "version"
                        ]
                    );
                    assert_eq!(a["description"], "schema check");
                    assert_eq!(
                        a["endpoints"],
                        json!([
                            {"name": "plain", "subject": "plain", "queue_group": "q", "metadata": {"k": "v"}},
                            {"name": "grouped", "subject": "grp.x.*", "queue_group": "gq", "metadata": {}},
                            {"name": "all", "subject": "all", "queue_group": "", "metadata": {}},
                        ])
                    );
                }
                _ => {
                    assert_eq!(
                        keys(a),
                        [
                            "endpoints",
                            "id",
                            "metadata",
                            "name",
                            "started",
                            "type",
                            "version"
                        ]
                    );
                    let started = a["started"].as_str().unwrap();
                    assert!(started.ends_with('Z') && started.len() == 27, "{started}");
                    let eps = a["endpoints"].as_array().unwrap();
                    assert_eq!(eps.len(), 3);
                    for e in eps {
                        assert_eq!(
                            keys(e),
                            [
                                "average_processing_time",
                                "data",
                                "last_error",
                                "name",
                                "num_errors",
                                "num_requests",
                                "processing_time",
                                "queue_group",
                                "subject"
                            ]
                        );
                        assert_eq!(e["data"]["endpoint"], e["name"]);
                    }
                    assert_eq!(eps[0]["num_requests"], 2);
                    assert_eq!(eps[0]["num_errors"], 1);
                    assert_eq!(eps[0]["last_error"], "400:bad request");
                    assert_eq!(eps[0]["data"]["seen"], 2);
                    assert_eq!(eps[1]["num_requests"], 1);
                    assert_eq!(eps[1]["num_errors"], 0);
                    assert_eq!(eps[1]["last_error"], "");
                    assert_eq!(eps[2]["num_requests"], 0);
                    assert_eq!(eps[2]["average_processing_time"], 0);
                    let total = eps[0]["processing_time"].as_u64().unwrap();
                    let avg = eps[0]["average_processing_time"].as_u64().unwrap();
                    assert!(total > 0 && avg == total / 2, "{total} {avg}");
                }
            }
        }
    }
    // A PING for another name or id is not answered.
    assert!(gather(&client, "$SRV.PING.other", window).await.is_empty());
    assert!(gather(&client, "$SRV.PING.schema-svc.nope", window)
        .await
        .is_empty());

    // The typed discovery reads the same answers back.
    let info = service::discover(&client)
        .instance("schema-svc", &id)
        .info()
        .bounded()
        .await
        .unwrap();
    assert_eq!(info, vec![svc.info()]);
    assert_eq!(info[0].endpoints[2].queue_group, None);
    let stats = service::discover(&client)
        .name("schema-svc")
        .window(window)
        .stats()
        .bounded()
        .await
        .unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].endpoints[0].num_requests, 2);
    assert_eq!(
        stats[0].endpoints[0].data,
        Some(json!({"endpoint": "plain", "seen": 2}))
    );
    // The start time round-trips at microsecond precision.
    let started = svc.stats().started;
    assert_eq!(
        stats[0].started.unix_timestamp_nanos() / 1000,
        started.unix_timestamp_nanos() / 1000
    );

    // reset() clears every counter.
    svc.reset();
    let after = svc.stats();
    for e in &after.endpoints {
        assert_eq!(
            (
                e.num_requests,
                e.num_errors,
                e.last_error.as_str(),
                e.processing_time
            ),
            (0, 0, "", Duration::ZERO)
        );
    }
    svc.stop().bounded().await.unwrap();
}

#[tokio::test]
async fn names_versions_groups_and_subjects_are_validated() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let err = client
        .service_builder()
        .start("bad name", "1.0.0")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    assert!(
        err.to_string().contains("A-Z, a-z, 0-9, '-' and '_'"),
        "{err}"
    );
    for version in ["1.0", "01.0.0", "1.0.0-", "v1.0.0", ""] {
        let err = client
            .service_builder()
            .start("ok", version)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{version}");
        assert!(err.to_string().contains("not SemVer"), "{err}");
    }
    let svc = client.service_builder().start("ok", "1.0.0").await.unwrap();
    let err = svc.endpoint("a.b").add().await.unwrap_err();
    assert!(err.to_string().contains("invalid endpoint name"), "{err}");
    let err = svc.group("g.>").endpoint("e").add().await.unwrap_err();
    assert!(err.to_string().contains("invalid group name"), "{err}");
    let err = svc.endpoint("e").subject("a.>.b").add().await.unwrap_err();
    assert!(
        err.to_string().contains("invalid endpoint subject"),
        "{err}"
    );
    let err = svc
        .endpoint("e")
        .queue_group("has space")
        .add()
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err}");
    // Nothing invalid was registered; the connection is fine.
    assert!(svc.info().endpoints.is_empty());
    svc.endpoint("e").add().await.unwrap();
    assert_eq!(svc.info().endpoints.len(), 1);
    svc.stop().bounded().await.unwrap();
    // No endpoint can be added once stopped.
    assert!(svc.endpoint("late").add().await.is_err());
}

/// A handler answering with its service's id.
fn answer_with_id(id: String) -> impl Fn(service::Request) -> std::future::Ready<()> + Clone {
    move |req: service::Request| {
        let id = id.clone();
        tokio::spawn(async move {
            let _ = req.respond(id).await;
        });
        std::future::ready(())
    }
}

#[tokio::test]
async fn a_queue_group_spreads_the_load_over_two_instances() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let mut ids = Vec::new();
    let mut services = Vec::new();
    for _ in 0..2 {
        let client = rnats::connect(server.url()).await.unwrap();
        let svc = client
            .service_builder()
            .start("spread", "1.0.0")
            .await
            .unwrap();
        svc.endpoint("work")
            .handler(answer_with_id(svc.id().to_owned()))
            .await
            .unwrap();
        client.flush().bounded().await.unwrap();
        ids.push(svc.id().to_owned());
        services.push(svc);
    }
    let caller = rnats::connect(server.url()).await.unwrap();
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..200 {
        let answer = service::call(&caller, "work", "").bounded().await.unwrap();
        *counts
            .entry(String::from_utf8(answer.payload.to_vec()).unwrap())
            .or_default() += 1;
    }
    // Each request went to exactly one instance, and both got a share (binomial(200, ½):
    // fewer than 40 has a probability below 1e-17).
    assert_eq!(counts.values().sum::<usize>(), 200, "{counts:?}");
    for id in &ids {
        assert!(counts.get(id).copied().unwrap_or(0) >= 40, "{counts:?}");
    }
    // STATS of each instance agrees.
    let stats = service::discover(&caller)
        .name("spread")
        .window(Duration::from_millis(300))
        .stats()
        .bounded()
        .await
        .unwrap();
    assert_eq!(stats.len(), 2);
    for s in &stats {
        assert_eq!(s.endpoints[0].num_requests as usize, counts[&s.id]);
    }
    for svc in services {
        svc.stop().bounded().await.unwrap();
    }
}

#[tokio::test]
async fn a_disabled_queue_group_delivers_every_request_to_every_instance() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let mut services = Vec::new();
    for i in 0..2 {
        let client = rnats::connect(server.url()).await.unwrap();
        // One instance disables it for the service, the other for the endpoint only; the
        // group-level setting is overridden by the endpoint in the second.
        let svc = if i == 0 {
            client
                .service_builder()
                .disable_queue_group()
                .start("fanout", "1.0.0")
                .await
                .unwrap()
        } else {
            client
                .service_builder()
                .queue_group("svcq")
                .start("fanout", "1.0.0")
                .await
                .unwrap()
        };
        let group = svc.group("fan").queue_group("groupq");
        group
            .endpoint("all")
            .disable_queue_group()
            .handler(answer_with_id(svc.id().to_owned()))
            .await
            .unwrap();
        client.flush().bounded().await.unwrap();
        assert_eq!(svc.info().endpoints[0].queue_group, None);
        services.push(svc);
    }
    let caller = rnats::connect(server.url()).await.unwrap();
    let inbox = caller.new_inbox();
    let mut answers = caller.subscribe(&inbox).await.unwrap();
    caller
        .publish_with_reply("fan.all", &inbox, "x")
        .await
        .unwrap();
    let mut from = vec![
        String::from_utf8(crate::next_msg(&mut answers).await.payload.to_vec()).unwrap(),
        String::from_utf8(crate::next_msg(&mut answers).await.payload.to_vec()).unwrap(),
    ];
    from.sort();
    let mut ids: Vec<String> = services.iter().map(|s| s.id().to_owned()).collect();
    ids.sort();
    assert_eq!(from, ids);
    for svc in &services {
        assert_eq!(svc.stats().endpoints[0].num_requests, 1);
    }
    for svc in services {
        svc.stop().bounded().await.unwrap();
    }
}

#[tokio::test]
async fn errors_and_panics_are_answered_counted_and_survived() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let svc = client
        .service_builder()
        .start("fragile", "0.1.0")
        .await
        .unwrap();
    svc.endpoint("op")
        .handler(|req: service::Request| async move {
            match &req.payload()[..] {
                b"panic" => panic!("the handler panics on purpose"),
                b"error" => req.respond_error(503, "busy", "try later").await.unwrap(),
                _ => req.respond(req.payload().clone()).await.unwrap(),
            }
        })
        .await
        .unwrap();
    let err = service::call(&client, "op", "error")
        .bounded()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Service);
    let s = err.service_error().expect("a service error");
    assert_eq!((s.code(), s.description()), (503, "busy"));
    assert_eq!(s.data(), "try later");
    assert_eq!(err.to_string(), "service error 503: busy");
    // The headers are the ones ADR-32 names.
    let raw = client.request("op", "error").bounded().await.unwrap();
    let headers = raw.headers.expect("error headers");
    assert_eq!(headers.get("Nats-Service-Error"), Some("busy"));
    assert_eq!(headers.get("Nats-Service-Error-Code"), Some("503"));

    for _ in 0..2 {
        let err = service::call(&client, "op", "panic")
            .bounded()
            .await
            .unwrap_err();
        let s = err.service_error().expect("a service error");
        assert_eq!((s.code(), s.description()), (500, "handler panicked"));
    }
    // Still serving.
    let ok = service::call(&client, "op", "fine")
        .bounded()
        .await
        .unwrap();
    assert_eq!(ok.payload, "fine");
    let stats = &svc.stats().endpoints[0];
    assert_eq!(stats.num_requests, 5);
    assert_eq!(stats.num_errors, 4);
    assert_eq!(stats.last_error, "500:handler panicked");
    // A request without a reply subject cannot be answered: an error, not a panic.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut stream = svc.endpoint("noreply").add().await.unwrap();
    tokio::spawn(async move {
        while let Some(req) = stream.next().await {
            let _ = tx.send(req.respond("x").await);
        }
    });
    client.publish("noreply", "").await.unwrap();
    let result = within(5, "the respond result", rx.recv()).await.unwrap();
    assert_eq!(result.unwrap_err().kind(), ErrorKind::InvalidArgument);
    svc.stop().bounded().await.unwrap();
}

#[tokio::test]
async fn stop_drains_and_lets_in_flight_handlers_answer() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let caller = rnats::connect(server.url()).await.unwrap();
    let svc = client
        .service_builder()
        .start("slow", "1.0.0")
        .await
        .unwrap();
    let started = Arc::new(tokio::sync::Notify::new());
    let started2 = Arc::clone(&started);
    svc.endpoint("slow")
        .handler(move |req: service::Request| {
            let started = Arc::clone(&started2);
            async move {
                started.notify_one();
                tokio::time::sleep(Duration::from_millis(100)).await;
                req.respond(req.payload().clone()).await.unwrap();
            }
        })
        .await
        .unwrap();
    let mut stream = svc.endpoint("streamed").add().await.unwrap();
    // The caller is another connection: the subscriptions must be at the server first.
    client.flush().bounded().await.unwrap();
    let mut pending = Vec::new();
    for i in 0..5 {
        pending.push(
            caller
                .send_request("slow", Request::new().payload(i.to_string()))
                .await
                .unwrap(),
        );
    }
    caller.publish("streamed", "s").await.unwrap();
    caller.flush().bounded().await.unwrap();
    within(5, "the first request in the handler", started.notified()).await;
    let stopper = {
        let svc = svc.clone();
        tokio::spawn(async move { svc.stop().await })
    };
    // All five were received before the drain, so all five are answered.
    for (i, response) in pending.into_iter().enumerate() {
        let answer = response.bounded().await.unwrap();
        assert_eq!(answer.payload, i.to_string());
    }
    // The stream yields its queued request, then ends.
    let req = within(5, "the streamed request", stream.next())
        .await
        .unwrap();
    assert_eq!(req.payload(), "s");
    assert!(within(5, "the stream's end", stream.next()).await.is_none());
    within(10, "stop", stopper).await.unwrap().unwrap();
    within(5, "stopped()", svc.stopped()).await;
    assert!(svc.is_stopped());
    assert_eq!(svc.stats().endpoints[0].num_requests, 5);
    // Nothing listens any more: endpoints and discovery are gone.
    let err = caller.request("slow", "").bounded().await.unwrap_err();
    assert!(err.is_no_responders(), "{err:?}");
    assert!(
        gather(&caller, "$SRV.PING.slow", Duration::from_millis(200))
            .await
            .is_empty()
    );
    // Stopping twice is harmless.
    svc.stop().bounded().await.unwrap();
}

#[tokio::test]
async fn several_services_on_one_connection_nested_groups_and_streams() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let a = client
        .service_builder()
        .start("svc-a", "1.0.0")
        .await
        .unwrap();
    let b = client
        .service_builder()
        .start("svc-b", "2.0.0")
        .await
        .unwrap();
    let mut nested = a
        .group("one")
        .group("two")
        .endpoint("deep")
        .add()
        .await
        .unwrap();
    assert_eq!(nested.subject(), "one.two.deep");
    b.endpoint("echo").handler(echo).await.unwrap();
    let responder = tokio::spawn(async move {
        while let Some(req) = nested.next().await {
            tokio::time::sleep(Duration::from_millis(2)).await;
            req.respond("deep").await.unwrap();
        }
    });
    assert_eq!(
        service::call(&client, "one.two.deep", "")
            .bounded()
            .await
            .unwrap()
            .payload,
        "deep"
    );
    assert_eq!(
        service::call(&client, "echo", "e")
            .bounded()
            .await
            .unwrap()
            .payload,
        "e"
    );
    let pings = service::discover(&client)
        .window(Duration::from_millis(300))
        .ping()
        .bounded()
        .await
        .unwrap();
    let mut names: Vec<(String, String)> = pings.into_iter().map(|p| (p.name, p.version)).collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("svc-a".to_owned(), "1.0.0".to_owned()),
            ("svc-b".to_owned(), "2.0.0".to_owned())
        ]
    );
    // One instance, by id: the query ends at its answer, long before the window.
    let t = std::time::Instant::now();
    let one = service::discover(&client)
        .instance("svc-a", a.id())
        .window(Duration::from_secs(5))
        .stats()
        .bounded()
        .await
        .unwrap();
    assert!(t.elapsed() < Duration::from_secs(2));
    assert_eq!(one.len(), 1);
    assert_eq!(one[0].endpoints[0].num_requests, 1);
    // A stream endpoint's time runs until its answer.
    assert!(one[0].endpoints[0].processing_time >= Duration::from_millis(2));
    a.stop().bounded().await.unwrap();
    within(5, "the responder's end", responder).await.unwrap();
    // b is unaffected by a's stop.
    assert_eq!(
        service::call(&client, "echo", "still")
            .bounded()
            .await
            .unwrap()
            .payload,
        "still"
    );
    let left = service::discover(&client)
        .window(Duration::from_millis(300))
        .ping()
        .bounded()
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name, "svc-b");
    b.stop().bounded().await.unwrap();

    // Another discovery prefix, kept as given (case included): only it is answered.
    let c = client
        .service_builder()
        .api_prefix("$Custom.Srv")
        .start("svc-c", "1.0.0")
        .await
        .unwrap();
    let window = Duration::from_millis(300);
    assert!(gather(&client, "$SRV.PING", window).await.is_empty());
    let answers = gather(&client, "$Custom.Srv.PING.svc-c", window).await;
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0]["id"], c.id());
    let found = service::discover(&client)
        .api_prefix("$Custom.Srv")
        .max(1)
        .window(Duration::from_secs(5))
        .info()
        .bounded()
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].name, "svc-c");
    c.stop().bounded().await.unwrap();
}

#[tokio::test]
async fn a_dropped_service_handle_keeps_serving_until_the_client_closes() {
    let _shared = crate::shared().await;
    let server = NatsServer::start();
    let client = rnats::connect(server.url()).await.unwrap();
    let svc = client
        .service_builder()
        .start("kept", "1.0.0")
        .await
        .unwrap();
    svc.endpoint("echo").handler(echo).await.unwrap();
    let id = svc.id().to_owned();
    client.flush().bounded().await.unwrap();
    drop(svc);
    let caller = rnats::connect(server.url()).await.unwrap();
    let answer = service::call(&caller, "echo", "still")
        .bounded()
        .await
        .unwrap();
    assert_eq!(answer.payload, "still");
    let pings = service::discover(&caller)
        .instance("kept", &id)
        .ping()
        .bounded()
        .await
        .unwrap();
    assert_eq!(pings.len(), 1);
    client.close().bounded().await.unwrap();
    let err = caller.request("echo", "").bounded().await.unwrap_err();
    assert!(err.is_no_responders(), "{err:?}");
}
