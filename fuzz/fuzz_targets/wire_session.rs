#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| dat_wire::fuzzing::session_input(
    data,
    std::time::Instant::now()
));
