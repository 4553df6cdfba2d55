//! Fuzz target `parse`: the checks are `rnats_fuzz_checks::parse` (fuzz/checks/src/lib.rs),
//! shared with the replay test.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| rnats_fuzz_checks::parse(data));
