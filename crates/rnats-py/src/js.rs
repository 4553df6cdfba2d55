//! JetStream glue: `rnats.js` (nats-py's `nats.js` API) on `rnats::jetstream`.
//!
//! Everything nats-py-shaped (dataclasses, argument defaults, the push subscription's
//! callback and auto-ack, the publish-async futures) is Python under `python/rnats/js`; this
//! module exposes rnats' JetStream to it:
//!
//! - **Management calls** take a stream or consumer configuration as JSON (the Python
//!   dataclass's `as_dict()`), deserialize it into rnats' typed config (which validates it),
//!   call the typed rnats API, and answer with the info serialized back to JSON for the
//!   Python dataclass's `from_response`. Answers reach the loop through its completion hub
//!   (`wake.rs`), as the core request path's do.
//! - **`publish_async`** sends at once on the loop thread (`poll_now`); the acknowledgement
//!   futures go to one collector task per context, which completes them in batches: results
//!   are queued here and one `wake()` job per batch goes to the hub (`take_acks`), not one per ack.
//! - **Pull fetch** runs one rnats pull (`fetch`: no-wait with an expiry, the request nats-py
//!   sends first) and hands the whole batch over in one completion.
//! - **Push and ordered subscriptions** read rnats' push `Messages` / `Ordered` streams into
//!   the same kind of buffer a core subscription has (`take`), so the Python `Subscription`
//!   machinery (callbacks, `messages`, `next_msg`) is reused unchanged.
//! - **Acks and metadata**: the ack payloads and the reply-subject parse are rnats'
//!   (`AckKind::body`, `message::parse_info`).

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, Stream as FuturesStream};
use futures_util::{FutureExt, StreamExt};
use parking_lot::Mutex;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};
use rnats::jetstream::consumer::{self, pull, push, OrderedConfig};
use rnats::jetstream::message::AckKind;
use rnats::jetstream::{stream, ContextBuilder, PubAck, PubAckFuture, Publish};
use tokio::sync::mpsc;

use crate::wake::{self, HubInner};

use super::{
    completer, duration, fail_to_py, header_map, message_tuple, payload_bytes, poll_now, runtime,
    settle_job_with, with_python, BoxFuture, Client, Fail, Inbox, SubState, MAX_BUFFERED,
};

// ---------------------------------------------------------------------------------------------
// Errors

/// A JetStream failure to be raised in Python.
pub(crate) enum JsFail {
    /// An rnats error: JetStream API errors become `rnats.js.errors.APIError` subclasses.
    Rnats(rnats::Error),
    /// An rnats error of a publish: no responders is `NoStreamResponseError`.
    Publish(rnats::Error),
    /// A class of `rnats.js.errors` with a description.
    Js(&'static str, String),
    /// A class of `rnats.errors` with a detail text.
    Core(&'static str, String),
}

impl From<rnats::Error> for JsFail {
    fn from(e: rnats::Error) -> Self {
        JsFail::Rnats(e)
    }
}

fn js_errors(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    Ok(MODULE
        .get_or_try_init(py, || -> PyResult<_> {
            Ok(py.import("rnats.js.errors")?.unbind())
        })?
        .bind(py))
}

pub(crate) fn js_class(py: Python<'_>, class: &str, detail: String) -> PyErr {
    let made = js_errors(py)
        .and_then(|m| m.getattr(class))
        .and_then(|cls| cls.call1((detail,)));
    match made {
        Ok(obj) => PyErr::from_value(obj),
        Err(e) => e,
    }
}

/// `rnats.js.errors._from_api(code, err_code, description)`: the nats-py class for the code.
fn api_error(py: Python<'_>, code: u16, err_code: u32, description: &str) -> PyErr {
    let made = js_errors(py)
        .and_then(|m| m.getattr("_from_api"))
        .and_then(|f| f.call1((code, err_code, description)));
    match made {
        Ok(obj) => PyErr::from_value(obj),
        Err(e) => e,
    }
}

pub(crate) fn rnats_to_py(py: Python<'_>, e: rnats::Error, publish: bool) -> PyErr {
    if let Some(api) = e.jetstream_error() {
        return api_error(py, api.code, api.err_code.0, &api.description);
    }
    if e.is_no_responders() {
        return if publish {
            js_class(py, "NoStreamResponseError", String::new())
        } else {
            api_error(py, 503, 0, "no responders: JetStream not available")
        };
    }
    fail_to_py(py, Fail::Rnats(e))
}

pub(crate) fn js_fail_to_py(py: Python<'_>, fail: JsFail) -> PyErr {
    match fail {
        JsFail::Rnats(e) => rnats_to_py(py, e, false),
        JsFail::Publish(e) => rnats_to_py(py, e, true),
        JsFail::Js(class, detail) => js_class(py, class, detail),
        JsFail::Core(class, detail) => fail_to_py(py, Fail::Class(class, detail)),
    }
}

/// Raised at once (bad input found before anything was sent): the connection stays up.
pub(crate) fn invalid(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

/// Awaits `fut` on the runtime; converting its output with `conv` and completing `pyfut`
/// happen on the loop thread, in a job of the loop's completion hub (see `wake.rs`).
fn js_complete<T, F, C>(hub: Arc<HubInner>, pyfut: Py<PyAny>, fut: F, conv: C)
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, JsFail>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    runtime().spawn(async move {
        let out = fut.await;
        let _ = hub.push(settle_job_with(pyfut, out, js_fail_to_py, conv));
    });
}

/// [`js_complete`] for an rnats future, with its own conversion of the error.
pub(crate) fn js_complete_rnats<T, F, C>(
    hub: Arc<HubInner>,
    pyfut: Py<PyAny>,
    fut: F,
    to_err: fn(Python<'_>, rnats::Error) -> PyErr,
    conv: C,
) where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, rnats::Error>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    runtime().spawn(async move {
        let out = fut.await;
        let _ = hub.push(settle_job_with(pyfut, out, to_err, conv));
    });
}

/// A hub job that calls `wake()`.
pub(crate) fn wake_job(wake: &Arc<Py<PyAny>>) -> crate::wake::Job {
    let wake = Arc::clone(wake);
    Box::new(move |py| {
        if let Err(e) = wake.call0(py) {
            e.write_unraisable(py, None);
        }
    })
}

pub(crate) fn json<T: serde::Serialize>(value: &T) -> Result<String, JsFail> {
    serde_json::to_string(value).map_err(|e| JsFail::Js("Error", format!("bad answer: {e}")))
}

fn py_str(py: Python<'_>, s: String) -> PyResult<Py<PyAny>> {
    Ok(s.into_pyobject(py)?.into_any().unbind())
}

pub(crate) fn py_bool(py: Python<'_>, b: bool) -> PyResult<Py<PyAny>> {
    Ok(pyo3::types::PyBool::new(py, b)
        .to_owned()
        .into_any()
        .unbind())
}

/// `(stream, seq, duplicate, domain, val)` for `rnats.js.api.PubAck`.
fn pub_ack_tuple<'py>(py: Python<'py>, ack: &PubAck) -> PyResult<Bound<'py, PyTuple>> {
    (
        ack.stream.as_str(),
        ack.sequence,
        ack.duplicate,
        ack.domain.as_deref(),
        ack.value.as_deref(),
    )
        .into_pyobject(py)
}

// ---------------------------------------------------------------------------------------------
// Acks and metadata

/// The payload of an acknowledgement: `kind` is "ack", "nak", "wpi", "term" or "nxt"; `delay`
/// (seconds) only for "nak".
#[pyfunction]
#[pyo3(signature = (kind, delay=None))]
fn ack_payload<'py>(
    py: Python<'py>,
    kind: &str,
    delay: Option<f64>,
) -> PyResult<Bound<'py, PyBytes>> {
    let kind = match kind {
        "ack" => AckKind::Ack,
        "nak" => AckKind::Nak(match delay {
            None => None,
            Some(d) if (0.0..1e9).contains(&d) => Some(Duration::from_secs_f64(d)),
            Some(d) => return Err(invalid(format!("nak delay must be >= 0 seconds, got {d}"))),
        }),
        "wpi" => AckKind::Progress,
        "term" => AckKind::Term(None),
        "nxt" => AckKind::Next,
        other => return Err(invalid(format!("unknown acknowledgement {other:?}"))),
    };
    Ok(PyBytes::new(py, &kind.body()))
}

/// The metadata in a JetStream reply subject: `(stream, consumer, num_delivered,
/// stream_seq, consumer_seq, timestamp_ns, num_pending, domain)`; `NotJSMessageError` when
/// the subject is not one.
#[pyfunction]
#[allow(clippy::type_complexity)]
fn ack_metadata(
    py: Python<'_>,
    reply: &str,
) -> PyResult<(String, String, u64, u64, u64, i128, u64, Option<String>)> {
    match rnats::jetstream::message::parse_info(reply) {
        Ok(i) => Ok((
            i.stream.to_owned(),
            i.consumer.to_owned(),
            i.delivered,
            i.stream_sequence,
            i.consumer_sequence,
            i.published.unix_timestamp_nanos(),
            i.pending,
            // nats-py: no domain in a v2 subject (`_`) is "", a v1 subject has none.
            i.domain
                .map(str::to_owned)
                .or_else(|| i.account_hash.map(|_| String::new())),
        )),
        Err(e) => Err(fail_to_py(
            py,
            Fail::Class("NotJSMessageError", e.to_string()),
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// The context

/// A finished `publish_async`: its id and the acknowledgement or the failure.
type AckResult = (u64, Result<PubAck, rnats::Error>);

/// The acknowledgements of `publish_async`, completed by one collector task.
struct Acks {
    /// Finished acknowledgements not yet taken by Python, and whether a wake is scheduled.
    done: Mutex<(Vec<AckResult>, bool)>,
    /// To the collector task (started on the first `publish_async`).
    tx: Mutex<Option<mpsc::UnboundedSender<(u64, PubAckFuture)>>>,
}

/// A JetStream context (`rnats.js.client.JetStreamContext` and the manager wrap it).
#[pyclass(frozen, module = "rnats._rnats")]
pub(crate) struct JetStream {
    pub(crate) ctx: rnats::jetstream::Context,
    acks: Arc<Acks>,
}

/// A JetStream context on `client`: API prefix `prefix`, `timeout` seconds for API calls and
/// acknowledgements, at most `max_pending` acknowledgements outstanding.
#[pyfunction]
fn jetstream(
    client: PyRef<'_, Client>,
    prefix: &str,
    timeout: f64,
    max_pending: usize,
) -> PyResult<JetStream> {
    let timeout = duration(Some(timeout), "timeout")?.unwrap_or(Duration::from_secs(5));
    let ctx = ContextBuilder::new()
        .api_prefix(prefix)
        .timeout(timeout)
        .max_ack_inflight(max_pending.max(1))
        .build(client.client.clone());
    Ok(JetStream {
        ctx,
        acks: Arc::new(Acks {
            done: Mutex::new((Vec::new(), false)),
            tx: Mutex::new(None),
        }),
    })
}

fn parse_stream_config(config: &str) -> PyResult<stream::Config> {
    serde_json::from_str(config).map_err(|e| invalid(format!("invalid stream config: {e}")))
}

fn parse_consumer_config(config: &str) -> PyResult<consumer::Config> {
    serde_json::from_str(config).map_err(|e| invalid(format!("invalid consumer config: {e}")))
}

fn check_stream_name(name: &str) -> PyResult<()> {
    if name.is_empty() || name.contains(['.', '*', '>', ' ', '/', '\\', '\t', '\r', '\n']) {
        return Err(invalid(format!("nats: invalid stream name {name:?}")));
    }
    Ok(())
}

async fn collect<T>(mut paged: rnats::jetstream::Paged<T>) -> Result<Vec<T>, rnats::Error>
where
    rnats::jetstream::Paged<T>: FuturesStream<Item = Result<T, rnats::Error>> + Unpin,
{
    let mut out = Vec::new();
    while let Some(item) = paged.next().await {
        out.push(item?);
    }
    Ok(out)
}

type RawMsg = (String, u64, Vec<u8>, Vec<(String, String)>, i128);

fn raw_msg(m: stream::StreamMessage) -> RawMsg {
    let headers = m
        .headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    (
        m.subject.to_string(),
        m.sequence,
        m.payload.to_vec(),
        headers,
        m.time.unix_timestamp_nanos(),
    )
}

#[pymethods]
impl JetStream {
    /// The API prefix (`$JS.API` by default).
    fn prefix(&self) -> String {
        self.ctx.api_prefix().to_owned()
    }

    /// Completes `fut` with the account info as JSON.
    fn account_info(&self, hub: &wake::Hub, fut: Py<PyAny>) {
        let ctx = self.ctx.clone();
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { json(&ctx.account_info().await?) },
            py_str,
        );
    }

    /// Creates a stream from its JSON config; completes `fut` with the stream info as JSON.
    fn add_stream(&self, hub: &wake::Hub, fut: Py<PyAny>, config: &str) -> PyResult<()> {
        let config = parse_stream_config(config)?;
        check_stream_name(&config.name)?;
        let ctx = self.ctx.clone();
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { json(ctx.create_stream(config).await?.cached_info()) },
            py_str,
        );
        Ok(())
    }

    /// Updates a stream from its JSON config; completes `fut` with the stream info as JSON.
    fn update_stream(&self, hub: &wake::Hub, fut: Py<PyAny>, config: &str) -> PyResult<()> {
        let config = parse_stream_config(config)?;
        check_stream_name(&config.name)?;
        let ctx = self.ctx.clone();
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { json(&ctx.update_stream(config).await?) },
            py_str,
        );
        Ok(())
    }

    /// Deletes a stream; completes `fut` with `True`.
    fn delete_stream(&self, hub: &wake::Hub, fut: Py<PyAny>, name: &str) -> PyResult<()> {
        check_stream_name(name)?;
        let (ctx, name) = (self.ctx.clone(), name.to_owned());
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { Ok(ctx.delete_stream(name).await.map(|_| true)?) },
            py_bool,
        );
        Ok(())
    }

    /// Completes `fut` with the stream's info as JSON (with per-subject counts for
    /// `subjects_filter`, deleted sequences with `deleted_details`).
    #[pyo3(signature = (hub, fut, name, subjects_filter=None, deleted_details=false))]
    fn stream_info(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        name: &str,
        subjects_filter: Option<String>,
        deleted_details: bool,
    ) -> PyResult<()> {
        check_stream_name(name)?;
        let (ctx, name) = (self.ctx.clone(), name.to_owned());
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move {
                if subjects_filter.is_none() && !deleted_details {
                    return json(&ctx.stream_info(name).await?);
                }
                let mut options = stream::InfoOptions::new().deleted_details(deleted_details);
                if let Some(filter) = subjects_filter {
                    options = options.subjects_filter(filter);
                }
                json(&ctx.get_stream_no_info(name).info_with(options).await?)
            },
            py_str,
        );
        Ok(())
    }

    /// Completes `fut` with the info of every stream (optionally those storing `subject`) as a
    /// JSON array.
    #[pyo3(signature = (hub, fut, subject=None))]
    fn streams_info(&self, hub: &wake::Hub, fut: Py<PyAny>, subject: Option<String>) {
        let ctx = self.ctx.clone();
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move {
                let mut paged = ctx.streams();
                if let Some(s) = subject {
                    paged = paged.with_subject(s);
                }
                json(&collect(paged).await?)
            },
            py_str,
        );
    }

    /// Completes `fut` with the name of the stream that stores `subject`.
    fn find_stream(&self, hub: &wake::Hub, fut: Py<PyAny>, subject: String) {
        let ctx = self.ctx.clone();
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { Ok(ctx.stream_by_subject(subject).await?) },
            py_str,
        );
    }

    /// Purges a stream (all, below `seq`, matching `subject`, keeping `keep`); completes `fut`
    /// with `True`.
    #[pyo3(signature = (hub, fut, name, seq=None, subject=None, keep=None))]
    fn purge_stream(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        name: &str,
        seq: Option<u64>,
        subject: Option<String>,
        keep: Option<u64>,
    ) -> PyResult<()> {
        check_stream_name(name)?;
        let mut purge = self.ctx.get_stream_no_info(name).purge();
        if let Some(seq) = seq {
            purge = purge.sequence(seq);
        }
        if let Some(subject) = subject {
            purge = purge.filter(subject);
        }
        if let Some(keep) = keep {
            purge = purge.keep(keep);
        }
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { Ok(purge.await.map(|_| true)?) },
            py_bool,
        );
        Ok(())
    }

    /// Creates (or updates) a consumer from its JSON config; completes `fut` with its info as
    /// JSON.
    fn add_consumer(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        stream: &str,
        config: &str,
    ) -> PyResult<()> {
        check_stream_name(stream)?;
        let config = parse_consumer_config(config)?;
        let stream = self.ctx.get_stream_no_info(stream);
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move {
                let c = stream.create_or_update_consumer(config).await?;
                json(c.cached_info())
            },
            py_str,
        );
        Ok(())
    }

    /// Deletes a consumer; completes `fut` with `True`.
    fn delete_consumer(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        stream: &str,
        consumer: String,
    ) -> PyResult<()> {
        check_stream_name(stream)?;
        let stream = self.ctx.get_stream_no_info(stream);
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { Ok(stream.delete_consumer(&consumer).await.map(|_| true)?) },
            py_bool,
        );
        Ok(())
    }

    /// Completes `fut` with a consumer's info as JSON.
    fn consumer_info(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        stream: &str,
        consumer: String,
    ) -> PyResult<()> {
        check_stream_name(stream)?;
        let stream = self.ctx.get_stream_no_info(stream);
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { json(&stream.consumer_info(&consumer).await?) },
            py_str,
        );
        Ok(())
    }

    /// Completes `fut` with the info of every consumer of `stream` as a JSON array.
    fn consumers_info(&self, hub: &wake::Hub, fut: Py<PyAny>, stream: &str) -> PyResult<()> {
        check_stream_name(stream)?;
        let stream = self.ctx.get_stream_no_info(stream);
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { json(&collect(stream.consumers()).await?) },
            py_str,
        );
        Ok(())
    }

    /// Pauses consumer `consumer` of `stream` until `pause_until` (RFC 3339); completes `fut`
    /// with the answer as JSON.
    fn pause_consumer(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        stream: &str,
        consumer: String,
        pause_until: &str,
    ) -> PyResult<()> {
        check_stream_name(stream)?;
        let until = time::OffsetDateTime::parse(
            pause_until,
            &time::format_description::well_known::Rfc3339,
        )
        .map_err(|e| {
            invalid(format!(
                "pause_until {pause_until:?} is not an RFC 3339 time: {e}"
            ))
        })?;
        let stream = self.ctx.get_stream_no_info(stream);
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { json(&stream.pause_consumer(&consumer, until).await?) },
            py_str,
        );
        Ok(())
    }

    /// Resumes a paused consumer; completes `fut` with the answer as JSON.
    fn resume_consumer(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        stream: &str,
        consumer: String,
    ) -> PyResult<()> {
        check_stream_name(stream)?;
        let stream = self.ctx.get_stream_no_info(stream);
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { json(&stream.resume_consumer(&consumer).await?) },
            py_str,
        );
        Ok(())
    }

    /// Reads one message of a stream (by `seq`, the last or, with `next`, the next one of
    /// `subject`; through Direct Get with `direct`); completes `fut` with `(subject, seq,
    /// data, headers as a list of pairs, time in ns)`.
    #[pyo3(signature = (hub, fut, stream, seq=None, subject=None, next=false, direct=false))]
    #[allow(clippy::too_many_arguments)]
    fn get_msg(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        stream: &str,
        seq: Option<u64>,
        subject: Option<String>,
        next: bool,
        direct: bool,
    ) -> PyResult<()> {
        check_stream_name(stream)?;
        if seq.is_none() && subject.is_none() {
            return Err(invalid("nats: get_msg needs seq or subject"));
        }
        let stream = self.ctx.get_stream_no_info(stream);
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move {
                let m = match (subject, direct) {
                    (None, false) => stream.get_raw_message(seq.unwrap_or(0)).await?,
                    (None, true) => stream.direct_get(seq.unwrap_or(0)).await?,
                    (Some(s), false) if next => {
                        stream
                            .get_next_raw_message_by_subject(s, seq.unwrap_or(0))
                            .await?
                    }
                    (Some(s), true) if next => {
                        stream
                            .direct_get_next_for_subject(s, seq.unwrap_or(0))
                            .await?
                    }
                    (Some(s), false) => stream.get_last_raw_message_by_subject(s).await?,
                    (Some(s), true) => stream.direct_get_last_for_subject(s).await?,
                };
                Ok(raw_msg(m))
            },
            |py, m: RawMsg| {
                let (subject, seq, data, headers, time) = m;
                let data = PyBytes::new(py, &data);
                Ok((subject, seq, data, headers, time)
                    .into_pyobject(py)?
                    .into_any()
                    .unbind())
            },
        );
        Ok(())
    }

    /// Deletes one message of a stream; completes `fut` with `True`.
    fn delete_msg(&self, hub: &wake::Hub, fut: Py<PyAny>, stream: &str, seq: u64) -> PyResult<()> {
        check_stream_name(stream)?;
        let stream = self.ctx.get_stream_no_info(stream);
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { Ok(stream.delete_message(seq).await.map(|_| true)?) },
            py_bool,
        );
        Ok(())
    }

    /// Publishes and completes `fut` with the acknowledgement `(stream, seq, duplicate,
    /// domain, val)`. `timeout` (seconds) bounds the wait for the acknowledgement.
    #[pyo3(signature = (hub, fut, subject, payload, headers=None, timeout=None, ttl=None))]
    #[allow(clippy::too_many_arguments)]
    fn publish(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        subject: String,
        payload: &Bound<'_, PyAny>,
        headers: Option<&Bound<'_, PyDict>>,
        timeout: Option<f64>,
        ttl: Option<f64>,
    ) -> PyResult<()> {
        let publish = make_publish(payload, headers, ttl)?;
        let limit = duration(timeout, "timeout")?;
        let ctx = self.ctx.clone();
        let send: BoxFuture<Result<PubAckFuture, rnats::Error>> =
            Box::pin(async move { ctx.publish_with(subject, publish).await });
        let wait = move |ack: PubAckFuture| async move {
            let out = match limit {
                Some(limit) => match tokio::time::timeout(limit, ack).await {
                    Ok(r) => r,
                    Err(_) => return Err(JsFail::Core("TimeoutError", String::new())),
                },
                None => ack.await,
            };
            out.map_err(JsFail::Publish)
        };
        let conv = |py: Python<'_>, ack: PubAck| Ok(pub_ack_tuple(py, &ack)?.into_any().unbind());
        match poll_now(send) {
            Ok(Ok(ack)) => {
                // Polled on the loop thread, as a core request's answer (`wake::LoopTask`).
                let answer: BoxFuture<wake::Job> =
                    Box::pin(
                        async move { settle_job_with(fut, wait(ack).await, js_fail_to_py, conv) },
                    );
                wake::LoopTask::start(payload.py(), Arc::clone(&hub.inner), answer);
            }
            Ok(Err(e)) => return Err(rnats_to_py(payload.py(), e, true)),
            Err(rest) => js_complete(
                Arc::clone(&hub.inner),
                fut,
                async move { wait(rest.await.map_err(JsFail::Publish)?).await },
                conv,
            ),
        }
        Ok(())
    }

    /// Publishes without waiting: the acknowledgement of publish `id` is later returned by
    /// `take_acks`, after a `wake()` job was queued in `hub` (once per batch).
    #[pyo3(signature = (hub, wake, id, subject, payload, headers=None, ttl=None))]
    #[allow(clippy::too_many_arguments)]
    fn publish_async(
        &self,
        hub: &wake::Hub,
        wake: &Bound<'_, PyAny>,
        id: u64,
        subject: String,
        payload: &Bound<'_, PyAny>,
        headers: Option<&Bound<'_, PyDict>>,
        ttl: Option<f64>,
    ) -> PyResult<()> {
        let publish = make_publish(payload, headers, ttl)?;
        let tx = self.ack_sender(hub, wake);
        let ctx = self.ctx.clone();
        let send: BoxFuture<Result<PubAckFuture, rnats::Error>> =
            Box::pin(async move { ctx.publish_with(subject, publish).await });
        match poll_now(send) {
            Ok(Ok(ack)) => {
                let _ = tx.send((id, ack));
            }
            Ok(Err(e)) => return Err(rnats_to_py(payload.py(), e, true)),
            Err(rest) => {
                // The write buffer is full: finish sending on the runtime; a failed send is
                // that publish's result.
                let acks = Arc::clone(&self.acks);
                let (hub, wake) = (Arc::clone(&hub.inner), Arc::new(wake.clone().unbind()));
                runtime().spawn(async move {
                    match rest.await {
                        Ok(ack) => {
                            let _ = tx.send((id, ack));
                        }
                        Err(e) => {
                            push_results(&acks, vec![(id, Err(e))], &hub, &wake);
                        }
                    }
                });
            }
        }
        Ok(())
    }

    /// The finished `publish_async` acknowledgements: a list of `(id, ok, value)`, `value`
    /// the ack tuple or the exception.
    fn take_acks<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        let done = {
            let mut d = self.acks.done.lock();
            d.1 = false;
            std::mem::take(&mut d.0)
        };
        let list = PyList::empty(py);
        for (id, r) in done {
            let item = match r {
                Ok(ack) => (id, true, pub_ack_tuple(py, &ack)?.into_any()).into_pyobject(py)?,
                Err(e) => {
                    let err = rnats_to_py(py, e, true).into_value(py).into_any();
                    (id, false, err.into_bound(py)).into_pyobject(py)?
                }
            };
            list.append(item)?;
        }
        Ok(list)
    }

    /// Binds to pull consumer `consumer` of `stream`: completes `fut` with a `PullSub`.
    fn pull_bind(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        stream: &str,
        consumer: String,
    ) -> PyResult<()> {
        check_stream_name(stream)?;
        let stream = self.ctx.get_stream_no_info(stream);
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { Ok(stream.get_consumer::<pull::Config>(&consumer).await?) },
            |py, consumer| Ok(Py::new(py, PullSub { consumer })?.into_any()),
        );
        Ok(())
    }

    /// Binds to push consumer `consumer` of `stream`: completes `fut` with a `JsSubscription`
    /// whose arrivals queue a `wake()` job in `hub`.
    fn push_bind(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        stream: &str,
        consumer: String,
        wake: Py<PyAny>,
    ) -> PyResult<()> {
        check_stream_name(stream)?;
        let stream = self.ctx.get_stream_no_info(stream);
        let hub2 = Arc::clone(&hub.inner);
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move {
                let c = stream.get_consumer::<push::Config>(&consumer).await?;
                Ok(c.messages().await?)
            },
            move |py, messages| {
                Ok(Py::new(py, JsSubscription::start(messages, hub2, wake))?.into_any())
            },
        );
        Ok(())
    }

    /// An ordered consumer on `stream` (rnats' ordered consumer: recreated on gaps) with the
    /// filters and start of the JSON consumer `config`; completes `fut` with a
    /// `JsSubscription`.
    #[pyo3(signature = (hub, fut, stream, config, wake, heartbeat=None))]
    fn ordered(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        stream: &str,
        config: &str,
        wake: Py<PyAny>,
        heartbeat: Option<f64>,
    ) -> PyResult<()> {
        check_stream_name(stream)?;
        let c = parse_consumer_config(config)?;
        let mut oc = OrderedConfig::default();
        oc.filter_subjects = if c.filter_subjects.is_empty() {
            Some(c.filter_subject.clone())
                .filter(|s| !s.is_empty())
                .into_iter()
                .collect()
        } else {
            c.filter_subjects.clone()
        };
        oc.deliver_policy = c.deliver_policy;
        oc.opt_start_seq = c.opt_start_seq;
        oc.opt_start_time = c.opt_start_time;
        oc.replay_policy = c.replay_policy;
        oc.headers_only = c.headers_only;
        if !c.inactive_threshold.is_zero() {
            oc.inactive_threshold = c.inactive_threshold;
        }
        if let Some(hb) = duration(heartbeat, "idle_heartbeat")? {
            oc.heartbeat = hb;
        }
        let stream = self.ctx.get_stream_no_info(stream);
        let hub2 = Arc::clone(&hub.inner);
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move { Ok(stream.ordered_messages(oc).await?) },
            move |py, inner| {
                let sub = JsSubscription::start_with(hub2, wake, |shared| TrackConsumer {
                    inner,
                    shared: Arc::clone(shared),
                    resets: None,
                });
                Ok(Py::new(py, sub)?.into_any())
            },
        );
        Ok(())
    }
}

fn make_publish(
    payload: &Bound<'_, PyAny>,
    headers: Option<&Bound<'_, PyDict>>,
    ttl: Option<f64>,
) -> PyResult<Publish> {
    // nats-py answers a publish nobody stores at once: no retries on 503.
    let mut publish = Publish::new()
        .payload(payload_bytes(payload)?)
        .retry_attempts(0);
    if let Some(h) = header_map(headers)? {
        publish = publish.headers(h);
    }
    if let Some(ttl) = duration(ttl, "msg_ttl")? {
        publish = publish.ttl(ttl);
    }
    Ok(publish)
}

impl JetStream {
    /// The sender to the acknowledgement collector, started on first use.
    fn ack_sender(
        &self,
        hub: &wake::Hub,
        wake: &Bound<'_, PyAny>,
    ) -> mpsc::UnboundedSender<(u64, PubAckFuture)> {
        let mut tx = self.acks.tx.lock();
        if let Some(tx) = tx.as_ref().filter(|t| !t.is_closed()) {
            return tx.clone();
        }
        let (sender, rx) = mpsc::unbounded_channel();
        runtime().spawn(collect_acks(
            rx,
            Arc::clone(&self.acks),
            Arc::clone(&hub.inner),
            Arc::new(wake.clone().unbind()),
        ));
        *tx = Some(sender.clone());
        sender
    }
}

/// Queues finished acknowledgements and wakes Python when none was pending.
fn push_results(
    acks: &Acks,
    results: Vec<AckResult>,
    hub: &HubInner,
    wake: &Arc<Py<PyAny>>,
) -> bool {
    let need_wake = {
        let mut d = acks.done.lock();
        d.0.extend(results);
        let need = !d.1;
        d.1 = true;
        need
    };
    if need_wake {
        return hub.push(wake_job(wake));
    }
    true
}

/// The collector: awaits every acknowledgement future at once and hands the finished ones to
/// Python in batches.
async fn collect_acks(
    mut rx: mpsc::UnboundedReceiver<(u64, PubAckFuture)>,
    acks: Arc<Acks>,
    hub: Arc<HubInner>,
    wake: Arc<Py<PyAny>>,
) {
    let mut pending = FuturesUnordered::new();
    loop {
        let batch = poll_fn(|cx| {
            let mut closed = false;
            loop {
                match rx.poll_recv(cx) {
                    Poll::Ready(Some((id, ack))) => {
                        pending.push(ack.map(move |r| (id, r)));
                    }
                    Poll::Ready(None) => {
                        closed = true;
                        break;
                    }
                    Poll::Pending => break,
                }
            }
            let mut out = Vec::new();
            while let Poll::Ready(Some(done)) = pending.poll_next_unpin(cx) {
                out.push(done);
            }
            if !out.is_empty() {
                Poll::Ready(Some(out))
            } else if closed && pending.is_empty() {
                Poll::Ready(None)
            } else {
                Poll::Pending
            }
        })
        .await;
        let Some(batch) = batch else { return };
        if !push_results(&acks, batch, &hub, &wake) {
            return; // the loop is gone
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Pull

/// A pull consumer bound by `pull_subscribe` / `pull_subscribe_bind`.
#[pyclass(frozen, module = "rnats._rnats")]
struct PullSub {
    consumer: consumer::PullConsumer,
}

#[pymethods]
impl PullSub {
    /// The consumer's name.
    fn name(&self) -> String {
        self.consumer.name().to_owned()
    }

    /// One pull of up to `batch` messages, waiting up to `expires` seconds for the first;
    /// completes `fut` with a list of message tuples (never empty: `TimeoutError`, or
    /// `FetchTimeoutError` when only heartbeats came).
    #[pyo3(signature = (hub, fut, batch, expires=None, heartbeat=None))]
    fn fetch(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        batch: usize,
        expires: Option<f64>,
        heartbeat: Option<f64>,
    ) -> PyResult<()> {
        if batch == 0 {
            return Err(invalid("nats: invalid batch size"));
        }
        // No timeout: nats-py waits until a message comes; here as pulls of 30 s, repeated
        // while nothing came and the caller still waits.
        let wait_forever = expires.is_none();
        let expires = duration(expires, "timeout")?.unwrap_or(Duration::from_secs(30));
        let mut builder = self.consumer.fetch().max_messages(batch).expires(expires);
        let hb = duration(heartbeat, "heartbeat")?;
        if let Some(hb) = hb {
            builder = builder.heartbeat(hb);
        }
        let waiting = Python::attach(|py| fut.clone_ref(py));
        js_complete(
            Arc::clone(&hub.inner),
            fut,
            async move {
                loop {
                    let mut pull = builder.clone().messages().await?;
                    let mut msgs = Vec::with_capacity(batch.min(1024));
                    let mut failed = None;
                    while let Some(item) = pull.next().await {
                        match item {
                            Ok(m) => msgs.push(m.message),
                            Err(e) => {
                                failed = Some(e);
                                break;
                            }
                        }
                    }
                    if !msgs.is_empty() {
                        return Ok(msgs);
                    }
                    let still_waiting = || {
                        with_python(|py| {
                            waiting
                                .bind(py)
                                .call_method0("done")
                                .and_then(|d| d.extract::<bool>())
                                .map(|done| !done)
                                .unwrap_or(false)
                        })
                        .unwrap_or(false)
                    };
                    return Err(match failed {
                        None if wait_forever && still_waiting() => continue,
                        Some(e) if e.is_timeout() => JsFail::Js("FetchTimeoutError", String::new()),
                        Some(e) => JsFail::Rnats(e),
                        None if hb.is_some() => JsFail::Js("FetchTimeoutError", String::new()),
                        None => JsFail::Core("TimeoutError", String::new()),
                    });
                }
            },
            |py, msgs: Vec<rnats::Message>| {
                let list = PyList::empty(py);
                for m in &msgs {
                    list.append(message_tuple(py, m)?)?;
                }
                Ok(list.into_any().unbind())
            },
        );
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Push and ordered subscriptions

struct JsSubShared {
    state: SubState,
    /// Messages handed over so far, and the most to hand over (0: no limit).
    delivered: AtomicU64,
    max: AtomicU64,
    /// An ordered consumer's current consumer (it changes when one is recreated).
    consumer: Mutex<Option<String>>,
}

/// An ordered consumer's messages, keeping [`JsSubShared::consumer`] up to date.
struct TrackConsumer {
    inner: consumer::Ordered,
    shared: Arc<JsSubShared>,
    resets: Option<u64>,
}

impl FuturesStream for TrackConsumer {
    type Item = Result<rnats::jetstream::Message, rnats::Error>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let out = this.inner.poll_next_unpin(cx);
        let resets = this.inner.resets();
        if this.resets != Some(resets) {
            if let Some(name) = this.inner.consumer_name() {
                *this.shared.consumer.lock() = Some(name.to_owned());
                this.resets = Some(resets);
            }
        }
        out
    }
}

/// A push (or ordered) consumer's messages, buffered for Python as a core subscription's are
/// (`rnats.aio.subscription.Subscription` wraps it).
#[pyclass(frozen, module = "rnats._rnats")]
struct JsSubscription {
    shared: Arc<JsSubShared>,
    task: tokio::task::AbortHandle,
    hub: Arc<HubInner>,
    wake: Arc<Py<PyAny>>,
}

impl JsSubscription {
    fn start<S>(messages: S, hub: Arc<HubInner>, wake: Py<PyAny>) -> Self
    where
        S: FuturesStream<Item = Result<rnats::jetstream::Message, rnats::Error>>
            + Send
            + Unpin
            + 'static,
    {
        Self::start_with(hub, wake, |_| messages)
    }

    /// Starts reading the stream `make` returns (given the shared state, for adapters).
    fn start_with<S>(
        hub: Arc<HubInner>,
        wake: Py<PyAny>,
        make: impl FnOnce(&Arc<JsSubShared>) -> S,
    ) -> Self
    where
        S: FuturesStream<Item = Result<rnats::jetstream::Message, rnats::Error>>
            + Send
            + Unpin
            + 'static,
    {
        let shared = Arc::new(JsSubShared {
            state: SubState {
                inbox: Mutex::new(Inbox {
                    msgs: VecDeque::new(),
                    scheduled: false,
                    ended: false,
                }),
                taken: tokio::sync::Notify::new(),
                limit: AtomicUsize::new(MAX_BUFFERED),
            },
            delivered: AtomicU64::new(0),
            max: AtomicU64::new(0),
            consumer: Mutex::new(None),
        });
        let messages = make(&shared);
        let wake = Arc::new(wake);
        let task = runtime()
            .spawn(js_read_loop(
                messages,
                Arc::clone(&shared),
                Arc::clone(&hub),
                Arc::clone(&wake),
            ))
            .abort_handle();
        Self {
            shared,
            task,
            hub,
            wake,
        }
    }

    /// Stops reading, marks the buffer ended and wakes the consumer.
    fn end(&self) {
        self.task.abort();
        let need_wake = {
            let mut inbox = self.shared.state.inbox.lock();
            inbox.ended = true;
            let need = !inbox.scheduled;
            inbox.scheduled = true;
            need
        };
        if need_wake {
            let _ = self.hub.push(wake_job(&self.wake));
        }
    }
}

async fn js_read_loop<S>(
    mut messages: S,
    shared: Arc<JsSubShared>,
    hub: Arc<HubInner>,
    wake: Arc<Py<PyAny>>,
) where
    S: FuturesStream<Item = Result<rnats::jetstream::Message, rnats::Error>> + Send + Unpin,
{
    let state = &shared.state;
    loop {
        loop {
            let taken = state.taken.notified();
            if state.inbox.lock().msgs.len() < state.limit.load(Ordering::Relaxed) {
                break;
            }
            taken.await;
        }
        let first = messages.next().await;
        let (need_wake, ended) = {
            let mut inbox = state.inbox.lock();
            let mut next = first;
            loop {
                match next {
                    Some(Ok(m)) => {
                        inbox.msgs.push_back(m.message);
                        let n = shared.delivered.fetch_add(1, Ordering::Relaxed) + 1;
                        let max = shared.max.load(Ordering::Relaxed);
                        if max > 0 && n >= max {
                            inbox.ended = true;
                            break;
                        }
                    }
                    // Missed heartbeats and status notices: the stream carries on.
                    Some(Err(_)) => {}
                    None => {
                        inbox.ended = true;
                        break;
                    }
                }
                if inbox.msgs.len() >= state.limit.load(Ordering::Relaxed) {
                    break;
                }
                match messages.next().now_or_never() {
                    Some(item) => next = item,
                    None => break,
                }
            }
            let need = !inbox.scheduled && (!inbox.msgs.is_empty() || inbox.ended);
            if need {
                inbox.scheduled = true;
            }
            (need, inbox.ended)
        };
        if need_wake && !hub.push(wake_job(&wake)) {
            return; // the loop is gone
        }
        if ended {
            return;
        }
    }
}

#[pymethods]
impl JsSubscription {
    /// Takes every buffered message: `(list of message tuples, ended)`.
    fn take<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyList>, bool)> {
        self.shared.state.take(py)
    }

    /// Stops now (`limit == 0`) or after `limit` messages in total.
    fn unsubscribe(&self, limit: u64) {
        if limit == 0 || self.shared.delivered.load(Ordering::Relaxed) >= limit {
            self.end();
        } else {
            self.shared.max.store(limit, Ordering::Relaxed);
        }
    }

    /// Stops reading; messages already buffered are still delivered. Completes `fut`.
    fn drain(&self, py: Python<'_>, hub: &wake::Hub, fut: Py<PyAny>) -> PyResult<()> {
        let _ = hub;
        self.end();
        completer(py)?.call1((fut, true, py.None()))?;
        Ok(())
    }

    /// Messages received but not yet taken by Python.
    fn pending(&self) -> usize {
        self.shared.state.inbox.lock().msgs.len()
    }

    /// An ordered consumer's current consumer name (`None` for other subscriptions).
    fn consumer_name(&self) -> Option<String> {
        self.shared.consumer.lock().clone()
    }

    /// Messages dropped (none: the reader waits when the buffer is full).
    fn dropped(&self) -> u64 {
        0
    }

    /// Sets the most messages buffered here.
    fn set_pending_limits(&self, messages: usize, bytes: usize) {
        let _ = bytes;
        self.shared
            .state
            .limit
            .store(messages.clamp(1, MAX_BUFFERED), Ordering::Relaxed);
    }
}

impl Drop for JsSubscription {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Registers the JetStream functions and classes on `_rnats`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(jetstream, m)?)?;
    m.add_function(wrap_pyfunction!(ack_payload, m)?)?;
    m.add_function(wrap_pyfunction!(ack_metadata, m)?)?;
    m.add_class::<JetStream>()?;
    m.add_class::<PullSub>()?;
    m.add_class::<JsSubscription>()?;
    Ok(())
}
