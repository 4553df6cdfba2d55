//! Streams: configuration, info, and a [`Stream`] handle to purge, read and delete messages
//! and to manage its consumers.

mod config;
mod direct;
mod info;

pub use config::{
    Compression, Config, ConsumerLimits, DiscardPolicy, External, PersistMode, Placement,
    Republish, RetentionPolicy, Source, StorageType, SubjectTransform,
};
pub use direct::{DirectBatch, DirectMessages};
pub use info::{ClusterInfo, Info, InfoOptions, PeerInfo, PurgeResponse, SourceInfo, State};

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::api::{check_name, json_body, parse_response, Success};
use super::context::Context;
use super::is_default;
use crate::{Error, ErrorKind, HeaderMap, Subject};

/// A message read from a stream by sequence or subject.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamMessage {
    /// The subject it was stored under.
    pub subject: Subject,
    /// Its sequence in the stream.
    pub sequence: u64,
    /// Its headers (empty when it had none).
    pub headers: HeaderMap,
    /// Its payload.
    pub payload: Bytes,
    /// When it was stored.
    pub time: OffsetDateTime,
}

/// A handle to one stream: read, delete and purge its messages, manage its consumers.
#[derive(Debug, Clone)]
pub struct Stream {
    pub(crate) context: Context,
    name: String,
    info: Info,
}

impl Stream {
    pub(crate) fn new(context: Context, info: Info) -> Self {
        Self {
            context,
            name: info.config.name.clone(),
            info,
        }
    }

    pub(crate) fn without_info(context: Context, name: String) -> Self {
        let mut info = Info::default();
        info.config.name = name.clone();
        Self {
            context,
            name,
            info,
        }
    }

    /// The stream's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The info from the last request (creation, get, or [`Stream::info`]).
    pub fn cached_info(&self) -> &Info {
        &self.info
    }

    /// Fetches the stream's info and caches it.
    pub async fn info(&mut self) -> Result<&Info, Error> {
        self.info = self.context.stream_info(&self.name).await?;
        Ok(&self.info)
    }

    /// Fetches the stream's info with deleted sequences and/or per-subject counts; every page
    /// of subjects is fetched and merged.
    pub async fn info_with(&self, options: InfoOptions) -> Result<Info, Error> {
        #[derive(Deserialize)]
        struct Paged {
            #[serde(flatten)]
            info: Info,
            #[serde(default)]
            total: usize,
        }
        let mut options = options;
        options.offset = 0;
        let mut merged: Option<Info> = None;
        loop {
            let page: Paged = self
                .context
                .api_request(&format!("STREAM.INFO.{}", self.name), json_body(&options)?)
                .await?;
            let got = page.info.state.subjects.len();
            let info = match merged.take() {
                None => page.info,
                Some(mut m) => {
                    m.state.subjects.extend(page.info.state.subjects);
                    m
                }
            };
            options.offset += got;
            let done = got == 0 || options.offset >= page.total;
            merged = Some(info);
            if done {
                break;
            }
        }
        let mut info = merged.unwrap_or_default();
        info.extra.remove("total");
        info.extra.remove("offset");
        info.extra.remove("limit");
        Ok(info)
    }

    /// Purges messages: all of them, or those matching a filter, keeping the newest N, or
    /// below a sequence. Await the builder to send it.
    ///
    /// ```no_run
    /// # async fn demo(stream: rnats::jetstream::stream::Stream) -> Result<(), rnats::Error> {
    /// let all = stream.purge().await?;
    /// let some = stream.purge().filter("orders.eu.>").keep(10).await?;
    /// # Ok(()) }
    /// ```
    pub fn purge(&self) -> Purge {
        Purge {
            stream: self.clone(),
            request: PurgeRequest::default(),
        }
    }

    /// The message at `sequence`, read through the stream leader (`STREAM.MSG.GET`).
    pub async fn get_raw_message(&self, sequence: u64) -> Result<StreamMessage, Error> {
        self.msg_get(MsgGetRequest {
            seq: Some(sequence),
            ..Default::default()
        })
        .await
    }

    /// The last message stored under `subject` (`STREAM.MSG.GET`).
    pub async fn get_last_raw_message_by_subject(
        &self,
        subject: impl AsRef<str>,
    ) -> Result<StreamMessage, Error> {
        self.msg_get(MsgGetRequest {
            last_by_subj: Some(subject.as_ref()),
            ..Default::default()
        })
        .await
    }

    /// The first message at or after `sequence` stored under `subject` (`STREAM.MSG.GET`).
    pub async fn get_next_raw_message_by_subject(
        &self,
        subject: impl AsRef<str>,
        sequence: u64,
    ) -> Result<StreamMessage, Error> {
        self.msg_get(MsgGetRequest {
            seq: Some(sequence),
            next_by_subj: Some(subject.as_ref()),
            ..Default::default()
        })
        .await
    }

    /// Deletes the message at `sequence` (marks it deleted, without overwriting its data).
    pub async fn delete_message(&self, sequence: u64) -> Result<(), Error> {
        self.msg_delete(sequence, true).await
    }

    /// Deletes the message at `sequence` and overwrites its data on disk.
    pub async fn erase_message(&self, sequence: u64) -> Result<(), Error> {
        self.msg_delete(sequence, false).await
    }

    async fn msg_delete(&self, sequence: u64, no_erase: bool) -> Result<(), Error> {
        #[derive(Serialize)]
        struct Req {
            seq: u64,
            #[serde(skip_serializing_if = "is_default")]
            no_erase: bool,
        }
        let answer: Success = self
            .context
            .api_request(
                &format!("STREAM.MSG.DELETE.{}", self.name),
                json_body(&Req {
                    seq: sequence,
                    no_erase,
                })?,
            )
            .await?;
        answer.check(&format!(
            "delete message {sequence} of stream {:?}",
            self.name
        ))
    }

    async fn msg_get(&self, request: MsgGetRequest<'_>) -> Result<StreamMessage, Error> {
        #[derive(Deserialize)]
        struct Answer {
            message: Raw,
        }
        #[derive(Deserialize)]
        struct Raw {
            subject: String,
            seq: u64,
            #[serde(default)]
            data: Option<String>,
            #[serde(default)]
            hdrs: Option<String>,
            #[serde(with = "time::serde::rfc3339")]
            time: OffsetDateTime,
        }
        let answer: Answer = self
            .context
            .api_request(
                &format!("STREAM.MSG.GET.{}", self.name),
                json_body(&request)?,
            )
            .await?;
        let raw = answer.message;
        let b64 = |s: Option<String>| -> Result<Vec<u8>, Error> {
            match s {
                None => Ok(Vec::new()),
                Some(s) => base64::engine::general_purpose::STANDARD
                    .decode(s)
                    .map_err(|e| {
                        Error::with_source(
                            ErrorKind::Protocol,
                            "invalid base64 in a stored message",
                            e,
                        )
                    }),
            }
        };
        let payload = Bytes::from(b64(raw.data)?);
        let hdrs = b64(raw.hdrs)?;
        let headers = if hdrs.is_empty() {
            HeaderMap::new()
        } else {
            let (_, _, h) = HeaderMap::decode(&hdrs)?;
            h
        };
        Ok(StreamMessage {
            subject: Subject::from(raw.subject),
            sequence: raw.seq,
            headers,
            payload,
            time: raw.time,
        })
    }
}

#[derive(Debug, Default, Serialize)]
struct MsgGetRequest<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_by_subj: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_by_subj: Option<&'a str>,
}

#[derive(Debug, Clone, Default, Serialize)]
struct PurgeRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    filter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seq: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep: Option<u64>,
}

/// A purge being built; await it to send it. From [`Stream::purge`].
#[derive(Debug, Clone)]
#[must_use = "a purge does nothing until awaited"]
pub struct Purge {
    stream: Stream,
    request: PurgeRequest,
}

impl Purge {
    /// Only messages whose subject matches `filter`.
    pub fn filter(mut self, filter: impl Into<String>) -> Self {
        self.request.filter = Some(filter.into());
        self
    }

    /// Only messages below `sequence` (exclusive). Not with [`Purge::keep`].
    pub fn sequence(mut self, sequence: u64) -> Self {
        self.request.seq = Some(sequence);
        self
    }

    /// Keeps the newest `keep` messages (per the filter). Not with [`Purge::sequence`].
    pub fn keep(mut self, keep: u64) -> Self {
        self.request.keep = Some(keep);
        self
    }
}

impl IntoFuture for Purge {
    type Output = Result<PurgeResponse, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move {
            if self.request.seq.is_some() && self.request.keep.is_some() {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    "a purge takes a sequence or a number to keep, not both",
                ));
            }
            check_name("stream", &self.stream.name)?;
            let msg = self
                .stream
                .context
                .api_request_raw(
                    &format!("STREAM.PURGE.{}", self.stream.name),
                    json_body(&self.request)?,
                )
                .await?;
            let prefix = self.stream.context.api_prefix().to_owned();
            let name = self.stream.name.clone();
            parse_response(&msg, || format!("{prefix}.STREAM.PURGE.{name}"))
        })
    }
}
