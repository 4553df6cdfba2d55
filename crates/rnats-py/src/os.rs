//! Object Store glue: `rnats.js.object_store` (nats-py's `nats.js.object_store` API) on
//! `rnats::object_store`.
//!
//! The logic (chunking, digests, links, the meta messages, the watchers' ordered consumers) is
//! rnats'. This module hands it to Python:
//!
//! - **Infos** cross as `(json, modified ns)`: rnats' `ObjectInfo` serialized (the stored
//!   meta's JSON) and the meta message's time; `rnats.js.api.ObjectInfo.from_response` reads it.
//! - **Put** from `bytes` borrows the Python object (no copy). From a file-like, a blocking
//!   thread of the runtime calls its `read(n)` (1 MiB at a time, with the GIL only during the
//!   call) and sends the pieces through a channel of [`PUT_QUEUE`] pieces to the put running on
//!   a tokio task, which chunks, hashes and publishes them: at most a few MiB are in memory
//!   whatever the object's size.
//! - **Get** into a file-like (`writeinto`): a tokio task reads the object and sends 1 MiB
//!   pieces through a channel of [`GET_QUEUE`] pieces to a blocking thread that calls the
//!   file's `write` (with the GIL only during the call). Without `writeinto` the content is
//!   read into one buffer and becomes the result's `bytes`.
//! - **Cancellation**: a put and a get return an `OsTask`; Python calls its `cancel()` when the
//!   awaiting task is cancelled. A put's input then fails on its next read (also one waiting
//!   for the file-like), so rnats' put purges the chunks it wrote; a get's task is aborted.
//! - **Errors** of rnats' Object Store predicates become nats-py's classes through
//!   `rnats.js.object_store._error(kind, detail)`; an exception raised by the caller's file
//!   (its `read` or `write`) is re-raised as is.
//! - **Watchers** (`ObjWatch`) read rnats' `Watch` on a tokio task into a bounded buffer, as
//!   the Key-Value watchers do (`kv.rs`): `None` marks the end of the initial data.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::PyBackedBytes;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyByteArray, PyBytes, PyList, PyMemoryView, PyString};
use rnats::jetstream::stream::{Placement, StorageType};
use rnats::object_store::{ObjectInfo, ObjectMeta, ObjectStore, WatchEvent, WatchOptions};
use rnats::ErrorKind;
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};
use tokio::sync::mpsc;

use crate::js::{invalid, rnats_to_py, JetStream};
use crate::pump::Pump;
use crate::wake::{self, HubInner};
use crate::{duration, runtime, with_python};

/// Bytes asked of a file-like's `read(n)`, and written per `write` call of a get.
const PIECE: usize = 1024 * 1024;
/// Pieces read from a put's file-like and not yet taken by the put (bounded buffering).
const PUT_QUEUE: usize = 2;
/// Pieces of a get not yet written into `writeinto`.
const GET_QUEUE: usize = 2;
/// Most watch events buffered for Python before the reader waits.
const WATCH_BUFFER: usize = 4096;

fn os_module(py: Python<'_>) -> PyResult<&Bound<'_, PyModule>> {
    static MODULE: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    Ok(MODULE
        .get_or_try_init(py, || -> PyResult<_> {
            Ok(py.import("rnats.js.object_store")?.unbind())
        })?
        .bind(py))
}

/// `rnats.js.object_store._error(kind, detail)`: the nats-py class for an Object Store failure.
fn os_error(py: Python<'_>, kind: &str, detail: String) -> PyErr {
    let made = os_module(py)
        .and_then(|m| m.getattr("_error"))
        .and_then(|f| f.call1((kind, detail)));
    match made {
        Ok(obj) => PyErr::from_value(obj),
        Err(err) => err,
    }
}

/// Why an Object Store call failed.
enum OsFail {
    /// rnats' error (classified by [`rnats_fail_to_py`]).
    Rnats(rnats::Error),
    /// A class named for `_error`, with its detail.
    Kind(&'static str, String),
    /// An exception of the caller's file-like, re-raised as is.
    Py(PyErr),
}

impl From<rnats::Error> for OsFail {
    fn from(e: rnats::Error) -> Self {
        OsFail::Rnats(e)
    }
}

/// Whether `e` (or an error it wraps) is a JSON error: a meta message that cannot be read.
fn is_bad_meta(e: &rnats::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<serde_json::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

fn rnats_fail_to_py(py: Python<'_>, e: rnats::Error) -> PyErr {
    let kind = if e.is_object_not_found() {
        "not_found"
    } else if e.is_object_bucket_not_found() {
        "bucket_not_found"
    } else if e.is_digest_mismatch() {
        "digest_mismatch"
    } else if e.is_object_exists() {
        "exists"
    } else if e.kind() == ErrorKind::Protocol && is_bad_meta(&e) {
        "bad_meta"
    } else if e.kind() == ErrorKind::InvalidArgument {
        "invalid"
    } else {
        return rnats_to_py(py, e, false);
    };
    os_error(py, kind, e.to_string())
}

fn fail_to_py(py: Python<'_>, fail: OsFail) -> PyErr {
    match fail {
        OsFail::Rnats(e) => rnats_fail_to_py(py, e),
        OsFail::Kind(kind, detail) => os_error(py, kind, detail),
        OsFail::Py(e) => e,
    }
}

/// An info as it crosses: `(json, modified ns since the epoch)`.
type InfoTuple = (String, i128);

fn info_tuple(info: &ObjectInfo) -> Result<InfoTuple, OsFail> {
    let json = serde_json::to_string(info)
        .map_err(|e| OsFail::Kind("bad_meta", format!("object info to JSON: {e}")))?;
    Ok((json, info.modified.unix_timestamp_nanos()))
}

fn to_py<T: for<'py> IntoPyObject<'py>>(py: Python<'_>, v: T) -> PyResult<Py<PyAny>> {
    pyo3::IntoPyObjectExt::into_py_any(v, py)
}

/// Awaits `fut` on a tokio task; its output, converted with `conv`, completes `pyfut` in a
/// job of the loop's hub.
fn spawn<T, F, C>(hub: &wake::Hub, pyfut: Py<PyAny>, fut: F, conv: C) -> tokio::task::AbortHandle
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, OsFail>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let hub = Arc::clone(&hub.inner);
    runtime()
        .spawn(async move {
            let out = fut.await;
            let _ = hub.push(crate::settle_job_with(pyfut, out, fail_to_py, conv));
        })
        .abort_handle()
}

/// [`spawn`] for a call on `store`: a failure because nobody answers (a Direct Get or a
/// publish to a bucket whose stream was deleted) is told apart from JetStream being away by
/// looking the bucket up, on that failure only; a bucket gone becomes the class `gone` names
/// (nats-py's for that call: `ObjectNotFoundError` for a read, for instance).
fn spawn_on<T, F, C>(
    store: &ObjectStore,
    gone: &'static str,
    hub: &wake::Hub,
    pyfut: Py<PyAny>,
    fut: F,
    conv: C,
) -> tokio::task::AbortHandle
where
    T: Send + 'static,
    F: std::future::Future<Output = Result<T, OsFail>> + Send + 'static,
    C: FnOnce(Python<'_>, T) -> PyResult<Py<PyAny>> + Send + 'static,
{
    let store = store.clone();
    spawn(
        hub,
        pyfut,
        async move {
            match fut.await {
                Err(OsFail::Rnats(e)) if e.is_no_responders() => match store.status().await {
                    Err(s) if s.is_object_bucket_not_found() => {
                        Err(OsFail::Kind(gone, s.to_string()))
                    }
                    _ => Err(OsFail::Rnats(e)),
                },
                other => other,
            }
        },
        conv,
    )
}

fn none(py: Python<'_>, _: ()) -> PyResult<Py<PyAny>> {
    Ok(py.None())
}

// ---------------------------------------------------------------------------------------------
// Buckets

/// Creates a bucket; completes `fut` with its `ObjStore`. `placement` is a placement's JSON.
#[pyfunction]
#[pyo3(signature = (js, hub, fut, bucket, description=None, ttl=None, max_bytes=None,
    memory=false, replicas=1, placement=None))]
#[allow(clippy::too_many_arguments)]
fn os_create(
    js: PyRef<'_, JetStream>,
    hub: &wake::Hub,
    fut: Py<PyAny>,
    bucket: String,
    description: Option<String>,
    ttl: Option<f64>,
    max_bytes: Option<i64>,
    memory: bool,
    replicas: usize,
    placement: Option<String>,
) -> PyResult<()> {
    let mut config = rnats::object_store::Config::new(bucket);
    config.description = description;
    config.max_age = match ttl {
        None | Some(0.0) => Duration::ZERO,
        other => duration(other, "ttl")?.unwrap_or(Duration::ZERO),
    };
    config.max_bytes = max_bytes.unwrap_or(-1);
    if memory {
        config.storage = StorageType::Memory;
    }
    config.replicas = replicas;
    if let Some(p) = placement {
        let p: Placement =
            serde_json::from_str(&p).map_err(|e| invalid(format!("invalid placement: {e}")))?;
        config.placement = Some(p);
    }
    let ctx = js.ctx.clone();
    spawn(
        hub,
        fut,
        async move { Ok(ctx.create_object_store(config).await?) },
        |py, store| to_py(py, ObjStore { store }),
    );
    Ok(())
}

/// Binds to an existing bucket; completes `fut` with its `ObjStore`.
#[pyfunction]
fn os_bind(js: PyRef<'_, JetStream>, hub: &wake::Hub, fut: Py<PyAny>, bucket: String) {
    let ctx = js.ctx.clone();
    spawn(
        hub,
        fut,
        async move { Ok(ctx.object_store(bucket).await?) },
        |py, store| to_py(py, ObjStore { store }),
    );
}

/// Deletes a bucket (its stream); completes `fut` with `True`.
#[pyfunction]
fn os_delete(js: PyRef<'_, JetStream>, hub: &wake::Hub, fut: Py<PyAny>, bucket: String) {
    let ctx = js.ctx.clone();
    spawn(
        hub,
        fut,
        async move {
            ctx.delete_object_store(bucket).await?;
            Ok(true)
        },
        to_py,
    );
}

// ---------------------------------------------------------------------------------------------
// Streaming a put's file-like into rnats

/// An `AsyncRead` over the pieces a blocking thread reads from a Python file-like.
struct PieceReader {
    rx: mpsc::Receiver<Result<Bytes, ()>>,
    current: Bytes,
}

impl AsyncRead for PieceReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if !this.current.is_empty() {
                let n = this.current.len().min(buf.remaining());
                buf.put_slice(&this.current.split_to(n));
                return Poll::Ready(Ok(()));
            }
            match this.rx.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                // The file's end: the reader thread dropped its sender.
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(Ok(piece))) => this.current = piece,
                Poll::Ready(Some(Err(()))) => {
                    return Poll::Ready(Err(io::Error::other("the object's file-like failed")))
                }
            }
        }
    }
}

/// What one `read(n)` call returned: a piece, the end, or a value that is not bytes.
fn piece_of(got: &Bound<'_, PyAny>) -> PyResult<Option<Bytes>> {
    let bytes = if got.is_instance_of::<PyBytes>() {
        // Borrowed, not copied: the piece keeps the Python object alive (released without
        // the GIL through PyO3's deferred reference pool).
        Bytes::from_owner(got.extract::<PyBackedBytes>()?)
    } else if let Ok(b) = got.cast::<PyByteArray>() {
        Bytes::from(b.to_vec())
    } else if let Ok(s) = got.cast::<PyString>() {
        Bytes::copy_from_slice(s.to_cow()?.as_bytes())
    } else if got.is_instance_of::<PyMemoryView>() {
        let copied = got.call_method0("tobytes")?;
        Bytes::copy_from_slice(copied.cast::<PyBytes>()?.as_bytes())
    } else {
        return Err(PyTypeError::new_err(format!(
            "the object's read() must return bytes or str, not {}",
            got.get_type().name()?
        )));
    };
    Ok((!bytes.is_empty()).then_some(bytes))
}

/// Starts the blocking thread that reads `file` piece by piece into a [`PieceReader`]; the
/// file's exception, if any, lands in `failed`.
fn read_file(file: Py<PyAny>, failed: Arc<Mutex<Option<PyErr>>>) -> PieceReader {
    let (tx, rx) = mpsc::channel(PUT_QUEUE);
    runtime().spawn_blocking(move || {
        loop {
            let got = with_python(|py| {
                let got = file.bind(py).call_method1("read", (PIECE,))?;
                piece_of(&got)
            });
            // `None`: the interpreter is shutting down; the put fails.
            let Some(got) = got else {
                let _ = tx.blocking_send(Err(()));
                break;
            };
            match got {
                Ok(Some(piece)) => {
                    if tx.blocking_send(Ok(piece)).is_err() {
                        break; // the put gave up
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    *failed.lock() = Some(e);
                    let _ = tx.blocking_send(Err(()));
                    break;
                }
            }
        }
        with_python(move |_| drop(file));
    });
    PieceReader {
        rx,
        current: Bytes::new(),
    }
}

/// Fills a buffer of up to `PIECE` bytes from `object`; empty at the end.
async fn next_piece<R: AsyncRead + Unpin>(object: &mut R) -> Result<Bytes, OsFail> {
    let mut buf = BytesMut::with_capacity(PIECE);
    while buf.len() < PIECE {
        let n = object.read_buf(&mut buf).await.map_err(read_error)?;
        if n == 0 {
            break;
        }
    }
    Ok(buf.freeze())
}

/// The failure inside an object read's `io::Error`: rnats' own error (a digest mismatch, a
/// consumer failure) when it carries one.
fn read_error(e: io::Error) -> OsFail {
    let text = e.to_string();
    match e.into_inner().map(|inner| inner.downcast::<rnats::Error>()) {
        Some(Ok(err)) => OsFail::Rnats(*err),
        _ => OsFail::Kind("io", format!("reading the object: {text}")),
    }
}

/// A put or a get under way, returned to Python so that a cancelled `await` stops it.
#[pyclass(frozen, module = "rnats._rnats")]
struct OsTask {
    /// A get's task, aborted at once (its consumer and writer thread end with it).
    abort: Option<tokio::task::AbortHandle>,
    /// A put's input, failed on its next read: the put then purges what it wrote.
    cancel: Arc<CancelFlag>,
}

#[pymethods]
impl OsTask {
    /// Stops the put or get (the awaiting Python task was cancelled).
    fn cancel(&self) {
        self.cancel.set();
        if let Some(abort) = &self.abort {
            abort.abort();
        }
    }
}

/// Set once; wakes the reader waiting on it.
#[derive(Default)]
struct CancelFlag {
    set: AtomicBool,
    waker: AtomicWaker,
}

impl CancelFlag {
    fn set(&self) {
        self.set.store(true, Ordering::Release);
        self.waker.wake();
    }
}

/// A put's input that fails once its [`CancelFlag`] is set, even while waiting for data.
struct Cancellable<R> {
    inner: R,
    cancel: Arc<CancelFlag>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Cancellable<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.cancel.waker.register(cx.waker());
        if self.cancel.set.load(Ordering::Acquire) {
            return Poll::Ready(Err(io::Error::other("the put was cancelled")));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

// ---------------------------------------------------------------------------------------------
// One bucket

/// One bucket (`rnats.js.object_store.ObjectStore` wraps it).
#[pyclass(frozen, module = "rnats._rnats")]
struct ObjStore {
    store: ObjectStore,
}

fn meta_of(
    name: String,
    description: Option<String>,
    headers: Option<HashMap<String, Vec<String>>>,
    chunk_size: Option<usize>,
) -> ObjectMeta {
    let mut meta = ObjectMeta::new(name);
    meta.description = description;
    meta.headers = headers.unwrap_or_default();
    meta.max_chunk_size = chunk_size.filter(|&s| s > 0);
    meta
}

/// Gets `name`'s object, telling a link to a bucket apart (nats-py's `LinkIsABucketError`).
async fn open(store: &ObjectStore, name: &str) -> Result<rnats::object_store::Object, OsFail> {
    match store.get(name).await {
        Ok(object) => Ok(object),
        Err(e) if e.kind() == ErrorKind::InvalidArgument => {
            // Only on this failure: is the object a link to a bucket?
            if let Ok(info) = store.info(name).await {
                if info.link().is_some_and(|l| l.name.is_none()) {
                    return Err(OsFail::Kind("link_is_bucket", e.to_string()));
                }
            }
            Err(e.into())
        }
        Err(e) => Err(e.into()),
    }
}

#[pymethods]
impl ObjStore {
    /// The bucket's name.
    fn bucket(&self) -> String {
        self.store.bucket().to_owned()
    }

    /// The object's info; completes `fut` with its `(json, modified ns)`.
    #[pyo3(signature = (hub, fut, name, show_deleted=false))]
    fn info(&self, hub: &wake::Hub, fut: Py<PyAny>, name: String, show_deleted: bool) {
        let store = self.store.clone();
        spawn_on(
            &self.store,
            "not_found",
            hub,
            fut,
            async move { info_tuple(&store.info_with(name, show_deleted).await?) },
            to_py,
        );
    }

    /// Stores `data` (`bytes`, borrowed; with `from_file` a file-like read with `read(n)`)
    /// as `name`; completes `fut` with the new info's `(json, modified ns)`. Returns the
    /// `OsTask` whose `cancel()` fails the put (its chunks purged).
    #[pyo3(signature = (hub, fut, name, data, from_file=false, description=None, headers=None,
        chunk_size=None))]
    #[allow(clippy::too_many_arguments)]
    fn put(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        name: String,
        data: &Bound<'_, PyAny>,
        from_file: bool,
        description: Option<String>,
        headers: Option<HashMap<String, Vec<String>>>,
        chunk_size: Option<usize>,
    ) -> PyResult<OsTask> {
        let store = self.store.clone();
        let meta = meta_of(name, description, headers, chunk_size);
        let cancel = Arc::new(CancelFlag::default());
        let task = OsTask {
            abort: None,
            cancel: Arc::clone(&cancel),
        };
        if !from_file {
            let bytes: PyBackedBytes = data.extract().map_err(|_| {
                PyTypeError::new_err("put() data must be bytes when not a file-like")
            })?;
            spawn_on(
                &self.store,
                "bucket_not_found",
                hub,
                fut,
                async move {
                    let reader = Cancellable {
                        inner: &bytes[..],
                        cancel,
                    };
                    info_tuple(&store.put(meta, reader).await?)
                },
                to_py,
            );
            return Ok(task);
        }
        let failed = Arc::new(Mutex::new(None));
        let reader = Cancellable {
            inner: read_file(data.clone().unbind(), Arc::clone(&failed)),
            cancel,
        };
        spawn_on(
            &self.store,
            "bucket_not_found",
            hub,
            fut,
            async move {
                let put = store.put(meta, reader).await;
                if let Some(e) = failed.lock().take() {
                    return Err(OsFail::Py(e));
                }
                info_tuple(&put?)
            },
            to_py,
        );
        Ok(task)
    }

    /// Reads the object (following a link); completes `fut` with `(json, modified ns, data)`:
    /// `data` the content as `bytes`, or `None` when `write` (a file-like's `write`) was given
    /// and received it piece by piece. With `show_deleted` a deleted object gives its info and
    /// no content.
    /// Returns the `OsTask` whose `cancel()` stops the read.
    #[pyo3(signature = (hub, fut, name, show_deleted=false, write=None))]
    fn get(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        name: String,
        show_deleted: bool,
        write: Option<Py<PyAny>>,
    ) -> OsTask {
        let store = self.store.clone();
        let abort = spawn_on(
            &self.store,
            "not_found",
            hub,
            fut,
            async move {
                if show_deleted {
                    let info = store.info_with(&name, true).await?;
                    if info.deleted {
                        let (json, ns) = info_tuple(&info)?;
                        return Ok((json, ns, None));
                    }
                }
                let mut object = open(&store, &name).await?;
                let (json, ns) = info_tuple(object.info())?;
                let Some(write) = write else {
                    let size = usize::try_from(object.info().size).unwrap_or(usize::MAX);
                    let mut out = Vec::with_capacity(size.min(256 * 1024 * 1024));
                    object.read_to_end(&mut out).await.map_err(read_error)?;
                    return Ok((json, ns, Some(out)));
                };
                write_into(&mut object, write).await?;
                Ok((json, ns, None))
            },
            |py, (json, ns, data): (String, i128, Option<Vec<u8>>)| {
                let data = match data {
                    Some(d) => PyBytes::new(py, &d).into_any().unbind(),
                    None => py.None(),
                };
                to_py(py, (json, ns, data))
            },
        );
        OsTask {
            abort: Some(abort),
            cancel: Arc::new(CancelFlag::default()),
        }
    }

    /// Deletes the object (an object not found, or deleted already, is `ObjectNotFoundError`
    /// as in nats-py); completes `fut` with `None`.
    fn delete(&self, hub: &wake::Hub, fut: Py<PyAny>, name: String) {
        let store = self.store.clone();
        spawn_on(
            &self.store,
            "not_found",
            hub,
            fut,
            async move {
                store.info(&name).await?;
                Ok(store.delete(&name).await?)
            },
            none,
        );
    }

    /// Changes the object's name (`new_name`), description and headers; completes `fut` with
    /// the info's `(json, modified ns)`. An object not found is `ObjectDeletedError` (nats-py's
    /// class here).
    #[pyo3(signature = (hub, fut, name, new_name=None, description=None, headers=None))]
    fn update_meta(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        name: String,
        new_name: Option<String>,
        description: Option<String>,
        headers: Option<HashMap<String, Vec<String>>>,
    ) {
        let store = self.store.clone();
        let meta = meta_of(new_name.unwrap_or_default(), description, headers, None);
        spawn_on(
            &self.store,
            "deleted",
            hub,
            fut,
            async move {
                match store.update_meta(&name, meta).await {
                    Ok(info) => info_tuple(&info),
                    Err(e) if e.is_object_not_found() => {
                        Err(OsFail::Kind("deleted", e.to_string()))
                    }
                    Err(e) => Err(e.into()),
                }
            },
            to_py,
        );
    }

    /// Stores `name` as a link to the object whose info is `target` (its JSON); completes
    /// `fut` with the link's `(json, modified ns)`.
    fn add_link(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        name: String,
        target: &str,
    ) -> PyResult<()> {
        let target: ObjectInfo = serde_json::from_str(target)
            .map_err(|e| invalid(format!("invalid object info: {e}")))?;
        let store = self.store.clone();
        spawn_on(
            &self.store,
            "bucket_not_found",
            hub,
            fut,
            async move { info_tuple(&store.add_link(name, &target).await?) },
            to_py,
        );
        Ok(())
    }

    /// Stores `name` as a link to the bucket `other`; completes `fut` with the link's
    /// `(json, modified ns)`.
    fn add_bucket_link(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        name: String,
        other: PyRef<'_, ObjStore>,
    ) {
        let store = self.store.clone();
        let other = other.store.clone();
        spawn_on(
            &self.store,
            "bucket_not_found",
            hub,
            fut,
            async move { info_tuple(&store.add_bucket_link(name, &other).await?) },
            to_py,
        );
    }

    /// Seals the bucket; completes `fut` with `None`.
    fn seal(&self, hub: &wake::Hub, fut: Py<PyAny>) {
        let store = self.store.clone();
        spawn(
            hub,
            fut,
            async move {
                store.seal().await?;
                Ok(())
            },
            none,
        );
    }

    /// The bucket's status; completes `fut` with its stream info as JSON.
    fn status(&self, hub: &wake::Hub, fut: Py<PyAny>) {
        let store = self.store.clone();
        spawn(
            hub,
            fut,
            async move {
                let status = store.status().await?;
                serde_json::to_string(status.stream_info())
                    .map_err(|e| OsFail::Kind("invalid", format!("bad stream info: {e}")))
            },
            to_py,
        );
    }

    /// The infos of every object (deleted ones too with `include_deleted`); completes `fut`
    /// with a list of `(json, modified ns)`.
    #[pyo3(signature = (hub, fut, include_deleted=true))]
    fn list(&self, hub: &wake::Hub, fut: Py<PyAny>, include_deleted: bool) {
        let store = self.store.clone();
        spawn(
            hub,
            fut,
            async move {
                store
                    .list_with(include_deleted)
                    .await?
                    .iter()
                    .map(info_tuple)
                    .collect::<Result<Vec<_>, _>>()
            },
            to_py,
        );
    }

    /// Starts a watcher of the bucket's objects; completes `fut` with an `ObjWatch` whose
    /// batches are announced by a `wake()` job.
    #[pyo3(signature = (hub, fut, wake, include_history=false, ignore_deletes=false,
        updates_only=false))]
    fn watch(
        &self,
        hub: &wake::Hub,
        fut: Py<PyAny>,
        wake: Py<PyAny>,
        include_history: bool,
        ignore_deletes: bool,
        updates_only: bool,
    ) {
        let store = self.store.clone();
        let options = WatchOptions::new()
            .include_history(include_history)
            .ignore_deletes(ignore_deletes)
            .updates_only(updates_only);
        let inner = Arc::clone(&hub.inner);
        spawn(
            hub,
            fut,
            async move {
                let watch = store.watch_with(options).await?;
                Ok(ObjWatch::start(watch, inner, wake))
            },
            to_py,
        );
    }
}

/// Streams `object` into a Python `write` callable, on a blocking thread, through a bounded
/// channel. The first failure wins: the read's (digest mismatch…) or the file's exception.
async fn write_into(
    object: &mut rnats::object_store::Object,
    write: Py<PyAny>,
) -> Result<(), OsFail> {
    let (tx, mut rx) = mpsc::channel::<Bytes>(GET_QUEUE);
    let writer = runtime().spawn_blocking(move || {
        let mut out = Ok(());
        while let Some(piece) = rx.blocking_recv() {
            let wrote = with_python(|py| {
                write
                    .bind(py)
                    .call1((PyBytes::new(py, &piece),))
                    .map(|_| ())
            });
            match wrote {
                Some(Ok(())) => {}
                Some(Err(e)) => {
                    out = Err(Some(e));
                    break;
                }
                None => {
                    // The interpreter is shutting down.
                    out = Err(None);
                    break;
                }
            }
        }
        with_python(move |_| drop(write));
        out
    });
    let mut read = Ok(());
    loop {
        match next_piece(object).await {
            Ok(piece) if piece.is_empty() => break,
            Ok(piece) => {
                if tx.send(piece).await.is_err() {
                    break; // the writer failed: its error is reported below
                }
            }
            Err(e) => {
                read = Err(e);
                break;
            }
        }
    }
    drop(tx);
    let written = writer
        .await
        .map_err(|e| OsFail::Kind("invalid", format!("the writing thread failed: {e}")))?;
    written.map_err(|e| match e {
        Some(e) => OsFail::Py(e),
        None => OsFail::Kind("io", "the interpreter is shutting down".to_owned()),
    })?;
    read
}

// ---------------------------------------------------------------------------------------------
// Watchers

/// A running watcher (`rnats.js.object_store.ObjectStore.ObjectWatcher` wraps it): infos and
/// `None` for the end of the initial data, read on a tokio task into a bounded buffer.
#[pyclass(frozen, module = "rnats._rnats")]
struct ObjWatch {
    pump: Pump<Option<InfoTuple>>,
}

impl ObjWatch {
    fn start(watch: rnats::object_store::Watch, hub: Arc<HubInner>, wake: Py<PyAny>) -> Self {
        let pump = Pump::start(watch, WATCH_BUFFER, hub, wake, |item| match item {
            Ok(WatchEvent::Info(info)) => info_tuple(&info).ok().map(Some),
            Ok(WatchEvent::InitialDataDone) => Some(None),
            // A meta that is not JSON, a consumer being recreated: the watcher carries on.
            _ => None,
        });
        Self { pump }
    }
}

#[pymethods]
impl ObjWatch {
    /// Takes every buffered event: `(list of (json, modified ns) and None markers, ended)`.
    fn take<'py>(&self, py: Python<'py>) -> PyResult<(Bound<'py, PyList>, bool)> {
        let (items, ended) = self.pump.take();
        let list = PyList::empty(py);
        for item in items {
            match item {
                Some(t) => list.append(t)?,
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

/// Registers the Object Store functions and classes on `_rnats`.
pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(os_create, m)?)?;
    m.add_function(wrap_pyfunction!(os_bind, m)?)?;
    m.add_function(wrap_pyfunction!(os_delete, m)?)?;
    m.add_class::<ObjStore>()?;
    m.add_class::<ObjWatch>()?;
    m.add_class::<OsTask>()?;
    Ok(())
}
