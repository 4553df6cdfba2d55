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
//! - **Calls that wait** (connect, flush, drain, close, a request's answer) complete an
//!   `asyncio.Future` made by the Python side: a tokio task awaits the rnats future, then
//!   schedules `rnats._bridge.complete(fut, ok, value)` with one `call_soon_threadsafe`.
//! - **Messages** are buffered per subscription on the Rust side; the loop is woken with one
//!   `call_soon_threadsafe` only when that buffer goes from empty to non-empty, and the
//!   Python consumer takes the whole batch (`take`) on its next turn.
//!
//! A closed event loop (`call_soon_threadsafe` raising) means "nobody is listening any more":
//! the result is dropped silently and the delivering task ends.

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
use rnats::{ConnectionState, ErrorKind, Event, HeaderMap};

mod js;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

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
fn with_python<R>(f: impl FnOnce(Python<'_>) -> R) -> Option<R> {
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

/// Polls `fut` once in the runtime's context: `Ok(value)` when it is done, `Err(fut)` (to be
/// spawned) when it is not.
fn poll_now<T>(mut fut: BoxFuture<T>) -> Result<T, BoxFuture<T>> {
    let _guard = runtime().enter();
    let mut cx = Context::from_waker(Waker::noop());
    match fut.as_mut().poll(&mut cx) {
        Poll::Ready(value) => Ok(value),
        Poll::Pending => Err(fut),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// A failure to be raised in Python: an rnats error (mapped by kind), or a named class of
/// `rnats.errors` with a detail text.
enum Fail {
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

fn make_err(py: Python<'_>, class: &str, detail: String) -> PyErr {
    match error_class(py, class).and_then(|cls| cls.call1((detail,))) {
        Ok(obj) => PyErr::from_value(obj),
        Err(e) => e,
    }
}

fn fail_to_py(py: Python<'_>, fail: Fail) -> PyErr {
    match fail {
        Fail::Class(class, detail) => make_err(py, class, detail),
        Fail::Rnats(e) => {
            // `Display` of rnats errors never carries secrets (pinned by its tests).
            let detail = e.to_string();
            match class_for(&e) {
                Some(class) => make_err(py, class, detail),
                None if e.kind() == ErrorKind::Io => PyOSError::new_err(detail),
                None => PyValueError::new_err(detail),
            }
        }
    }
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

/// Awaits `fut` on the runtime, converts its output with `conv` and completes `pyfut`.
fn complete_later<T, F, C>(event_loop: Py<PyAny>, pyfut: Py<PyAny>, fut: F, conv: C)
where
    T: Send + 'static,
    F: Future<Output = Result<T, Fail>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    runtime().spawn(async move {
        let out = fut.await;
        let _ = with_python(|py| {
            let (ok, value) = match out.map_err(|f| fail_to_py(py, f)).and_then(|v| conv(py, v)) {
                Ok(v) => (true, v),
                Err(e) => (false, e.into_value(py).into_any()),
            };
            if let Ok(complete) = completer(py) {
                call_soon(py, &event_loop, (complete, pyfut, ok, value));
            }
        });
    });
}

fn none(py: Python<'_>, _: ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

fn duration(seconds: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
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

/// Connects and completes `fut` with a `Client`. `on_event(kind, error)` is scheduled on
/// `event_loop` for every connection event (`kind` one of "disconnected", "reconnected",
/// "closed", "error", "lame_duck", "discovered", "slow_consumer"; `error` an exception or
/// `None`).
#[pyfunction]
#[pyo3(signature = (event_loop, fut, servers, on_event, *, name=None, no_echo=false,
    connect_timeout=2.0, allow_reconnect=true, max_reconnect_attempts=60,
    reconnect_time_wait=2.0, ping_interval=120.0, max_outstanding_pings=2,
    dont_randomize=false, user=None, password=None, token=None, inbox_prefix=None,
    pending_size=2_097_152, flusher_queue_size=None, pending_msgs_limit=None,
    pending_bytes_limit=None, retry_on_initial_connect=false))]
#[allow(clippy::too_many_arguments)]
fn connect(
    py: Python<'_>,
    event_loop: Py<PyAny>,
    fut: Py<PyAny>,
    servers: Vec<String>,
    on_event: Py<PyAny>,
    name: Option<String>,
    no_echo: bool,
    connect_timeout: f64,
    allow_reconnect: bool,
    max_reconnect_attempts: i64,
    reconnect_time_wait: f64,
    ping_interval: f64,
    max_outstanding_pings: usize,
    dont_randomize: bool,
    user: Option<String>,
    password: Option<String>,
    token: Option<String>,
    inbox_prefix: Option<String>,
    pending_size: usize,
    flusher_queue_size: Option<usize>,
    pending_msgs_limit: Option<usize>,
    pending_bytes_limit: Option<usize>,
    retry_on_initial_connect: bool,
) -> PyResult<()> {
    let _ = flusher_queue_size; // accepted for nats-py compatibility; rnats batches writes itself
    if servers.is_empty() {
        return Err(PyValueError::new_err("servers must not be empty"));
    }
    let mut opts = rnats::ConnectOptions::new()
        .no_echo(no_echo)
        .retain_servers_order(dont_randomize)
        .retry_on_initial_connect(retry_on_initial_connect)
        .max_pings_out(max_outstanding_pings.max(1))
        .reconnect_buffer_size(pending_size);
    if let Some(t) = duration(Some(connect_timeout), "connect_timeout")? {
        opts = opts.connection_timeout(t);
    }
    if let Some(t) = duration(Some(ping_interval), "ping_interval")? {
        opts = opts.ping_interval(t);
    }
    if let Some(name) = name {
        opts = opts.name(name);
    }
    if let Some(prefix) = inbox_prefix {
        opts = opts.inbox_prefix(prefix);
    }
    if pending_msgs_limit.is_some() || pending_bytes_limit.is_some() {
        opts = opts.subscription_capacity(
            pending_msgs_limit.unwrap_or(512 * 1024).max(1),
            pending_bytes_limit.unwrap_or(128 * 1024 * 1024).max(1),
        );
    }
    opts = if !allow_reconnect {
        opts.max_reconnects(Some(0))
    } else if max_reconnect_attempts < 0 {
        opts.max_reconnects(None)
    } else {
        opts.max_reconnects(Some(max_reconnect_attempts as usize))
    };
    let wait = duration(Some(reconnect_time_wait), "reconnect_time_wait")?
        .unwrap_or(Duration::from_secs(2));
    // nats-py waits reconnect_time_wait between rounds; the first round starts at once.
    opts =
        opts.reconnect_delay_callback(move |round| if round == 0 { Duration::ZERO } else { wait });
    match (user, password, token) {
        (Some(u), Some(p), _) => opts = opts.user_and_password(u, p),
        (Some(_), None, _) | (None, Some(_), _) => {
            return Err(PyValueError::new_err(
                "user and password must be given together",
            ))
        }
        (None, None, Some(t)) => opts = opts.token(t),
        (None, None, None) => {}
    }
    let sink = Arc::new((event_loop.clone_ref(py), on_event));
    opts = opts.event_callback(move |event| {
        let sink = Arc::clone(&sink);
        async move { forward_event(&sink, event) }
    });
    complete_later(
        event_loop,
        fut,
        async move { opts.connect(servers).await.map_err(Fail::from) },
        |py, client| Ok(Py::new(py, Client { client })?.into_any()),
    );
    Ok(())
}

fn forward_event(sink: &(Py<PyAny>, Py<PyAny>), event: Event) {
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
            Some(match class_for(&e) {
                Some(class) => Fail::Class(class, e.to_string()),
                None => Fail::Class("Error", e.to_string()),
            }),
        ),
        _ => return,
    };
    let _ = with_python(|py| {
        let err_obj: Py<PyAny> = match err {
            Some(f) => fail_to_py(py, f).into_value(py).into_any(),
            None => py.None(),
        };
        call_soon(py, &sink.0, (sink.1.bind(py), kind, err_obj));
    });
}

// ---------------------------------------------------------------------------------------------
// Client

/// A connected rnats client (`rnats.aio.client.Client` wraps it).
#[pyclass(frozen, module = "rnats._rnats")]
struct Client {
    client: rnats::Client,
}

/// The rest of a publish that could not finish at once (write buffer full).
#[pyclass(frozen, module = "rnats._rnats")]
struct Pending {
    fut: Mutex<Option<BoxFuture<Result<(), rnats::Error>>>>,
}

#[pymethods]
impl Pending {
    /// Finishes the publish on the runtime and completes `fut` on `event_loop`.
    fn wait(&self, event_loop: Py<PyAny>, fut: Py<PyAny>) {
        if let Some(rest) = self.fut.lock().take() {
            complete_later(event_loop, fut, async move { Ok(rest.await?) }, none);
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
        let client = self.client.clone();
        let subject = subject.to_owned();
        match poll_now(Box::pin(
            async move { client.publish_with(subject, p).await },
        )) {
            Ok(Ok(())) => Ok(None),
            Ok(Err(e)) => Err(to_py(e)),
            Err(rest) => Ok(Some(Pending {
                fut: Mutex::new(Some(rest)),
            })),
        }
    }

    /// Subscribes: completes `fut` with a `Subscription` whose arrivals schedule `wake()` on
    /// `event_loop`.
    #[pyo3(signature = (event_loop, fut, subject, queue, wake, max_msgs))]
    fn subscribe(
        &self,
        event_loop: Py<PyAny>,
        fut: Py<PyAny>,
        subject: String,
        queue: String,
        wake: Py<PyAny>,
        max_msgs: u64,
    ) -> PyResult<()> {
        let client = self.client.clone();
        let loop2 = Python::attach(|py| event_loop.clone_ref(py));
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
            Ok(Py::new(py, Subscription::start(sub, loop2, wake))?.into_any())
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
                complete_later(event_loop, fut, async move { Ok(rest.await?) }, make);
                Ok(())
            }
        }
    }

    /// Sends a request now; completes `fut` with the answer's message tuple.
    #[pyo3(signature = (event_loop, fut, subject, payload, timeout, headers))]
    fn request(
        &self,
        event_loop: Py<PyAny>,
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
        match poll_now(send) {
            Ok(Ok(response)) => {
                complete_later(event_loop, fut, async move { Ok(response.await?) }, conv)
            }
            Ok(Err(e)) => return Err(to_py(e)),
            Err(rest) => {
                complete_later(event_loop, fut, async move { Ok(rest.await?.await?) }, conv)
            }
        }
        Ok(())
    }

    /// Flushes; `FlushTimeoutError` after `timeout` seconds.
    fn flush(&self, event_loop: Py<PyAny>, fut: Py<PyAny>, timeout: Option<f64>) -> PyResult<()> {
        let limit = duration(timeout, "timeout")?;
        let client = self.client.clone();
        complete_later(
            event_loop,
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
    fn drain(&self, event_loop: Py<PyAny>, fut: Py<PyAny>, timeout: Option<f64>) -> PyResult<()> {
        let limit = duration(timeout, "drain_timeout")?;
        let client = self.client.clone();
        complete_later(
            event_loop,
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
    fn close(&self, event_loop: Py<PyAny>, fut: Py<PyAny>) {
        let client = self.client.clone();
        complete_later(
            event_loop,
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
    fn rtt(&self, event_loop: Py<PyAny>, fut: Py<PyAny>, timeout: Option<f64>) -> PyResult<()> {
        let limit = duration(timeout, "timeout")?;
        let client = self.client.clone();
        complete_later(
            event_loop,
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
    fn force_reconnect(&self, event_loop: Py<PyAny>, fut: Py<PyAny>) {
        let client = self.client.clone();
        complete_later(
            event_loop,
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

struct SubState {
    inbox: Mutex<Inbox>,
    /// Signalled when Python takes a batch (the reader waits on it when the buffer is full).
    taken: tokio::sync::Notify,
    /// Most messages buffered here: `min(MAX_BUFFERED, pending_msgs_limit)`.
    limit: AtomicUsize,
}

/// A subscription: a tokio task reads the rnats `Subscriber` into a buffer that Python takes
/// in batches (`rnats.aio.subscription.Subscription` wraps it).
#[pyclass(frozen, module = "rnats._rnats")]
struct Subscription {
    sub: Arc<rnats::Subscriber>,
    state: Arc<SubState>,
}

impl Subscription {
    fn start(sub: rnats::Subscriber, event_loop: Py<PyAny>, wake: Py<PyAny>) -> Self {
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
            event_loop,
            wake,
        ));
        Self { sub, state }
    }
}

async fn read_loop(
    sub: Arc<rnats::Subscriber>,
    state: Arc<SubState>,
    event_loop: Py<PyAny>,
    wake: Py<PyAny>,
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
            let alive =
                with_python(|py| call_soon(py, &event_loop, (wake.bind(py),))).unwrap_or(false);
            if !alive {
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
        let (msgs, ended) = {
            let mut inbox = self.state.inbox.lock();
            inbox.scheduled = false;
            (std::mem::take(&mut inbox.msgs), inbox.ended)
        };
        if !msgs.is_empty() {
            self.state.taken.notify_one();
        }
        let list = PyList::empty(py);
        for m in &msgs {
            list.append(message_tuple(py, m)?)?;
        }
        Ok((list, ended))
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
    fn drain(&self, event_loop: Py<PyAny>, fut: Py<PyAny>) {
        let sub = Arc::clone(&self.sub);
        complete_later(event_loop, fut, async move { Ok(sub.drain().await?) }, none);
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
    m.add_function(wrap_pyfunction!(connect, m)?)?;
    let shutdown = wrap_pyfunction!(_shutdown, m)?;
    m.py()
        .import("atexit")?
        .call_method1("register", (shutdown.clone(),))?;
    m.add_function(shutdown)?;
    m.add_class::<Client>()?;
    m.add_class::<Subscription>()?;
    m.add_class::<Pending>()?;
    js::register(m)?;
    Ok(())
}
