//! The service scenario through `async_nats::service`: one endpoint (stats kept, as always)
//! consumed as a stream and answered on its own connection; requests from another,
//! `IN_FLIGHT` at a time.

use std::time::Instant;

use async_nats::service::ServiceExt;
use futures::StreamExt;

use crate::async_nats_client::RoundTrip;
use crate::common::{payload, BoxError, Outcome, Spec, IN_FLIGHT, SERVICE_SUBJECT};

pub async fn run(spec: &Spec) -> Result<Outcome, BoxError> {
    let server_side = async_nats::connect(spec.url.as_str()).await?;
    let service = server_side
        .service_builder()
        .description("bench")
        .start("bench-svc", "1.0.0")
        .await?;
    let mut endpoint = service.endpoint(SERVICE_SUBJECT).await?;
    let responder = tokio::spawn(async move {
        while let Some(req) = endpoint.next().await {
            let payload = req.message.payload.clone();
            let _ = req.respond(Ok(payload)).await;
        }
    });
    // The endpoint is subscribed on the server before the first request.
    drop(RoundTrip::new(&server_side).await?);
    if spec.scenario == crate::Scenario::Svc64RnatsRequester {
        let outcome = crate::rnats_svc::requester(spec).await?;
        return check_and_stop(spec, service, responder, outcome).await;
    }
    let outcome =
        crate::common::run_requester(spec, |spec| async move { requester(&spec).await }).await?;
    check_and_stop(spec, service, responder, outcome).await
}

/// The requester of the service scenarios through async-nats: one request to warm up, then
/// `spec.count` with `IN_FLIGHT` outstanding.
async fn requester(spec: &Spec) -> Result<Outcome, BoxError> {
    let client = async_nats::connect(spec.url.as_str()).await?;
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
    Ok(outcome)
}

/// Checks the endpoint counted every request, stops the service.
async fn check_and_stop(
    spec: &Spec,
    service: async_nats::service::Service,
    responder: tokio::task::JoinHandle<()>,
    outcome: Outcome,
) -> Result<Outcome, BoxError> {
    let stats = service.stats().await;
    let handled = stats.values().map(|e| e.requests as u64).sum::<u64>();
    if handled != spec.count + 1 {
        return Err(format!(
            "the endpoint counted {handled} requests, not {}",
            spec.count + 1
        )
        .into());
    }
    service.stop().await?;
    responder.abort();
    Ok(outcome)
}
