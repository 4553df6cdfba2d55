//! Client metrics (feature `metrics`) through a recorder of the test's own: traffic counters,
//! pending per subscription, drops, reconnects, request latencies by outcome; and the
//! `tracing` spans of connect, reconnect and JetStream API calls.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use metrics::{
    Counter, CounterFn, Gauge, GaugeFn, Histogram, HistogramFn, Key, KeyName, Metadata, Recorder,
    SharedString, Unit,
};
use rnats_test::NatsServer;

use crate::Bounded;

#[derive(Default)]
struct Cell {
    counter: AtomicU64,
    gauge: Mutex<f64>,
    samples: Mutex<Vec<f64>>,
}

impl CounterFn for Cell {
    fn increment(&self, value: u64) {
        self.counter.fetch_add(value, Ordering::Relaxed);
    }
    fn absolute(&self, value: u64) {
        self.counter.fetch_max(value, Ordering::Relaxed);
    }
}

impl GaugeFn for Cell {
    fn increment(&self, value: f64) {
        *self.gauge.lock().unwrap() += value;
    }
    fn decrement(&self, value: f64) {
        *self.gauge.lock().unwrap() -= value;
    }
    fn set(&self, value: f64) {
        *self.gauge.lock().unwrap() = value;
    }
}

impl HistogramFn for Cell {
    fn record(&self, value: f64) {
        self.samples.lock().unwrap().push(value);
    }
}

/// Keeps every metric by `name{label=value,...}` (labels sorted).
#[derive(Default)]
struct TestRecorder {
    cells: Mutex<HashMap<String, Arc<Cell>>>,
}

impl TestRecorder {
    fn cell(&self, key: &Key) -> Arc<Cell> {
        let mut labels: Vec<String> = key
            .labels()
            .map(|l| format!("{}={}", l.key(), l.value()))
            .collect();
        labels.sort();
        let name = format!("{}{{{}}}", key.name(), labels.join(","));
        Arc::clone(self.cells.lock().unwrap().entry(name).or_default())
    }

    fn get(&self, name: &str) -> Option<Arc<Cell>> {
        self.cells.lock().unwrap().get(name).cloned()
    }

    fn counter(&self, name: &str) -> u64 {
        self.get(name)
            .map_or(0, |c| c.counter.load(Ordering::Relaxed))
    }

    /// The gauge whose key contains `part`.
    fn gauge(&self, part: &str) -> Option<f64> {
        let cells = self.cells.lock().unwrap();
        let (_, cell) = cells.iter().find(|(k, _)| k.contains(part))?;
        let value = *cell.gauge.lock().unwrap();
        Some(value)
    }

    fn samples(&self, name: &str) -> usize {
        self.get(name)
            .map_or(0, |c| c.samples.lock().unwrap().len())
    }
}

impl Recorder for &'static TestRecorder {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.cell(key))
    }
    fn register_gauge(&self, key: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::from_arc(self.cell(key))
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.cell(key))
    }
}

/// The process' recorder (installed once; clients connected before it report nowhere).
fn recorder() -> &'static TestRecorder {
    static RECORDER: OnceLock<&'static TestRecorder> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let r: &'static TestRecorder = Box::leak(Box::default());
        metrics::set_global_recorder(r).expect("no other recorder in the test binary");
        r
    })
}

/// Waits until `check` holds (fails the test after 10 s).
async fn eventually(what: &str, check: impl Fn() -> bool) {
    tokio::time::timeout(Duration::from_secs(10), async {
        while !check() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("never true: {what}"));
}

#[tokio::test]
async fn metrics_are_reported() {
    let _shared = crate::shared().await;
    let rec = recorder();
    let server = NatsServer::start();
    let client = rnats::ConnectOptions::new()
        .name("mtest")
        .metrics_interval(Duration::from_millis(20))
        .connect(server.url())
        .await
        .unwrap();
    let c = |name: &str| format!("{name}{{client=mtest}}");

    // Three messages waiting in a subscription nobody reads; one more dropped by a tiny limit.
    let idle = client.subscribe("m.idle").await.unwrap();
    let tiny = client.subscribe("m.tiny").await.unwrap();
    tiny.set_pending_limits(1, 1024 * 1024);
    for _ in 0..3 {
        client.publish("m.idle", "12345").await.unwrap();
        client.publish("m.tiny", "x").await.unwrap();
    }
    client.flush().bounded().await.unwrap();
    let idle_gauge = "subject=m.idle}";
    eventually("3 pending on m.idle", || rec.gauge(idle_gauge) == Some(3.0)).await;
    eventually("6 messages in and out", || {
        rec.counter(&c("rnats_messages_out_total")) >= 6
            && rec.counter(&c("rnats_messages_in_total")) >= 6
    })
    .await;
    eventually("2 dropped", || {
        rec.counter(&c("rnats_dropped_messages_total")) >= 2
    })
    .await;
    assert!(rec.counter(&c("rnats_bytes_out_total")) > 30);
    assert!(rec.counter(&c("rnats_bytes_in_total")) > 30);
    assert_eq!(rec.counter(&c("rnats_connects_total")), 1);

    // Request latencies by outcome.
    let mut svc = client.subscribe("m.svc").await.unwrap();
    let responder = client.clone();
    tokio::spawn(async move {
        use futures_util::StreamExt;
        while let Some(m) = svc.next().await {
            responder.publish(m.reply.unwrap(), "ok").await.unwrap();
        }
    });
    let _silent = client.subscribe("m.silent").await.unwrap();
    client.request("m.svc", "").bounded().await.unwrap();
    assert!(client
        .request("m.nobody", "")
        .bounded()
        .await
        .unwrap_err()
        .is_no_responders());
    let err = client
        .request_with(
            "m.silent",
            rnats::Request::new().timeout(Duration::from_millis(50)),
        )
        .bounded()
        .await
        .unwrap_err();
    assert!(err.is_timeout());
    let h = |outcome: &str| {
        rec.samples(&format!(
            "rnats_request_duration_seconds{{client=mtest,outcome={outcome}}}"
        ))
    };
    assert_eq!((h("answered"), h("no_responders"), h("timeout")), (1, 1, 1));

    // A reconnect is counted; an ended subscription's gauge goes back to 0.
    client.force_reconnect().bounded().await.unwrap();
    eventually("1 reconnect", || {
        rec.counter(&c("rnats_reconnects_total")) == 1
    })
    .await;
    drop(idle);
    eventually("m.idle's gauge at 0", || rec.gauge(idle_gauge) == Some(0.0)).await;
    drop(tiny);
}

/// Records the names of the spans created.
#[cfg(feature = "jetstream")]
#[derive(Default, Clone)]
struct SpanNames(Arc<Mutex<Vec<String>>>);

#[cfg(feature = "jetstream")]
impl tracing::Subscriber for SpanNames {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        let mut names = self.0.lock().unwrap();
        names.push(span.metadata().name().to_owned());
        tracing::span::Id::from_u64(names.len() as u64)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, _: &tracing::Event<'_>) {}
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

/// The spans of connect, reconnect and a JetStream API call (the test's runtime is one
/// thread, so the driver task's spans reach the thread's default subscriber too). Alone:
/// `tracing` caches per call site, process-wide, whether anyone listens, and a test on
/// another thread hitting a call site first could cache "nobody".
#[cfg(feature = "jetstream")]
#[tokio::test]
async fn spans_for_connect_reconnect_and_jetstream() {
    let _alone = crate::alone().await;
    let names = SpanNames::default();
    let _guard = tracing::subscriber::set_default(names.clone());
    tracing::callsite::rebuild_interest_cache();
    let server = NatsServer::start_jetstream();
    let client = rnats::connect(server.url()).await.unwrap();
    let js = rnats::jetstream::new(client.clone());
    js.account_info().bounded().await.unwrap();
    client.force_reconnect().bounded().await.unwrap();
    let seen = |name: &str| names.0.lock().unwrap().iter().any(|n| n == name);
    eventually("the reconnect span", || seen("rnats.reconnect")).await;
    assert!(seen("rnats.connect"));
    assert!(seen("rnats.jetstream.api"));
}
