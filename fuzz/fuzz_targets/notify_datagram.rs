#![no_main]
// Run with: cargo +nightly fuzz run notify_datagram fuzz/corpus/notify_datagram
libfuzzer_sys::fuzz_target!(|data: &[u8]| supervisor::fuzzing::notify_datagram(data));
