//! The one error type of rnats.

use std::fmt;

use rnats_proto::{ProtoError, ProtoErrorKind};

type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What kind of failure an [`Error`] is. Match on it, or use the `is_*` predicates on
/// [`Error`], which read better and survive new kinds being added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The caller passed something invalid: a subject, queue group, header, URL or option.
    InvalidArgument,
    /// The message (headers plus payload) is larger than the server's `max_payload`.
    MaxPayloadExceeded,
    /// The operation did not complete in time.
    Timeout,
    /// A request found nobody listening on its subject.
    NoResponders,
    /// The client is closed (by `close`, `drain`, or because every `Client` was dropped).
    ConnectionClosed,
    /// The client is draining: no new subscriptions or requests.
    Draining,
    /// Not connected, and the reconnect buffer cannot take the publish.
    ReconnectBufferFull,
    /// No server of the pool could be connected to.
    ConnectFailed,
    /// The network transport failed (socket error, end of stream).
    Io,
    /// The server broke the protocol (malformed frame).
    Protocol,
    /// The server refused the credentials (`Authorization Violation` and relatives), or the
    /// client could not produce them (a failing token or signing callback).
    Authorization,
    /// TLS failed: the handshake (an untrusted or wrong-name certificate, a server without
    /// TLS while TLS was required) or the TLS configuration. Never followed by a fallback to
    /// plain text.
    Tls,
    /// The server refused a publish or subscription on a subject (`Permissions Violation`).
    PermissionDenied,
    /// Another error reported by the server with `-ERR`.
    Server,
    /// A JetStream API call failed: the server answered with an API error (its `code`,
    /// `err_code` and description are kept, see `Error::jetstream_error`), or a pull ended with
    /// a terminal status.
    JetStream,
    /// The server does not support what was asked: its JetStream API level is too low.
    Unsupported,
    /// A service answered with an error (the `Nats-Service-Error` and
    /// `Nats-Service-Error-Code` headers; see `Error::service_error`).
    Service,
}

/// The error of every fallible rnats call.
///
/// It says what went wrong in its `Display` (lowercase, context first), carries the underlying
/// cause in [`std::error::Error::source`], and is classified by [`Error::kind`] and the `is_*`
/// predicates. Blame is visible: [`ErrorKind::InvalidArgument`] is the caller's,
/// [`ErrorKind::Protocol`] and [`ErrorKind::Server`] the peer's, [`ErrorKind::Io`] the
/// network's, [`ErrorKind::ConnectionClosed`] the lifecycle's.
pub struct Error(Box<Inner>);

struct Inner {
    kind: ErrorKind,
    message: String,
    source: Option<Source>,
}

impl Error {
    /// An error of `kind` described by `message`.
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self(Box::new(Inner {
            kind,
            message: message.into(),
            source: None,
        }))
    }

    /// An error of `kind` described by `message`, caused by `source`.
    pub(crate) fn with_source(
        kind: ErrorKind,
        message: impl Into<String>,
        source: impl Into<Source>,
    ) -> Self {
        Self(Box::new(Inner {
            kind,
            message: message.into(),
            source: Some(source.into()),
        }))
    }

    pub(crate) fn closed() -> Self {
        Self::new(ErrorKind::ConnectionClosed, "the client is closed")
    }

    /// A transport failure; one caused by TLS (a fatal alert such as a refused client
    /// certificate, a bad record) is classified [`ErrorKind::Tls`].
    pub(crate) fn io(context: impl Into<String>, err: std::io::Error) -> Self {
        let tls = err
            .get_ref()
            .is_some_and(|inner| inner.downcast_ref::<rustls::Error>().is_some());
        let kind = if tls { ErrorKind::Tls } else { ErrorKind::Io };
        Self::with_source(kind, context, err)
    }

    /// Classifies a `-ERR` text from the server (quotes already stripped).
    pub(crate) fn from_server(text: &str) -> Self {
        let lower = text.to_ascii_lowercase();
        let kind = if lower.starts_with("authorization violation")
            || lower.contains("authentication expired")
            || lower.contains("authentication revoked")
            || lower.starts_with("authentication timeout")
            || lower.starts_with("user authentication")
        {
            ErrorKind::Authorization
        } else if lower.starts_with("permissions violation") {
            ErrorKind::PermissionDenied
        } else if lower.starts_with("maximum payload violation") {
            ErrorKind::MaxPayloadExceeded
        } else {
            ErrorKind::Server
        };
        Self::new(kind, format!("server error: {text}"))
    }

    /// This error's message followed by its causes: `a: b: c` (a cause that only repeats
    /// the text before it is not repeated).
    pub(crate) fn with_causes(&self) -> String {
        let mut out = self.0.message.clone();
        let mut last = self.0.message.clone();
        let mut source = std::error::Error::source(self);
        while let Some(s) = source {
            let text = s.to_string();
            if text != last {
                out.push_str(": ");
                out.push_str(&text);
            }
            last = text;
            source = s.source();
        }
        out
    }

    /// The kind of failure.
    pub fn kind(&self) -> ErrorKind {
        self.0.kind
    }

    /// True when an operation did not complete in time (for example a request).
    pub fn is_timeout(&self) -> bool {
        self.0.kind == ErrorKind::Timeout
    }

    /// True when a request found no subscriber on its subject (status 503).
    pub fn is_no_responders(&self) -> bool {
        self.0.kind == ErrorKind::NoResponders
    }

    /// True when the client is closed, or is draining and refuses new work.
    pub fn is_connection_closed(&self) -> bool {
        matches!(
            self.0.kind,
            ErrorKind::ConnectionClosed | ErrorKind::Draining
        )
    }

    /// True when the caller passed an invalid subject, queue group, header, URL or option.
    pub fn is_invalid_argument(&self) -> bool {
        self.0.kind == ErrorKind::InvalidArgument
    }

    /// True when a message was larger than the server's `max_payload`.
    pub fn is_max_payload_exceeded(&self) -> bool {
        self.0.kind == ErrorKind::MaxPayloadExceeded
    }

    /// True when the server refused the client's credentials (`Authorization Violation`,
    /// `Authentication Timeout`, an expired or revoked JWT), or they could not be produced.
    ///
    /// ```no_run
    /// # async fn demo() {
    /// match rnats::ConnectOptions::new().token("wrong").connect("127.0.0.1:4222").await {
    ///     Err(e) if e.is_auth_error() => eprintln!("check the credentials: {e}"),
    ///     Err(e) => eprintln!("other failure: {e}"),
    ///     Ok(_client) => {}
    /// }
    /// # }
    /// ```
    pub fn is_auth_error(&self) -> bool {
        self.0.kind == ErrorKind::Authorization
    }

    /// True when TLS failed (handshake, certificate verification, or a server that does not
    /// offer TLS while it was required).
    pub fn is_tls_error(&self) -> bool {
        self.0.kind == ErrorKind::Tls
    }

    /// True when the server refused a publish or subscription for lack of permission.
    pub fn is_permission_denied(&self) -> bool {
        self.0.kind == ErrorKind::PermissionDenied
    }

    /// True when the network transport failed.
    pub fn is_io(&self) -> bool {
        self.0.kind == ErrorKind::Io
    }

    /// True when the server does not support what was asked (its JetStream API level is too
    /// low for the feature).
    pub fn is_unsupported(&self) -> bool {
        self.0.kind == ErrorKind::Unsupported
    }
}

impl From<ProtoError> for Error {
    fn from(e: ProtoError) -> Self {
        let kind = match e.kind() {
            ProtoErrorKind::InvalidSubject
            | ProtoErrorKind::InvalidQueueGroup
            | ProtoErrorKind::InvalidHeader => ErrorKind::InvalidArgument,
            ProtoErrorKind::MaxPayloadExceeded => ErrorKind::MaxPayloadExceeded,
            ProtoErrorKind::Closed => return Error::closed(),
            ProtoErrorKind::ReconnectBufferFull => ErrorKind::ReconnectBufferFull,
            ProtoErrorKind::InvalidState => ErrorKind::ConnectionClosed,
            _ => ErrorKind::Protocol,
        };
        // The protocol error's text is this error's message, and the error itself its
        // source, for callers that downcast to it.
        Error::with_source(kind, e.to_string(), e)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.0.kind)
            .field("message", &self.0.message);
        if let Some(s) = &self.0.source {
            d.field("source", s);
        }
        d.finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0
            .source
            .as_ref()
            .map(|s| &**s as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_errors_are_classified() {
        assert!(Error::from_server("Authorization Violation").is_auth_error());
        assert!(
            Error::from_server("Permissions Violation for Publish to \"b.x\"")
                .is_permission_denied()
        );
        assert_eq!(
            Error::from_server("Unknown Protocol Operation").kind(),
            ErrorKind::Server
        );
    }

    /// The texts users read, pinned: a change to one is a change to the API's face and shows
    /// in review as a changed snapshot.
    #[test]
    fn display_texts() {
        use insta::assert_snapshot;
        assert_snapshot!(Error::closed(), @"the client is closed");
        assert_snapshot!(
            Error::from_server("Authorization Violation"),
            @"server error: Authorization Violation"
        );
        assert_snapshot!(
            Error::from_server("Permissions Violation for Publish to \"b.x\""),
            @r#"server error: Permissions Violation for Publish to "b.x""#
        );
        let io = Error::io(
            "reading failed",
            std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset"),
        );
        assert_snapshot!(io, @"reading failed");
        assert_snapshot!(io.with_causes(), @"reading failed: connection reset");
        let proto = rnats_proto::subject::validate_publish("bad subject").unwrap_err();
        let converted = Error::from(proto.clone());
        assert_snapshot!(
            converted,
            @r#"invalid subject: publish subject "bad subject" contains whitespace (space, tab, CR or LF)"#
        );
        assert_eq!(converted.kind(), ErrorKind::InvalidArgument);
        // The protocol error is kept as the source, and not repeated by with_causes.
        let source = std::error::Error::source(&converted)
            .and_then(|s| s.downcast_ref::<ProtoError>())
            .expect("the ProtoError is the source");
        assert_eq!(source.kind(), proto.kind());
        assert_eq!(converted.with_causes(), converted.to_string());
        // Address errors name the rule broken, never the credentials in the input.
        let addresses: Vec<String> = [
            "",
            "http://a:1",
            "nats://",
            "nats://a:notaport",
            ",",
            "nats://bob:hunter2@a:notaport",
            "nats://bob:hunter2@",
            "tls://bob:hunter2@[::1",
        ]
        .iter()
        .map(
            |input| match crate::ToServerAddrs::to_server_addrs(*input) {
                Ok(addrs) => format!("ok {addrs:?}"),
                Err(err) => {
                    assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
                    err.to_string()
                }
            },
        )
        .collect();
        let addresses = addresses.join("\n");
        assert!(!addresses.contains("hunter2"), "{addresses}");
        assert_snapshot!(addresses, @r#"
        invalid server address: no server given
        invalid server address: unsupported scheme "http"; use nats://, tls://, ws:// or wss://
        invalid server address: it has no host
        invalid server address: invalid port number
        invalid server address: no server given
        invalid server address: invalid port number
        invalid server address: empty host
        invalid server address: invalid IPv6 address
        "#);
    }

    #[test]
    fn error_is_small_and_send() {
        fn assert_send_sync<T: Send + Sync + 'static>() {}
        assert_send_sync::<Error>();
        assert_eq!(std::mem::size_of::<Error>(), std::mem::size_of::<usize>());
    }
}
