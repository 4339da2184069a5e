//! oauth2's [`AsyncHttpClient`] adapted onto snow-core's [`HttpExchange`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, Ordering};

use oauth2::{AsyncHttpClient, HttpRequest, HttpResponse};
use snow_core::{ExchangeError, HttpExchange};

/// Why the adapter produced no response for oauth2.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ExchangeFailure {
    /// The exchange failed.
    #[error(transparent)]
    Exchange(#[from] ExchangeError),
    /// The endpoint answered with a redirect, which is never followed.
    #[error("redirect (HTTP {0}) refused")]
    Redirect(u16),
}

/// One token call's HTTP client: sends through the exchange, refuses redirects, and remembers the
/// response status (oauth2's errors do not carry it).
#[derive(Debug)]
pub(crate) struct ExchangeClient {
    exchange: Arc<dyn HttpExchange>,
    status: AtomicU16,
}

impl ExchangeClient {
    pub(crate) fn new(exchange: Arc<dyn HttpExchange>) -> Self {
        ExchangeClient {
            exchange,
            status: AtomicU16::new(0),
        }
    }

    /// Status of the last response received, if any.
    pub(crate) fn status(&self) -> Option<u16> {
        match self.status.load(Ordering::Relaxed) {
            0 => None,
            s => Some(s),
        }
    }

    /// Send one request; a `3xx` is an error.
    pub(crate) async fn send(&self, request: HttpRequest) -> Result<HttpResponse, ExchangeFailure> {
        let response = self.exchange.exchange(request).await?;
        let status = response.status();
        self.status.store(status.as_u16(), Ordering::Relaxed);
        if status.is_redirection() {
            return Err(ExchangeFailure::Redirect(status.as_u16()));
        }
        Ok(response)
    }
}

impl<'c> AsyncHttpClient<'c> for ExchangeClient {
    type Error = ExchangeFailure;
    type Future = Pin<Box<dyn Future<Output = Result<HttpResponse, ExchangeFailure>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(self.send(request))
    }
}
