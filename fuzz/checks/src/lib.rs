//! The properties the fuzz targets check, one function per target: each takes the fuzzer's
//! bytes and panics (a crash) when a property fails. Shared by the libFuzzer targets and by
//! the replay test that runs them over the committed inputs on a stable toolchain.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use rnats_proto::{
    parse as parse_op, ConnectInfo, Connection, ConnectionConfig, HeaderMap, ProtoErrorKind,
    ServerInfo, ServerOp,
};

/// A target's checks: panics when a property fails for the input.
pub type Check = fn(&[u8]);

/// Every target by name, as `fuzz/fuzz_targets/<name>.rs` and the input folders call them.
pub const TARGETS: &[(&str, Check)] = &[
    ("parse", parse),
    ("headers", headers),
    ("info", info),
    ("connection", connection),
    ("ack_subject", ack_subject),
    ("kv_key", kv_key),
    ("object_name", object_name),
];

fn parse_all(chunks: &[&[u8]]) -> (Vec<ServerOp>, Option<ProtoErrorKind>) {
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.len();
            match parse_op(&mut buf) {
                Ok(Some(op)) => {
                    assert!(buf.len() < before, "an operation consumed nothing");
                    ops.push(op);
                }
                Ok(None) => {
                    assert_eq!(buf.len(), before, "Ok(None) consumed bytes");
                    break;
                }
                Err(e) => return (ops, Some(e.kind())),
            }
        }
    }
    (ops, None)
}

/// The server-op parser on arbitrary bytes: no panic, `Ok(None)` consumes nothing, and
/// cutting the stream in two (at a point chosen by the first two bytes) never changes the
/// outcome.
pub fn parse(data: &[u8]) {
    let (cut, stream) = match data {
        [a, b, rest @ ..] => (
            usize::from(u16::from_le_bytes([*a, *b])) % (rest.len() + 1),
            rest,
        ),
        _ => (0, data),
    };
    let whole = parse_all(&[stream]);
    let (head, tail) = stream.split_at(cut);
    assert_eq!(
        parse_all(&[head, tail]),
        whole,
        "chunking changed the outcome"
    );
}

/// `HeaderMap::decode`: no panic, and a decoded map that validates encodes to a block of
/// `encoded_len()` bytes that decodes to the same map.
pub fn headers(data: &[u8]) {
    let Ok((_, _, map)) = HeaderMap::decode(data) else {
        return;
    };
    if map.validate().is_err() {
        return;
    }
    let mut out = BytesMut::new();
    map.encode(&mut out);
    assert_eq!(out.len(), map.encoded_len());
    let (status, desc, again) = HeaderMap::decode(&out).expect("re-encoded block must decode");
    assert_eq!((status, desc), (None, None));
    assert_eq!(again, map);
}

/// `ServerInfo::from_json`: no panic, and what parses serializes back to JSON that parses to
/// the same value.
pub fn info(data: &[u8]) {
    let Ok(info) = ServerInfo::from_json(data) else {
        return;
    };
    let json = serde_json::to_vec(&info).expect("ServerInfo serializes");
    let again = ServerInfo::from_json(&json).expect("serialized ServerInfo parses");
    assert_eq!(again, info);
}

fn connected(now: Instant) -> Connection {
    let mut c = Connection::new(ConnectionConfig::default());
    let mut buf = BytesMut::from(
        &b"INFO {\"server_id\":\"S\",\"max_payload\":1048576,\"proto\":1,\"headers\":true}\r\n"[..],
    );
    c.handle_input(&mut buf, now).expect("INFO parses");
    c.send_connect(&ConnectInfo::default())
        .expect("CONNECT follows INFO");
    buf.extend_from_slice(b"PONG\r\n");
    c.handle_input(&mut buf, now).expect("PONG parses");
    let _ = c.subscribe(">", None);
    if let Ok(sid) = c.subscribe("a.*", Some("q")) {
        c.unsubscribe_after(sid, 2);
    }
    let _ = c.flush();
    c
}

/// The connection state machine after a completed handshake, with live subscriptions, fed
/// arbitrary server bytes in reads of varying size (the first byte) and, after each read, a
/// command chosen by the read's first byte: publish, subscribe, unsubscribe, flush, a timer
/// jump, or a disconnect and reconnect. No panic anywhere; after a parse error the
/// connection must survive a reconnect.
pub fn connection(data: &[u8]) {
    let Some((&step, input)) = data.split_first() else {
        return;
    };
    let step = usize::from(step).max(1);
    let mut now = Instant::now();
    let mut conn = connected(now);
    let mut buf = BytesMut::new();
    let mut out = BytesMut::new();
    let mut sids = Vec::new();
    for chunk in input.chunks(step) {
        buf.extend_from_slice(chunk);
        let result = conn.handle_input(&mut buf, now);
        out.clear();
        conn.poll_transmit(&mut out);
        while conn.poll_event().is_some() {}
        if result.is_err() {
            // A driver drops the transport here; the connection must survive a reconnect.
            conn.handle_disconnect(&out, 0);
            conn.handle_transport_open();
            return;
        }
        let text = String::from_utf8_lossy(&chunk[1.min(chunk.len())..]);
        match chunk.first().map_or(0, |c| c % 8) {
            0 => {
                let _ = conn.publish("p", Some("r"), None, chunk);
            }
            1 => {
                let _ = conn.publish(&text, None, None, chunk);
            }
            2 => {
                if let Ok(sid) = conn.subscribe(&text, None) {
                    sids.push(sid);
                }
            }
            3 => {
                if let Some(sid) = sids.pop() {
                    conn.unsubscribe_after(sid, chunk.len() as u64 % 3);
                }
            }
            4 => {
                let _ = conn.flush();
            }
            5 => {
                now += Duration::from_secs(u64::from(chunk.len() as u8));
                conn.handle_timeout(now);
            }
            6 => {
                conn.handle_disconnect(&out, 0);
                conn.handle_transport_open();
            }
            _ => {
                now += Duration::from_secs(30);
                conn.handle_timeout(now);
            }
        }
    }
}

/// The JetStream ack-subject metadata parser on arbitrary text: no panic, and what parses
/// formats back (v1, or v2 with domain, account hash and token) to a subject that parses to
/// the same metadata.
pub fn ack_subject(data: &[u8]) {
    let Ok(subject) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(info) = rnats::jetstream::message::parse_info(subject) else {
        return;
    };
    assert!(!info.stream.contains('.') && !info.consumer.contains('.'));
    let fields = format!(
        "{}.{}.{}.{}.{}.{}.{}",
        info.stream,
        info.consumer,
        info.delivered,
        info.stream_sequence,
        info.consumer_sequence,
        info.published.unix_timestamp_nanos(),
        info.pending
    );
    let again = match (info.account_hash, info.token) {
        (None, None) => {
            assert!(info.domain.is_none(), "a v1 subject has no domain");
            format!("$JS.ACK.{fields}")
        }
        (Some(hash), token) => {
            let mut s = format!("$JS.ACK.{}.{hash}.{fields}", info.domain.unwrap_or("_"));
            if let Some(token) = token {
                s.push('.');
                s.push_str(token);
            }
            s
        }
        (None, Some(_)) => panic!("a token without an account hash: {info:?}"),
    };
    let reparsed = rnats::jetstream::message::parse_info(&again)
        .unwrap_or_else(|e| panic!("{again:?}, formatted from {subject:?}, fails: {e}"));
    assert_eq!(reparsed, info, "{again:?} from {subject:?}");
}

/// KV keys, filters and bucket names on arbitrary text: no panic, the rules nest (a key is a
/// filter; what full validation accepts, the minimal checks accept), and what they accept
/// makes a valid subject (`$KV.<bucket>.<key>`: publishable for a key, subscribable for a
/// filter).
pub fn kv_key(data: &[u8]) {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let (key, filter, min_key, min_filter) = rnats::fuzzing::kv_key(s);
    if key {
        assert!(filter, "the key {s:?} is not a filter");
        assert!(min_key, "the key {s:?} fails the minimal checks");
        assert!(
            rnats_proto::subject::validate_publish(&format!("$KV.b.{s}")).is_ok(),
            "the key {s:?} makes an invalid subject"
        );
    }
    if filter {
        assert!(min_filter, "the filter {s:?} fails the minimal checks");
        assert!(
            rnats_proto::subject::validate_subscribe(&format!("$KV.b.{s}")).is_ok(),
            "the filter {s:?} makes an invalid subscription"
        );
    }
    if min_key {
        assert!(min_filter);
    }
    if rnats::fuzzing::kv_bucket(s) {
        assert!(
            rnats_proto::subject::validate_publish(&format!("$KV.{s}.k")).is_ok(),
            "the bucket {s:?} makes an invalid subject"
        );
    }
}

/// Object names, bucket names, digests and meta JSON on arbitrary input: no panic; a name's
/// meta subject token is URL-safe base64 of the name (a valid subject token whatever the
/// name); a digest string round-trips; meta JSON that decodes re-encodes to JSON that decodes
/// to the same info.
pub fn object_name(data: &[u8]) {
    if let Some(info) = rnats::fuzzing::object_info(data) {
        let json = serde_json::to_vec(&info).expect("an ObjectInfo serializes");
        let again = rnats::fuzzing::object_info(&json).expect("serialized ObjectInfo decodes");
        assert_eq!(again, info);
    }
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    let token = rnats::fuzzing::object_name_token(s);
    assert_eq!(token.len(), s.len().div_ceil(3) * 4, "{s:?} → {token:?}");
    assert!(
        token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'=')),
        "{s:?} → {token:?}"
    );
    if !s.is_empty() {
        assert!(
            rnats_proto::subject::validate_publish(&format!("$O.b.M.{token}")).is_ok(),
            "{s:?} makes an invalid meta subject"
        );
    }
    if rnats::fuzzing::object_bucket(s) {
        assert!(rnats_proto::subject::validate_publish(&format!("$O.{s}.C.n")).is_ok());
    }
    if let Some(digest) = rnats::fuzzing::parse_digest(s) {
        assert_eq!(digest.len(), 32);
        let text = rnats::fuzzing::digest_string(&digest);
        assert_eq!(rnats::fuzzing::parse_digest(&text), Some(digest));
    }
}
