//! The tower layers the transport is made of, usable on their own to build a stack of your own.
//!
//! Outer to inner, the transport stacks: its observability layer (a `tracing` span per
//! logical request, the counters of [`Stats`](crate::Stats)), [`TotalTimeoutLayer`], the
//! caller's layers, [`DefaultHeadersLayer`], a concurrency limit (tower's
//! `GlobalConcurrencyLimitLayer`), retry (tower's `RetryLayer` with [`RetryPolicy`]), its
//! attempt layer (a span per attempt), its rate-limit layer (pacing, and telling a rule's `429`
//! from a semaphore's), a per-attempt timeout (tower's `TimeoutLayer`), [`AuthLayer`] (which
//! resolves URIs against the instance itself, as [`BaseUriLayer`] does for a stack without
//! authentication), then [`BodyLimitLayer`] over the HTTP client. The observability, attempt and
//! rate-limit layers share per-request state with the retry policy and stay inside the crate.

mod attempt;
mod auth;
mod base_uri;
mod body_limit;
mod default_headers;
pub(crate) mod observe;
mod rate_limit;
mod ready_call;
pub(crate) mod retry;
mod total_timeout;

pub(crate) use attempt::AttemptLayer;
pub(crate) use observe::ObserveLayer;
pub(crate) use rate_limit::RateLimitLayer;
pub(crate) use ready_call::ReadyCall;

pub use auth::{AuthFuture, AuthLayer, AuthService};
pub use base_uri::{BaseUri, BaseUriLayer};
pub use body_limit::{BodyLimit, BodyLimitFuture, BodyLimitLayer};
pub use default_headers::{DefaultHeaders, DefaultHeadersLayer};
pub use retry::RetryPolicy;
pub use total_timeout::{TotalTimeout, TotalTimeoutFuture, TotalTimeoutLayer};

/// The boxed future of [`BaseUriLayer`]'s service, and the one the auth and rate-limit layers
/// fall back on when they may have to wait (for a credential to be fetched, for a rule's
/// pacing, for a 401 to be replayed with an authenticator that can renew); the other layers,
/// and those two on their common path, return named futures.
pub type BoxFuture<T> = futures_util::future::BoxFuture<'static, T>;
