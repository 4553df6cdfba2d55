//! A request to an endpoint and its answers; the service error headers on both sides (the
//! service writes them, [`call`] and [`check_reply`] read them back as a typed error).

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;

use super::EndpointState;
use crate::{Client, Error, ErrorKind, HeaderMap, Message};

/// The header carrying a service error's description.
pub const ERROR_HEADER: &str = "Nats-Service-Error";
/// The header carrying a service error's numeric code.
pub const ERROR_CODE_HEADER: &str = "Nats-Service-Error-Code";

/// A request received by an endpoint: the message, and the ways to answer it.
///
/// Answering is optional (a request without a reply subject cannot be answered: the respond
/// calls then fail with [`ErrorKind::InvalidArgument`]); a request may be answered from any
/// task, and more than once (the requester keeps the first answer).
pub struct Request {
    /// The request message as received.
    pub message: Message,
    pub(super) client: Client,
    pub(super) endpoint: Arc<EndpointState>,
    pub(super) received: Instant,
    /// Set for requests handed out by an [`Endpoint`](super::Endpoint) stream: the first
    /// answer adds the time since receipt to the endpoint's processing time. A handler's time
    /// is measured around the handler instead.
    pub(super) timed: AtomicBool,
}

impl Request {
    /// The subject the request was sent to.
    pub fn subject(&self) -> &str {
        self.message.subject.as_str()
    }

    /// The request's payload.
    pub fn payload(&self) -> &Bytes {
        &self.message.payload
    }

    /// The request's headers, if it had any.
    pub fn headers(&self) -> Option<&HeaderMap> {
        self.message.headers.as_ref()
    }

    /// The name of the endpoint that received the request.
    pub fn endpoint(&self) -> &str {
        &self.endpoint.name
    }

    /// Answers the request with `payload`.
    ///
    /// ```no_run
    /// # async fn demo(req: rnats::service::Request) -> Result<(), rnats::Error> {
    /// req.respond(format!("hello {}", String::from_utf8_lossy(req.payload()))).await?;
    /// # Ok(()) }
    /// ```
    pub async fn respond(&self, payload: impl Into<Bytes>) -> Result<(), Error> {
        let reply = self.reply()?;
        self.answered();
        self.client.publish(reply, payload).await
    }

    /// Answers the request with `headers` and `payload`.
    pub async fn respond_with_headers(
        &self,
        headers: HeaderMap,
        payload: impl Into<Bytes>,
    ) -> Result<(), Error> {
        let reply = self.reply()?;
        self.answered();
        self.client
            .publish_with_headers(reply, headers, payload)
            .await
    }

    /// Answers the request with a service error: the headers `Nats-Service-Error:
    /// <description>` and `Nats-Service-Error-Code: <code>`, and `data` as the payload (may
    /// be empty). The endpoint counts an error and records `"<code>:<description>"` as its
    /// last error.
    ///
    /// ```no_run
    /// # async fn demo(req: rnats::service::Request) -> Result<(), rnats::Error> {
    /// if req.payload().is_empty() {
    ///     return req.respond_error(400, "empty request", "").await;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn respond_error(
        &self,
        code: u16,
        description: &str,
        data: impl Into<Bytes>,
    ) -> Result<(), Error> {
        self.endpoint.record_error(code, description);
        let reply = self.reply()?;
        self.answered();
        self.client
            .publish_with_headers(reply, error_headers(code, description), data)
            .await
    }

    fn reply(&self) -> Result<&str, Error> {
        self.message.reply.as_deref().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                "the request has no reply subject: it cannot be answered",
            )
        })
    }

    fn answered(&self) {
        if self.timed.swap(false, Ordering::Relaxed) {
            self.endpoint.add_time(self.received.elapsed());
        }
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("endpoint", &self.endpoint.name)
            .field("message", &self.message)
            .finish()
    }
}

/// The two service error headers. A description is a header value: CR and LF become spaces.
pub(super) fn error_headers(code: u16, description: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(ERROR_HEADER, description.replace(['\r', '\n'], " "));
    headers.insert(ERROR_CODE_HEADER, code.to_string());
    headers
}

/// A service's error answer: the code and description of its `Nats-Service-Error-Code` and
/// `Nats-Service-Error` headers, and its payload. The source of an [`Error`] of kind
/// [`ErrorKind::Service`]; see [`Error::service_error`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    code: u16,
    description: String,
    data: Bytes,
}

impl ServiceError {
    /// The error code (`Nats-Service-Error-Code`; 0 when the header was not a number from 0
    /// to 65535).
    pub fn code(&self) -> u16 {
        self.code
    }

    /// The description (`Nats-Service-Error`).
    pub fn description(&self) -> &str {
        &self.description
    }

    /// The answer's payload.
    pub fn data(&self) -> &Bytes {
        &self.data
    }
}

impl fmt::Display for ServiceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "service error {}: {}", self.code, self.description)
    }
}

impl std::error::Error for ServiceError {}

/// Service predicates of the crate's one [`Error`] type.
impl Error {
    /// True when a service answered with an error (see [`Error::service_error`]).
    pub fn is_service_error(&self) -> bool {
        self.kind() == ErrorKind::Service
    }

    /// The service's error answer (code, description, payload), when this error is one.
    ///
    /// ```no_run
    /// # async fn demo(client: rnats::Client) {
    /// match rnats::service::call(&client, "demo.echo", "hi").await {
    ///     Ok(answer) => println!("{:?}", answer.payload),
    ///     Err(e) => match e.service_error() {
    ///         Some(s) => eprintln!("the service said {} ({})", s.description(), s.code()),
    ///         None => eprintln!("no answer: {e}"),
    ///     },
    /// }
    /// # }
    /// ```
    pub fn service_error(&self) -> Option<&ServiceError> {
        if !self.is_service_error() {
            return None;
        }
        std::error::Error::source(self)?.downcast_ref::<ServiceError>()
    }
}

/// `message` if it is not a service error answer; an [`ErrorKind::Service`] error carrying
/// the [`ServiceError`] if it has the `Nats-Service-Error` or `Nats-Service-Error-Code`
/// header.
pub fn check_reply(message: Message) -> Result<Message, Error> {
    let Some(headers) = &message.headers else {
        return Ok(message);
    };
    let description = headers.get(ERROR_HEADER);
    let code = headers.get(ERROR_CODE_HEADER);
    if description.is_none() && code.is_none() {
        return Ok(message);
    }
    let error = ServiceError {
        code: code.and_then(|c| c.trim().parse().ok()).unwrap_or(0),
        description: description.unwrap_or_default().to_owned(),
        data: message.payload.clone(),
    };
    Err(Error::with_source(
        ErrorKind::Service,
        error.to_string(),
        error,
    ))
}

/// Sends a request to a service endpoint and waits for its answer (the client's request
/// timeout applies), turning a service error answer into an [`ErrorKind::Service`] error.
///
/// ```no_run
/// # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
/// let answer = rnats::service::call(&client, "demo.echo", "hi").await?;
/// assert_eq!(answer.payload, "hi");
/// # Ok(()) }
/// ```
pub async fn call(
    client: &Client,
    subject: impl AsRef<str>,
    payload: impl Into<Bytes>,
) -> Result<Message, Error> {
    check_reply(client.request(subject, payload).await?)
}

/// [`call`] with a [`crate::Request`]: headers, a timeout of its own.
pub async fn call_with(
    client: &Client,
    subject: impl AsRef<str>,
    request: crate::Request,
) -> Result<Message, Error> {
    check_reply(client.request_with(subject, request).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(headers: Option<HeaderMap>) -> Message {
        Message {
            subject: "reply".into(),
            reply: None,
            payload: Bytes::from_static(b"body"),
            headers,
            status: None,
            description: None,
            length: 4,
        }
    }

    #[test]
    fn check_reply_reads_the_error_headers() {
        assert!(check_reply(message(None)).is_ok());
        let mut other = HeaderMap::new();
        other.insert("X", "y");
        assert!(check_reply(message(Some(other))).is_ok());

        let err = check_reply(message(Some(error_headers(404, "not\r\nfound")))).unwrap_err();
        assert!(err.is_service_error());
        let s = err.service_error().unwrap();
        assert_eq!(
            (s.code(), s.description(), &s.data()[..]),
            (404, "not  found", &b"body"[..])
        );
        assert_eq!(err.to_string(), "service error 404: not  found");

        // A code that is not a number, or only one of the two headers: still an error.
        let mut odd = HeaderMap::new();
        odd.insert(ERROR_CODE_HEADER, "E42");
        let err = check_reply(message(Some(odd))).unwrap_err();
        assert_eq!(err.service_error().unwrap().code(), 0);
        let mut only = HeaderMap::new();
        only.insert(ERROR_HEADER, "broken");
        let err = check_reply(message(Some(only))).unwrap_err();
        assert_eq!(err.service_error().unwrap().description(), "broken");
        // Other errors are not service errors.
        assert!(Error::closed().service_error().is_none());
    }
}
