//! The Object Store scenarios driven through async-nats' `jetstream::object_store`, with its
//! default options (128 KiB chunks): the same steps as `rnats_obj`, in the same order.

use std::time::Instant;

use async_nats::jetstream::{self, object_store, stream};
use tokio::io::AsyncReadExt;

use crate::common::{kv_bucket, BoxError, CpuMeter, Outcome, Spec, OBJ_BYTE, OBJ_NAME};
use crate::{Scenario, Storage};

pub async fn run(spec: &Spec) -> Result<Outcome, BoxError> {
    let client = async_nats::connect(spec.url.as_str()).await?;
    let js = jetstream::new(client.clone());
    let bucket = kv_bucket();
    let store = js
        .create_object_store(object_store::Config {
            bucket: bucket.clone(),
            storage: match spec.storage {
                Storage::File => stream::StorageType::File,
                Storage::Memory => stream::StorageType::Memory,
            },
            ..Default::default()
        })
        .await?;
    let outcome = match spec.scenario {
        Scenario::ObjPut => put(spec, &store).await,
        Scenario::ObjGet => get(spec, &store).await,
        other => Err(format!("not an Object Store scenario: {}", other.name()).into()),
    };
    js.delete_object_store(&bucket).await?;
    client.flush().await?;
    outcome
}

async fn put(spec: &Spec, store: &object_store::ObjectStore) -> Result<Outcome, BoxError> {
    let meter = CpuMeter::start(spec.server_pid);
    let start = Instant::now();
    for _ in 0..spec.count {
        let mut source = tokio::io::repeat(OBJ_BYTE).take(spec.size as u64);
        let info = store.put(OBJ_NAME, &mut source).await?;
        if info.size != spec.size {
            return Err(format!("stored {} bytes, not {}", info.size, spec.size).into());
        }
    }
    let mut outcome = Outcome::throughput(spec.count, spec.size, start.elapsed());
    meter.finish(&mut outcome);
    Ok(outcome)
}

async fn get(spec: &Spec, store: &object_store::ObjectStore) -> Result<Outcome, BoxError> {
    let mut source = tokio::io::repeat(OBJ_BYTE).take(spec.size as u64);
    store.put(OBJ_NAME, &mut source).await?;
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
