//! `bench pub|sub|pubsub|req`: throughput and latency, with an HDR histogram of latencies, a
//! progress bar while running, and an optional SVG plot.
//!
//! Latency of `pubsub` and `sub` is one-way: publishers write their wall-clock time (Unix
//! nanoseconds, little-endian) into the first 8 bytes of each payload (when the size allows)
//! and subscribers subtract it from theirs, so it is meaningful on one host. Latency of `req`
//! is the round trip of each request.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Subcommand;
use futures_util::StreamExt;
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use rnats::{Client, Request, Subscriber};
use tokio::sync::watch;

use crate::conn::ConnArgs;
use crate::error::{usage, CliError, Result};
use crate::output::{Out, Table};
use crate::util::{self, parse_duration, parse_size};

/// `rnats bench …`
#[derive(Subcommand)]
pub(crate) enum BenchCmd {
    /// Publishers only: publish throughput.
    Pub(BenchArgs),
    /// Subscribers only: receive what another process publishes (e.g. `rnats bench pub`).
    Sub(BenchArgs),
    /// Publishers and subscribers: throughput both ways and one-way latency.
    Pubsub(BenchArgs),
    /// Requesters and responders: request throughput and round-trip latency.
    Req(BenchArgs),
}

/// What every benchmark takes.
#[derive(clap::Args, Clone)]
pub(crate) struct BenchArgs {
    /// The subject.
    #[arg(default_value = "rnats.bench")]
    subject: String,
    /// Messages to publish in total (or to receive, for `sub`).
    #[arg(long, default_value_t = 100_000)]
    msgs: u64,
    /// Run for this long instead of a message count.
    #[arg(long, value_parser = parse_duration)]
    duration: Option<Duration>,
    /// Payload size (e.g. 128, 1KB).
    #[arg(long, value_parser = parse_size, default_value = "128")]
    size: u64,
    /// Publishers (requesters for `req`), one connection each.
    #[arg(long, default_value_t = 1)]
    pubs: usize,
    /// Subscribers (responders for `req`), one connection each.
    #[arg(long, default_value_t = 1)]
    subs: usize,
    /// Write a plot of the latency distribution and the throughput over time (SVG).
    #[arg(long, value_name = "FILE.svg")]
    plot: Option<PathBuf>,
}

/// Which benchmark.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Publish only.
    Pub,
    /// Subscribe only.
    Sub,
    /// Both.
    PubSub,
    /// Request/reply.
    Req,
}

impl Kind {
    /// Its name.
    fn name(self) -> &'static str {
        match self {
            Kind::Pub => "pub",
            Kind::Sub => "sub",
            Kind::PubSub => "pubsub",
            Kind::Req => "req",
        }
    }
}

/// How long a worker goes on.
#[derive(Clone, Copy)]
enum Quota {
    /// This many messages.
    Count(u64),
    /// Until then.
    Until(Instant),
}

impl Quota {
    /// Whether a worker that did `n` is done.
    fn done(self, n: u64) -> bool {
        match self {
            Quota::Count(c) => n >= c,
            // Checking the clock every 64 messages is enough and cheap.
            Quota::Until(t) => n % 64 == 0 && Instant::now() >= t,
        }
    }
}

/// What one role measured.
struct Side {
    /// Messages.
    msgs: u64,
    /// From the first to the last.
    elapsed: Duration,
}

/// What a benchmark measured.
struct Results {
    /// Which.
    kind: Kind,
    /// Publishing (or requesting).
    publish: Option<Side>,
    /// Receiving (summed over subscribers).
    receive: Option<Side>,
    /// Latencies in nanoseconds.
    latency: Histogram<u64>,
    /// (seconds since start, messages per second) per sampling interval.
    timeline: Vec<(f64, f64)>,
}

/// A new latency histogram: 1 ns to 1 hour, 3 significant digits.
fn histogram() -> Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
        .map_err(|e| CliError::new(format!("histogram: {e}")))
}

/// `start + d`, or a day from now when that does not fit (a `--duration` of centuries).
fn deadline(start: Instant, d: Duration) -> Instant {
    start
        .checked_add(d)
        .or_else(|| start.checked_add(Duration::from_secs(86_400)))
        .unwrap_or(start)
}

/// Now as Unix nanoseconds.
fn unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// Runs `rnats bench …`.
pub(crate) async fn run(conn: &ConnArgs, out: &Out, cmd: BenchCmd) -> Result<()> {
    let (kind, args) = match cmd {
        BenchCmd::Pub(a) => (Kind::Pub, a),
        BenchCmd::Sub(a) => (Kind::Sub, a),
        BenchCmd::Pubsub(a) => (Kind::PubSub, a),
        BenchCmd::Req(a) => (Kind::Req, a),
    };
    if args.pubs == 0 || args.subs == 0 {
        return Err(usage(
            "--pubs and --subs must be at least 1",
            "give 1 or more",
        ));
    }
    if args.duration.is_none() && args.msgs == 0 {
        return Err(usage(
            "--msgs must be at least 1",
            "give a count, or --duration",
        ));
    }
    let size = usize::try_from(args.size)
        .map_err(|_| usage("--size is too large", "give a smaller size"))?;
    let results = match kind {
        Kind::Pub | Kind::Sub | Kind::PubSub => pubsub(conn, out, kind, &args, size).await?,
        Kind::Req => request(conn, out, &args, size).await?,
    };
    report(out, &args, &results)?;
    if let Some(path) = &args.plot {
        let svg = plot(&args, &results);
        std::fs::write(path, svg).map_err(|e| {
            usage(
                format!("cannot write {}: {e}", path.display()),
                "choose a writable path for --plot",
            )
        })?;
        out.note(format!("Wrote the plot to {}", path.display()));
    }
    Ok(())
}

/// Counts progress, samples the throughput every 100 ms and drives the progress bar.
struct Sampler {
    /// The task.
    task: tokio::task::JoinHandle<Vec<(f64, u64)>>,
    /// Tells the task to stop.
    stop: watch::Sender<bool>,
}

impl Sampler {
    /// Starts sampling `count`; the bar's length is `total` messages, or the duration.
    fn start(count: Arc<AtomicU64>, args: &BenchArgs, label: &str) -> Sampler {
        let bar = match args.duration {
            Some(d) => ProgressBar::new(d.as_millis() as u64),
            None => ProgressBar::new(args.msgs),
        };
        let template = if args.duration.is_some() {
            "{msg} [{bar:30}] {elapsed}"
        } else {
            "{msg} [{bar:30}] {pos}/{len} {per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_message(label.to_owned());
        let (stop, mut stopped) = watch::channel(false);
        let counter = count;
        let by_time = args.duration.is_some();
        let task = tokio::spawn(async move {
            let start = Instant::now();
            let mut samples = vec![(0.0, 0)];
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopped.changed() => break,
                }
                let n = counter.load(Ordering::Relaxed);
                let t = start.elapsed();
                samples.push((t.as_secs_f64(), n));
                bar.set_position(if by_time { t.as_millis() as u64 } else { n });
            }
            samples.push((
                start.elapsed().as_secs_f64(),
                counter.load(Ordering::Relaxed),
            ));
            bar.finish_and_clear();
            samples
        });
        Sampler { task, stop }
    }

    /// Stops and returns the throughput per interval.
    async fn finish(self) -> Vec<(f64, f64)> {
        let _ = self.stop.send(true);
        let samples = self.task.await.unwrap_or_default();
        samples
            .windows(2)
            .filter(|w| w[1].0 > w[0].0)
            .map(|w| {
                (
                    w[1].0,
                    w[1].1.saturating_sub(w[0].1) as f64 / (w[1].0 - w[0].0),
                )
            })
            .collect()
    }
}

/// `pub`, `sub` and `pubsub`.
async fn pubsub(
    conn: &ConnArgs,
    out: &Out,
    kind: Kind,
    args: &BenchArgs,
    size: usize,
) -> Result<Results> {
    let received = Arc::new(AtomicU64::new(0));
    let sent = Arc::new(AtomicU64::new(0));
    // Subscribers first, each on its own connection, and live before anything is published.
    let (expected_tx, expected_rx) = watch::channel::<Option<u64>>(match (kind, args.duration) {
        (_, None) => Some(args.msgs),
        _ => None,
    });
    let mut subs = Vec::new();
    if kind != Kind::Pub {
        for _ in 0..args.subs {
            let client = conn.connect().await?;
            let sub = client
                .subscribe(&args.subject)
                .await
                .map_err(|e| CliError::from(e).context("cannot subscribe"))?;
            client.flush().await?;
            let deadline = match (kind, args.duration) {
                (Kind::Sub, Some(d)) => Some(d),
                _ => None,
            };
            subs.push(tokio::spawn(subscriber(
                client,
                sub,
                expected_rx.clone(),
                deadline,
                Arc::clone(&received),
            )));
        }
    }
    if kind == Kind::Sub {
        out.note(format!(
            "Waiting for {} on {:?} with {} subscribers",
            match args.duration {
                Some(d) => format!("messages for {}", util::duration(d)),
                None => format!("{} messages", util::count(args.msgs)),
            },
            args.subject,
            args.subs
        ));
    }
    let sampled = if kind == Kind::Pub { &sent } else { &received };
    let sampler = Sampler::start(Arc::clone(sampled), args, kind.name());
    let mut publish = None;
    if kind != Kind::Sub {
        let start = Instant::now();
        let quota = |i: usize| match args.duration {
            Some(d) => Quota::Until(deadline(start, d)),
            None => {
                let per = args.msgs / args.pubs as u64;
                let extra = u64::from((i as u64) < args.msgs % args.pubs as u64);
                Quota::Count(per + extra)
            }
        };
        let mut pubs = Vec::new();
        for i in 0..args.pubs {
            let client = conn.connect().await?;
            pubs.push(tokio::spawn(publisher(
                client,
                args.subject.clone(),
                size,
                quota(i),
                Arc::clone(&sent),
            )));
        }
        let mut total = 0;
        for p in pubs {
            total += p
                .await
                .map_err(|e| CliError::new(format!("publisher failed: {e}")))??;
        }
        publish = Some(Side {
            msgs: total,
            elapsed: start.elapsed(),
        });
        let _ = expected_tx.send(Some(total));
    }
    let mut receive = None;
    let mut latency = histogram()?;
    if kind != Kind::Pub {
        let mut msgs = 0;
        let mut dropped = 0;
        let mut first: Option<Instant> = None;
        let mut last: Option<Instant> = None;
        for s in subs {
            let got = s
                .await
                .map_err(|e| CliError::new(format!("subscriber failed: {e}")))??;
            msgs += got.msgs;
            dropped += got.dropped;
            first = match (first, got.first) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            last = match (last, got.last) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            latency
                .add(&got.latency)
                .map_err(|e| CliError::new(format!("histogram: {e}")))?;
        }
        let elapsed = match (first, last) {
            (Some(a), Some(b)) => b - a,
            _ => Duration::ZERO,
        };
        if dropped > 0 {
            out.note(format!(
                "{} messages dropped: the subscribers fell behind (slow consumer)",
                util::count(dropped)
            ));
        }
        receive = Some(Side { msgs, elapsed });
    }
    let timeline = sampler.finish().await;
    drop(expected_tx);
    Ok(Results {
        kind,
        publish,
        receive,
        latency,
        timeline,
    })
}

/// Publishes until the quota is met, then flushes.
async fn publisher(
    client: Client,
    subject: String,
    size: usize,
    quota: Quota,
    sent: Arc<AtomicU64>,
) -> Result<u64> {
    let mut buf = vec![0u8; size];
    let mut n = 0;
    while !quota.done(n) {
        if size >= 8 {
            buf[..8].copy_from_slice(&unix_nanos().to_le_bytes());
        }
        client
            .publish(&subject, Bytes::copy_from_slice(&buf))
            .await
            .map_err(|e| CliError::from(e).context("publish failed"))?;
        n += 1;
        sent.fetch_add(1, Ordering::Relaxed);
    }
    client.flush().await?;
    client.close().await.ok();
    Ok(n)
}

/// What one subscriber saw.
struct Received {
    /// Messages.
    msgs: u64,
    /// Messages the client dropped because the subscriber fell behind.
    dropped: u64,
    /// When the first came.
    first: Option<Instant>,
    /// When the last came.
    last: Option<Instant>,
    /// One-way latencies.
    latency: Histogram<u64>,
}

/// Receives until the expected count arrived (known at once, or once the publishers are done),
/// or for `deadline` after the first message, or until nothing came for 5 s after the
/// publishers finished (messages were lost: the counts will say so).
async fn subscriber(
    client: Client,
    mut sub: Subscriber,
    mut expected: watch::Receiver<Option<u64>>,
    deadline: Option<Duration>,
    received: Arc<AtomicU64>,
) -> Result<Received> {
    let mut got = Received {
        msgs: 0,
        dropped: 0,
        first: None,
        last: None,
        latency: histogram()?,
    };
    let stall = Duration::from_secs(5);
    loop {
        let target = *expected.borrow();
        if target.is_some_and(|t| got.msgs >= t) {
            break;
        }
        if let (Some(d), Some(first)) = (deadline, got.first) {
            if first.elapsed() >= d {
                break;
            }
        }
        let next = tokio::select! {
            m = sub.next() => m,
            changed = expected.changed(), if target.is_none() => {
                if changed.is_err() { break; }
                continue;
            }
            _ = tokio::time::sleep(stall), if target.is_some() || deadline.is_some() => {
                if deadline.is_some() && got.first.is_none() { continue; }
                break;
            }
        };
        let Some(msg) = next else { break };
        let now = Instant::now();
        got.first.get_or_insert(now);
        got.last = Some(now);
        got.msgs += 1;
        received.fetch_add(1, Ordering::Relaxed);
        if msg.payload.len() >= 8 {
            let mut stamp = [0u8; 8];
            stamp.copy_from_slice(&msg.payload[..8]);
            let sent = u64::from_le_bytes(stamp);
            let now = unix_nanos();
            if sent > 0 && now >= sent {
                got.latency.saturating_record((now - sent).max(1));
            }
        }
    }
    got.dropped = sub.dropped();
    client.close().await.ok();
    Ok(got)
}

/// `req`: responders answer with the request's payload; requesters send one request at a
/// time each and time it.
async fn request(conn: &ConnArgs, out: &Out, args: &BenchArgs, size: usize) -> Result<Results> {
    let mut responders = Vec::new();
    for _ in 0..args.subs {
        let client = conn.connect().await?;
        let mut sub = client
            .queue_subscribe(&args.subject, "rnats-bench")
            .await
            .map_err(|e| CliError::from(e).context("cannot subscribe"))?;
        client.flush().await?;
        let answering = client.clone();
        responders.push((
            client,
            tokio::spawn(async move {
                while let Some(msg) = sub.next().await {
                    if let Some(reply) = msg.reply {
                        if answering
                            .publish(reply.as_str(), msg.payload)
                            .await
                            .is_err()
                        {
                            break;
                        }
                    }
                }
            }),
        ));
    }
    let done = Arc::new(AtomicU64::new(0));
    let sampler = Sampler::start(Arc::clone(&done), args, "req");
    let start = Instant::now();
    let mut requesters = Vec::new();
    for i in 0..args.pubs {
        let quota = match args.duration {
            Some(d) => Quota::Until(deadline(start, d)),
            None => {
                let per = args.msgs / args.pubs as u64;
                Quota::Count(per + u64::from((i as u64) < args.msgs % args.pubs as u64))
            }
        };
        let client = conn.connect().await?;
        let subject = args.subject.clone();
        let done = Arc::clone(&done);
        let timeout = conn.timeout;
        requesters.push(tokio::spawn(async move {
            let mut hist = histogram()?;
            let payload = Bytes::from(vec![0u8; size]);
            let mut n = 0;
            // The clock check of a timed quota is every 64 requests: check every request.
            while !(quota.done(n) || matches!(quota, Quota::Until(t) if Instant::now() >= t)) {
                let t = Instant::now();
                client
                    .request_with(
                        &subject,
                        Request::new().payload(payload.clone()).timeout(timeout),
                    )
                    .await
                    .map_err(|e| CliError::from(e).context("request failed"))?;
                hist.saturating_record((t.elapsed().as_nanos() as u64).max(1));
                n += 1;
                done.fetch_add(1, Ordering::Relaxed);
            }
            client.close().await.ok();
            Ok::<_, CliError>((n, hist))
        }));
    }
    let mut latency = histogram()?;
    let mut msgs = 0;
    let mut failure = None;
    for r in requesters {
        match r.await {
            Ok(Ok((n, h))) => {
                msgs += n;
                latency
                    .add(&h)
                    .map_err(|e| CliError::new(format!("histogram: {e}")))?;
            }
            Ok(Err(e)) => failure = Some(e),
            Err(e) => failure = Some(CliError::new(format!("requester failed: {e}"))),
        }
    }
    let elapsed = start.elapsed();
    let timeline = sampler.finish().await;
    for (client, task) in responders {
        client.close().await.ok();
        task.abort();
    }
    if let Some(e) = failure {
        return Err(e);
    }
    out.note(format!("{} requests answered", util::count(msgs)));
    Ok(Results {
        kind: Kind::Req,
        publish: Some(Side { msgs, elapsed }),
        receive: None,
        latency,
        timeline,
    })
}

/// Messages per second and MB per second (10^6 bytes).
fn rates(side: &Side, size: u64) -> (f64, f64) {
    let secs = side.elapsed.as_secs_f64();
    if secs <= 0.0 {
        return (0.0, 0.0);
    }
    let msgs = side.msgs as f64 / secs;
    (msgs, msgs * size as f64 / 1e6)
}

/// The percentiles shown.
const PERCENTILES: [(&str, f64); 5] = [
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
    ("p99.99", 99.99),
];

/// Prints the results (a table, or JSON).
fn report(out: &Out, args: &BenchArgs, r: &Results) -> Result<()> {
    let sides: Vec<(&str, &Side)> = [
        (
            if r.kind == Kind::Req {
                "request"
            } else {
                "publish"
            },
            r.publish.as_ref(),
        ),
        ("receive", r.receive.as_ref()),
    ]
    .into_iter()
    .filter_map(|(n, s)| s.map(|s| (n, s)))
    .collect();
    let has_latency = !r.latency.is_empty();
    if out.json {
        let mut obj = serde_json::Map::new();
        obj.insert("kind".into(), r.kind.name().into());
        obj.insert("subject".into(), args.subject.as_str().into());
        obj.insert("size".into(), args.size.into());
        obj.insert("pubs".into(), args.pubs.into());
        obj.insert("subs".into(), args.subs.into());
        for (name, side) in &sides {
            let (m, mb) = rates(side, args.size);
            obj.insert(
                (*name).into(),
                serde_json::json!({
                    "msgs": side.msgs, "elapsed_secs": side.elapsed.as_secs_f64(),
                    "msgs_per_sec": m, "mb_per_sec": mb,
                }),
            );
        }
        if has_latency {
            let mut lat = serde_json::Map::new();
            for (name, p) in PERCENTILES {
                lat.insert(
                    name.into(),
                    (r.latency.value_at_percentile(p) as f64 / 1e3).into(),
                );
            }
            lat.insert("min".into(), (r.latency.min() as f64 / 1e3).into());
            lat.insert("max".into(), (r.latency.max() as f64 / 1e3).into());
            lat.insert("mean".into(), (r.latency.mean() / 1e3).into());
            lat.insert("count".into(), r.latency.len().into());
            obj.insert("latency_us".into(), serde_json::Value::Object(lat));
        }
        let timeline: Vec<_> = r
            .timeline
            .iter()
            .map(|(t, rate)| serde_json::json!({ "t": t, "msgs_per_sec": rate }))
            .collect();
        obj.insert("timeline".into(), timeline.into());
        return out.json(&obj);
    }
    let (pubs, subs) = match r.kind {
        Kind::Req => ("requester", "responder"),
        _ => ("publisher", "subscriber"),
    };
    let plural = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    let who = match r.kind {
        Kind::Pub => plural(args.pubs, pubs),
        Kind::Sub => plural(args.subs, subs),
        _ => format!("{}, {}", plural(args.pubs, pubs), plural(args.subs, subs)),
    };
    out.line(format!(
        "{} bench on {:?}: {} B messages, {who}",
        r.kind.name(),
        args.subject,
        args.size,
    ))?;
    let mut t = Table::new(&["", "MSGS", "MSGS/S", "MB/S", "ELAPSED"]);
    for (name, side) in &sides {
        let (m, mb) = rates(side, args.size);
        t.row(vec![
            (*name).into(),
            util::count(side.msgs),
            util::count(m as u64),
            format!("{mb:.2}"),
            util::duration(side.elapsed),
        ]);
    }
    out.table(&t)?;
    if has_latency {
        let mut headers = vec!["LATENCY", "MIN"];
        headers.extend(PERCENTILES.iter().map(|(n, _)| *n));
        headers.push("MAX");
        let mut t = Table::new(&headers);
        let ns = |v: u64| util::duration(Duration::from_nanos(v));
        let mut row = vec![
            if r.kind == Kind::Req {
                "round trip"
            } else {
                "one way"
            }
            .to_owned(),
            ns(r.latency.min()),
        ];
        row.extend(
            PERCENTILES
                .iter()
                .map(|(_, p)| ns(r.latency.value_at_percentile(*p))),
        );
        row.push(ns(r.latency.max()));
        t.row(row);
        out.table(&t)?;
    }
    Ok(())
}

/// Escapes text for SVG.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The SVG plot: the latency distribution (latency by percentile, percentiles spaced as
/// 1/(1-p) on a log scale) above the throughput over time.
fn plot(args: &BenchArgs, r: &Results) -> String {
    const W: f64 = 800.0;
    const PANEL: f64 = 260.0;
    const LEFT: f64 = 80.0;
    const RIGHT: f64 = 20.0;
    let plot_w = W - LEFT - RIGHT;
    let mut svg = String::new();
    svg.push_str(&format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{W}\" height=\"640\" viewBox=\"0 0 {W} 640\" font-family=\"sans-serif\" font-size=\"12\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    ));
    svg.push_str(&format!(
        "<text x=\"{}\" y=\"20\" text-anchor=\"middle\" font-size=\"14\">{}</text>\n",
        W / 2.0,
        esc(&format!(
            "rnats bench {} on {}: {} B, {} publishers, {} subscribers",
            r.kind.name(),
            args.subject,
            args.size,
            args.pubs,
            args.subs
        ))
    ));
    // Panel 1: latency distribution.
    let top = 50.0;
    panel_frame(
        &mut svg,
        top,
        PANEL,
        "Latency by percentile",
        "percentile",
        "latency (µs)",
    );
    if r.latency.is_empty() {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">no latency measured</text>\n",
            LEFT + plot_w / 2.0,
            top + PANEL / 2.0
        ));
    } else {
        let max_x = 5.0; // 99.999th percentile
        let xpos = |q: f64| {
            let v = if q >= 1.0 {
                max_x
            } else {
                (1.0 / (1.0 - q)).log10().min(max_x)
            };
            LEFT + v / max_x * plot_w
        };
        let max_us = r.latency.max() as f64 / 1e3;
        let ypos = |us: f64| top + PANEL - us / max_us.max(1e-9) * PANEL;
        let mut points = String::new();
        for v in r.latency.iter_quantiles(2) {
            let q = v.quantile_iterated_to();
            let us = r.latency.highest_equivalent(v.value_iterated_to()) as f64 / 1e3;
            points.push_str(&format!("{:.1},{:.1} ", xpos(q), ypos(us.min(max_us))));
        }
        svg.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"{}\"/>\n",
            points.trim_end()
        ));
        for (label, q) in [
            ("0%", 0.0),
            ("90%", 0.9),
            ("99%", 0.99),
            ("99.9%", 0.999),
            ("99.99%", 0.9999),
            ("99.999%", 0.99999),
        ] {
            let x = xpos(q);
            svg.push_str(&format!(
                "<line x1=\"{x:.1}\" y1=\"{}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#ddd\"/>\n<text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\">{label}</text>\n",
                top,
                top + PANEL,
                top + PANEL + 15.0
            ));
        }
        axis_labels(&mut svg, top, PANEL, max_us, "");
    }
    // Panel 2: throughput over time.
    let top2 = top + PANEL + 70.0;
    panel_frame(
        &mut svg,
        top2,
        PANEL,
        "Throughput over time",
        "seconds",
        "msgs/s",
    );
    let max_t = r.timeline.iter().map(|(t, _)| *t).fold(0.0, f64::max);
    let max_rate = r.timeline.iter().map(|(_, m)| *m).fold(0.0, f64::max);
    if max_t > 0.0 && max_rate > 0.0 {
        let mut points = format!("{LEFT:.1},{:.1} ", top2 + PANEL);
        for (t, rate) in &r.timeline {
            points.push_str(&format!(
                "{:.1},{:.1} ",
                LEFT + t / max_t * plot_w,
                top2 + PANEL - rate / max_rate * PANEL
            ));
        }
        svg.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"#d62728\" stroke-width=\"2\" points=\"{}\"/>\n",
            points.trim_end()
        ));
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\n",
            W - RIGHT,
            top2 + PANEL + 15.0,
            esc(&format!("{max_t:.2}"))
        ));
        axis_labels(&mut svg, top2, PANEL, max_rate, "");
    } else {
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">too short to sample</text>\n",
            LEFT + plot_w / 2.0,
            top2 + PANEL / 2.0
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

/// A panel's frame, title and axis names.
fn panel_frame(svg: &mut String, top: f64, height: f64, title: &str, x: &str, y: &str) {
    svg.push_str(&format!(
        "<rect x=\"80\" y=\"{top}\" width=\"700\" height=\"{height}\" fill=\"none\" stroke=\"#333\"/>\n<text x=\"80\" y=\"{}\" font-size=\"13\">{}</text>\n<text x=\"430\" y=\"{}\" text-anchor=\"middle\">{}</text>\n<text x=\"20\" y=\"{}\" transform=\"rotate(-90 20 {})\" text-anchor=\"middle\">{}</text>\n",
        top - 8.0,
        esc(title),
        top + height + 32.0,
        esc(x),
        top + height / 2.0,
        top + height / 2.0,
        esc(y)
    ));
}

/// The y axis' 0 and maximum.
fn axis_labels(svg: &mut String, top: f64, height: f64, max: f64, unit: &str) {
    svg.push_str(&format!(
        "<text x=\"75\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\n<text x=\"75\" y=\"{:.1}\" text-anchor=\"end\">0</text>\n",
        top + 10.0,
        esc(&format!("{max:.1}{unit}")),
        top + height
    ));
}
