//! A single buffered HTTP exchange, for token calls.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::auth::{AuthError, BoxError};

/// Sends one buffered request and returns one buffered response.
///
/// Authentication crates make their token calls through this trait, so they never depend on a
/// transport. `snow-transport` implements it with the same connector, TLS roots, client
/// certificate, proxy, timeouts and body-size cap as every other call to the instance, but
/// without the auth layer (a token call must not authenticate itself). Implementations must not
/// follow redirects: a `3xx` is returned as it is.
///
/// ```
/// use snow_core::{async_trait, http, ExchangeError, HttpExchange};
///
/// /// An exchange that answers every request itself (for a unit test).
/// #[derive(Debug)]
/// struct Canned;
///
/// #[async_trait]
/// impl HttpExchange for Canned {
///     async fn exchange(&self, req: http::Request<Vec<u8>>) -> Result<http::Response<Vec<u8>>, ExchangeError> {
///         assert_eq!(req.method(), http::Method::POST);
///         Ok(http::Response::new(br#"{"access_token":"t"}"#.to_vec()))
///     }
/// }
/// ```
#[async_trait]
pub trait HttpExchange: Send + Sync + fmt::Debug + 'static {
    /// Send `request` and read the whole response.
    async fn exchange(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, ExchangeError>;
}

#[async_trait]
impl<E: HttpExchange + ?Sized> HttpExchange for Arc<E> {
    async fn exchange(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, ExchangeError> {
        (**self).exchange(request).await
    }
}

#[async_trait]
impl<E: HttpExchange + ?Sized> HttpExchange for Box<E> {
    async fn exchange(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, ExchangeError> {
        (**self).exchange(request).await
    }
}

/// Why an [`HttpExchange`] produced no response.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The connection could not be made (DNS, refused, proxy refused the tunnel).
    #[error("could not connect: {source}")]
    Connect {
        /// The underlying error.
        source: BoxError,
    },
    /// The TLS handshake failed (for example the certificate could not be verified).
    #[error("TLS handshake failed: {source}")]
    Tls {
        /// The underlying error.
        source: BoxError,
    },
    /// No complete response arrived in time.
    #[error("the request timed out")]
    Timeout,
    /// The response body was larger than the configured cap.
    #[error("the response body exceeds the limit of {limit} bytes")]
    BodyTooLarge {
        /// The cap, in bytes.
        limit: usize,
    },
    /// The request was refused before sending (for example its URL is not absolute).
    #[error("invalid request: {message}")]
    InvalidRequest {
        /// What is wrong.
        message: String,
    },
    /// Reading or writing the connection failed after it was made.
    #[error("connection failed: {source}")]
    Io {
        /// The underlying error.
        source: BoxError,
    },
}

impl ExchangeError {
    /// Whether trying again later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ExchangeError::Connect { .. } | ExchangeError::Timeout | ExchangeError::Io { .. }
        )
    }
}

impl From<ExchangeError> for AuthError {
    fn from(e: ExchangeError) -> Self {
        if e.is_transient() {
            AuthError::Unavailable {
                message: e.to_string(),
                source: Some(Box::new(e)),
            }
        } else {
            AuthError::other(e, false)
        }
    }
}
