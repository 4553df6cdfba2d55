//! The JetStream scenarios driven through rnats, with its default options.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;
use rnats::jetstream::consumer::{pull, AckPolicy, OrderedConfig, PullConsumer};
use rnats::jetstream::{self, stream, Context};

use crate::common::{
    js_stream, payload, BoxError, CpuMeter, Outcome, Spec, Timeline, JS_IN_FLIGHT, JS_PULL_BATCH,
    JS_WARM_UP, ORDERED_HANG, ORDERED_KILL_AT,
};
use crate::rnats_client::RoundTrip;
use crate::{Scenario, Storage};

pub async fn run(spec: &Spec) -> Result<Outcome, BoxError> {
    if spec.scenario.is_ordered_stall() {
        return ordered_stall(spec).await;
    }
    let client = rnats::connect(spec.url.as_str()).await?;
    let js = jetstream::new(client.clone());
    let (name, subject) = js_stream();
    let mut config = stream::Config::new(name.as_str());
    config.subjects = vec![subject.clone()];
    config.storage = match spec.storage {
        Storage::File => stream::StorageType::File,
        Storage::Memory => stream::StorageType::Memory,
    };
    js.create_stream(config).await?;
    let outcome = match spec.scenario {
        Scenario::JsPub => publish_sequential(spec, &js, &subject).await,
        Scenario::JsPub256 => publish_pipelined(spec, &js, &subject).await,
        Scenario::JsPullAck => pull(spec, &js, &name, &subject, true).await,
        Scenario::JsPull => pull(spec, &js, &name, &subject, false).await,
        other => Err(format!("not a JetStream scenario: {}", other.name()).into()),
    };
    let stored = js.stream_info(&name).await.map(|i| i.state.messages);
    js.delete_stream(&name).await?;
    client.close().await?;
    let outcome = outcome?;
    // Every publish was acknowledged, so the stream must hold all of them.
    let expected = match spec.scenario {
        Scenario::JsPub => spec.count + JS_WARM_UP,
        _ => spec.count,
    };
    if stored? != expected {
        return Err(format!("the stream holds a different count than the {expected} acked").into());
    }
    Ok(outcome)
}

/// One publish at a time, each waiting for its ack.
async fn publish_sequential(spec: &Spec, js: &Context, subject: &str) -> Result<Outcome, BoxError> {
    let data = payload(spec.size);
    for _ in 0..JS_WARM_UP {
        js.publish(subject, data.clone()).await?.await?;
    }
    let mut samples = Vec::with_capacity(spec.count as usize);
    let meter = CpuMeter::start(spec.server_pid);
    let start = Instant::now();
    for _ in 0..spec.count {
        let t = Instant::now();
        js.publish(subject, data.clone()).await?.await?;
        samples.push(t.elapsed());
    }
    let mut outcome = Outcome::latency(samples, 0, start.elapsed(), spec.size);
    meter.finish(&mut outcome);
    Ok(outcome)
}

/// Publishes `count` messages keeping up to `JS_IN_FLIGHT` acks outstanding; returns when
/// all are acknowledged.
async fn publish_window(
    js: &Context,
    subject: &str,
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
        acks.push_back(js.publish(subject, data.clone()).await?);
    }
    for ack in acks {
        ack.await?;
    }
    Ok(())
}

async fn publish_pipelined(spec: &Spec, js: &Context, subject: &str) -> Result<Outcome, BoxError> {
    let meter = CpuMeter::start(spec.server_pid);
    let start = Instant::now();
    publish_window(js, subject, spec.size, spec.count).await?;
    let mut outcome = Outcome::throughput(spec.count, spec.size, start.elapsed());
    meter.finish(&mut outcome);
    Ok(outcome)
}

/// Fills the stream, then reads it with a durable pull consumer's `messages()`.
async fn pull(
    spec: &Spec,
    js: &Context,
    name: &str,
    subject: &str,
    ack: bool,
) -> Result<Outcome, BoxError> {
    publish_window(js, subject, spec.size, spec.count).await?;
    let stream = js.get_stream(name).await?;
    let mut config = pull::Config::durable("bench");
    config.ack_policy = if ack {
        AckPolicy::Explicit
    } else {
        AckPolicy::None
    };
    let consumer: PullConsumer = stream.create_consumer(config).await?;
    let mut round_trip = RoundTrip::new(js.client()).await?;

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

/// A 3-node cluster of the worker's own, an R3 stream of `count` messages read by an ordered
/// consumer connected to the stream leader's node, which is killed (SIGKILL) at message
/// `ORDERED_KILL_AT`. Every sequence must arrive once, in order; the longest gap after the kill
/// is the result. `ordered-stall-hb*` set the ordered consumer's idle heartbeat.
async fn ordered_stall(spec: &Spec) -> Result<Outcome, BoxError> {
    let cluster = Arc::new(tokio::task::spawn_blocking(|| rnats_test::jetstream_cluster(3)).await?);
    let setup = jetstream::new(rnats::connect(cluster.urls()).await?);
    let (name, subject) = js_stream();
    let mut config = stream::Config::new(name.as_str());
    config.subjects = vec![subject.clone()];
    config.num_replicas = 3;
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
    let mut options = rnats::ConnectOptions::new()
        .retain_servers_order(true)
        .reconnect_delay_callback(|_| Duration::from_millis(50));
    if let Some(timeout) = spec.scenario.ordered_request_timeout() {
        options = options.request_timeout(timeout);
    }
    let client = options.connect(urls).await?;
    let timeline = Arc::new(Timeline::default());
    let mut events = client.events();
    let noted = Arc::clone(&timeline);
    tokio::spawn(async move {
        while let Some(event) = events.next().await {
            noted.note(format!("event {event}"));
        }
    });
    let js = jetstream::new(client);
    publish_window(&js, &subject, spec.size.max(1), spec.count).await?;
    let stream = js.get_stream(&name).await?;
    let mut ordered_config = OrderedConfig::default();
    if let Some(heartbeat) = spec.scenario.ordered_heartbeat() {
        ordered_config.heartbeat = heartbeat;
    }
    let mut messages = stream.ordered_messages(ordered_config).await?;
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
        resets: Some(messages.resets()),
        errors,
        timeline: timeline.since(killed_at),
        ..Outcome::default()
    })
}
