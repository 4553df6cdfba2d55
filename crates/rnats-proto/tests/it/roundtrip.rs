//! encode → parse gives back the same operation, for every server and client operation.

use bytes::BytesMut;
use proptest::prelude::*;
use rnats_proto::{encode, parse};

use crate::strategies::{client_op, server_op};
use crate::wire::{check_server_op, decode_client, encode_server};

proptest! {
    /// Every server operation written as nats-server writes it parses back to itself, taking
    /// exactly its own bytes.
    #[test]
    fn server_op_round_trips(model in server_op(), trailing in proptest::collection::vec(any::<u8>(), 0..8)) {
        let mut wire = Vec::new();
        encode_server(&model, &mut wire);
        let mut buf = BytesMut::from(&wire[..]);
        buf.extend_from_slice(&trailing);
        let op = parse(&mut buf);
        prop_assert!(matches!(op, Ok(Some(_))), "{:?} from {:?}", op, String::from_utf8_lossy(&wire));
        check_server_op(&model, &op.unwrap().unwrap())?;
        prop_assert_eq!(&buf[..], &trailing[..], "the op must take exactly its own bytes");
    }

    /// Every client operation encoded by `rnats_proto::encode` is read back by an independent
    /// decoder as the same operation, taking exactly the encoded bytes: the byte counts on the
    /// control line (PUB size, HPUB header and total sizes) match what follows it.
    #[test]
    fn client_op_round_trips(ops in proptest::collection::vec(client_op(), 1..6)) {
        let mut out = BytesMut::new();
        for op in &ops {
            encode(op, &mut out);
        }
        let mut rest = &out[..];
        for op in &ops {
            let decoded = decode_client(rest);
            prop_assert!(decoded.is_ok(), "{:?} for {:?} in {:?}", decoded, op, String::from_utf8_lossy(rest));
            let (got, used) = decoded.unwrap();
            prop_assert_eq!(&got, op);
            rest = &rest[used..];
        }
        prop_assert!(rest.is_empty(), "left over: {:?}", String::from_utf8_lossy(rest));
    }
}
