//! Subscriptions: the [`Subscriber`] stream and the bounded queue the driver fills.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use parking_lot::Mutex;
use rnats_proto::Sid;

use crate::error::Error;
use crate::message::Message;
use crate::shared::Shared;

/// The queue between the driver (producer) and one [`Subscriber`] (consumer).
///
/// Bounded by messages and bytes: when the subscriber falls behind, new messages are dropped
/// and counted instead of growing memory without limit.
pub(crate) struct SubQueue {
    /// The subscription's subject, for slow consumer events.
    pub(crate) subject: String,
    inner: Mutex<QueueInner>,
    limit_msgs: AtomicUsize,
    limit_bytes: AtomicUsize,
    dropped: AtomicU64,
}

struct QueueInner {
    msgs: VecDeque<Message>,
    /// Bytes (headers plus payload) of `msgs`.
    bytes: usize,
    /// In a slow consumer episode: dropped since the subscriber last caught up.
    slow: bool,
    closed: bool,
    /// The subscriber is gone: nothing will read what is pushed.
    abandoned: bool,
    waker: Option<Waker>,
}

/// What [`SubQueue::push`] did with a message.
pub(crate) enum Pushed {
    /// Queued; wake this waker (outside any lock).
    Queued(Option<Waker>),
    /// Discarded: the subscriber was dropped (its unsubscribe is on its way).
    Abandoned,
    /// Dropped: the subscriber is over its pending limits. `first` is true for the first
    /// drop of an episode (the subscriber had caught up before).
    Dropped {
        /// First drop since the subscriber caught up.
        first: bool,
        /// Drops in total.
        total: u64,
    },
}

impl SubQueue {
    pub(crate) fn new(subject: String, limit_msgs: usize, limit_bytes: usize) -> Self {
        Self {
            subject,
            inner: Mutex::new(QueueInner {
                msgs: VecDeque::new(),
                bytes: 0,
                slow: false,
                closed: false,
                abandoned: false,
                waker: None,
            }),
            limit_msgs: AtomicUsize::new(limit_msgs),
            limit_bytes: AtomicUsize::new(limit_bytes),
            dropped: AtomicU64::new(0),
        }
    }

    /// Queues a message unless the subscriber is over its limits.
    ///
    /// The limits apply to what waits in this queue; the subscriber takes everything at once
    /// into its own batch, so at most twice the limits are held in memory.
    pub(crate) fn push(&self, msg: Message) -> Pushed {
        let len = msg.length;
        let mut inner = self.inner.lock();
        if inner.abandoned {
            return Pushed::Abandoned;
        }
        if inner.msgs.len() >= self.limit_msgs.load(Ordering::Relaxed)
            || (inner.bytes > 0 && inner.bytes + len > self.limit_bytes.load(Ordering::Relaxed))
        {
            let first = !inner.slow;
            inner.slow = true;
            drop(inner);
            let total = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            return Pushed::Dropped { first, total };
        }
        inner.bytes += len;
        inner.msgs.push_back(msg);
        Pushed::Queued(inner.waker.take())
    }

    /// No more messages will come; the subscriber ends after the queued ones.
    pub(crate) fn close(&self) -> Option<Waker> {
        let mut inner = self.inner.lock();
        inner.closed = true;
        inner.waker.take()
    }

    /// The subscriber is gone: discards what is queued (returning how many) and whatever
    /// is pushed from now on.
    fn abandon(&self) -> usize {
        let mut inner = self.inner.lock();
        inner.abandoned = true;
        inner.bytes = 0;
        let n = inner.msgs.len();
        inner.msgs.clear();
        n
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Takes every queued message into `local`, or registers `waker` when there is none.
    fn poll_take(&self, local: &mut VecDeque<Message>, waker: &Waker) -> Poll<bool> {
        let mut inner = self.inner.lock();
        if !inner.msgs.is_empty() {
            std::mem::swap(&mut inner.msgs, local);
            inner.bytes = 0;
            inner.slow = false;
            return Poll::Ready(true);
        }
        if inner.closed {
            return Poll::Ready(false);
        }
        match &inner.waker {
            Some(w) if w.will_wake(waker) => {}
            _ => inner.waker = Some(waker.clone()),
        }
        Poll::Pending
    }

    pub(crate) fn queued(&self) -> usize {
        self.inner.lock().msgs.len()
    }
}

/// A subscription: a [`Stream`] of the [`Message`]s published to its subject.
///
/// The stream ends after [`Subscriber::unsubscribe`], when an auto-unsubscribe limit is
/// reached, after a drain, or when the client closes. Dropping the subscriber unsubscribes.
///
/// ```no_run
/// # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
/// use futures_util::StreamExt;
/// let mut sub = client.subscribe("orders.>").await?;
/// while let Some(msg) = sub.next().await {
///     println!("{}: {:?}", msg.subject, msg.payload);
/// }
/// # Ok(()) }
/// ```
///
/// Every method takes `&self`, and `&Subscriber` is a [`Stream`] too: share it (in an
/// [`Arc`]) and one task can drain or unsubscribe while another reads. Read from one task
/// at a time: only the latest reader waiting for a message is woken when one arrives.
///
/// ```no_run
/// # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
/// use futures_util::StreamExt;
/// use std::sync::Arc;
/// let sub = Arc::new(client.subscribe("jobs").await?);
/// let reader = {
///     let sub = sub.clone();
///     tokio::spawn(async move {
///         let mut stream = &*sub;
///         while let Some(msg) = stream.next().await {
///             println!("{:?}", msg.payload);
///         }
///     })
/// };
/// // Elsewhere: stop, still delivering what the server already sent; the reader then ends.
/// sub.drain().await?;
/// reader.await.ok();
/// # Ok(()) }
/// ```
pub struct Subscriber {
    sid: Sid,
    shared: Arc<Shared>,
    queue: Arc<SubQueue>,
    /// Messages taken from the queue in one batch, handed out one by one. Behind a lock
    /// only for readers through `&Subscriber`; `&mut` readers reach it without locking.
    local: Mutex<Local>,
    /// Unsubscribed or drained: dropping need not unsubscribe again.
    done: AtomicBool,
}

impl Subscriber {
    pub(crate) fn new(sid: Sid, shared: Arc<Shared>, queue: Arc<SubQueue>) -> Self {
        Self {
            sid,
            shared,
            queue,
            local: Mutex::new(Local::default()),
            done: AtomicBool::new(false),
        }
    }

    /// Unsubscribes now: the stream yields what was already received, then ends.
    pub async fn unsubscribe(&self) -> Result<(), Error> {
        self.shared.unsubscribe(self.sid);
        self.done.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Unsubscribes after `max` messages in total have been received (counting those already
    /// received); the stream then ends. When that many were already received it ends now.
    pub async fn unsubscribe_after(&self, max: u64) -> Result<(), Error> {
        self.shared.unsubscribe_after(self.sid, max)
    }

    /// Stops the subscription without losing messages: the server is told to stop sending,
    /// every message it had already sent is still delivered, then the stream ends.
    ///
    /// Cancelling this future after the first poll leaves the subscription draining: it ends
    /// once the in-flight messages have arrived.
    pub async fn drain(&self) -> Result<(), Error> {
        let result = self.shared.drain_subscription(self.sid).await;
        self.done.store(true, Ordering::Relaxed);
        result
    }

    /// Changes this subscription's pending limits (messages received but not yet consumed).
    pub fn set_pending_limits(&self, messages: usize, bytes: usize) {
        self.queue
            .limit_msgs
            .store(messages.max(1), Ordering::Relaxed);
        self.queue
            .limit_bytes
            .store(bytes.max(1), Ordering::Relaxed);
    }

    /// Messages dropped because this subscriber fell behind its pending limits.
    pub fn dropped(&self) -> u64 {
        self.queue.dropped()
    }

    /// Messages received but not yet consumed.
    pub fn pending(&self) -> usize {
        self.queue.queued() + self.local.lock().msgs.len()
    }
}

/// A subscriber's batch: the messages taken from its queue at once, handed out one by one.
#[derive(Default)]
struct Local {
    msgs: VecDeque<Message>,
    /// How many the batch had: taken off `Shared::unconsumed` once it is all handed out
    /// (then 0 again: nonzero only while some of the batch is unread).
    taken: usize,
}

/// The next message from `local`, refilled from the queue when empty.
fn poll_next_from(
    shared: &Shared,
    queue: &SubQueue,
    local: &mut Local,
    cx: &mut Context<'_>,
) -> Poll<Option<Message>> {
    if local.msgs.is_empty() {
        match queue.poll_take(&mut local.msgs, cx.waker()) {
            Poll::Ready(true) => local.taken = local.msgs.len(),
            Poll::Ready(false) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        }
    }
    let msg = local.msgs.pop_front();
    if local.msgs.is_empty() {
        // The batch is all read: one update per batch, not per message.
        let taken = std::mem::take(&mut local.taken);
        shared
            .unconsumed
            .fetch_sub(taken as isize, Ordering::Relaxed);
    }
    Poll::Ready(msg)
}

impl Stream for Subscriber {
    type Item = Message;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        let this = self.get_mut();
        poll_next_from(&this.shared, &this.queue, this.local.get_mut(), cx)
    }
}

/// Reading through a shared reference, while other tasks drain or unsubscribe the same
/// subscriber. One reader at a time: a second reader waiting at the same moment may not be
/// woken.
impl Stream for &Subscriber {
    type Item = Message;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Message>> {
        let this: &Subscriber = *self;
        poll_next_from(&this.shared, &this.queue, &mut this.local.lock(), cx)
    }
}

impl std::fmt::Debug for Subscriber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscriber")
            .field("sid", &self.sid)
            .field("pending", &self.pending())
            .field("dropped", &self.dropped())
            .finish()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        if !*self.done.get_mut() {
            self.shared.unsubscribe(self.sid);
        }
        // What was received and will not be read no longer counts as unread.
        let unread = self.queue.abandon() + self.local.get_mut().taken;
        if unread > 0 {
            self.shared
                .unconsumed
                .fetch_sub(unread as isize, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::{Duration, Instant};

    use futures_util::StreamExt;

    use super::Subscriber;
    use crate::Client;

    async fn until_pending(sub: &Subscriber, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while sub.pending() < n {
            assert!(
                Instant::now() < deadline,
                "{} of {n} arrived",
                sub.pending()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    fn unconsumed(client: &Client) -> isize {
        client.shared.unconsumed.load(Ordering::Relaxed)
    }

    async fn two_clients(server: &rnats_test::NatsServer) -> (Client, Client) {
        let reader = crate::connect(server.url()).await.unwrap();
        let writer = crate::connect(server.url()).await.unwrap();
        (reader, writer)
    }

    /// Bytes encoded and not yet handed to the socket.
    fn unwritten(client: &Client) -> usize {
        client.shared.core.lock().conn.transmit_len()
    }

    // On the current-thread runtime the driver runs only when the test yields, so what a
    // publish left in the write buffer (rather than wrote itself) can be seen.
    #[tokio::test]
    async fn an_answer_to_one_of_a_batch_is_left_to_the_driver_the_last_is_written_at_once() {
        let server = rnats_test::NatsServer::start();
        let (reader, writer) = two_clients(&server).await;
        let mut sub = reader.subscribe("batch").await.unwrap();
        reader.flush().await.unwrap();
        for i in 0..10 {
            writer.publish("batch", format!("{i}")).await.unwrap();
        }
        writer.flush().await.unwrap();
        until_pending(&sub, 10).await;
        assert_eq!(unconsumed(&reader), 10);

        let first = sub.next().await.unwrap();
        assert_eq!(first.payload, "0");
        assert_eq!(unconsumed(&reader), 10, "counted until the batch is read");
        // Idle for longer than the write-through window: only the unread batch holds it back.
        tokio::time::sleep(Duration::from_millis(2)).await;
        reader.publish("answers", "to 0").await.unwrap();
        assert!(
            unwritten(&reader) > 0,
            "left for the driver's batched write"
        );

        for i in 1..10 {
            assert_eq!(sub.next().await.unwrap().payload, format!("{i}"));
        }
        assert_eq!(unconsumed(&reader), 0);
        tokio::time::sleep(Duration::from_millis(2)).await;
        assert_eq!(
            unwritten(&reader),
            0,
            "the driver wrote it when the test yielded"
        );
        reader.publish("answers", "to 9").await.unwrap();
        assert_eq!(
            unwritten(&reader),
            0,
            "nothing unread: written by the caller at once"
        );
    }

    #[tokio::test]
    async fn a_dropped_subscriber_no_longer_counts_what_it_did_not_read() {
        let server = rnats_test::NatsServer::start();
        let (reader, writer) = two_clients(&server).await;
        let mut sub = reader.subscribe("batch").await.unwrap();
        let mut other = reader.subscribe("other").await.unwrap();
        reader.flush().await.unwrap();
        for _ in 0..5 {
            writer.publish("batch", "x").await.unwrap();
        }
        writer.publish("other", "y").await.unwrap();
        writer.flush().await.unwrap();
        until_pending(&sub, 5).await;
        until_pending(&other, 1).await;
        assert_eq!(unconsumed(&reader), 6);
        sub.next().await.unwrap();
        drop(sub);
        assert_eq!(
            unconsumed(&reader),
            1,
            "only the other subscriber's message"
        );
        // Published before the server has the unsubscribe, or after: never counted.
        for _ in 0..5 {
            writer.publish("batch", "late").await.unwrap();
        }
        writer.flush().await.unwrap();
        reader.flush().await.unwrap();
        assert_eq!(unconsumed(&reader), 1);
        other.next().await.unwrap();
        assert_eq!(unconsumed(&reader), 0);
    }
}
