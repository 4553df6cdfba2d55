//! The continuous stream of a pull consumer's messages: [`StreamBuilder`] and [`Messages`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures_core::Stream as FuturesStream;
use futures_util::StreamExt;

use super::{
    answer_stalled, classify, missed_heartbeat, priority_setters, status_error, Config,
    PriorityRequest, PullRequest, StatusClass, BYTES_ONLY_BATCH,
};
use crate::jetstream::api::json_body;
use crate::jetstream::consumer::Consumer;
use crate::jetstream::{Context, Message};
use crate::{Client, Error, ErrorKind, Event, EventStream, Subscriber};

/// Options of a continuous stream of messages, from [`Consumer::stream`].
#[derive(Debug, Clone)]
#[must_use = "call .messages() to start pulling"]
pub struct StreamBuilder {
    consumer: Consumer<Config>,
    max_messages: usize,
    max_bytes: usize,
    expires: Duration,
    heartbeat: Option<Duration>,
    threshold_messages: Option<usize>,
    threshold_bytes: Option<usize>,
    priority: PriorityRequest,
}

impl StreamBuilder {
    pub(super) fn new(consumer: Consumer<Config>) -> Self {
        Self {
            consumer,
            max_messages: 500,
            max_bytes: 0,
            expires: Duration::from_secs(30),
            heartbeat: None,
            threshold_messages: None,
            threshold_bytes: None,
            priority: PriorityRequest::default(),
        }
    }

    /// How many messages may be pulled and not yet read (default 500).
    pub fn max_messages_per_batch(mut self, n: usize) -> Self {
        self.max_messages = n.max(1);
        self
    }

    /// How many bytes may be pulled and not yet read (default: no byte limit). When set, the
    /// message limit no longer applies.
    pub fn max_bytes_per_batch(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// How long each pull lasts on the server (default 30 s, at least 1 s).
    pub fn expires(mut self, expires: Duration) -> Self {
        self.expires = expires.max(Duration::from_secs(1));
        self
    }

    /// Idle heartbeat interval (default half the expiry, between 500 ms and 30 s). Two
    /// missed heartbeats yield a (non-terminal) error and a fresh pull.
    pub fn heartbeat(mut self, heartbeat: Duration) -> Self {
        self.heartbeat = Some(heartbeat);
        self
    }

    /// Pull again when this few messages are left of the pulled ones (default half).
    pub fn threshold_messages(mut self, n: usize) -> Self {
        self.threshold_messages = Some(n);
        self
    }

    /// Pull again when this few bytes are left of the pulled ones (default half).
    pub fn threshold_bytes(mut self, bytes: usize) -> Self {
        self.threshold_bytes = Some(bytes);
        self
    }

    priority_setters!();

    /// Starts pulling.
    pub async fn messages(self) -> Result<Messages, Error> {
        self.priority.check(&self.consumer.context)?;
        let heartbeat = self.heartbeat.unwrap_or_else(|| {
            (self.expires / 2).clamp(Duration::from_millis(500), Duration::from_secs(30))
        });
        if self.expires < heartbeat.saturating_mul(2) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "a pull's expiry ({:?}) must be at least twice its heartbeat ({heartbeat:?})",
                    self.expires
                ),
            ));
        }
        let client = self.consumer.context.client().clone();
        let events = client.events();
        let inbox = client.new_inbox();
        let sub = client.subscribe(&inbox).await?;
        let (batch, max_bytes) = if self.max_bytes > 0 {
            (BYTES_ONLY_BATCH, self.max_bytes)
        } else {
            (self.max_messages, 0)
        };
        Ok(Messages {
            pull_subject: self.consumer.pull_subject(),
            context: self.consumer.context.clone(),
            consumer_name: self.consumer.info.name.clone(),
            client,
            sub,
            events,
            inbox,
            batch,
            max_bytes,
            threshold_messages: self
                .threshold_messages
                .unwrap_or(batch.div_ceil(2))
                .min(batch.saturating_sub(1)),
            threshold_bytes: self
                .threshold_bytes
                .unwrap_or(max_bytes.div_ceil(2))
                .min(max_bytes.saturating_sub(1)),
            expires: self.expires,
            heartbeat,
            heartbeat_timer: Box::pin(tokio::time::sleep(heartbeat.saturating_mul(2))),
            priority: self.priority,
            pin_id: None,
            pending_messages: 0,
            pending_bytes: 0,
            pull: None,
            pause: None,
            connected: true,
            terminated: false,
        })
    }
}

type PullFuture = Pin<Box<dyn Future<Output = Result<(), Error>> + Send>>;

/// A continuous stream of a pull consumer's messages, from [`Consumer::messages`] or
/// [`StreamBuilder::messages`].
///
/// Keeps pulls topped up: pulls again when the messages pulled and not yet delivered fall to
/// the threshold. Tracks idle heartbeats: two missed ones yield an error
/// ([`Error::is_timeout`]) and a fresh pull; the stream goes on. A pull answered with 503
/// (nobody serves the consumer: not loaded yet after a restart, lost with its server, no
/// leader) yields an error and is retried every 500 ms. After a reconnect it pulls
/// afresh at once (a restarted server has forgotten the old pulls). Ends with an error when
/// the consumer is deleted or cannot be pulled from (`409 Consumer Deleted`,
/// `409 Consumer is push based`, `400 Bad Request`); warnings such as
/// `409 Exceeded MaxWaiting` are yielded as errors without ending it.
pub struct Messages {
    context: Context,
    consumer_name: String,
    client: Client,
    sub: Subscriber,
    events: EventStream,
    pull_subject: String,
    inbox: String,
    batch: usize,
    max_bytes: usize,
    threshold_messages: usize,
    threshold_bytes: usize,
    expires: Duration,
    heartbeat: Duration,
    heartbeat_timer: Pin<Box<tokio::time::Sleep>>,
    priority: PriorityRequest,
    pin_id: Option<String>,
    pending_messages: usize,
    pending_bytes: usize,
    pull: Option<PullFuture>,
    /// No pulls until it fires (after a 503).
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
    connected: bool,
    terminated: bool,
}

/// How long a continuous stream waits before pulling again after a 503.
const UNREACHABLE_PAUSE: Duration = Duration::from_millis(500);

impl Messages {
    fn needs_pull(&self) -> bool {
        if self.max_bytes > 0 {
            self.pending_bytes <= self.threshold_bytes
        } else {
            self.pending_messages <= self.threshold_messages
        }
    }

    fn start_pull(&mut self) -> Result<PullFuture, Error> {
        let (batch, max_bytes) = if self.max_bytes > 0 {
            (
                BYTES_ONLY_BATCH,
                self.max_bytes.saturating_sub(self.pending_bytes),
            )
        } else {
            (self.batch.saturating_sub(self.pending_messages).max(1), 0)
        };
        let request = PullRequest {
            batch,
            max_bytes,
            expires: Some(self.expires),
            no_wait: false,
            idle_heartbeat: Some(self.heartbeat),
            priority: Some(&self.priority),
            id: self.pin_id.as_deref(),
        };
        let body = json_body(&request)?;
        if self.max_bytes > 0 {
            self.pending_bytes += max_bytes;
        } else {
            self.pending_messages += batch;
        }
        let client = self.client.clone();
        let subject = self.pull_subject.clone();
        let inbox = self.inbox.clone();
        Ok(Box::pin(async move {
            client.publish_with_reply(subject, inbox, body).await
        }))
    }

    fn reset_heartbeat(&mut self) {
        self.heartbeat_timer
            .as_mut()
            .reset(crate::jetstream::deadline(self.heartbeat.saturating_mul(2)));
    }

    /// Forgets outstanding pulls, so that the next poll pulls afresh.
    fn forget_pulls(&mut self) {
        self.pending_messages = 0;
        self.pending_bytes = 0;
    }

    /// Subtracts what a status says its pull left undelivered (or forgets every pull when
    /// the status does not say).
    fn release(&mut self, msg: &crate::Message) {
        match (
            status_number::<usize>(msg, "Nats-Pending-Messages"),
            status_number::<usize>(msg, "Nats-Pending-Bytes"),
        ) {
            (Some(m), b) => {
                self.pending_messages = self.pending_messages.saturating_sub(m);
                self.pending_bytes = self.pending_bytes.saturating_sub(b.unwrap_or(0));
            }
            (None, _) => self.forget_pulls(),
        }
    }
}

/// A number a status message carries in header `name` (`None` when absent or not a number).
fn status_number<T: std::str::FromStr>(msg: &crate::Message, name: &str) -> Option<T> {
    msg.headers
        .as_ref()
        .and_then(|h| h.get(name))
        .and_then(|v| v.trim().parse().ok())
}

/// What [`Messages::poll_event`] yields: what the public stream yields, plus the idle
/// heartbeats (an ordered consumer checks the last delivered sequence they carry).
pub(crate) enum PullEvent {
    /// A delivered message, or an error the stream yields.
    Next(Result<Message, Error>),
    /// An idle heartbeat, with the consumer sequence of the last message delivered
    /// (`Nats-Last-Consumer`) when it says. The consumer's deliveries and heartbeats reach
    /// the client in the order it sent them: every delivery up to that sequence came before.
    Heartbeat { last_consumer_sequence: Option<u64> },
}

impl FuturesStream for Messages {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        loop {
            return match self.poll_event(cx) {
                Poll::Ready(Some(PullEvent::Heartbeat { .. })) => continue,
                Poll::Ready(Some(PullEvent::Next(next))) => Poll::Ready(Some(next)),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl Messages {
    /// The next message, error or idle heartbeat.
    pub(crate) fn poll_event(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<PullEvent>> {
        let this = self;
        if this.terminated {
            return Poll::Ready(None);
        }
        // Connection events: pause on disconnect, pull afresh after a reconnect.
        while let Poll::Ready(Some(event)) = this.events.poll_next_unpin(cx) {
            match event {
                Event::Disconnected { .. } => this.connected = false,
                Event::Reconnected { .. } => {
                    this.connected = true;
                    this.forget_pulls();
                    this.reset_heartbeat();
                }
                _ => {}
            }
        }
        if let Some(pause) = &mut this.pause {
            if pause.as_mut().poll(cx).is_ready() {
                this.pause = None;
            }
        }
        loop {
            if this.pull.is_none() && this.pause.is_none() && this.connected && this.needs_pull() {
                match this.start_pull() {
                    Ok(f) => this.pull = Some(f),
                    Err(e) => return Poll::Ready(Some(PullEvent::Next(Err(e)))),
                }
            }
            if let Some(pull) = &mut this.pull {
                if let Poll::Ready(result) = pull.as_mut().poll(cx) {
                    this.pull = None;
                    if let Err(e) = result {
                        if e.is_connection_closed() {
                            this.terminated = true;
                        } else {
                            this.forget_pulls();
                        }
                        return Poll::Ready(Some(PullEvent::Next(Err(e))));
                    }
                }
            }
            let msg = match this.sub.poll_next_unpin(cx) {
                Poll::Ready(Some(msg)) => msg,
                Poll::Ready(None) => {
                    this.terminated = true;
                    return Poll::Ready(None);
                }
                Poll::Pending => break,
            };
            this.reset_heartbeat();
            let Some(status) = msg.status else {
                let size =
                    msg.subject.len() + msg.reply.as_ref().map_or(0, |r| r.len()) + msg.length;
                this.pending_messages = this.pending_messages.saturating_sub(1);
                this.pending_bytes = this.pending_bytes.saturating_sub(size);
                if let Some(pin) = msg.headers.as_ref().and_then(|h| h.get("Nats-Pin-Id")) {
                    if this.pin_id.as_deref() != Some(pin) {
                        this.pin_id = Some(pin.to_owned());
                    }
                }
                return Poll::Ready(Some(PullEvent::Next(Ok(Message {
                    message: msg,
                    context: this.context.clone(),
                }))));
            };
            // The statuses told to the reader, as an error.
            let told = |this: &Self| {
                Poll::Ready(Some(PullEvent::Next(Err(status_error(
                    &this.consumer_name,
                    status,
                    msg.description.as_deref(),
                )))))
            };
            match classify(status, msg.description.as_deref()) {
                StatusClass::Heartbeat => {
                    if !answer_stalled(&this.client, &msg) {
                        return Poll::Ready(Some(PullEvent::Heartbeat {
                            last_consumer_sequence: status_number(&msg, "Nats-Last-Consumer"),
                        }));
                    }
                }
                StatusClass::PullEnded => this.release(&msg),
                StatusClass::PullLost => this.forget_pulls(),
                StatusClass::PinMismatch => {
                    this.pin_id = None;
                    this.release(&msg);
                }
                StatusClass::Unreachable => {
                    this.forget_pulls();
                    this.pause = Some(Box::pin(tokio::time::sleep(UNREACHABLE_PAUSE)));
                    return told(this);
                }
                StatusClass::Warning => return told(this),
                StatusClass::Terminal => {
                    this.terminated = true;
                    return told(this);
                }
            }
        }
        if this.connected && this.heartbeat_timer.as_mut().poll(cx).is_ready() {
            this.reset_heartbeat();
            this.forget_pulls();
            // Wake to send the fresh pull on the next poll.
            cx.waker().wake_by_ref();
            return Poll::Ready(Some(PullEvent::Next(Err(missed_heartbeat(
                &this.consumer_name,
                this.heartbeat,
            )))));
        }
        Poll::Pending
    }
}

impl std::fmt::Debug for Messages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Messages")
            .field("consumer", &self.consumer_name)
            .field("pending_messages", &self.pending_messages)
            .field("pending_bytes", &self.pending_bytes)
            .finish_non_exhaustive()
    }
}
