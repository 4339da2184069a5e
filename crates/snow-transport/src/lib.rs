#![cfg_attr(docsrs, feature(doc_cfg))]
//! The HTTP transport for snow, the ServiceNow REST toolkit: hyper, rustls and a tower stack with
//! retry, timeouts, limits and authentication.
//!
//! A [`Transport`] is bound to one [`Instance`] and pairs with any [`Authenticator`]. Each request
//! goes through, outer to inner (the layers are in [`layer`]):
//!
//! 1. observability: a `tracing` span per logical request, and the counters of [`Stats`];
//! 2. the total timeout ([`TransportBuilder::total_timeout`], 5 minutes by default);
//! 3. the caller's own layers ([`TransportBuilder::layer`]);
//! 4. default headers (`User-Agent: snow/<version>`, `Accept: application/json`, the caller's);
//! 5. a concurrency limit;
//! 6. retry ([`RetryConfig`]) of what [`snow_core::ErrorKind`] calls retryable: `429` (a
//!    rate-limit rule's waited out until `Retry-After` or its window's reset, a semaphore's
//!    backed off briefly with jitter), `408`, `502`/`503`/`504`, a `GET` answered `202`,
//!    connection failures and per-attempt timeouts, with exponential backoff and jitter,
//!    idempotent methods only unless the request carries [`RetryNonIdempotent`];
//! 7. a span per attempt;
//! 8. rate-limit pacing ([`RateLimitConfig`]): the `X-RateLimit-*` headers of every answer,
//!    per rule, spread the rule's budget until its window resets;
//! 9. a per-attempt timeout;
//! 10. authentication, with one replay after a `401` when the authenticator asks for it; first
//!     the URI is resolved against the instance: paths are joined to it, other origins are
//!     refused before any credential is added;
//! 11. the response body cap and read timeout;
//! 12. hyper-util's pooled client over rustls (HTTP/1.1 and HTTP/2 by ALPN), optionally through an
//!     HTTP CONNECT [`Proxy`] — or the caller's own inner service
//!     ([`TransportBuilder::inner_service`]).
//!
//! # Rate limits
//!
//! ServiceNow's rate-limit rules allow a number of requests per window (an hour) to a user, and
//! say so on every answer they cover: `X-RateLimit-Limit`, `X-RateLimit-Reset` (UNIX time) and
//! `X-RateLimit-Rule` (the rule's sys_id). The transport keeps per-rule state from them, shared
//! by every clone and every request in flight, and with [`Pacing::Pace`] (the default) spreads
//! the budget left so that it lasts until the reset: concurrent pages and parallel exports slow
//! down together instead of each meeting `429`. A rule's `429` (its headers, or the documented
//! `Rate limit exceeded` body) is waited out until `Retry-After` or the reset; a `429` without
//! them (a full API_INT semaphore queue) is retried after a short jittered backoff, like a `202`
//! to a `GET` (a busy session). No request waits for rate limits longer than
//! [`RateLimitConfig::max_wait`]: past it, [`TransportError::RateLimited`] names the rule, its
//! limit and its reset.
//!
//! # Observability
//!
//! Each logical request is a `snow.request` span at DEBUG (method, path without the query,
//! status, attempts, retries and their reasons, `X-Transaction-ID`, bytes out and in, latency,
//! time waited) and each attempt a `snow.attempt` span inside it (attempt number, status,
//! transaction id, latency, time paced, throttling kind, the instance's `Server-Timing` queue
//! waits). Events: DEBUG when a request is answered, fails or its body has been read, WARN for
//! each retry (with its reason) and for a request dropped before its answer. No query string,
//! header value or body is ever recorded, so no filter value and no credential reaches a log.
//! [`Transport::stats`] returns the counters ([`Stats`]); the `metrics` example exports them
//! through the `metrics` facade.
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
mod client_body;
mod error;
pub mod layer;
mod pacer;
mod proxy;
mod rate_limit;
mod retry;
mod stats;
mod throttle;
mod tls;
mod transport;

pub use body::{Body, DEFAULT_MAX_RESPONSE_BODY, MaxResponseBody, ResponseBody};
pub use error::{BuildError, TimeoutKind, TlsFailure, TransportError};
pub use proxy::Proxy;
pub use rate_limit::{Pacing, RateLimitConfig};
pub use retry::{LongRetryAfter, RetryConfig, RetryNonIdempotent};
pub use stats::{RetryCounts, RetryReason, Stats};
pub use tls::{Roots, TlsConfig};
pub use transport::{
    DEFAULT_TOTAL_TIMEOUT, DEFAULT_USER_AGENT, SnowService, Transport, TransportBuilder,
};

pub use snow_core::{Authenticator, BoxError, ErrorKind, Instance};
