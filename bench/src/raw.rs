//! The raw-TCP baseline: the NATS protocol written by hand over a tokio `TcpStream`, with no
//! client library in between. It shows what the server (and the loopback) can take.
//! Only `pub`, `req-seq`, `req-64` and `kv-put-64` are implemented.

use std::time::Instant;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{
    kv_bucket, kv_key, payload, BoxError, Outcome, Spec, ECHO_SUBJECT, PUB_SUBJECT,
};
use crate::{Scenario, Storage};

const CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true,\"protocol\":1}\r\nPING\r\n";
/// Bytes of PUB frames written per `write_all`.
const BATCH_BYTES: usize = 256 * 1024;
/// The raw requester's inbox: one wildcard subscription, `<INBOX_PREFIX>*`. Every request's
/// reply subject ends with a token of its own, as a client library's muxed inbox does (22
/// characters after `_INBOX.`, the length of a NUID, so the subjects are as long as the
/// libraries' too). The server matches each new reply subject afresh; one fixed reply subject
/// for every request would spare it that work, but no client that answers concurrent requests
/// correctly can use one, so that figure would not be a ceiling any library could reach.
const INBOX_PREFIX: &str = "_INBOX.RAWBENCH0123456789ABCDE.";

/// Appends a `PUB <subject> <INBOX_PREFIX><token> <len>` frame with `payload` to `out`.
fn put_request(out: &mut Vec<u8>, subject: &str, token: u64, payload: &[u8]) {
    use std::io::Write;
    // Writing into a Vec cannot fail.
    let _ = write!(
        out,
        "PUB {subject} {INBOX_PREFIX}{token} {}\r\n",
        payload.len()
    );
    out.extend_from_slice(payload);
    out.extend_from_slice(b"\r\n");
}

pub async fn run(spec: &Spec) -> Result<Outcome, BoxError> {
    match spec.scenario {
        Scenario::Pub => publish(spec).await,
        Scenario::ReqSeq => request_sequential(spec).await,
        Scenario::Req64 => request_concurrent(spec).await,
        Scenario::KvPut64 => kv_put_concurrent(spec).await,
        other => Err(format!("raw-tcp does not implement {}", other.name()).into()),
    }
}

/// A handshaken connection and what was read past the handshake.
struct Conn {
    stream: TcpStream,
    buf: BytesMut,
}

impl Conn {
    /// Reads INFO, sends CONNECT + PING, waits for PONG.
    async fn open(url: &str) -> Result<Conn, BoxError> {
        let addr = url.strip_prefix("nats://").unwrap_or(url);
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let mut conn = Conn {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
        };
        let info = conn.read_line().await?;
        if !info.starts_with(b"INFO ") {
            return Err("the server did not start with INFO".into());
        }
        conn.stream.write_all(CONNECT).await?;
        conn.wait_pong().await?;
        Ok(conn)
    }

    /// Reads one protocol line (without its CRLF).
    async fn read_line(&mut self) -> Result<Vec<u8>, BoxError> {
        loop {
            if let Some(eol) = find_crlf(&self.buf) {
                let line = self.buf[..eol].to_vec();
                self.buf.advance(eol + 2);
                return Ok(line);
            }
            self.fill().await?;
        }
    }

    /// Reads lines until PONG; fails on -ERR.
    async fn wait_pong(&mut self) -> Result<(), BoxError> {
        loop {
            let line = self.read_line().await?;
            if line == b"PONG" {
                return Ok(());
            }
            if line.starts_with(b"-ERR") {
                return Err(String::from_utf8_lossy(&line).into_owned().into());
            }
        }
    }

    /// Reads more bytes into the buffer.
    async fn fill(&mut self) -> Result<(), BoxError> {
        if self.stream.read_buf(&mut self.buf).await? == 0 {
            return Err("the server closed the connection".into());
        }
        Ok(())
    }
}

/// Pre-encoded PUB frames written in large batches, then PING / PONG.
async fn publish(spec: &Spec) -> Result<Outcome, BoxError> {
    let mut conn = Conn::open(&spec.url).await?;
    let mut frame = format!("PUB {PUB_SUBJECT} {}\r\n", spec.size).into_bytes();
    frame.extend_from_slice(&payload(spec.size));
    frame.extend_from_slice(b"\r\n");
    let per_batch = (BATCH_BYTES / frame.len()).max(1) as u64;
    let batch = frame.repeat(per_batch as usize);

    let start = Instant::now();
    let mut left = spec.count;
    while left >= per_batch {
        conn.stream.write_all(&batch).await?;
        left -= per_batch;
    }
    conn.stream
        .write_all(&batch[..frame.len() * left as usize])
        .await?;
    conn.stream.write_all(b"PING\r\n").await?;
    conn.wait_pong().await?;
    Ok(Outcome::throughput(spec.count, spec.size, start.elapsed()))
}

/// A parsed server frame at the start of a buffer.
enum Frame<'a> {
    Msg {
        reply: Option<&'a [u8]>,
        payload: &'a [u8],
    },
    Ping,
    /// PONG, +OK, INFO, ...: ignored.
    Other,
}

/// Parses one frame from `buf`: the frame and its length, or `None` when incomplete.
/// Minimal: trusts the server to send well-formed frames.
fn parse_frame(buf: &[u8]) -> Result<Option<(Frame<'_>, usize)>, BoxError> {
    let Some(eol) = find_crlf(buf) else {
        return Ok(None);
    };
    let line = &buf[..eol];
    if line.starts_with(b"-ERR") {
        return Err(String::from_utf8_lossy(line).into_owned().into());
    }
    if !line.starts_with(b"MSG ") {
        let frame = if line == b"PING" {
            Frame::Ping
        } else {
            Frame::Other
        };
        return Ok(Some((frame, eol + 2)));
    }
    // MSG <subject> <sid> [reply] <size>
    let parts: Vec<&[u8]> = line
        .split(|&b| b == b' ')
        .filter(|p| !p.is_empty())
        .collect();
    let size: usize = std::str::from_utf8(parts[parts.len() - 1])?.parse()?;
    let reply = (parts.len() == 5).then(|| parts[3]);
    let total = eol + 2 + size + 2;
    if buf.len() < total {
        return Ok(None);
    }
    let payload = &buf[eol + 2..eol + 2 + size];
    Ok(Some((Frame::Msg { reply, payload }, total)))
}

fn find_crlf(buf: &[u8]) -> Option<usize> {
    buf.windows(2).position(|w| w == b"\r\n")
}

/// The raw echo responder: answers every MSG on its reply subject, one write per read.
async fn echo_responder(mut conn: Conn) -> Result<(), BoxError> {
    let mut out = Vec::with_capacity(64 * 1024);
    loop {
        while let Some((frame, len)) = parse_frame(&conn.buf)? {
            match frame {
                Frame::Msg {
                    reply: Some(reply),
                    payload,
                } => {
                    out.extend_from_slice(b"PUB ");
                    out.extend_from_slice(reply);
                    out.extend_from_slice(format!(" {}\r\n", payload.len()).as_bytes());
                    out.extend_from_slice(payload);
                    out.extend_from_slice(b"\r\n");
                }
                Frame::Ping => out.extend_from_slice(b"PONG\r\n"),
                _ => {}
            }
            conn.buf.advance(len);
        }
        if !out.is_empty() {
            conn.stream.write_all(&out).await?;
            out.clear();
        }
        conn.fill().await?;
    }
}

/// Subscribes to `subject`, prints `ready` on stdout once the server has the subscription,
/// then answers every request until the connection ends.
pub async fn serve_echo(url: &str, subject: &str) -> Result<(), BoxError> {
    let mut conn = Conn::open(url).await?;
    conn.stream
        .write_all(format!("SUB {subject} 1\r\nPING\r\n").as_bytes())
        .await?;
    conn.wait_pong().await?;
    println!("ready");
    echo_responder(conn).await
}

/// The echo responder (on its own connection and task) and a requester connection
/// subscribed to its inbox, both ready; and the request payload.
async fn echo_pair(
    spec: &Spec,
) -> Result<
    (
        tokio::task::JoinHandle<Result<(), BoxError>>,
        Conn,
        bytes::Bytes,
    ),
    BoxError,
> {
    let mut responder = Conn::open(&spec.url).await?;
    responder
        .stream
        .write_all(format!("SUB {ECHO_SUBJECT} 1\r\nPING\r\n").as_bytes())
        .await?;
    responder.wait_pong().await?;
    let responder_task = tokio::spawn(echo_responder(responder));

    let mut conn = Conn::open(&spec.url).await?;
    conn.stream
        .write_all(format!("SUB {INBOX_PREFIX}* 1\r\nPING\r\n").as_bytes())
        .await?;
    conn.wait_pong().await?;
    Ok((responder_task, conn, payload(spec.size)))
}

/// Sequential requests: SUB on an inbox, PUB with a reply subject under it, read the MSG back.
async fn request_sequential(spec: &Spec) -> Result<Outcome, BoxError> {
    let (responder_task, mut conn, data) = echo_pair(spec).await?;
    let mut frame = Vec::with_capacity(data.len() + 96);

    let warmup = (spec.count / 10).clamp(1, 1000);
    let mut samples = Vec::with_capacity(spec.count as usize);
    let mut start = Instant::now();
    for i in 0..warmup + spec.count {
        if i == warmup {
            start = Instant::now();
        }
        let t = Instant::now();
        frame.clear();
        put_request(&mut frame, ECHO_SUBJECT, i, &data);
        conn.stream.write_all(&frame).await?;
        request_reply(&mut conn).await?;
        if i >= warmup {
            samples.push(t.elapsed());
        }
    }
    let outcome = Outcome::latency(samples, 0, start.elapsed(), spec.size);
    responder_task.abort();
    Ok(outcome)
}

/// 64 requests in flight on one connection, against the raw echo responder on another: the
/// first 64 are written at once; every read then answers each reply that arrived with a new
/// request, all of them in one write. The ceiling of `req-64` on this machine and server.
async fn request_concurrent(spec: &Spec) -> Result<Outcome, BoxError> {
    const IN_FLIGHT: u64 = 64;
    let (responder_task, mut conn, data) = echo_pair(spec).await?;

    let start = Instant::now();
    let first = IN_FLIGHT.min(spec.count);
    let mut out = Vec::with_capacity(IN_FLIGHT as usize * (data.len() + 96));
    for token in 0..first {
        put_request(&mut out, ECHO_SUBJECT, token, &data);
    }
    conn.stream.write_all(&out).await?;
    out.clear();
    let (mut sent, mut answered) = (first, 0u64);
    while answered < spec.count {
        conn.fill().await?;
        while let Some((parsed, len)) = parse_frame(&conn.buf)? {
            match parsed {
                Frame::Msg { .. } => {
                    answered += 1;
                    if sent < spec.count {
                        put_request(&mut out, ECHO_SUBJECT, sent, &data);
                        sent += 1;
                    }
                }
                Frame::Ping => out.extend_from_slice(b"PONG\r\n"),
                Frame::Other => {}
            }
            conn.buf.advance(len);
        }
        if !out.is_empty() {
            conn.stream.write_all(&out).await?;
            out.clear();
        }
    }
    let outcome = Outcome::throughput(answered, spec.size, start.elapsed());
    responder_task.abort();
    Ok(outcome)
}

/// `kv-put-64` with no client library on the data path: the bucket is made (and deleted)
/// through rnats, as the rnats scenario makes it; then 64 puts are in flight on one raw
/// connection (a put is a JetStream publish to `$KV.<bucket>.<key>` whose acknowledgement
/// comes back on the inbox), and every read answers each acknowledgement that came with a
/// new put, all in one write. An acknowledgement carrying an error counts as an error.
/// The ceiling of the row: what the server's stream ingest takes.
async fn kv_put_concurrent(spec: &Spec) -> Result<Outcome, BoxError> {
    const IN_FLIGHT: u64 = 64;
    let client = rnats::connect(spec.url.as_str()).await?;
    let js = rnats::jetstream::new(client.clone());
    let bucket = kv_bucket();
    let mut config = rnats::kv::Config::new(bucket.as_str());
    config.storage = match spec.storage {
        Storage::File => rnats::jetstream::stream::StorageType::File,
        Storage::Memory => rnats::jetstream::stream::StorageType::Memory,
    };
    js.create_key_value(config).await?;

    let mut conn = Conn::open(&spec.url).await?;
    conn.stream
        .write_all(format!("SUB {INBOX_PREFIX}* 1\r\nPING\r\n").as_bytes())
        .await?;
    conn.wait_pong().await?;
    let data = payload(spec.size);
    let put = |out: &mut Vec<u8>, i: u64| {
        put_request(out, &format!("$KV.{bucket}.{}", kv_key(i)), i, &data);
    };

    let start = Instant::now();
    let first = IN_FLIGHT.min(spec.count);
    let mut out = Vec::new();
    for i in 0..first {
        put(&mut out, i);
    }
    conn.stream.write_all(&out).await?;
    out.clear();
    let (mut sent, mut acked, mut errors) = (first, 0u64, 0u64);
    while acked < spec.count {
        conn.fill().await?;
        while let Some((parsed, len)) = parse_frame(&conn.buf)? {
            match parsed {
                Frame::Msg { payload, .. } => {
                    acked += 1;
                    if payload.windows(7).any(|w| w == b"\"error\"") {
                        errors += 1;
                    }
                    if sent < spec.count {
                        put(&mut out, sent);
                        sent += 1;
                    }
                }
                Frame::Ping => out.extend_from_slice(b"PONG\r\n"),
                Frame::Other => {}
            }
            conn.buf.advance(len);
        }
        if !out.is_empty() {
            conn.stream.write_all(&out).await?;
            out.clear();
        }
    }
    let mut outcome = Outcome::throughput(acked - errors, spec.size, start.elapsed());
    outcome.errors = errors;
    js.delete_key_value(&bucket).await?;
    client.close().await?;
    Ok(outcome)
}

/// Reads until one MSG arrived (answering PINGs on the way).
async fn request_reply(conn: &mut Conn) -> Result<(), BoxError> {
    loop {
        while let Some((frame, len)) = parse_frame(&conn.buf)? {
            let done = match frame {
                Frame::Msg { .. } => true,
                Frame::Ping => {
                    conn.buf.advance(len);
                    conn.stream.write_all(b"PONG\r\n").await?;
                    continue;
                }
                Frame::Other => false,
            };
            conn.buf.advance(len);
            if done {
                return Ok(());
            }
        }
        conn.fill().await?;
    }
}
