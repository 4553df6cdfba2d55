//! A stream read by a tokio task into a bounded buffer that the event loop drains in batches:
//! the Key-Value and Object Store watchers and the service endpoints' requests.
//!
//! The task reads everything ready (up to the bound) under one lock, and only the first item
//! of a batch queues a wake-up in the hub: Python's `take()` then gets the whole batch. A full
//! buffer makes the task wait until Python has taken it (backpressure to the stream).

use std::collections::VecDeque;
use std::sync::Arc;

use futures_util::{FutureExt, Stream, StreamExt};
use parking_lot::Mutex;
use pyo3::prelude::*;

use crate::runtime;
use crate::wake::HubInner;

/// What the reader task and Python share.
struct Shared<T> {
    inbox: Mutex<Inbox<T>>,
    taken: tokio::sync::Notify,
}

struct Inbox<T> {
    /// Items not yet taken.
    items: VecDeque<T>,
    /// A wake-up is queued in the hub and not yet answered by a `take()`.
    wake_queued: bool,
    /// The stream ended (or the pump was stopped).
    ended: bool,
}

/// A running pump; dropping it stops the reader task.
pub(crate) struct Pump<T> {
    shared: Arc<Shared<T>>,
    task: tokio::task::AbortHandle,
}

impl<T: Send + 'static> Pump<T> {
    /// Starts reading `stream` on the runtime: each item `map` turns into `Some` is buffered
    /// (at most `limit`), and `wake()` is called on the event loop (through `hub`) when a
    /// batch is ready or the stream ended.
    pub(crate) fn start<S, F>(
        stream: S,
        limit: usize,
        hub: Arc<HubInner>,
        wake: Py<PyAny>,
        map: F,
    ) -> Self
    where
        S: Stream + Unpin + Send + 'static,
        F: FnMut(S::Item) -> Option<T> + Send + 'static,
    {
        let shared = Arc::new(Shared {
            inbox: Mutex::new(Inbox {
                items: VecDeque::new(),
                wake_queued: false,
                ended: false,
            }),
            taken: tokio::sync::Notify::new(),
        });
        let task = runtime()
            .spawn(read(
                stream,
                limit,
                map,
                Arc::clone(&shared),
                hub,
                Arc::new(wake),
            ))
            .abort_handle();
        Self { shared, task }
    }

    /// Every buffered item, and whether the stream has ended; lets the reader go on.
    pub(crate) fn take(&self) -> (VecDeque<T>, bool) {
        let taken = {
            let mut inbox = self.shared.inbox.lock();
            inbox.wake_queued = false;
            (std::mem::take(&mut inbox.items), inbox.ended)
        };
        self.shared.taken.notify_one();
        taken
    }

    /// Stops reading; the next `take()` says the stream ended.
    pub(crate) fn stop(&self) {
        self.task.abort();
        self.shared.inbox.lock().ended = true;
    }
}

impl<T> Drop for Pump<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn read<S, F, T>(
    mut stream: S,
    limit: usize,
    mut map: F,
    shared: Arc<Shared<T>>,
    hub: Arc<HubInner>,
    wake: Arc<Py<PyAny>>,
) where
    S: Stream + Unpin,
    F: FnMut(S::Item) -> Option<T>,
{
    loop {
        loop {
            let taken = shared.taken.notified();
            if shared.inbox.lock().items.len() < limit {
                break;
            }
            taken.await;
        }
        let mut next = stream.next().await;
        let (need_wake, ended) = {
            let mut inbox = shared.inbox.lock();
            loop {
                match next {
                    Some(item) => {
                        if let Some(item) = map(item) {
                            inbox.items.push_back(item);
                        }
                    }
                    None => {
                        inbox.ended = true;
                        break;
                    }
                }
                if inbox.items.len() >= limit {
                    break;
                }
                match stream.next().now_or_never() {
                    Some(item) => next = item,
                    None => break,
                }
            }
            let need = !inbox.wake_queued && (!inbox.items.is_empty() || inbox.ended);
            if need {
                inbox.wake_queued = true;
            }
            (need, inbox.ended)
        };
        if need_wake && !hub.push(crate::js::wake_job(&wake)) {
            return; // the loop is gone
        }
        if ended {
            return;
        }
    }
}
