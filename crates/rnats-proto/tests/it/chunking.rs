//! The parser gives the same operations however the byte stream is cut into reads.

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use rnats_proto::{parse, ProtoErrorKind, ServerOp};

use crate::strategies::{cuts, server_op};
use crate::wire::{check_server_op, encode_server};

/// What parsing a stream gave: the operations, then the error that stopped it, if any.
pub(crate) type Outcome = (Vec<ServerOp>, Option<ProtoErrorKind>);

/// Parses `bytes` in one piece.
pub(crate) fn parse_whole(bytes: &[u8]) -> Outcome {
    parse_chunked(bytes, &[])
}

/// Parses `bytes` delivered in chunks ending at `cuts` (sorted, deduplicated internally), the
/// way a driver does: append a read to the buffer, parse until `Ok(None)`. Asserts that
/// `Ok(None)` consumes nothing and `Ok(Some)` consumes something.
pub(crate) fn parse_chunked(bytes: &[u8], cuts: &[usize]) -> Outcome {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| (*c).min(bytes.len())).collect();
    cuts.push(bytes.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut buf = BytesMut::new();
    let mut ops = Vec::new();
    let mut start = 0;
    for end in cuts {
        buf.extend_from_slice(&bytes[start..end]);
        start = end;
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

/// Turns proptest indices into cut positions in a stream of `len` bytes.
pub(crate) fn positions(idx: &[prop::sample::Index], len: usize) -> Vec<usize> {
    idx.iter().map(|i| i.index(len + 1)).collect()
}

proptest! {
    /// A concatenation of valid server operations, cut anywhere, parses to the same operations
    /// as in one piece, and those are the operations written.
    #[test]
    fn any_chunking_gives_the_same_ops(models in vec(server_op(), 1..8), cut_idx in cuts()) {
        let mut wire = Vec::new();
        for m in &models {
            encode_server(m, &mut wire);
        }
        let whole = parse_whole(&wire);
        prop_assert_eq!(whole.1, None);
        prop_assert_eq!(whole.0.len(), models.len());
        for (m, op) in models.iter().zip(&whole.0) {
            check_server_op(m, op)?;
        }
        let chunked = parse_chunked(&wire, &positions(&cut_idx, wire.len()));
        prop_assert_eq!(chunked, whole);
    }

    /// Byte-at-a-time delivery, the worst case, gives the same operations too.
    #[test]
    fn byte_at_a_time_gives_the_same_ops(models in vec(server_op(), 1..4)) {
        let mut wire = Vec::new();
        for m in &models {
            encode_server(m, &mut wire);
        }
        let every: Vec<usize> = (0..wire.len()).collect();
        prop_assert_eq!(parse_chunked(&wire, &every), parse_whole(&wire));
    }
}
