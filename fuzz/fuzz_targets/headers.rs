//! `HeaderMap::decode` on arbitrary bytes: no panic, and a decoded map that validates encodes
//! to a block that decodes to the same map.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rnats_proto::HeaderMap;

fuzz_target!(|data: &[u8]| {
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
});
