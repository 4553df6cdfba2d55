//! Chaos soak: a 3-node JetStream cluster under rolling restarts (SIGKILL, then start again)
//! and SIGSTOP pauses, one node at a time, while every kind of traffic runs at once: core
//! pub/sub, request/reply, JetStream publishes with message ids and retries, a durable pull
//! consumer, an ordered consumer and Key-Value watchers, all through the public rnats API.
//!
//! It runs for `RNATS_SOAK_SECS` seconds of load (default 45, so that `cargo test` stays
//! quick), then lets the cluster settle and checks the goals:
//!
//! - every acknowledged JetStream message is stored (0 acked messages lost);
//! - no message is stored twice (0 stored duplicates: retries reuse the message id);
//! - the ordered consumer delivers every stream sequence once, in order;
//! - every KV watcher ends with the bucket's final state;
//! - the durable pull consumer delivers every stored message (at least once).
//!
//! Core NATS is at-most-once: what core pub/sub and requests lose while a server is down or
//! frozen is reported, not asserted. The 5-minute run:
//!
//! ```text
//! RNATS_SOAK_SECS=300 cargo test -p rnats --test soak -- --nocapture
//! ```
#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read as _, Write as _};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use rnats::jetstream::consumer::{pull, AckPolicy, OrderedConfig, PullConsumer};
use rnats::jetstream::{self, stream, Context, Publish};
use rnats::kv::{self, Operation, WatchEvent};
use rnats::{Client, Request};

/// Load time when `RNATS_SOAK_SECS` is not set.
const DEFAULT_SECS: u64 = 45;
/// The JetStream subject (and stream) under test.
const JS_SUBJECT: &str = "soak.js";
const STREAM: &str = "SOAK";
const BUCKET: &str = "soak";
/// Keys the KV writer puts and deletes.
const KEYS: usize = 20;
/// How long one JetStream message is retried before it counts as failed: well within the
/// stream's 2-minute duplicate window, so a retry never stores it twice.
const PUBLISH_GIVE_UP: Duration = Duration::from_secs(90);
/// Bound of each wait of the final phase (settling, catching up, converging).
const SETTLE: Duration = Duration::from_secs(90);

fn main() {
    if !selected(std::env::args().skip(1)) {
        println!("soak: not selected by the test filter; skipped");
        return;
    }
    let secs = std::env::var("RNATS_SOAK_SECS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(DEFAULT_SECS);
    let load = Duration::from_secs(secs);
    // A hang is a failure that says so, not a CI job killed without a word; the servers die
    // with the process (rnats-test's watchdog).
    let limit = load + Duration::from_secs(420);
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("soak: still running after {limit:?}; ending");
        std::process::exit(101);
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let report = runtime.block_on(soak(load));
    report.print(load);
    report.check();
    println!("soak: ok");
}

/// Whether libtest-style arguments select the soak: not with `--list` (it lists no tests),
/// and with name filters only when one of them is part of "soak" (so that
/// `cargo test -p rnats some_test` does not run it). Values of libtest's options that take
/// one are not filters.
fn selected(mut args: impl Iterator<Item = String>) -> bool {
    let mut filters = Vec::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--list" => return false,
            "--test-threads" | "--skip" | "--format" | "--color" | "--logfile" | "-Z" => {
                args.next();
            }
            a if a.starts_with('-') => {}
            a => filters.push(a.to_owned()),
        }
    }
    filters.is_empty() || filters.iter().any(|f| "soak".contains(f.as_str()))
}

/// What the soak counted.
#[derive(Debug, Default)]
struct Report {
    restarts: u64,
    pauses: u64,
    core_sent: u64,
    core_received: u64,
    core_duplicates: u64,
    requests_ok: u64,
    requests_failed: u64,
    js_published: u64,
    js_attempts: u64,
    js_acked: u64,
    js_dedup_acks: u64,
    js_failed: u64,
    js_acked_lost: Vec<u64>,
    stored: u64,
    stored_distinct: u64,
    stored_duplicates: u64,
    pull_delivered: u64,
    pull_distinct: u64,
    pull_redelivered: u64,
    pull_missing: u64,
    pull_errors: u64,
    ordered_delivered: u64,
    ordered_duplicates: u64,
    ordered_gaps: u64,
    ordered_last: u64,
    ordered_resets: u64,
    ordered_errors: u64,
    last_sequence: u64,
    kv_ops: u64,
    kv_failed: u64,
    kv_watchers: usize,
    kv_converged: usize,
    kv_watch_events: u64,
    kv_watch_resets: u64,
    kv_divergence: Vec<String>,
}

impl Report {
    fn print(&self, load: Duration) {
        let core_lost = self.core_sent.saturating_sub(self.core_received);
        println!(
            "soak {}s, {} restarts, {} pauses: published {}, acked {}, stored {}, delivered {} \
             (pull) / {} (ordered), duplicates {} stored / {} ordered / {} pull redeliveries; \
             acked lost {}; KV watchers converged {}/{}; core lost {} of {}; requests failed {} \
             of {}",
            load.as_secs(),
            self.restarts,
            self.pauses,
            self.js_published,
            self.js_acked,
            self.stored,
            self.pull_delivered,
            self.ordered_delivered,
            self.stored_duplicates,
            self.ordered_duplicates,
            self.pull_redelivered,
            self.js_acked_lost.len(),
            self.kv_converged,
            self.kv_watchers,
            core_lost,
            self.core_sent,
            self.requests_failed,
            self.requests_ok + self.requests_failed,
        );
        let rows: [(&str, String); 27] = [
            ("chaos: rolling restarts", self.restarts.to_string()),
            ("chaos: SIGSTOP pauses", self.pauses.to_string()),
            ("core: sent", self.core_sent.to_string()),
            ("core: received", self.core_received.to_string()),
            ("core: lost (at-most-once)", core_lost.to_string()),
            ("core: duplicates", self.core_duplicates.to_string()),
            ("requests: ok", self.requests_ok.to_string()),
            ("requests: failed", self.requests_failed.to_string()),
            (
                "js: published (distinct ids)",
                self.js_published.to_string(),
            ),
            ("js: publish attempts", self.js_attempts.to_string()),
            ("js: acked", self.js_acked.to_string()),
            ("js: acks marked duplicate", self.js_dedup_acks.to_string()),
            ("js: failed after retries", self.js_failed.to_string()),
            ("js: acked but lost", self.js_acked_lost.len().to_string()),
            (
                "stream: stored (last seq)",
                format!("{} ({})", self.stored, self.last_sequence),
            ),
            (
                "stream: stored duplicates",
                self.stored_duplicates.to_string(),
            ),
            ("pull: delivered", self.pull_delivered.to_string()),
            (
                "pull: distinct / missing",
                format!("{} / {}", self.pull_distinct, self.pull_missing),
            ),
            ("pull: redelivered", self.pull_redelivered.to_string()),
            ("pull: errors seen", self.pull_errors.to_string()),
            ("ordered: delivered", self.ordered_delivered.to_string()),
            (
                "ordered: duplicates / gaps",
                format!("{} / {}", self.ordered_duplicates, self.ordered_gaps),
            ),
            (
                "ordered: resets / errors seen",
                format!("{} / {}", self.ordered_resets, self.ordered_errors),
            ),
            (
                "kv: ops / failed",
                format!("{} / {}", self.kv_ops, self.kv_failed),
            ),
            (
                "kv: watchers converged",
                format!("{}/{}", self.kv_converged, self.kv_watchers),
            ),
            ("kv: watch events", self.kv_watch_events.to_string()),
            ("kv: watcher resets", self.kv_watch_resets.to_string()),
        ];
        println!("{:-<44}", "");
        for (name, value) in rows {
            println!("{name:<30} {value:>13}");
        }
        println!("{:-<44}", "");
    }

    fn check(&self) {
        assert!(
            self.js_acked_lost.is_empty(),
            "acked messages lost: {} (first: {:?})",
            self.js_acked_lost.len(),
            &self.js_acked_lost[..self.js_acked_lost.len().min(10)]
        );
        assert_eq!(self.stored_duplicates, 0, "messages stored twice");
        assert_eq!(self.stored, self.stored_distinct + self.stored_duplicates);
        assert_eq!(
            (self.ordered_duplicates, self.ordered_gaps),
            (0, 0),
            "the ordered consumer skipped or repeated sequences"
        );
        assert_eq!(
            self.ordered_last, self.last_sequence,
            "the ordered consumer did not reach the end of the stream"
        );
        assert_eq!(
            self.kv_converged, self.kv_watchers,
            "KV watchers differ from the bucket: {:?}",
            self.kv_divergence
        );
        assert_eq!(
            self.pull_missing, 0,
            "the pull consumer never delivered some messages"
        );
        assert!(self.js_acked > 0, "nothing was acknowledged");
        assert!(self.core_received > 0, "core pub/sub delivered nothing");
        assert!(self.requests_ok > 0, "no request was answered");
        assert!(self.restarts > 0 && self.pauses > 0, "no chaos happened");
    }
}

/// A client that reconnects quickly and notices a frozen server within ~3 s.
async fn connect(urls: &[String], name: &str) -> Client {
    rnats::ConnectOptions::new()
        .name(name)
        .ping_interval(Duration::from_secs(1))
        .max_pings_out(2)
        .reconnect_delay_callback(|_| Duration::from_millis(100))
        .connect(urls.to_vec())
        .await
        .unwrap()
}

/// Retries `f` every 250 ms for up to `SETTLE`.
async fn retry<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, rnats::Error>>,
{
    let deadline = tokio::time::Instant::now() + SETTLE;
    loop {
        match f().await {
            Ok(v) => return v,
            Err(e) if tokio::time::Instant::now() < deadline => {
                eprintln!("soak: {what}: {e}; retrying");
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => panic!("soak: {what}: {e:?}"),
        }
    }
}

/// `GET /healthz` on a node's monitoring port answers 200.
fn healthy(node: &rnats_test::NatsServer) -> bool {
    let Some(port) = node.monitor_port() else {
        return false;
    };
    let Ok(mut sock) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = sock.set_read_timeout(Some(Duration::from_secs(2)));
    if sock
        .write_all(b"GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 12];
    sock.read_exact(&mut head).is_ok() && head.ends_with(b"200")
}

/// Waits (blocking) until every node answers `/healthz` with 200, up to `limit`.
fn wait_healthy(cluster: &rnats_test::Cluster, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cluster.servers().iter().all(healthy) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    false
}

/// The chaos: one node at a time, in turn, is either killed and started again or frozen
/// for 1 to 3 s, then the cluster is given time to be healthy again; a few seconds later,
/// the next. Runs until `stop`, always leaving every node running and resumed.
fn chaos(
    cluster: &rnats_test::Cluster,
    stop: &AtomicBool,
    restarts: &AtomicU64,
    pauses: &AtomicU64,
) {
    let mut step = 0usize;
    let pause_for = [1_000u64, 3_000, 2_000];
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_secs(2));
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let node = cluster.node(step % 3);
        let name = node.name().unwrap_or("?").to_owned();
        if step % 2 == 0 {
            eprintln!("soak: chaos: restarting {name}");
            node.restart();
            restarts.fetch_add(1, Ordering::Relaxed);
        } else {
            let ms = pause_for[(step / 2) % pause_for.len()];
            eprintln!("soak: chaos: SIGSTOP {name} for {ms} ms");
            node.pause();
            pauses.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(Duration::from_millis(ms));
            node.resume();
        }
        if !wait_healthy(cluster, Duration::from_secs(30)) {
            eprintln!("soak: chaos: the cluster is not healthy 30 s after touching {name}");
        }
        step += 1;
    }
}

/// Counts shared between a workload's task and the report.
#[derive(Default)]
struct Counter(AtomicU64);

impl Counter {
    fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// JetStream publishing: what happened to each message id.
#[derive(Default)]
struct JsLog {
    published: u64,
    attempts: u64,
    acked: BTreeSet<u64>,
    dedup_acks: u64,
    failed: u64,
}

/// Sends message `i` (id `soak-<i>`) until it is acknowledged or `PUBLISH_GIVE_UP` passed:
/// the library retries timeouts and no-responders with the same id; whatever still fails is
/// sent again here, with the same id too.
async fn publish_until_acked(js: Context, i: u64, log: Arc<Mutex<JsLog>>) {
    let give_up = tokio::time::Instant::now() + PUBLISH_GIVE_UP;
    loop {
        log.lock().unwrap().attempts += 1;
        let publish = Publish::new()
            .payload(i.to_string())
            .message_id(format!("soak-{i}"))
            .retry_on_timeout(true)
            .retry_attempts(5)
            .retry_wait(Duration::from_millis(250));
        let result = match js.publish_with(JS_SUBJECT, publish).await {
            Ok(ack) => ack.await,
            Err(e) => Err(e),
        };
        match result {
            Ok(ack) => {
                let mut log = log.lock().unwrap();
                log.acked.insert(i);
                if ack.duplicate {
                    log.dedup_acks += 1;
                }
                return;
            }
            Err(e) if tokio::time::Instant::now() < give_up => {
                if log.lock().unwrap().attempts % 100 == 1 {
                    eprintln!("soak: js publish {i}: {e}; sending again");
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(e) => {
                eprintln!("soak: js publish {i}: giving up: {e}");
                log.lock().unwrap().failed += 1;
                return;
            }
        }
    }
}

/// What the durable pull consumer delivered.
#[derive(Default)]
struct PullLog {
    delivered: u64,
    seen: BTreeSet<u64>,
    redelivered: u64,
    errors: u64,
}

async fn pull_reader(stream: stream::Stream, log: Arc<Mutex<PullLog>>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let consumer: PullConsumer = match stream.get_consumer("soak-pull").await {
            Ok(c) => c,
            Err(e) => {
                eprintln!("soak: pull: binding the consumer: {e}");
                log.lock().unwrap().errors += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let messages = consumer
            .stream()
            .max_messages_per_batch(200)
            .expires(Duration::from_secs(4))
            .heartbeat(Duration::from_secs(1))
            .messages()
            .await;
        let mut messages = match messages {
            Ok(m) => m,
            Err(e) => {
                eprintln!("soak: pull: starting messages(): {e}");
                log.lock().unwrap().errors += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        while !stop.load(Ordering::Relaxed) {
            let next = match tokio::time::timeout(Duration::from_secs(1), messages.next()).await {
                Err(_) => continue,
                Ok(None) => {
                    eprintln!("soak: pull: messages() ended; starting again");
                    break;
                }
                Ok(Some(next)) => next,
            };
            match next {
                Ok(msg) => {
                    let i: u64 = std::str::from_utf8(&msg.payload).unwrap().parse().unwrap();
                    {
                        let mut log = log.lock().unwrap();
                        log.delivered += 1;
                        if !log.seen.insert(i) {
                            log.redelivered += 1;
                        }
                    }
                    // A lost ack means a redelivery, which is counted: nothing else to do.
                    let _ = msg.ack().await;
                }
                Err(e) => {
                    let mut log = log.lock().unwrap();
                    log.errors += 1;
                    if log.errors % 20 == 1 {
                        eprintln!("soak: pull: {e}");
                    }
                }
            }
        }
    }
}

/// What the ordered consumer delivered.
#[derive(Default)]
struct OrderedLog {
    delivered: u64,
    last: u64,
    duplicates: u64,
    gaps: u64,
    errors: u64,
    resets: u64,
}

async fn ordered_reader(
    stream: stream::Stream,
    log: Arc<Mutex<OrderedLog>>,
    stop: Arc<AtomicBool>,
) {
    let mut messages = retry("starting the ordered consumer", || {
        stream.ordered_messages(OrderedConfig::default())
    })
    .await;
    while !stop.load(Ordering::Relaxed) {
        let next = match tokio::time::timeout(Duration::from_secs(1), messages.next()).await {
            Err(_) => continue,
            Ok(None) => panic!("soak: the ordered consumer ended"),
            Ok(Some(next)) => next,
        };
        let mut log = log.lock().unwrap();
        log.resets = messages.resets();
        match next {
            Ok(msg) => {
                let seq = msg.info().unwrap().stream_sequence;
                log.delivered += 1;
                if seq <= log.last {
                    log.duplicates += 1;
                    eprintln!("soak: ordered: sequence {seq} again (last {})", log.last);
                } else {
                    if seq != log.last + 1 {
                        log.gaps += 1;
                        eprintln!("soak: ordered: sequence {seq} after {}", log.last);
                    }
                    log.last = seq;
                }
            }
            Err(e) => {
                log.errors += 1;
                if log.errors % 20 == 1 {
                    eprintln!("soak: ordered: {e}");
                }
            }
        }
    }
}

/// A key's state as a watcher or the bucket sees it: revision, and the value (`None`:
/// deleted or purged).
type KeyState = (u64, Option<String>);

#[derive(Default)]
struct WatcherLog {
    keys: BTreeMap<String, KeyState>,
    events: u64,
    resets: u64,
}

async fn kv_watcher(store: kv::Store, log: Arc<Mutex<WatcherLog>>, stop: Arc<AtomicBool>) {
    let watch = retry("starting a KV watcher", || store.watch_all()).await;
    let mut events = watch.events();
    while !stop.load(Ordering::Relaxed) {
        let next = match tokio::time::timeout(Duration::from_secs(1), events.next()).await {
            Err(_) => continue,
            Ok(None) => panic!("soak: a KV watcher ended"),
            Ok(Some(next)) => next,
        };
        let mut log = log.lock().unwrap();
        log.resets = events.resets();
        match next {
            Ok(WatchEvent::Entry(e)) => {
                log.events += 1;
                let value = match e.operation {
                    Operation::Put => Some(String::from_utf8_lossy(&e.value).into_owned()),
                    _ => None,
                };
                log.keys.insert(e.key, (e.revision, value));
            }
            Ok(_) => {}
            Err(e) => eprintln!("soak: KV watcher: {e}"),
        }
    }
}

async fn soak(load: Duration) -> Report {
    let cluster = Arc::new(
        tokio::task::spawn_blocking(|| rnats_test::jetstream_cluster(3))
            .await
            .unwrap(),
    );
    let urls = cluster.urls();
    let admin = connect(&urls, "soak-admin").await;
    let js = jetstream::ContextBuilder::new()
        .timeout(Duration::from_secs(2))
        .build(admin.clone());

    let mut config = stream::Config::new(STREAM);
    config.subjects = vec![JS_SUBJECT.into()];
    config.num_replicas = 3;
    config.duplicate_window = Duration::from_secs(120);
    let stream = retry("creating the stream", || js.create_stream(config.clone())).await;
    let mut pull_config = pull::Config::durable("soak-pull");
    pull_config.ack_policy = AckPolicy::Explicit;
    pull_config.ack_wait = Duration::from_secs(5);
    let _: PullConsumer = retry("creating the pull consumer", || {
        stream.create_consumer(pull_config.clone())
    })
    .await;
    let mut kv_config = kv::Config::new(BUCKET);
    kv_config.replicas = 3;
    let store = retry("creating the bucket", || {
        js.create_key_value(kv_config.clone())
    })
    .await;

    let stop_load = Arc::new(AtomicBool::new(false));
    let stop_readers = Arc::new(AtomicBool::new(false));
    let mut load_tasks = Vec::new();
    let mut reader_tasks = Vec::new();

    // Readers first, so that they see everything from the start.
    let core_client = connect(&urls, "soak-core-sub").await;
    let core_sub = core_client.subscribe("soak.core").await.unwrap();
    core_client.flush().await.unwrap();
    let core_received = Arc::new(Mutex::new((BTreeSet::<u64>::new(), 0u64)));
    {
        let received = Arc::clone(&core_received);
        let stop = Arc::clone(&stop_readers);
        let mut sub = core_sub;
        reader_tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(Some(msg)) =
                    tokio::time::timeout(Duration::from_secs(1), sub.next()).await
                {
                    let i: u64 = std::str::from_utf8(&msg.payload).unwrap().parse().unwrap();
                    let mut r = received.lock().unwrap();
                    if !r.0.insert(i) {
                        r.1 += 1;
                    }
                }
            }
        }));
    }
    for n in 0..2 {
        let client = connect(&urls, &format!("soak-responder-{n}")).await;
        let mut sub = client.queue_subscribe("soak.req", "soak").await.unwrap();
        client.flush().await.unwrap();
        let stop = Arc::clone(&stop_readers);
        reader_tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                if let Ok(Some(msg)) =
                    tokio::time::timeout(Duration::from_secs(1), sub.next()).await
                {
                    if let Some(reply) = msg.reply {
                        let _ = client.publish(reply, msg.payload).await;
                    }
                }
            }
        }));
    }
    let pull_log = Arc::new(Mutex::new(PullLog::default()));
    {
        let js = jetstream::new(connect(&urls, "soak-pull").await);
        let stream = js.get_stream_no_info(STREAM);
        reader_tasks.push(tokio::spawn(pull_reader(
            stream,
            Arc::clone(&pull_log),
            Arc::clone(&stop_readers),
        )));
    }
    let ordered_log = Arc::new(Mutex::new(OrderedLog::default()));
    {
        let js = jetstream::new(connect(&urls, "soak-ordered").await);
        let stream = js.get_stream_no_info(STREAM);
        reader_tasks.push(tokio::spawn(ordered_reader(
            stream,
            Arc::clone(&ordered_log),
            Arc::clone(&stop_readers),
        )));
    }
    let watcher_logs: Vec<Arc<Mutex<WatcherLog>>> = (0..3)
        .map(|_| Arc::new(Mutex::new(WatcherLog::default())))
        .collect();
    // The first watcher starts now, the others during the chaos (one a third of the way in,
    // one two thirds): a watcher must converge however it started.
    for (n, log) in watcher_logs.iter().enumerate() {
        let js = jetstream::new(connect(&urls, &format!("soak-watcher-{n}")).await);
        let log = Arc::clone(log);
        let stop = Arc::clone(&stop_readers);
        let delay = load * u32::try_from(n).unwrap() / 3;
        reader_tasks.push(tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            let store = retry("binding the bucket", || js.key_value(BUCKET)).await;
            kv_watcher(store, log, stop).await;
        }));
    }

    // The chaos, on a thread of its own (the harness blocks).
    let restarts = Arc::new(AtomicU64::new(0));
    let pauses = Arc::new(AtomicU64::new(0));
    let stop_chaos = Arc::new(AtomicBool::new(false));
    let chaos_thread = {
        let cluster = Arc::clone(&cluster);
        let stop = Arc::clone(&stop_chaos);
        let restarts = Arc::clone(&restarts);
        let pauses = Arc::clone(&pauses);
        std::thread::spawn(move || chaos(&cluster, &stop, &restarts, &pauses))
    };

    // The writers.
    let core_sent = Arc::new(Counter::default());
    {
        let client = connect(&urls, "soak-core-pub").await;
        let sent = Arc::clone(&core_sent);
        let stop = Arc::clone(&stop_load);
        load_tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for _ in 0..10 {
                    if client.publish("soak.core", i.to_string()).await.is_ok() {
                        sent.add();
                    }
                    i += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    let requests = Arc::new((Counter::default(), Counter::default()));
    {
        let client = connect(&urls, "soak-requester").await;
        let requests = Arc::clone(&requests);
        let stop = Arc::clone(&stop_load);
        load_tasks.push(tokio::spawn(async move {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let payload = i.to_string();
                let answer = client
                    .request_with(
                        "soak.req",
                        Request::new()
                            .payload(payload.clone())
                            .timeout(Duration::from_secs(1)),
                    )
                    .await;
                match answer {
                    Ok(m) if m.payload == payload => requests.0.add(),
                    _ => requests.1.add(),
                }
                i += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    let js_log = Arc::new(Mutex::new(JsLog::default()));
    {
        let js = jetstream::ContextBuilder::new()
            .timeout(Duration::from_secs(2))
            .build(connect(&urls, "soak-js-pub").await);
        let log = Arc::clone(&js_log);
        let stop = Arc::clone(&stop_load);
        load_tasks.push(tokio::spawn(async move {
            let mut in_flight = FuturesUnordered::new();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                while in_flight.len() >= 32 {
                    in_flight.next().await;
                }
                log.lock().unwrap().published += 1;
                in_flight.push(publish_until_acked(js.clone(), i, Arc::clone(&log)));
                i += 1;
                if i % 20 == 0 {
                    // At most ~1,000 messages a second: the point is the chaos, not the rate.
                    // The acks in flight are polled meanwhile.
                    let pause = tokio::time::sleep(Duration::from_millis(20));
                    tokio::pin!(pause);
                    loop {
                        tokio::select! {
                            _ = &mut pause => break,
                            _ = in_flight.next(), if !in_flight.is_empty() => {}
                        }
                    }
                }
            }
            while in_flight.next().await.is_some() {}
        }));
    }
    let kv_counts = Arc::new((Counter::default(), Counter::default()));
    {
        let js = jetstream::new(connect(&urls, "soak-kv-writer").await);
        let store = retry("binding the bucket", || js.key_value(BUCKET)).await;
        let counts = Arc::clone(&kv_counts);
        let stop = Arc::clone(&stop_load);
        load_tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let key = format!("k{}", n % KEYS as u64);
                let result = if n % 11 == 10 {
                    store.delete(&key).await
                } else {
                    store.put(&key, format!("v{n}")).await.map(|_| ())
                };
                counts.0.add();
                if result.is_err() {
                    counts.1.add();
                }
                n += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    drop(store);

    tokio::time::sleep(load).await;
    eprintln!("soak: load time over; settling");
    stop_chaos.store(true, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || chaos_thread.join().unwrap())
        .await
        .unwrap();
    stop_load.store(true, Ordering::Relaxed);
    for task in load_tasks {
        tokio::time::timeout(PUBLISH_GIVE_UP + SETTLE, task)
            .await
            .expect("a writer did not finish")
            .unwrap();
    }
    {
        let cluster = Arc::clone(&cluster);
        let ok = tokio::task::spawn_blocking(move || wait_healthy(&cluster, SETTLE))
            .await
            .unwrap();
        assert!(ok, "the cluster is not healthy after the chaos");
    }

    // What the stream holds, read through a fresh consumer.
    let info = retry("stream info", || js.stream_info(STREAM)).await;
    let stored = info.state.messages;
    let last_sequence = info.state.last_sequence;
    let mut reader_config = pull::Config::ephemeral();
    reader_config.ack_policy = AckPolicy::None;
    let reader: PullConsumer = retry("creating the checking consumer", || {
        stream.create_consumer(reader_config.clone())
    })
    .await;
    let mut messages = reader
        .stream()
        .max_messages_per_batch(1000)
        .messages()
        .await
        .unwrap();
    let mut stored_ids = BTreeSet::new();
    let mut stored_duplicates = 0;
    let mut read = 0;
    while read < stored {
        let msg = tokio::time::timeout(Duration::from_secs(30), messages.next())
            .await
            .expect("reading the stream back stalled")
            .unwrap()
            .unwrap();
        let i: u64 = std::str::from_utf8(&msg.payload).unwrap().parse().unwrap();
        if !stored_ids.insert(i) {
            stored_duplicates += 1;
        }
        read += 1;
    }
    drop(messages);

    // The readers catch up.
    let deadline = tokio::time::Instant::now() + SETTLE;
    while tokio::time::Instant::now() < deadline {
        let ordered_done = ordered_log.lock().unwrap().last >= last_sequence;
        let pull_done = stored_ids.is_subset(&pull_log.lock().unwrap().seen);
        if ordered_done && pull_done {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    // The bucket's final state, read twice to be sure it is final.
    let final_state = {
        let js = jetstream::new(admin.clone());
        let store = retry("binding the bucket", || js.key_value(BUCKET)).await;
        let mut last = BTreeMap::new();
        loop {
            let mut state = BTreeMap::new();
            for k in 0..KEYS {
                let key = format!("k{k}");
                let (store, key) = (&store, &key);
                let entry = retry("reading the bucket", || async move {
                    match store.entry(key).await {
                        Ok(e) => Ok(Some(e)),
                        Err(e) if e.is_key_not_found() => Ok(None),
                        Err(e) => Err(e),
                    }
                })
                .await;
                if let Some(e) = entry {
                    let value = match e.operation {
                        Operation::Put => Some(String::from_utf8_lossy(&e.value).into_owned()),
                        _ => None,
                    };
                    state.insert(key.clone(), (e.revision, value));
                }
            }
            if state == last {
                break state;
            }
            last = state;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    let deadline = tokio::time::Instant::now() + SETTLE;
    while tokio::time::Instant::now() < deadline {
        if watcher_logs
            .iter()
            .all(|w| w.lock().unwrap().keys == final_state)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    stop_readers.store(true, Ordering::Relaxed);
    for task in reader_tasks {
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .expect("a reader did not stop")
            .unwrap();
    }

    let js_log = js_log.lock().unwrap();
    let pull_log = pull_log.lock().unwrap();
    let ordered_log = ordered_log.lock().unwrap();
    let core = core_received.lock().unwrap();
    let mut report = Report {
        restarts: restarts.load(Ordering::Relaxed),
        pauses: pauses.load(Ordering::Relaxed),
        core_sent: core_sent.get(),
        core_received: core.0.len() as u64,
        core_duplicates: core.1,
        requests_ok: requests.0.get(),
        requests_failed: requests.1.get(),
        js_published: js_log.published,
        js_attempts: js_log.attempts,
        js_acked: js_log.acked.len() as u64,
        js_dedup_acks: js_log.dedup_acks,
        js_failed: js_log.failed,
        js_acked_lost: js_log.acked.difference(&stored_ids).copied().collect(),
        stored,
        stored_distinct: stored_ids.len() as u64,
        stored_duplicates,
        pull_delivered: pull_log.delivered,
        pull_distinct: pull_log.seen.len() as u64,
        pull_redelivered: pull_log.redelivered,
        pull_missing: stored_ids.difference(&pull_log.seen).count() as u64,
        pull_errors: pull_log.errors,
        ordered_delivered: ordered_log.delivered,
        ordered_duplicates: ordered_log.duplicates,
        ordered_gaps: ordered_log.gaps,
        ordered_last: ordered_log.last,
        ordered_resets: ordered_log.resets,
        ordered_errors: ordered_log.errors,
        last_sequence,
        kv_ops: kv_counts.0.get(),
        kv_failed: kv_counts.1.get(),
        kv_watchers: watcher_logs.len(),
        ..Report::default()
    };
    for (n, w) in watcher_logs.iter().enumerate() {
        let w = w.lock().unwrap();
        report.kv_watch_events += w.events;
        report.kv_watch_resets += w.resets;
        if w.keys == final_state {
            report.kv_converged += 1;
        } else {
            let differ: Vec<_> = final_state
                .iter()
                .filter(|(k, v)| w.keys.get(*k) != Some(v))
                .map(|(k, v)| format!("{k}: bucket {v:?}, watcher {:?}", w.keys.get(k)))
                .take(5)
                .collect();
            report.kv_divergence.push(format!(
                "watcher {n}: {} keys vs {}: {differ:?}",
                w.keys.len(),
                final_state.len()
            ));
        }
    }
    report
}
