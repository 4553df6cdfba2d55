//! The completion hub: how tokio tasks hand results to one event loop without taking the GIL.
//!
//! A tokio task that finished something for Python (a request's answer) pushes a [`Job`] into
//! the [`Hub`] of the loop that waits for it. Only the push that finds the hub idle wakes the
//! loop, by writing one byte to a socket pair whose read end the loop watches
//! (`loop.add_reader(hub.fileno(), hub.drain)`). On its next turn the loop runs `drain`, which
//! runs every queued job with the GIL: each converts its result into Python objects and
//! completes its `asyncio.Future`.
//!
//! So a burst of answers costs one wake-up and the tokio threads never wait for the GIL (a
//! loop busy running Python holds it for up to the switch interval, 5 ms). A loop without
//! `add_reader` (Windows' proactor loop) gets the fallback: `use_loop(loop)`, after which the
//! idle-to-busy push schedules `drain` with `call_soon_threadsafe` (taking the GIL).
//!
//! The flag `scheduled` is the "a wake-up is on its way" bit: set by the push that sends the
//! byte, cleared by `drain` after it emptied the socket and before it takes the queue, so a
//! job pushed while `drain` runs either is taken by it or sends a new byte.

use std::io::{ErrorKind, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use pyo3::prelude::*;

use crate::{call_soon, with_python};

/// Work to run on the loop thread, with the GIL: typically completing one future.
pub(crate) type Job = Box<dyn FnOnce(Python<'_>) + Send>;

/// What the tokio side holds (see the module docs).
pub(crate) struct HubInner {
    queue: Mutex<Vec<Job>>,
    scheduled: AtomicBool,
    /// The Python `Hub` was dropped (with its loop): nothing will drain any more.
    gone: AtomicBool,
    #[cfg(unix)]
    pipe: Option<(
        std::os::unix::net::UnixStream,
        std::os::unix::net::UnixStream,
    )>,
    /// Set by `use_loop`: wake the loop with `call_soon_threadsafe(drain)` instead.
    fallback: OnceLock<(Py<PyAny>, Py<PyAny>)>,
}

impl HubInner {
    /// Queues `job`; wakes the loop when no wake-up is on its way already. `false` when the
    /// loop's hub is gone (the loop was dropped): the job is dropped, nobody would run it.
    pub(crate) fn push(&self, job: Job) -> bool {
        if self.gone.load(Ordering::Acquire) {
            return false;
        }
        self.queue.lock().push(job);
        if !self.scheduled.swap(true, Ordering::AcqRel) {
            self.wake();
        }
        true
    }

    fn wake(&self) {
        if let Some((event_loop, drain)) = self.fallback.get() {
            // A closed loop: nobody will run the jobs; they are dropped with the hub.
            let _ = with_python(|py| call_soon(py, event_loop, (drain.bind(py),)));
            return;
        }
        #[cfg(unix)]
        if let Some((_, tx)) = &self.pipe {
            // Non-blocking: a full socket buffer means bytes are pending, so the loop wakes
            // anyway. Any other failure leaves the jobs queued for the next drain.
            let _ = (&*tx).write(&[1]);
        }
    }

    /// Empties the wake-up socket (non-blocking reads until nothing is left).
    fn clear(&self) {
        #[cfg(unix)]
        if let Some((rx, _)) = &self.pipe {
            let mut buf = [0u8; 256];
            loop {
                match (&*rx).read(&mut buf) {
                    Ok(n) if n == buf.len() => continue,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    _ => break,
                }
            }
        }
    }
}

/// A completion hub for one event loop (`rnats.aio.client.Client` makes one per connection).
#[pyclass(frozen, module = "rnats._rnats")]
pub(crate) struct Hub {
    pub(crate) inner: Arc<HubInner>,
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.inner.gone.store(true, Ordering::Release);
        // The queued jobs hold Python objects; dropping them here, with the GIL held by the
        // thread that drops the hub, is the cheap moment.
        drop(std::mem::take(&mut *self.inner.queue.lock()));
    }
}

#[pymethods]
impl Hub {
    #[new]
    fn new() -> PyResult<Self> {
        #[cfg(unix)]
        let pipe = {
            let (rx, tx) = std::os::unix::net::UnixStream::pair()?;
            rx.set_nonblocking(true)?;
            tx.set_nonblocking(true)?;
            Some((rx, tx))
        };
        Ok(Self {
            inner: Arc::new(HubInner {
                queue: Mutex::new(Vec::new()),
                scheduled: AtomicBool::new(false),
                gone: AtomicBool::new(false),
                #[cfg(unix)]
                pipe,
                fallback: OnceLock::new(),
            }),
        })
    }

    /// The file descriptor the loop watches for readability, or -1 when there is none
    /// (then `use_loop` must be called).
    fn fileno(&self) -> i64 {
        #[cfg(unix)]
        if let Some((rx, _)) = &self.inner.pipe {
            use std::os::fd::AsRawFd;
            return i64::from(rx.as_raw_fd());
        }
        -1
    }

    /// Wake `event_loop` with `call_soon_threadsafe(drain)` (for loops without `add_reader`).
    fn use_loop(slf: &Bound<'_, Self>, event_loop: Py<PyAny>) -> PyResult<()> {
        let drain = slf.getattr("drain")?.unbind();
        let _ = slf.get().inner.fallback.set((event_loop, drain));
        Ok(())
    }

    /// Runs every queued job (on the loop thread). A job's failure is its own future's
    /// exception; this never raises.
    fn drain(&self, py: Python<'_>) {
        let inner = &self.inner;
        inner.clear();
        inner.scheduled.store(false, Ordering::Release);
        let jobs = std::mem::take(&mut *inner.queue.lock());
        for job in jobs {
            job(py);
        }
    }

    /// Jobs queued and not yet run.
    fn pending(&self) -> usize {
        self.inner.queue.lock().len()
    }
}
