//! What the snow crates' tests share, written once:
//!
//! - [`capture`]: a capture of everything logged through `tracing`, and the check that a text
//!   holds no secret;
//! - [`server`]: an HTTP(S) server on 127.0.0.1 that records every request and answers what
//!   the test scripts, and a raw TCP server for answers no HTTP library would send;
//! - [`proxy`]: an HTTP CONNECT proxy that records its tunnels;
//! - [`tls`]: a throwaway certificate authority issuing server and client certificates.
//!
//! The crate is not published; every suite takes it as a dev-dependency.
//!
//! ```
//! use snow_test_support::{Capture, assert_no_secret};
//!
//! let capture = Capture::default();
//! capture.run(|| tracing::info!(user = "admin", "logged in"));
//! let text = capture.text();
//! assert!(text.contains("logged in"));
//! assert_no_secret(&text, &["a-password-of-some-length".to_owned()]);
//! ```

pub mod capture;
pub mod proxy;
pub mod server;
pub mod tls;

pub use capture::{Capture, assert_no_secret};
