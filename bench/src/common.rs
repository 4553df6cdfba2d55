//! What the client modules share: the scenario spec, the result record, the pub/sub progress
//! counter and small measuring helpers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::{Scenario, Storage};

/// Errors of a worker run: any error type, printed and turned into exit code 1.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Subject of the `pub` scenario (nobody subscribes to it).
pub const PUB_SUBJECT: &str = "bench.pub";
/// Subject of the `pubsub` scenario.
pub const PUBSUB_SUBJECT: &str = "bench.pubsub";
/// Subject the echo responder of the request scenarios listens on.
pub const ECHO_SUBJECT: &str = "bench.echo";
/// The service scenario's endpoint subject.
pub const SERVICE_SUBJECT: &str = "bench.svc";
/// Requests in flight in `req-64`.
pub const IN_FLIGHT: usize = 64;
/// Subject prefix of the `reconnect` scenario's subscriptions.
pub const RECONNECT_PREFIX: &str = "bench.reconnect";

/// Publish acks outstanding in `js-pub-256` (and while pre-filling a stream).
pub const JS_IN_FLIGHT: usize = 256;
/// Messages per pull request in the `js-pull*` scenarios.
pub const JS_PULL_BATCH: usize = 500;
/// Messages published before `js-pub` measures (connections, stream, caches warm).
pub const JS_WARM_UP: u64 = 200;
/// `ordered-stall`: messages in the stream, and the one at which the leader is killed.
pub const ORDERED_KILL_AT: u64 = 2_000;
/// `ordered-stall`: a stall this long counts as a hang and fails the run.
pub const ORDERED_HANG: Duration = Duration::from_secs(60);

/// Keys the Key-Value scenarios cycle through (`k0` … `k999`).
pub const KV_KEYS: u64 = 1_000;
/// Keys `kv-watch` writes (`w0` … `w1999`): with a history of 64, 128,000 updates are kept.
pub const KV_WATCH_KEYS: u64 = 2_000;
/// Puts made before `kv-put` measures.
pub const KV_WARM_UP: u64 = 200;

/// The object the Object Store scenarios put and get.
pub const OBJ_NAME: &str = "bench-object";
/// The byte an Object Store scenario's object is made of (generated as it is read).
pub const OBJ_BYTE: u8 = b'o';

/// The bucket a Key-Value (or Object Store) worker creates for itself and deletes at the end.
pub fn kv_bucket() -> String {
    format!("bench_{}", std::process::id())
}

/// The key of operation `i` (keys are reused every `KV_KEYS` operations).
pub fn kv_key(i: u64) -> String {
    format!("k{}", i % KV_KEYS)
}

/// The stream (and its subject) a JetStream worker creates for itself and deletes at the
/// end: named after the process, so runs never share state.
pub fn js_stream() -> (String, String) {
    let id = std::process::id();
    (format!("BENCH_{id}"), format!("bench.js.{id}"))
}

/// The URLs of a cluster's nodes, `leader`'s first: the ordered-stall reader connects to the
/// node it will lose.
pub fn leader_first(
    nodes: impl Iterator<Item = (Option<String>, String)>,
    leader: &str,
) -> Vec<String> {
    let (mut first, rest): (Vec<_>, Vec<_>) =
        nodes.partition(|(name, _)| name.as_deref() == Some(leader));
    first.extend(rest);
    first.into_iter().map(|(_, url)| url).collect()
}

/// `ordered-stall`, for both clients alike (through an rnats connection of its own): finds
/// the node serving the stream's only consumer and moves the stream's leader there (leader
/// stepdowns until the election lands on it, at most 20 tries), so killing that node costs the
/// reader its consumer and the stream its leader at once: the consumer must be recreated, and
/// only after the re-election. Returns the node's name.
pub async fn align_stream_leader_with_consumer(
    urls: Vec<String>,
    stream_name: &str,
) -> Result<String, BoxError> {
    use futures::StreamExt;
    let js = rnats::jetstream::new(rnats::connect(urls).await?);
    let stream = js.get_stream(stream_name).await?;
    let consumers: Vec<_> = stream.consumers().collect().await;
    let [Ok(consumer)] = consumers.as_slice() else {
        return Err(format!(
            "expected one consumer on the stream, found {}",
            consumers.len()
        )
        .into());
    };
    let host = consumer
        .cluster
        .as_ref()
        .and_then(|c| c.leader.clone())
        .ok_or("the consumer has no leader")?;
    let leader = |stream: &rnats::jetstream::stream::Stream| {
        let stream = stream.clone();
        async move {
            stream
                .info_with(Default::default())
                .await
                .ok()
                .and_then(|i| i.cluster.and_then(|c| c.leader))
                .unwrap_or_default()
        }
    };
    for _ in 0..20 {
        let current = leader(&stream).await;
        if current == host {
            js.client().clone().close().await?;
            return Ok(host);
        }
        if current.is_empty() {
            // No leader at the moment (an election is on): ask again shortly.
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        // A stepdown's answer can be lost in the change of leader: the wait below tells.
        let _ = stream.leader_stepdown().await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let now = leader(&stream).await;
            if !now.is_empty() && now != current {
                break;
            }
            if Instant::now() > deadline {
                return Err("no new stream leader within 10 s of a stepdown".into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Err(format!("the stream leader never moved to the consumer's node {host}").into())
}

/// Subject prefix of the sentinel subscriptions that end a measurement with a round trip
/// through the server (see [`sentinel_subject`] and README, "Ending a measurement").
pub const SENTINEL_PREFIX: &str = "bench.sentinel";
/// How long a round trip's sentinel may take before the worker fails.
pub const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(60);

/// A subject of its own for one connection's sentinel subscription: nobody else publishes
/// to it, so the only message it receives is the sentinel the same connection publishes.
pub fn sentinel_subject() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!(
        "{SENTINEL_PREFIX}.{}.{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// `pubsub-equal`: the subscription capacity both clients get, in messages (async-nats'
/// default; rnats gets it with no byte limit, as async-nats has none).
pub const EQUAL_SUB_CAPACITY: usize = 65_536;

/// `ordered-stall`: what happened after the kill, for attributing the stall: connection
/// events and error items of the ordered stream, with their time.
#[derive(Default)]
pub struct Timeline {
    entries: std::sync::Mutex<Vec<(Instant, String)>>,
}

impl Timeline {
    /// Most entries kept (a client retrying in a loop would otherwise fill the output).
    const MAX: usize = 24;

    pub fn note(&self, what: impl Into<String>) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() < Self::MAX {
            entries.push((Instant::now(), what.into()));
        }
    }

    /// The entries after `origin` (the kill), as "+123 ms what".
    pub fn since(&self, origin: Instant) -> Vec<String> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .iter()
            .filter(|(t, _)| *t >= origin)
            .map(|(t, what)| format!("+{} ms {what}", (*t - origin).as_millis()))
            .collect()
    }
}

/// `pubsub` gives up waiting when nothing arrived for this long.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(3);

/// One worker run's parameters.
#[derive(Debug, Clone)]
pub struct Spec {
    pub scenario: Scenario,
    pub url: String,
    pub size: usize,
    pub count: u64,
    pub storage: Storage,
    pub server_pid: Option<u32>,
}

/// What a worker prints, as one JSON line. Fields a scenario does not measure stay `None`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub client: String,
    pub scenario: String,
    pub size: usize,
    /// Messages or requests sent.
    pub count: u64,
    /// Wall time of the measured part, seconds.
    pub elapsed_s: f64,
    /// Messages (or requests) per second.
    pub rate: f64,
    /// Payload megabytes (10^6) per second.
    pub mb_s: f64,
    /// pubsub: messages the subscriber received.
    pub received: Option<u64>,
    /// pubsub: `count - received`.
    pub lost: Option<u64>,
    /// pubsub, rnats only: `Subscriber::dropped()` (client-side slow-consumer drops).
    pub dropped: Option<u64>,
    /// Connections re-established during the run (server-side slow-consumer kicks show here).
    pub reconnects: Option<u64>,
    /// req-seq: latency percentiles, microseconds.
    pub p50_us: Option<f64>,
    pub p99_us: Option<f64>,
    /// reconnect: from the server's kill to a flush answered after reconnecting, ms.
    pub reconnect_ms: Option<f64>,
    /// Requests that failed (req-64, req-seq).
    pub errors: u64,
    /// ordered-stall: the longest time without a message after the leader's node was
    /// killed, ms.
    pub stall_ms: Option<f64>,
    /// ordered-stall: how many times the ordered consumer was recreated (rnats only; the
    /// async-nats ordered stream does not say).
    pub resets: Option<u64>,
    /// ordered-stall: connection events and error items after the kill, with their time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<String>,
    /// js-pull-ack after a run: messages delivered more than once (redeliveries).
    pub redelivered: Option<u64>,
    /// Peak resident memory of the worker process (VmHWM), KiB.
    pub rss_kib: u64,
    /// CPU time (user + system) of the worker process, seconds.
    #[serde(default)]
    pub cpu_s: f64,
    /// CPU time the nats-server spent while this worker ran, seconds (set by the
    /// orchestrator; 0 for workers started by hand, or when the scenario runs its own server).
    #[serde(default)]
    pub server_cpu_s: f64,
    /// `cpu_s` and `server_cpu_s` cover the measured part only (JetStream scenarios given
    /// `--server-pid`), so neither the worker nor the orchestrator overwrites them.
    #[serde(default)]
    pub cpu_measured: bool,
}

impl Outcome {
    /// A throughput result: `count` items of `size` bytes in `elapsed`.
    pub fn throughput(count: u64, size: usize, elapsed: Duration) -> Self {
        let secs = elapsed.as_secs_f64().max(1e-9);
        Outcome {
            elapsed_s: secs,
            rate: count as f64 / secs,
            mb_s: (count as f64 * size as f64) / secs / 1e6,
            ..Outcome::default()
        }
    }

    /// A sequential-latency result from per-request latencies.
    pub fn latency(
        mut samples: Vec<Duration>,
        errors: u64,
        elapsed: Duration,
        size: usize,
    ) -> Self {
        samples.sort_unstable();
        let mut o = Outcome::throughput(samples.len() as u64, size, elapsed);
        o.p50_us = Some(percentile_us(&samples, 0.50));
        o.p99_us = Some(percentile_us(&samples, 0.99));
        o.errors = errors;
        o
    }
}

/// The `q` quantile (nearest rank) of sorted samples, in microseconds.
fn percentile_us(sorted: &[Duration], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1].as_secs_f64() * 1e6
}

/// A payload of `size` bytes.
pub fn payload(size: usize) -> Bytes {
    Bytes::from(vec![b'x'; size])
}

/// Messages received by a pub/sub subscriber task, and when the last one came.
pub struct Progress {
    origin: Instant,
    received: AtomicU64,
    last_ns: AtomicU64,
}

impl Progress {
    pub fn new() -> Self {
        Progress {
            origin: Instant::now(),
            received: AtomicU64::new(0),
            last_ns: AtomicU64::new(0),
        }
    }

    /// Called by the subscriber for each message.
    pub fn record(&self) {
        self.received.fetch_add(1, Ordering::Relaxed);
        self.last_ns
            .store(self.origin.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }

    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }

    /// Nanoseconds since the origin: what the publisher notes when it starts.
    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// Waits until `target` messages arrived or none arrived for [`IDLE_TIMEOUT`].
    pub async fn wait_for(&self, target: u64) {
        let mut seen = self.received();
        let mut since = Instant::now();
        while seen < target {
            tokio::time::sleep(Duration::from_millis(2)).await;
            let now = self.received();
            if now != seen {
                seen = now;
                since = Instant::now();
            } else if since.elapsed() >= IDLE_TIMEOUT {
                break;
            }
        }
    }

    /// The pub/sub result: received messages over the time from `start_ns` (the first
    /// publish) to the last arrival.
    pub fn outcome(&self, start_ns: u64, count: u64, size: usize) -> Outcome {
        let received = self.received();
        let last = self.last_ns.load(Ordering::Relaxed).max(start_ns + 1);
        let mut o = Outcome::throughput(received, size, Duration::from_nanos(last - start_ns));
        o.received = Some(received);
        o.lost = Some(count.saturating_sub(received));
        o
    }
}

/// The payload of the end-of-run marker a pub/sub publisher sends after the measurement, so
/// the subscriber task ends and hands its subscriber back. Real messages are never empty.
pub fn is_end_marker(payload: &[u8]) -> bool {
    payload.is_empty()
}

/// CPU time (user + system) of process `pid` ("self" for this one), seconds, from
/// /proc/<pid>/stat (in clock ticks of 1/100 s, the Linux default); 0 if unknown.
pub fn cpu_seconds(pid: &str) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            // Fields after the command name, which is in parentheses and may hold spaces.
            let rest = stat.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            // utime and stime are fields 14 and 15 of the whole line: 12 and 13 here.
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}

/// Client and server CPU time over a measured section.
pub struct CpuMeter {
    server_pid: Option<String>,
    client: f64,
    server: f64,
}

impl CpuMeter {
    /// Starts measuring this process and, when known, the server.
    pub fn start(server_pid: Option<u32>) -> Self {
        let server_pid = server_pid.map(|p| p.to_string());
        CpuMeter {
            client: cpu_seconds("self"),
            server: server_pid.as_deref().map_or(0.0, cpu_seconds),
            server_pid,
        }
    }

    /// Writes the CPU spent since `start` into `outcome` (the server's only when its pid
    /// was given; otherwise the orchestrator measures the whole worker run).
    pub fn finish(self, outcome: &mut Outcome) {
        if let Some(pid) = &self.server_pid {
            outcome.cpu_s = cpu_seconds("self") - self.client;
            outcome.server_cpu_s = cpu_seconds(pid) - self.server;
            outcome.cpu_measured = true;
        }
    }
}

/// Peak resident set size of this process (`VmHWM` in /proc/self/status), KiB; 0 if unknown.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Runs a service scenario's requester: on the worker's own `block_on` future, or in a
/// spawned task for `svc-64-spawned`.
pub async fn run_requester<F, Fut>(spec: &Spec, requester: F) -> Result<Outcome, BoxError>
where
    F: FnOnce(Spec) -> Fut,
    Fut: std::future::Future<Output = Result<Outcome, BoxError>> + Send + 'static,
{
    if spec.scenario == crate::Scenario::Svc64Spawned {
        tokio::spawn(requester(spec.clone())).await?
    } else {
        requester(spec.clone()).await
    }
}
