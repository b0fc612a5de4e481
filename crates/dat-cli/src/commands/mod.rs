//! One module per `dat` command.

pub mod cat;
pub mod clone;
pub mod create;
pub mod discovery_flags;
pub mod discovery_server;
pub mod doctor;
pub mod export;
pub mod keys;
pub mod log;
pub mod ls;
pub mod net_common;
pub mod pull;
pub mod remote;
pub mod share;
pub mod status;
pub mod sync;
pub mod verify;
