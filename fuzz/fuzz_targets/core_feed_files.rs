#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dat_core::feed_fuzzing::feed_files(data));
