//! The service scenario through `rnats::service`: one endpoint with a handler (stats kept,
//! as always), answered on its own connection; requests from another, `IN_FLIGHT` at a time.

use std::time::Instant;

use futures::StreamExt;

use crate::common::{payload, BoxError, Outcome, Spec, IN_FLIGHT, SERVICE_SUBJECT};
use crate::rnats_client::RoundTrip;

pub async fn run(spec: &Spec) -> Result<Outcome, BoxError> {
    let server_side = rnats::connect(spec.url.as_str()).await?;
    let service = server_side
        .service_builder()
        .description("bench")
        .start("bench-svc", "1.0.0")
        .await?;
    service
        .endpoint("echo")
        .subject(SERVICE_SUBJECT)
        .handler(|req| async move {
            let _ = req.respond(req.payload().clone()).await;
        })
        .await?;
    // The endpoint is subscribed on the server before the first request.
    drop(RoundTrip::new(&server_side).await?);
    let outcome =
        crate::common::run_requester(spec, |spec| async move { requester(&spec).await }).await?;
    let handled = service.stats().endpoints[0].num_requests;
    if handled != spec.count + 1 {
        return Err(format!(
            "the endpoint counted {handled} requests, not {}",
            spec.count + 1
        )
        .into());
    }
    service.stop().await?;
    server_side.close().await?;
    Ok(outcome)
}

/// The requester of the service scenarios through rnats: one request to warm up, then
/// `spec.count` with `IN_FLIGHT` outstanding. (Also the requester of `svc-64-rnats-requester`
/// for both service modules.)
pub async fn requester(spec: &Spec) -> Result<Outcome, BoxError> {
    let client = rnats::connect(spec.url.as_str()).await?;
    let data = payload(spec.size);
    client.request(SERVICE_SUBJECT, data.clone()).await?;
    let start = Instant::now();
    let (ok, errors) = futures::stream::iter(0..spec.count)
        .map(|_| client.request(SERVICE_SUBJECT, data.clone()))
        .buffer_unordered(IN_FLIGHT)
        .fold((0u64, 0u64), |(ok, err), r| async move {
            if r.is_ok() {
                (ok + 1, err)
            } else {
                (ok, err + 1)
            }
        })
        .await;
    let mut outcome = Outcome::throughput(ok, spec.size, start.elapsed());
    outcome.errors = errors;
    client.close().await?;
    Ok(outcome)
}
