//! `rnats._rnats`: the glue between the rnats Rust client and the Python package `rnats`.
//!
//! Everything nats-py-shaped (argument defaults, callbacks, `Msg`, `Subscription`) lives in the
//! Python sources under `python/rnats`; this module only exposes the rnats core to them. The
//! costs that shape it (see the binding notes):
//!
//! - **Calls that usually finish at once** (publish, subscribe, sending a request) are polled
//!   once, right here on the event loop's thread, inside the process-wide tokio runtime's
//!   context. Only when that poll is pending (a full write buffer) is the rest handed to a
//!   tokio task. No task and no asyncio future per publish.
//! - **Everything that comes back** (a request's answer, a subscription's messages, the end of
//!   connect / flush / drain / close, connection events) reaches the loop through its
//!   completion hub ([`wake`]): the tokio side queues a job without the GIL and wakes the loop
//!   with one byte on a socket pair only when the hub was idle; the loop runs the whole queue
//!   on its next turn, converting results to Python objects there. Messages are buffered per
//!   subscription on the Rust side and the Python consumer takes the whole batch (`take`). A
//!   request's `Response` is even polled on the loop thread itself (`wake::LoopTask`).
//!
//! A hub whose loop is gone refuses jobs: the delivering task ends and the results are dropped.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{FutureExt, StreamExt};
use parking_lot::Mutex;
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyDict, PyList, PyMemoryView, PyTuple};
mod connect;
mod js;
mod kv;
mod os;
mod pump;
mod svc;
mod wake;

use rnats::{ConnectionState, ErrorKind, Event, HeaderMap};

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Most messages a subscription buffers on the Rust side before Python takes them, unless
/// its pending limit is lower; beyond this the subscription's own queue (bounded by the same
/// limit, with its slow-consumer accounting) takes over.
const MAX_BUFFERED: usize = 65_536;

/// Set by the `atexit` hook: from then on no tokio thread enters the interpreter.
static SHUTTING_DOWN: AtomicBool = AtomicBool::new(false);
/// Tokio threads between deciding to enter the interpreter and leaving it.
static ATTACHING: AtomicUsize = AtomicUsize::new(0);

/// Runs `f` with the GIL from a tokio thread, unless the interpreter is shutting down.
///
/// A thread that takes the GIL while CPython finalizes is ended with `pthread_exit`, which
/// aborts a Rust thread (seen as SIGABRT at exit). The `atexit` hook (`shutdown`) sets
/// `SHUTTING_DOWN` and then, with the GIL released, waits for the threads already counted in
/// `ATTACHING`; a thread counts itself before checking the flag, so none can slip through.
pub(crate) fn with_python<R>(f: impl FnOnce(Python<'_>) -> R) -> Option<R> {
    ATTACHING.fetch_add(1, Ordering::SeqCst);
    let out = if SHUTTING_DOWN.load(Ordering::SeqCst) {
        None
    } else {
        Python::try_attach(f)
    };
    ATTACHING.fetch_sub(1, Ordering::SeqCst);
    out
}

/// The `atexit` hook: no tokio thread enters the interpreter after this returns.
#[pyfunction]
fn _shutdown(py: Python<'_>) {
    SHUTTING_DOWN.store(true, Ordering::SeqCst);
    py.detach(|| {
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while ATTACHING.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    });
}

fn runtime() -> &'static tokio::runtime::Runtime {
    pyo3_async_runtimes::tokio::get_runtime()
}

/// Polls `fut` in the runtime's context: `Ok(value)` when it is done, `Err(fut)` (to be
/// spawned) when it is not. A future that woke itself while pending (rnats' `send_request`
/// yields once from outside a task before it writes) is polled again at once, a few times
/// at most.
fn poll_now<T>(mut fut: BoxFuture<T>) -> Result<T, BoxFuture<T>> {
    /// Set when the waker is used.
    struct Woken(AtomicBool);
    impl std::task::Wake for Woken {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::Relaxed);
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    thread_local! {
        static WOKEN: (Arc<Woken>, Waker) = {
            let flag = Arc::new(Woken(AtomicBool::new(false)));
            (Arc::clone(&flag), Waker::from(flag))
        };
    }
    let _guard = runtime().enter();
    WOKEN.with(|(flag, waker)| {
        let mut cx = Context::from_waker(waker);
        for _ in 0..4 {
            flag.0.store(false, Ordering::Relaxed);
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(value) => return Ok(value),
                Poll::Pending if flag.0.load(Ordering::Relaxed) => {}
                Poll::Pending => break,
            }
        }
        Err(fut)
    })
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A failure to be raised in Python: an rnats error (mapped by kind), or a named class of
/// `rnats.errors` with a detail text.
pub(crate) enum Fail {
    Rnats(rnats::Error),
    Class(&'static str, String),
}

impl From<rnats::Error> for Fail {
    fn from(e: rnats::Error) -> Self {
        Fail::Rnats(e)
    }
}

/// The `rnats.errors` class for an rnats error (nats-py's names), or `None` for a builtin.
fn class_for(e: &rnats::Error) -> Option<&'static str> {
    let text = e.to_string();
    Some(match e.kind() {
        ErrorKind::InvalidArgument => {
            if text.contains("header") {
                "BadHeaderError"
            } else if text.contains("subject") || text.contains("queue") {
                "BadSubjectError"
            } else {
                return None;
            }
        }
        ErrorKind::MaxPayloadExceeded => "MaxPayloadError",
        ErrorKind::Timeout => "TimeoutError",
        ErrorKind::NoResponders => "NoRespondersError",
        ErrorKind::ConnectionClosed => "ConnectionClosedError",
        ErrorKind::Draining => "ConnectionDrainingError",
        ErrorKind::ReconnectBufferFull => "OutboundBufferLimitError",
        ErrorKind::ConnectFailed => "NoServersError",
        ErrorKind::Protocol => "ProtocolError",
        ErrorKind::Authorization => "AuthorizationError",
        ErrorKind::Tls => "SecureConnFailedError",
        ErrorKind::Io => return None,
        _ => "Error",
    })
}

fn error_class<'py>(py: Python<'py>, name: &str) -> PyResult<Bound<'py, PyAny>> {
    static ERRORS: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let module = ERRORS.get_or_try_init(py, || -> PyResult<_> {
        Ok(py.import("rnats.errors")?.unbind())
    })?;
    module.bind(py).getattr(name)
}

pub(crate) fn make_err(py: Python<'_>, class: &str, detail: String) -> PyErr {
    match error_class(py, class).and_then(|cls| cls.call1((detail,))) {
        Ok(obj) => PyErr::from_value(obj),
        Err(e) => e,
    }
}

fn fail_to_py(py: Python<'_>, fail: Fail) -> PyErr {
    match fail {
        Fail::Class(class, detail) => make_err(py, class, detail),
        Fail::Rnats(e) => {
            // `Display` of rnats errors never carries secrets (pinned by its tests), nor do
            // their causes (the core's own errors, and the binding's callable failures).
            let mut detail = e.to_string();
            if e.kind() == ErrorKind::Authorization {
                detail = with_causes(&e);
            }
            if let Some(class) = tls_class(&e) {
                // A connect failure's text already lists each server's causes.
                let text = if e.kind() == ErrorKind::ConnectFailed {
                    e.to_string()
                } else {
                    with_causes(&e)
                };
                return make_err(py, class, text);
            }
            match class_for(&e) {
                Some(class) => make_err(py, class, detail),
                None if e.kind() == ErrorKind::Io => PyOSError::new_err(detail),
                None => PyValueError::new_err(detail),
            }
        }
    }
}

/// The message of `e` followed by its causes (`a: b: c`), a cause that repeats the text
/// before it left out.
fn with_causes(e: &rnats::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The rustls error behind a TLS failure (directly, or inside an `io::Error` from the TLS
/// stream), if any.
fn rustls_cause(e: &rnats::Error) -> Option<&rustls::Error> {
    if !matches!(e.kind(), ErrorKind::Tls | ErrorKind::ConnectFailed) {
        return None;
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(r) = s.downcast_ref::<rustls::Error>() {
            return Some(r);
        }
        if let Some(r) = s
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Some(r);
        }
        source = s.source();
    }
    None
}

/// The `ssl.SSLError` subclass of `rnats.errors` for a TLS failure, if `e` is one.
fn tls_class(e: &rnats::Error) -> Option<&'static str> {
    rustls_cause(e).map(|tls| match tls {
        rustls::Error::InvalidCertificate(_) => "CertificateVerificationError",
        _ => "TLSError",
    })
}

fn to_py(e: rnats::Error) -> PyErr {
    Python::attach(|py| fail_to_py(py, Fail::Rnats(e)))
}

// ---------------------------------------------------------------------------------------------
// Completing asyncio futures from tokio

/// `rnats._bridge.complete(fut, ok, value)`: sets the result or exception unless the future
/// was cancelled meanwhile.
fn completer(py: Python<'_>) -> PyResult<&Bound<'_, PyAny>> {
    static COMPLETE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    COMPLETE.import(py, "rnats._bridge", "complete")
}

/// Schedules `callable(*args)` on `event_loop`. `false` when the loop is gone (closed).
fn call_soon<'py>(
    py: Python<'py>,
    event_loop: &Py<PyAny>,
    args: impl pyo3::call::PyCallArgs<'py>,
) -> bool {
    event_loop
        .bind(py)
        .call_method1("call_soon_threadsafe", args)
        .is_ok()
}

/// Awaits `fut` on the runtime; the conversion with `conv` and the completion of `pyfut`
/// happen later on the loop thread, in a [`wake::Hub`] job: no GIL on the tokio side, and one
/// wake-up for a burst of answers.
pub(crate) fn complete_on<T, F, C>(hub: Arc<wake::HubInner>, pyfut: Py<PyAny>, fut: F, conv: C)
where
    T: Send + 'static,
    F: Future<Output = Result<T, Fail>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    runtime().spawn(async move {
        let out = fut.await;
        let _ = hub.push(settle_job(pyfut, out, conv));
    });
}

/// The job that converts `out` with `conv` and completes `pyfut` (on the loop thread).
pub(crate) fn settle_job<T, C>(pyfut: Py<PyAny>, out: Result<T, Fail>, conv: C) -> wake::Job
where
    T: Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    settle_job_with(pyfut, out, fail_to_py, conv)
}

/// [`settle_job`] with the failure type's own conversion into a Python exception.
pub(crate) fn settle_job_with<T, E, C>(
    pyfut: Py<PyAny>,
    out: Result<T, E>,
    to_err: fn(Python<'_>, E) -> PyErr,
    conv: C,
) -> wake::Job
where
    T: Send + 'static,
    E: Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    Box::new(move |py| {
        let (ok, value) = match out.map_err(|f| to_err(py, f)).and_then(|v| conv(py, v)) {
            Ok(v) => (true, v),
            Err(e) => (false, e.into_value(py).into_any()),
        };
        if let Ok(complete) = completer(py) {
            if let Err(e) = complete.call1((pyfut, ok, value)) {
                e.write_unraisable(py, None);
            }
        }
    })
}

fn none(py: Python<'_>, _: ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

pub(crate) fn duration(seconds: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    match seconds {
        None => Ok(None),
        Some(s) if s.is_finite() && s > 0.0 && s < 1e9 => Ok(Some(Duration::from_secs_f64(s))),
        Some(s) => Err(PyValueError::new_err(format!(
            "{what} must be a positive number of seconds, got {s}"
        ))),
    }
}

// ---------------------------------------------------------------------------------------------
// Conversions

/// The payload as `Bytes`: `bytes`, `bytearray` and `memoryview` (copied), nothing else.
fn payload_bytes(obj: &Bound<'_, PyAny>) -> PyResult<Bytes> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(Bytes::copy_from_slice(b.as_bytes()));
    }
    if let Ok(b) = obj.cast::<PyByteArray>() {
        return Ok(Bytes::from(b.to_vec()));
    }
    if obj.is_instance_of::<PyMemoryView>() {
        let copied = obj.call_method0("tobytes")?;
        let b = copied.cast::<PyBytes>()?;
        return Ok(Bytes::copy_from_slice(b.as_bytes()));
    }
    Err(PyTypeError::new_err(format!(
        "payload must be bytes, bytearray or memoryview, not {}",
        obj.get_type().name()?
    )))
}

/// A `dict` of header name to value (`str`, or a list of `str` for several values).
fn header_map(headers: Option<&Bound<'_, PyDict>>) -> PyResult<Option<HeaderMap>> {
    let Some(headers) = headers else {
        return Ok(None);
    };
    let mut map = HeaderMap::new();
    for (k, v) in headers.iter() {
        let name: String = k
            .extract()
            .map_err(|_| PyTypeError::new_err("header names must be str"))?;
        if let Ok(value) = v.extract::<String>() {
            map.append(name, value);
        } else if let Ok(values) = v.extract::<Vec<String>>() {
            for value in values {
                map.append(name.clone(), value);
            }
        } else {
            return Err(PyTypeError::new_err(format!(
                "header {name:?}: value must be str or a list of str"
            )));
        }
    }
    map.validate()
        .map_err(|e| Python::attach(|py| make_err(py, "BadHeaderError", e.to_string())))?;
    Ok(Some(map))
}

/// `(subject, reply, data, headers or None)` for `rnats.aio.msg.Msg`. Headers: a `dict`,
/// last value wins for repeated names (nats-py's shape); an inline status (e.g. 503) appears
/// as `Status` and `Description`, as nats-py shows them.
fn message_tuple<'py>(py: Python<'py>, m: &rnats::Message) -> PyResult<Bound<'py, PyTuple>> {
    let headers: Bound<'py, PyAny> = if m.headers.is_some() || m.status.is_some() {
        let d = PyDict::new(py);
        if let Some(status) = m.status {
            d.set_item("Status", status.as_u16().to_string())?;
            if let Some(desc) = &m.description {
                d.set_item("Description", desc)?;
            }
        }
        if let Some(h) = &m.headers {
            for (k, v) in h.iter() {
                d.set_item(k, v)?;
            }
        }
        d.into_any()
    } else {
        py.None().into_bound(py)
    };
    let reply: &str = m.reply.as_deref().unwrap_or("");
    PyTuple::new(
        py,
        [
            m.subject.as_ref().into_pyobject(py)?.into_any(),
            reply.into_pyobject(py)?.into_any(),
            PyBytes::new(py, &m.payload).into_any(),
            headers,
        ],
    )
}

// ---------------------------------------------------------------------------------------------
// Connect

pub(crate) fn forward_event(sink: &(Arc<wake::HubInner>, Arc<Py<PyAny>>), event: Event) {
    let (kind, err): (&str, Option<Fail>) = match event {
        Event::Disconnected { .. } => ("disconnected", None),
        Event::Reconnected { .. } => ("reconnected", None),
        Event::Closed => ("closed", None),
        Event::LameDuck { .. } => ("lame_duck", None),
        Event::DiscoveredServers(_) => ("discovered", None),
        Event::SlowConsumer { subject, dropped } => (
            "slow_consumer",
            Some(Fail::Class(
                "SlowConsumerError",
                format!("slow consumer on {subject:?}: {dropped} message(s) dropped"),
            )),
        ),
        Event::ServerError(e) | Event::ClientError(e) => (
            "error",
            Some(if let Some(class) = tls_class(&e) {
                // A TLS failure on reconnect: the ssl.SSLError subclasses, as at connect.
                Fail::Class(class, with_causes(&e))
            } else {
                // An auth failure's causes say why (e.g. which credential callable raised).
                let detail = if e.kind() == ErrorKind::Authorization {
                    with_causes(&e)
                } else {
                    e.to_string()
                };
                Fail::Class(class_for(&e).unwrap_or("Error"), detail)
            }),
        ),
        _ => return,
    };
    let on_event = Arc::clone(&sink.1);
    let _ = sink.0.push(Box::new(move |py| {
        let err_obj: Py<PyAny> = match err {
            Some(f) => fail_to_py(py, f).into_value(py).into_any(),
            None => py.None(),
        };
        if let Err(e) = on_event.call1(py, (kind, err_obj)) {
            e.write_unraisable(py, None);
        }
    }));
}

// ---------------------------------------------------------------------------------------------
// Client

/// A connected rnats client (`rnats.aio.client.Client` wraps it).
#[pyclass(frozen, module = "rnats._rnats")]
pub(crate) struct Client {
    pub(crate) client: rnats::Client,
}

/// The rest of a publish that could not finish at once (write buffer full).
#[pyclass(frozen, module = "rnats._rnats")]
struct Pending {
    fut: Mutex<Option<BoxFuture<Result<(), rnats::Error>>>>,
}

#[pymethods]
impl Pending {
    /// Finishes the publish on the runtime and completes `fut` through `hub`.
    fn wait(&self, hub: &wake::Hub, fut: Py<PyAny>) {
        if let Some(rest) = self.fut.lock().take() {
            complete_on(
                Arc::clone(&hub.inner),
                fut,
                async move { Ok(rest.await?) },
                none,
            );
        }
    }
}

#[pymethods]
impl Client {
    /// Publishes; `None` when done, a `Pending` to wait for when the write buffer was full.
    #[pyo3(signature = (subject, payload, reply, headers))]
    fn publish(
        &self,
        subject: &str,
        payload: &Bound<'_, PyAny>,
        reply: &str,
        headers: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Option<Pending>> {
        let mut p = rnats::Publish::new().payload(payload_bytes(payload)?);
        if !reply.is_empty() {
            p = p.reply(reply);
        }
        if let Some(h) = header_map(headers)? {
            p = p.headers(h);
        }
        // Sent at once when the write buffer has room (the common case: no future, no
        // allocation beyond the payload's copy); only a full buffer makes a `Pending`.
        match self.client.try_publish_with(subject, &p) {
            Ok(true) => Ok(None),
            Ok(false) => {
                let client = self.client.clone();
                let subject = subject.to_owned();
                Ok(Some(Pending {
                    fut: Mutex::new(Some(Box::pin(async move {
                        client.publish_with(subject, p).await
                    }))),
                }))
            }
            Err(e) => Err(to_py(e)),
        }
    }

    /// Subscribes: completes `fut` with a `Subscription` whose arrivals schedule `wake()` on
    /// `event_loop`.
    #[pyo3(signature = (hub, fut, subject, queue, wake, max_msgs))]
    fn subscribe(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        subject: String,
        queue: String,
        wake: Py<PyAny>,
        max_msgs: u64,
    ) -> PyResult<()> {
        let client = self.client.clone();
        let hub = Arc::clone(&hub.inner);
        let hub2 = Arc::clone(&hub);
        let work: BoxFuture<Result<rnats::Subscriber, rnats::Error>> = Box::pin(async move {
            let sub = if queue.is_empty() {
                client.subscribe(subject).await?
            } else {
                client.queue_subscribe(subject, queue).await?
            };
            if max_msgs > 0 {
                sub.unsubscribe_after(max_msgs).await?;
            }
            Ok(sub)
        });
        let make = move |py: Python<'_>, sub: rnats::Subscriber| -> PyResult<Py<PyAny>> {
            Ok(Py::new(py, Subscription::start(sub, hub2, wake))?.into_any())
        };
        match poll_now(work) {
            Ok(Ok(sub)) => Python::attach(|py| {
                let obj = make(py, sub)?;
                let complete = completer(py)?;
                complete.call1((fut, true, obj))?;
                Ok(())
            }),
            Ok(Err(e)) => Err(to_py(e)),
            Err(rest) => {
                complete_on(hub, fut, async move { Ok(rest.await?) }, make);
                Ok(())
            }
        }
    }

    /// Sends a request now; completes `fut` with the answer's message tuple through `hub`
    /// (the completion hub of the loop that awaits `fut`).
    #[pyo3(signature = (hub, fut, subject, payload, timeout, headers))]
    fn request(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        subject: String,
        payload: &Bound<'_, PyAny>,
        timeout: Option<f64>,
        headers: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<()> {
        let mut req = rnats::Request::new().payload(payload_bytes(payload)?);
        req = match duration(timeout, "timeout")? {
            Some(t) => req.timeout(t),
            None => req.no_timeout(),
        };
        if let Some(h) = header_map(headers)? {
            req = req.headers(h);
        }
        let client = self.client.clone();
        let conv = |py: Python<'_>, m: rnats::Message| -> PyResult<Py<PyAny>> {
            Ok(message_tuple(py, &m)?.into_any().unbind())
        };
        let send: BoxFuture<Result<rnats::Response, rnats::Error>> =
            Box::pin(async move { client.send_request(subject, req).await });
        let hub = Arc::clone(&hub.inner);
        match poll_now(send) {
            Ok(Ok(response)) => {
                // Polled on the loop thread (see `wake::LoopTask`): no tokio task per request.
                let answer: BoxFuture<wake::Job> = Box::pin(async move {
                    let out = response.await.map_err(Fail::from);
                    settle_job(fut, out, conv)
                });
                wake::LoopTask::start(payload.py(), hub, answer);
            }
            Ok(Err(e)) => return Err(to_py(e)),
            Err(rest) => complete_on(hub, fut, async move { Ok(rest.await?.await?) }, conv),
        }
        Ok(())
    }

    /// Flushes; `FlushTimeoutError` after `timeout` seconds.
    fn flush(&self, hub: &wake::Hub, fut: Py<PyAny>, timeout: Option<f64>) -> PyResult<()> {
        let limit = duration(timeout, "timeout")?;
        let client = self.client.clone();
        complete_on(
            Arc::clone(&hub.inner),
            fut,
            async move {
                match limit {
                    Some(limit) => match tokio::time::timeout(limit, client.flush()).await {
                        Ok(r) => Ok(r?),
                        Err(_) => Err(Fail::Class("FlushTimeoutError", String::new())),
                    },
                    None => Ok(client.flush().await?),
                }
            },
            none,
        );
        Ok(())
    }

    /// Drains every subscription, then closes; `DrainTimeoutError` after `timeout` seconds.
    fn drain(&self, hub: &wake::Hub, fut: Py<PyAny>, timeout: Option<f64>) -> PyResult<()> {
        let limit = duration(timeout, "drain_timeout")?;
        let client = self.client.clone();
        complete_on(
            Arc::clone(&hub.inner),
            fut,
            async move {
                match limit {
                    Some(limit) => match tokio::time::timeout(limit, client.drain()).await {
                        Ok(r) => Ok(r?),
                        Err(_) => {
                            let _ = client.close().await;
                            Err(Fail::Class("DrainTimeoutError", String::new()))
                        }
                    },
                    None => Ok(client.drain().await?),
                }
            },
            none,
        );
        Ok(())
    }

    /// Closes: completes `fut` when the connection is closed.
    fn close(&self, hub: &wake::Hub, fut: Py<PyAny>) {
        let client = self.client.clone();
        complete_on(
            Arc::clone(&hub.inner),
            fut,
            async move {
                match client.close().await {
                    Ok(()) => Ok(()),
                    Err(e) if e.is_connection_closed() => Ok(()),
                    Err(e) => Err(e.into()),
                }
            },
            none,
        );
    }

    /// Measures the round trip (PING/PONG): completes `fut` with seconds as a float;
    /// `TimeoutError` after `timeout` seconds.
    fn rtt(&self, hub: &wake::Hub, fut: Py<PyAny>, timeout: Option<f64>) -> PyResult<()> {
        let limit = duration(timeout, "timeout")?;
        let client = self.client.clone();
        complete_on(
            Arc::clone(&hub.inner),
            fut,
            async move {
                match limit {
                    Some(limit) => match tokio::time::timeout(limit, client.rtt()).await {
                        Ok(r) => Ok(r?),
                        Err(_) => Err(Fail::Class("TimeoutError", String::new())),
                    },
                    None => Ok(client.rtt().await?),
                }
            },
            |py, rtt: Duration| Ok(rtt.as_secs_f64().into_pyobject(py)?.into_any().unbind()),
        );
        Ok(())
    }

    /// Drops the connection and connects again (subscriptions replayed); completes `fut`.
    fn force_reconnect(&self, hub: &wake::Hub, fut: Py<PyAny>) {
        let client = self.client.clone();
        complete_on(
            Arc::clone(&hub.inner),
            fut,
            async move { Ok(client.force_reconnect().await?) },
            none,
        );
    }

    /// A new unique inbox subject under the client's inbox prefix.
    fn new_inbox(&self) -> String {
        self.client.new_inbox()
    }

    /// "connected", "reconnecting", "closed" (or "pending" before the first connection).
    fn state(&self) -> &'static str {
        match self.client.connection_state() {
            ConnectionState::Connected => "connected",
            ConnectionState::Closed => "closed",
            ConnectionState::Draining => "draining",
            _ => "reconnecting",
        }
    }

    /// The URL of the server connected to, or `None`.
    fn connected_url(&self) -> Option<String> {
        self.client.connected_server().map(|s| s.to_string())
    }

    /// The server's `max_payload`.
    fn max_payload(&self) -> usize {
        self.client.server_info().max_payload
    }

    /// The client id the server assigned.
    fn client_id(&self) -> u64 {
        self.client.server_info().client_id
    }

    /// The server's INFO fields nats-py exposes.
    fn server_info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let info = self.client.server_info();
        let d = PyDict::new(py);
        d.set_item("server_id", info.server_id)?;
        d.set_item("server_name", info.server_name)?;
        d.set_item("version", info.version)?;
        d.set_item("go", info.go)?;
        d.set_item("host", info.host)?;
        d.set_item("port", info.port)?;
        d.set_item("headers", info.headers)?;
        d.set_item("max_payload", info.max_payload)?;
        d.set_item("proto", info.proto)?;
        d.set_item("client_id", info.client_id)?;
        d.set_item("client_ip", info.client_ip)?;
        d.set_item("auth_required", info.auth_required)?;
        d.set_item("tls_required", info.tls_required)?;
        d.set_item("jetstream", info.jetstream)?;
        d.set_item("connect_urls", PyList::new(py, info.connect_urls)?)?;
        Ok(d)
    }

    /// Counters: `(in_msgs, out_msgs, in_bytes, out_bytes, reconnects)`.
    fn stats(&self) -> (u64, u64, u64, u64, u64) {
        let s = self.client.statistics();
        (s.in_msgs, s.out_msgs, s.in_bytes, s.out_bytes, s.reconnects)
    }

    /// The server URLs of the pool (credentials never shown).
    fn servers(&self) -> Vec<String> {
        self.client
            .servers()
            .iter()
            .map(|s| s.to_string())
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

struct Inbox {
    msgs: VecDeque<rnats::Message>,
    /// A `wake()` is scheduled and the consumer has not taken since.
    scheduled: bool,
    /// The subscriber's stream ended (unsubscribed, drained, closed, max reached).
    ended: bool,
}

pub(crate) struct SubState {
    inbox: Mutex<Inbox>,
    /// Signalled when Python takes a batch (the reader waits on it when the buffer is full).
    taken: tokio::sync::Notify,
    /// Most messages buffered here: `min(MAX_BUFFERED, pending_msgs_limit)`.
    limit: AtomicUsize,
}

impl SubState {
    /// Takes every buffered message (the consumer's side, on the loop thread): `(list of
    /// message tuples, ended)`; lets a reader waiting for room go on.
    pub(crate) fn take<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyList>, bool)> {
        let (msgs, ended) = {
            let mut inbox = self.inbox.lock();
            inbox.scheduled = false;
            (std::mem::take(&mut inbox.msgs), inbox.ended)
        };
        if !msgs.is_empty() {
            self.taken.notify_one();
        }
        let list = PyList::empty(py);
        for m in &msgs {
            list.append(message_tuple(py, m)?)?;
        }
        Ok((list, ended))
    }
}

/// A subscription: a tokio task reads the rnats `Subscriber` into a buffer that Python takes
/// in batches (`rnats.aio.subscription.Subscription` wraps it).
#[pyclass(frozen, module = "rnats._rnats")]
struct Subscription {
    sub: Arc<rnats::Subscriber>,
    state: Arc<SubState>,
}

impl Subscription {
    fn start(sub: rnats::Subscriber, hub: Arc<wake::HubInner>, wake: Py<PyAny>) -> Self {
        let sub = Arc::new(sub);
        let state = Arc::new(SubState {
            inbox: Mutex::new(Inbox {
                msgs: VecDeque::new(),
                scheduled: false,
                ended: false,
            }),
            taken: tokio::sync::Notify::new(),
            limit: AtomicUsize::new(MAX_BUFFERED),
        });
        runtime().spawn(read_loop(
            Arc::clone(&sub),
            Arc::clone(&state),
            hub,
            Arc::new(wake),
        ));
        Self { sub, state }
    }
}

async fn read_loop(
    sub: Arc<rnats::Subscriber>,
    state: Arc<SubState>,
    hub: Arc<wake::HubInner>,
    wake: Arc<Py<PyAny>>,
) {
    let mut stream: &rnats::Subscriber = &sub;
    loop {
        // Back-pressure: wait while Python has not taken a full buffer.
        loop {
            let taken = state.taken.notified();
            if state.inbox.lock().msgs.len() < state.limit.load(Ordering::Relaxed) {
                break;
            }
            taken.await;
        }
        let first = stream.next().await;
        let need_wake = {
            let mut inbox = state.inbox.lock();
            match first {
                Some(m) => {
                    inbox.msgs.push_back(m);
                    let limit = state.limit.load(Ordering::Relaxed);
                    while inbox.msgs.len() < limit {
                        match stream.next().now_or_never() {
                            Some(Some(m)) => inbox.msgs.push_back(m),
                            Some(None) => {
                                inbox.ended = true;
                                break;
                            }
                            None => break,
                        }
                    }
                }
                None => inbox.ended = true,
            }
            let need = !inbox.scheduled;
            inbox.scheduled = true;
            need
        };
        let ended = state.inbox.lock().ended;
        if need_wake {
            let wake = Arc::clone(&wake);
            let job = move |py: Python<'_>| {
                if let Err(e) = wake.call0(py) {
                    e.write_unraisable(py, None);
                }
            };
            if !hub.push(Box::new(job)) {
                return; // the loop is gone: nobody will take these
            }
        }
        if ended {
            return;
        }
    }
}

#[pymethods]
impl Subscription {
    /// Takes every buffered message: `(list of message tuples, ended)`.
    fn take<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyList>, bool)> {
        self.state.take(py)
    }

    /// Unsubscribes now (`limit == 0`) or after `limit` messages in total.
    fn unsubscribe(&self, limit: u64) -> PyResult<()> {
        let sub = Arc::clone(&self.sub);
        let work: BoxFuture<Result<(), rnats::Error>> = Box::pin(async move {
            if limit == 0 {
                sub.unsubscribe().await
            } else {
                sub.unsubscribe_after(limit).await
            }
        });
        match poll_now(work) {
            Ok(r) => r.map_err(to_py),
            Err(rest) => {
                runtime().spawn(rest);
                Ok(())
            }
        }
    }

    /// Drains: completes `fut` once the server confirmed and in-flight messages arrived.
    fn drain(&self, hub: &wake::Hub, fut: Py<PyAny>) {
        let sub = Arc::clone(&self.sub);
        complete_on(
            Arc::clone(&hub.inner),
            fut,
            async move { Ok(sub.drain().await?) },
            none,
        );
    }

    /// Messages received but not yet taken by Python.
    fn pending(&self) -> usize {
        self.sub.pending() + self.state.inbox.lock().msgs.len()
    }

    /// Messages dropped because this subscription fell behind.
    fn dropped(&self) -> u64 {
        self.sub.dropped()
    }

    /// Sets the pending limits of the rnats subscription queue.
    fn set_pending_limits(&self, messages: usize, bytes: usize) {
        self.sub.set_pending_limits(messages, bytes);
        self.state
            .limit
            .store(messages.clamp(1, MAX_BUFFERED), Ordering::Relaxed);
    }
}

#[pymodule(gil_used = true)]
fn _rnats(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(connect::connect, m)?)?;
    let shutdown = wrap_pyfunction!(_shutdown, m)?;
    m.py()
        .import("atexit")?
        .call_method1("register", (shutdown.clone(),))?;
    m.add_function(shutdown)?;
    m.add_class::<Client>()?;
    m.add_class::<Subscription>()?;
    m.add_class::<Pending>()?;
    m.add_class::<wake::Hub>()?;
    js::register(m)?;
    kv::register(m)?;
    svc::register(m)?;

    os::register(m)?;
    Ok(())
}
