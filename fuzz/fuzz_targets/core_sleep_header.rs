#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dat_core::feed_fuzzing::sleep_header(data));
