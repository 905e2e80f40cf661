#![no_main]
// Run with: cargo +nightly fuzz run config_text fuzz/corpus/config_text
libfuzzer_sys::fuzz_target!(|data: &[u8]| supervisor::fuzzing::config_text(data));
