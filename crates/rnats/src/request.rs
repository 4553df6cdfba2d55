//! Request / reply: [`Request`], the [`Response`] future, and the one shared reply
//! subscription (`<inbox prefix>.<nuid>.*`) every request of a client is answered on. The
//! driver hands each reply on it to the waiting request by the token that ends its subject
//! ([`waiting_request`]); no subscription is made per request.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use parking_lot::Mutex;
use rnats_proto::HeaderMap;

use crate::client::Client;
use crate::error::{Error, ErrorKind};
use crate::message::Message;
use crate::shared::{Core, Shared};

/// Options of one request: payload, headers and timeout.
///
/// ```no_run
/// # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
/// use std::time::Duration;
/// let mut headers = rnats::HeaderMap::new();
/// headers.insert("Trace-Id", "42");
/// let answer = client
///     .request_with(
///         "service.time",
///         rnats::Request::new()
///             .payload("now?")
///             .headers(headers)
///             .timeout(Duration::from_millis(500)),
///     )
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Request {
    payload: Bytes,
    headers: Option<HeaderMap>,
    timeout: Option<Option<Duration>>,
}

impl Request {
    /// An empty request using the client's default timeout.
    pub fn new() -> Self {
        Self::default()
    }

    /// The payload to send.
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Headers to send.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = Some(headers);
        self
    }

    /// How long to wait for the answer (instead of the client's request timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(Some(timeout));
        self
    }

    /// Wait for the answer without a time limit.
    pub fn no_timeout(mut self) -> Self {
        self.timeout = Some(None);
        self
    }
}

/// How a request ended, as the driver leaves it in its [`ReplySlot`].
pub(crate) enum Answer {
    Message(Message),
    /// A no-responders status (503 without a payload), and when it arrived: a JetStream
    /// publish counts the wait before its retry from then, not from when its ack future is
    /// next polled.
    NoResponders(tokio::time::Instant),
    /// The deadline passed (found by the driver's timer, see `expire_requests`).
    TimedOut,
    /// The client closed first.
    Closed,
}

/// Where the driver leaves a request's answer. Filling and waking are two steps, unlike a
/// channel's send: the driver fills every slot of a read batch first and wakes their tasks
/// after, so a task woken by the first answer finds the others already there instead of
/// going back to sleep between them (on a multi-thread runtime, a wake-up per answer).
pub(crate) struct ReplySlot {
    /// `None` while waiting.
    answer: Mutex<Option<Answer>>,
    waker: AtomicWaker,
    /// When the request times out (`None`: never). The driver's timer ends it then: no
    /// timer per request.
    pub(crate) deadline: Option<tokio::time::Instant>,
}

impl ReplySlot {
    fn new(deadline: Option<tokio::time::Instant>) -> Arc<Self> {
        Arc::new(Self {
            answer: Mutex::new(None),
            waker: AtomicWaker::new(),
            deadline,
        })
    }

    /// Leaves the answer; the waiting task is woken by [`ReplySlot::wake`], once the whole
    /// batch is filled.
    pub(crate) fn fill(&self, answer: Answer) {
        *self.answer.lock() = Some(answer);
    }

    pub(crate) fn wake(&self) {
        self.waker.wake();
    }

    /// The answer if it is there (checked again after registering, so a fill between the
    /// first look and the registration is not missed).
    fn poll_answer(&self, cx: &mut TaskContext<'_>) -> Poll<Answer> {
        if let Some(answer) = self.answer.lock().take() {
            return Poll::Ready(answer);
        }
        self.waker.register(cx.waker());
        match self.answer.lock().take() {
            Some(answer) => Poll::Ready(answer),
            None => Poll::Pending,
        }
    }
}

/// Takes every request whose deadline is `now` or past out of the table (each goes to
/// `ended` with [`Answer::TimedOut`], filled once the lock is released, like an answer) and
/// sets `Core::next_expiry` to the earliest deadline left. Does nothing before `next_expiry`.
pub(crate) fn expire_requests(
    core: &mut Core,
    now: tokio::time::Instant,
    ended: &mut Vec<(Arc<ReplySlot>, Answer)>,
) {
    if core.next_expiry.is_none_or(|at| at > now) {
        return;
    }
    let mut next: Option<tokio::time::Instant> = None;
    core.requests.retain(|_, slot| match slot.deadline {
        Some(at) if at <= now => {
            ended.push((Arc::clone(slot), Answer::TimedOut));
            false
        }
        Some(at) => {
            next = Some(next.map_or(at, |n| n.min(at)));
            true
        }
        None => true,
    });
    core.next_expiry = next;
}

/// Answered requests whose tasks are still to be woken. The driver queues a whole read
/// batch here and then wakes them one by one; a task it woke, once running, wakes the rest
/// itself ([`Response`]'s poll calls [`ReplyWakes::wake_all`] first). On two cores the woken
/// task often runs at once in the driver's place, so without this it would find one answer,
/// go back to sleep, and be woken again for the next: a sleep and a wake-up per answer.
#[derive(Default)]
pub(crate) struct ReplyWakes {
    queue: Mutex<std::collections::VecDeque<Arc<ReplySlot>>>,
    /// Something is queued (a hint read without the lock; set and cleared under it).
    pending: std::sync::atomic::AtomicBool,
}

impl ReplyWakes {
    /// Queues filled slots for [`ReplyWakes::wake_all`].
    pub(crate) fn queue(&self, slots: impl Iterator<Item = Arc<ReplySlot>>) {
        let mut queue = self.queue.lock();
        queue.extend(slots);
        if !queue.is_empty() {
            self.pending.store(true, Ordering::Release);
        }
    }

    /// Wakes every queued slot's task; returns once the queue is empty. Safe to run on
    /// several threads at once: each slot is taken out under the lock and woken once.
    pub(crate) fn wake_all(&self) {
        while self.pending.load(Ordering::Acquire) {
            let slot = {
                let mut queue = self.queue.lock();
                let slot = queue.pop_front();
                if queue.is_empty() {
                    self.pending.store(false, Ordering::Release);
                }
                slot
            };
            if let Some(slot) = slot {
                slot.wake();
            }
        }
    }
}

impl Shared {
    /// Queues a request on the shared reply subscription; the answer comes in the slot.
    fn start_request(
        &self,
        subject: &str,
        headers: Option<&HeaderMap>,
        payload: &Bytes,
        deadline: Option<tokio::time::Instant>,
        defer: bool,
    ) -> Result<(u64, Arc<ReplySlot>), Error> {
        let slot = ReplySlot::new(deadline);
        let mut core = self.core.lock();
        core.check_open()?;
        let was_empty = core.conn.transmit_len() == 0;
        if core.mux_sid.is_none() {
            let sid = core
                .conn
                .subscribe(&format!("{}*", self.mux_prefix), None)?;
            core.mux_sid = Some(sid);
        }
        let token = core.next_request;
        core.next_request += 1;
        let mut reply = String::with_capacity(self.mux_prefix.len() + 20);
        reply.push_str(&self.mux_prefix);
        reply.push_str(itoa::Buffer::new().format(token));
        if let Err(e) = core
            .conn
            .publish_bytes(subject, Some(&reply), headers, payload)
        {
            // The reply subscription may have just been queued above: it must still be
            // sent, or it sits in the buffer unannounced and, the buffer being non-empty,
            // no later call wakes the driver (every publish after it stalls).
            self.send_now(&mut core, was_empty);
            return Err(e.into());
        }
        core.out_msgs += 1;
        core.requests.insert(token, Arc::clone(&slot));
        // The driver's timer must come earlier for this one (usually only for the first
        // request after a quiet spell: with one timeout for all, later ones end later).
        let sooner = deadline.is_some_and(|at| core.next_expiry.is_none_or(|next| at < next));
        if sooner {
            core.next_expiry = deadline;
        }
        if defer {
            core.deferred += 1;
        } else {
            self.send_now(&mut core, was_empty);
        }
        drop(core);
        if sooner {
            self.expiry_sooner.store(true, Ordering::Release);
            self.wake_driver();
            self.expiry_moved.notify_one();
        }
        Ok((token, slot))
    }
}

/// `now + after`, or about 30 years from now when that overflows (a caller's
/// `Duration::MAX` means "no limit", not a panic).
pub(crate) fn deadline_in(after: Duration) -> tokio::time::Instant {
    deadline_from(tokio::time::Instant::now(), after)
}

/// `now + after`, as [`deadline_in`] (for a caller that has read the clock already).
fn deadline_from(now: tokio::time::Instant, after: Duration) -> tokio::time::Instant {
    now.checked_add(after)
        .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
}

/// The request waiting for a reply that arrived on the shared reply subscription with
/// `subject`, taken out of the table; `None` for a late or unknown reply (dropped: its
/// request timed out or was cancelled).
pub(crate) fn waiting_request(
    shared: &Shared,
    core: &mut Core,
    subject: &str,
) -> Option<Arc<ReplySlot>> {
    let token = subject
        .strip_prefix(shared.mux_prefix.as_str())
        .and_then(|t| t.parse::<u64>().ok())?;
    core.requests.remove(&token)
}

/// The answer to one request, from [`Client::send_request`]: a future resolving to the first
/// reply.
///
/// Fails with [`Error::is_no_responders`] when nobody is subscribed to the subject, with
/// [`Error::is_timeout`] when the request's timeout passes first (counted from the send), and
/// with a closed error when the client closes. Dropping it forgets the request: a late answer
/// is discarded.
#[must_use = "a request's answer is only received by awaiting its Response"]
pub struct Response {
    shared: Arc<Shared>,
    slot: Arc<ReplySlot>,
    token: u64,
    /// The driver took the entry out (answer delivered, or the client closed).
    answered: bool,
    subject: String,
    timeout: Option<Duration>,
    /// When it failed, once it did: its no-responders answer arrived, or its timeout ended.
    /// A JetStream publish's ack future waits for its retry from then.
    #[cfg(feature = "jetstream")]
    failed_at: Option<tokio::time::Instant>,
    /// When the request was sent, for the latency histogram.
    #[cfg(feature = "metrics")]
    sent: tokio::time::Instant,
}

impl Response {
    /// The subject the request was sent to.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// When the request failed with no responders (the answer's arrival) or a timeout (its
    /// deadline); `None` for any other end, or before the end.
    #[cfg(feature = "jetstream")] // only a JetStream publish's ack future reads it
    pub(crate) fn failed_at(&self) -> Option<tokio::time::Instant> {
        self.failed_at
    }
}

impl Future for Response {
    type Output = Result<Message, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if this.answered {
            return Poll::Ready(Err(Error::new(
                ErrorKind::InvalidArgument,
                "this Response was already awaited to completion",
            )));
        }
        // Answers the driver has filled but not woken yet: their tasks are woken from here.
        this.shared.reply_wakes.wake_all();
        let Poll::Ready(answer) = this.slot.poll_answer(cx) else {
            return Poll::Pending;
        };
        // The driver took the entry out of the table (answer, timeout or close).
        this.answered = true;
        let (result, failed_at) = match answer {
            Answer::Message(msg) => (Ok(msg), None),
            Answer::NoResponders(arrived) => (
                Err(Error::new(
                    ErrorKind::NoResponders,
                    format!("no responders are subscribed to {:?}", this.subject),
                )),
                Some(arrived),
            ),
            Answer::TimedOut => {
                let timeout = this.timeout.unwrap_or_default();
                (
                    Err(Error::new(
                        ErrorKind::Timeout,
                        format!("request to {:?} timed out after {timeout:?}", this.subject),
                    )),
                    this.slot.deadline,
                )
            }
            Answer::Closed => return Poll::Ready(Err(Error::closed())),
        };
        #[cfg(feature = "jetstream")]
        {
            this.failed_at = failed_at;
        }
        #[cfg(not(feature = "jetstream"))]
        let _ = failed_at;
        #[cfg(feature = "metrics")]
        this.shared.metrics.request(
            match &result {
                Ok(_) => crate::metrics::Outcome::Answered,
                Err(e) if e.is_timeout() => crate::metrics::Outcome::Timeout,
                Err(_) => crate::metrics::Outcome::NoResponders,
            },
            this.sent.elapsed(),
        );
        Poll::Ready(result)
    }
}

impl Drop for Response {
    fn drop(&mut self) {
        if !self.answered {
            self.shared.core.lock().requests.remove(&self.token);
        }
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("subject", &self.subject)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Sends a request and waits for the first answer, up to the client's request timeout.
    ///
    /// Fails with [`Error::is_no_responders`] at once when nobody is subscribed to `subject`,
    /// and with [`Error::is_timeout`] when nobody answers in time. All requests share one
    /// wildcard subscription; no subscription is made per request.
    ///
    /// Cancelling: dropping the future after its first poll may still send the request.
    pub async fn request(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<Message, Error> {
        self.request_with(subject, Request::new().payload(payload))
            .await
    }

    /// Sends a request with headers and/or its own timeout. See [`Client::request`].
    pub async fn request_with(
        &self,
        subject: impl AsRef<str>,
        request: Request,
    ) -> Result<Message, Error> {
        self.send_request(subject, request).await?.await
    }

    /// Sends a request now and returns its [`Response`] to await later: many requests in
    /// flight from one task, each answer delivered straight to its `Response` (the shared
    /// reply subscription of [`Client::request`], no subscription per request).
    ///
    /// The timeout (the request's, or the client's request timeout) counts from now. Fails
    /// at once, sending nothing, when the subject is invalid, the message too large, or the
    /// client closed.
    ///
    /// Called from outside the runtime's tasks (the future of `block_on` or
    /// `#[tokio::main]`), it yields once before it returns: the requests the caller's other
    /// futures make in the same pass are then written together, from the caller's thread,
    /// without waking a worker for the connection's driver. One request at a time among many
    /// in flight (a loop like the one below) is left to the driver, which batches such a
    /// stream.
    ///
    /// ```no_run
    /// # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
    /// use rnats::Request;
    /// let mut pending = Vec::new();
    /// for i in 0..100 {
    ///     pending.push(client.send_request("square", Request::new().payload(i.to_string())).await?);
    /// }
    /// for response in pending {
    ///     let answer = response.await?;
    ///     println!("{:?}", answer.payload);
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn send_request(
        &self,
        subject: impl AsRef<str>,
        request: Request,
    ) -> Result<Response, Error> {
        let subject = subject.as_ref();
        let timeout = request
            .timeout
            .unwrap_or(self.shared.options.request_timeout);
        let now = tokio::time::Instant::now();
        let deadline = timeout.map_or(now, |after| deadline_from(now, after));
        // A caller outside the runtime's tasks (the future of `block_on`, e.g. `#[tokio::main]`)
        // writes its requests itself: it yields once, so that the requests its other futures
        // are making in the same pass are encoded too, then writes them all in one go (see
        // `Shared::flush_deferred`). Left to the driver, they would cost a wake-up of a
        // worker thread per batch.
        let defer = tokio::task::try_id().is_none();
        let (token, slot) = self.shared.start_request(
            subject,
            request.headers.as_ref(),
            &request.payload,
            timeout.map(|_| deadline),
            defer,
        )?;
        // Made before the yield: if this future is dropped there, dropping the Response
        // forgets the request.
        let response = Response {
            shared: Arc::clone(&self.shared),
            slot,
            token,
            answered: false,
            subject: subject.to_owned(),
            timeout,
            #[cfg(feature = "jetstream")]
            failed_at: None,
            #[cfg(feature = "metrics")]
            sent: now,
        };
        if defer {
            let _flush = FlushOnDrop(&self.shared);
            YieldOnce(false).await;
        }
        Ok(response)
    }
}

/// Writes (or hands to the driver) what a deferring caller left in the write buffer, when
/// dropped: at the end of `send_request`'s yield, or when its future is dropped during it.
struct FlushOnDrop<'a>(&'a Shared);

impl Drop for FlushOnDrop<'_> {
    fn drop(&mut self) {
        self.0.flush_deferred();
    }
}

/// Pending once (waking itself at once), then ready: lets the caller's other futures run
/// before this one goes on.
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
