#![no_main]
// Run with: cargo +nightly fuzz run capture fuzz/corpus/capture
libfuzzer_sys::fuzz_target!(|data: &[u8]| supervisor::fuzzing::capture(data));
