#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dat_drive::fuzzing::index_header(data));
