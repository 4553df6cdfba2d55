//! Generators shared by the property tests.

use bytes::Bytes;
use proptest::collection::vec;
use proptest::prelude::*;
use rnats_proto::{ClientOp, ConnectInfo, HeaderMap, Sid, Subject};

use crate::wire::{HeaderModel, InfoModel, MsgModel, ServerModel, Spacing};

/// One subject token: printable ASCII without `.`, `*`, `>` and space, plus a few non-ASCII
/// characters (subjects are UTF-8, the parser only splits on space and tab).
pub(crate) fn token() -> impl Strategy<Value = String> {
    r"[!-)+\-/-=?-~\u{e9}\u{65e5}]{1,8}"
}

/// A concrete subject any publish may use.
pub(crate) fn subject() -> impl Strategy<Value = String> {
    vec(token(), 1..5).prop_map(|t| t.join("."))
}

/// The tokens of a concrete subject.
pub(crate) fn subject_tokens() -> impl Strategy<Value = Vec<String>> {
    vec(token(), 1..6)
}

/// A subscription subject: tokens or `*`, optionally ending in `>`.
pub(crate) fn sub_subject() -> impl Strategy<Value = String> {
    (
        vec(prop_oneof![3 => token(), 1 => Just("*".to_owned())], 0..4),
        any::<bool>(),
    )
        .prop_map(|(mut t, tail)| {
            if tail || t.is_empty() {
                t.push(">".to_owned());
            }
            t.join(".")
        })
}

/// A queue group: non-empty, no whitespace.
pub(crate) fn queue_group() -> impl Strategy<Value = String> {
    r"[!-~\u{e9}]{1,8}"
}

/// A header name `validate()` accepts: printable ASCII without `:`. A small pool makes
/// multi-valued and differently-cased names frequent.
pub(crate) fn header_name() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => prop::sample::select(vec!["A", "a", "Nats-Msg-Id", "X-Tag"]).prop_map(str::to_owned),
        2 => r"[!-9;-~]{1,12}",
    ]
}

/// A header value that survives a round trip unchanged: no CR or LF (which `validate()`
/// rejects) and no space or tab at either end (optional whitespace around a value is not part of
/// it, ADR-4 / RFC 7230; every client trims it). Other Unicode whitespace at the ends, control
/// characters and `:` inside are all kept.
pub(crate) fn header_value() -> impl Strategy<Value = String> {
    r"([!-~\x0b\x0c\u{85}\u{a0}\u{e9}\u{3000}\u{65e5}]([\x00-\x09\x0b\x0c\x0e-\x7f\u{85}\u{a0}\u{e9}\u{2028}\u{3000}\u{65e5}]{0,12}[!-~\x0b\x0c\u{85}\u{a0}\u{e9}\u{3000}\u{65e5}])?)?"
}

/// Any value `validate()` accepts, including space and tab at the ends.
pub(crate) fn header_value_any_valid() -> impl Strategy<Value = String> {
    r"[\x00-\x09\x0b\x0c\x0e-\x7f\u{a0}\u{e9}\u{3000}]{0,16}"
}

/// A valid header map whose encoding decodes to an equal map.
pub(crate) fn header_map() -> impl Strategy<Value = HeaderMap> {
    vec((header_name(), header_value()), 0..6).prop_map(|e| e.into_iter().collect())
}

/// Payload bytes, with CR and LF over-represented.
pub(crate) fn payload() -> impl Strategy<Value = Vec<u8>> {
    vec(
        prop_oneof![
            4 => any::<u8>(),
            1 => Just(b'\r'),
            1 => Just(b'\n'),
        ],
        0..48,
    )
}

/// Text of a status description (`NATS/1.0 503 No Responders`) or of `-ERR`: no CR or LF,
/// nothing trimmed at the ends, no quote at the ends (`-ERR 'text'` strips quotes).
pub(crate) fn line_text() -> impl Strategy<Value = String> {
    r"([!-&(-~\u{a0}\u{e9}]([ -~\u{a0}\u{e9}]{0,16}[!-&(-~\u{a0}\u{e9}])?)?"
}

fn spacing() -> impl Strategy<Value = Spacing> {
    (
        prop_oneof![
            6 => Just(" "),
            1 => Just("\t"),
            1 => Just("  "),
            1 => Just(" \t "),
        ],
        prop::bool::weighted(0.2),
    )
        .prop_map(|(sep, lowercase)| Spacing { sep, lowercase })
}

fn info_model() -> impl Strategy<Value = InfoModel> {
    (
        "[a-zA-Z0-9]{0,12}",
        any::<String>(),
        any::<usize>(),
        any::<bool>(),
        any::<i32>(),
        vec(r"[a-z0-9.]{1,10}:[0-9]{1,5}", 0..3),
        any::<bool>(),
        proptest::option::of(any::<String>()),
        any::<u16>(),
        any::<u64>(),
    )
        .prop_map(
            |(
                server_id,
                version,
                max_payload,
                headers,
                proto,
                connect_urls,
                ldm,
                nonce,
                port,
                client_id,
            )| InfoModel {
                server_id,
                version,
                max_payload,
                headers,
                proto,
                connect_urls,
                ldm,
                nonce,
                port,
                client_id,
            },
        )
}

fn header_model() -> impl Strategy<Value = HeaderModel> {
    (
        proptest::option::of((100u16..=999, proptest::option::of(line_text()))),
        header_map(),
    )
        .prop_map(|(status, map)| HeaderModel {
            status: status.map(|(code, desc)| (code, desc.filter(|d| !d.is_empty()))),
            map,
        })
}

fn msg_model() -> impl Strategy<Value = MsgModel> {
    (
        subject(),
        prop_oneof![0u64..4, any::<u64>()],
        proptest::option::of(subject()),
        proptest::option::of(header_model()),
        payload(),
        spacing(),
    )
        .prop_map(
            |(subject, sid, reply, headers, payload, spacing)| MsgModel {
                subject,
                sid,
                reply,
                headers,
                payload,
                spacing,
            },
        )
}

/// Any server operation, as a model the test-only encoder writes.
pub(crate) fn server_op() -> impl Strategy<Value = ServerModel> {
    prop_oneof![
        1 => info_model().prop_map(ServerModel::Info),
        6 => msg_model().prop_map(ServerModel::Msg),
        1 => spacing().prop_map(ServerModel::Ping),
        1 => spacing().prop_map(ServerModel::Pong),
        1 => spacing().prop_map(ServerModel::Ok),
        1 => (line_text(), any::<bool>()).prop_map(|(t, q)| ServerModel::Err(t, q)),
    ]
}

fn connect_info() -> impl Strategy<Value = ConnectInfo> {
    let opt = || proptest::option::of(any::<String>());
    (
        (
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
            any::<String>(),
            any::<String>(),
            any::<u8>(),
            any::<bool>(),
            any::<bool>(),
            any::<bool>(),
        ),
        (opt(), opt(), opt(), opt(), opt(), opt(), opt()),
    )
        .prop_map(
            |(
                (verbose, pedantic, tls_required, lang, version, protocol, echo, headers, nr),
                (name, user, pass, auth_token, jwt, nkey, sig),
            )| {
                let mut c = ConnectInfo::default();
                c.verbose = verbose;
                c.pedantic = pedantic;
                c.tls_required = tls_required;
                c.lang = lang;
                c.version = version;
                c.protocol = protocol;
                c.echo = echo;
                c.headers = headers;
                c.no_responders = nr;
                c.name = name;
                c.user = user;
                c.pass = pass;
                c.auth_token = auth_token;
                c.jwt = jwt;
                c.nkey = nkey;
                c.sig = sig;
                c
            },
        )
}

/// Any client operation with valid subjects, queue groups and headers.
pub(crate) fn client_op() -> impl Strategy<Value = ClientOp> {
    prop_oneof![
        1 => connect_info().prop_map(|c| ClientOp::Connect(Box::new(c))),
        6 => (
            subject(),
            proptest::option::of(subject()),
            proptest::option::of(header_map()),
            payload(),
        )
            .prop_map(|(subject, reply, headers, payload)| ClientOp::Pub {
                subject: Subject::from(subject),
                reply: reply.map(Subject::from),
                headers,
                payload: Bytes::from(payload),
            }),
        2 => (any::<u64>(), sub_subject(), proptest::option::of(queue_group())).prop_map(
            |(sid, subject, queue_group)| ClientOp::Sub {
                sid: Sid(sid),
                subject: Subject::from(subject),
                queue_group,
            }
        ),
        1 => (any::<u64>(), proptest::option::of(any::<u64>()))
            .prop_map(|(sid, max)| ClientOp::Unsub { sid: Sid(sid), max }),
        1 => Just(ClientOp::Ping),
        1 => Just(ClientOp::Pong),
    ]
}

/// Positions at which to cut a byte stream.
pub(crate) fn cuts() -> impl Strategy<Value = Vec<prop::sample::Index>> {
    vec(any::<prop::sample::Index>(), 0..12)
}
