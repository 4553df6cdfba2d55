//! The Object Store scenarios driven through rnats' `object_store` module, with its default
//! options (128 KiB chunks).

use std::time::Instant;

use rnats::jetstream::{self, stream};
use rnats::object_store;
use tokio::io::AsyncReadExt;

use crate::common::{kv_bucket, BoxError, CpuMeter, Outcome, Spec, OBJ_BYTE, OBJ_NAME};
use crate::{Scenario, Storage};

pub async fn run(spec: &Spec) -> Result<Outcome, BoxError> {
    let client = rnats::connect(spec.url.as_str()).await?;
    let js = jetstream::new(client.clone());
    let bucket = kv_bucket();
    let mut config = object_store::Config::new(bucket.as_str());
    config.storage = match spec.storage {
        Storage::File => stream::StorageType::File,
        Storage::Memory => stream::StorageType::Memory,
    };
    let store = js.create_object_store(config).await?;
    let outcome = match spec.scenario {
        Scenario::ObjPut => put(spec, &store).await,
        Scenario::ObjGet => get(spec, &store).await,
        other => Err(format!("not an Object Store scenario: {}", other.name()).into()),
    };
    js.delete_object_store(&bucket).await?;
    client.close().await?;
    outcome
}

/// Streams `count` objects of `size` bytes in, one after another, from a generator (never a
/// buffer of the object's size).
async fn put(spec: &Spec, store: &object_store::ObjectStore) -> Result<Outcome, BoxError> {
    let meter = CpuMeter::start(spec.server_pid);
    let start = Instant::now();
    for _ in 0..spec.count {
        let source = tokio::io::repeat(OBJ_BYTE).take(spec.size as u64);
        let info = store.put(OBJ_NAME, source).await?;
        if info.size != spec.size as u64 {
            return Err(format!("stored {} bytes, not {}", info.size, spec.size).into());
        }
    }
    let mut outcome = Outcome::throughput(spec.count, spec.size, start.elapsed());
    meter.finish(&mut outcome);
    Ok(outcome)
}

/// Stores one object (not measured), then streams it out `count` times into a sink, the
/// digest checked by the library each time.
async fn get(spec: &Spec, store: &object_store::ObjectStore) -> Result<Outcome, BoxError> {
    store
        .put(OBJ_NAME, tokio::io::repeat(OBJ_BYTE).take(spec.size as u64))
        .await?;
    let meter = CpuMeter::start(spec.server_pid);
    let start = Instant::now();
    for _ in 0..spec.count {
        let mut object = store.get(OBJ_NAME).await?;
        let read = tokio::io::copy(&mut object, &mut tokio::io::sink()).await?;
        if read != spec.size as u64 {
            return Err(format!("read {read} bytes, not {}", spec.size).into());
        }
    }
    let mut outcome = Outcome::throughput(spec.count, spec.size, start.elapsed());
    meter.finish(&mut outcome);
    Ok(outcome)
}
