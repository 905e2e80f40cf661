#![no_main]
// Run with: cargo +nightly fuzz run json_api fuzz/corpus/json_api
libfuzzer_sys::fuzz_target!(|data: &[u8]| supervisor::fuzzing::json_api(data));
