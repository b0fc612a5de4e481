#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dat_core::feed_fuzzing::reader_files(data));
