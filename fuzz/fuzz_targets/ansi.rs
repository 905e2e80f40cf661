#![no_main]
// Run with: cargo +nightly fuzz run ansi fuzz/corpus/ansi
libfuzzer_sys::fuzz_target!(|data: &[u8]| supervisor::fuzzing::ansi(data));
