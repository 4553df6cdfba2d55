//! `bench run`: one nats-server for the whole run, every scenario run `--runs` times per
//! client in worker subprocesses (clients interleaved), and a Markdown table of medians.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use clap::Args;
use rnats_test::NatsServer;

use crate::common::{cpu_seconds, Outcome};
use crate::{ClientKind, Scenario, Storage};

// Output that ignores a closed pipe (`bench run | head`) instead of panicking like `print!`:
// such a panic would abort while the server's drop reports it, leaving nats-server running.
macro_rules! progress {
    ($($arg:tt)*) => {{
        let mut err = std::io::stderr();
        let _ = write!(err, $($arg)*);
        let _ = err.flush();
    }};
}
macro_rules! progressln {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}
macro_rules! report {
    ($($arg:tt)*) => {{
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// Options of `bench run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Runs of each scenario per client (the table shows medians).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Scale every message count down 20x: a smoke test, not a measurement.
    #[arg(long)]
    quick: bool,
    /// Only these scenarios (repeatable); all when absent.
    #[arg(long, value_enum)]
    scenario: Vec<Scenario>,
    /// Kill a worker that takes longer than this many seconds (a hang is reported).
    #[arg(long, default_value_t = 120)]
    worker_timeout: u64,
}

/// One row group of the table: a scenario at one payload size.
struct Case {
    scenario: Scenario,
    size: usize,
    /// Messages or requests per worker run, chosen for ~0.5–2 s per run in release.
    count: u64,
    /// Whether the raw-TCP baseline runs it too.
    raw: bool,
    /// JetStream scenarios: the stream's storage.
    storage: Option<Storage>,
    /// Runs per client at least, whatever `--runs` says.
    min_runs: usize,
}

const fn case(scenario: Scenario, size: usize, count: u64, raw: bool) -> Case {
    Case {
        scenario,
        size,
        count,
        raw,
        storage: None,
        min_runs: 1,
    }
}

const fn js(scenario: Scenario, storage: Storage, count: u64) -> Case {
    Case {
        scenario,
        size: 128,
        count,
        raw: false,
        storage: Some(storage),
        min_runs: 1,
    }
}

impl Case {
    /// `pub 1 KiB`, `js-pub 128 B file`.
    fn label(&self) -> String {
        match self.storage {
            Some(storage) => format!(
                "{} {} {}",
                self.scenario.name(),
                size_label(self.size),
                storage.name()
            ),
            None if self.scenario.is_ordered_stall() => self.scenario.name().to_owned(),
            None => format!("{} {}", self.scenario.name(), size_label(self.size)),
        }
    }
}

const fn kv(scenario: Scenario, count: u64) -> Case {
    Case {
        scenario,
        size: 128,
        count,
        raw: false,
        storage: Some(Storage::Memory),
        min_runs: 1,
    }
}

const CASES: &[Case] = &[
    case(Scenario::Pub, 16, 2_500_000, false),
    case(Scenario::Pub, 128, 2_000_000, false),
    case(Scenario::Pub, 1024, 1_000_000, true),
    case(Scenario::Pub, 16 * 1024, 80_000, true),
    // Each pubsub row beside its equal-capacity row.
    case(Scenario::Pubsub, 16, 1_000_000, false),
    case(Scenario::PubsubEqual, 16, 1_000_000, false),
    case(Scenario::Pubsub, 128, 1_000_000, false),
    case(Scenario::PubsubEqual, 128, 1_000_000, false),
    case(Scenario::Pubsub, 1024, 400_000, false),
    case(Scenario::PubsubEqual, 1024, 400_000, false),
    case(Scenario::ReqSeq, 128, 6_000, true),
    case(Scenario::Req64, 128, 120_000, true),
    case(Scenario::Svc64, 128, 120_000, false),
    case(Scenario::Svc64RnatsRequester, 128, 120_000, false),
    case(Scenario::Svc64Spawned, 128, 120_000, false),
    case(Scenario::Reconnect, 0, 10_000, false),
    case(Scenario::ReconnectEqual, 0, 10_000, false),
    js(Scenario::JsPub, Storage::File, 5_000),
    js(Scenario::JsPub, Storage::Memory, 5_000),
    js(Scenario::JsPub256, Storage::File, 150_000),
    js(Scenario::JsPub256, Storage::Memory, 150_000),
    js(Scenario::JsPullAck, Storage::File, 150_000),
    js(Scenario::JsPullAck, Storage::Memory, 150_000),
    js(Scenario::JsPull, Storage::File, 300_000),
    js(Scenario::JsPull, Storage::Memory, 300_000),
    // The issue asks for 10 runs of each client; each starts its own 3-node cluster.
    Case {
        scenario: Scenario::OrderedStall,
        size: 16,
        count: 10_000,
        raw: false,
        storage: None,
        min_runs: 10,
    },
    // The same with one idle heartbeat for both clients, to tell the heartbeat defaults from
    // the recovery logic: 5 runs each (a 3-node cluster per run).
    Case {
        scenario: Scenario::OrderedStallHb2,
        size: 16,
        count: 10_000,
        raw: false,
        storage: None,
        min_runs: 5,
    },
    Case {
        scenario: Scenario::OrderedStallHb15,
        size: 16,
        count: 10_000,
        raw: false,
        storage: None,
        min_runs: 5,
    },
    // Default heartbeats, and a 2 s request timeout for both: async-nats' recovery requests.
    Case {
        scenario: Scenario::OrderedStallRt2,
        size: 16,
        count: 10_000,
        raw: false,
        storage: None,
        min_runs: 5,
    },
    // Key-Value (memory buckets, 128 B values).
    kv(Scenario::KvPut, 5_000),
    kv(Scenario::KvGet, 10_000),
    Case {
        raw: true,
        ..kv(Scenario::KvPut64, 100_000)
    },
    kv(Scenario::KvGet64, 100_000),
    kv(Scenario::KvWatch, 100_000),
    // Object Store (memory buckets): a 100 MiB object, three times per run.
    Case {
        size: OBJ_SIZE,
        min_runs: 3,
        ..kv(Scenario::ObjPut, 3)
    },
    Case {
        size: OBJ_SIZE,
        min_runs: 3,
        ..kv(Scenario::ObjGet, 3)
    },
];

/// The Object Store scenarios' object: 100 MiB.
const OBJ_SIZE: usize = 100 * 1024 * 1024;

/// The results of one client on one case: successful outcomes and failure messages.
#[derive(Default)]
struct Samples {
    ok: Vec<Outcome>,
    failures: Vec<String>,
}

pub fn run(args: RunArgs) {
    // JetStream on for the JetStream scenarios; the core ones never touch it.
    let server = NatsServer::start_jetstream();
    let url = server.url();
    let exe = std::env::current_exe().expect("the path of this executable");
    let version = serde_json::from_str::<serde_json::Value>(&server.info())
        .ok()
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "?".into());
    progressln!(
        "nats-server {version} at {url}; {} run(s) per client{}",
        args.runs,
        if args.quick { ", quick" } else { "" }
    );

    let load_before = load_average();
    let mut results = Vec::new();
    for case in CASES
        .iter()
        .filter(|c| args.scenario.is_empty() || args.scenario.contains(&c.scenario))
    {
        let count = if args.quick {
            (case.count / 20).max(100)
        } else {
            case.count
        };
        let mut clients = vec![ClientKind::Rnats, ClientKind::AsyncNats];
        if case.raw {
            clients.push(ClientKind::RawTcp);
        }
        let mut samples: Vec<Samples> = clients.iter().map(|_| Samples::default()).collect();
        let runs = args.runs.max(case.min_runs);
        for run in 0..runs {
            // Interleave, and rotate who goes first so neither always runs on a "fresh" server.
            for k in 0..clients.len() {
                let i = (k + run) % clients.len();
                let label = format!(
                    "{} {} run {}/{runs}",
                    case.label(),
                    clients[i].name(),
                    run + 1,
                );
                progress!("{label} ... ");
                let timeout = Duration::from_secs(args.worker_timeout);
                let server_pid = server.pid().to_string();
                let server_cpu = cpu_seconds(&server_pid);
                match run_worker(&exe, clients[i], case, count, &url, server.pid(), timeout) {
                    Ok(mut o) => {
                        let own_server = case.scenario.reconnect_delay().is_some()
                            || case.scenario == Scenario::Reconnect
                            || case.scenario.is_ordered_stall();
                        if !own_server && !o.cpu_measured {
                            o.server_cpu_s = cpu_seconds(&server_pid) - server_cpu;
                        }
                        progressln!("{}", short(&o));
                        samples[i].ok.push(o);
                    }
                    Err(e) => {
                        progressln!("FAILED: {e}");
                        samples[i].failures.push(e);
                    }
                }
            }
        }
        results.push((case, clients, samples));
    }
    if !server.is_running() {
        progressln!(
            "warning: the nats-server exited during the run; see {:?}",
            server.log_path()
        );
    }

    // Other processes on the machine skew every number: say how busy it was.
    report!(
        "nats-server {version}, {} run(s) per client, medians{}; {} CPU(s), \
         1-min load average {load_before} before, {} after\n",
        args.runs,
        if args.quick {
            " (--quick: smoke test)"
        } else {
            ""
        },
        thread::available_parallelism().map_or(0, |n| n.get()),
        load_average(),
    );
    print_table(&results);
    print_pairs(&results);
    print_details(&results);
}

/// The 1-minute load average from /proc/loadavg, or "?".
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_else(|| "?".into())
}

/// Starts one worker and returns its parsed JSON line, or why it failed.
fn run_worker(
    exe: &Path,
    client: ClientKind,
    case: &Case,
    count: u64,
    url: &str,
    server_pid: u32,
    timeout: Duration,
) -> Result<Outcome, String> {
    let mut command = Command::new(exe);
    command
        .args(["worker", "--client", client.name(), "--scenario"])
        .arg(case.scenario.name())
        .args(["--url", url, "--size", &case.size.to_string()])
        .args(["--count", &count.to_string()]);
    if let Some(storage) = case.storage {
        command
            .args(["--storage", storage.name()])
            .args(["--server-pid", &server_pid.to_string()]);
    }
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting the worker: {e}"))?;
    let (status, stdout, stderr) = wait_with_timeout(child, timeout)?;
    if !status.success() {
        return Err(format!("worker exited with {status}: {}", stderr.trim()));
    }
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .ok_or_else(|| format!("worker printed no result; stderr: {}", stderr.trim()))?;
    serde_json::from_str(line).map_err(|e| format!("bad worker output {line:?}: {e}"))
}

/// Waits for `child`, reading its output on helper threads; kills it after `timeout`.
fn wait_with_timeout(
    mut child: Child,
    timeout: Duration,
) -> Result<(std::process::ExitStatus, String, String), String> {
    let reader = |pipe: Option<Box<dyn Read + Send>>| {
        thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        })
    };
    let out = reader(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = reader(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = err.join().unwrap_or_default();
                return Err(format!(
                    "worker did not finish within {timeout:?} (killed; a hang?): {}",
                    stderr.trim()
                ));
            }
            Err(e) => return Err(format!("waiting for the worker: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    Ok((status, stdout, stderr))
}

/// One result, briefly, for the progress log.
fn short(o: &Outcome) -> String {
    let mut s = match (o.stall_ms, o.p50_us) {
        (Some(stall), _) => format!("stall {stall:.0} ms"),
        (None, _) if o.reconnect_ms.is_some() => {
            format!("back in {:.1} ms", o.reconnect_ms.unwrap_or(f64::NAN))
        }
        (None, Some(p50)) => format!(
            "{} (p50 {p50:.1} us, p99 {:.1} us)",
            rate(o.rate),
            o.p99_us.unwrap_or(f64::NAN)
        ),
        (None, None) => format!("{} ({:.1} MB/s)", rate(o.rate), o.mb_s),
    };
    if let Some(r) = o.resets {
        s += &format!(", consumer recreated {r}x");
    }
    if let Some(r) = o.redelivered.filter(|&r| r > 0) {
        s += &format!(", redelivered {r}");
    }
    if let Some(lost) = o.lost {
        s += &format!(", lost {lost}");
    }
    if let Some(d) = o.dropped {
        s += &format!(", dropped {d}");
    }
    if let Some(r) = o.reconnects.filter(|&r| r > 0) {
        s += &format!(", RECONNECTS {r}");
    }
    if o.errors > 0 {
        s += &format!(", ERRORS {}", o.errors);
    }
    if !o.timeline.is_empty() {
        s += &format!(" [after the kill: {}]", o.timeline.join("; "));
    }
    s + &format!(
        ", {:.1} MiB, {:.2} s, cpu {:.2} s (server {:.2} s)",
        o.rss_kib as f64 / 1024.0,
        o.elapsed_s,
        o.cpu_s,
        o.server_cpu_s
    )
}

fn size_label(size: usize) -> String {
    if size >= 1024 * 1024 && size.is_multiple_of(1024 * 1024) {
        format!("{} MiB", size / (1024 * 1024))
    } else if size >= 1024 && size.is_multiple_of(1024) {
        format!("{} KiB", size / 1024)
    } else {
        format!("{size} B")
    }
}

/// `1234567.0` → `1.23 M/s`.
fn rate(r: f64) -> String {
    if r >= 1e6 {
        format!("{:.2} M/s", r / 1e6)
    } else if r >= 1e3 {
        format!("{:.1} k/s", r / 1e3)
    } else {
        format!("{r:.0}/s")
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.retain(|x| !x.is_nan());
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The median of `f` over one client's outcomes.
fn med(s: &Samples, f: impl Fn(&Outcome) -> Option<f64>) -> Option<f64> {
    median(s.ok.iter().filter_map(f).collect())
}

/// How a metric's runs become one cell.
#[derive(Clone, Copy)]
enum Summary {
    Median,
    /// The largest value: a worst case (the longest stall).
    Longest,
}

type Results<'a> = Vec<(&'a Case, Vec<ClientKind>, Vec<Samples>)>;

fn print_table(results: &Results<'_>) {
    report!(
        "| scenario | metric | rnats | async-nats | rnats/async-nats | raw-tcp | peak RSS rnats | peak RSS async-nats | client CPU s rnats (server) | client CPU s async-nats (server) | lost rnats (dropped) | lost async-nats |"
    );
    report!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (case, clients, samples) in results {
        let of = |kind: ClientKind| clients.iter().position(|&c| c == kind).map(|i| &samples[i]);
        let (Some(rn), Some(an)) = (of(ClientKind::Rnats), of(ClientKind::AsyncNats)) else {
            continue;
        };
        let raw = of(ClientKind::RawTcp);
        let name = case.label();
        let cpu = |s: &Samples| {
            let c = med(s, |o| Some(o.cpu_s));
            let sv = med(s, |o| Some(o.server_cpu_s));
            match (c, sv) {
                (Some(c), Some(sv)) if sv > 0.0 => format!("{c:.2} ({sv:.2})"),
                (Some(c), _) => format!("{c:.2}"),
                _ => "–".into(),
            }
        };
        let rss = |s: &Samples| {
            med(s, |o| Some(o.rss_kib as f64 / 1024.0))
                .map_or_else(|| "–".into(), |m| format!("{m:.1} MiB"))
        };
        let failed = |s: &Samples| {
            if s.failures.is_empty() {
                String::new()
            } else {
                format!(
                    " (FAILED {}/{})",
                    s.failures.len(),
                    s.failures.len() + s.ok.len()
                )
            }
        };
        let (lost_rn, lost_an) =
            if matches!(case.scenario, Scenario::Pubsub | Scenario::PubsubEqual) {
                let lost = |s: &Samples| med(s, |o| o.lost.map(|l| l as f64));
                let dropped = med(rn, |o| o.dropped.map(|d| d as f64));
                (
                    format!("{} ({})", num(lost(rn)), num(dropped)),
                    num(lost(an)),
                )
            } else {
                ("–".into(), "–".into())
            };

        // Each metric row: (label, value of an outcome, format, higher is better, how the runs
        // are summed up).
        type Metric = (
            &'static str,
            fn(&Outcome) -> Option<f64>,
            fn(f64) -> String,
            bool,
            Summary,
        );
        use Summary::{Longest, Median};
        let ms = |v: f64| format!("{v:.1}");
        let ns = |v: f64| format!("{v:.0}");
        let us = |v: f64| format!("{v:.1}");
        let metrics: Vec<Metric> = match case.scenario {
            Scenario::Pub | Scenario::Pubsub | Scenario::PubsubEqual => vec![
                ("msgs/s", |o| Some(o.rate), rate, true, Median),
                (
                    "MB/s",
                    |o| Some(o.mb_s),
                    |v| format!("{v:.1}"),
                    true,
                    Median,
                ),
                ("client CPU ns/msg", cpu_ns_per_msg, ns, false, Median),
            ],
            Scenario::ReqSeq => vec![
                ("p50 µs", |o| o.p50_us, us, false, Median),
                ("p99 µs", |o| o.p99_us, us, false, Median),
            ],
            Scenario::Req64
            | Scenario::Svc64
            | Scenario::Svc64RnatsRequester
            | Scenario::Svc64Spawned => vec![
                ("req/s", |o| Some(o.rate), rate, true, Median),
                ("client CPU ns/req", cpu_ns_per_msg, ns, false, Median),
            ],
            Scenario::Reconnect | Scenario::ReconnectEqual => {
                vec![("ms", |o| o.reconnect_ms, ms, false, Median)]
            }
            Scenario::JsPub => vec![
                ("msgs/s", |o| Some(o.rate), rate, true, Median),
                ("p50 µs", |o| o.p50_us, us, false, Median),
                ("p99 µs", |o| o.p99_us, us, false, Median),
            ],
            Scenario::JsPub256 | Scenario::JsPullAck | Scenario::JsPull => {
                vec![("msgs/s", |o| Some(o.rate), rate, true, Median)]
            }
            Scenario::OrderedStall
            | Scenario::OrderedStallHb2
            | Scenario::OrderedStallHb15
            | Scenario::OrderedStallRt2 => vec![
                ("stall ms, median", |o| o.stall_ms, ms, false, Median),
                ("stall ms, longest", |o| o.stall_ms, ms, false, Longest),
            ],
            Scenario::KvPut | Scenario::KvGet => vec![
                ("ops/s", |o| Some(o.rate), rate, true, Median),
                ("p50 µs", |o| o.p50_us, us, false, Median),
                ("p99 µs", |o| o.p99_us, us, false, Median),
            ],
            Scenario::KvPut64 | Scenario::KvGet64 => vec![
                ("ops/s", |o| Some(o.rate), rate, true, Median),
                ("client CPU ns/op", cpu_ns_per_msg, ns, false, Median),
            ],
            Scenario::ObjPut | Scenario::ObjGet => vec![
                (
                    "MB/s",
                    |o| Some(o.mb_s),
                    |v| format!("{v:.1}"),
                    true,
                    Median,
                ),
                (
                    "client CPU s",
                    |o| Some(o.cpu_s),
                    |v| format!("{v:.2}"),
                    false,
                    Median,
                ),
            ],
            Scenario::KvWatch => vec![
                ("entries/s", |o| Some(o.rate), rate, true, Median),
                ("client CPU ns/entry", cpu_ns_per_msg, ns, false, Median),
            ],
        };
        for (k, (label, value, fmt, higher_better, summary)) in metrics.into_iter().enumerate() {
            let sum = |s: &Samples| match summary {
                Median => med(s, value),
                Longest => s.ok.iter().filter_map(value).reduce(f64::max),
            };
            let r = sum(rn);
            let a = sum(an);
            let ratio = match (r, a) {
                (Some(r), Some(a)) if a > 0.0 => format!(
                    "{:.2} ({} better)",
                    r / a,
                    if higher_better { ">1" } else { "<1" }
                ),
                _ => "–".into(),
            };
            let cell = |v: Option<f64>| v.map_or_else(|| "–".into(), fmt);
            let raw_cell = raw.map_or_else(|| "–".into(), |s| cell(sum(s)) + &failed(s));
            // Memory and losses once per case, on its first row.
            let first = k == 0;
            report!(
                "| {} | {label} | {}{} | {}{} | {ratio} | {raw_cell} | {} | {} | {} | {} | {} | {} |",
                if first { name.as_str() } else { "" },
                cell(r),
                failed(rn),
                cell(a),
                failed(an),
                if first { rss(rn) } else { String::new() },
                if first { rss(an) } else { String::new() },
                if first { cpu(rn) } else { String::new() },
                if first { cpu(an) } else { String::new() },
                if first { lost_rn.as_str() } else { "" },
                if first { lost_an.as_str() } else { "" },
            );
        }
    }
}

/// The worker's CPU time (user + system, the whole process: for pub+sub the publisher and
/// the subscriber, for req-64 requester and responder) per message or request, in ns. On 2
/// cores the server takes most of the machine, so this, not the rate, is the client's own
/// cost.
fn cpu_ns_per_msg(o: &Outcome) -> Option<f64> {
    (o.count > 0 && o.cpu_s > 0.0).then(|| o.cpu_s * 1e9 / o.count as f64)
}

fn num(v: Option<f64>) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.0}"))
}

/// Run by run, rnats' rate over async-nats': the two runs of a pair ran back to back and
/// shared the host's load of that moment, so the median of these ratios moves less with a
/// load that drifts during the table than the ratio of the medians does. Only for cases
/// where every run of both clients succeeded (a failure would pair unrelated runs).
fn print_pairs(results: &Results<'_>) {
    let mut lines = Vec::new();
    for (case, _clients, samples) in results {
        let (rn, an) = (&samples[0], &samples[1]);
        if !rn.failures.is_empty() || !an.failures.is_empty() || rn.ok.len() != an.ok.len() {
            continue;
        }
        let ratios: Vec<f64> = rn
            .ok
            .iter()
            .zip(&an.ok)
            .filter(|(r, a)| r.rate > 0.0 && a.rate > 0.0)
            .map(|(r, a)| r.rate / a.rate)
            .collect();
        if ratios.len() < 2 {
            continue;
        }
        let ahead = ratios.iter().filter(|&&x| x > 1.0).count();
        let Some(mid) = median(ratios.clone()) else {
            continue;
        };
        let each: Vec<String> = ratios.iter().map(|x| format!("{x:.2}")).collect();
        lines.push(format!(
            "- {}: median {mid:.2}, rnats ahead in {ahead} of {} ({})",
            case.label(),
            ratios.len(),
            each.join(" ")
        ));
    }
    if !lines.is_empty() {
        report!("\nrnats / async-nats rate, run by run (pairs run back to back):\n");
        for line in lines {
            report!("{line}");
        }
    }
}

/// Every run's value, so the spread behind each median is visible, and every failure.
fn print_details(results: &Results<'_>) {
    report!("\nPer-run values:\n");
    for (case, clients, samples) in results {
        for (client, s) in clients.iter().zip(samples) {
            let values: Vec<String> = s.ok.iter().map(short).collect();
            report!(
                "- {} {}: {}",
                case.label(),
                client.name(),
                values.join(" | ")
            );
            for f in &s.failures {
                report!("  - FAILED: {f}");
            }
        }
    }
}
