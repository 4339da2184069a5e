//! The tower layers the transport is made of, usable on their own to build a stack of your own.
//!
//! Outer to inner, the transport stacks: [`TotalTimeoutLayer`], the caller's layers,
//! [`DefaultHeadersLayer`], a concurrency limit (tower's `GlobalConcurrencyLimitLayer`), retry
//! (tower's `RetryLayer` with [`RetryPolicy`]), a per-attempt timeout (tower's `TimeoutLayer`),
//! [`BaseUriLayer`], [`AuthLayer`], then [`BodyLimitLayer`] over the HTTP client.

mod auth;
mod base_uri;
mod body_limit;
mod default_headers;
mod retry;
mod total_timeout;

pub use auth::{AuthLayer, AuthService};
pub use base_uri::{BaseUri, BaseUriLayer};
pub use body_limit::{BodyLimit, BodyLimitLayer};
pub use default_headers::{DefaultHeaders, DefaultHeadersLayer};
pub use retry::RetryPolicy;
pub use total_timeout::{TotalTimeout, TotalTimeoutLayer};

/// The future type of the transport's own layers.
pub type BoxFuture<T> = futures_util::future::BoxFuture<'static, T>;
