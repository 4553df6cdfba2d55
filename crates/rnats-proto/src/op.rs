//! Protocol operations: what the server sends ([`ServerOp`]) and what the client sends
//! ([`ClientOp`]).

use std::fmt;

use bytes::Bytes;

use crate::headers::{HeaderMap, StatusCode};
use crate::info::{ConnectInfo, ServerInfo};
use crate::subject::Subject;

/// A subscription id, unique within one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid(pub u64);

impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

/// A message delivered by the server (`MSG` or `HMSG`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Msg {
    /// The subject it was published to.
    pub subject: Subject,
    /// The subscription it is for.
    pub sid: Sid,
    /// Where to send a reply, if the publisher asked for one.
    pub reply: Option<Subject>,
    /// Headers (`HMSG` only; the inline status is in `status`).
    pub headers: Option<HeaderMap>,
    /// Inline status of the header block (`NATS/1.0 503`), if any.
    pub status: Option<StatusCode>,
    /// Description following the inline status, if any.
    pub description: Option<String>,
    /// The payload: a zero-copy slice of the read buffer.
    pub payload: Bytes,
    /// Header plus payload bytes, as counted on the wire.
    pub length: usize,
}

/// An operation sent by the server.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServerOp {
    /// `INFO {json}`.
    Info(Box<ServerInfo>),
    /// `MSG` or `HMSG`.
    Msg(Msg),
    /// `PING`: answer with `PONG`.
    Ping,
    /// `PONG`: answers our `PING`s in order.
    Pong,
    /// `+OK` (verbose mode only).
    Ok,
    /// `-ERR '<text>'`, quotes stripped.
    Err(String),
}

/// An operation sent by the client.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientOp {
    /// `CONNECT {json}`.
    Connect(Box<ConnectInfo>),
    /// `PUB` (no headers) or `HPUB` (with headers).
    Pub {
        /// Subject to publish to.
        subject: Subject,
        /// Optional reply subject.
        reply: Option<Subject>,
        /// Optional headers; `Some` makes this an `HPUB`.
        headers: Option<HeaderMap>,
        /// The payload.
        payload: Bytes,
    },
    /// `SUB <subject> [queue] <sid>`.
    Sub {
        /// Subscription id.
        sid: Sid,
        /// Subject (may contain wildcards).
        subject: Subject,
        /// Optional queue group.
        queue_group: Option<String>,
    },
    /// `UNSUB <sid> [max]`.
    Unsub {
        /// Subscription id.
        sid: Sid,
        /// Unsubscribe after this many more messages instead of now.
        max: Option<u64>,
    },
    /// `PING`.
    Ping,
    /// `PONG`.
    Pong,
}
