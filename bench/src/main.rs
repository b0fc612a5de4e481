//! Benchmarks against the JS reference.
fn main() {}
