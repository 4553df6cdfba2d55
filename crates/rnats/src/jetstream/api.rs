//! The JetStream API plumbing every layer on JetStream shares: API subjects, sending a
//! request, parsing the answer (or its error) in one pass, JSON bodies, name checks, the
//! paged listings, and the API error type itself.
//!
//! A leaf: it uses the crate's core (`Client`, `Message`, `Error` and its constructors) and
//! external crates, and nothing from its sibling modules, so that `context`, `stream`,
//! `consumer`, `publish` and the layers above JetStream (Key-Value, Object Store, Services)
//! can all use it without a cycle.

use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_core::Stream as FuturesStream;
use futures_util::stream::{BoxStream, StreamExt};
use serde::de::value::{BorrowedStrDeserializer, MapAccessDeserializer, StringDeserializer};
use serde::de::{DeserializeOwned, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::{Client, Error, ErrorKind, Message, Request, StatusCode};

// ---------------------------------------------------------------------------------------
// Subjects

/// The default API prefix.
pub(crate) const DEFAULT_PREFIX: &str = "$JS.API";

/// The API prefix of JetStream domain `domain` (`$JS.<domain>.API`); an empty domain is the
/// default prefix.
pub(crate) fn domain_prefix(domain: &str) -> String {
    if domain.is_empty() {
        DEFAULT_PREFIX.to_owned()
    } else {
        format!("$JS.{domain}.API")
    }
}

/// A custom API prefix as given (a trailing `.` is ignored).
pub(crate) fn custom_prefix(prefix: &str) -> String {
    prefix.trim_end_matches('.').to_owned()
}

/// The API subject `<prefix>.<suffix>` (`$JS.API.STREAM.INFO.ORDERS`).
pub(crate) fn subject(prefix: &str, suffix: &str) -> String {
    format!("{prefix}.{suffix}")
}

// ---------------------------------------------------------------------------------------
// Requests

/// Sends an API request on `subject` (through the public [`Client`] API) and parses the
/// answer, or its error, with [`parse_response`].
pub(crate) async fn request<T: DeserializeOwned>(
    client: &Client,
    subject: &str,
    body: Bytes,
    timeout: Duration,
) -> Result<T, Error> {
    let msg = request_raw(client, subject, body, timeout).await?;
    parse_response(&msg, || subject.to_owned())
}

/// Sends an API request and returns the raw answer; no responders (503) becomes "jetstream
/// not available" (still [`ErrorKind::NoResponders`]).
pub(crate) async fn request_raw(
    client: &Client,
    subject: &str,
    body: Bytes,
    timeout: Duration,
) -> Result<Message, Error> {
    use tracing::Instrument;
    let span = tracing::info_span!("rnats.jetstream.api", subject = %subject);
    client
        .request_with(subject, Request::new().payload(body).timeout(timeout))
        .instrument(span)
        .await
        .map_err(|e| {
            if e.is_no_responders() {
                Error::with_source(
                    ErrorKind::NoResponders,
                    format!("jetstream not available: nobody answers {subject:?}"),
                    e,
                )
            } else {
                e
            }
        })
}

/// A request body as JSON.
pub(crate) fn json_body(value: &impl Serialize) -> Result<Bytes, Error> {
    serde_json::to_vec(value)
        .map(Bytes::from)
        .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, "cannot encode request", e))
}

/// Stream and consumer names: not empty, no whitespace, `.`, `*`, `>`, path separators or
/// control characters (they become subject tokens and file names).
pub(crate) fn check_name(what: &str, name: &str) -> Result<(), Error> {
    let bad = name.is_empty()
        || name.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\')
        });
    if bad {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid {what} name {name:?}"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Answers

/// Parses a JetStream API answer: `{"error":{…}}` becomes an [`ErrorKind::JetStream`] error,
/// a bare status (no JSON) too; anything else is `T`. `subject` names the request in errors
/// (called only when there is one).
pub(crate) fn parse_response<T: DeserializeOwned>(
    msg: &Message,
    subject: impl Fn() -> String,
) -> Result<T, Error> {
    parse_message(msg, PhantomData::<T>, subject)
}

/// [`parse_response`] for any seed (a listing page needs its items' field name).
fn parse_message<'de, S: DeserializeSeed<'de>>(
    msg: &'de Message,
    seed: S,
    subject: impl Fn() -> String,
) -> Result<S::Value, Error> {
    if msg.payload.is_empty() {
        if let Some(status) = msg.status {
            return Err(Error::jetstream_api(
                format!("jetstream request {:?} failed", subject()),
                ApiError::from_status(status, msg.description.as_deref()),
            ));
        }
    }
    match decode(&msg.payload, seed) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(Error::jetstream_api(
            format!("jetstream request {:?} failed", subject()),
            error,
        )),
        Err(e) => Err(bad_json(&subject(), e)),
    }
}

/// Decodes a JSON API answer in one pass over `payload`: the top-level `error` object, when
/// there is one, is taken out as the keys go by, and every other key is handed to `seed`'s
/// type, which never sees `error`. An error object is the answer: the parse stops there
/// (what follows it is not read, and the type is not built). Unknown fields are the type's
/// business (every answer type tolerates them). Nothing is buffered: not a `Value`, not
/// serde's `Content`.
///
/// Only when the type fails before any error object was seen is the payload looked at a
/// second time, for an error object after the field that failed (the server puts `error`
/// first, but the old two-pass parse did not depend on that); without one, the type's
/// failure is the answer's.
pub(crate) fn decode<'de, S: DeserializeSeed<'de>>(
    payload: &'de [u8],
    seed: S,
) -> Result<Result<S::Value, ApiError>, serde_json::Error> {
    let mut api_error = None;
    let mut de = serde_json::Deserializer::from_slice(payload);
    let value = de
        .deserialize_map(WithoutError {
            seed,
            error: &mut api_error,
        })
        .and_then(|value| de.end().map(|()| value));
    match (api_error, value) {
        (Some(error), _) => Ok(Err(error)),
        (None, Ok(value)) => Ok(Ok(value)),
        (None, Err(e)) => match late_error(payload) {
            Some(error) => Ok(Err(error)),
            None => Err(e),
        },
    }
}

/// The top-level error object of an answer that failed to parse as its type before one was
/// seen, if it has one after all.
#[cold]
fn late_error(payload: &[u8]) -> Option<ApiError> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        error: Option<ApiError>,
    }
    serde_json::from_slice::<Probe>(payload).ok()?.error
}

/// The visitor of an answer's top-level object: hands its entries, `error` left out, to
/// the seed.
struct WithoutError<'a, S> {
    seed: S,
    error: &'a mut Option<ApiError>,
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for WithoutError<'_, S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JetStream API answer (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<S::Value, A::Error> {
        self.seed.deserialize(MapAccessDeserializer::new(SkipError {
            map,
            error: self.error,
        }))
    }
}

/// The top-level entries of an answer but `error`, whose value it keeps aside.
struct SkipError<'a, A> {
    map: A,
    error: &'a mut Option<ApiError>,
}

impl<'de, A: MapAccess<'de>> SkipError<'_, A> {
    /// Keeps the `error` entry's value aside; an error object (not `null`) ends the answer's
    /// parse there: the answer is that error, the type need not be built.
    fn take_error(&mut self) -> Result<(), A::Error> {
        *self.error = self.map.next_value::<Option<ApiError>>()?;
        if self.error.is_some() {
            return Err(serde::de::Error::custom("the answer is an API error"));
        }
        Ok(())
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for SkipError<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        loop {
            match self.map.next_key::<Key<'de>>()? {
                None => return Ok(None),
                Some(Key::Borrowed("error")) => self.take_error()?,
                Some(Key::Owned(k)) if k == "error" => self.take_error()?,
                Some(Key::Borrowed(k)) => {
                    return seed.deserialize(BorrowedStrDeserializer::new(k)).map(Some)
                }
                Some(Key::Owned(k)) => {
                    return seed.deserialize(StringDeserializer::new(k)).map(Some)
                }
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.map.next_value_seed(seed)
    }

    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

/// A key of the answer's object, borrowed from the payload when it has no escapes.
enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// A `Protocol` error: the answer to `subject` is not the JSON expected (`e` says what).
pub(crate) fn bad_json(subject: &str, e: serde_json::Error) -> Error {
    Error::with_source(
        ErrorKind::Protocol,
        format!("invalid jetstream answer to {subject:?}"),
        e,
    )
}

/// `{"success":true}` answers.
#[derive(Debug, Deserialize)]
pub(crate) struct Success {
    #[serde(default)]
    success: bool,
}

impl Success {
    /// Fails with [`ErrorKind::JetStream`] unless the server confirmed `what`.
    pub(crate) fn check(&self, what: &str) -> Result<(), Error> {
        if self.success {
            Ok(())
        } else {
            Err(Error::new(
                ErrorKind::JetStream,
                format!("{what}: the server did not confirm"),
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------
// Errors

/// The error object of a JetStream API response: `{"code":404,"err_code":10059,...}`.
///
/// `code` is HTTP-like, `err_code` identifies the error precisely; the description is for
/// people and may change between server versions, so code never branches on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ApiError {
    /// The HTTP-like status code (400, 404, 503...).
    pub code: u16,
    /// The server's precise error code (10059 is "stream not found"); 0 when the server gave
    /// none (a status message rather than a JSON error).
    #[serde(default)]
    pub err_code: ErrorCode,
    /// The server's description, for people.
    #[serde(default)]
    pub description: String,
}

impl ApiError {
    /// An error from a status message (a pull that ended with 409, a direct get with 404).
    pub(crate) fn from_status(status: StatusCode, description: Option<&str>) -> Self {
        Self {
            code: status.as_u16(),
            err_code: ErrorCode(0),
            description: description.unwrap_or_default().to_owned(),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let description = if self.description.is_empty() {
            "no description"
        } else {
            &self.description
        };
        if self.err_code.0 == 0 {
            write!(f, "{description} (status {})", self.code)
        } else {
            write!(
                f,
                "{description} (code {}, err_code {})",
                self.code, self.err_code.0
            )
        }
    }
}

impl std::error::Error for ApiError {}

/// A JetStream `err_code` (from the server's `errors.json`). The constants name the ones
/// clients commonly branch on; any other value is kept as is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// 10003: bad request.
    pub const BAD_REQUEST: ErrorCode = ErrorCode(10003);
    /// 10008: JetStream system temporarily unavailable.
    pub const CLUSTER_NOT_AVAILABLE: ErrorCode = ErrorCode(10008);
    /// 10013: consumer name already in use.
    pub const CONSUMER_NAME_EXISTS: ErrorCode = ErrorCode(10013);
    /// 10014: consumer not found.
    pub const CONSUMER_NOT_FOUND: ErrorCode = ErrorCode(10014);
    /// 10037: no message found.
    pub const NO_MESSAGE_FOUND: ErrorCode = ErrorCode(10037);
    /// 10039: JetStream not enabled for account.
    pub const NOT_ENABLED_FOR_ACCOUNT: ErrorCode = ErrorCode(10039);
    /// 10052: stream configuration is invalid.
    pub const STREAM_INVALID_CONFIG: ErrorCode = ErrorCode(10052);
    /// 10058: stream name already in use with a different configuration.
    pub const STREAM_NAME_EXISTS: ErrorCode = ErrorCode(10058);
    /// 10059: stream not found.
    pub const STREAM_NOT_FOUND: ErrorCode = ErrorCode(10059);
    /// 10060: expected stream does not match (`Nats-Expected-Stream`).
    pub const STREAM_WRONG_EXPECTED_STREAM: ErrorCode = ErrorCode(10060);
    /// 10065: subjects overlap with an existing stream.
    pub const STREAM_SUBJECT_OVERLAP: ErrorCode = ErrorCode(10065);
    /// 10070: wrong last msg ID (`Nats-Expected-Last-Msg-Id`).
    pub const STREAM_WRONG_LAST_MSG_ID: ErrorCode = ErrorCode(10070);
    /// 10071: wrong last sequence (`Nats-Expected-Last-Sequence`,
    /// `Nats-Expected-Last-Subject-Sequence`).
    pub const STREAM_WRONG_LAST_SEQUENCE: ErrorCode = ErrorCode(10071);
    /// 10076: JetStream not enabled.
    pub const NOT_ENABLED: ErrorCode = ErrorCode(10076);
    /// 10105: consumer already exists and is still active.
    pub const CONSUMER_EXISTING_ACTIVE: ErrorCode = ErrorCode(10105);
    /// 10148: consumer already exists (create with a different configuration).
    pub const CONSUMER_ALREADY_EXISTS: ErrorCode = ErrorCode(10148);
    /// 10149: consumer does not exist (update of a missing consumer).
    pub const CONSUMER_DOES_NOT_EXIST: ErrorCode = ErrorCode(10149);
    /// 10164: wrong last sequence (the constant form replicated streams report).
    pub const STREAM_WRONG_LAST_SEQUENCE_CONSTANT: ErrorCode = ErrorCode(10164);
    /// 10165: invalid per-message TTL.
    pub const MESSAGE_TTL_INVALID: ErrorCode = ErrorCode(10165);
    /// 10166: per-message TTL is disabled on the stream.
    pub const MESSAGE_TTL_DISABLED: ErrorCode = ErrorCode(10166);
    /// 10168: message counters are disabled on the stream (`Nats-Incr` without
    /// `allow_msg_counter`).
    pub const MESSAGE_INCR_DISABLED: ErrorCode = ErrorCode(10168);
    /// 10169: a counter stream got a message without `Nats-Incr`.
    pub const MESSAGE_INCR_MISSING: ErrorCode = ErrorCode(10169);
    /// 10170: a counter increment carried a payload.
    pub const MESSAGE_INCR_PAYLOAD: ErrorCode = ErrorCode(10170);
    /// 10171: a counter increment is not a valid integer.
    pub const MESSAGE_INCR_INVALID: ErrorCode = ErrorCode(10171);
    /// 10172: the counter's stored value is broken.
    pub const MESSAGE_COUNTER_BROKEN: ErrorCode = ErrorCode(10172);
    /// 10174: atomic publish is disabled on the stream (`allow_atomic` is off).
    pub const ATOMIC_PUBLISH_DISABLED: ErrorCode = ErrorCode(10174);
    /// 10175: atomic publish sequence is missing.
    pub const ATOMIC_PUBLISH_MISSING_SEQ: ErrorCode = ErrorCode(10175);
    /// 10176: the atomic batch is incomplete and was abandoned.
    pub const ATOMIC_PUBLISH_INCOMPLETE_BATCH: ErrorCode = ErrorCode(10176);
    /// 10177: a header atomic batches do not support was used.
    pub const ATOMIC_PUBLISH_UNSUPPORTED_HEADER: ErrorCode = ErrorCode(10177);
    /// 10179: the atomic batch id is invalid (more than 64 characters).
    pub const ATOMIC_PUBLISH_INVALID_BATCH_ID: ErrorCode = ErrorCode(10179);
    /// 10188: message schedules are disabled on the stream.
    pub const MESSAGE_SCHEDULES_DISABLED: ErrorCode = ErrorCode(10188);
    /// 10189: the schedule pattern is invalid.
    pub const MESSAGE_SCHEDULES_PATTERN_INVALID: ErrorCode = ErrorCode(10189);
    /// 10190: the schedule target is invalid.
    pub const MESSAGE_SCHEDULES_TARGET_INVALID: ErrorCode = ErrorCode(10190);
    /// 10199: the atomic batch is too large (more messages than the server allows).
    pub const ATOMIC_PUBLISH_TOO_LARGE_BATCH: ErrorCode = ErrorCode(10199);
    /// 10200: the atomic batch commit is invalid.
    pub const ATOMIC_PUBLISH_INVALID_BATCH_COMMIT: ErrorCode = ErrorCode(10200);
    /// 10201: the atomic batch contains a duplicate message id.
    pub const ATOMIC_PUBLISH_DUPLICATE_MESSAGE: ErrorCode = ErrorCode(10201);
    /// 10205: fast batch publish is disabled on the stream (`allow_batched` is off).
    pub const BATCH_PUBLISH_DISABLED: ErrorCode = ErrorCode(10205);
    /// 10210: too many atomic batches in flight.
    pub const ATOMIC_PUBLISH_TOO_MANY_INFLIGHT: ErrorCode = ErrorCode(10210);
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Error {
    /// An API error answered by the server; `context` says to what.
    pub(crate) fn jetstream_api(context: impl Into<String>, error: ApiError) -> Self {
        Error::with_source(ErrorKind::JetStream, context, error)
    }
}

// ---------------------------------------------------------------------------------------
// Paged listings

/// What a paged listing asks, and where its items are in each page.
pub(crate) struct Listing {
    /// The client the requests go through.
    pub(crate) client: Client,
    /// The full API subject (`$JS.API.STREAM.NAMES`).
    pub(crate) subject: String,
    /// How long each page's request waits.
    pub(crate) timeout: Duration,
    /// The field of the page that holds the items (`streams`, `consumers`).
    pub(crate) items_field: &'static str,
    /// Only streams storing subjects that match (stream listings; sent as `subject`).
    pub(crate) subject_filter: Option<String>,
}

/// The body of a page request.
#[derive(Serialize)]
struct PageRequest<'a> {
    offset: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a str>,
}

/// One page of a listing: how many items the whole listing has, and this page's items.
/// (The page also says the `offset` it starts at and the `limit` of a page; the cursor
/// counts what it received instead.)
#[derive(Debug, PartialEq)]
struct Page<T> {
    total: u64,
    items: Vec<T>,
}

/// Reads a [`Page`] whose items are in field `items_field`; `null` items are none.
struct PageSeed<T> {
    items_field: &'static str,
    items: PhantomData<T>,
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for PageSeed<T> {
    type Value = Page<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Page<T>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for PageSeed<T> {
    type Value = Page<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a listing page with `total` and `{}`", self.items_field)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Page<T>, A::Error> {
        let mut page = Page {
            total: 0,
            items: Vec::new(),
        };
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = match &key {
                Key::Borrowed(k) => k,
                Key::Owned(k) => k.as_str(),
            };
            if key == "total" {
                page.total = map.next_value::<Option<u64>>()?.unwrap_or(0);
            } else if key == self.items_field {
                page.items = map.next_value::<Option<Vec<T>>>()?.unwrap_or_default();
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(page)
    }
}

/// Where a listing stands between pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Cursor {
    /// The offset of the next page: how many items were received so far.
    offset: u64,
    /// No page to ask for any more.
    done: bool,
}

impl Cursor {
    /// Takes in a page of `received` items of a listing that, as that page says, has `total`
    /// items. The listing ends on an empty page (whatever `total` says, so a listing that
    /// shrank cannot loop) or once `offset` reaches `total`; `total` is read afresh from every
    /// page, so streams created meanwhile extend the listing and deleted ones shorten it.
    fn advance(&mut self, received: usize, total: u64) {
        self.offset += received as u64;
        if received == 0 || self.offset >= total {
            self.done = true;
        }
    }
}

/// A paged JetStream listing (`STREAM.NAMES`, `STREAM.LIST`, `CONSUMER.NAMES`,
/// `CONSUMER.LIST`) read as a [`Stream`](futures_core::Stream): the next page is requested
/// when the previous one has been read.
pub struct Paged<T> {
    listing: Option<Listing>,
    inner: Option<BoxStream<'static, Result<T, Error>>>,
}

impl<T: DeserializeOwned + Send + 'static> Paged<T> {
    pub(crate) fn new(listing: Listing) -> Self {
        Self {
            listing: Some(listing),
            inner: None,
        }
    }

    /// Lists only the streams that store subjects matching `subject` (stream listings only;
    /// the consumer listings ignore it).
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        if let Some(listing) = &mut self.listing {
            listing.subject_filter = Some(subject.into());
        }
        self
    }

    fn start(listing: Listing) -> BoxStream<'static, Result<T, Error>> {
        struct State<T> {
            listing: Listing,
            cursor: Cursor,
            buffer: VecDeque<T>,
        }
        let state = State {
            listing,
            cursor: Cursor::default(),
            buffer: VecDeque::new(),
        };
        futures_util::stream::unfold(state, |mut s| async move {
            loop {
                if let Some(item) = s.buffer.pop_front() {
                    return Some((Ok(item), s));
                }
                if s.cursor.done {
                    return None;
                }
                match Self::fetch(&s.listing, s.cursor.offset).await {
                    Ok(page) => {
                        s.cursor.advance(page.items.len(), page.total);
                        s.buffer.extend(page.items);
                    }
                    Err(e) => {
                        s.cursor.done = true;
                        return Some((Err(e), s));
                    }
                }
            }
        })
        .boxed()
    }

    /// The page at `offset`.
    async fn fetch(listing: &Listing, offset: u64) -> Result<Page<T>, Error> {
        let body = json_body(&PageRequest {
            offset,
            subject: listing.subject_filter.as_deref(),
        })?;
        let msg = request_raw(&listing.client, &listing.subject, body, listing.timeout).await?;
        let seed = PageSeed {
            items_field: listing.items_field,
            items: PhantomData,
        };
        parse_message(&msg, seed, || listing.subject.clone())
    }
}

impl<T: DeserializeOwned + Send + 'static> FuturesStream for Paged<T> {
    type Item = Result<T, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        if self.inner.is_none() {
            if let Some(listing) = self.listing.take() {
                self.inner = Some(Self::start(listing));
            }
        }
        match &mut self.inner {
            Some(inner) => inner.poll_next_unpin(cx),
            None => Poll::Ready(None),
        }
    }
}

impl<T> fmt::Debug for Paged<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Paged").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Map, Value};

    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("stream", "ORDERS").is_ok());
        for bad in ["", "a.b", "a b", "a*", "a>", "a/b", "a\\b", "a\tb"] {
            assert!(
                check_name("stream", bad).unwrap_err().is_invalid_argument(),
                "{bad:?}"
            );
        }
    }

    /// A reply carrying `payload` (and `status`, for a bare status).
    fn answer(payload: &str, status: Option<u16>) -> Message {
        Message {
            subject: crate::Subject::from("_INBOX.x.1"),
            reply: None,
            payload: Bytes::copy_from_slice(payload.as_bytes()),
            headers: None,
            status: status.and_then(StatusCode::from_u16),
            description: None,
            length: payload.len(),
        }
    }

    const SUBJECT: &str = "$JS.API.STREAM.INFO.ORDERS";

    fn parse<T: DeserializeOwned>(payload: &str) -> Result<T, Error> {
        parse_response(&answer(payload, None), || SUBJECT.to_owned())
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Info {
        name: String,
        #[serde(default)]
        messages: u64,
    }

    #[derive(Debug, Deserialize)]
    struct WithExtra {
        name: String,
        #[serde(flatten)]
        extra: Map<String, Value>,
    }

    #[test]
    fn a_success_is_the_type() {
        let info: Info = parse(
            r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","name":"ORDERS","messages":7}"#,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            info,
            Info {
                name: "ORDERS".into(),
                messages: 7
            }
        );
        let ok: Success = parse(r#"{"success":true}"#).unwrap_or_else(|e| panic!("{e}"));
        assert!(ok.check("x").is_ok());
        // `"error": null` is no error.
        let info: Info =
            parse(r#"{"error":null,"name":"ORDERS"}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.name, "ORDERS");
    }

    #[test]
    fn an_error_body_is_the_typed_jetstream_error() {
        let body = r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"}}"#;
        let check = |err: Error| {
            assert_eq!(err.kind(), ErrorKind::JetStream);
            let api = err.jetstream_error().unwrap_or_else(|| panic!("{err}"));
            assert_eq!(api.code, 404);
            assert_eq!(api.err_code, ErrorCode::STREAM_NOT_FOUND);
            assert_eq!(api.description, "stream not found");
            assert!(err.is_stream_not_found());
            assert_eq!(
                err.with_causes(),
                format!(
                    "jetstream request {SUBJECT:?} failed: stream not found (code 404, err_code \
                     10059)"
                )
            );
        };
        // A type the error body cannot fill (a required field is missing)...
        check(parse::<Info>(body).unwrap_err());
        // ...one it can (every field has a default): the error still wins...
        check(parse::<Success>(body).unwrap_err());
        check(parse::<Value>(body).unwrap_err());
        // ...wherever the error is, escaped key included, and whatever comes before it (even
        // a field the type cannot take).
        check(
            parse::<Info>(
                r#"{"name":"ORDERS","err\u006fr":{"code":404,"err_code":10059,"description":"stream not found"},"messages":1}"#,
            )
            .unwrap_err(),
        );
        check(
            parse::<Info>(
                r#"{"name":7,"error":{"code":404,"err_code":10059,"description":"stream not found"}}"#,
            )
            .unwrap_err(),
        );
    }

    #[test]
    fn a_bare_status_is_a_jetstream_error() {
        let err =
            parse_response::<Info>(&answer("", Some(503)), || SUBJECT.to_owned()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::JetStream);
        let api = err.jetstream_error().unwrap_or_else(|| panic!("{err}"));
        assert_eq!((api.code, api.err_code), (503, ErrorCode(0)));
    }

    #[test]
    fn unknown_fields_are_tolerated() {
        let body = r#"{"type":"t","future":{"nested":[1,{"deep":true}]},"na\u006de":"ORDERS","messages":3,"tail":null}"#;
        let info: Info = parse(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(info.name, "ORDERS");
        assert_eq!(info.messages, 3);
        // A type that keeps them gets them all, and never `error`.
        let kept: WithExtra = parse(r#"{"name":"ORDERS","error":null,"new_field":1,"type":"t"}"#)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(kept.name, "ORDERS");
        let mut keys: Vec<&str> = kept.extra.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["new_field", "type"]);
    }

    #[test]
    fn a_malformed_body_is_a_protocol_error_saying_what_was_expected() {
        let cases = [
            // Not an object.
            (
                r#"["ORDERS"]"#,
                "expected a JetStream API answer (a JSON object)",
            ),
            (
                r#""ORDERS""#,
                "expected a JetStream API answer (a JSON object)",
            ),
            // An object without what the type needs.
            (r#"{"type":"t"}"#, "missing field `name`"),
            (r#"{"name":"ORDERS","messages":"seven"}"#, "expected u64"),
            // An error object that is not one.
            (r#"{"error":"no such stream"}"#, "expected struct ApiError"),
            (r#"{"error":{"err_code":10059}}"#, "missing field `code`"),
            // Not JSON, or not only.
            (r#"{"name":"ORDERS""#, "EOF while parsing"),
            (r#"{"name":"ORDERS"} trailing"#, "trailing characters"),
            ("", "EOF while parsing"),
        ];
        for (body, expected) in cases {
            let err = parse::<Info>(body).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Protocol, "{body}: {err}");
            let text = err.with_causes();
            assert!(
                text.starts_with(&format!("invalid jetstream answer to {SUBJECT:?}: ")),
                "{body}: {text}"
            );
            assert!(text.contains(expected), "{body}: {text}");
        }
    }

    fn page(payload: &str, items_field: &'static str) -> Result<Page<String>, Error> {
        let seed = PageSeed {
            items_field,
            items: PhantomData,
        };
        parse_message(&answer(payload, None), seed, || SUBJECT.to_owned())
    }

    #[test]
    fn pages_parse_in_one_pass() {
        let p = page(
            r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","total":3,"offset":0,"limit":2,"streams":["A","B"]}"#,
            "streams",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            p,
            Page {
                total: 3,
                items: vec!["A".to_owned(), "B".to_owned()]
            }
        );
        // A Go nil slice, and another listing's field, are no items.
        let p = page(r#"{"total":0,"streams":null}"#, "streams").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.total, p.items.len()), (0, 0));
        let p =
            page(r#"{"total":2,"streams":["A"]}"#, "consumers").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((p.total, p.items.len()), (2, 0));
        // An error answer is the API error; bad items a protocol error naming the field.
        let err = page(
            r#"{"error":{"code":503,"err_code":10008,"description":"unavailable"}}"#,
            "streams",
        )
        .unwrap_err();
        assert_eq!(
            err.jetstream_error().map(|e| e.err_code),
            Some(ErrorCode::CLUSTER_NOT_AVAILABLE)
        );
        let err = page(r#"{"total":1,"streams":[1]}"#, "streams").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Protocol);
        let err = page(r#"[]"#, "streams").unwrap_err();
        assert!(
            err.with_causes().contains("a JetStream API answer"),
            "{}",
            err.with_causes()
        );
    }

    #[test]
    fn the_cursor_pages_to_the_end() {
        // Full pages, then the last one.
        let mut c = Cursor::default();
        c.advance(256, 300);
        assert_eq!(
            c,
            Cursor {
                offset: 256,
                done: false
            }
        );
        c.advance(44, 300);
        assert_eq!(
            c,
            Cursor {
                offset: 300,
                done: true
            }
        );

        // A total that is a multiple of the page size ends without an extra request.
        let mut c = Cursor::default();
        c.advance(256, 256);
        assert!(c.done);

        // An empty listing, and an empty page whatever the total says.
        let mut c = Cursor::default();
        c.advance(0, 0);
        assert_eq!(
            c,
            Cursor {
                offset: 0,
                done: true
            }
        );
        let mut c = Cursor::default();
        c.advance(256, 1000);
        c.advance(0, 1000);
        assert_eq!(
            c,
            Cursor {
                offset: 256,
                done: true
            }
        );

        // The total is read afresh from each page: streams created meanwhile extend the
        // listing, deleted ones end it sooner.
        let mut c = Cursor::default();
        c.advance(256, 300);
        c.advance(256, 600);
        assert_eq!(
            c,
            Cursor {
                offset: 512,
                done: false
            }
        );
        c.advance(88, 600);
        assert!(c.done);
        let mut c = Cursor::default();
        c.advance(256, 600);
        c.advance(10, 200);
        assert_eq!(
            c,
            Cursor {
                offset: 266,
                done: true
            }
        );
    }

    /// The leaf rule: outside its tests, this module names no sibling (`super::…`,
    /// `crate::jetstream::…`); everything else in `jetstream` may import it.
    #[test]
    fn api_is_a_leaf() {
        let source = include_str!("api.rs");
        let code = source.split("#[cfg(test)]").next().unwrap_or_default();
        for (n, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or_default();
            assert!(
                !line.contains("super::") && !line.contains("jetstream::"),
                "api.rs:{}: {line}",
                n + 1
            );
        }
    }

    #[test]
    fn prefixes_and_subjects() {
        assert_eq!(domain_prefix(""), "$JS.API");
        assert_eq!(domain_prefix("hub"), "$JS.hub.API");
        assert_eq!(custom_prefix("imported.JS.API."), "imported.JS.API");
        assert_eq!(
            subject(DEFAULT_PREFIX, "STREAM.INFO.ORDERS"),
            "$JS.API.STREAM.INFO.ORDERS"
        );
    }
}
