//! snow-devinstance's integration tests, one binary: each module was a test file of its own,
//! and `common` holds what they share (a plain hyper client, instances started in-process, the
//! binary spawned as a child process). The peer check against another client library lives in
//! `tests/peer` and runs from `cargo xtask ci`.

mod common;

mod attachments;
mod auth;
mod bad_input;
mod binary;
#[cfg(unix)]
mod durability;
mod faults;
mod headers;
mod memory;
mod more_apis;
mod mtls;
mod persistence_tls;
mod rate_limits;
mod revocation;
mod roles_and_limits;
mod table_api;
