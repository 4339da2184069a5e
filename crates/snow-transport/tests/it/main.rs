//! snow-transport's integration tests, one binary: each module was a test file of its own.
//! The servers, the CONNECT proxy and the test CA they use come from `snow-test-support`.

use http::Request;
use snow_transport::Body;

/// A GET of `path` with no body, the request most tests send.
fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

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
