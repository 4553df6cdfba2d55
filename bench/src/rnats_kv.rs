//! The Key-Value scenarios driven through rnats' `kv` module, with its default options.

use std::time::{Duration, Instant};

use futures::StreamExt;
use rnats::jetstream::{self, stream};
use rnats::kv;

use crate::common::{
    kv_bucket, kv_key, payload, BoxError, CpuMeter, Outcome, Spec, IN_FLIGHT, JS_IN_FLIGHT,
    KV_KEYS, KV_WARM_UP, KV_WATCH_KEYS,
};
use crate::{Scenario, Storage};

pub async fn run(spec: &Spec) -> Result<Outcome, BoxError> {
    let client = rnats::connect(spec.url.as_str()).await?;
    let js = jetstream::new(client.clone());
    let bucket = kv_bucket();
    let mut config = kv::Config::new(bucket.as_str());
    config.storage = match spec.storage {
        Storage::File => stream::StorageType::File,
        Storage::Memory => stream::StorageType::Memory,
    };
    if spec.scenario == Scenario::KvWatch {
        config.history = kv::MAX_HISTORY;
    }
    let store = js.create_key_value(config).await?;
    let outcome = match spec.scenario {
        Scenario::KvPut => put_sequential(spec, &store).await,
        Scenario::KvGet => get_sequential(spec, &store).await,
        Scenario::KvPut64 => put_concurrent(spec, &store).await,
        Scenario::KvGet64 => get_concurrent(spec, &store).await,
        Scenario::KvWatch => watch(spec, &js, &store).await,
        other => Err(format!("not a Key-Value scenario: {}", other.name()).into()),
    };
    js.delete_key_value(&bucket).await?;
    client.close().await?;
    outcome
}

/// Every key gets a value (not measured).
async fn fill(spec: &Spec, store: &kv::Store) -> Result<(), BoxError> {
    let data = payload(spec.size);
    for i in 0..KV_KEYS {
        store.put(kv_key(i), data.clone()).await?;
    }
    Ok(())
}

async fn put_sequential(spec: &Spec, store: &kv::Store) -> Result<Outcome, BoxError> {
    let data = payload(spec.size);
    for i in 0..KV_WARM_UP {
        store.put(kv_key(i), data.clone()).await?;
    }
    let mut samples = Vec::with_capacity(spec.count as usize);
    let meter = CpuMeter::start(spec.server_pid);
    let start = Instant::now();
    for i in 0..spec.count {
        let t = Instant::now();
        store.put(kv_key(i), data.clone()).await?;
        samples.push(t.elapsed());
    }
    let mut outcome = Outcome::latency(samples, 0, start.elapsed(), spec.size);
    meter.finish(&mut outcome);
    Ok(outcome)
}

async fn get_sequential(spec: &Spec, store: &kv::Store) -> Result<Outcome, BoxError> {
    fill(spec, store).await?;
    let mut samples = Vec::with_capacity(spec.count as usize);
    let meter = CpuMeter::start(spec.server_pid);
    let start = Instant::now();
    for i in 0..spec.count {
        let t = Instant::now();
        let value = store.get(kv_key(i)).await?;
        if value.len() != spec.size {
            return Err("a get returned another value".into());
        }
        samples.push(t.elapsed());
    }
    let mut outcome = Outcome::latency(samples, 0, start.elapsed(), spec.size);
    meter.finish(&mut outcome);
    Ok(outcome)
}

async fn put_concurrent(spec: &Spec, store: &kv::Store) -> Result<Outcome, BoxError> {
    let data = payload(spec.size);
    let meter = CpuMeter::start(spec.server_pid);
    let start = Instant::now();
    let mut puts = futures::stream::iter(0..spec.count)
        .map(|i| store.put(kv_key(i), data.clone()))
        .buffer_unordered(IN_FLIGHT);
    while let Some(put) = puts.next().await {
        put?;
    }
    let mut outcome = Outcome::throughput(spec.count, spec.size, start.elapsed());
    meter.finish(&mut outcome);
    Ok(outcome)
}

async fn get_concurrent(spec: &Spec, store: &kv::Store) -> Result<Outcome, BoxError> {
    fill(spec, store).await?;
    let meter = CpuMeter::start(spec.server_pid);
    let start = Instant::now();
    let mut gets = futures::stream::iter(0..spec.count)
        .map(|i| store.get(kv_key(i)))
        .buffer_unordered(IN_FLIGHT);
    while let Some(value) = gets.next().await {
        if value?.len() != spec.size {
            return Err("a get returned another value".into());
        }
    }
    let mut outcome = Outcome::throughput(spec.count, spec.size, start.elapsed());
    meter.finish(&mut outcome);
    Ok(outcome)
}

/// Writes `count` updates (pipelined, not measured), then times a watcher that starts at
/// revision 1 until it has delivered all of them.
async fn watch(
    spec: &Spec,
    js: &jetstream::Context,
    store: &kv::Store,
) -> Result<Outcome, BoxError> {
    let data = payload(spec.size);
    let prefix = format!("$KV.{}.", store.bucket());
    let mut acks = std::collections::VecDeque::with_capacity(JS_IN_FLIGHT);
    for i in 0..spec.count {
        if acks.len() >= JS_IN_FLIGHT {
            if let Some(ack) = acks.pop_front() {
                ack.await?;
            }
        }
        acks.push_back(
            js.publish(format!("{prefix}w{}", i % KV_WATCH_KEYS), data.clone())
                .await?,
        );
    }
    for ack in acks {
        ack.await?;
    }
    let meter = CpuMeter::start(spec.server_pid);
    let start = Instant::now();
    let mut options = kv::WatchOptions::default();
    options.resume_from_revision = Some(1);
    let mut watch = store.watch_with(options).await?;
    let mut last = 0;
    for _ in 0..spec.count {
        let entry = tokio::time::timeout(Duration::from_secs(10), watch.next())
            .await
            .map_err(|_| format!("no entry for 10 s after revision {last}"))?
            .ok_or("the watcher ended")??;
        if entry.revision != last + 1 {
            return Err(format!("revision {} after {last}", entry.revision).into());
        }
        last = entry.revision;
    }
    let mut outcome = Outcome::throughput(spec.count, spec.size, start.elapsed());
    meter.finish(&mut outcome);
    Ok(outcome)
}
