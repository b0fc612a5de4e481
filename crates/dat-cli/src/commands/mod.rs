//! One module per `dat` command.

pub mod keys;
