//! Direct Get: reading messages from any replica (`allow_direct`), one, a batch, or the
//! last of several subjects.

use bytes::Bytes;
use serde::Serialize;
use time::OffsetDateTime;

use super::{MsgGetRequest, Stream, StreamMessage};
use crate::jetstream::api::json_body;
use crate::jetstream::api::ApiError;
use crate::jetstream::is_default;
use crate::{Error, ErrorKind, Message, StatusCode, Subject};

impl Stream {
    /// The message at `sequence` by Direct Get (needs `allow_direct`; any replica answers, so
    /// a just-stored message may not be visible yet).
    pub async fn direct_get(&self, sequence: u64) -> Result<StreamMessage, Error> {
        self.direct(
            format!("DIRECT.GET.{}", self.name),
            json_body(&MsgGetRequest {
                seq: Some(sequence),
                ..Default::default()
            })?,
        )
        .await
    }

    /// The last message stored under `subject`, by Direct Get (needs `allow_direct`).
    pub async fn direct_get_last_for_subject(
        &self,
        subject: impl AsRef<str>,
    ) -> Result<StreamMessage, Error> {
        let subject = subject.as_ref();
        if subject.is_empty() || subject.contains(char::is_whitespace) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("invalid subject {subject:?}"),
            ));
        }
        self.direct(format!("DIRECT.GET.{}.{subject}", self.name), Bytes::new())
            .await
    }

    /// The first message at or after `sequence` stored under `subject`, by Direct Get.
    pub async fn direct_get_next_for_subject(
        &self,
        subject: impl AsRef<str>,
        sequence: u64,
    ) -> Result<StreamMessage, Error> {
        self.direct(
            format!("DIRECT.GET.{}", self.name),
            json_body(&MsgGetRequest {
                seq: Some(sequence),
                next_by_subj: Some(subject.as_ref()),
                ..Default::default()
            })?,
        )
        .await
    }

    /// Several messages in one Direct Get (server 2.11+, `allow_direct`): up to
    /// `batch.max_messages` from `batch.sequence` on, optionally only those of a subject,
    /// within a byte limit. Any replica answers.
    ///
    /// ```no_run
    /// # async fn demo(stream: rnats::jetstream::stream::Stream) -> Result<(), rnats::Error> {
    /// use rnats::jetstream::stream::DirectBatch;
    /// let got = stream.direct_get_batch(DirectBatch::new(100).sequence(1).subject("orders.eu")).await?;
    /// println!("{} messages, {} more after them", got.messages.len(), got.num_pending);
    /// # Ok(()) }
    /// ```
    pub async fn direct_get_batch(&self, batch: DirectBatch) -> Result<DirectMessages, Error> {
        self.context
            .require_api_level(crate::jetstream::api_level::V2_11, "a batched direct get")?;
        #[derive(Serialize)]
        struct Req<'a> {
            seq: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            next_by_subj: Option<&'a str>,
            batch: usize,
            #[serde(skip_serializing_if = "is_default")]
            max_bytes: usize,
        }
        let body = json_body(&Req {
            seq: batch.sequence.max(1),
            next_by_subj: batch.subject.as_deref(),
            batch: batch.max_messages.max(1),
            max_bytes: batch.max_bytes,
        })?;
        let page = self.direct_batch(body).await?;
        Ok(DirectMessages {
            messages: page.messages,
            num_pending: page.num_pending,
            last_sequence: page.last_sequence,
        })
    }

    /// The last message of each of `subjects` (wildcards allowed; at most 1024 subjects may
    /// match), in one or more Direct Get requests (server 2.11+, `allow_direct`). With
    /// `up_to_sequence`, the last ones at or below that sequence.
    pub async fn direct_get_last_for_subjects(
        &self,
        subjects: &[&str],
        up_to_sequence: Option<u64>,
    ) -> Result<Vec<StreamMessage>, Error> {
        self.context.require_api_level(
            crate::jetstream::api_level::V2_11,
            "a multi-subject direct get",
        )?;
        #[derive(Serialize)]
        struct Req<'a> {
            multi_last: &'a [&'a str],
            #[serde(skip_serializing_if = "Option::is_none")]
            up_to_seq: Option<u64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            seq: Option<u64>,
        }
        let mut out = Vec::new();
        let mut up_to = up_to_sequence;
        let mut from = None;
        loop {
            let body = json_body(&Req {
                multi_last: subjects,
                up_to_seq: up_to,
                seq: from,
            })?;
            let page = self.direct_batch(body).await?;
            let got = page.messages.len();
            out.extend(page.messages);
            if page.num_pending == 0 {
                return Ok(out);
            }
            // More than one answer's worth: go on after the last one, at the same cut-off.
            // A reply that moved nothing forward would make this loop forever.
            let next = page.last_sequence.saturating_add(1);
            if got == 0 || next <= from.unwrap_or(0) {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    format!(
                        "a multi-subject direct get on stream {:?} stopped advancing: {got} \
                         messages up to sequence {}, {} pending",
                        self.name, page.last_sequence, page.num_pending
                    ),
                ));
            }
            up_to = page.up_to_sequence.or(up_to);
            from = Some(next);
        }
    }

    /// One batched Direct Get: messages until the `204 EOB` status (or a 404: none).
    async fn direct_batch(&self, body: Bytes) -> Result<DirectPage, Error> {
        let client = self.context.client();
        let subject = format!("{}.DIRECT.GET.{}", self.context.api_prefix(), self.name);
        let inbox = client.new_inbox();
        let mut sub = client.subscribe(&inbox).await?;
        // Every message of the reply ends up in `page` anyway, and the server bounds a reply
        // (by its `max_pending`, 64 MiB by default: as much as a subscription holds by
        // default), so a bounded queue could only drop messages, and lose them silently.
        sub.set_pending_limits(usize::MAX, usize::MAX);
        client.publish_with_reply(&subject, &inbox, body).await?;
        let mut page = DirectPage::default();
        loop {
            let msg = tokio::time::timeout(
                self.context.timeout(),
                futures_util::StreamExt::next(&mut sub),
            )
            .await
            .map_err(|_| {
                Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "direct get {subject:?} did not finish in {:?}",
                        self.context.timeout()
                    ),
                )
            })?
            .ok_or_else(Error::closed)?;
            let header = |name: &str| {
                msg.headers
                    .as_ref()
                    .and_then(|h| h.get(name))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            match msg.status.map(StatusCode::as_u16) {
                Some(204) => {
                    page.num_pending = header("Nats-Num-Pending").unwrap_or(0);
                    page.last_sequence = header("Nats-Last-Sequence").unwrap_or(page.last_sequence);
                    page.up_to_sequence = header("Nats-UpTo-Sequence");
                    return Ok(page);
                }
                Some(404) if msg.payload.is_empty() => return Ok(page),
                Some(503) if msg.payload.is_empty() => {
                    return Err(Error::new(
                        ErrorKind::NoResponders,
                        format!("nobody answers {subject:?}: is allow_direct set?"),
                    ))
                }
                _ => {
                    page.up_to_sequence = header("Nats-UpTo-Sequence").or(page.up_to_sequence);
                    let m = direct_message(msg, || subject.clone())?;
                    page.last_sequence = m.sequence;
                    page.messages.push(m);
                }
            }
        }
    }

    async fn direct(&self, suffix: String, body: Bytes) -> Result<StreamMessage, Error> {
        let msg = self.context.api_request_raw(&suffix, body).await?;
        let subject = || format!("{}.{suffix}", self.context.api_prefix());
        direct_message(msg, subject)
    }
}

/// Turns a Direct Get answer (the stored message with `Nats-*` headers, or a status) into a
/// [`StreamMessage`].
pub(crate) fn direct_message(
    msg: Message,
    subject: impl Fn() -> String,
) -> Result<StreamMessage, Error> {
    if let Some(status) = msg.status {
        if status != StatusCode::OK {
            return Err(Error::jetstream_api(
                format!("direct get {:?} failed", subject()),
                ApiError::from_status(status, msg.description.as_deref()),
            ));
        }
    }
    let headers = msg.headers.unwrap_or_default();
    let missing = |name: &str| {
        Error::new(
            ErrorKind::Protocol,
            format!("direct get answer to {:?} lacks header {name}", subject()),
        )
    };
    let stored_subject = headers
        .get("Nats-Subject")
        .ok_or_else(|| missing("Nats-Subject"))?
        .to_owned();
    let sequence = headers
        .get("Nats-Sequence")
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(|| missing("Nats-Sequence"))?;
    let time = headers
        .get("Nats-Time-Stamp")
        .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .ok_or_else(|| missing("Nats-Time-Stamp"))?;
    Ok(StreamMessage {
        subject: Subject::from(stored_subject),
        sequence,
        headers,
        payload: msg.payload,
        time,
    })
}

/// What [`Stream::direct_get_batch`] asks for.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DirectBatch {
    /// The first sequence to look at (default 1).
    pub sequence: u64,
    /// Only messages of this subject (wildcards allowed).
    pub subject: Option<String>,
    /// At most this many messages.
    pub max_messages: usize,
    /// At most this many bytes (0: no limit).
    pub max_bytes: usize,
}

impl DirectBatch {
    /// Up to `max_messages` messages from the first sequence on.
    pub fn new(max_messages: usize) -> Self {
        Self {
            sequence: 1,
            max_messages,
            ..Default::default()
        }
    }

    /// Starts at `sequence`.
    pub fn sequence(mut self, sequence: u64) -> Self {
        self.sequence = sequence;
        self
    }

    /// Only messages of `subject`.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = Some(subject.into());
        self
    }

    /// At most `bytes` bytes.
    pub fn max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes;
        self
    }
}

/// The answer to [`Stream::direct_get_batch`].
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct DirectMessages {
    /// The messages, in sequence order.
    pub messages: Vec<StreamMessage>,
    /// How many more messages matched after these.
    pub num_pending: u64,
    /// The sequence of the last message returned.
    pub last_sequence: u64,
}

#[derive(Debug, Default)]
struct DirectPage {
    messages: Vec<StreamMessage>,
    num_pending: u64,
    last_sequence: u64,
    up_to_sequence: Option<u64>,
}
