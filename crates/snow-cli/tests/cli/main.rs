//! End-to-end tests of the `snow` binary against dev instances started by each test: every
//! command, exit codes and messages, secrets, exports killed and resumed, progress bars under
//! a pseudo-terminal.

mod common;

mod api;
mod attachments;
mod auth;
mod connect;
mod errors;
mod export;
mod misc;
mod table;
mod terminal;
