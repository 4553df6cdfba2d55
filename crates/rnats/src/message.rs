//! Received messages.

use bytes::Bytes;
use rnats_proto::{HeaderMap, StatusCode, Subject};

/// A message received from the server.
///
/// The payload (and the subject) share the memory the connection read them into: taking them
/// is free.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Message {
    /// The subject the message was published to.
    pub subject: Subject,
    /// The subject to reply to, when the publisher asked for a reply.
    pub reply: Option<Subject>,
    /// The payload.
    pub payload: Bytes,
    /// The headers, when the message had any.
    pub headers: Option<HeaderMap>,
    /// The inline status of a control message (for example 503 for no responders).
    pub status: Option<StatusCode>,
    /// The description that came with the status, if any.
    pub description: Option<String>,
    /// Size of headers plus payload, as sent on the wire.
    pub length: usize,
}

impl From<rnats_proto::Msg> for Message {
    fn from(m: rnats_proto::Msg) -> Self {
        Self {
            subject: m.subject,
            reply: m.reply,
            payload: m.payload,
            headers: m.headers,
            status: m.status,
            description: m.description,
            length: m.length,
        }
    }
}
