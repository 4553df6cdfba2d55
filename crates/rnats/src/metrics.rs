//! Client metrics through the [`metrics`](https://docs.rs/metrics) facade (feature
//! `metrics`): install any recorder (a Prometheus exporter, say) **before connecting**, and
//! every client reports:
//!
//! | name | kind | what |
//! |---|---|---|
//! | `rnats_messages_in_total` | counter | messages received |
//! | `rnats_messages_out_total` | counter | messages published (requests included) |
//! | `rnats_bytes_in_total` | counter | bytes read from the server |
//! | `rnats_bytes_out_total` | counter | bytes written to the server |
//! | `rnats_connects_total` | counter | connections made (the first one included) |
//! | `rnats_reconnects_total` | counter | reconnections |
//! | `rnats_dropped_messages_total` | counter | messages dropped for slow subscribers |
//! | `rnats_subscription_pending_messages` | gauge, labels `sid`, `subject` | messages waiting in each subscription's queue (0 once it ended) |
//! | `rnats_request_duration_seconds` | histogram, label `outcome` (`answered`, `no_responders`, `timeout`) | request latency, from the send to the answer |
//!
//! Every metric also has the label `client` when the connection has a name
//! ([`ConnectOptions::name`](crate::ConnectOptions::name)).
//!
//! The hot paths are left alone: the traffic counters are the ones [`Client::statistics`]
//! reads, exported by a task of the client's every
//! [`ConnectOptions::metrics_interval`](crate::ConnectOptions::metrics_interval) (1 s by
//! default; the task ends with the client), so publishing and delivery cost nothing more.
//! Request latencies are recorded as each request completes. Without the feature none of
//! this is compiled.
//!
//! [`Client::statistics`]: crate::Client::statistics

use std::collections::{HashMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use ::metrics::{Counter, Gauge, Histogram, Label};

use crate::shared::{Lifecycle, Shared};

/// The metric handles of one client, registered at connect with the recorder installed then.
pub(crate) struct Handles {
    labels: Vec<Label>,
    messages_in: Counter,
    messages_out: Counter,
    bytes_in: Counter,
    bytes_out: Counter,
    connects: Counter,
    reconnects: Counter,
    dropped: Counter,
    request_answered: Histogram,
    request_no_responders: Histogram,
    request_timeout: Histogram,
}

/// How a request ended, for the latency histogram's `outcome` label.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Outcome {
    Answered,
    NoResponders,
    Timeout,
}

impl Handles {
    pub(crate) fn new(name: Option<&str>) -> Self {
        let labels: Vec<Label> = name
            .map(|n| Label::new("client", n.to_owned()))
            .into_iter()
            .collect();
        let counter = |key: &'static str| ::metrics::counter!(key, labels.iter());
        let latency = |outcome: &'static str| {
            let mut l = labels.clone();
            l.push(Label::new("outcome", outcome));
            ::metrics::histogram!("rnats_request_duration_seconds", l.iter())
        };
        Self {
            messages_in: counter("rnats_messages_in_total"),
            messages_out: counter("rnats_messages_out_total"),
            bytes_in: counter("rnats_bytes_in_total"),
            bytes_out: counter("rnats_bytes_out_total"),
            connects: counter("rnats_connects_total"),
            reconnects: counter("rnats_reconnects_total"),
            dropped: counter("rnats_dropped_messages_total"),
            request_answered: latency("answered"),
            request_no_responders: latency("no_responders"),
            request_timeout: latency("timeout"),
            labels,
        }
    }

    /// Records one request's latency.
    pub(crate) fn request(&self, outcome: Outcome, elapsed: Duration) {
        let histogram = match outcome {
            Outcome::Answered => &self.request_answered,
            Outcome::NoResponders => &self.request_no_responders,
            Outcome::Timeout => &self.request_timeout,
        };
        histogram.record(elapsed.as_secs_f64());
    }
}

/// Starts the task exporting `shared`'s counters every `metrics_interval`; it holds the
/// client weakly and ends with it.
pub(crate) fn spawn_sampler(shared: &Arc<Shared>) {
    let weak = Arc::downgrade(shared);
    let interval = shared.options.metrics_interval;
    tokio::spawn(async move {
        let mut gauges: HashMap<u64, Gauge> = HashMap::new();
        sample_now(&weak, &mut gauges);
        loop {
            tokio::time::sleep(interval).await;
            if !sample_now(&weak, &mut gauges) {
                break;
            }
        }
    });
}

/// One export; false once the client is gone or closed.
fn sample_now(weak: &Weak<Shared>, gauges: &mut HashMap<u64, Gauge>) -> bool {
    let Some(shared) = weak.upgrade() else {
        for g in gauges.values() {
            g.set(0.0);
        }
        return false;
    };
    sample(&shared, gauges)
}

fn sample(shared: &Shared, gauges: &mut HashMap<u64, Gauge>) -> bool {
    let m = &shared.metrics;
    let s = &shared.stats;
    let (in_msgs, out_msgs, subs, open) = {
        let core = shared.core.lock();
        let subs: Vec<_> = core
            .subs
            .iter()
            .map(|(sid, q)| (sid.0, Arc::clone(q)))
            .collect();
        (
            core.in_msgs,
            core.out_msgs,
            subs,
            core.lifecycle != Lifecycle::Closed,
        )
    };
    m.messages_in.absolute(in_msgs);
    m.messages_out.absolute(out_msgs);
    m.bytes_in.absolute(s.in_bytes.load(Ordering::Relaxed));
    m.bytes_out.absolute(s.out_bytes.load(Ordering::Relaxed));
    let connects = s.connects.load(Ordering::Relaxed);
    m.connects.absolute(connects);
    m.reconnects.absolute(connects.saturating_sub(1));
    m.dropped.absolute(s.dropped_msgs.load(Ordering::Relaxed));
    let mut live = HashSet::with_capacity(subs.len());
    for (sid, queue) in subs {
        live.insert(sid);
        let gauge = gauges.entry(sid).or_insert_with(|| {
            let mut l = m.labels.clone();
            l.push(Label::new("sid", sid.to_string()));
            l.push(Label::new("subject", queue.subject.clone()));
            ::metrics::gauge!("rnats_subscription_pending_messages", l.iter())
        });
        gauge.set(queue.queued() as f64);
    }
    gauges.retain(|sid, gauge| {
        let keep = live.contains(sid);
        if !keep {
            gauge.set(0.0);
        }
        keep
    });
    open
}
