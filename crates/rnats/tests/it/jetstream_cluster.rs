//! JetStream in a 3-node cluster: R3 streams while nodes die.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use rnats::jetstream::consumer::{pull, AckPolicy, PullConsumer};
use rnats::jetstream::{self, stream, Context, Publish};

/// A fresh 3-node JetStream cluster (started off the async runtime).
pub(crate) async fn start_cluster() -> Arc<rnats_test::Cluster> {
    Arc::new(
        tokio::task::spawn_blocking(|| rnats_test::jetstream_cluster(3))
            .await
            .unwrap(),
    )
}

/// A client that retries a lost server every 50 ms, so recovery is not paced by backoff.
pub(crate) async fn connect_fast(urls: Vec<String>) -> rnats::Client {
    rnats::ConnectOptions::new()
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .connect(urls)
        .await
        .unwrap()
}

/// Creates the R3 stream `name` on `subject`, retrying while the fresh cluster is not ready
/// for it.
async fn create_r3_stream(js: &Context, name: &str, subject: &str) -> stream::Stream {
    let mut config = stream::Config::new(name);
    config.subjects = vec![subject.into()];
    config.num_replicas = 3;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        match js.create_stream(config.clone()).await {
            Ok(s) => return s,
            Err(e) if tokio::time::Instant::now() < deadline => {
                eprintln!("create stream: {e}, retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("creating stream: {e:?}"),
        }
    }
}

/// The node serving the stream's only consumer, after making it the stream's leader too
/// (leader stepdowns until the election lands there, at most 20 tries): killing that node then
/// costs the consumer and the stream leader at once, the hardest case for a reader.
pub(crate) async fn align_stream_leader_with_consumer(stream: &stream::Stream) -> String {
    // The listing is a JetStream API request: on a loaded machine one can time out while the
    // cluster is busy, so it is asked again (at most 20 s), never given up on at once.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let consumers = loop {
        let listed: Result<Vec<_>, _> = stream
            .consumers()
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect();
        match listed {
            Ok(c) => break c,
            Err(e) if tokio::time::Instant::now() < deadline => {
                eprintln!("listing consumers: {e}, retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("listing consumers: {e:?}"),
        }
    };
    assert_eq!(consumers.len(), 1, "one consumer expected");
    let host = consumers[0]
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .expect("a consumer in a cluster has a leader");
    for _ in 0..20 {
        let leader = stream_leader(stream).await;
        if leader == host {
            break;
        }
        if leader.is_empty() {
            // An election is on: ask again shortly.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        // A stepdown's answer can be lost in the change of leader: the wait below tells.
        if let Err(e) = stream.leader_stepdown().await {
            eprintln!("stepdown of {leader}: {e}");
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let now = stream_leader(stream).await;
            if !now.is_empty() && now != leader {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no new stream leader"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    host
}

/// The stream's current leader ("" while there is none).
pub(crate) async fn stream_leader(stream: &stream::Stream) -> String {
    stream
        .info_with(Default::default())
        .await
        .ok()
        .and_then(|i| i.cluster.and_then(|c| c.leader))
        .unwrap_or_default()
}

/// Publishes 20,000 messages with ids and retries while the stream leader's node is killed
/// after 5,000: every acknowledged message is in the stream, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn r3_stream_keeps_every_acked_publish_exactly_once_when_its_leader_dies() {
    let _alone = crate::EXCLUSIVE.write().await;
    let cluster = start_cluster().await;
    let client = connect_fast(cluster.urls()).await;
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .max_ack_inflight(256)
        .build(client);
    let stream = create_r3_stream(&js, "R3", "r3").await;
    let leader = stream
        .cached_info()
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .expect("an R3 stream has a leader");

    const N: usize = 20_000;
    let started = tokio::time::Instant::now();
    let mut in_flight = VecDeque::new();
    let mut acked = BTreeSet::new();
    let mut failed = Vec::new();
    let mut killed_at = None;
    let mut longest_wait = Duration::ZERO;
    let settle = |ack: Result<jetstream::PubAck, rnats::Error>,
                  i: usize,
                  acked: &mut BTreeSet<u64>,
                  failed: &mut Vec<(usize, String)>| match ack {
        Ok(ack) => {
            acked.insert(i as u64);
            assert_eq!(ack.stream, "R3");
        }
        Err(e) => failed.push((i, e.to_string())),
    };
    for i in 0..N {
        if i == 5_000 {
            let cluster = Arc::clone(&cluster);
            let leader = leader.clone();
            tokio::task::spawn_blocking(move || {
                let node = cluster
                    .servers()
                    .iter()
                    .find(|n| n.name() == Some(leader.as_str()))
                    .expect("the leader is a node");
                node.stop();
            })
            .await
            .unwrap();
            killed_at = Some(tokio::time::Instant::now());
        }
        let ack = js
            .publish_with(
                "r3",
                Publish::new()
                    .payload(i.to_string())
                    .message_id(format!("m-{i}"))
                    .retry_on_timeout(true)
                    .retry_attempts(30)
                    .retry_wait(Duration::from_millis(500)),
            )
            .await
            .unwrap();
        in_flight.push_back((i, ack));
        if in_flight.len() >= 256 {
            let (j, ack) = in_flight.pop_front().unwrap();
            let waited = tokio::time::Instant::now();
            let ack = ack.await;
            longest_wait = longest_wait.max(waited.elapsed());
            settle(ack, j, &mut acked, &mut failed);
        }
    }
    for (j, ack) in in_flight {
        settle(ack.await, j, &mut acked, &mut failed);
    }
    let publish_time = started.elapsed();

    // Read the whole stream back through a fresh consumer.
    let mut info = stream.cached_info().clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        match js.stream_info("R3").await {
            Ok(i) => {
                info = i;
                break;
            }
            Err(e) => {
                eprintln!("stream info after the kill: {e}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    }
    // Right after the kill the meta leader may be re-elected too: retry the creation.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let consumer: PullConsumer = loop {
        let mut c = pull::Config::ephemeral();
        c.ack_policy = AckPolicy::None;
        match stream.create_consumer(c).await {
            Ok(c) => break c,
            Err(e) if tokio::time::Instant::now() < deadline => {
                eprintln!("create consumer after the kill: {e}, retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("creating the reader: {e:?}"),
        }
    };
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(1000)
        .messages()
        .await
        .unwrap();
    let mut stored = BTreeSet::new();
    let mut duplicates = 0;
    while stored.len() + duplicates < info.state.messages as usize {
        let msg = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("reading the stream back stalled")
            .unwrap()
            .unwrap();
        let i: u64 = std::str::from_utf8(&msg.payload).unwrap().parse().unwrap();
        if !stored.insert(i) {
            duplicates += 1;
        }
    }
    eprintln!(
        "R3 leader {leader} killed after 5,000 of {N}: {} acked, {} failed, {} stored, \
         {duplicates} duplicates, longest ack wait {longest_wait:?}, publishing took \
         {publish_time:?} ({:?} after the kill); first failures: {:?}",
        acked.len(),
        failed.len(),
        stored.len(),
        killed_at.map(|t| t.elapsed()),
        &failed[..failed.len().min(3)]
    );
    assert_eq!(duplicates, 0, "a message was stored twice");
    let missing: Vec<_> = acked.difference(&stored).take(10).collect();
    assert!(
        missing.is_empty(),
        "acknowledged but not stored: {missing:?}"
    );
    assert!(
        failed.is_empty(),
        "publishes failed despite retries: {failed:?}"
    );
    assert_eq!(stored.len(), N);
}

/// An ordered consumer reading an R3 stream whose leader's node is killed midway delivers
/// every sequence once and in order, and is back to delivering within 15 s of the kill. The
/// stream leader is first moved to the node serving the (R1) consumer, so the kill costs both
/// and the consumer must be recreated, after the re-election.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_consumer_recovers_when_the_stream_leader_dies() {
    let _alone = crate::EXCLUSIVE.write().await;
    let cluster = start_cluster().await;
    let setup = jetstream::new(rnats::connect(cluster.urls()).await.unwrap());
    let stream = create_r3_stream(&setup, "ORD3", "ord3").await;
    let leader = stream
        .cached_info()
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .expect("an R3 stream has a leader");
    // The reader is connected to the leader's node: killing it also costs the reader its
    // connection (and likely its consumer), so recovery is exercised every time.
    let mut urls: Vec<String> = cluster
        .servers()
        .iter()
        .filter(|n| n.name() == Some(leader.as_str()))
        .map(|n| n.url())
        .collect();
    urls.extend(
        cluster
            .servers()
            .iter()
            .filter(|n| n.name() != Some(leader.as_str()))
            .map(|n| n.url()),
    );
    let client = rnats::ConnectOptions::new()
        .retain_servers_order(true)
        .reconnect_delay_callback(|_| Duration::from_millis(50))
        .connect(urls)
        .await
        .unwrap();
    let js = jetstream::new(client);
    let stream = js.get_stream("ORD3").await.unwrap();
    const N: u64 = 10_000;
    let mut acks = VecDeque::new();
    for i in 0..N {
        acks.push_back(js.publish("ord3", i.to_string()).await.unwrap());
        if acks.len() >= 256 {
            acks.pop_front().unwrap().await.unwrap();
        }
    }
    for ack in acks {
        ack.await.unwrap();
    }
    let mut messages = stream
        .ordered_messages(jetstream::consumer::OrderedConfig::default())
        .await
        .unwrap();
    let victim = align_stream_leader_with_consumer(&stream).await;
    assert_eq!(
        stream_leader(&stream).await,
        victim,
        "could not move the stream leader"
    );
    let mut last = tokio::time::Instant::now();
    let mut longest_after_kill = Duration::ZERO;
    let mut killed = false;
    for expected in 1..=N {
        if expected == 2_000 {
            let cluster = Arc::clone(&cluster);
            let victim = victim.clone();
            tokio::task::spawn_blocking(move || {
                cluster
                    .servers()
                    .iter()
                    .find(|n| n.name() == Some(victim.as_str()))
                    .expect("the victim is a node")
                    .stop();
            })
            .await
            .unwrap();
            killed = true;
            last = tokio::time::Instant::now();
        }
        let msg = tokio::time::timeout(Duration::from_secs(30), messages.next())
            .await
            .unwrap_or_else(|_| panic!("the ordered consumer stalled at {expected}"))
            .expect("the ordered consumer ended")
            .unwrap();
        if killed {
            longest_after_kill = longest_after_kill.max(last.elapsed());
        }
        last = tokio::time::Instant::now();
        assert_eq!(msg.info().unwrap().stream_sequence, expected);
        assert_eq!(msg.payload, (expected - 1).to_string());
    }
    eprintln!(
        "ordered consumer, R3 stream leader and consumer node {victim} killed (the reader was \
         connected to {leader}): longest stall {longest_after_kill:?}, consumer recreated {} \
         times",
        messages.resets()
    );
    assert!(messages.resets() >= 1, "the consumer was never recreated");
    assert!(
        longest_after_kill < Duration::from_secs(15),
        "stalled {longest_after_kill:?} after the leader was killed"
    );
}

/// A durable R3 pull consumer read with messages() while its leader's node is killed: every
/// message arrives (at least once: acks the old leader had not replicated come back), and
/// delivery resumes after the re-election.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_messages_go_on_when_the_consumer_leader_dies() {
    let _alone = crate::EXCLUSIVE.write().await;
    let cluster = start_cluster().await;
    let client = connect_fast(cluster.urls()).await;
    let js = jetstream::new(client);
    let stream = create_r3_stream(&js, "PULL3", "pull3").await;
    const N: u64 = 5_000;
    let mut acks = VecDeque::new();
    for i in 0..N {
        acks.push_back(js.publish("pull3", i.to_string()).await.unwrap());
        if acks.len() >= 256 {
            acks.pop_front().unwrap().await.unwrap();
        }
    }
    for ack in acks {
        ack.await.unwrap();
    }
    // Deliveries and acks in flight when the leader dies are redelivered after the ack
    // wait (at-least-once); a short one keeps that within the test's stall limit.
    let mut consumer_config = pull::Config::durable("r3");
    consumer_config.ack_wait = Duration::from_secs(5);
    let consumer: PullConsumer = stream.create_consumer(consumer_config).await.unwrap();
    let leader = consumer
        .cached_info()
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .expect("an R3 consumer has a leader");
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(200)
        .expires(Duration::from_secs(4))
        .heartbeat(Duration::from_secs(1))
        .messages()
        .await
        .unwrap();
    let mut seen = BTreeSet::new();
    let mut redelivered = 0;
    let mut errors = Vec::new();
    let mut killed_at = None;
    let mut longest = Duration::ZERO;
    let mut last = tokio::time::Instant::now();
    while seen.len() < N as usize {
        if seen.len() == 1_000 && killed_at.is_none() {
            let cluster = Arc::clone(&cluster);
            let leader = leader.clone();
            tokio::task::spawn_blocking(move || {
                cluster
                    .servers()
                    .iter()
                    .find(|n| n.name() == Some(leader.as_str()))
                    .expect("the leader is a node")
                    .stop();
            })
            .await
            .unwrap();
            killed_at = Some(tokio::time::Instant::now());
            last = tokio::time::Instant::now();
        }
        let item = tokio::time::timeout(Duration::from_secs(30), messages.next())
            .await
            .unwrap_or_else(|_| panic!("messages() stalled at {} of {N}", seen.len()))
            .expect("messages() ended");
        match item {
            Ok(msg) => {
                if killed_at.is_some() {
                    longest = longest.max(last.elapsed());
                }
                last = tokio::time::Instant::now();
                let info = msg.info().unwrap();
                if !seen.insert(info.stream_sequence) || info.delivered > 1 {
                    redelivered += 1;
                }
                // (Buffered while the client reconnects.)
                msg.ack().await.unwrap();
            }
            Err(e) => {
                // Missed heartbeats, pulls the dead leader held (409 Leadership Change /
                // Server Shutdown), or a consumer without a leader yet (503).
                assert!(
                    e.is_timeout()
                        || e.jetstream_error()
                            .is_some_and(|a| a.code == 409 || a.code == 503),
                    "{e:?}"
                );
                errors.push(format!("{e}: {:?}", e.jetstream_error()));
            }
        }
    }
    eprintln!(
        "R3 consumer leader {leader} killed at 1,000 of {N}: {redelivered} redelivered, longest \
         gap {longest:?}, {} non-terminal errors: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    assert_eq!(seen, (1..=N).collect::<BTreeSet<u64>>());
    assert!(killed_at.is_some(), "the leader was never killed");
    assert!(longest < Duration::from_secs(20), "stalled {longest:?}");
}

/// Leader stepdowns of an R3 stream and consumer while messages() reads: the pulls the old
/// leader held end (409 Leadership Change or silence) and are issued again; every message
/// arrives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_messages_go_on_across_leader_stepdowns() {
    let _alone = crate::EXCLUSIVE.write().await;
    let cluster = start_cluster().await;
    let client = rnats::connect(cluster.urls()).await.unwrap();
    let js = jetstream::new(client);
    let stream = create_r3_stream(&js, "STEP", "step").await;
    // A delivery lost in a leader change comes back after the ack wait (at-least-once):
    // keep it short so the test sees it.
    let mut consumer_config = pull::Config::durable("s");
    consumer_config.ack_wait = Duration::from_secs(3);
    let consumer: PullConsumer = stream.create_consumer(consumer_config).await.unwrap();
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(50)
        .expires(Duration::from_secs(4))
        .heartbeat(Duration::from_secs(1))
        .messages()
        .await
        .unwrap();
    const N: usize = 600;
    let publisher = {
        let js = js.clone();
        tokio::spawn(async move {
            for i in 0..N {
                // A stream leader stepdown can lose an ack: retry with the same id.
                js.publish_with(
                    "step",
                    Publish::new()
                        .payload(i.to_string())
                        .message_id(format!("s-{i}"))
                        .retry_on_timeout(true)
                        .retry_attempts(10),
                )
                .await
                .unwrap()
                .await
                .unwrap();
                if i % 100 == 0 {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        })
    };
    let mut seen = BTreeSet::new();
    let mut errors = Vec::new();
    let mut stepped = 0;
    let mut redelivered = 0;
    let started = tokio::time::Instant::now();
    while seen.len() < N {
        if seen.len() >= 200 && stepped == 0 {
            // (Consumer info right after a stepdown may time out while a new leader is
            // elected: not asked here.)
            stream.consumer_leader_stepdown("s").await.unwrap();
            stepped = 1;
        }
        if seen.len() >= 400 && stepped == 1 {
            stream.leader_stepdown().await.unwrap();
            stepped = 2;
        }
        let Ok(item) = tokio::time::timeout(Duration::from_secs(20), messages.next()).await else {
            let missing: Vec<u64> = (1..=N as u64).filter(|s| !seen.contains(s)).collect();
            let info = stream.consumer_info("s").await;
            let state = js.stream_info("STEP").await.map(|i| i.state.messages);
            panic!(
                "messages() stalled at {}: missing {missing:?}, stream holds {state:?}, \
                 consumer {info:?}",
                seen.len()
            );
        };
        match item.expect("messages() ended") {
            Ok(m) => {
                let info = m.info().unwrap();
                if !seen.insert(info.stream_sequence) || info.delivered > 1 {
                    redelivered += 1;
                }
                m.ack().await.unwrap();
            }
            Err(e) => {
                assert!(
                    e.is_timeout()
                        || e.jetstream_error()
                            .is_some_and(|a| a.code == 409 || a.code == 503),
                    "{e:?}"
                );
                errors.push(format!("{e}: {:?}", e.jetstream_error()));
            }
        }
    }
    tokio::time::timeout(Duration::from_secs(60), publisher)
        .await
        .expect("the publisher hung")
        .unwrap();
    eprintln!(
        "stepdowns: {N} messages in {:?}, {redelivered} redelivered, {} non-terminal errors: \
         {errors:?}",
        started.elapsed(),
        errors.len()
    );
    assert_eq!(stepped, 2);
}

/// Steps the stream's leader down and waits (up to 15 s) for another one; returns it.
async fn step_down_and_wait(stream: &stream::Stream) -> String {
    let before = stream_leader(stream).await;
    // (The answer can be lost in the change of leader: the wait below tells.)
    if let Err(e) = stream.leader_stepdown().await {
        eprintln!("stepdown of {before}: {e}");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = stream_leader(stream).await;
        if !now.is_empty() && now != before {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no new stream leader after {before} stepped down"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Publishes with the DEFAULT options (no message id; 2 retries 250 ms apart on a
/// no-responders 503, none on a timeout) while the R3 stream's leader steps down three
/// times. Every acknowledged message is stored exactly once, at the sequence its ack gave;
/// a message stored without an ack is one whose publish failed; and every failure is one the
/// default policy leaves to the caller (a timeout, or a JetStream 503 error, which it does
/// not retry), never a no-responders 503, which it retries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_publish_keeps_acked_messages_exactly_once_across_leader_elections() {
    let _alone = crate::EXCLUSIVE.write().await;
    let cluster = start_cluster().await;
    let client = connect_fast(cluster.urls()).await;
    let js = jetstream::new(client);
    let stream = create_r3_stream(&js, "DEF", "def").await;
    // Publishes go on until the third election is over, paced so that every election
    // sees some.
    let issued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publisher = {
        let js = js.clone();
        let issued = Arc::clone(&issued);
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut in_flight = VecDeque::new();
            let mut results = Vec::new();
            let mut i = 0;
            while !done.load(std::sync::atomic::Ordering::SeqCst) || i < 1_000 {
                let ack = js.publish("def", i.to_string()).await.unwrap();
                issued.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                in_flight.push_back((i, ack));
                if in_flight.len() >= 64 {
                    let (j, ack) = in_flight.pop_front().unwrap();
                    results.push((j, ack.await));
                }
                if i % 10 == 9 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                i += 1;
            }
            for (j, ack) in in_flight {
                results.push((j, ack.await));
            }
            results
        })
    };
    let mut leaders = vec![stream_leader(&stream).await];
    let mut during = Vec::new();
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = issued.load(std::sync::atomic::Ordering::SeqCst);
        leaders.push(step_down_and_wait(&stream).await);
        during.push(issued.load(std::sync::atomic::Ordering::SeqCst) - before);
    }
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let results = tokio::time::timeout(Duration::from_secs(120), publisher)
        .await
        .expect("the publisher hung")
        .unwrap();
    assert!(
        during.iter().all(|n| *n > 0),
        "an election saw no publishes: {during:?}"
    );
    let n = results.len();
    let mut acked = std::collections::BTreeMap::new();
    let mut failed = BTreeSet::new();
    let mut failures = Vec::new();
    for (i, result) in results {
        match result {
            Ok(ack) => {
                assert_eq!(ack.stream, "DEF");
                assert!(!ack.duplicate, "{i}: {ack:?}");
                assert!(acked.insert(i, ack.sequence).is_none());
            }
            Err(e) => {
                assert!(
                    !e.is_no_responders(),
                    "{i}: retried no-responders failed: {e:?}"
                );
                assert!(
                    e.is_timeout() || e.jetstream_error().is_some_and(|a| a.code == 503),
                    "{i}: {e:?}"
                );
                failed.insert(i);
                failures.push(format!("{i}: {e}"));
            }
        }
    }
    // Read the whole stream back.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let state = loop {
        match js.stream_info("DEF").await {
            Ok(info) => break info.state,
            Err(e) => {
                assert!(tokio::time::Instant::now() < deadline, "stream info: {e:?}");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
    };
    let mut c = pull::Config::ephemeral();
    c.ack_policy = AckPolicy::None;
    let reader: PullConsumer = stream.create_consumer(c).await.unwrap();
    let mut messages = reader.messages().await.unwrap();
    let mut stored = std::collections::BTreeMap::new();
    for _ in 0..state.messages {
        let msg = tokio::time::timeout(Duration::from_secs(10), messages.next())
            .await
            .expect("reading the stream back stalled")
            .unwrap()
            .unwrap();
        let i: usize = std::str::from_utf8(&msg.payload).unwrap().parse().unwrap();
        let seq = msg.info().unwrap().stream_sequence;
        if let Some(first) = stored.insert(i, seq) {
            panic!("message {i} stored twice, at {first} and {seq}");
        }
    }
    for (i, seq) in &acked {
        assert_eq!(
            stored.get(i),
            Some(seq),
            "acked message {i} is not at {seq}"
        );
    }
    let unacked: Vec<_> = stored.keys().filter(|i| !acked.contains_key(i)).collect();
    assert!(
        unacked.iter().all(|i| failed.contains(i)),
        "stored without an ack nor a failure: {unacked:?}"
    );
    eprintln!(
        "default publish across stepdowns {leaders:?} ({during:?} publishes issued during \
         each): {n} published, {} acked, {} failed ({} of them stored \
         anyway), {} stored; failures: {:?}",
        acked.len(),
        failed.len(),
        unacked.len(),
        stored.len(),
        &failures[..failures.len().min(5)]
    );
}
