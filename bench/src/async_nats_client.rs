//! The scenarios driven through async-nats, with its default options (its default
//! subscription capacity included: its drops are part of the `pubsub` result; `pubsub-equal`
//! is the row where both clients get the same capacity).

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::common::{
    is_end_marker, payload, sentinel_subject, BoxError, Outcome, Progress, Spec, ECHO_SUBJECT,
    EQUAL_SUB_CAPACITY, IN_FLIGHT, PUBSUB_SUBJECT, PUB_SUBJECT, RECONNECT_PREFIX,
    ROUND_TRIP_TIMEOUT,
};
use crate::Scenario;

pub async fn run(spec: &Spec) -> Result<Outcome, BoxError> {
    match spec.scenario {
        Scenario::Pub => publish(spec).await,
        Scenario::Pubsub | Scenario::PubsubEqual => pubsub(spec).await,
        Scenario::ReqSeq => request_sequential(spec).await,
        Scenario::Req64 => request_concurrent(spec).await,
        Scenario::Reconnect | Scenario::ReconnectEqual => reconnect(spec).await,
        Scenario::Svc64 | Scenario::Svc64RnatsRequester | Scenario::Svc64Spawned => {
            crate::async_nats_svc::run(spec).await
        }
        Scenario::JsPub
        | Scenario::JsPub256
        | Scenario::JsPullAck
        | Scenario::JsPull
        | Scenario::OrderedStall
        | Scenario::OrderedStallHb2
        | Scenario::OrderedStallHb15
        | Scenario::OrderedStallRt2 => crate::async_nats_js::run(spec).await,
        Scenario::KvPut
        | Scenario::KvGet
        | Scenario::KvPut64
        | Scenario::KvGet64
        | Scenario::KvWatch => crate::async_nats_kv::run(spec).await,
        Scenario::ObjPut | Scenario::ObjGet => crate::async_nats_obj::run(spec).await,
    }
}

/// The round trip that ends a measurement, as in `rnats_client::RoundTrip`: a sentinel
/// published on the connection's own subject and awaited back. `Client::flush()` of
/// async-nats is not one: it returns once its write buffer is on the socket (the connection
/// handler answers flush observers after `poll_flush` of the stream; no PING is sent), and
/// async-nats 0.51 has no PING/PONG call (no `rtt()`).
pub struct RoundTrip {
    client: async_nats::Client,
    subject: String,
    sub: async_nats::Subscriber,
}

impl RoundTrip {
    /// Subscribes the sentinel and makes one round trip: afterwards the subscription is live,
    /// and so is everything this connection sent before.
    pub async fn new(client: &async_nats::Client) -> Result<Self, BoxError> {
        let subject = sentinel_subject();
        let sub = client.subscribe(subject.clone()).await?;
        let mut round_trip = RoundTrip {
            client: client.clone(),
            subject,
            sub,
        };
        round_trip.wait().await?;
        Ok(round_trip)
    }

    /// Publishes the sentinel and waits until it comes back.
    pub async fn wait(&mut self) -> Result<(), BoxError> {
        self.client
            .publish(self.subject.clone(), bytes::Bytes::new())
            .await?;
        tokio::time::timeout(ROUND_TRIP_TIMEOUT, self.sub.next())
            .await
            .map_err(|_| format!("no sentinel back within {ROUND_TRIP_TIMEOUT:?}"))?
            .ok_or("the sentinel subscription ended")?;
        Ok(())
    }
}

/// See the rnats version: same steps, async-nats' default reconnect policy. The round trip
/// matters here: async-nats replays its subscriptions (in hash-map order) into the write
/// buffer on reconnect, and `flush()` returns once they are on the socket, before the server
/// has processed them.
async fn reconnect(spec: &Spec) -> Result<Outcome, BoxError> {
    let server = Arc::new(rnats_test::NatsServer::start());
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut options = async_nats::ConnectOptions::new().event_callback(move |event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event);
        }
    });
    if let Some(delay) = spec.scenario.reconnect_delay() {
        options = options.reconnect_delay_callback(move |_| delay);
    }
    let client = options.connect(server.url()).await?;
    let mut subs = Vec::with_capacity(spec.count as usize);
    for i in 0..spec.count {
        subs.push(client.subscribe(format!("{RECONNECT_PREFIX}.{i}")).await?);
    }
    let mut round_trip = RoundTrip::new(&client).await?;
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
    round_trip.wait().await?;
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

/// Publish `count` messages nobody receives, then a round trip (the server has them all).
async fn publish(spec: &Spec) -> Result<Outcome, BoxError> {
    let client = async_nats::connect(spec.url.as_str()).await?;
    let mut round_trip = RoundTrip::new(&client).await?;
    let data = payload(spec.size);
    let start = Instant::now();
    for _ in 0..spec.count {
        client.publish(PUB_SUBJECT, data.clone()).await?;
    }
    round_trip.wait().await?;
    Ok(Outcome::throughput(spec.count, spec.size, start.elapsed()))
}

/// One publishing and one subscribing connection; count what arrives. `pubsub-equal`: the
/// subscription capacity is set explicitly to `EQUAL_SUB_CAPACITY` (which is async-nats'
/// default), as rnats' is.
async fn pubsub(spec: &Spec) -> Result<Outcome, BoxError> {
    if spec.size == 0 {
        return Err("pubsub needs a payload of at least 1 byte".into());
    }
    let publisher = async_nats::connect(spec.url.as_str()).await?;
    let subscriber = if spec.scenario == Scenario::PubsubEqual {
        async_nats::ConnectOptions::new()
            .subscription_capacity(EQUAL_SUB_CAPACITY)
            .connect(spec.url.as_str())
            .await?
    } else {
        async_nats::connect(spec.url.as_str()).await?
    };
    let mut sub = subscriber.subscribe(PUBSUB_SUBJECT).await?;
    // The subscription is live on the server before anything is published.
    drop(RoundTrip::new(&subscriber).await?);
    let mut round_trip = RoundTrip::new(&publisher).await?;

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
    round_trip.wait().await?;
    progress.wait_for(spec.count).await;
    let mut outcome = progress.outcome(start_ns, spec.count, spec.size);

    // Stop the reader with an end marker (async-nats counts no drops per subscriber; its
    // slow-consumer drops show as `lost`).
    publisher
        .publish(PUBSUB_SUBJECT, bytes::Bytes::new())
        .await?;
    round_trip.wait().await?;
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
    // The responder is subscribed on the server before the first request.
    drop(RoundTrip::new(&responder).await?);
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
