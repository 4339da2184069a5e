#![cfg_attr(docsrs, feature(doc_cfg))]
//! The HTTP transport for snow, the ServiceNow REST toolkit: hyper, rustls and a tower stack with
//! retry, timeouts, limits and authentication.
//!
//! A [`Transport`] is bound to one [`Instance`] and pairs with any [`Authenticator`]. Each request
//! goes through, outer to inner (the layers are in [`layer`]):
//!
//! 1. the total timeout ([`TransportBuilder::total_timeout`], 5 minutes by default);
//! 2. the caller's own layers ([`TransportBuilder::layer`]);
//! 3. default headers (`User-Agent: snow/<version>`, `Accept: application/json`, the caller's);
//! 4. a concurrency limit;
//! 5. retry ([`RetryConfig`]) of what [`snow_core::ErrorKind`] calls retryable: `429` honouring
//!    `Retry-After`, `408`, `502`/`503`/`504`, a `GET` answered `202`, connection failures and
//!    per-attempt timeouts, with exponential backoff and jitter, idempotent methods only unless
//!    the request carries [`RetryNonIdempotent`];
//! 6. a per-attempt timeout;
//! 7. the base URI: paths are joined to the instance, other origins are refused;
//! 8. authentication, with one replay after a `401` when the authenticator asks for it;
//! 9. the response body cap and read timeout;
//! 10. hyper-util's pooled client over rustls (HTTP/1.1 and HTTP/2 by ALPN), optionally through an
//!     HTTP CONNECT [`Proxy`] — or the caller's own inner service
//!     ([`TransportBuilder::inner_service`]).
//!
//! Response bodies stream as [`ResponseBody`], capped in size and guarded by a read timeout.
//! Redirects are never followed. The transport also implements [`snow_core::HttpExchange`], so
//! token calls (OAuth) use the same connections, TLS, proxy and timeouts, without the auth layer.
//!
//! ```no_run
//! use std::time::Duration;
//! use snow_basic::BasicAuth;
//! use snow_transport::{Body, Instance, RetryConfig, Transport};
//!
//! # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
//! let transport = Transport::builder(Instance::from_name("acme")?)
//!     .auth(BasicAuth::new("admin", "s3cret"))
//!     .timeout(Duration::from_secs(30))
//!     .retry(RetryConfig::default().max_attempts(5))
//!     .build()?;
//!
//! let req = http::Request::get("/api/now/table/incident?sysparm_limit=1").body(Body::empty())?;
//! let resp = transport.send(req).await?;
//! let status = resp.status();
//! let body = resp.into_body().collect_bytes().await?;
//! println!("{status}: {}", String::from_utf8_lossy(&body));
//! # Ok(()) }
//! ```

mod body;
mod client;
mod error;
pub mod layer;
mod proxy;
mod retry;
mod tls;
mod transport;

pub use body::{Body, DEFAULT_MAX_RESPONSE_BODY, MaxResponseBody, ResponseBody};
pub use error::{BuildError, TimeoutKind, TlsFailure, TransportError};
pub use proxy::Proxy;
pub use retry::{LongRetryAfter, RetryConfig, RetryNonIdempotent};
pub use tls::{Roots, TlsConfig};
pub use transport::{
    DEFAULT_TOTAL_TIMEOUT, DEFAULT_USER_AGENT, SnowService, Transport, TransportBuilder,
};

pub use snow_core::{Authenticator, BoxError, ErrorKind, Instance};
