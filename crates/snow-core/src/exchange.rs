//! A single buffered HTTP exchange, for token calls.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::{AuthError, BoxError, ErrorKind};

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
    /// What kind of failure this is: no connection, a timeout or a dropped connection are
    /// [`Transient`](ErrorKind::Transient); a failed TLS handshake is
    /// [`Config`](ErrorKind::Config) (the roots or the client certificate do not fit the server);
    /// a body over the cap is [`Response`](ErrorKind::Response); a request refused before
    /// sending is [`Client`](ErrorKind::Client).
    pub fn kind(&self) -> ErrorKind {
        match self {
            ExchangeError::Connect { .. } | ExchangeError::Timeout | ExchangeError::Io { .. } => {
                ErrorKind::Transient
            }
            ExchangeError::Tls { .. } => ErrorKind::Config,
            ExchangeError::BodyTooLarge { .. } => ErrorKind::Response,
            ExchangeError::InvalidRequest { .. } => ErrorKind::Client,
        }
    }

    /// Whether trying again later may succeed: `self.kind().is_retryable()`.
    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }
}

/// A failed exchange keeps its kind: a transient one is a credential that could not be obtained
/// for now ([`AuthError::Refused`] with `transient`), any other is [`AuthError::Other`].
impl From<ExchangeError> for AuthError {
    fn from(e: ExchangeError) -> Self {
        match e.kind() {
            ErrorKind::Transient => AuthError::refused(e, true),
            kind => AuthError::other(e, kind),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_survive_conversion() {
        let cases = [
            ExchangeError::Connect {
                source: "refused".into(),
            },
            ExchangeError::Tls {
                source: "unknown issuer".into(),
            },
            ExchangeError::Timeout,
            ExchangeError::BodyTooLarge { limit: 10 },
            ExchangeError::InvalidRequest {
                message: "relative URL".into(),
            },
            ExchangeError::Io {
                source: "reset".into(),
            },
        ];
        for e in cases {
            let (kind, retryable) = (e.kind(), e.is_retryable());
            let auth = AuthError::from(e);
            assert_eq!(auth.kind(), kind);
            assert_eq!(auth.is_retryable(), retryable);
            let src =
                std::error::Error::source(&auth).and_then(|s| s.downcast_ref::<ExchangeError>());
            assert!(src.is_some(), "{auth:?}");
        }
        assert!(ExchangeError::Timeout.is_retryable());
        assert!(!ExchangeError::BodyTooLarge { limit: 1 }.is_retryable());
    }
}
