//! The JetStream scenarios driven through async-nats, with its default options: the same
//! steps as `rnats_js`, in the same order.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::{self, stream, Context};
use futures::StreamExt;

use crate::async_nats_client::RoundTrip;
use crate::common::{
    js_stream, payload, BoxError, CpuMeter, Outcome, Spec, Timeline, JS_IN_FLIGHT, JS_PULL_BATCH,
    JS_WARM_UP, ORDERED_HANG, ORDERED_KILL_AT,
};
use crate::{Scenario, Storage};

pub async fn run(spec: &Spec) -> Result<Outcome, BoxError> {
    if spec.scenario.is_ordered_stall() {
        return ordered_stall(spec).await;
    }
    let client = async_nats::connect(spec.url.as_str()).await?;
    let js = jetstream::new(client.clone());
    let (name, subject) = js_stream();
    js.create_stream(stream::Config {
        name: name.clone(),
        subjects: vec![subject.clone()],
        storage: match spec.storage {
            Storage::File => stream::StorageType::File,
            Storage::Memory => stream::StorageType::Memory,
        },
        ..Default::default()
    })
    .await?;
    let subject = async_nats::Subject::from(subject);
    let outcome = match spec.scenario {
        Scenario::JsPub => publish_sequential(spec, &js, &subject).await,
        Scenario::JsPub256 => publish_pipelined(spec, &js, &subject).await,
        Scenario::JsPullAck => pull(spec, &js, &name, &subject, true).await,
        Scenario::JsPull => pull(spec, &js, &name, &subject, false).await,
        other => Err(format!("not a JetStream scenario: {}", other.name()).into()),
    };
    let stored = match js.get_stream(&name).await {
        Ok(mut s) => s
            .info()
            .await
            .map(|i| i.state.messages)
            .map_err(BoxError::from),
        Err(e) => Err(e.into()),
    };
    js.delete_stream(&name).await?;
    drop(js);
    client.drain().await?;
    let outcome = outcome?;
    let expected = match spec.scenario {
        Scenario::JsPub => spec.count + JS_WARM_UP,
        _ => spec.count,
    };
    if stored? != expected {
        return Err(format!("the stream holds a different count than the {expected} acked").into());
    }
    Ok(outcome)
}

async fn publish_sequential(
    spec: &Spec,
    js: &Context,
    subject: &async_nats::Subject,
) -> Result<Outcome, BoxError> {
    let data = payload(spec.size);
    for _ in 0..JS_WARM_UP {
        js.publish(subject.clone(), data.clone()).await?.await?;
    }
    let mut samples = Vec::with_capacity(spec.count as usize);
    let meter = CpuMeter::start(spec.server_pid);
    let start = Instant::now();
    for _ in 0..spec.count {
        let t = Instant::now();
        js.publish(subject.clone(), data.clone()).await?.await?;
        samples.push(t.elapsed());
    }
    let mut outcome = Outcome::latency(samples, 0, start.elapsed(), spec.size);
    meter.finish(&mut outcome);
    Ok(outcome)
}

async fn publish_window(
    js: &Context,
    subject: &async_nats::Subject,
    size: usize,
    count: u64,
) -> Result<(), BoxError> {
    let data = payload(size);
    let mut acks = VecDeque::with_capacity(JS_IN_FLIGHT);
    for _ in 0..count {
        if acks.len() >= JS_IN_FLIGHT {
            if let Some(ack) = acks.pop_front() {
                ack.await?;
            }
        }
        acks.push_back(js.publish(subject.clone(), data.clone()).await?);
    }
    for ack in acks {
        ack.await?;
    }
    Ok(())
}

async fn publish_pipelined(
    spec: &Spec,
    js: &Context,
    subject: &async_nats::Subject,
) -> Result<Outcome, BoxError> {
    let meter = CpuMeter::start(spec.server_pid);
    let start = Instant::now();
    publish_window(js, subject, spec.size, spec.count).await?;
    let mut outcome = Outcome::throughput(spec.count, spec.size, start.elapsed());
    meter.finish(&mut outcome);
    Ok(outcome)
}

async fn pull(
    spec: &Spec,
    js: &Context,
    name: &str,
    subject: &async_nats::Subject,
    ack: bool,
) -> Result<Outcome, BoxError> {
    publish_window(js, subject, spec.size, spec.count).await?;
    let stream = js.get_stream(name).await?;
    let consumer: jetstream::consumer::Consumer<pull::Config> = stream
        .create_consumer(pull::Config {
            durable_name: Some("bench".into()),
            ack_policy: if ack {
                AckPolicy::Explicit
            } else {
                AckPolicy::None
            },
            ..Default::default()
        })
        .await?;
    let mut round_trip = RoundTrip::new(&js.client()).await?;

    let meter = CpuMeter::start(spec.server_pid);
    let start = Instant::now();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(JS_PULL_BATCH)
        .messages()
        .await?;
    let mut seen = HashSet::with_capacity(spec.count as usize);
    let mut delivered = 0u64;
    while (seen.len() as u64) < spec.count {
        let msg = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .map_err(|_| format!("no message for 10 s after {} of {}", seen.len(), spec.count))?
            .ok_or("the message stream ended")??;
        delivered += 1;
        seen.insert(msg.info()?.stream_sequence);
        if ack {
            msg.ack().await?;
        }
    }
    if ack {
        // The acks are on their way; the server has them all after a round trip.
        round_trip.wait().await?;
    }
    let mut outcome = Outcome::throughput(spec.count, spec.size, start.elapsed());
    meter.finish(&mut outcome);
    outcome.redelivered = Some(delivered - spec.count);
    Ok(outcome)
}

/// Records async-nats' debug and trace messages about its connection and its ordered
/// consumer's recovery (a fixed list; the rest is noise such as "subscriber still pending")
/// into the ordered-stall timeline: async-nats reports those steps nowhere else.
struct RecoveryLog(Arc<Timeline>);

/// Start of the async-nats messages that describe a recovery step.
const RECOVERY_MESSAGES: &[&str] = &[
    "disconnected",
    "reconnected",
    "detected !Connected -> Connected state change",
    "expired pull request",
    "received status message",
    "received no responders",
    "received unknown message",
    "received idle heartbeat",
    "ordered consumer mismatch",
    "delete old consumer",
    "create the new ordered consumer",
    "recreated consumer",
];

impl tracing::Subscriber for RecoveryLog {
    fn enabled(&self, metadata: &tracing::Metadata<'_>) -> bool {
        metadata.target().starts_with("async_nats")
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        struct Message(String);
        impl tracing::field::Visit for Message {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                if field.name() == "message" {
                    self.0 = format!("{value:?}");
                }
            }
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        if RECOVERY_MESSAGES.iter().any(|m| message.0.starts_with(m)) {
            let mut text = message.0;
            text.truncate(120);
            self.0.note(format!("async-nats: {text}"));
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// See the rnats version: the same cluster, stream, connection order and kill. An error item
/// from the ordered stream is counted and reading goes on, as a user would.
/// `ordered-stall-hb2` gives the ordered consumer a 2 s idle heartbeat: async-nats derives it
/// from the pull expiry (`min(15 s, expiry / 2)`, the expiry being `min(30 s, max_expires)`),
/// so `max_expires` = 4 s. `ordered-stall-hb15` is async-nats' default.
async fn ordered_stall(spec: &Spec) -> Result<Outcome, BoxError> {
    let cluster = Arc::new(tokio::task::spawn_blocking(|| rnats_test::jetstream_cluster(3)).await?);
    let setup = jetstream::new(async_nats::connect(cluster.urls()).await?);
    let (name, subject) = js_stream();
    let config = stream::Config {
        name: name.clone(),
        subjects: vec![subject.clone()],
        num_replicas: 3,
        ..Default::default()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    let info = loop {
        match setup.create_stream(config.clone()).await {
            Ok(s) => break s.cached_info().clone(),
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(250)).await
            }
            Err(e) => return Err(e.into()),
        }
    };
    let leader = info
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .ok_or("an R3 stream has a leader")?;
    let urls = crate::common::leader_first(
        cluster
            .servers()
            .iter()
            .map(|n| (n.name().map(str::to_owned), n.url())),
        &leader,
    );
    let timeline = Arc::new(Timeline::default());
    // Only this scenario's worker process: the rest of the bench runs async-nats untouched.
    let _ = tracing::subscriber::set_global_default(RecoveryLog(Arc::clone(&timeline)));
    let noted = Arc::clone(&timeline);
    let mut options = async_nats::ConnectOptions::new()
        .retain_servers_order()
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .event_callback(move |event| {
            let noted = Arc::clone(&noted);
            async move { noted.note(format!("event {event}")) }
        });
    if let Some(timeout) = spec.scenario.ordered_request_timeout() {
        options = options.request_timeout(Some(timeout));
    }
    let client = options.connect(urls).await?;
    let js = jetstream::new(client);
    let subject = async_nats::Subject::from(subject);
    publish_window(&js, &subject, spec.size.max(1), spec.count).await?;
    let stream = js.get_stream(&name).await?;
    let mut ordered_config = pull::OrderedConfig::default();
    if spec.scenario.ordered_heartbeat() == Some(Duration::from_secs(2)) {
        ordered_config.max_expires = Duration::from_secs(4);
    }
    let mut messages = stream
        .create_consumer(ordered_config)
        .await?
        .messages()
        .await?;
    // Move the stream leader to the consumer's node: the kill below costs both.
    let victim = crate::common::align_stream_leader_with_consumer(cluster.urls(), &name).await?;
    let mut last = Instant::now();
    let mut killed_at = last;
    let mut stall = Duration::ZERO;
    let mut killed = false;
    let mut errors = 0;
    let mut last_error = String::new();
    let mut expected = 1;
    while expected <= spec.count {
        if expected == ORDERED_KILL_AT && !killed {
            let reader_node = js.client().server_info().server_name;
            let cluster = Arc::clone(&cluster);
            let node_name = victim.clone();
            tokio::task::spawn_blocking(move || {
                if let Some(node) = cluster
                    .servers()
                    .iter()
                    .find(|n| n.name() == Some(node_name.as_str()))
                {
                    node.stop();
                }
            })
            .await?;
            killed = true;
            last = Instant::now();
            killed_at = last;
            timeline.note(if reader_node == victim {
                format!("killed {victim}, the reader's node")
            } else {
                format!("killed {victim}; the reader is on {reader_node}")
            });
        }
        let item =
            tokio::time::timeout(ORDERED_HANG.saturating_sub(last.elapsed()), messages.next())
                .await
                .map_err(|_| {
                    format!(
                        "hung: nothing for {ORDERED_HANG:?} at sequence {expected} \
                     ({errors} error items before, last: {last_error:?}); after the kill: {}",
                        timeline.since(killed_at).join("; ")
                    )
                })?
                .ok_or("the ordered consumer ended")?;
        let msg = match item {
            Ok(msg) => msg,
            Err(e) => {
                errors += 1;
                last_error = e.to_string();
                timeline.note(format!("error item: {e}"));
                continue;
            }
        };
        if killed {
            let gap = last.elapsed();
            if gap > Duration::from_millis(100) {
                timeline.note(format!(
                    "message {expected} after a {} ms gap",
                    gap.as_millis()
                ));
            }
            stall = stall.max(gap);
        }
        last = Instant::now();
        let got = msg.info()?.stream_sequence;
        if got != expected {
            return Err(format!("expected sequence {expected}, got {got}").into());
        }
        expected += 1;
    }
    Ok(Outcome {
        elapsed_s: stall.as_secs_f64(),
        stall_ms: Some(stall.as_secs_f64() * 1e3),
        errors,
        timeline: timeline.since(killed_at),
        ..Outcome::default()
    })
}
