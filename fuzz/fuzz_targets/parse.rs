//! The parser on arbitrary bytes: no panic, `Ok(None)` consumes nothing, and cutting the
//! stream in two (at a point chosen by the first two bytes) never changes the outcome.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rnats_proto::{parse, ProtoErrorKind, ServerOp};

fn run(chunks: &[&[u8]]) -> (Vec<ServerOp>, Option<ProtoErrorKind>) {
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            let before = buf.len();
            match parse(&mut buf) {
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

fuzz_target!(|data: &[u8]| {
    let (cut, stream) = match data {
        [a, b, rest @ ..] => (
            usize::from(u16::from_le_bytes([*a, *b])) % (rest.len() + 1),
            rest,
        ),
        _ => (0, data),
    };
    let whole = run(&[stream]);
    let (head, tail) = stream.split_at(cut);
    assert_eq!(run(&[head, tail]), whole, "chunking changed the outcome");
});
