#![no_main]
// Run with: cargo +nightly fuzz run xmlrpc_body fuzz/corpus/xmlrpc_body
libfuzzer_sys::fuzz_target!(|data: &[u8]| supervisor::fuzzing::xmlrpc_body(data));
