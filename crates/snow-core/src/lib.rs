//! The HTTP-client-free core of snow, a ServiceNow REST toolkit.
//!
//! This crate holds what every other snow crate, and every third-party authenticator, shares:
//!
//! - [`Instance`]: a validated ServiceNow base URL and API root, built from an instance name,
//!   a host, or a full URL, plus a [`UrlBuilder`] that percent-encodes every path segment and
//!   query value so that no caller-supplied string can escape its place in a URL.
//! - [`Authenticator`]: the trait that puts credentials on a request, and decides what to do
//!   when the instance answers `401`. [`AuthRetry`] and [`AuthError`] go with it.
//! - [`credential`]: a renewing authenticator from one async "fetch a credential" method: cache,
//!   single-flight renewal before expiry and after `401`, applied as a sensitive header.
//! - [`HttpExchange`]: one buffered request in, one response out. Token calls travel through it,
//!   so authentication crates never depend on a transport.
//! - [`ErrorKind`]: the one classification of failures (transient, throttling, server, client,
//!   auth, response, config) every snow error type answers with, and the one classifier of HTTP
//!   statuses.
//! - [`secret`]: secret-holding types whose `Debug` prints no secret.
//!
//! It has no hyper, no tower and no tokio.
//!
//! ```
//! use snow_core::Instance;
//!
//! let instance: Instance = "acme".parse()?;
//! assert_eq!(instance.base_url(), "https://acme.service-now.com");
//!
//! let uri = instance.api().segment("table").segment("incident").query("sysparm_limit", "5").build()?;
//! assert_eq!(uri.to_string(), "https://acme.service-now.com/api/now/table/incident?sysparm_limit=5");
//! # Ok::<(), snow_core::InstanceError>(())
//! ```

mod auth;
mod auth_error;
pub mod credential;
mod exchange;
mod instance;
mod kind;
mod origin;
pub mod secret;
mod sensitive;
mod sniff;
mod sys_id;
mod url;

pub use auth::{AuthRetry, Authenticator, NoAuth, insert_credential};
pub use auth_error::{AuthError, BoxError, SharedError};
pub use exchange::{ExchangeError, HttpExchange};
pub use instance::{Instance, InstanceError, Scheme};
pub use kind::ErrorKind;
pub use sensitive::{
    API_KEY_HEADER, API_KEY_NAME, CREDENTIAL_HEADERS, CREDENTIAL_QUERY_PARAMS,
    is_credential_header, is_credential_query_param,
};
pub use sniff::looks_like_json;
pub use sys_id::is_sys_id;
pub use url::{UrlBuilder, encode_component};

/// Re-exported so authenticators can name the trait's attribute without adding a dependency.
pub use async_trait::async_trait;
/// Re-exported so authenticators use the same `http` version as the transport.
pub use http;
