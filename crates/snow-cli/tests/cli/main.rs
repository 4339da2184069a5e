//! End-to-end tests of the `snow` binary against dev instances started by each test: every
//! command, exit codes and messages, secrets, verbose lines and summaries, exports killed and resumed, progress bars under
//! a pseudo-terminal.

mod common;

mod api;
mod attachments;
mod auth;
mod batch;
mod cmdb;
mod connect;
mod errors;
mod export;
mod import;
mod misc;
mod stats;
mod table;
mod terminal;
mod verbose;
