#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dat_wire::fuzzing::replication(data, std::time::Instant::now());
});
