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

/// A future polled on the loop thread instead of on a tokio task: first by the caller (on the
/// loop thread, right after the work started), then by a hub job each time it is woken. Its
/// output is a [`Job`] (typically: complete an `asyncio.Future`), run at once.
///
/// For a request this saves the task a tokio worker would otherwise be woken for (a cross-thread
/// wake-up competing for the CPU with the server while the request is in flight) and the task
/// hop when the answer comes: the driver's wake of the answer's channel queues the job
/// directly. Meant for futures whose every step is cheap (no blocking, little CPU): each step
/// runs with the GIL, on the loop.
pub(crate) struct LoopTask {
    hub: Arc<HubInner>,
    /// A poll job is queued and has not started yet: further wakes need not queue another.
    queued: AtomicBool,
    fut: Mutex<Option<crate::BoxFuture<Job>>>,
}

impl LoopTask {
    /// Polls `fut` now (the caller is on the loop thread); queues its later polls in `hub`.
    pub(crate) fn start(py: Python<'_>, hub: Arc<HubInner>, fut: crate::BoxFuture<Job>) {
        let task = Arc::new(LoopTask {
            hub,
            queued: AtomicBool::new(false),
            fut: Mutex::new(Some(fut)),
        });
        task.run(py);
    }

    /// One poll, in the runtime's context (tokio timers); the output's job runs at once.
    fn run(self: &Arc<Self>, py: Python<'_>) {
        let job = {
            let mut slot = self.fut.lock();
            let Some(fut) = slot.as_mut() else {
                return; // done already (a late, spurious wake)
            };
            let waker = std::task::Waker::from(Arc::clone(self));
            let _guard = crate::runtime().enter();
            match fut
                .as_mut()
                .poll(&mut std::task::Context::from_waker(&waker))
            {
                std::task::Poll::Ready(job) => {
                    *slot = None;
                    job
                }
                std::task::Poll::Pending => return,
            }
        };
        job(py);
    }
}

impl std::task::Wake for LoopTask {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if self.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let task = Arc::clone(self);
        let queued = self.hub.push(Box::new(move |py| {
            task.queued.store(false, Ordering::Release);
            task.run(py);
        }));
        if !queued {
            // The loop is gone: nobody will poll again. Dropping the future breaks the cycle
            // future -> channel -> waker -> this task.
            // (`try_lock`: a wake from inside this task's own poll must not deadlock.)
            if let Some(mut slot) = self.fut.try_lock() {
                drop(slot.take());
            }
        }
    }
}
