//! Fuzz target `ack_subject`: the checks are `rnats_fuzz_checks::ack_subject` (fuzz/checks/src/lib.rs),
//! shared with the replay test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rnats_fuzz_checks::ack_subject(data));
