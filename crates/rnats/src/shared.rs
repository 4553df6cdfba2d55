//! The state every [`crate::Client`] clone, every [`crate::Subscriber`] and the driver task
//! share: [`Shared`], its one lock around [`Core`], and what callers do under that lock
//! (publishing, subscribing, flushing, the write-through path). See ARCHITECTURE.md.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicIsize, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use rnats_proto::{ConnState, Connection, FlushToken, HeaderMap, ServerPool, Sid};
use tokio::net::TcpStream;
use tokio::sync::{oneshot, Notify};

use crate::addr::ServerAddr;
use crate::error::{Error, ErrorKind};
use crate::events::EventHub;
use crate::options::ConnectOptions;
use crate::subscriber::{SubQueue, Subscriber};

/// Counters only the driver writes; message counts live in [`Core`], under the lock the
/// publishers and the driver already hold, so no cache line bounces between them.
#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) in_bytes: AtomicU64,
    pub(crate) out_bytes: AtomicU64,
    pub(crate) connects: AtomicU64,
    pub(crate) dropped_msgs: AtomicU64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lifecycle {
    Open,
    Draining,
    Closing,
    Closed,
}

/// The hasher of the core's tables, keyed by the client's own numbers (subscription ids,
/// request ids): none is chosen by a peer, so a fast hasher fits (the standard one is built
/// to resist chosen keys and costs more per lookup, made once or twice per message).
pub(crate) type FastHash = foldhash::fast::RandomState;

/// State shared by every [`Client`] clone, every [`Subscriber`] and the driver task.
pub(crate) struct Shared {
    pub(crate) core: Mutex<Core>,
    /// The metric handles (feature `metrics`).
    #[cfg(feature = "metrics")]
    pub(crate) metrics: crate::metrics::Handles,
    /// Wakes the driver when there is something to write or the client closes.
    pub(crate) driver_waker: AtomicWaker,
    /// Set (with a wake) when the driver must look at the core: bytes to write, close,
    /// force_reconnect. Lets the driver skip the lock when it was woken only to read.
    pub(crate) attention: AtomicBool,
    /// The driver holds bytes it took from the write buffer and has not finished writing:
    /// nothing may be written past them. Set under the core lock when it takes bytes,
    /// cleared (without the lock) once they are written.
    pub(crate) driver_busy: AtomicBool,
    /// Messages queued for this client's subscribers that their readers have not taken yet
    /// (added by the driver per read, taken off by a `Subscriber` when it finishes a batch).
    /// More than none: a reader is working through a batch and will likely publish again,
    /// so callers leave writing to the driver (see `write_through`). Signed: the driver adds
    /// after releasing the lock, so a dropped subscriber may take off first.
    pub(crate) unconsumed: AtomicIsize,
    /// Answered requests whose tasks are still to be woken (see `ReplyWakes`).
    pub(crate) reply_wakes: crate::request::ReplyWakes,
    /// A request moved `Core::next_expiry` earlier: the driver re-arms its timer (a wake of
    /// the driver does that while connected; this reaches it while it reconnects).
    pub(crate) expiry_moved: Notify,
    /// Set with `expiry_moved`: the connected driver re-arms its timer at its next timer
    /// step (even while a write is still under way, when it does not look at the core).
    pub(crate) expiry_sooner: AtomicBool,
    /// Wakes publishers waiting for room in the write buffer.
    pub(crate) space: Notify,
    /// Wakes the driver out of a reconnect wait when the client closes.
    pub(crate) close_requested: Notify,
    pub(crate) stats: Stats,
    pub(crate) options: ConnectOptions,
    /// `<inbox prefix>.<nuid>.`: requests get reply subjects under it.
    pub(crate) mux_prefix: String,
    pub(crate) events: EventHub,
    /// A `tls://` or `wss://` address was among the servers given: TLS on every server.
    pub(crate) tls_in_pool: bool,
    /// Set once a connection of this client completed a TLS handshake: from then on no
    /// server is connected to in plain text (see `driver::tls_reason`).
    pub(crate) tls_used: AtomicBool,
}

/// The mutable part of [`Shared`], behind one lock.
pub(crate) struct Core {
    pub(crate) conn: Connection,
    pub(crate) subs: HashMap<Sid, Arc<SubQueue>, FastHash>,
    pub(crate) mux_sid: Option<Sid>,
    pub(crate) requests: HashMap<u64, Arc<crate::request::ReplySlot>, FastHash>,
    pub(crate) next_request: u64,
    /// No request in `requests` times out before this (a lower bound: answered ones leave
    /// it behind); the driver's timer looks at the table then (`request::expire_requests`).
    pub(crate) next_expiry: Option<tokio::time::Instant>,
    pub(crate) flushes: HashMap<FlushToken, oneshot::Sender<Result<(), Error>>, FastHash>,
    pub(crate) lifecycle: Lifecycle,
    pub(crate) close_waiters: Vec<oneshot::Sender<()>>,
    pub(crate) pool: ServerPool<ServerAddr>,
    /// The server of the current (or latest) connection.
    pub(crate) current_server: Option<ServerAddr>,
    /// Set by [`Client::force_reconnect`]; the driver drops the connection when it sees it.
    pub(crate) force_reconnect: bool,
    /// The plain TCP socket of the current connection, for [`Shared::write_through`].
    pub(crate) direct: Option<Arc<TcpStream>>,
    /// When bytes were last handed to the socket.
    pub(crate) last_write: Option<std::time::Instant>,
    /// Requests encoded by callers outside the runtime's tasks and not yet sent on (see
    /// `Shared::flush_deferred`).
    pub(crate) deferred: u32,
    pub(crate) in_msgs: u64,
    pub(crate) out_msgs: u64,
}

impl Core {
    pub(crate) fn check_open(&self) -> Result<(), Error> {
        match self.lifecycle {
            Lifecycle::Open => Ok(()),
            Lifecycle::Draining => Err(Error::new(
                ErrorKind::Draining,
                "the client is draining and takes no new subscriptions or requests",
            )),
            Lifecycle::Closing | Lifecycle::Closed => Err(Error::closed()),
        }
    }

    /// Removes a subscription's queue and ends its stream.
    pub(crate) fn close_queue(&mut self, sid: Sid, wakers: &mut Vec<Waker>) {
        if let Some(q) = self.subs.remove(&sid) {
            wakers.extend(q.close());
        }
    }
}

impl Shared {
    /// Wakes the driver to look at the core (see [`Shared::attention`]).
    pub(crate) fn wake_driver(&self) {
        self.attention.store(true, Ordering::Release);
        self.driver_waker.wake();
    }

    /// Wakes the driver if the write buffer went from empty to not empty.
    pub(crate) fn after_write(&self, was_empty: bool) {
        if was_empty {
            self.wake_driver();
        }
    }

    /// Sends what was just encoded: on an idle plain-TCP connection the caller writes it to
    /// the socket itself (saving the hop to the driver task, which is most of a request's
    /// latency); otherwise, or for what the socket does not take at once, the driver is woken.
    /// Call under the core lock, right after encoding into a write buffer that was empty.
    pub(crate) fn send_now(&self, core: &mut Core, was_empty: bool) {
        if was_empty && !self.write_through(core) {
            self.wake_driver();
        }
    }

    /// True when the whole write buffer went to the socket. Only when the driver has nothing
    /// in hand (so bytes stay in order) and the connection was idle for a moment: a busy
    /// connection is better served by the driver's batched writes than by a syscall per
    /// message.
    fn write_through(&self, core: &mut Core) -> bool {
        /// Writes closer together than this are left to the driver to batch.
        const IDLE: Duration = Duration::from_micros(50);
        if core.direct.is_none() || self.driver_busy.load(Ordering::Acquire) {
            return false;
        }
        // Other requests are waiting for answers: more traffic is on its way, and the
        // driver's batched writes serve it better than a syscall per request.
        if core.requests.len() > 1 {
            return false;
        }
        // A subscriber has received messages it has not read yet: an answer to one of a batch
        // is followed by the others' answers. Left to the driver, which runs once the reading
        // task yields, they go in one write instead of the first alone and then the rest.
        if self.unconsumed.load(Ordering::Relaxed) > 0 {
            return false;
        }
        let now = std::time::Instant::now();
        if core
            .last_write
            .is_some_and(|at| now.saturating_duration_since(at) < IDLE)
        {
            return false;
        }
        self.write_direct(core, now)
    }

    /// Writes the write buffer to the socket from the caller's thread: true when all of it
    /// went. Only on plain TCP and when the driver holds no bytes it took (so bytes stay in
    /// order). Call under the core lock.
    fn write_direct(&self, core: &mut Core, now: std::time::Instant) -> bool {
        let Some(tcp) = core.direct.as_ref() else {
            return false;
        };
        if self.driver_busy.load(Ordering::Acquire) {
            return false;
        }
        // A large payload is queued as a buffer of its own: the driver writes it vectored.
        let Some(pending) = core.conn.transmit_pending() else {
            return false;
        };
        match tcp.try_write(pending) {
            Ok(n) => {
                core.conn.consume_transmit(n);
                core.last_write = Some(now);
                self.stats.out_bytes.fetch_add(n as u64, Ordering::Relaxed);
                core.conn.transmit_len() == 0
            }
            // Not writable now, or broken: the driver will find out and handle it.
            Err(_) => false,
        }
    }

    /// Sends what callers outside the runtime's tasks encoded without waking the driver
    /// (`Client::send_request`): written from this thread when it can be, else the driver
    /// is woken. Nothing to do when someone already took it.
    pub(crate) fn flush_deferred(&self) {
        let mut core = self.core.lock();
        let deferred = std::mem::take(&mut core.deferred);
        if core.conn.transmit_len() == 0 {
            return;
        }
        // Several callers' requests (a batch made in one pass of the caller's futures), or a
        // lone request: written from here. One request among others in flight is a loop
        // sending one at a time: left to the driver, which writes such a stream in batches.
        let direct = deferred > 1 || core.requests.len() <= 1;
        if !(direct && self.write_direct(&mut core, std::time::Instant::now())) {
            drop(core);
            self.wake_driver();
        }
    }

    /// Encodes the publish if the write buffer has room (or the connection is down: the
    /// reconnect buffer has its own bound); `None` when the caller must wait for room.
    fn try_publish(
        &self,
        core: &mut Core,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) -> Option<Result<(), Error>> {
        // Once close() started, a publish could land after the driver's last write: refuse it
        // rather than return Ok for a message that is never sent.
        if matches!(core.lifecycle, Lifecycle::Closing | Lifecycle::Closed) {
            return Some(Err(Error::closed()));
        }
        let len = core.conn.transmit_len();
        if len >= self.options.write_buffer_size && core.conn.state() == ConnState::Connected {
            return None;
        }
        if let Err(e) = core.conn.publish_bytes(subject, reply, headers, payload) {
            return Some(Err(e.into()));
        }
        core.out_msgs += 1;
        self.send_now(core, len == 0);
        Some(Ok(()))
    }

    /// [`Shared::publish`] without waiting: `None` when the write buffer is full.
    pub(crate) fn try_publish_now(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) -> Option<Result<(), Error>> {
        self.try_publish(&mut self.core.lock(), subject, reply, headers, payload)
    }

    pub(crate) async fn publish(
        &self,
        subject: &str,
        reply: Option<&str>,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
    ) -> Result<(), Error> {
        // Fast path: room in the write buffer (or not connected: the reconnect buffer has its
        // own bound). One lock, no allocation.
        if let Some(done) =
            self.try_publish(&mut self.core.lock(), subject, reply, headers, payload)
        {
            return done;
        }
        // The connection is behind: wait until the driver takes the buffer.
        loop {
            let notified = self.space.notified();
            tokio::pin!(notified);
            {
                let mut core = self.core.lock();
                if let Some(done) = self.try_publish(&mut core, subject, reply, headers, payload) {
                    return done;
                }
                // Enabled under the lock: the driver cannot take the buffer and notify
                // before this waiter is registered.
                notified.as_mut().enable();
            }
            self.wake_driver();
            notified.await;
        }
    }

    pub(crate) fn subscribe(
        self: &Arc<Self>,
        subject: &str,
        queue_group: Option<&str>,
    ) -> Result<Subscriber, Error> {
        let mut core = self.core.lock();
        core.check_open()?;
        let was_empty = core.conn.transmit_len() == 0;
        let sid = core.conn.subscribe(subject, queue_group)?;
        let queue = Arc::new(SubQueue::new(
            subject.to_owned(),
            self.options.pending_msgs_limit,
            self.options.pending_bytes_limit,
        ));
        core.subs.insert(sid, queue.clone());
        drop(core);
        self.after_write(was_empty);
        Ok(Subscriber::new(sid, self.clone(), queue))
    }

    pub(crate) fn unsubscribe(&self, sid: Sid) {
        let mut wakers = Vec::new();
        let mut core = self.core.lock();
        let was_empty = core.conn.transmit_len() == 0;
        core.conn.unsubscribe(sid);
        core.close_queue(sid, &mut wakers);
        drop(core);
        wakers.into_iter().for_each(Waker::wake);
        self.after_write(was_empty);
    }

    pub(crate) fn unsubscribe_after(&self, sid: Sid, max: u64) -> Result<(), Error> {
        let mut wakers = Vec::new();
        let mut core = self.core.lock();
        let was_empty = core.conn.transmit_len() == 0;
        if core.conn.unsubscribe_after(sid, max) == Some(true) {
            core.close_queue(sid, &mut wakers);
        }
        drop(core);
        wakers.into_iter().for_each(Waker::wake);
        self.after_write(was_empty);
        Ok(())
    }

    /// Registers a flush; the receiver completes when the server answered its PING.
    pub(crate) fn start_flush(
        &self,
        core: &mut Core,
    ) -> Result<oneshot::Receiver<Result<(), Error>>, Error> {
        let token = core.conn.flush()?;
        let (tx, rx) = oneshot::channel();
        core.flushes.insert(token, tx);
        Ok(rx)
    }

    pub(crate) async fn flush(&self) -> Result<(), Error> {
        let rx = {
            let mut core = self.core.lock();
            let was_empty = core.conn.transmit_len() == 0;
            let rx = self.start_flush(&mut core)?;
            self.send_now(&mut core, was_empty);
            rx
        };
        rx.await.unwrap_or_else(|_| Err(Error::closed()))
    }

    pub(crate) async fn drain_subscription(&self, sid: Sid) -> Result<(), Error> {
        let rx = {
            let mut core = self.core.lock();
            let was_empty = core.conn.transmit_len() == 0;
            if !core.conn.drain_subscription(sid) {
                return Ok(());
            }
            let rx = self.start_flush(&mut core);
            drop(core);
            self.after_write(was_empty);
            rx
        };
        let flushed = match rx {
            Ok(rx) => rx.await.unwrap_or_else(|_| Err(Error::closed())),
            Err(e) => Err(e),
        };
        self.unsubscribe(sid);
        flushed
    }

    /// Asks the driver to write what is buffered and close.
    pub(crate) fn request_close(&self) -> Option<oneshot::Receiver<()>> {
        let mut core = self.core.lock();
        if core.lifecycle == Lifecycle::Closed {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        core.close_waiters.push(tx);
        core.lifecycle = Lifecycle::Closing;
        drop(core);
        self.wake_driver();
        self.close_requested.notify_one();
        Some(rx)
    }
}
