//! The scenarios driven through async-nats, with its default options (its default subscription capacity included: its drops are part of the result).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::common::{
    is_end_marker, payload, BoxError, Outcome, Progress, Spec, ECHO_SUBJECT, IN_FLIGHT,
    PUBSUB_SUBJECT, PUB_SUBJECT, RECONNECT_PREFIX,
};
use crate::Scenario;

pub async fn run(spec: &Spec) -> Result<Outcome, BoxError> {
    match spec.scenario {
        Scenario::Pub => publish(spec).await,
        Scenario::Pubsub => pubsub(spec).await,
        Scenario::ReqSeq => request_sequential(spec).await,
        Scenario::Req64 => request_concurrent(spec).await,
        Scenario::Reconnect => reconnect(spec).await,
        Scenario::JsPub
        | Scenario::JsPub256
        | Scenario::JsPullAck
        | Scenario::JsPull
        | Scenario::OrderedStall => crate::async_nats_js::run(spec).await,
    }
}

/// See the rnats version: same steps, async-nats' default reconnect policy.
async fn reconnect(spec: &Spec) -> Result<Outcome, BoxError> {
    let server = Arc::new(rnats_test::NatsServer::start());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let client = async_nats::ConnectOptions::new()
        .event_callback(move |event| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(event);
            }
        })
        .connect(server.url())
        .await?;
    let mut subs = Vec::with_capacity(spec.count as usize);
    for i in 0..spec.count {
        subs.push(client.subscribe(format!("{RECONNECT_PREFIX}.{i}")).await?);
    }
    client.flush().await?;
    while rx.try_recv().is_ok() {}
    let start = Instant::now();
    let s = server.clone();
    tokio::task::spawn_blocking(move || s.restart()).await?;
    let mut disconnected = false;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .map_err(|_| "no reconnect within 30 s")?;
        match event {
            Some(async_nats::Event::Disconnected) => disconnected = true,
            Some(async_nats::Event::Connected) if disconnected => break,
            Some(_) => {}
            None => return Err("event channel closed".into()),
        }
    }
    client.flush().await?;
    let elapsed = start.elapsed();
    let other = async_nats::connect(server.url()).await?;
    other
        .publish(format!("{RECONNECT_PREFIX}.{}", spec.count - 1), "x".into())
        .await?;
    other.flush().await?;
    let last = subs.last_mut().ok_or("no subscription")?;
    tokio::time::timeout(Duration::from_secs(5), last.next())
        .await
        .map_err(|_| "the last subscription got nothing within 5 s after the reconnect")?
        .ok_or("last subscription ended")?;
    Ok(Outcome {
        elapsed_s: elapsed.as_secs_f64(),
        reconnect_ms: Some(elapsed.as_secs_f64() * 1e3),
        ..Outcome::default()
    })
}

/// Publish `count` messages nobody receives, then flush (the server has them all).
async fn publish(spec: &Spec) -> Result<Outcome, BoxError> {
    let client = async_nats::connect(spec.url.as_str()).await?;
    let data = payload(spec.size);
    let start = Instant::now();
    for _ in 0..spec.count {
        client.publish(PUB_SUBJECT, data.clone()).await?;
    }
    client.flush().await?;
    Ok(Outcome::throughput(spec.count, spec.size, start.elapsed()))
}

/// One publishing and one subscribing connection; count what arrives.
async fn pubsub(spec: &Spec) -> Result<Outcome, BoxError> {
    if spec.size == 0 {
        return Err("pubsub needs a payload of at least 1 byte".into());
    }
    let publisher = async_nats::connect(spec.url.as_str()).await?;
    let subscriber = async_nats::connect(spec.url.as_str()).await?;
    let mut sub = subscriber.subscribe(PUBSUB_SUBJECT).await?;
    subscriber.flush().await?;

    let progress = Arc::new(Progress::new());
    let counter = progress.clone();
    let reader = tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if is_end_marker(&msg.payload) {
                break;
            }
            counter.record();
        }
    });

    let data = payload(spec.size);
    let start_ns = progress.now_ns();
    for _ in 0..spec.count {
        publisher.publish(PUBSUB_SUBJECT, data.clone()).await?;
    }
    publisher.flush().await?;
    progress.wait_for(spec.count).await;
    let mut outcome = progress.outcome(start_ns, spec.count, spec.size);

    // Stop the reader with an end marker (async-nats counts no drops per subscriber; its
    // slow-consumer drops show as `lost`).
    publisher
        .publish(PUBSUB_SUBJECT, bytes::Bytes::new())
        .await?;
    publisher.flush().await?;
    if tokio::time::timeout(Duration::from_secs(3), reader)
        .await
        .is_err()
    {
        eprintln!("async-nats pubsub: the end marker did not arrive");
    }
    let connects = publisher.statistics().connects.load(Ordering::Relaxed)
        + subscriber.statistics().connects.load(Ordering::Relaxed);
    outcome.reconnects = Some(connects.saturating_sub(2));
    Ok(outcome)
}

/// Starts an echo responder on its own connection; returns that connection.
async fn echo_responder(url: &str) -> Result<async_nats::Client, BoxError> {
    let responder = async_nats::connect(url).await?;
    let mut sub = responder.subscribe(ECHO_SUBJECT).await?;
    responder.flush().await?;
    let replier = responder.clone();
    tokio::spawn(async move {
        while let Some(msg) = sub.next().await {
            if let Some(reply) = msg.reply {
                if replier.publish(reply, msg.payload).await.is_err() {
                    break;
                }
            }
        }
    });
    Ok(responder)
}

/// Sequential requests: per-request latency.
async fn request_sequential(spec: &Spec) -> Result<Outcome, BoxError> {
    let responder = echo_responder(&spec.url).await?;
    let client = async_nats::connect(spec.url.as_str()).await?;
    let data = payload(spec.size);
    // Warm up: the inbox subscription, both connections' buffers, the caches.
    for _ in 0..(spec.count / 10).clamp(1, 1000) {
        client.request(ECHO_SUBJECT, data.clone()).await?;
    }
    let mut samples = Vec::with_capacity(spec.count as usize);
    let mut errors = 0;
    let start = Instant::now();
    for _ in 0..spec.count {
        let t = Instant::now();
        match client.request(ECHO_SUBJECT, data.clone()).await {
            Ok(_) => samples.push(t.elapsed()),
            Err(_) => errors += 1,
        }
    }
    drop(responder);
    Ok(Outcome::latency(
        samples,
        errors,
        start.elapsed(),
        spec.size,
    ))
}

/// `IN_FLIGHT` requests outstanding at any time: throughput.
async fn request_concurrent(spec: &Spec) -> Result<Outcome, BoxError> {
    let responder = echo_responder(&spec.url).await?;
    let client = async_nats::connect(spec.url.as_str()).await?;
    let data = payload(spec.size);
    client.request(ECHO_SUBJECT, data.clone()).await?;
    let start = Instant::now();
    let (ok, errors) = futures::stream::iter(0..spec.count)
        .map(|_| client.request(ECHO_SUBJECT, data.clone()))
        .buffer_unordered(IN_FLIGHT)
        .fold((0u64, 0u64), |(ok, err), r| async move {
            if r.is_ok() {
                (ok + 1, err)
            } else {
                (ok, err + 1)
            }
        })
        .await;
    let mut outcome = Outcome::throughput(ok, spec.size, start.elapsed());
    outcome.errors = errors;
    drop(responder);
    Ok(outcome)
}
