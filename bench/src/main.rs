//! `bench`: end-to-end benchmarks of rnats against async-nats on a real nats-server.
//!
//! `bench run` starts one nats-server and runs every scenario in fresh worker processes of
//! this same executable (`bench worker ...`), alternating the clients, so each client's peak
//! memory is its own. It prints a Markdown table of the medians. See README.md.

mod async_nats_client;
mod async_nats_js;
mod async_nats_kv;
mod async_nats_obj;
mod async_nats_svc;
mod common;
mod orchestrator;
mod raw;
mod rnats_client;
mod rnats_js;
mod rnats_kv;
mod rnats_obj;
mod rnats_svc;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "bench",
    about = "End-to-end NATS client benchmarks: rnats vs async-nats"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one scenario with one client against a running server; print one JSON line.
    Worker(WorkerArgs),
    /// Start a nats-server, run every scenario with every client, print a Markdown table.
    Run(orchestrator::RunArgs),
    /// Answer every request on a subject with its own payload, until killed: the raw-TCP echo
    /// responder, a fixed far end for benchmarks of other clients (the Python rows).
    Echo(EchoArgs),
}

/// Where the echo responder listens.
#[derive(Args, Debug, Clone)]
pub struct EchoArgs {
    /// The server, e.g. nats://127.0.0.1:4222.
    #[arg(long)]
    pub url: String,
    /// The subject answered.
    #[arg(long, default_value = common::ECHO_SUBJECT)]
    pub subject: String,
}

/// What one worker process does.
#[derive(Args, Debug, Clone)]
pub struct WorkerArgs {
    /// Which client library to drive.
    #[arg(long, value_enum)]
    pub client: ClientKind,
    /// Which scenario to run.
    #[arg(long, value_enum)]
    pub scenario: Scenario,
    /// The server, e.g. nats://127.0.0.1:4222.
    #[arg(long)]
    pub url: String,
    /// Payload size in bytes.
    #[arg(long, default_value_t = 128)]
    pub size: usize,
    /// Messages (or requests) to send; a per-scenario default when absent.
    #[arg(long)]
    pub count: Option<u64>,
    /// JetStream scenarios: where the stream keeps its messages.
    #[arg(long, value_enum, default_value_t = Storage::Memory)]
    pub storage: Storage,
    /// The nats-server's process id: JetStream scenarios then report the server's CPU time
    /// over their measured part only (not over stream setup or pre-filling).
    #[arg(long)]
    pub server_pid: Option<u32>,
}

/// JetStream storage of the benchmark stream.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Storage {
    /// `storage: file` (the server's default; no fsync per message).
    File,
    /// `storage: memory`.
    Memory,
}

impl Storage {
    pub fn name(self) -> &'static str {
        match self {
            Storage::File => "file",
            Storage::Memory => "memory",
        }
    }
}

/// The implementations under test.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// This repository's client.
    Rnats,
    /// The async-nats crate from crates.io.
    AsyncNats,
    /// Hand-written NATS protocol over a tokio TcpStream: what the server can take.
    RawTcp,
}

impl ClientKind {
    pub fn name(self) -> &'static str {
        match self {
            ClientKind::Rnats => "rnats",
            ClientKind::AsyncNats => "async-nats",
            ClientKind::RawTcp => "raw-tcp",
        }
    }
}

/// The benchmark scenarios.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Publish to a subject without subscribers, then flush.
    Pub,
    /// One publishing and one subscribing connection; count what arrives.
    Pubsub,
    /// `pubsub` with the same subscription capacity for both clients: 65,536 messages, no
    /// byte limit (async-nats' default, set on rnats too).
    #[value(name = "pubsub-equal")]
    PubsubEqual,
    /// Sequential request/reply against an echo responder: latency.
    ReqSeq,
    /// 64 requests in flight: throughput.
    #[value(name = "req-64")]
    Req64,
    /// `count` live subscriptions; the worker restarts its own server and times the way back:
    /// from the kill to a flush answered on the new connection (all subscriptions replayed).
    Reconnect,
    /// `reconnect` with the same reconnect delay for both clients: a fixed 5 ms between
    /// attempts (their default backoffs differ: rnats 10 ms doubling, async-nats 0 then 2 ms
    /// doubling).
    #[value(name = "reconnect-equal")]
    ReconnectEqual,
    /// JetStream: one publish at a time, each waiting for its ack: latency and rate.
    #[value(name = "js-pub")]
    JsPub,
    /// JetStream: publishes with up to `JS_IN_FLIGHT` (256) acks outstanding.
    #[value(name = "js-pub-256")]
    JsPub256,
    /// JetStream: a durable pull consumer read with `messages()` (batches of 500), acking
    /// every message; the stream is filled before the measurement.
    #[value(name = "js-pull-ack")]
    JsPullAck,
    /// JetStream: the same with `ack_policy: none`.
    #[value(name = "js-pull")]
    JsPull,
    /// JetStream: the worker starts its own 3-node cluster, reads an R3 stream with an
    /// ordered consumer and kills the stream leader's node midway: the longest stall after
    /// the kill, and every sequence checked to arrive once, in order.
    #[value(name = "ordered-stall")]
    OrderedStall,
    /// `ordered-stall` with a 2 s idle heartbeat for both clients (rnats' default; async-nats
    /// gets it through `OrderedConfig::max_expires` = 4 s, its only knob for it).
    #[value(name = "ordered-stall-hb2")]
    OrderedStallHb2,
    /// `ordered-stall` with a 15 s idle heartbeat for both clients (async-nats' default;
    /// rnats gets it through `OrderedConfig::heartbeat`).
    #[value(name = "ordered-stall-hb15")]
    OrderedStallHb15,
    /// `ordered-stall` with each client's default heartbeat, and a 2 s request timeout for
    /// both (async-nats' ordered consumer recovers with requests bounded by the connection's
    /// request timeout, 10 s by default; rnats' bounds each recreation attempt at 2 s).
    #[value(name = "ordered-stall-rt2")]
    OrderedStallRt2,
    /// Key-Value: one put at a time (each waits for its ack), keys k0…k999.
    #[value(name = "kv-put")]
    KvPut,
    /// Key-Value: one get at a time (each client's default get path: Direct Get for both).
    #[value(name = "kv-get")]
    KvGet,
    /// Key-Value: puts with 64 in flight (`buffer_unordered(64)` for both clients).
    #[value(name = "kv-put-64")]
    KvPut64,
    /// Key-Value: gets with 64 in flight.
    #[value(name = "kv-get-64")]
    KvGet64,
    /// Key-Value: `count` updates are written first (not measured); then a watcher from
    /// revision 1 is timed until it has delivered them all, each revision checked in order.
    #[value(name = "kv-watch")]
    KvWatch,
    /// Object Store: `count` objects of `size` bytes streamed in one after another from a
    /// generator (each client's default chunk size, 128 KiB): MB/s and the worker's peak RSS.
    #[value(name = "obj-put")]
    ObjPut,
    /// Object Store: one object stored (not measured), then streamed out `count` times into
    /// a sink.
    #[value(name = "obj-get")]
    ObjGet,
    /// Services: one endpoint of each client's service module (stats kept), echoing;
    /// requests from another connection with 64 in flight: throughput.
    #[value(name = "svc-64")]
    Svc64,
    /// `svc-64` with the same requester for both, rnats': only the service side differs.
    #[value(name = "svc-64-rnats-requester")]
    Svc64RnatsRequester,
    /// `svc-64` with each client's requester in a spawned task instead of the worker's
    /// `block_on` future (which runs outside the runtime's worker threads).
    #[value(name = "svc-64-spawned")]
    Svc64Spawned,
}

impl Scenario {
    pub fn name(self) -> &'static str {
        match self {
            Scenario::Pub => "pub",
            Scenario::Pubsub => "pubsub",
            Scenario::PubsubEqual => "pubsub-equal",
            Scenario::ReqSeq => "req-seq",
            Scenario::Req64 => "req-64",
            Scenario::Reconnect => "reconnect",
            Scenario::ReconnectEqual => "reconnect-equal",
            Scenario::JsPub => "js-pub",
            Scenario::JsPub256 => "js-pub-256",
            Scenario::JsPullAck => "js-pull-ack",
            Scenario::JsPull => "js-pull",
            Scenario::OrderedStall => "ordered-stall",
            Scenario::OrderedStallHb2 => "ordered-stall-hb2",
            Scenario::OrderedStallHb15 => "ordered-stall-hb15",
            Scenario::OrderedStallRt2 => "ordered-stall-rt2",
            Scenario::KvPut => "kv-put",
            Scenario::KvGet => "kv-get",
            Scenario::KvPut64 => "kv-put-64",
            Scenario::KvGet64 => "kv-get-64",
            Scenario::KvWatch => "kv-watch",
            Scenario::ObjPut => "obj-put",
            Scenario::ObjGet => "obj-get",
            Scenario::Svc64 => "svc-64",
            Scenario::Svc64RnatsRequester => "svc-64-rnats-requester",
            Scenario::Svc64Spawned => "svc-64-spawned",
        }
    }

    /// Count used when a worker is started by hand without `--count`.
    fn default_count(self, size: usize) -> u64 {
        match self {
            Scenario::Pub => (500_000_000 / (size as u64 + 100)).clamp(50_000, 5_000_000),
            Scenario::Pubsub | Scenario::PubsubEqual => 1_000_000,
            Scenario::ReqSeq => 20_000,
            Scenario::Req64
            | Scenario::Svc64
            | Scenario::Svc64RnatsRequester
            | Scenario::Svc64Spawned => 200_000,
            Scenario::Reconnect | Scenario::ReconnectEqual => 10_000,
            Scenario::JsPub => 10_000,
            Scenario::JsPub256 | Scenario::JsPullAck | Scenario::JsPull => 200_000,
            Scenario::OrderedStall
            | Scenario::OrderedStallHb2
            | Scenario::OrderedStallHb15
            | Scenario::OrderedStallRt2 => 10_000,
            Scenario::KvPut | Scenario::KvGet => 10_000,
            Scenario::KvPut64 | Scenario::KvGet64 | Scenario::KvWatch => 100_000,
            Scenario::ObjPut | Scenario::ObjGet => 1,
        }
    }

    /// The fixed reconnect delay a scenario sets for both clients; `None`: each default.
    pub fn reconnect_delay(self) -> Option<std::time::Duration> {
        match self {
            Scenario::ReconnectEqual => Some(std::time::Duration::from_millis(5)),
            _ => None,
        }
    }

    /// The Key-Value scenarios.
    pub fn is_kv(self) -> bool {
        matches!(
            self,
            Scenario::KvPut
                | Scenario::KvGet
                | Scenario::KvPut64
                | Scenario::KvGet64
                | Scenario::KvWatch
        )
    }

    /// The ordered-stall scenarios.
    pub fn is_ordered_stall(self) -> bool {
        matches!(
            self,
            Scenario::OrderedStall
                | Scenario::OrderedStallHb2
                | Scenario::OrderedStallHb15
                | Scenario::OrderedStallRt2
        )
    }

    /// The ordered consumer's idle heartbeat a scenario sets for both clients; `None`: each
    /// client's default (rnats 2 s, async-nats 15 s).
    pub fn ordered_heartbeat(self) -> Option<std::time::Duration> {
        match self {
            Scenario::OrderedStallHb2 => Some(std::time::Duration::from_secs(2)),
            Scenario::OrderedStallHb15 => Some(std::time::Duration::from_secs(15)),
            _ => None,
        }
    }

    /// The request timeout a scenario sets on the ordered reader's connection, for both
    /// clients; `None`: the default (10 s for both).
    pub fn ordered_request_timeout(self) -> Option<std::time::Duration> {
        match self {
            Scenario::OrderedStallRt2 => Some(std::time::Duration::from_secs(2)),
            _ => None,
        }
    }
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Command::Worker(args) => worker(args),
        Command::Run(args) => orchestrator::run(args),
        Command::Echo(args) => echo(args),
    }
}

/// Runs the raw echo responder on a single-thread runtime; prints `ready` once subscribed.
fn echo(args: EchoArgs) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime");
    if let Err(e) = runtime.block_on(raw::serve_echo(&args.url, &args.subject)) {
        eprintln!("echo responder: {e}");
        std::process::exit(1);
    }
}

/// Runs one scenario on a multi-thread tokio runtime and prints its `Outcome` as JSON.
fn worker(args: WorkerArgs) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("building the tokio runtime");
    let spec = common::Spec {
        scenario: args.scenario,
        url: args.url.clone(),
        size: args.size,
        count: args
            .count
            .unwrap_or_else(|| args.scenario.default_count(args.size)),
        storage: args.storage,
        server_pid: args.server_pid,
    };
    let result = runtime.block_on(async {
        match args.client {
            ClientKind::Rnats => rnats_client::run(&spec).await,
            ClientKind::AsyncNats => async_nats_client::run(&spec).await,
            ClientKind::RawTcp => raw::run(&spec).await,
        }
    });
    // Let the clients' background tasks finish before measuring memory and exiting.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(mut outcome) => {
            outcome.client = args.client.name().to_owned();
            outcome.scenario = args.scenario.name().to_owned();
            outcome.size = spec.size;
            outcome.count = spec.count;
            outcome.rss_kib = common::peak_rss_kib();
            if !outcome.cpu_measured {
                outcome.cpu_s = common::cpu_seconds("self");
            }
            println!(
                "{}",
                serde_json::to_string(&outcome).expect("an Outcome always serializes")
            );
        }
        Err(e) => {
            eprintln!(
                "worker {} {} size {}: {e}",
                args.client.name(),
                args.scenario.name(),
                spec.size
            );
            std::process::exit(1);
        }
    }
}
