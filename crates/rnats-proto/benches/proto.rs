//! Micro-benchmarks of the protocol core: what one message costs to parse and to encode,
//! without sockets or a server. `cargo bench -p rnats-proto`.
#![allow(missing_docs)]

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rnats_proto::{encode_pub, parse, subject, HeaderMap, ServerOp};

/// `count` MSG frames of `size`-byte payloads, back to back, as a server sends them.
fn msg_stream(count: usize, size: usize, headers: bool) -> Bytes {
    let payload = vec![b'x'; size];
    let mut out = BytesMut::new();
    for i in 0..count {
        if headers {
            let hdr = "NATS/1.0\r\nTrace-Id: abc\r\n\r\n";
            out.extend_from_slice(
                format!(
                    "HMSG bench.subject.{i} 7 _INBOX.r.{i} {} {}\r\n{hdr}",
                    hdr.len(),
                    hdr.len() + size
                )
                .as_bytes(),
            );
        } else {
            out.extend_from_slice(format!("MSG bench.subject.{i} 7 {size}\r\n").as_bytes());
        }
        out.extend_from_slice(&payload);
        out.extend_from_slice(b"\r\n");
    }
    out.freeze()
}

fn parse_all(stream: &Bytes) -> usize {
    let mut buf = BytesMut::from(&stream[..]);
    let mut n = 0;
    while let Ok(Some(op)) = parse(&mut buf) {
        if let ServerOp::Msg(m) = op {
            n += m.payload.len();
        }
    }
    n
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse");
    for (size, headers) in [(16, false), (128, false), (1024, false), (128, true)] {
        let count = 1000;
        let stream = msg_stream(count, size, headers);
        group.throughput(Throughput::Elements(count as u64));
        let name = if headers { "hmsg" } else { "msg" };
        group.bench_with_input(BenchmarkId::new(name, size), &stream, |b, s| {
            b.iter(|| parse_all(black_box(s)))
        });
    }
    group.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("encode_pub");
    let mut headers = HeaderMap::new();
    headers.insert("Trace-Id", "abc");
    for size in [16usize, 128, 1024] {
        let payload = vec![b'x'; size];
        group.throughput(Throughput::Elements(1000));
        group.bench_with_input(BenchmarkId::new("pub", size), &payload, |b, p| {
            let mut out = BytesMut::with_capacity(1 << 20);
            b.iter(|| {
                out.clear();
                for _ in 0..1000 {
                    encode_pub(&mut out, "bench.subject", None, None, black_box(p));
                }
            })
        });
        group.bench_with_input(BenchmarkId::new("hpub", size), &payload, |b, p| {
            let mut out = BytesMut::with_capacity(1 << 20);
            b.iter(|| {
                out.clear();
                for _ in 0..1000 {
                    encode_pub(
                        &mut out,
                        "bench.subject",
                        Some("_INBOX.reply.1"),
                        Some(&headers),
                        black_box(p),
                    );
                }
            })
        });
    }
    group.finish();
}

fn bench_subject(c: &mut Criterion) {
    c.bench_function("validate_publish", |b| {
        b.iter(|| subject::validate_publish(black_box("orders.eu.west.created.v1")))
    });
    c.bench_function("validate_subscribe", |b| {
        b.iter(|| subject::validate_subscribe(black_box("orders.*.west.>")))
    });
}

criterion_group!(benches, bench_parse, bench_encode, bench_subject);
criterion_main!(benches);
