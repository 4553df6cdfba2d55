//! The one error type of the protocol core.

use std::fmt;

/// What went wrong in the protocol core.
///
/// Parse errors ([`ProtoErrorKind::is_peer_fault`]) mean the byte stream from the server cannot
/// be trusted any more: the connection must be closed. Validation errors mean the caller passed
/// something the protocol cannot carry; nothing was encoded and the connection is unaffected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProtoErrorKind {
    /// A server control line was longer than [`crate::MAX_CONTROL_LINE`] bytes.
    ControlLineTooLong,
    /// A server frame did not follow the protocol grammar.
    MalformedFrame,
    /// The server sent an operation name the client does not know.
    UnknownOperation,
    /// A header block could not be parsed.
    MalformedHeaders,
    /// The INFO JSON could not be parsed.
    MalformedInfo,
    /// A subject was empty, contained whitespace or misplaced wildcards.
    InvalidSubject,
    /// A queue group name was empty or contained whitespace.
    InvalidQueueGroup,
    /// A header name or value contained characters the header block cannot carry.
    InvalidHeader,
    /// Headers plus payload exceed the server's `max_payload`.
    MaxPayloadExceeded,
    /// The operation is not allowed in the connection's current state.
    InvalidState,
    /// The connection is closed for good.
    Closed,
    /// Not connected, and the reconnect buffer cannot take this publish.
    ReconnectBufferFull,
}

impl ProtoErrorKind {
    /// True when the server (the peer) sent bytes that break the protocol.
    pub fn is_peer_fault(self) -> bool {
        matches!(
            self,
            Self::ControlLineTooLong
                | Self::MalformedFrame
                | Self::UnknownOperation
                | Self::MalformedHeaders
                | Self::MalformedInfo
        )
    }
}

/// An error from parsing, validation or the connection state machine.
#[derive(Clone, PartialEq, Eq)]
pub struct ProtoError {
    kind: ProtoErrorKind,
    detail: String,
}

impl ProtoError {
    pub(crate) fn new(kind: ProtoErrorKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            detail: detail.into(),
        }
    }

    /// The category of the error.
    pub fn kind(&self) -> ProtoErrorKind {
        self.kind
    }

    /// A human readable description of what was wrong (without the category prefix).
    pub fn detail(&self) -> &str {
        &self.detail
    }
}

impl fmt::Debug for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtoError")
            .field("kind", &self.kind)
            .field("detail", &self.detail)
            .finish()
    }
}

impl fmt::Display for ProtoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ProtoErrorKind::ControlLineTooLong => "server control line too long",
            ProtoErrorKind::MalformedFrame => "malformed frame from server",
            ProtoErrorKind::UnknownOperation => "unknown operation from server",
            ProtoErrorKind::MalformedHeaders => "malformed header block",
            ProtoErrorKind::MalformedInfo => "malformed INFO from server",
            ProtoErrorKind::InvalidSubject => "invalid subject",
            ProtoErrorKind::InvalidQueueGroup => "invalid queue group",
            ProtoErrorKind::InvalidHeader => "invalid header",
            ProtoErrorKind::MaxPayloadExceeded => "message exceeds the server's max_payload",
            ProtoErrorKind::InvalidState => "operation not allowed in this connection state",
            ProtoErrorKind::Closed => "the connection is closed",
            ProtoErrorKind::ReconnectBufferFull => "the reconnect buffer is full",
        };
        if self.detail.is_empty() {
            f.write_str(what)
        } else {
            write!(f, "{what}: {}", self.detail)
        }
    }
}

impl std::error::Error for ProtoError {}
