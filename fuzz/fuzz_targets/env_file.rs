#![no_main]
// Run with: cargo +nightly fuzz run env_file fuzz/corpus/env_file
libfuzzer_sys::fuzz_target!(|data: &[u8]| supervisor::fuzzing::env_file(data));
