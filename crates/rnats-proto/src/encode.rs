//! Encoding client operations into bytes.

use bytes::{BufMut, BytesMut};

use crate::headers::HeaderMap;
use crate::op::{ClientOp, Sid};

/// Appends `op` to `out`. Nothing is validated here: callers validate subjects and headers
/// first (the [`crate::Connection`] does).
pub fn encode(op: &ClientOp, out: &mut BytesMut) {
    match op {
        ClientOp::Connect(info) => {
            out.put_slice(b"CONNECT ");
            out.put_slice(info.to_json().as_bytes());
            out.put_slice(b"\r\n");
        }
        ClientOp::Pub {
            subject,
            reply,
            headers,
            payload,
        } => encode_pub(out, subject, reply.as_deref(), headers.as_ref(), payload),
        ClientOp::Sub {
            sid,
            subject,
            queue_group,
        } => encode_sub(out, *sid, subject, queue_group.as_deref()),
        ClientOp::Unsub { sid, max } => encode_unsub(out, *sid, *max),
        ClientOp::Ping => out.put_slice(b"PING\r\n"),
        ClientOp::Pong => out.put_slice(b"PONG\r\n"),
    }
}

fn put_decimal(out: &mut BytesMut, n: u64) {
    let mut buf = itoa::Buffer::new();
    out.put_slice(buf.format(n).as_bytes());
}

/// Appends a `PUB` (or `HPUB` when `headers` is `Some`) to `out`.
pub fn encode_pub(
    out: &mut BytesMut,
    subject: &str,
    reply: Option<&str>,
    headers: Option<&HeaderMap>,
    payload: &[u8],
) {
    let hlen = headers.map_or(0, HeaderMap::encoded_len);
    out.reserve(subject.len() + reply.map_or(0, str::len) + hlen + payload.len() + 32);
    put_pub_head(out, subject, reply, headers, hlen, payload.len());
    out.put_slice(payload);
    out.put_slice(b"\r\n");
}

/// Appends what comes before the payload of a `PUB`/`HPUB` of `payload_len` bytes: the
/// control line and the header block. The caller writes the payload and `\r\n` after it
/// (possibly as separate buffers, for a vectored write).
pub fn encode_pub_head(
    out: &mut BytesMut,
    subject: &str,
    reply: Option<&str>,
    headers: Option<&HeaderMap>,
    payload_len: usize,
) {
    let hlen = headers.map_or(0, HeaderMap::encoded_len);
    out.reserve(subject.len() + reply.map_or(0, str::len) + hlen + 32);
    put_pub_head(out, subject, reply, headers, hlen, payload_len);
}

/// The control line and header block (`hlen` bytes encoded), into reserved space.
fn put_pub_head(
    out: &mut BytesMut,
    subject: &str,
    reply: Option<&str>,
    headers: Option<&HeaderMap>,
    hlen: usize,
    payload_len: usize,
) {
    out.put_slice(if headers.is_some() { b"HPUB " } else { b"PUB " });
    out.put_slice(subject.as_bytes());
    out.put_u8(b' ');
    if let Some(reply) = reply {
        out.put_slice(reply.as_bytes());
        out.put_u8(b' ');
    }
    if let Some(headers) = headers {
        put_decimal(out, hlen as u64);
        out.put_u8(b' ');
        put_decimal(out, (hlen + payload_len) as u64);
        out.put_slice(b"\r\n");
        headers.encode(out);
    } else {
        put_decimal(out, payload_len as u64);
        out.put_slice(b"\r\n");
    }
}

/// Appends `SUB <subject> [queue] <sid>` to `out`.
pub fn encode_sub(out: &mut BytesMut, sid: Sid, subject: &str, queue_group: Option<&str>) {
    out.put_slice(b"SUB ");
    out.put_slice(subject.as_bytes());
    out.put_u8(b' ');
    if let Some(q) = queue_group {
        out.put_slice(q.as_bytes());
        out.put_u8(b' ');
    }
    put_decimal(out, sid.0);
    out.put_slice(b"\r\n");
}

/// Appends `UNSUB <sid> [max]` to `out`.
pub fn encode_unsub(out: &mut BytesMut, sid: Sid, max: Option<u64>) {
    out.put_slice(b"UNSUB ");
    put_decimal(out, sid.0);
    if let Some(max) = max {
        out.put_u8(b' ');
        put_decimal(out, max);
    }
    out.put_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn enc(op: ClientOp) -> Vec<u8> {
        let mut out = BytesMut::new();
        encode(&op, &mut out);
        out.to_vec()
    }

    #[test]
    fn pub_forms() {
        let p = |reply: Option<&str>, payload: &'static [u8]| ClientOp::Pub {
            subject: "FOO".into(),
            reply: reply.map(Into::into),
            headers: None,
            payload: Bytes::from_static(payload),
        };
        assert_eq!(enc(p(None, b"")), b"PUB FOO 0\r\n\r\n");
        assert_eq!(enc(p(Some("R.1"), b"hi")), b"PUB FOO R.1 2\r\nhi\r\n");
    }

    #[test]
    fn hpub_matches_protocol_example() {
        let mut h = HeaderMap::new();
        h.insert("Bar", "Baz");
        let op = ClientOp::Pub {
            subject: "FOO".into(),
            reply: None,
            headers: Some(h),
            payload: Bytes::from_static(b"Hello NATS!"),
        };
        assert_eq!(
            enc(op),
            b"HPUB FOO 22 33\r\nNATS/1.0\r\nBar: Baz\r\n\r\nHello NATS!\r\n"
        );
    }

    #[test]
    fn sub_unsub_ping() {
        let sub = ClientOp::Sub {
            sid: Sid(7),
            subject: "a.*".into(),
            queue_group: Some("q".into()),
        };
        assert_eq!(enc(sub), b"SUB a.* q 7\r\n");
        assert_eq!(
            enc(ClientOp::Unsub {
                sid: Sid(7),
                max: Some(3)
            }),
            b"UNSUB 7 3\r\n"
        );
        assert_eq!(
            enc(ClientOp::Unsub {
                sid: Sid(7),
                max: None
            }),
            b"UNSUB 7\r\n"
        );
        assert_eq!(enc(ClientOp::Ping), b"PING\r\n");
        assert_eq!(enc(ClientOp::Pong), b"PONG\r\n");
    }
}
