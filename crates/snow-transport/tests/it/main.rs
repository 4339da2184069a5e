//! snow-transport's integration tests, one binary: each module was a test file of its own.
//! The servers, the CONNECT proxy and the test CA they use come from `snow-test-support`.

mod auth;
mod body_limit;
mod compose;
mod hostile;
mod observability;
mod proxy;
mod rate_limit;
mod retry;
mod timeouts;
mod tls;
