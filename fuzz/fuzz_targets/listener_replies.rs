#![no_main]
// Run with: cargo +nightly fuzz run listener_replies fuzz/corpus/listener_replies
libfuzzer_sys::fuzz_target!(|data: &[u8]| supervisor::fuzzing::listener_replies(data));
