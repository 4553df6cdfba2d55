//! Publishing to streams with acknowledgement: [`Context::publish`], [`Publish`] options,
//! [`PubAck`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

use super::api::parse_response;
use super::context::Context;
use crate::{Error, ErrorKind, HeaderMap, Message, Request, Response};

/// A stream's acknowledgement of a published message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PubAck {
    /// The stream that stored the message.
    pub stream: String,
    /// The message's sequence in the stream.
    #[serde(rename = "seq", default)]
    pub sequence: u64,
    /// True when the message id was already stored within the duplicate window: the message
    /// was not stored again, `sequence` is the original's.
    #[serde(default)]
    pub duplicate: bool,
    /// The stream's JetStream domain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// A counter stream's new value.
    #[serde(rename = "val", default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The id of the batch this acknowledgement commits (atomic and fast batches).
    #[serde(rename = "batch", default, skip_serializing_if = "Option::is_none")]
    pub batch_id: Option<String>,
    /// How many messages the committed batch stored.
    #[serde(rename = "count", default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<u64>,
    /// Fields this version of rnats does not model.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The options of one publish: payload, headers, de-duplication id, expectations, TTL.
///
/// ```no_run
/// # async fn demo(js: rnats::jetstream::Context) -> Result<(), rnats::Error> {
/// use rnats::jetstream::Publish;
/// let ack = js
///     .publish_with(
///         "orders.new",
///         Publish::new()
///             .payload("order 7")
///             .message_id("order-7")
///             .expected_last_subject_sequence(0),
///     )
///     .await?
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Publish {
    payload: Bytes,
    headers: HeaderMap,
    ttl: Option<Duration>,
    retry: RetryPolicy,
}

/// When and how often an unacknowledged publish is sent again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RetryPolicy {
    attempts: usize,
    wait: Duration,
    on_timeout: bool,
}

impl Default for Publish {
    fn default() -> Self {
        Self {
            payload: Bytes::new(),
            headers: HeaderMap::new(),
            ttl: None,
            retry: RetryPolicy {
                attempts: 2,
                wait: Duration::from_millis(250),
                on_timeout: false,
            },
        }
    }
}

impl Publish {
    /// The payload, headers and TTL (for the batch publishers, which send without retries).
    pub(crate) fn into_parts(self) -> (Bytes, HeaderMap, Option<Duration>) {
        (self.payload, self.headers, self.ttl)
    }

    /// An empty message without headers; retried twice, 250 ms apart, when no stream
    /// answers (503).
    pub fn new() -> Self {
        Self::default()
    }

    /// How many times the message is sent again when no stream answers (503) or, with
    /// [`Publish::retry_on_timeout`], when its acknowledgement does not come in time (default
    /// 2; 0 never retries).
    pub fn retry_attempts(mut self, attempts: usize) -> Self {
        self.retry.attempts = attempts;
        self
    }

    /// How long to wait before each retry (default 250 ms).
    pub fn retry_wait(mut self, wait: Duration) -> Self {
        self.retry.wait = wait;
        self
    }

    /// Also retries when the acknowledgement does not come in time (lost during a leader
    /// change, for instance). The message then always carries a `Nats-Msg-Id` (one is
    /// generated if none was set), so that the stream stores it once however often it is
    /// sent, provided the retries end within the stream's duplicate window.
    pub fn retry_on_timeout(mut self, retry: bool) -> Self {
        self.retry.on_timeout = retry;
        self
    }

    /// The payload.
    pub fn payload(mut self, payload: impl Into<Bytes>) -> Self {
        self.payload = payload.into();
        self
    }

    /// Adds every header of `headers`.
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        for (name, value) in headers.iter() {
            self.headers.append(name, value);
        }
        self
    }

    /// Sets header `name` to `value`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.insert(name, value);
        self
    }

    /// `Nats-Msg-Id`: the stream stores a message with an id seen within its duplicate window
    /// only once ([`PubAck::duplicate`] tells).
    pub fn message_id(self, id: impl Into<String>) -> Self {
        self.header("Nats-Msg-Id", id)
    }

    /// `Nats-Expected-Stream`: refused (10060) unless the subject is stored by this stream.
    pub fn expected_stream(self, stream: impl Into<String>) -> Self {
        self.header("Nats-Expected-Stream", stream)
    }

    /// `Nats-Expected-Last-Sequence`: refused ([`Error::is_wrong_last_sequence`]) unless the
    /// stream's last sequence is `sequence`.
    pub fn expected_last_sequence(self, sequence: u64) -> Self {
        self.header("Nats-Expected-Last-Sequence", sequence.to_string())
    }

    /// `Nats-Expected-Last-Subject-Sequence`: refused unless the last message on this subject
    /// has `sequence` (0: there is none).
    pub fn expected_last_subject_sequence(self, sequence: u64) -> Self {
        self.header("Nats-Expected-Last-Subject-Sequence", sequence.to_string())
    }

    /// `Nats-Expected-Last-Subject-Sequence-Subject`: with
    /// [`Publish::expected_last_subject_sequence`], check the last sequence of the subjects
    /// matching `subject` (wildcards allowed) instead of the published subject (server 2.11+).
    pub fn expected_last_subject_sequence_subject(self, subject: impl Into<String>) -> Self {
        self.header("Nats-Expected-Last-Subject-Sequence-Subject", subject)
    }

    /// `Nats-Rollup`: after storing this message, remove the subject's earlier messages
    /// (`all: false`) or the whole stream's (`all: true`). The stream needs `allow_rollup`.
    pub fn rollup(self, all: bool) -> Self {
        self.header("Nats-Rollup", if all { "all" } else { "sub" })
    }

    /// `Nats-Expected-Last-Msg-Id`: refused (10070) unless the stream's last message had this
    /// id.
    pub fn expected_last_message_id(self, id: impl Into<String>) -> Self {
        self.header("Nats-Expected-Last-Msg-Id", id)
    }

    /// `Nats-TTL`: the message is removed after `ttl` (at least 1 s; the stream needs
    /// `allow_message_ttl`; server 2.11+, refused with [`ErrorKind::Unsupported`] before).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = Some(ttl);
        self
    }
}

impl Context {
    /// Publishes `payload` to `subject` and returns, once the message is written to the
    /// client's buffer, a future of the stream's acknowledgement.
    ///
    /// Waits first when [`ContextBuilder::max_ack_inflight`](super::ContextBuilder::max_ack_inflight)
    /// acknowledgements are outstanding: that is the backpressure of pipelined publishing.
    /// The acknowledgement fails with [`Error::is_no_responders`] when no stream stores
    /// `subject` (after two retries 250 ms apart, see [`Publish::retry_attempts`]), with
    /// [`Error::is_timeout`] when it does not come within the context's timeout, and with a
    /// JetStream error when the stream refused the message.
    ///
    /// Cancelling: dropping this future after its first poll may still publish; dropping the
    /// returned [`PubAckFuture`] does not un-publish, it only stops waiting.
    ///
    /// ```no_run
    /// # async fn demo(js: rnats::jetstream::Context) -> Result<(), rnats::Error> {
    /// // Pipelined: publish many, then collect the acknowledgements.
    /// let mut acks = Vec::new();
    /// for i in 0..1000 {
    ///     acks.push(js.publish("events.tick", i.to_string()).await?);
    /// }
    /// for ack in acks {
    ///     ack.await?;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn publish(
        &self,
        subject: impl AsRef<str>,
        payload: impl Into<Bytes>,
    ) -> Result<PubAckFuture, Error> {
        self.publish_with(subject, Publish::new().payload(payload))
            .await
    }

    /// Publishes with headers. See [`Context::publish`].
    pub async fn publish_with_headers(
        &self,
        subject: impl AsRef<str>,
        headers: HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<PubAckFuture, Error> {
        self.publish_with(subject, Publish::new().headers(headers).payload(payload))
            .await
    }

    /// Publishes with [`Publish`] options. See [`Context::publish`].
    pub async fn publish_with(
        &self,
        subject: impl AsRef<str>,
        publish: Publish,
    ) -> Result<PubAckFuture, Error> {
        let subject = subject.as_ref();
        let Publish {
            payload,
            mut headers,
            ttl,
            retry,
        } = publish;
        if retry.on_timeout && retry.attempts > 0 && !headers.contains_key("Nats-Msg-Id") {
            headers.insert("Nats-Msg-Id", nuid::next().to_string());
        }
        if let Some(ttl) = ttl {
            self.require_api_level(super::api_level::V2_11, "a per-message TTL")?;
            if ttl < Duration::from_secs(1) {
                return Err(Error::new(
                    ErrorKind::InvalidArgument,
                    format!("a message TTL must be at least 1s, not {ttl:?}"),
                ));
            }
            headers.insert("Nats-TTL", format_ttl(ttl));
        }
        if headers.contains_key("Nats-Expected-Last-Subject-Sequence-Subject") {
            self.require_api_level(
                super::api_level::V2_11,
                "an expected last subject sequence for other subjects",
            )?;
        }
        let window = &self.inner.acks.window;
        let permit = match Arc::clone(window).try_acquire_owned() {
            Ok(permit) => permit,
            // The window is full: wait for a place. Boxed, so that the future of every
            // publish does not carry the waiting state of the rare one.
            Err(TryAcquireError::NoPermits) => Box::pin(Arc::clone(window).acquire_owned())
                .await
                .map_err(|_| Error::closed())?,
            Err(TryAcquireError::Closed) => return Err(Error::closed()),
        };
        let again = (retry.attempts > 0).then(|| {
            Box::new(Retry {
                context: self.clone(),
                headers: headers.clone(),
                payload: payload.clone(),
                policy: retry,
            })
        });
        let mut request = Request::new().payload(payload).timeout(self.inner.timeout);
        if !headers.is_empty() {
            request = request.headers(headers);
        }
        let response = self.inner.client.send_request(subject, request).await?;
        Ok(PubAckFuture {
            response,
            timeout: self.inner.timeout,
            permit: Some(permit),
            retry: again,
            retrying: None,
        })
    }
}

/// Formats a TTL as the server parses it: whole seconds, or milliseconds.
pub(crate) fn format_ttl(ttl: Duration) -> String {
    if ttl.subsec_nanos() == 0 {
        format!("{}s", ttl.as_secs())
    } else {
        format!("{}ms", ttl.as_millis())
    }
}

/// The acknowledgement of one published message, from [`Context::publish`]. Await it.
///
/// Holds one place of the context's window of outstanding acknowledgements until it completes
/// or is dropped.
#[must_use = "the acknowledgement tells whether the stream stored the message"]
pub struct PubAckFuture {
    /// The answer to the publish, straight from the connection; it also keeps the subject
    /// and the deadline (the context's timeout, counted from the send).
    response: Response,
    timeout: Duration,
    permit: Option<OwnedSemaphorePermit>,
    /// What is needed to send the message again, when it may be retried.
    retry: Option<Box<Retry>>,
    /// The retries, once the first attempt failed in a retryable way.
    retrying: Option<AckRetries>,
}

type AckRetries = Pin<Box<dyn Future<Output = Result<PubAck, Error>> + Send>>;

struct Retry {
    context: Context,
    headers: HeaderMap,
    payload: Bytes,
    policy: RetryPolicy,
}

impl Retry {
    fn covers(&self, err: &Error) -> bool {
        err.is_no_responders() || (self.policy.on_timeout && err.is_timeout())
    }

    /// Sends again (the same headers, so the same `Nats-Msg-Id`) until acknowledged, the
    /// error is not retryable, or the attempts are used up.
    async fn run(
        self,
        subject: String,
        first: Error,
        failed_at: tokio::time::Instant,
    ) -> Result<PubAck, Error> {
        let mut last = first;
        let mut failed_at = failed_at;
        for _ in 0..self.policy.attempts {
            tokio::time::sleep_until(failed_at + self.policy.wait).await;
            let publish = Publish {
                payload: self.payload.clone(),
                headers: self.headers.clone(),
                ttl: None,
                retry: RetryPolicy {
                    attempts: 0,
                    ..self.policy
                },
            };
            let result = match self.context.publish_with(&subject, publish).await {
                Ok(ack) => ack.await,
                Err(e) => Err(e),
            };
            match result {
                Ok(ack) => return Ok(ack),
                Err(e) if self.covers(&e) => {
                    last = e;
                    failed_at = tokio::time::Instant::now();
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }
}

impl PubAckFuture {
    /// The first attempt ended with `result`: retry when allowed, else finish.
    /// `failed_at` is when the answer arrived or the wait expired: a future polled late (one
    /// of many in flight) retries at once instead of waiting anew.
    fn first_attempt_done(
        &mut self,
        result: Result<PubAck, Error>,
        failed_at: Option<tokio::time::Instant>,
        cx: &mut TaskContext<'_>,
    ) -> Poll<Result<PubAck, Error>> {
        self.permit = None;
        match result {
            Err(e) if self.retry.as_ref().is_some_and(|r| r.covers(&e)) => {
                let retry = self.retry.take().map(|r| *r);
                let Some(retry) = retry else {
                    return Poll::Ready(Err(e));
                };
                let subject = self.response.subject().to_owned();
                // (The Response says when a retryable failure happened; the clock is read here
                // only should it not.)
                let failed_at = failed_at.unwrap_or_else(tokio::time::Instant::now);
                let mut fut = Box::pin(retry.run(subject, e, failed_at));
                let poll = fut.as_mut().poll(cx);
                self.retrying = Some(fut);
                poll
            }
            other => Poll::Ready(other),
        }
    }
}

impl Future for PubAckFuture {
    type Output = Result<PubAck, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let Some(retrying) = &mut this.retrying {
            return retrying.as_mut().poll(cx);
        }
        let result = match Pin::new(&mut this.response).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Ok(msg)) => parse_ack(this.response.subject(), &msg),
            // The retryable failures: retried from when they happened.
            Poll::Ready(Err(e)) if e.is_no_responders() || e.is_timeout() => {
                let subject = this.response.subject();
                let err = if e.is_timeout() {
                    Error::new(
                        ErrorKind::Timeout,
                        format!(
                            "no acknowledgement of the publish to {subject:?} within {:?}",
                            this.timeout
                        ),
                    )
                } else {
                    Error::new(
                        ErrorKind::NoResponders,
                        format!("no stream stores subject {subject:?} (no responders)"),
                    )
                };
                let failed_at = this.response.failed_at();
                return this.first_attempt_done(Err(err), failed_at, cx);
            }
            Poll::Ready(Err(e)) => {
                this.permit = None;
                return Poll::Ready(Err(e));
            }
        };
        this.first_attempt_done(result, None, cx)
    }
}

impl std::fmt::Debug for PubAckFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PubAckFuture")
            .field("subject", &self.response.subject())
            .finish_non_exhaustive()
    }
}

fn parse_ack(subject: &str, msg: &Message) -> Result<PubAck, Error> {
    if let Some(ack) = common_ack(&msg.payload) {
        return Ok(ack);
    }
    parse_response(msg, || format!("publish to {subject:?}"))
}

/// The acknowledgement nearly every publish gets, `{"stream":"…","seq":N}` with at most
/// `domain` and `duplicate` besides, read by hand: serde's `flatten` (for
/// [`PubAck::extra`]) buffers every field before building the struct, about 1,900
/// instructions per acknowledgement, on the path of every awaited publish. Anything else —
/// another key (an error, a counter's value, a batch), a key twice, an escape in a string,
/// a number that is not a plain `u64` — is `None` and takes the full parse.
fn common_ack(payload: &[u8]) -> Option<PubAck> {
    let mut json = PlainJson {
        bytes: payload,
        at: 0,
    };
    json.expect(b'{')?;
    let (mut stream, mut sequence, mut domain, mut duplicate) = (None, None, None, None);
    loop {
        let key = json.string()?;
        json.expect(b':')?;
        let fresh = match key {
            b"stream" => stream.replace(json.string()?).is_none(),
            b"seq" => sequence.replace(json.number()?).is_none(),
            b"domain" => domain.replace(json.string()?).is_none(),
            b"duplicate" => duplicate.replace(json.boolean()?).is_none(),
            _ => false,
        };
        if !fresh {
            return None;
        }
        match json.next()? {
            b',' => continue,
            b'}' => break,
            _ => return None,
        }
    }
    json.skip_space();
    if json.at != payload.len() {
        return None;
    }
    let text = |b: &[u8]| std::str::from_utf8(b).ok().map(str::to_owned);
    Some(PubAck {
        stream: text(stream?)?,
        sequence: sequence?,
        duplicate: duplicate.unwrap_or(false),
        domain: match domain {
            Some(d) => Some(text(d)?),
            None => None,
        },
        value: None,
        batch_id: None,
        batch_size: None,
        extra: Map::new(),
    })
}

/// A cursor over JSON that reads only what [`common_ack`] accepts.
struct PlainJson<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> PlainJson<'a> {
    fn skip_space(&mut self) {
        while self
            .bytes
            .get(self.at)
            .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
        {
            self.at += 1;
        }
    }

    /// The next byte that is not white space.
    fn next(&mut self) -> Option<u8> {
        self.skip_space();
        let b = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    fn expect(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    /// A string without escapes or control characters: its bytes between the quotes.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.expect(b'"')?;
        let start = self.at;
        let len = self.bytes[start..]
            .iter()
            .position(|&b| b == b'"' || b == b'\\' || b < 0x20)?;
        if self.bytes[start + len] != b'"' {
            return None;
        }
        self.at = start + len + 1;
        Some(&self.bytes[start..start + len])
    }

    /// A non-negative integer as JSON writes one (no sign, fraction, exponent or leading
    /// zero) that fits a `u64`.
    fn number(&mut self) -> Option<u64> {
        self.skip_space();
        let start = self.at;
        let len = self.bytes[start..]
            .iter()
            .position(|b| !b.is_ascii_digit())
            .unwrap_or(self.bytes.len() - start);
        let digits = &self.bytes[start..start + len];
        if digits.is_empty() || (digits.len() > 1 && digits[0] == b'0') {
            return None;
        }
        if matches!(self.bytes.get(start + len), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.at = start + len;
        digits.iter().try_fold(0u64, |n, d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
    }

    fn boolean(&mut self) -> Option<bool> {
        self.skip_space();
        let rest = &self.bytes[self.at..];
        let (value, len) = if rest.starts_with(b"true") {
            (true, 4)
        } else if rest.starts_with(b"false") {
            (false, 5)
        } else {
            return None;
        };
        self.at += len;
        Some(value)
    }
}

/// The window of outstanding acknowledgements of a context. The answers themselves come
/// through the client's shared reply subscription ([`crate::Client::send_request`]).
pub(crate) struct AckMux {
    window: Arc<Semaphore>,
}

impl AckMux {
    pub(crate) fn new(max_inflight: usize) -> Self {
        Self {
            window: Arc::new(Semaphore::new(max_inflight)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttl_formats() {
        assert_eq!(format_ttl(Duration::from_secs(5)), "5s");
        assert_eq!(format_ttl(Duration::from_millis(1500)), "1500ms");
    }

    #[test]
    fn pub_ack_parses() {
        let ack: PubAck =
            serde_json::from_str(r#"{"stream":"S","seq":7,"duplicate":true,"domain":"hub"}"#)
                .unwrap();
        assert_eq!(ack.sequence, 7);
        assert!(ack.duplicate);
        assert_eq!(ack.domain.as_deref(), Some("hub"));
    }

    /// What the full (serde) parse makes of `payload`, or `None` when it fails.
    fn by_serde(payload: &str) -> Option<PubAck> {
        serde_json::from_str(payload).ok()
    }

    #[test]
    fn the_common_ack_is_read_by_hand_and_the_rest_left_to_serde() {
        for plain in [
            r#"{"stream":"KV_b","seq":1}"#,
            r#"{"seq":18446744073709551615,"stream":"S"}"#,
            r#" { "stream" : "S" , "seq" : 0 , "duplicate" : true , "domain" : "hub" } "#,
            r#"{"stream":"ünï","seq":7,"duplicate":false}"#,
        ] {
            let fast = common_ack(plain.as_bytes()).expect(plain);
            assert_eq!(Some(fast), by_serde(plain), "{plain}");
        }
        for other in [
            r#"{"stream":"S","seq":1,"val":"5"}"#,
            r#"{"stream":"S","seq":1,"batch":"b","count":2}"#,
            r#"{"error":{"code":503,"err_code":10039,"description":"x"}}"#,
            r#"{"stream":"S\u0041","seq":1}"#,
            r#"{"stream":"S","seq":1,"seq":2}"#,
            r#"{"stream":"S","seq":01}"#,
            r#"{"stream":"S","seq":1.0}"#,
            r#"{"stream":"S","seq":-1}"#,
            r#"{"stream":"S","seq":18446744073709551616}"#,
            r#"{"stream":"S","seq":1}x"#,
            r#"{"stream":"S","seq":1"#,
            r#"{"stream":"S"}"#,
            r#"{"seq":1}"#,
            "",
        ] {
            assert_eq!(common_ack(other.as_bytes()), None, "{other}");
        }
    }

    proptest::proptest! {
        /// Whatever the hand reader accepts, serde reads the same; and acks of the common
        /// shape (any key order, spacing, optional fields) are always accepted.
        #[test]
        fn the_hand_reader_agrees_with_serde(
            stream in "[A-Za-z0-9_\\-é\"\\\\]{0,8}",
            seq: u64,
            domain in proptest::option::of("[a-z\"\\\\]{0,4}"),
            duplicate in proptest::option::of(proptest::bool::ANY),
            space in "[ \t\r\n]{0,2}",
            reversed: bool,
            noise in ".{0,12}",
        ) {
            let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
            let mut fields = vec![
                format!("{space}\"stream\"{space}:{space}{}", quote(&stream)),
                format!("\"seq\":{space}{seq}"),
            ];
            if let Some(d) = &domain {
                fields.push(format!("\"domain\":{}", quote(d)));
            }
            if let Some(b) = duplicate {
                fields.push(format!("\"duplicate\":{b}{space}"));
            }
            if reversed {
                fields.reverse();
            }
            let ack = format!("{space}{{{}}}{space}", fields.join(","));
            let fast = common_ack(ack.as_bytes());
            if fast.is_some() {
                proptest::prop_assert_eq!(fast.clone(), by_serde(&ack), "{}", ack);
            }
            let escaped = ack.contains('\\');
            proptest::prop_assert!(escaped || fast.is_some(), "{}", ack);
            // Any text at all: accepted only when serde reads the same.
            if let Some(fast) = common_ack(noise.as_bytes()) {
                proptest::prop_assert_eq!(Some(fast), by_serde(&noise), "{}", noise);
            }
        }
    }
}
