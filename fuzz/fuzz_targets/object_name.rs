//! Fuzz target `object_name`: the checks are `rnats_fuzz_checks::object_name` (fuzz/checks/src/lib.rs),
//! shared with the replay test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rnats_fuzz_checks::object_name(data));
