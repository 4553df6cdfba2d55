//! What rnats sends to the JetStream API, checked against the official JSON Schemas
//! (`tests/data/schemas/jetstream/api/v1`, vendored from nats-io/jsm.go): every request is snooped off the wire while a
//! real server serves it.
//!
//! The checker is a small draft-07 subset written here (type, required, properties,
//! additionalProperties, enum, minimum/maximum, minLength/maxLength, items, allOf/oneOf/
//! anyOf): the schemas use nothing else except `pattern` and `format`, which it skips, and a
//! full validator crate would not build offline.

use std::path::PathBuf;
use std::time::Duration;

use futures_util::{StreamExt, TryStreamExt};
use rnats::jetstream::{self, consumer, stream, Publish};
use serde_json::Value;

use crate::jetstream::{memory_stream, with};

fn schema(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/schemas/jetstream/api/v1")
        .join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading schema {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// The ways `value` breaks `schema`, each with its JSON path.
fn violations(schema: &Value, value: &Value, path: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some(s) = schema.as_object() else {
        return out;
    };
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "null" => value.is_null(),
            _ => true,
        });
        if !ok {
            out.push(format!("{path}: {value} is not of type {t}"));
            return out;
        }
    }
    if let Some(Value::Array(options)) = s.get("enum") {
        if !options.contains(value) {
            out.push(format!("{path}: {value} not in {options:?}"));
        }
    }
    let as_i128 = |v: &Value| {
        v.as_i64()
            .map(i128::from)
            .or_else(|| v.as_u64().map(i128::from))
    };
    if let (Some(n), Some(min)) = (as_i128(value), s.get("minimum").and_then(as_i128)) {
        if n < min {
            out.push(format!("{path}: {n} < minimum {min}"));
        }
    }
    if let (Some(n), Some(max)) = (as_i128(value), s.get("maximum").and_then(as_i128)) {
        if n > max {
            out.push(format!("{path}: {n} > maximum {max}"));
        }
    }
    if let Some(text) = value.as_str() {
        let len = text.chars().count() as u64;
        if s.get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len < m)
        {
            out.push(format!("{path}: {text:?} is too short"));
        }
        if s.get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|m| len > m)
        {
            out.push(format!("{path}: {text:?} is too long"));
        }
    }
    if let Some(obj) = value.as_object() {
        let props = s.get("properties").and_then(Value::as_object);
        if let Some(Value::Array(required)) = s.get("required") {
            for r in required.iter().filter_map(Value::as_str) {
                if !obj.contains_key(r) {
                    out.push(format!("{path}: required {r:?} missing"));
                }
            }
        }
        for (k, v) in obj {
            match props.and_then(|p| p.get(k)) {
                Some(sub) => out.extend(violations(sub, v, &format!("{path}.{k}"))),
                None => {
                    if s.get("additionalProperties") == Some(&Value::Bool(false)) {
                        out.push(format!("{path}: unknown property {k:?}"));
                    }
                }
            }
        }
    }
    if let (Some(items), Some(array)) = (s.get("items"), value.as_array()) {
        for (i, v) in array.iter().enumerate() {
            out.extend(violations(items, v, &format!("{path}[{i}]")));
        }
    }
    if let Some(Value::Array(all)) = s.get("allOf") {
        for sub in all {
            out.extend(violations(sub, value, path));
        }
    }
    if let Some(Value::Array(one)) = s.get("oneOf") {
        let passing = one
            .iter()
            .filter(|sub| violations(sub, value, path).is_empty())
            .count();
        if passing != 1 {
            out.push(format!(
                "{path}: matches {passing} of the oneOf alternatives, not 1"
            ));
        }
    }
    if let Some(Value::Array(any)) = s.get("anyOf") {
        if !any
            .iter()
            .any(|sub| violations(sub, value, path).is_empty())
        {
            out.push(format!("{path}: matches none of the anyOf alternatives"));
        }
    }
    out
}

#[test]
fn the_checker_catches_violations() {
    let s = schema("stream_create_request.json");
    let ok = serde_json::to_value(memory_stream("S", &["s"])).unwrap();
    assert_eq!(violations(&s, &ok, "$"), Vec::<String>::new());
    let mut bad = ok.clone();
    bad["retention"] = "forever".into();
    bad["no_such_field"] = 1.into();
    bad.as_object_mut().unwrap().remove("max_msgs");
    let v = violations(&s, &bad, "$");
    assert!(v.iter().any(|e| e.contains("forever")), "{v:?}");
    assert!(v.iter().any(|e| e.contains("no_such_field")), "{v:?}");
    assert!(v.iter().any(|e| e.contains("max_msgs")), "{v:?}");
}

/// Which schema checks requests to an API subject (after `$JS.API.`), if any.
fn schema_for(api: &str) -> Option<&'static str> {
    let t: Vec<&str> = api.split('.').collect();
    Some(match t.as_slice() {
        ["STREAM", "CREATE", ..] => "stream_create_request.json",
        ["STREAM", "UPDATE", ..] => "stream_update_request.json",
        ["STREAM", "INFO", ..] => "stream_info_request.json",
        ["STREAM", "NAMES"] => "stream_names_request.json",
        ["STREAM", "LIST"] => "stream_list_request.json",
        ["STREAM", "PURGE", ..] => "stream_purge_request.json",
        ["STREAM", "MSG", "GET", ..] => "stream_msg_get_request.json",
        ["STREAM", "MSG", "DELETE", ..] => "stream_msg_delete_request.json",
        ["CONSUMER", "CREATE", ..] => "consumer_create_request.json",
        ["CONSUMER", "NAMES", ..] => "consumer_names_request.json",
        ["CONSUMER", "LIST", ..] => "consumer_list_request.json",
        ["CONSUMER", "MSG", "NEXT", ..] => "consumer_getnext_request.json",
        ["CONSUMER", "PAUSE", ..] => "consumer_pause_request.json",
        _ => return None,
    })
}

#[tokio::test]
async fn every_request_rnats_sends_validates_against_the_schemas() {
    let _shared = crate::shared().await;
    let (server, js) = crate::jetstream::js_server().await;
    let snoop = rnats::connect(server.url()).await.unwrap();
    let mut requests = snoop.subscribe("$JS.API.>").await.unwrap();
    snoop.flush().await.unwrap();

    // Streams: a configuration using every modelled knob, then updates and reads.
    js.create_stream(memory_stream("ORIGIN", &["origin.>"]))
        .await
        .unwrap();
    let mut config = crate::jetstream::every_knob_stream_config();
    if let Some(source) = config.sources.first_mut() {
        source.opt_start_seq = Some(1);
    }
    config.placement = Some(with(stream::Placement::default(), |p| {
        p.tags = vec![];
    }));
    let full = js.create_stream(config.clone()).await.unwrap();
    js.update_stream(full.cached_info().config.clone())
        .await
        .unwrap();
    let mut mirror = stream::Config::new("MIRROR");
    mirror.mirror = Some(stream::Source::new("ORIGIN"));
    mirror.mirror_direct = true;
    js.create_stream(mirror).await.unwrap();

    let stream = js
        .create_stream(memory_stream("S", &["s.>"]))
        .await
        .unwrap();
    for i in 0..5 {
        js.publish_with(format!("s.{i}"), Publish::new().message_id(format!("{i}")))
            .await
            .unwrap()
            .await
            .unwrap();
    }
    stream
        .info_with(
            stream::InfoOptions::new()
                .subjects_filter(">")
                .deleted_details(true),
        )
        .await
        .unwrap();
    let _: Vec<String> = js
        .stream_names()
        .with_subject("s.1")
        .try_collect()
        .await
        .unwrap();
    let _: Vec<stream::Info> = js.streams().try_collect().await.unwrap();
    stream.get_raw_message(1).await.unwrap();
    stream.get_last_raw_message_by_subject("s.1").await.unwrap();
    stream
        .get_next_raw_message_by_subject("s.2", 1)
        .await
        .unwrap();
    stream.delete_message(1).await.unwrap();
    stream.erase_message(2).await.unwrap();
    stream.purge().filter("s.3").keep(1).await.unwrap();
    stream.purge().sequence(4).await.unwrap();

    // Consumers: a configuration using every pull knob, then reads and pulls.
    let mut c = consumer::pull::Config::durable("FULLC");
    c.description = Some("every pull knob".into());
    c.deliver_policy = consumer::DeliverPolicy::ByStartSequence;
    c.opt_start_seq = Some(2);
    c.ack_wait = Duration::from_secs(10);
    c.max_deliver = 5;
    c.backoff = vec![Duration::from_secs(1), Duration::from_secs(2)];
    c.filter_subjects = vec!["s.1".into(), "s.2".into()];
    c.replay_policy = consumer::ReplayPolicy::Instant;
    c.sample_freq = Some("50%".into());
    c.max_waiting = 100;
    c.max_ack_pending = 50;
    c.max_batch = 10;
    c.max_expires = Duration::from_secs(60);
    c.max_bytes = 1 << 20;
    c.inactive_threshold = Duration::from_secs(3600);
    c.num_replicas = 1;
    c.mem_storage = true;
    c.metadata = [("k".to_string(), "v".to_string())].into();
    c.priority_groups = vec!["g".into()];
    c.priority_policy = consumer::PriorityPolicy::Overflow;
    let full_consumer: consumer::PullConsumer = stream.create_consumer(c).await.unwrap();
    stream
        .update_consumer(full_consumer.config().clone())
        .await
        .unwrap();
    let mut t = consumer::pull::Config::ephemeral();
    t.deliver_policy = consumer::DeliverPolicy::ByStartTime;
    t.opt_start_time = Some(time::OffsetDateTime::now_utc());
    t.ack_policy = consumer::AckPolicy::None;
    t.headers_only = true;
    t.filter_subject = "s.>".into();
    stream.create_or_update_consumer(t).await.unwrap();
    let pull: consumer::PullConsumer = stream
        .create_consumer(consumer::pull::Config::durable("PULL"))
        .await
        .unwrap();
    let mut batch = pull
        .fetch()
        .max_messages(2)
        .max_bytes(1 << 16)
        .messages()
        .await
        .unwrap();
    while let Some(m) = batch.next().await {
        m.unwrap().ack().await.unwrap();
    }
    let mut batch = pull
        .batch()
        .expires(Duration::from_secs(1))
        .heartbeat(Duration::from_millis(400))
        .messages()
        .await
        .unwrap();
    while batch.next().await.is_some() {}
    let mut grouped = full_consumer
        .fetch()
        .group("g")
        .min_pending(1)
        .min_ack_pending(1)
        .messages()
        .await
        .unwrap();
    while grouped.next().await.is_some() {}
    // (An overflow consumer may refuse a priority; the request is what is checked.)
    let mut prioritized = full_consumer
        .fetch()
        .group("g")
        .priority(3)
        .messages()
        .await
        .unwrap();
    while prioritized.next().await.is_some() {}
    let mut messages = pull.messages().await.unwrap();
    let _ = tokio::time::timeout(Duration::from_millis(200), messages.next()).await;
    drop(messages);
    let _: Vec<String> = stream.consumer_names().try_collect().await.unwrap();
    let _: Vec<consumer::Info> = stream.consumers().try_collect().await.unwrap();
    stream
        .pause_consumer(
            "PULL",
            time::OffsetDateTime::now_utc() + Duration::from_secs(60),
        )
        .await
        .unwrap();
    stream.resume_consumer("PULL").await.unwrap();

    let mut push = consumer::push::Config::new("deliver.full");
    push.durable_name = Some("PUSHC".into());
    push.deliver_group = Some("workers".into());
    push.idle_heartbeat = Duration::from_secs(5);
    push.flow_control = true;
    push.rate_limit_bps = 1 << 20;
    push.ack_policy = consumer::AckPolicy::All;
    push.replay_policy = consumer::ReplayPolicy::Original;
    push.deliver_policy = consumer::DeliverPolicy::LastPerSubject;
    push.filter_subject = "s.>".into();
    let _: consumer::PushConsumer = stream.create_consumer(push).await.unwrap();
    let mut ordered = stream
        .ordered_messages(consumer::OrderedConfig::default())
        .await
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_millis(200), ordered.next()).await;
    drop(ordered);

    // Every request seen so far, checked against its schema.
    snoop.flush().await.unwrap();
    js.client().flush().await.unwrap();
    let mut checked = std::collections::BTreeMap::<&str, usize>::new();
    let mut failures = Vec::new();
    while let Ok(Some(msg)) =
        tokio::time::timeout(Duration::from_millis(300), requests.next()).await
    {
        let api = msg
            .subject
            .strip_prefix("$JS.API.")
            .unwrap_or_default()
            .to_owned();
        let Some(name) = schema_for(&api) else {
            continue;
        };
        if msg.payload.is_empty() {
            continue; // an empty body is always allowed (ADR-1)
        }
        let value: Value = serde_json::from_slice(&msg.payload)
            .unwrap_or_else(|e| panic!("{api}: not JSON ({e}): {:?}", msg.payload));
        let mut v = violations(&schema(name), &value, "$");
        // The getnext schema caps `batch` at 256, but the server has no such limit (only a
        // consumer's own `max_batch`), ADR-37 asks for a batch of 1,000,000 for byte-limited
        // pulls and other clients default to 500: a schema slip, accepted here on purpose.
        v.retain(|e| {
            !(name == "consumer_getnext_request.json"
                && e.starts_with("$.batch: ")
                && e.contains("> maximum 256"))
        });
        if !v.is_empty() {
            failures.push(format!(
                "{api} ({name}) sent {value}:\n  {}",
                v.join("\n  ")
            ));
        }
        *checked.entry(name).or_default() += 1;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for name in [
        "stream_create_request.json",
        "stream_update_request.json",
        "stream_info_request.json",
        "stream_names_request.json",
        "stream_list_request.json",
        "stream_purge_request.json",
        "stream_msg_get_request.json",
        "stream_msg_delete_request.json",
        "consumer_create_request.json",
        "consumer_names_request.json",
        "consumer_list_request.json",
        "consumer_getnext_request.json",
        "consumer_pause_request.json",
    ] {
        assert!(
            checked.contains_key(name),
            "no request checked against {name}: {checked:?}"
        );
    }
    let _ = jetstream::new; // the module is the one under test
}
