//! Test support for dat-rs: the JS reference peer harness, vectors and fixtures.
