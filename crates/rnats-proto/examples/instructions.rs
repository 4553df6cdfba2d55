//! The hot paths of the protocol core, one per case, for instruction counting:
//! `instructions CASE BLOCKS` runs the case over BLOCKS blocks of 1,000 messages. Run under
//! valgrind by `scripts/perf-guard.sh`, which subtracts a zero-block run (the set-up) and
//! divides by the messages: instructions per message, stable on a noisy machine where times
//! are not. Every case is deterministic: the same binary gives the same count.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rnats_proto::{
    encode_pub, parse, ConnectInfo, Connection, ConnectionConfig, HeaderMap, ServerOp,
};

const BLOCK: usize = 1000;

/// The cases, as `scripts/perf-guard.sh` and `perf/instructions.txt` name them.
const CASES: &[&str] = &[
    "parse-msg-128",
    "parse-hmsg-128",
    "encode-pub-128",
    "encode-hpub-128",
    "conn-publish-128",
    "conn-deliver-128",
];

/// A block of MSG (or HMSG) frames with 128-byte payloads, as a server sends them.
fn frames(headers: bool) -> Bytes {
    let payload = [b'x'; 128];
    let mut out = BytesMut::new();
    for i in 0..BLOCK {
        if headers {
            let hdr = "NATS/1.0\r\nTrace-Id: abc\r\n\r\n";
            let head = format!(
                "HMSG bench.subject.{i} 1 _INBOX.r.{i} {} {}\r\n{hdr}",
                hdr.len(),
                hdr.len() + payload.len()
            );
            out.extend_from_slice(head.as_bytes());
        } else {
            out.extend_from_slice(format!("MSG bench.subject.{i} 1 128\r\n").as_bytes());
        }
        out.extend_from_slice(&payload);
        out.extend_from_slice(b"\r\n");
    }
    out.freeze()
}

fn parse_blocks(block: &Bytes, blocks: usize) -> usize {
    let mut n = 0;
    for _ in 0..blocks {
        let mut buf = BytesMut::from(&block[..]);
        while let Ok(Some(op)) = parse(black_box(&mut buf)) {
            if let ServerOp::Msg(m) = op {
                n += m.payload.len();
            }
        }
    }
    n
}

fn connected() -> Connection {
    let now = Instant::now();
    let mut c = Connection::new(ConnectionConfig::default());
    let mut buf = BytesMut::from(
        &b"INFO {\"server_id\":\"S\",\"max_payload\":1048576,\"proto\":1,\"headers\":true}\r\n"[..],
    );
    c.handle_input(&mut buf, now).expect("INFO parses");
    c.send_connect(&ConnectInfo::default())
        .expect("CONNECT follows INFO");
    buf.extend_from_slice(b"PONG\r\n");
    c.handle_input(&mut buf, now).expect("PONG parses");
    let mut out = BytesMut::new();
    c.poll_transmit(&mut out);
    while c.poll_event().is_some() {}
    c
}

fn run(case: &str, blocks: usize) -> Result<usize, String> {
    let payload = Bytes::from_static(&[b'x'; 128]);
    let mut headers = HeaderMap::new();
    headers.insert("Trace-Id", "abc");
    Ok(match case {
        "parse-msg-128" => parse_blocks(&frames(false), blocks),
        "parse-hmsg-128" => parse_blocks(&frames(true), blocks),
        "encode-pub-128" | "encode-hpub-128" => {
            let hpub = case == "encode-hpub-128";
            let mut out = BytesMut::with_capacity(1 << 20);
            let mut n = 0;
            for _ in 0..blocks {
                out.clear();
                for _ in 0..BLOCK {
                    if hpub {
                        encode_pub(
                            &mut out,
                            "bench.subject",
                            Some("_INBOX.reply.1"),
                            Some(&headers),
                            black_box(&payload),
                        );
                    } else {
                        encode_pub(&mut out, "bench.subject", None, None, black_box(&payload));
                    }
                }
                n += out.len();
            }
            n
        }
        // What a publish costs the connection: validation, encoding into its buffer, and
        // the driver taking the buffers out every 64 publishes.
        "conn-publish-128" => {
            let mut conn = connected();
            let mut queue = Vec::new();
            let mut n = 0;
            for _ in 0..blocks {
                for i in 0..BLOCK {
                    conn.publish_bytes("bench.subject", None, None, black_box(&payload))
                        .map_err(|e| e.to_string())?;
                    if i % 64 == 63 {
                        conn.poll_transmit_chunks(&mut queue);
                        n += queue.len();
                        queue.clear();
                    }
                }
                conn.poll_transmit_chunks(&mut queue);
                queue.clear();
            }
            n
        }
        // What a delivered message costs the connection: parsing, routing to its
        // subscription, the event handed out.
        "conn-deliver-128" => {
            let mut conn = connected();
            conn.subscribe("bench.>", None).map_err(|e| e.to_string())?;
            let mut out = BytesMut::new();
            conn.poll_transmit(&mut out);
            let block = frames(false);
            let now = Instant::now();
            let mut n = 0;
            for _ in 0..blocks {
                let mut buf = BytesMut::from(&block[..]);
                conn.handle_input(black_box(&mut buf), now)
                    .map_err(|e| e.to_string())?;
                while let Some(event) = conn.poll_event() {
                    black_box(&event);
                    n += 1;
                }
            }
            n
        }
        other => {
            return Err(format!(
                "unknown case {other:?}; cases: {}",
                CASES.join(", ")
            ))
        }
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (case, blocks) = match args.as_slice() {
        [case, blocks] => match blocks.parse::<usize>() {
            Ok(b) => (case.as_str(), b),
            Err(_) => {
                eprintln!("BLOCKS must be a number, not {blocks:?}");
                std::process::exit(2);
            }
        },
        [flag] if flag == "--list" => {
            println!("{}", CASES.join("\n"));
            return;
        }
        _ => {
            eprintln!("usage: instructions CASE BLOCKS | --list");
            std::process::exit(2);
        }
    };
    match run(case, blocks) {
        Ok(n) => {
            black_box(n);
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    }
}
