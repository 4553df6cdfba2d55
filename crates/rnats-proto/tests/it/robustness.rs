//! Nothing panics on arbitrary input: the parser, the header decoder, the INFO decoder and the
//! connection state machine; and on corrupt input the parser's outcome still does not depend on
//! how the stream was cut.

use std::time::Instant;

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use rnats_proto::{
    ConnState, ConnectInfo, Connection, ConnectionConfig, Event, HeaderMap, ProtoErrorKind,
    ServerInfo,
};

use crate::chunking::{parse_chunked, parse_whole, positions};
use crate::strategies::{cuts, header_map, server_op};
use crate::wire::{encode_server, ServerModel};

/// One edit of a valid byte stream.
#[derive(Debug, Clone)]
enum Mutation {
    Set(prop::sample::Index, u8),
    Insert(prop::sample::Index, u8),
    Remove(prop::sample::Index),
    Truncate(prop::sample::Index),
    /// Copies a range of the stream over another place (duplicated or shifted frames).
    Splice(prop::sample::Index, prop::sample::Index, u8),
}

/// Bytes that matter to the grammar are chosen more often than others.
fn interesting_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        2 => any::<u8>(),
        3 => prop::sample::select(b" \t\r\n0123456789:.'{}\"*>-+".to_vec()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let idx = any::<prop::sample::Index>;
    prop_oneof![
        3 => (idx(), interesting_byte()).prop_map(|(i, b)| Mutation::Set(i, b)),
        2 => (idx(), interesting_byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => idx().prop_map(Mutation::Remove),
        1 => idx().prop_map(Mutation::Truncate),
        1 => (idx(), idx(), 1u8..32).prop_map(|(a, b, n)| Mutation::Splice(a, b, n)),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Set(i, b) if len > 0 => bytes[i.index(len)] = *b,
            Mutation::Insert(i, b) => bytes.insert(i.index(len + 1), *b),
            Mutation::Remove(i) if len > 0 => {
                bytes.remove(i.index(len));
            }
            Mutation::Truncate(i) => bytes.truncate(i.index(len + 1)),
            Mutation::Splice(from, to, n) if len > 0 => {
                let from = from.index(len);
                let end = (from + usize::from(*n)).min(len);
                let chunk = bytes[from..end].to_vec();
                let to = to.index(len + 1);
                bytes.splice(to..to, chunk);
            }
            _ => {}
        }
    }
    bytes
}

fn encode_all(models: &[ServerModel]) -> Vec<u8> {
    let mut wire = Vec::new();
    for m in models {
        encode_server(m, &mut wire);
    }
    wire
}

/// A connection that completed its handshake and has two subscriptions, one of which stops
/// after two messages.
fn connected(now: Instant) -> Connection {
    let mut c = Connection::new(ConnectionConfig::default());
    let mut buf = BytesMut::from(
        &b"INFO {\"server_id\":\"S\",\"max_payload\":1048576,\"proto\":1,\"headers\":true}\r\n"[..],
    );
    c.handle_input(&mut buf, now).unwrap();
    c.send_connect(&ConnectInfo::default()).unwrap();
    buf.extend_from_slice(b"PONG\r\n");
    c.handle_input(&mut buf, now).unwrap();
    assert_eq!(c.state(), ConnState::Connected);
    let a = c.subscribe(">", None).unwrap();
    let b = c.subscribe("a.*", Some("q")).unwrap();
    assert_eq!(c.unsubscribe_after(b, 2), Some(false));
    assert_eq!((a.0, b.0), (1, 2));
    c.flush().unwrap();
    let mut sink = BytesMut::new();
    c.poll_transmit(&mut sink);
    while c.poll_event().is_some() {}
    c
}

/// Feeds `bytes` to `conn` in chunks ending at `cuts`, as a driver would, draining its output
/// and events after each read. Returns the events, the bytes it wrote and the error, if any.
fn drive(
    conn: &mut Connection,
    bytes: &[u8],
    cuts: &[usize],
    now: Instant,
) -> (Vec<Event>, Vec<u8>, Option<ProtoErrorKind>) {
    let mut cuts = cuts.to_vec();
    cuts.push(bytes.len());
    cuts.sort_unstable();
    let mut buf = BytesMut::new();
    let (mut events, mut written) = (Vec::new(), Vec::new());
    let mut start = 0;
    let mut error = None;
    for end in cuts {
        buf.extend_from_slice(&bytes[start..end.max(start)]);
        start = end.max(start);
        let r = conn.handle_input(&mut buf, now);
        let mut out = BytesMut::new();
        conn.poll_transmit(&mut out);
        written.extend_from_slice(&out);
        events.extend(std::iter::from_fn(|| conn.poll_event()));
        if let Err(e) = r {
            error = Some(e.kind());
            break;
        }
    }
    (events, written, error)
}

proptest! {
    /// Arbitrary bytes never make the parser panic, and cutting them differently never changes
    /// what it returns.
    #[test]
    fn parser_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..256), cut_idx in cuts()) {
        let whole = parse_whole(&bytes);
        prop_assert_eq!(parse_chunked(&bytes, &positions(&cut_idx, bytes.len())), whole);
    }

    /// Valid frames with a few edits never make the parser panic, and their outcome (the
    /// operations before the first error, and that error) does not depend on chunking.
    #[test]
    fn parser_never_panics_on_mutated_frames(
        models in vec(server_op(), 1..5),
        mutations in vec(mutation(), 1..6),
        cut_idx in cuts(),
    ) {
        let bytes = mutate(encode_all(&models), &mutations);
        let whole = parse_whole(&bytes);
        prop_assert_eq!(parse_chunked(&bytes, &positions(&cut_idx, bytes.len())), whole);
    }

    /// The header decoder never panics, on arbitrary bytes or on edited valid blocks.
    #[test]
    fn header_decode_never_panics(
        bytes in vec(any::<u8>(), 0..128),
        map in header_map(),
        mutations in vec(mutation(), 1..6),
    ) {
        let _ = HeaderMap::decode(&bytes);
        let mut block = BytesMut::new();
        map.encode(&mut block);
        let _ = HeaderMap::decode(&mutate(block.to_vec(), &mutations));
    }

    /// The INFO decoder never panics, on arbitrary bytes or on edited valid JSON.
    #[test]
    fn info_decode_never_panics(bytes in vec(any::<u8>(), 0..128), mutations in vec(mutation(), 1..6)) {
        let _ = ServerInfo::from_json(&bytes);
        let json = br#"{"server_id":"S","version":"2.15.1","max_payload":1048576,"proto":1,"headers":true,"connect_urls":["a:1"],"ldm":false,"nonce":"n"}"#;
        let _ = ServerInfo::from_json(&mutate(json.to_vec(), &mutations));
    }

    /// A fresh connection fed arbitrary bytes never panics.
    #[test]
    fn connection_never_panics_on_arbitrary_bytes(bytes in vec(any::<u8>(), 0..256), cut_idx in cuts()) {
        let now = Instant::now();
        let mut conn = Connection::new(ConnectionConfig::default());
        drive(&mut conn, &bytes, &positions(&cut_idx, bytes.len()), now);
    }

    /// A connected connection fed edited server traffic never panics, and what it does (events,
    /// bytes written, error) does not depend on how the input was cut.
    #[test]
    fn connection_never_panics_on_mutated_frames(
        models in vec(server_op(), 1..6),
        mutations in vec(mutation(), 0..4),
        cut_idx in cuts(),
    ) {
        let now = Instant::now();
        let bytes = mutate(encode_all(&models), &mutations);
        let whole = drive(&mut connected(now), &bytes, &[], now);
        let chunked = drive(&mut connected(now), &bytes, &positions(&cut_idx, bytes.len()), now);
        prop_assert_eq!(chunked, whole);
    }
}
