#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dat_discovery::fuzzing::fuzz_txt(data));
