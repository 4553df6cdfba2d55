//! `ServerInfo::from_json` on arbitrary bytes: no panic, and what parses serializes back to
//! JSON that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rnats_proto::ServerInfo;

fuzz_target!(|data: &[u8]| {
    let Ok(info) = ServerInfo::from_json(data) else {
        return;
    };
    let json = serde_json::to_vec(&info).expect("ServerInfo serializes");
    let again = ServerInfo::from_json(&json).expect("serialized ServerInfo parses");
    assert_eq!(again, info);
});
