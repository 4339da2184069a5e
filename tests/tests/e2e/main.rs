//! The workspace's end-to-end tests, one binary: each module was a test file of its own. They
//! talk real HTTP over loopback to the dev instance and to in-test servers; the CONNECT proxy
//! and the test CA come from `snow-test-support`.

mod client_e2e;
mod mtls_e2e;
mod oauth_e2e;
mod pacing;
mod rate_limits;
mod secrets_trace;
mod soak;
mod transport_e2e;
