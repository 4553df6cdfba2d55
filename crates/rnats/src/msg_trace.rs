//! Message path tracing (ADR-41, server 2.11+; feature `msg-trace`): publish a message with
//! `Nats-Trace-Dest` and read what every server it crossed reports about it, as typed values.
//!
//! [`Client::trace`] publishes to a fresh inbox as the trace destination and collects the
//! trace messages: one per server the message went through, each a [`TraceMessage`] with its
//! [`TraceEvent`]s (ingress, subject mapping, stream export, service import, JetStream,
//! egress). It knows when it has them all: every egress to a route, gateway or leaf node
//! announces one more server's report. Other headers (a W3C `traceparent`, say) travel with
//! the message untouched.
//!
//! ```no_run
//! # async fn demo(client: rnats::Client) -> Result<(), rnats::Error> {
//! use rnats::msg_trace::TraceEvent;
//! let trace = client.trace("orders.new", "{}").trace_only(true).await?;
//! for report in &trace.messages {
//!     for event in &report.events {
//!         if let TraceEvent::Egress(e) = event {
//!             println!("{} → {:?} {:?} {:?}", report.server.name, e.kind, e.name, e.error);
//!         }
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::Value;
use time::OffsetDateTime;

use crate::{Client, Error, ErrorKind, HeaderMap, Message};

/// The header naming the subject trace messages go to.
pub const TRACE_DEST: &str = "Nats-Trace-Dest";
/// The header that traces without delivering to subscribers.
pub const TRACE_ONLY: &str = "Nats-Trace-Only";

/// The report of one server about a traced message (the server's `MsgTraceEvent`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct TraceMessage {
    /// The reporting server.
    pub server: TraceServer,
    /// The traced message as this server received it.
    #[serde(default)]
    pub request: TraceRequest,
    /// How many hops from the origin server.
    #[serde(default)]
    pub hops: u32,
    /// What happened to the message in this server, in order.
    #[serde(default)]
    pub events: Vec<TraceEvent>,
}

impl TraceMessage {
    /// Parses a trace message received on a trace destination.
    pub fn from_message(msg: &Message) -> Result<Self, Error> {
        serde_json::from_slice(&msg.payload).map_err(|e| {
            Error::with_source(
                ErrorKind::Protocol,
                format!("a trace message on {:?} is not valid", msg.subject.as_str()),
                e,
            )
        })
    }

    /// The ingress event (how the message entered this server), normally the first.
    pub fn ingress(&self) -> Option<&Ingress> {
        self.events.iter().find_map(|e| match e {
            TraceEvent::Ingress(i) => Some(i),
            _ => None,
        })
    }

    /// The egress events (where this server sent the message).
    pub fn egresses(&self) -> impl Iterator<Item = &Egress> {
        self.events.iter().filter_map(|e| match e {
            TraceEvent::Egress(eg) => Some(eg),
            _ => None,
        })
    }
}

/// The reporting server (a subset of its `ServerInfo`; the rest in `extra`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct TraceServer {
    /// Its name.
    #[serde(default)]
    pub name: String,
    /// Its id.
    #[serde(default)]
    pub id: String,
    /// Its cluster, if any.
    #[serde(default)]
    pub cluster: Option<String>,
    /// Its JetStream domain, if any.
    #[serde(default)]
    pub domain: Option<String>,
    /// Its version.
    #[serde(rename = "ver", default)]
    pub version: String,
    /// Other fields.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, Value>,
}

/// The traced message as a server received it.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[non_exhaustive]
pub struct TraceRequest {
    /// Its headers, names in their case, values in order.
    #[serde(default, rename = "header")]
    pub headers: BTreeMap<String, Vec<String>>,
    /// Its size (headers and payload).
    #[serde(default, rename = "msgsize")]
    pub size: usize,
}

/// The kind of connection an ingress or egress went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionKind {
    /// A client.
    Client,
    /// A route (a server of the same cluster).
    Router,
    /// A gateway (another cluster).
    Gateway,
    /// The system account.
    System,
    /// A leaf node.
    Leaf,
    /// JetStream.
    JetStream,
    /// An account (internal).
    Account,
    /// A kind this version does not know.
    Other(i64),
}

impl ConnectionKind {
    fn from_i64(kind: i64) -> Self {
        match kind {
            0 => Self::Client,
            1 => Self::Router,
            2 => Self::Gateway,
            3 => Self::System,
            4 => Self::Leaf,
            5 => Self::JetStream,
            6 => Self::Account,
            n => Self::Other(n),
        }
    }

    /// Whether the message went on to another server that reports too.
    fn is_server(self) -> bool {
        matches!(self, Self::Router | Self::Gateway | Self::Leaf)
    }
}

impl<'de> Deserialize<'de> for ConnectionKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        i64::deserialize(d).map(Self::from_i64)
    }
}

/// How the message entered a server (`in`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Ingress {
    /// When.
    #[serde(rename = "ts", with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// Through what kind of connection.
    pub kind: ConnectionKind,
    /// The connection's id.
    #[serde(rename = "cid", default)]
    pub connection_id: u64,
    /// The connection's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The account.
    #[serde(rename = "acc", default)]
    pub account: String,
    /// The subject.
    #[serde(rename = "subj", default)]
    pub subject: String,
    /// Why the message went no further, if it did not (a permission, say).
    #[serde(default)]
    pub error: Option<String>,
}

/// Where a server sent the message (`eg`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[non_exhaustive]
pub struct Egress {
    /// When.
    #[serde(rename = "ts", with = "time::serde::rfc3339")]
    pub time: OffsetDateTime,
    /// To what kind of connection.
    pub kind: ConnectionKind,
    /// The connection's id.
    #[serde(rename = "cid", default)]
    pub connection_id: u64,
    /// The connection's name.
    #[serde(default)]
    pub name: Option<String>,
    /// The hop id, for a route, gateway or leaf node.
    #[serde(default)]
    pub hop: Option<String>,
    /// The account.
    #[serde(rename = "acc", default)]
    pub account: Option<String>,
    /// The subscription's subject that matched.
    #[serde(rename = "sub", default)]
    pub subscription: Option<String>,
    /// The subscription's queue group.
    #[serde(default)]
    pub queue: Option<String>,
    /// Why it was not delivered (or why no trace will come from there), if so.
    #[serde(default)]
    pub error: Option<String>,
}

/// One thing that happened to a traced message in a server.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum TraceEvent {
    /// It entered the server (`in`).
    Ingress(Ingress),
    /// A subject mapping changed its subject to this (`sm`).
    SubjectMapping {
        /// When.
        time: OffsetDateTime,
        /// The new subject.
        to: String,
    },
    /// It crossed a stream export into another account (`se`).
    StreamExport {
        /// When.
        time: OffsetDateTime,
        /// The account.
        account: String,
        /// The subject in that account.
        to: String,
    },
    /// It crossed a service import (`si`).
    ServiceImport {
        /// When.
        time: OffsetDateTime,
        /// The account.
        account: String,
        /// The subject before.
        from: String,
        /// The subject after.
        to: String,
    },
    /// It reached a JetStream stream (`js`).
    JetStream {
        /// When.
        time: OffsetDateTime,
        /// The stream.
        stream: String,
        /// The subject stored under.
        subject: Option<String>,
        /// The stream is an interest stream without interest: not stored.
        no_interest: bool,
        /// Why it was not stored, if it was not.
        error: Option<String>,
    },
    /// It left the server (`eg`).
    Egress(Egress),
    /// An event type this version does not know, as sent.
    Other(Value),
}

impl<'de> Deserialize<'de> for TraceEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error as _;
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "type")]
            kind: String,
            #[serde(rename = "ts", with = "time::serde::rfc3339")]
            time: OffsetDateTime,
            #[serde(default)]
            to: String,
            #[serde(default)]
            acc: String,
            #[serde(default)]
            from: String,
            #[serde(default)]
            stream: String,
            #[serde(default)]
            subject: Option<String>,
            #[serde(default)]
            nointerest: bool,
            #[serde(default)]
            error: Option<String>,
        }
        let value = Value::deserialize(d)?;
        let kind = value.get("type").and_then(Value::as_str).unwrap_or("");
        Ok(match kind {
            "in" => TraceEvent::Ingress(Ingress::deserialize(value).map_err(D::Error::custom)?),
            "eg" => TraceEvent::Egress(Egress::deserialize(value).map_err(D::Error::custom)?),
            "sm" | "se" | "si" | "js" => {
                let raw = Raw::deserialize(value).map_err(D::Error::custom)?;
                match raw.kind.as_str() {
                    "sm" => TraceEvent::SubjectMapping {
                        time: raw.time,
                        to: raw.to,
                    },
                    "se" => TraceEvent::StreamExport {
                        time: raw.time,
                        account: raw.acc,
                        to: raw.to,
                    },
                    "si" => TraceEvent::ServiceImport {
                        time: raw.time,
                        account: raw.acc,
                        from: raw.from,
                        to: raw.to,
                    },
                    _ => TraceEvent::JetStream {
                        time: raw.time,
                        stream: raw.stream,
                        subject: raw.subject,
                        no_interest: raw.nointerest,
                        error: raw.error,
                    },
                }
            }
            _ => TraceEvent::Other(value),
        })
    }
}

/// Everything the servers reported about one traced message, from [`Client::trace`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Trace {
    /// One report per server, in the order they arrived (not necessarily the path's).
    pub messages: Vec<TraceMessage>,
    /// Whether every report announced by an egress to another server arrived (false: the
    /// timeout ended the collection first).
    pub complete: bool,
}

impl Trace {
    /// Every event of every server, in report order.
    pub fn events(&self) -> impl Iterator<Item = &TraceEvent> {
        self.messages.iter().flat_map(|m| m.events.iter())
    }

    /// The egresses to clients, over all servers: who received the message (or would have,
    /// with trace-only).
    pub fn client_egresses(&self) -> impl Iterator<Item = &Egress> {
        self.messages
            .iter()
            .flat_map(|m| m.egresses())
            .filter(|e| e.kind == ConnectionKind::Client)
    }
}

/// A traced publish being set up, from [`Client::trace`]; `.await` it for the [`Trace`].
#[derive(Debug)]
#[must_use = "nothing is sent until the TraceBuilder is awaited"]
pub struct TraceBuilder {
    client: Client,
    subject: String,
    payload: Bytes,
    headers: HeaderMap,
    trace_only: bool,
    timeout: Duration,
}

impl TraceBuilder {
    /// Headers to send with the message (a W3C `traceparent` among them travels untouched).
    pub fn headers(mut self, headers: HeaderMap) -> Self {
        self.headers = headers;
        self
    }

    /// Trace without delivering to subscribers (`Nats-Trace-Only`): the servers report who
    /// would have received it. Default: delivered.
    pub fn trace_only(mut self, only: bool) -> Self {
        self.trace_only = only;
        self
    }

    /// How long to wait for the reports (default 2 s). Collection ends earlier once every
    /// announced report arrived.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Publishes the traced message and collects the reports.
    pub async fn send(self) -> Result<Trace, Error> {
        let dest = self.client.new_inbox();
        let mut sub = self.client.subscribe(&dest).await?;
        let mut headers = self.headers;
        headers.insert(TRACE_DEST, dest.as_str());
        if self.trace_only {
            headers.insert(TRACE_ONLY, "true");
        }
        self.client
            .publish_with_headers(&self.subject, headers, self.payload)
            .await?;
        let deadline = crate::request::deadline_in(self.timeout);
        let mut messages = Vec::new();
        // Complete once the origin server's report (its ingress is not from another
        // server) is in, and as many reports of servers that got it from another server as
        // there were egresses to other servers (those that say that server does not trace
        // announce nothing). Reports arrive in any order.
        let mut origin = false;
        let (mut announced, mut downstream) = (0usize, 0usize);
        let complete = loop {
            if origin && downstream >= announced {
                break true;
            }
            let msg = match tokio::time::timeout_at(deadline, sub.next()).await {
                Ok(Some(msg)) => msg,
                Ok(None) => return Err(Error::closed()),
                Err(_) => break false,
            };
            let report = TraceMessage::from_message(&msg)?;
            match report.ingress() {
                Some(i) if i.kind.is_server() => downstream += 1,
                _ => origin = true,
            }
            announced += report
                .egresses()
                .filter(|e| e.kind.is_server() && e.error.is_none())
                .count();
            messages.push(report);
        };
        Ok(Trace { messages, complete })
    }
}

impl IntoFuture for TraceBuilder {
    type Output = Result<Trace, Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Result<Trace, Error>> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

impl Client {
    /// Publishes `payload` to `subject` with message tracing on (ADR-41, server 2.11+) and
    /// collects the servers' reports into a [`Trace`]; see [`crate::msg_trace`]. Set
    /// headers, trace-only and the timeout on the returned [`TraceBuilder`].
    pub fn trace(&self, subject: impl Into<String>, payload: impl Into<Bytes>) -> TraceBuilder {
        TraceBuilder {
            client: self.clone(),
            subject: subject.into(),
            payload: payload.into(),
            headers: HeaderMap::new(),
            trace_only: false,
            timeout: Duration::from_secs(2),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_parses() {
        let json = r#"{
          "server": {"name": "n1", "host": "h", "id": "NID", "cluster": "c", "ver": "2.11.0",
                     "jetstream": true, "flags": 3, "seq": 1, "time": "2024-02-22T13:18:48.400821739Z"},
          "request": {"header": {"Nats-Trace-Dest": ["t.dest"], "traceparent": ["00-a-b-01"]},
                      "msgsize": 42},
          "hops": 2,
          "events": [
            {"type": "in", "ts": "2024-02-22T13:18:48.400595984Z", "kind": 0, "cid": 5,
             "name": "cli", "acc": "A", "subj": "orders"},
            {"type": "sm", "ts": "2024-02-22T13:18:48.4Z", "to": "orders.mapped"},
            {"type": "se", "ts": "2024-02-22T13:18:48.4Z", "acc": "B", "to": "b.orders"},
            {"type": "si", "ts": "2024-02-22T13:18:48.4Z", "acc": "C", "from": "x", "to": "y"},
            {"type": "js", "ts": "2024-02-22T13:18:48.4Z", "stream": "ORDERS",
             "subject": "orders", "nointerest": true},
            {"type": "eg", "ts": "2024-02-22T13:18:48.4Z", "kind": 1, "cid": 9, "name": "n2",
             "hop": "1"},
            {"type": "eg", "ts": "2024-02-22T13:18:48.4Z", "kind": 0, "cid": 7, "sub": "orders",
             "queue": "q", "error": "Not delivered because of no echo"},
            {"type": "zz", "ts": "2024-02-22T13:18:48.4Z", "new": 1}
          ]
        }"#;
        let m: TraceMessage = serde_json::from_str(json).unwrap();
        assert_eq!(m.server.name, "n1");
        assert_eq!(m.server.cluster.as_deref(), Some("c"));
        assert_eq!(m.hops, 2);
        assert_eq!(m.request.size, 42);
        assert_eq!(m.request.headers["traceparent"], ["00-a-b-01"]);
        let ingress = m.ingress().unwrap();
        assert_eq!(
            (
                ingress.kind,
                ingress.connection_id,
                ingress.subject.as_str()
            ),
            (ConnectionKind::Client, 5, "orders")
        );
        assert!(
            matches!(&m.events[1], TraceEvent::SubjectMapping { to, .. } if to == "orders.mapped")
        );
        assert!(matches!(&m.events[2], TraceEvent::StreamExport { account, .. } if account == "B"));
        assert!(
            matches!(&m.events[3], TraceEvent::ServiceImport { from, to, .. } if from == "x" && to == "y")
        );
        assert!(matches!(
            &m.events[4],
            TraceEvent::JetStream { stream, no_interest: true, error: None, .. } if stream == "ORDERS"
        ));
        let egresses: Vec<_> = m.egresses().collect();
        assert_eq!(egresses[0].kind, ConnectionKind::Router);
        assert_eq!(egresses[0].hop.as_deref(), Some("1"));
        assert_eq!(egresses[1].queue.as_deref(), Some("q"));
        assert!(egresses[1].error.is_some());
        assert!(matches!(&m.events[7], TraceEvent::Other(v) if v["new"] == 1));
    }

    #[test]
    fn a_bad_trace_is_an_error_not_a_panic() {
        for bad in [
            "",
            "{",
            "[]",
            r#"{"server": 1}"#,
            r#"{"server":{},"events":[{"type":"in"}]}"#,
        ] {
            assert!(serde_json::from_str::<TraceMessage>(bad).is_err(), "{bad}");
        }
    }
}
