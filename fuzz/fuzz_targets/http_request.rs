#![no_main]
// Run with: cargo +nightly fuzz run http_request fuzz/corpus/http_request
libfuzzer_sys::fuzz_target!(|data: &[u8]| supervisor::fuzzing::http_request(data));
