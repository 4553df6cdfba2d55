//! Fast batch publishing (ADR-50 "fast ingest", server 2.14+, stream `allow_batched`): many
//! messages into a stream with flow control instead of one acknowledgement each. Not atomic:
//! what was stored before a failure stays.
//!
//! Every message's reply subject says what it is:
//! `<inbox>.<id>.<max flow>.<gap mode>.<batch sequence>.<operation>.$FI` (operation 0 start,
//! 1 append, 2 commit, 3 commit without storing the message). The batch has one inbox of its
//! own (`<inbox>.<id>.>`); the stream answers on it with flow acknowledgements
//! (`{"type":"ack","seq":n,"msgs":every}`: stored up to `n`, next ack after `every` more),
//! gap reports (`"type":"gap"`), per-message errors (`"type":"err"`) and, for the commit, the
//! batch's [`PubAck`]. The publisher waits only when `max_outstanding_acks` acknowledgements
//! are due and not yet in.

use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;

use super::api::{parse_response, ApiError};
use super::context::Context;
use super::publish::{format_ttl, PubAck, Publish};
use crate::{Error, ErrorKind, Message, StatusCode, Subscriber};

/// What the stream does when messages of a fast batch go missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GapMode {
    /// A gap ends the batch (what came before it is kept): messages are stored in order and
    /// without holes (the default).
    #[default]
    Fail,
    /// Gaps are reported ([`FastBatch::gaps`]) and the batch goes on.
    Ok,
}

/// The state of a fast batch after a message was added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FastPubAck {
    /// This message's sequence in the batch (from 1).
    pub batch_sequence: u64,
    /// The highest batch sequence the stream acknowledged so far (with [`GapMode::Fail`],
    /// every message up to it is stored).
    pub ack_sequence: u64,
}

/// A gap the stream reported: batch messages `expected..current` never arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchGap {
    /// The first missing batch sequence.
    pub expected: u64,
    /// The sequence of the message that revealed the gap.
    pub current: u64,
}

/// A message of a fast batch the stream refused (a failed expectation, say).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchMessageError {
    /// The message's batch sequence.
    pub sequence: u64,
    /// The stream's error.
    pub error: ApiError,
}

/// Sets up a fast batch, from [`Context::fast_batch`].
#[derive(Debug, Clone)]
#[must_use = "a FastBatchBuilder does nothing until started"]
pub struct FastBatchBuilder {
    context: Context,
    max_flow: u16,
    gap: GapMode,
    max_outstanding_acks: u64,
    timeout: Duration,
}

impl FastBatchBuilder {
    /// The most messages the stream may let pass between two acknowledgements (default 100;
    /// the stream starts lower and adjusts, never above this). At least 1.
    pub fn max_flow(mut self, messages: u16) -> Self {
        self.max_flow = messages.max(1);
        self
    }

    /// What a gap does (default [`GapMode::Fail`]).
    pub fn gap_mode(mut self, mode: GapMode) -> Self {
        self.gap = mode;
        self
    }

    /// How many acknowledgements may be due before the publisher waits: 1 to 3, default 2
    /// (the stream works on one group while the next is sent).
    pub fn max_outstanding_acks(mut self, acks: u64) -> Self {
        self.max_outstanding_acks = acks.clamp(1, 3);
        self
    }

    /// How long to wait for a due acknowledgement (default: the context's timeout).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Subscribes the batch's inbox; nothing is published yet.
    pub async fn start(self) -> Result<FastBatch, Error> {
        let client = self.context.client().clone();
        let prefix = format!("{}.{}", client.new_inbox(), nuid::next());
        let sub = client.subscribe(format!("{prefix}.>")).await?;
        Ok(FastBatch {
            context: self.context,
            sub,
            prefix,
            max_flow: self.max_flow,
            gap: self.gap,
            max_outstanding: self.max_outstanding_acks,
            timeout: self.timeout,
            sequence: 0,
            ack_sequence: 0,
            flow: 1,
            last_subject: None,
            gaps: Vec::new(),
            errors: Vec::new(),
            final_ack: None,
            stopped: false,
            ended: None,
        })
    }
}

/// A fast batch being published, from [`FastBatchBuilder::start`]: [`FastBatch::add`]
/// messages, then [`FastBatch::commit`].
///
/// ```no_run
/// # async fn demo(js: rnats::jetstream::Context) -> Result<(), rnats::Error> {
/// let mut batch = js.fast_batch()?.max_flow(500).start().await?;
/// for i in 0..100_000 {
///     batch.add("metrics.cpu", i.to_string()).await?;
/// }
/// let ack = batch.commit_without_message().await?;
/// assert_eq!(ack.batch_size, Some(100_000));
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FastBatch {
    context: Context,
    sub: Subscriber,
    prefix: String,
    max_flow: u16,
    gap: GapMode,
    max_outstanding: u64,
    timeout: Duration,
    sequence: u64,
    ack_sequence: u64,
    flow: u64,
    last_subject: Option<String>,
    gaps: Vec<BatchGap>,
    errors: Vec<BatchMessageError>,
    /// The commit's answer when it came early (an error ending the batch).
    final_ack: Option<Result<PubAck, Error>>,
    /// With gap mode fail, an error or a gap ended the batch: only the final ack is left.
    stopped: bool,
    /// The batch ended with this error, already returned.
    ended: Option<String>,
}

#[derive(Deserialize)]
struct Flow {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    seq: u64,
    #[serde(default)]
    msgs: u64,
    #[serde(default)]
    last_seq: u64,
    #[serde(default)]
    error: Option<ApiError>,
}

impl Context {
    /// Sets up a fast batch (ADR-50 fast ingest). Fails with [`Error::is_unsupported`] below
    /// JetStream API level 4 (nats-server 2.14); a stream without `allow_batched` fails the
    /// first message with [`Error::is_batch_not_enabled`].
    pub fn fast_batch(&self) -> Result<FastBatchBuilder, Error> {
        self.require_api_level(super::api_level::V2_14, "fast batch publishing")?;
        Ok(FastBatchBuilder {
            context: self.clone(),
            max_flow: 100,
            gap: GapMode::Fail,
            max_outstanding_acks: 2,
            timeout: self.timeout(),
        })
    }
}

impl FastBatch {
    /// Messages added so far.
    pub fn len(&self) -> u64 {
        self.sequence
    }

    /// Whether no message was added yet.
    pub fn is_empty(&self) -> bool {
        self.sequence == 0
    }

    /// The gaps the stream reported so far.
    pub fn gaps(&self) -> &[BatchGap] {
        &self.gaps
    }

    /// The messages the stream refused so far.
    pub fn errors(&self) -> &[BatchMessageError] {
        &self.errors
    }

    /// Adds a message. Waits only when the acknowledgements due are all outstanding (and for
    /// the stream's answer to the first message, which says whether it takes fast batches).
    /// With [`GapMode::Fail`], a message the stream refused or a gap ends the batch: this
    /// then fails, and [`FastBatch::commit`] returns the final acknowledgement.
    pub async fn add(
        &mut self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<FastPubAck, Error> {
        self.add_with(subject, Publish::new().payload(payload))
            .await
    }

    /// [`FastBatch::add`] with [`Publish`] options (headers, expectations, TTL).
    pub async fn add_with(
        &mut self,
        subject: impl AsRef<str>,
        publish: Publish,
    ) -> Result<FastPubAck, Error> {
        self.check_going()?;
        let op = if self.sequence == 0 { 0 } else { 1 };
        self.send(subject.as_ref(), publish, op).await?;
        if self.sequence == 1 {
            // The first answer says whether the stream takes the batch, and the flow.
            self.wait_one().await?;
        }
        self.take_ready()?;
        while self.ack_sequence + self.flow * self.max_outstanding <= self.sequence {
            self.check_going()?;
            self.wait_one().await?;
        }
        self.check_going()?;
        Ok(FastPubAck {
            batch_sequence: self.sequence,
            ack_sequence: self.ack_sequence,
        })
    }

    /// Adds the last message and ends the batch; returns the batch's acknowledgement
    /// ([`PubAck::batch_size`]: messages stored).
    pub async fn commit(
        self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<PubAck, Error> {
        self.commit_with(subject, Publish::new().payload(payload))
            .await
    }

    /// [`FastBatch::commit`] with [`Publish`] options.
    pub async fn commit_with(
        mut self,
        subject: impl AsRef<str>,
        publish: Publish,
    ) -> Result<PubAck, Error> {
        if !self.stopped && self.ended.is_none() && self.final_ack.is_none() {
            self.send(subject.as_ref(), publish, 2).await?;
        }
        self.final_ack().await
    }

    /// Ends the batch without adding a message; returns the batch's acknowledgement. An
    /// empty batch is an invalid-argument error.
    pub async fn commit_without_message(mut self) -> Result<PubAck, Error> {
        let Some(subject) = self.last_subject.clone() else {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "an empty fast batch cannot be committed",
            ));
        };
        if !self.stopped && self.ended.is_none() && self.final_ack.is_none() {
            self.send(&subject, Publish::new(), 3).await?;
        }
        self.final_ack().await
    }

    fn check_going(&mut self) -> Result<(), Error> {
        match self.final_ack.take() {
            Some(Err(e)) => {
                // The batch's end, reported once as it came (its predicates intact).
                self.ended = Some(e.to_string());
                return Err(e);
            }
            Some(Ok(ack)) => {
                self.final_ack = Some(Ok(ack));
                return Err(self.stop_error());
            }
            None => {}
        }
        if let Some(why) = &self.ended {
            return Err(Error::new(
                ErrorKind::JetStream,
                format!("the fast batch ended: {why}"),
            ));
        }
        if self.stopped {
            return Err(self.stop_error());
        }
        Ok(())
    }

    /// Why the batch stopped early: the refused message's error (its predicates intact), or
    /// the gap.
    fn stop_error(&self) -> Error {
        match (self.errors.last(), self.gaps.last()) {
            (Some(e), _) => Error::jetstream_api(
                format!("the fast batch ended: message {} was refused", e.sequence),
                e.error.clone(),
            ),
            (None, Some(g)) => Error::new(
                ErrorKind::JetStream,
                format!(
                    "the fast batch ended at a gap: messages {} to {} did not arrive",
                    g.expected,
                    g.current.saturating_sub(1)
                ),
            ),
            (None, None) => Error::new(ErrorKind::JetStream, "the fast batch already ended"),
        }
    }

    async fn send(&mut self, subject: &str, publish: Publish, op: u8) -> Result<(), Error> {
        let (payload, mut headers, ttl) = publish.into_parts();
        if let Some(ttl) = ttl {
            headers.insert("Nats-TTL", format_ttl(ttl));
        }
        self.sequence += 1;
        let gap = self.gap_text();
        let reply = format!(
            "{}.{}.{gap}.{}.{op}.$FI",
            self.prefix, self.max_flow, self.sequence
        );
        let client = self.context.client();
        let result = if headers.is_empty() {
            client.publish_with_reply(subject, reply, payload).await
        } else {
            client
                .publish_with_reply_and_headers(subject, reply, headers, payload)
                .await
        };
        if let Err(e) = result {
            self.sequence -= 1;
            return Err(e);
        }
        self.last_subject = Some(subject.to_owned());
        Ok(())
    }

    /// Handles every answer already received, without waiting.
    fn take_ready(&mut self) -> Result<(), Error> {
        use futures_util::FutureExt;
        while let Some(next) = self.sub.next().now_or_never() {
            let Some(msg) = next else {
                return Err(Error::closed());
            };
            self.handle(&msg);
        }
        Ok(())
    }

    /// Waits for the next answer (up to the timeout) and handles it. An acknowledgement may
    /// be lost (a reconnect, a leader change): after a quarter of the timeout without an
    /// answer, a ping (operation 4, the highest sequence sent, storing nothing) asks the
    /// stream to send its latest flow acknowledgement again; then again at each quarter.
    async fn wait_one(&mut self) -> Result<(), Error> {
        let deadline = crate::request::deadline_in(self.timeout);
        let ping_every = (self.timeout / 4).max(Duration::from_millis(1));
        loop {
            let wait_until = crate::request::deadline_in(ping_every).min(deadline);
            match tokio::time::timeout_at(wait_until, self.sub.next()).await {
                Ok(Some(msg)) => {
                    self.handle(&msg);
                    return Ok(());
                }
                Ok(None) => return Err(Error::closed()),
                Err(_) if wait_until < deadline && self.sequence > 0 => self.ping().await?,
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "no flow acknowledgement of the fast batch within {:?} (sent {}, \
                             acknowledged {})",
                            self.timeout, self.sequence, self.ack_sequence
                        ),
                    ))
                }
            }
        }
    }

    /// Asks the stream for its latest flow acknowledgement (and keeps the batch alive).
    async fn ping(&mut self) -> Result<(), Error> {
        let Some(subject) = self.last_subject.clone() else {
            return Ok(());
        };
        let reply = format!(
            "{}.{}.{}.{}.4.$FI",
            self.prefix,
            self.max_flow,
            self.gap_text(),
            self.sequence
        );
        self.context
            .client()
            .publish_with_reply(subject, reply, Bytes::new())
            .await
    }

    fn gap_text(&self) -> &'static str {
        match self.gap {
            GapMode::Fail => "fail",
            GapMode::Ok => "ok",
        }
    }

    fn handle(&mut self, msg: &Message) {
        if msg.status == Some(StatusCode::NO_RESPONDERS) {
            self.final_ack = Some(Err(Error::new(
                ErrorKind::NoResponders,
                format!(
                    "no stream stores subject {:?} (no responders)",
                    self.last_subject.as_deref().unwrap_or("")
                ),
            )));
            return;
        }
        match serde_json::from_slice::<Flow>(&msg.payload) {
            Ok(flow) if flow.kind == "ack" => {
                self.ack_sequence = self.ack_sequence.max(flow.seq);
                if flow.msgs > 0 {
                    self.flow = flow.msgs;
                }
            }
            Ok(flow) if flow.kind == "gap" => {
                self.gaps.push(BatchGap {
                    expected: flow.last_seq,
                    current: flow.seq,
                });
                if self.gap == GapMode::Fail {
                    self.stopped = true;
                }
            }
            Ok(flow) if flow.kind == "err" => {
                if let Some(error) = flow.error {
                    self.errors.push(BatchMessageError {
                        sequence: flow.seq,
                        error,
                    });
                }
                if self.gap == GapMode::Fail {
                    self.stopped = true;
                }
            }
            _ => {
                let ack = parse_response::<PubAck>(msg, || {
                    format!("fast batch publish to {:?}", self.last_subject)
                });
                self.final_ack = Some(ack);
            }
        }
    }

    async fn final_ack(mut self) -> Result<PubAck, Error> {
        let deadline = crate::request::deadline_in(self.timeout);
        loop {
            if let Some(result) = self.final_ack.take() {
                return result;
            }
            if let Some(why) = &self.ended {
                return Err(Error::new(
                    ErrorKind::JetStream,
                    format!("the fast batch ended: {why}"),
                ));
            }
            match tokio::time::timeout_at(deadline, self.sub.next()).await {
                Ok(Some(msg)) => self.handle(&msg),
                Ok(None) => return Err(Error::closed()),
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "no acknowledgement of the fast batch's commit within {:?}",
                            self.timeout
                        ),
                    ))
                }
            }
        }
    }
}
