//! Atomic batch publishing (ADR-50, server 2.12+): messages that a stream stores all
//! together, or none of. [`Context::atomic_batch`] starts an [`AtomicBatch`];
//! [`Context::publish_atomic`] sends a whole list at once.
//!
//! On the wire every message of the batch carries `Nats-Batch-Id` (one id per batch) and
//! `Nats-Batch-Sequence` (1, 2, …); the first is a request the stream answers with an empty
//! message (or an error: the stream does not allow batches), the others are plain publishes
//! (or requests every `ack_every` messages), and the last carries `Nats-Batch-Commit: 1` (the
//! message is stored and the batch committed) or `Nats-Batch-Commit: eob` (committed without
//! storing that last message, server 2.14+). The commit's answer is the batch's [`PubAck`],
//! with [`PubAck::batch_id`] and [`PubAck::batch_size`].

use bytes::Bytes;

use super::api::parse_response;
use super::context::Context;
use super::publish::{format_ttl, PubAck, Publish};
use crate::{Error, ErrorKind, HeaderMap, Message, Request};

const BATCH_ID: &str = "Nats-Batch-Id";
const BATCH_SEQUENCE: &str = "Nats-Batch-Sequence";
const BATCH_COMMIT: &str = "Nats-Batch-Commit";

/// An atomic batch being published, from [`Context::atomic_batch`]: add messages, then
/// commit. The stream stores every message of the batch when the commit succeeds, and none
/// when anything fails (a batch left uncommitted is abandoned by the server after 10 s).
///
/// The stream needs `allow_atomic` (see [`super::stream::Config::allow_atomic`]); without it
/// the first message fails with [`Error::is_batch_not_enabled`]. A batch the server refused as
/// a whole fails the commit with [`Error::is_batch_rejected`].
///
/// ```no_run
/// # async fn demo(js: rnats::jetstream::Context) -> Result<(), rnats::Error> {
/// let mut batch = js.atomic_batch()?;
/// batch.add("orders.7.lines", "2 x tea").await?;
/// batch.add("orders.7.address", "1 High St").await?;
/// let ack = batch.commit("orders.7.state", "placed").await?;
/// assert_eq!(ack.batch_size, Some(3));
/// # Ok(()) }
/// ```
#[derive(Debug)]
#[must_use = "a batch stores nothing until it is committed"]
pub struct AtomicBatch {
    context: Context,
    id: String,
    sequence: u64,
    ack_every: u64,
    last_subject: Option<String>,
    failed: bool,
}

impl Context {
    /// Starts an atomic batch (ADR-50). Fails with [`Error::is_unsupported`] when the server's
    /// JetStream API level is below 2 (nats-server 2.12).
    pub fn atomic_batch(&self) -> Result<AtomicBatch, Error> {
        self.require_api_level(super::api_level::V2_12, "atomic batch publishing")?;
        Ok(AtomicBatch {
            context: self.clone(),
            id: nuid::next().to_string(),
            sequence: 0,
            ack_every: 0,
            last_subject: None,
            failed: false,
        })
    }

    /// Publishes `messages` (subject and [`Publish`] options each) as one atomic batch and
    /// returns the commit's acknowledgement: all are stored, or none. The last message
    /// commits. An empty list is an invalid-argument error.
    ///
    /// ```no_run
    /// # async fn demo(js: rnats::jetstream::Context) -> Result<(), rnats::Error> {
    /// use rnats::jetstream::Publish;
    /// let ack = js
    ///     .publish_atomic([
    ///         ("user.1.name", Publish::new().payload("Ann")),
    ///         ("user.1.city", Publish::new().payload("Leeds")),
    ///     ])
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn publish_atomic<S: AsRef<str>>(
        &self,
        messages: impl IntoIterator<Item = (S, Publish)>,
    ) -> Result<PubAck, Error> {
        let mut messages = messages.into_iter().peekable();
        let mut batch = self.atomic_batch()?;
        while let Some((subject, publish)) = messages.next() {
            if messages.peek().is_none() {
                return batch.commit_with(subject, publish).await;
            }
            batch.add_with(subject, publish).await?;
        }
        Err(Error::new(
            ErrorKind::InvalidArgument,
            "an atomic batch needs at least one message",
        ))
    }
}

impl AtomicBatch {
    /// The batch's id (`Nats-Batch-Id`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// How many messages were added so far.
    pub fn len(&self) -> u64 {
        self.sequence
    }

    /// Whether no message was added yet.
    pub fn is_empty(&self) -> bool {
        self.sequence == 0
    }

    /// Asks the stream to confirm every `n`th message (waiting for it), so a batch the server
    /// gave up on (too large, abandoned) fails early instead of at the commit. 0 (the
    /// default): only the first message and the commit are confirmed.
    pub fn ack_every(mut self, n: u64) -> Self {
        self.ack_every = n;
        self
    }

    /// Adds a message with `payload` to the batch. See [`AtomicBatch::add_with`].
    pub async fn add(
        &mut self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        self.add_with(subject, Publish::new().payload(payload))
            .await
    }

    /// Adds a message with [`Publish`] options (headers, message id, expectations: only the
    /// first message may carry `Nats-Expected-Last-Sequence`). The first message waits for
    /// the stream's confirmation, so a stream without `allow_atomic` fails here. After an
    /// error the batch is spent: every later call fails.
    pub async fn add_with(
        &mut self,
        subject: impl AsRef<str>,
        publish: Publish,
    ) -> Result<(), Error> {
        let subject = subject.as_ref();
        let (payload, headers, ttl) = publish.into_parts();
        let headers = self.next_headers(headers, ttl)?;
        let confirm =
            self.sequence == 1 || (self.ack_every > 0 && self.sequence % self.ack_every == 0);
        let result = if confirm {
            self.request(subject, headers, payload)
                .await
                .and_then(|msg| {
                    if msg.payload.is_empty() {
                        Ok(())
                    } else {
                        parse_response::<PubAck>(&msg, || self.what(subject)).map(|_| ())
                    }
                })
        } else {
            self.context
                .client()
                .publish_with_headers(subject, headers, payload)
                .await
        };
        self.last_subject = Some(subject.to_owned());
        if result.is_err() {
            self.failed = true;
        }
        result
    }

    /// Adds the last message and commits: the stream stores the whole batch, or nothing.
    pub async fn commit(
        self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<PubAck, Error> {
        self.commit_with(subject, Publish::new().payload(payload))
            .await
    }

    /// [`AtomicBatch::commit`] with [`Publish`] options.
    pub async fn commit_with(
        mut self,
        subject: impl AsRef<str>,
        publish: Publish,
    ) -> Result<PubAck, Error> {
        let subject = subject.as_ref();
        let (payload, headers, ttl) = publish.into_parts();
        let mut headers = self.next_headers(headers, ttl)?;
        headers.insert(BATCH_COMMIT, "1");
        let msg = self.request(subject, headers, payload).await?;
        parse_response(&msg, || self.what(subject))
    }

    /// Commits the messages added so far without adding one (`Nats-Batch-Commit: eob`, server
    /// 2.14+: [`Error::is_unsupported`] below). An empty batch is an invalid-argument error.
    pub async fn commit_without_message(mut self) -> Result<PubAck, Error> {
        self.context.require_api_level(
            super::api_level::V2_14,
            "committing a batch without a message",
        )?;
        let Some(subject) = self.last_subject.clone() else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "an empty atomic batch cannot be committed",
            ));
        };
        let mut headers = self.next_headers(HeaderMap::new(), None)?;
        headers.insert(BATCH_COMMIT, "eob");
        let msg = self.request(&subject, headers, Bytes::new()).await?;
        parse_response(&msg, || self.what(&subject))
    }

    fn what(&self, subject: &str) -> String {
        format!(
            "atomic batch {} message {} to {subject:?}",
            self.id, self.sequence
        )
    }

    /// The next message's headers: the caller's, the TTL, the batch id and sequence.
    fn next_headers(
        &mut self,
        mut headers: HeaderMap,
        ttl: Option<std::time::Duration>,
    ) -> Result<HeaderMap, Error> {
        if self.failed {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("atomic batch {} already failed", self.id),
            ));
        }
        if let Some(ttl) = ttl {
            headers.insert("Nats-TTL", format_ttl(ttl));
        }
        self.sequence += 1;
        headers.insert(BATCH_ID, self.id.as_str());
        headers.insert(BATCH_SEQUENCE, itoa::Buffer::new().format(self.sequence));
        Ok(headers)
    }

    async fn request(
        &mut self,
        subject: &str,
        headers: HeaderMap,
        payload: Bytes,
    ) -> Result<Message, Error> {
        let request = Request::new()
            .payload(payload)
            .headers(headers)
            .timeout(self.context.timeout());
        match self.context.client().request_with(subject, request).await {
            Ok(msg) => Ok(msg),
            Err(e) => {
                self.failed = true;
                if e.is_no_responders() {
                    return Err(Error::new(
                        ErrorKind::NoResponders,
                        format!("no stream stores subject {subject:?} (no responders)"),
                    ));
                }
                Err(e)
            }
        }
    }
}
