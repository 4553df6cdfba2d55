//! Key-Value glue: `rnats.js.kv` (nats-py's `nats.js.kv` API) on `rnats::kv`.
//!
//! The logic (key rules, CAS, markers, the watchers' ordered consumers and their end of
//! initial data) is rnats'. This module hands its results to Python:
//!
//! - **Calls** (put, get, create, update, delete, purge, status…) are polled on the loop
//!   thread (`wake::LoopTask`), as a core request's answer is: no tokio task per call.
//!   Entries cross as tuples `(bucket, key, value, revision, delta, created ns, op)` that
//!   `rnats.js.kv.KeyValue.Entry` wraps; `op` is `None` for a put, `"DEL"` or `"PURGE"`.
//! - **Errors** of rnats' KV predicates become nats-py's classes through
//!   `rnats.js.kv._error(kind, detail)`; other failures are JetStream's (`js.rs`).
//! - **Watchers** (`KvWatch`) read rnats' `WatchEvents` on a tokio task into a bounded buffer;
//!   the first item of a batch queues one `wake()` job in the loop's hub and Python takes the
//!   whole batch with `take()` (entry tuples, and `None` for the end of initial data).

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyList};
use rnats::jetstream::stream::StorageType;
use rnats::kv::{Entry, Operation, Store, WatchEvent, WatchOptions};

use crate::js::{rnats_to_py, JetStream};
use crate::pump::Pump;
use crate::wake::{self, HubInner};
use crate::{duration, settle_job_with, BoxFuture};

/// Most watch events buffered for Python before the reader waits.
const WATCH_BUFFER: usize = 4096;

fn kv_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    Ok(MODULE
        .get_or_try_init(py, || -> PyResult<_> {
            Ok(py.import("rnats.js.kv")?.unbind())
        })?
        .bind(py))
}

/// The Python exception for a Key-Value failure: nats-py's class for rnats' KV predicates
/// (made by `rnats.js.kv._error`), else the JetStream conversion.
fn kv_to_py(py: Python<'_>, e: rnats::Error) -> PyErr {
    let kind = if e.is_invalid_key() {
        "invalid_key"
    } else if e.is_invalid_bucket_name() {
        "invalid_bucket"
    } else if e.is_key_deleted() {
        "deleted"
    } else if e.is_key_not_found() {
        "not_found"
    } else if e.is_bucket_not_found() {
        "bucket_not_found"
    } else if e.is_key_exists()
        || e.jetstream_error()
            .is_some_and(|a| matches!(a.err_code.0, 10071 | 10164))
    {
        "wrong_last"
    } else {
        return rnats_to_py(py, e, true);
    };
    let made = kv_module(py)
        .and_then(|m| m.getattr("_error"))
        .and_then(|f| f.call1((kind, e.to_string())));
    match made {
        Ok(obj) => PyErr::from_value(obj),
        Err(err) => err,
    }
}

type EntryTuple = (
    String,
    String,
    bytes::Bytes,
    u64,
    u64,
    i128,
    Option<&'static str>,
);

fn entry_tuple(e: Entry) -> EntryTuple {
    let op = match e.operation {
        Operation::Delete => Some("DEL"),
        Operation::Purge => Some("PURGE"),
        _ => None,
    };
    (
        e.bucket,
        e.key,
        e.value,
        e.revision,
        e.delta,
        e.created.unix_timestamp_nanos(),
        op,
    )
}

fn entry_to_py<'py>(py: Python<'py>, e: EntryTuple) -> PyResult<Bound<'py, PyAny>> {
    let (bucket, key, value, revision, delta, created, op) = e;
    Ok((
        bucket,
        key,
        PyBytes::new(py, &value),
        revision,
        delta,
        created,
        op,
    )
        .into_pyobject(py)?
        .into_any())
}

fn to_py<T: for<'py> IntoPyObject<'py>>(py: Python<'_>, v: T) -> PyResult<Py<PyAny>> {
    pyo3::IntoPyObjectExt::into_py_any(v, py)
}

/// Polls `fut` on the loop thread (`wake::LoopTask`); its output, converted with `conv`,
/// completes `pyfut`.
fn on_loop<T, F, C>(py: Python<'_>, hub: &wake::Hub, pyfut: Py<PyAny>, fut: F, conv: C)
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, rnats::Error>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let job: BoxFuture<wake::Job> =
        Box::pin(async move { settle_job_with(pyfut, fut.await, kv_to_py, conv) });
    wake::LoopTask::start(py, Arc::clone(&hub.inner), job);
}

fn seconds(s: Option<f64>, what: &str) -> PyResult<Option<Duration>> {
    match s {
        Some(0.0) => Ok(None),
        other => duration(other, what),
    }
}

/// Creates a bucket; completes `fut` with its `KvStore`.
#[pyfunction]
#[pyo3(signature = (js, hub, fut, bucket, description=None, history=1, ttl=None,
    max_value_size=None, max_bytes=None, memory=false, replicas=1, limit_marker_ttl=None))]
#[allow(clippy::too_many_arguments)]
fn kv_create(
    py: Python<'_>,
    js: PyRef<'_, JetStream>,
    hub: &wake::Hub,
    fut: Py<PyAny>,
    bucket: String,
    description: Option<String>,
    history: i64,
    ttl: Option<f64>,
    max_value_size: Option<i32>,
    max_bytes: Option<i64>,
    memory: bool,
    replicas: usize,
    limit_marker_ttl: Option<f64>,
) -> PyResult<()> {
    let mut config = rnats::kv::Config::new(bucket);
    config.description = description;
    config.history = history;
    config.max_age = seconds(ttl, "ttl")?.unwrap_or(Duration::ZERO);
    config.max_value_size = max_value_size.unwrap_or(-1);
    config.max_bytes = max_bytes.unwrap_or(-1);
    if memory {
        config.storage = StorageType::Memory;
    }
    config.replicas = replicas;
    config.limit_marker_ttl = seconds(limit_marker_ttl, "limit_marker_ttl")?;
    let ctx = js.ctx.clone();
    on_loop(
        py,
        hub,
        fut,
        async move { ctx.create_key_value(config).await },
        |py, store| to_py(py, KvStore { store }),
    );
    Ok(())
}

/// Binds to an existing bucket; completes `fut` with its `KvStore`.
#[pyfunction]
fn kv_bind(
    py: Python<'_>,
    js: PyRef<'_, JetStream>,
    hub: &wake::Hub,
    fut: Py<PyAny>,
    bucket: String,
) {
    let ctx = js.ctx.clone();
    on_loop(
        py,
        hub,
        fut,
        async move { ctx.key_value(bucket).await },
        |py, store| to_py(py, KvStore { store }),
    );
}

/// Deletes a bucket (its stream); completes `fut` with `True`.
#[pyfunction]
fn kv_delete(
    py: Python<'_>,
    js: PyRef<'_, JetStream>,
    hub: &wake::Hub,
    fut: Py<PyAny>,
    bucket: String,
) {
    let ctx = js.ctx.clone();
    on_loop(
        py,
        hub,
        fut,
        async move { ctx.delete_key_value(bucket).await.map(|_| true) },
        to_py,
    );
}

/// One bucket (`rnats.js.kv.KeyValue` wraps it).
#[pyclass(frozen, module = "rnats._rnats")]
struct KvStore {
    store: Store,
}

impl KvStore {
    fn with(&self, validate_keys: bool) -> Store {
        if validate_keys {
            self.store.clone()
        } else {
            self.store.clone().validate_keys(false)
        }
    }
}

#[pymethods]
impl KvStore {
    /// The bucket's name.
    fn bucket(&self) -> String {
        self.store.bucket().to_owned()
    }

    /// Stores `value` under `key`; completes `fut` with the revision.
    #[pyo3(signature = (hub, fut, key, value, validate_keys=true))]
    fn put(
        &self,
        py: Python<'_>,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        key: String,
        value: Vec<u8>,
        validate_keys: bool,
    ) {
        let store = self.with(validate_keys);
        on_loop(
            py,
            hub,
            fut,
            async move { store.put(key, value).await },
            to_py,
        );
    }

    /// The key's last entry (or the entry at `revision`); completes `fut` with its tuple, or
    /// fails with `KeyNotFoundError` when that entry is a delete or purge marker.
    #[pyo3(signature = (hub, fut, key, revision=None, validate_keys=true))]
    fn get(
        &self,
        py: Python<'_>,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        key: String,
        revision: Option<u64>,
        validate_keys: bool,
    ) {
        let store = self.with(validate_keys);
        on_loop(
            py,
            hub,
            fut,
            async move {
                match revision {
                    Some(r) if r > 0 => store.get_revision(key, r).await,
                    _ => store.entry(key).await,
                }
                .map(entry_tuple)
            },
            |py, e| {
                let deleted = e.6.is_some();
                let entry = entry_to_py(py, e)?;
                if deleted {
                    // A delete or purge marker: nats-py's `KeyNotFoundError(entry, op)`.
                    let made = kv_module(py)?.getattr("_deleted")?.call1((entry,))?;
                    return Err(PyErr::from_value(made));
                }
                Ok(entry.unbind())
            },
        );
    }

    /// Stores only if the key has no value (`ttl` seconds: a TTL for it); completes `fut`
    /// with the revision.
    #[pyo3(signature = (hub, fut, key, value, validate_keys=true, ttl=None))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        &self,
        py: Python<'_>,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        key: String,
        value: Vec<u8>,
        validate_keys: bool,
        ttl: Option<f64>,
    ) -> PyResult<()> {
        let store = self.with(validate_keys);
        let ttl = duration(ttl, "msg_ttl")?;
        on_loop(
            py,
            hub,
            fut,
            async move {
                match ttl {
                    Some(ttl) => store.create_with_ttl(key, value, ttl).await,
                    None => store.create(key, value).await,
                }
            },
            to_py,
        );
        Ok(())
    }

    /// Stores only if the key's last revision is `last`; completes `fut` with the revision.
    #[pyo3(signature = (hub, fut, key, value, last, validate_keys=true))]
    #[allow(clippy::too_many_arguments)]
    fn update(
        &self,
        py: Python<'_>,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        key: String,
        value: Vec<u8>,
        last: u64,
        validate_keys: bool,
    ) {
        let store = self.with(validate_keys);
        on_loop(
            py,
            hub,
            fut,
            async move { store.update(key, value, last).await },
            to_py,
        );
    }

    /// Puts a delete marker (only if the last revision is `last`, when given); completes
    /// `fut` with `True`.
    #[pyo3(signature = (hub, fut, key, last=None, validate_keys=true))]
    fn delete(
        &self,
        py: Python<'_>,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        key: String,
        last: Option<u64>,
        validate_keys: bool,
    ) {
        let store = self.with(validate_keys);
        on_loop(
            py,
            hub,
            fut,
            async move {
                match last {
                    Some(l) if l > 0 => store.delete_expect_revision(key, l).await,
                    _ => store.delete(key).await,
                }
                .map(|_| true)
            },
            to_py,
        );
    }

    /// Purges the key (its history goes; `ttl` seconds: the marker's TTL); completes `fut`
    /// with `True`.
    #[pyo3(signature = (hub, fut, key, ttl=None))]
    fn purge(
        &self,
        py: Python<'_>,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        key: String,
        ttl: Option<f64>,
    ) -> PyResult<()> {
        let store = self.with(false);
        let ttl = duration(ttl, "msg_ttl")?;
        on_loop(
            py,
            hub,
            fut,
            async move {
                match ttl {
                    Some(ttl) => store.purge_with_ttl(key, ttl).await,
                    None => store.purge(key).await,
                }
                .map(|_| true)
            },
            to_py,
        );
        Ok(())
    }

    /// Removes delete and purge markers older than `older_than` seconds (0: all); completes
    /// `fut` with `True`.
    fn purge_deletes(&self, hub: &wake::Hub, fut: Py<PyAny>, older_than: f64) -> PyResult<()> {
        let older = if older_than <= 0.0 {
            Duration::ZERO
        } else {
            duration(Some(older_than), "olderthan")?.unwrap_or(Duration::ZERO)
        };
        let store = self.store.clone();
        // A watch and a purge per marker: a tokio task rather than polls on the loop.
        crate::js::js_complete_rnats(
            Arc::clone(&hub.inner),
            fut,
            async move { store.purge_deletes(older).await.map(|_| true) },
            kv_to_py,
            to_py,
        );
        Ok(())
    }

    /// Every entry kept for `key`, oldest first; completes `fut` with a list of tuples.
    #[pyo3(signature = (hub, fut, key, validate_keys=true))]
    fn history(&self, hub: &wake::Hub, fut: Py<PyAny>, key: String, validate_keys: bool) {
        let store = self.with(validate_keys);
        crate::js::js_complete_rnats(
            Arc::clone(&hub.inner),
            fut,
            async move {
                Ok(store
                    .history(key)
                    .await?
                    .into_iter()
                    .map(entry_tuple)
                    .collect::<Vec<_>>())
            },
            kv_to_py,
            |py, entries: Vec<EntryTuple>| {
                let list = PyList::empty(py);
                for e in entries {
                    list.append(entry_to_py(py, e)?)?;
                }
                Ok(list.into_any().unbind())
            },
        );
    }

    /// The keys holding a value (only those matching `filters`, filtered by the server);
    /// completes `fut` with a list of strings.
    #[pyo3(signature = (hub, fut, filters=None))]
    fn keys(&self, hub: &wake::Hub, fut: Py<PyAny>, filters: Option<Vec<String>>) {
        let store = self.store.clone();
        crate::js::js_complete_rnats(
            Arc::clone(&hub.inner),
            fut,
            async move {
                let mut keys = match filters {
                    Some(f) if !f.is_empty() => store.keys_with_filters(f).await?,
                    _ => store.keys().await?,
                };
                let mut out = Vec::new();
                while let Some(k) = keys.next().await {
                    out.push(k?);
                }
                Ok(out)
            },
            kv_to_py,
            to_py,
        );
    }

    /// The bucket's status; completes `fut` with its stream info as JSON.
    fn status(&self, py: Python<'_>, hub: &wake::Hub, fut: Py<PyAny>) {
        let store = self.store.clone();
        on_loop(
            py,
            hub,
            fut,
            async move { store.status().await },
            |py, status| {
                let text = serde_json::to_string(status.stream_info()).map_err(|e| {
                    pyo3::exceptions::PyValueError::new_err(format!("bad stream info: {e}"))
                })?;
                to_py(py, text)
            },
        );
    }

    /// Starts a watcher of `keys` (filters; none: every key); completes `fut` with a
    /// `KvWatch` whose batches are announced by a `wake()` job.
    #[pyo3(signature = (hub, fut, wake, keys, include_history=false, ignore_deletes=false,
        meta_only=false, updates_only=false))]
    #[allow(clippy::too_many_arguments)]
    fn watch(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        wake: Py<PyAny>,
        keys: Vec<String>,
        include_history: bool,
        ignore_deletes: bool,
        meta_only: bool,
        updates_only: bool,
    ) {
        let store = self.store.clone();
        let mut options = WatchOptions::keys(keys);
        options.include_history = include_history;
        options.ignore_deletes = ignore_deletes;
        options.meta_only = meta_only;
        options.updates_only = updates_only;
        let inner = Arc::clone(&hub.inner);
        crate::js::js_complete_rnats(
            Arc::clone(&hub.inner),
            fut,
            async move {
                let events = store.watch_with(options).await?.events();
                Ok(KvWatch::start(events, inner, wake))
            },
            kv_to_py,
            to_py,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Watchers

/// A running watcher (`rnats.js.kv.KeyValue.KeyWatcher` wraps it): entries and `None` for
/// the end of the initial data, read on a tokio task into a bounded buffer.
#[pyclass(frozen, module = "rnats._rnats")]
struct KvWatch {
    pump: Pump<Option<EntryTuple>>,
}

impl KvWatch {
    fn start(events: rnats::kv::WatchEvents, hub: Arc<HubInner>, wake: Py<PyAny>) -> Self {
        let pump = Pump::start(events, WATCH_BUFFER, hub, wake, |item| match item {
            Ok(WatchEvent::Entry(e)) => Some(Some(entry_tuple(e))),
            Ok(WatchEvent::InitialDataDone) => Some(None),
            // Missed heartbeats, a consumer being recreated: the watcher carries on.
            _ => None,
        });
        Self { pump }
    }
}

#[pymethods]
impl KvWatch {
    /// Takes every buffered event: `(list of entry tuples and None markers, ended)`.
    fn take<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyList>, bool)> {
        let (items, ended) = self.pump.take();
        let list = PyList::empty(py);
        for item in items {
            match item {
                Some(e) => list.append(entry_to_py(py, e)?)?,
                None => list.append(py.None())?,
            }
        }
        Ok((list, ended))
    }

    /// Stops the watcher (its consumer is left to the server's inactivity threshold).
    fn stop(&self) {
        self.pump.stop();
    }
}

/// Registers the Key-Value functions and classes on `_rnats`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(kv_create, m)?)?;
    m.add_function(wrap_pyfunction!(kv_bind, m)?)?;
    m.add_function(wrap_pyfunction!(kv_delete, m)?)?;
    m.add_class::<KvStore>()?;
    m.add_class::<KvWatch>()?;
    Ok(())
}
