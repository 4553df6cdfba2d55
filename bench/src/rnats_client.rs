//! The scenarios driven through rnats, with its default options.

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
            crate::rnats_svc::run(spec).await
        }
        Scenario::JsPub
        | Scenario::JsPub256
        | Scenario::JsPullAck
        | Scenario::JsPull
        | Scenario::OrderedStall
        | Scenario::OrderedStallHb2
        | Scenario::OrderedStallHb15
        | Scenario::OrderedStallRt2 => crate::rnats_js::run(spec).await,
        Scenario::KvPut
        | Scenario::KvGet
        | Scenario::KvPut64
        | Scenario::KvGet64
        | Scenario::KvWatch => crate::rnats_kv::run(spec).await,
        Scenario::ObjPut | Scenario::ObjGet => crate::rnats_obj::run(spec).await,
    }
}

/// How every measurement that must end with "the server has processed everything this
/// connection sent" ends, the same for both clients (see README, "Ending a measurement"): the
/// connection subscribes to a subject of its own before the measured part; at the end it
/// publishes an empty message there and waits until that message comes back. The server
/// handles one connection's operations in order, so the sentinel's return proves that every
/// operation sent before it was processed. (rnats' `flush()`, a PING/PONG, proves the same;
/// async-nats' `flush()` only writes its buffer to the socket, so the bench uses this for both.)
pub struct RoundTrip {
    client: rnats::Client,
    subject: String,
    sub: rnats::Subscriber,
}

impl RoundTrip {
    /// Subscribes the sentinel and makes one round trip: afterwards the subscription is live,
    /// and so is everything this connection sent before.
    pub async fn new(client: &rnats::Client) -> Result<Self, BoxError> {
        let subject = sentinel_subject();
        let sub = client.subscribe(&subject).await?;
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

/// `count` subscriptions, then the server restarts: time until a round trip (`RoundTrip`)
/// completes on the new connection (its sentinel follows every replayed SUB, so all are
/// re-subscribed by then). A message on the last subscription, from another connection,
/// proves it.
async fn reconnect(spec: &Spec) -> Result<Outcome, BoxError> {
    let server = Arc::new(rnats_test::NatsServer::start());
    let mut options = rnats::ConnectOptions::new();
    if let Some(delay) = spec.scenario.reconnect_delay() {
        options = options.reconnect_delay_callback(move |_| delay);
    }
    let client = options.connect(server.url()).await?;
    let mut events = client.events();
    let mut subs = Vec::with_capacity(spec.count as usize);
    for i in 0..spec.count {
        subs.push(client.subscribe(format!("{RECONNECT_PREFIX}.{i}")).await?);
    }
    let mut round_trip = RoundTrip::new(&client).await?;
    let start = Instant::now();
    let s = server.clone();
    tokio::task::spawn_blocking(move || s.restart()).await?;
    loop {
        let event = tokio::time::timeout(Duration::from_secs(30), events.next())
            .await
            .map_err(|_| "no reconnect within 30 s")?;
        match event {
            Some(rnats::Event::Reconnected { .. }) => break,
            Some(_) => {}
            None => return Err("event stream ended".into()),
        }
    }
    round_trip.wait().await?;
    let elapsed = start.elapsed();
    let other = rnats::connect(server.url()).await?;
    other
        .publish(format!("{RECONNECT_PREFIX}.{}", spec.count - 1), "x")
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
        reconnects: Some(client.statistics().reconnects),
        ..Outcome::default()
    })
}

/// Publish `count` messages nobody receives, then a round trip (the server has them all).
async fn publish(spec: &Spec) -> Result<Outcome, BoxError> {
    let client = rnats::connect(spec.url.as_str()).await?;
    let mut round_trip = RoundTrip::new(&client).await?;
    let data = payload(spec.size);
    let start = Instant::now();
    for _ in 0..spec.count {
        client.publish(PUB_SUBJECT, data.clone()).await?;
    }
    round_trip.wait().await?;
    let outcome = Outcome::throughput(spec.count, spec.size, start.elapsed());
    client.close().await?;
    Ok(outcome)
}

/// One publishing and one subscribing connection; count what arrives. `pubsub-equal`: the
/// subscription gets async-nats' default capacity, `EQUAL_SUB_CAPACITY` messages and no byte
/// limit, instead of rnats' default 512 Ki messages / 64 MiB.
async fn pubsub(spec: &Spec) -> Result<Outcome, BoxError> {
    if spec.size == 0 {
        return Err("pubsub needs a payload of at least 1 byte".into());
    }
    let publisher = rnats::connect(spec.url.as_str()).await?;
    let subscriber = if spec.scenario == Scenario::PubsubEqual {
        rnats::ConnectOptions::new()
            .subscription_capacity(EQUAL_SUB_CAPACITY, usize::MAX)
            .connect(spec.url.as_str())
            .await?
    } else {
        rnats::connect(spec.url.as_str()).await?
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
        sub
    });

    let data = payload(spec.size);
    let start_ns = progress.now_ns();
    for _ in 0..spec.count {
        publisher.publish(PUBSUB_SUBJECT, data.clone()).await?;
    }
    round_trip.wait().await?;
    progress.wait_for(spec.count).await;
    let mut outcome = progress.outcome(start_ns, spec.count, spec.size);

    // Stop the reader with an end marker to get `Subscriber::dropped()` back.
    publisher
        .publish(PUBSUB_SUBJECT, bytes::Bytes::new())
        .await?;
    round_trip.wait().await?;
    outcome.dropped = match tokio::time::timeout(Duration::from_secs(3), reader).await {
        Ok(Ok(sub)) => Some(sub.dropped()),
        // The marker did not come through: fall back to the client's counter.
        _ => Some(subscriber.statistics().dropped_msgs),
    };
    outcome.reconnects = Some(
        (publisher.statistics().connects + subscriber.statistics().connects).saturating_sub(2),
    );
    publisher.close().await?;
    subscriber.close().await?;
    Ok(outcome)
}

/// Starts an echo responder on its own connection; returns that connection.
async fn echo_responder(url: &str) -> Result<rnats::Client, BoxError> {
    let responder = rnats::connect(url).await?;
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
    let client = rnats::connect(spec.url.as_str()).await?;
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
    let outcome = Outcome::latency(samples, errors, start.elapsed(), spec.size);
    client.close().await?;
    responder.close().await?;
    Ok(outcome)
}

/// `IN_FLIGHT` requests outstanding at any time: throughput.
async fn request_concurrent(spec: &Spec) -> Result<Outcome, BoxError> {
    let responder = echo_responder(&spec.url).await?;
    let client = rnats::connect(spec.url.as_str()).await?;
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
    client.close().await?;
    responder.close().await?;
    Ok(outcome)
}
