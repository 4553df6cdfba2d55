//! The incremental, zero-copy parser of server operations.

use bytes::{Buf, Bytes, BytesMut};

use crate::error::{ProtoError, ProtoErrorKind};
use crate::headers::HeaderMap;
use crate::info::ServerInfo;
use crate::op::{Msg, ServerOp, Sid};
use crate::subject::Subject;

/// Longest control line (the part before `\r\n`) accepted from a server, as nats-server's own
/// `MAX_CONTROL_LINE_SIZE`.
pub const MAX_CONTROL_LINE: usize = 4096;

/// Largest payload size a frame may announce. nats-server refuses `max_payload` above 64 MiB;
/// anything larger is a corrupt stream, and waiting for it would buffer without bound.
const MAX_FRAME_PAYLOAD: usize = 128 * 1024 * 1024;

/// Most whitespace-separated fields a control line can have (`HMSG` with a reply: 6).
const MAX_FIELDS: usize = 6;

/// Parses one operation from the front of `buf` and removes its bytes.
///
/// * `Ok(Some(op))`: one complete operation; call again for the next.
/// * `Ok(None)`: `buf` holds only part of an operation; read more bytes and call again.
///   Nothing is consumed.
/// * `Err(_)`: the stream is malformed; the connection must be closed.
///
/// Payloads, subjects and reply subjects of messages are slices of `buf`'s memory, not copies.
pub fn parse(buf: &mut BytesMut) -> Result<Option<ServerOp>, ProtoError> {
    let Some(line_end) = find_crlf(buf)? else {
        return Ok(None);
    };
    // The frame nearly every read is made of, as servers write it: no need to trim or to
    // compare case-insensitively first.
    if buf.starts_with(b"MSG ") {
        return parse_msg(buf, line_end, false);
    }
    if buf.starts_with(b"HMSG ") {
        return parse_msg(buf, line_end, true);
    }
    let line = &buf[..line_end];
    let (name, rest) = split_op_name(line);
    let op = if name.eq_ignore_ascii_case(b"MSG") {
        return parse_msg(buf, line_end, false);
    } else if name.eq_ignore_ascii_case(b"HMSG") {
        return parse_msg(buf, line_end, true);
    } else if name.eq_ignore_ascii_case(b"PING") && rest.is_empty() {
        ServerOp::Ping
    } else if name.eq_ignore_ascii_case(b"PONG") && rest.is_empty() {
        ServerOp::Pong
    } else if name.eq_ignore_ascii_case(b"+OK") && rest.is_empty() {
        ServerOp::Ok
    } else if name.eq_ignore_ascii_case(b"-ERR") {
        let text = String::from_utf8_lossy(trim(rest));
        let text = text.trim_matches('\'').to_owned();
        ServerOp::Err(text)
    } else if name.eq_ignore_ascii_case(b"INFO") {
        let info = ServerInfo::from_json(trim(rest))
            .map_err(|e| ProtoError::new(ProtoErrorKind::MalformedInfo, e.to_string()))?;
        ServerOp::Info(Box::new(info))
    } else {
        let shown = String::from_utf8_lossy(&line[..line.len().min(32)]).into_owned();
        return Err(ProtoError::new(
            ProtoErrorKind::UnknownOperation,
            format!("{shown:?}"),
        ));
    };
    buf.advance(line_end + 2);
    Ok(Some(op))
}

/// Finds the `\r\n` ending the control line at the front of `buf`.
fn find_crlf(buf: &[u8]) -> Result<Option<usize>, ProtoError> {
    let window = &buf[..buf.len().min(MAX_CONTROL_LINE + 2)];
    match memchr::memchr(b'\n', window) {
        Some(0) => Err(malformed("line feed without carriage return")),
        Some(i) if buf[i - 1] == b'\r' => Ok(Some(i - 1)),
        Some(_) => Err(malformed("line feed without carriage return")),
        None if buf.len() > MAX_CONTROL_LINE + 1 => Err(ProtoError::new(
            ProtoErrorKind::ControlLineTooLong,
            format!("no line end within {MAX_CONTROL_LINE} bytes"),
        )),
        None => Ok(None),
    }
}

fn malformed(why: impl Into<String>) -> ProtoError {
    ProtoError::new(ProtoErrorKind::MalformedFrame, why)
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s.iter().position(|b| !is_ws(*b)).unwrap_or(s.len());
    let end = s.iter().rposition(|b| !is_ws(*b)).map_or(start, |e| e + 1);
    &s[start..end]
}

fn split_op_name(line: &[u8]) -> (&[u8], &[u8]) {
    let line = trim(line);
    match line.iter().position(|b| is_ws(*b)) {
        Some(i) => (&line[..i], trim(&line[i..])),
        None => (line, &[]),
    }
}

/// Splits the fields of a control line into offsets `(start, end)` relative to the line.
///
/// Eight bytes at a time: each word's spaces and tabs are found with a few integer operations
/// and the fields fall between them (a MSG line of ~50 bytes takes ~1/3 of the instructions of
/// a loop over its bytes; `reference_fields` in the tests is that loop, and a property test
/// holds the two to the same result).
fn fields(line: &[u8], out: &mut [(usize, usize); MAX_FIELDS]) -> Result<usize, ProtoError> {
    let mut n = 0;
    // Where the field under way (if any) started: one past the last whitespace seen.
    let mut start = 0;
    let mut at_ws = |p: usize| {
        if p > start {
            if n == MAX_FIELDS {
                return Err(malformed("too many fields in control line"));
            }
            out[n] = (start, p);
            n += 1;
        }
        start = p + 1;
        Ok(())
    };
    let mut words = line.chunks_exact(8);
    let mut base = 0;
    for word in words.by_ref() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let mut mask = whitespace_bytes(u64::from_le_bytes(bytes));
        while mask != 0 {
            at_ws(base + (mask.trailing_zeros() / 8) as usize)?;
            mask &= mask - 1;
        }
        base += 8;
    }
    for (i, &c) in words.remainder().iter().enumerate() {
        if is_ws(c) {
            at_ws(base + i)?;
        }
    }
    at_ws(line.len())?;
    Ok(n)
}

/// The high bit of each byte of `word` that is a space or a tab, no other bit.
fn whitespace_bytes(word: u64) -> u64 {
    const SPACES: u64 = 0x2020_2020_2020_2020;
    const TABS: u64 = 0x0909_0909_0909_0909;
    zero_bytes(word ^ SPACES) | zero_bytes(word ^ TABS)
}

/// The high bit of each byte of `x` that is zero, no other bit (exact: no carry crosses a byte,
/// unlike the shorter `(x - 0x01..) & !x & 0x80..` test).
fn zero_bytes(x: u64) -> u64 {
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7)
}

/// A decimal number. Any `u64` is accepted (a sid is any `u64` the client chose, up to 20
/// digits); arithmetic is checked, so an oversized number is an error, never an overflow.
fn parse_u64(b: &[u8], what: &str) -> Result<u64, ProtoError> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return Err(malformed(format!("{what} is not a number")));
    }
    b.iter()
        .try_fold(0u64, |acc, d| {
            acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })
        .ok_or_else(|| malformed(format!("{what} is too large")))
}

fn parse_usize(b: &[u8], what: &str) -> Result<usize, ProtoError> {
    usize::try_from(parse_u64(b, what)?).map_err(|_| malformed(format!("{what} is too large")))
}

fn parse_msg(
    buf: &mut BytesMut,
    line_end: usize,
    with_headers: bool,
) -> Result<Option<ServerOp>, ProtoError> {
    let mut f = [(0, 0); MAX_FIELDS];
    let n = fields(&buf[..line_end], &mut f)?;
    // f[0] is the op name.
    let (subject, sid, reply, hdr_len, total_len) = match (with_headers, n) {
        (false, 4) => (f[1], f[2], None, None, f[3]),
        (false, 5) => (f[1], f[2], Some(f[3]), None, f[4]),
        (true, 5) => (f[1], f[2], None, Some(f[3]), f[4]),
        (true, 6) => (f[1], f[2], Some(f[3]), Some(f[4]), f[5]),
        _ => {
            let op = if with_headers { "HMSG" } else { "MSG" };
            return Err(malformed(format!(
                "{op} with {} fields",
                n.saturating_sub(1)
            )));
        }
    };
    let field = |r: (usize, usize)| &buf[r.0..r.1];
    let sid = Sid(parse_u64(field(sid), "sid")?);
    let total = parse_usize(field(total_len), "size")?;
    let hdr = match hdr_len {
        Some(h) => parse_usize(field(h), "header size")?,
        None => 0,
    };
    if total > MAX_FRAME_PAYLOAD {
        return Err(malformed(format!(
            "announced size {total} is beyond any server's limit"
        )));
    }
    if hdr > total {
        return Err(malformed("header size larger than total size"));
    }
    if with_headers && hdr < crate::headers::HEADER_LINE.len() + 4 {
        return Err(malformed("header size too small for a header block"));
    }
    let body_start = line_end + 2;
    let frame_len = body_start + total + 2;
    if buf.len() < frame_len {
        buf.reserve(frame_len - buf.len());
        return Ok(None);
    }
    if &buf[frame_len - 2..frame_len] != b"\r\n" {
        return Err(malformed("payload not followed by CRLF"));
    }
    let frame: Bytes = buf.split_to(frame_len).freeze();
    let subject = Subject::from_utf8_bytes(frame.slice(subject.0..subject.1))?;
    let reply = match reply {
        Some(r) => Some(Subject::from_utf8_bytes(frame.slice(r.0..r.1))?),
        None => None,
    };
    let (status, description, headers) = if with_headers {
        let (s, d, h) = HeaderMap::decode(&frame[body_start..body_start + hdr])?;
        (s, d, Some(h))
    } else {
        (None, None, None)
    };
    let payload = frame.slice(body_start + hdr..body_start + total);
    Ok(Some(ServerOp::Msg(Msg {
        subject,
        sid,
        reply,
        headers,
        status,
        description,
        payload,
        length: total,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::StatusCode;

    fn one(input: &[u8]) -> Result<Option<ServerOp>, ProtoError> {
        parse(&mut BytesMut::from(input))
    }

    fn msg(input: &[u8]) -> Msg {
        match one(input) {
            Ok(Some(ServerOp::Msg(m))) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    #[test]
    fn simple_ops() {
        assert_eq!(one(b"PING\r\n").unwrap(), Some(ServerOp::Ping));
        assert_eq!(one(b"pong\r\n").unwrap(), Some(ServerOp::Pong));
        assert_eq!(one(b"+OK\r\n").unwrap(), Some(ServerOp::Ok));
        assert_eq!(
            one(b"-ERR 'Authorization Violation'\r\n").unwrap(),
            Some(ServerOp::Err("Authorization Violation".into()))
        );
        match one(b"INFO {\"server_id\":\"a\",\"max_payload\":1024}\r\n").unwrap() {
            Some(ServerOp::Info(i)) => assert_eq!(i.max_payload, 1024),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn msg_forms() {
        let m = msg(b"MSG foo.bar 9 5\r\nhello\r\n");
        assert_eq!(m.subject, "foo.bar");
        assert_eq!(m.sid, Sid(9));
        assert_eq!(m.reply, None);
        assert_eq!(&m.payload[..], b"hello");
        let m = msg(b"MSG foo  9\tINBOX.1 0\r\n\r\n");
        assert_eq!(m.reply.as_deref(), Some("INBOX.1"));
        assert!(m.payload.is_empty());
    }

    #[test]
    fn hmsg_with_status() {
        let m = msg(b"HMSG _INBOX.x 1 16 16\r\nNATS/1.0 503\r\n\r\n\r\n");
        assert_eq!(m.status, Some(StatusCode::NO_RESPONDERS));
        assert!(m.payload.is_empty());
        let m = msg(b"HMSG FOO 2 R 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n");
        assert_eq!(m.headers.unwrap().get("Bar"), Some("Baz"));
        assert_eq!(&m.payload[..], b"Hello NATS!");
        assert_eq!(m.length, 33);
    }

    #[test]
    fn sid_with_twenty_digits_parses() {
        // Sid is any u64; the parser used to cap numbers at 19 digits.
        let m = msg(b"MSG a 18446744073709551615 1\r\nx\r\n");
        assert_eq!(m.sid, Sid(u64::MAX));
        let m = msg(b"MSG a 10000000000000000000 0\r\n\r\n");
        assert_eq!(m.sid, Sid(10_000_000_000_000_000_000));
        assert!(one(b"MSG a 18446744073709551616 0\r\n\r\n").is_err());
    }

    #[test]
    fn payload_may_contain_crlf() {
        let m = msg(b"MSG a 1 6\r\n\r\nx\r\n\r\r\n");
        assert_eq!(&m.payload[..], b"\r\nx\r\n\r");
    }

    #[test]
    fn partial_input_is_none_and_consumes_nothing() {
        let full = b"MSG foo 1 5\r\nhello\r\n";
        for cut in 0..full.len() {
            let mut buf = BytesMut::from(&full[..cut]);
            assert_eq!(parse(&mut buf).unwrap(), None, "cut at {cut}");
            assert_eq!(buf.len(), cut);
        }
    }

    #[test]
    fn malformed_frames_are_errors() {
        let cases: &[&[u8]] = &[
            b"MSG foo 1\r\n",
            b"MSG foo x 1\r\na\r\n",
            b"MSG foo 1 2\r\nabXX",
            b"MSG foo 1 99999999999999999999\r\n",
            b"MSG foo 1 999999999999\r\n",
            b"HMSG foo 1 30 20\r\n",
            b"HMSG foo 1 4 4\r\nNATS\r\n",
            b"HMSG foo 1 13 13\r\nNATS/1.0\r\nX\r\n\r\n",
            b"MSG \xff 1 0\r\n\r\n",
            b"BOGUS\r\n",
            b"PING extra\r\n",
            b"INFO {not json\r\n",
            b"\n",
            b"PING\n",
            b"MSG a b c d e f g\r\n",
        ];
        for c in cases {
            assert!(one(c).is_err(), "{:?}", String::from_utf8_lossy(c));
        }
    }

    #[test]
    fn control_line_limit() {
        let mut long = vec![b'A'; MAX_CONTROL_LINE + 2];
        let err = one(&long).unwrap_err();
        assert_eq!(err.kind(), ProtoErrorKind::ControlLineTooLong);
        long.truncate(MAX_CONTROL_LINE);
        assert_eq!(one(&long).unwrap(), None);
    }

    #[test]
    fn payload_is_zero_copy() {
        let mut buf = BytesMut::from(&b"MSG foo 1 5\r\nhello\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let m = match parse(&mut buf).unwrap() {
            Some(ServerOp::Msg(m)) => m,
            other => panic!("{other:?}"),
        };
        assert_eq!(m.payload.as_ptr() as usize, base + 13);
        assert_eq!(m.subject.as_ptr() as usize, base + 4);
    }

    /// The byte loop `fields` replaced, kept as the reference it is held to.
    fn reference_fields(
        line: &[u8],
        out: &mut [(usize, usize); MAX_FIELDS],
    ) -> Result<usize, ProtoError> {
        let mut n = 0;
        let mut push = |start: usize, end: usize| {
            if n == MAX_FIELDS {
                return Err(malformed("too many fields in control line"));
            }
            out[n] = (start, end);
            n += 1;
            Ok(())
        };
        let mut start = None;
        for (i, &c) in line.iter().enumerate() {
            if is_ws(c) {
                if let Some(s) = start.take() {
                    push(s, i)?;
                }
            } else if start.is_none() {
                start = Some(i);
            }
        }
        if let Some(s) = start {
            push(s, line.len())?;
        }
        Ok(n)
    }

    /// A field splitter, as `fields` and `reference_fields` are.
    type Splitter = fn(&[u8], &mut [(usize, usize); MAX_FIELDS]) -> Result<usize, ProtoError>;
    /// The fields found, or the error's text.
    type Split = Result<Vec<(usize, usize)>, String>;

    fn split_with(f: Splitter, line: &[u8]) -> Split {
        let mut out = [(0, 0); MAX_FIELDS];
        f(line, &mut out)
            .map(|n| out[..n].to_vec())
            .map_err(|e| e.to_string())
    }

    fn both(line: &[u8]) -> (Split, Split) {
        (split_with(fields, line), split_with(reference_fields, line))
    }

    #[test]
    fn fields_split_like_the_byte_loop_at_word_edges() {
        for line in [
            &b""[..],
            b" ",
            b"MSG a 1 5",
            b"MSG\tsubject.one  1\t\t_INBOX.abcdefghijklmnopqrstuv.123 128",
            b"12345678 12345678\t",
            b"        ",
            b"1234567 ",
            b" 1234567",
            b"a b c d e f g h i j k l",
            b"\x00\x09\x20\x29\x89\xa0\xff x",
        ] {
            let (new, old) = both(line);
            assert_eq!(new, old, "{:?}", String::from_utf8_lossy(line));
        }
    }

    proptest::proptest! {
        #[test]
        fn fields_split_like_the_byte_loop(
            line in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just(b' '),
                    proptest::strategy::Just(b'\t'),
                    proptest::strategy::Just(b'a'),
                    proptest::num::u8::ANY,
                ],
                0..120,
            )
        ) {
            let (new, old) = both(&line);
            proptest::prop_assert_eq!(new, old);
        }
    }
}
