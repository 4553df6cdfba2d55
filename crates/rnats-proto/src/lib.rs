//! Sans-IO core of the rnats NATS client.
//!
//! This crate knows the NATS client protocol and nothing about sockets, runtimes or clocks:
//!
//! * [`parse`] turns bytes read from a server into [`ServerOp`]s, incrementally and zero-copy;
//! * [`encode`] turns [`ClientOp`]s into bytes to write;
//! * [`HeaderMap`] models the `NATS/1.0` header block with its inline status;
//! * [`subject`] validates subjects and queue groups and matches wildcards;
//! * [`ServerInfo`] / [`ConnectInfo`] are the JSON bodies of `INFO` and `CONNECT`;
//! * [`Connection`] is the connection state machine (handshake, subscriptions, pings,
//!   flushes), driven with `handle_*` / `poll_*` calls and a `now` passed in by the caller.
//!
//! Time is always a parameter, so every behaviour here is deterministic and testable without a
//! runtime or a server.
//!
//! ```
//! use bytes::BytesMut;
//! use rnats_proto::{parse, ServerOp};
//!
//! let mut buf = BytesMut::from(&b"MSG greet.joe 1 5\r\nhello\r\nPI"[..]);
//! match parse(&mut buf)? {
//!     Some(ServerOp::Msg(msg)) => assert_eq!(&msg.payload[..], b"hello"),
//!     other => panic!("unexpected {other:?}"),
//! }
//! // "PI" is an incomplete PING: the parser asks for more bytes.
//! assert!(parse(&mut buf)?.is_none());
//! # Ok::<(), rnats_proto::ProtoError>(())
//! ```

mod conn;
mod encode;
mod error;
mod headers;
mod info;
mod op;
mod parse;
mod pool;
pub mod subject;

pub use conn::{
    ConnState, Connection, ConnectionConfig, Delivery, Event, FlushToken, SubscriptionInfo,
    VECTORED_PAYLOAD,
};
pub use encode::{encode, encode_pub, encode_pub_head, encode_sub, encode_unsub};
pub use error::{ProtoError, ProtoErrorKind};
pub use headers::{HeaderMap, StatusCode, HEADER_LINE};
pub use info::{ConnectInfo, ServerInfo};
pub use op::{ClientOp, Msg, ServerOp, Sid};
pub use parse::{parse, MAX_CONTROL_LINE};
pub use pool::{Backoff, PoolEntry, PoolLimits, ServerPool};
pub use subject::Subject;
