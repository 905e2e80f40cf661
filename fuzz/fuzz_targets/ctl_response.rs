#![no_main]
// Run with: cargo +nightly fuzz run ctl_response fuzz/corpus/ctl_response
libfuzzer_sys::fuzz_target!(|data: &[u8]| supervisor::fuzzing::ctl_response(data));
