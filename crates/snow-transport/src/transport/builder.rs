//! Configuring a [`Transport`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use snow_core::{Authenticator, BoxError, Instance, NoAuth, is_credential_header};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::retry::RetryLayer;
use tower::timeout::TimeoutLayer;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceExt};

use super::Transport;
use super::stack::{CallerLayer, CallerLayers, ClientService, SnowService, Stack, client_service};
use crate::body::{Body, DEFAULT_MAX_RESPONSE_BODY, ResponseBody};
use crate::client::HyperService;
use crate::error::BuildError;
use crate::layer::{
    AttemptLayer, BodyLimitLayer, DefaultHeadersLayer, ObserveLayer, RetryPolicy, TotalTimeoutLayer,
};
use crate::proxy::Proxy;
use crate::rate_limit::RateLimitConfig;
use crate::retry::RetryConfig;
use crate::stats::Counters;
use crate::tls::TlsConfig;

/// The default `User-Agent`: `snow/<version of this crate>`.
pub const DEFAULT_USER_AGENT: &str = concat!("snow/", env!("CARGO_PKG_VERSION"));

/// The default deadline for a whole call, body included: 5 minutes.
///
/// The bound ServiceNow itself puts on an inbound request, and long enough for a 10,000-record
/// page from a slow instance: its Table API cancels a transaction after about a minute of server
/// time (the body is streamed within it), the three default attempts with their per-attempt
/// timeouts take at most three minutes, and the rest leaves time for tens of megabytes of
/// records to arrive. Short enough that a server trickling its answer cannot hold a caller for
/// ever. Change it with [`TransportBuilder::total_timeout`], turn it off with
/// [`TransportBuilder::no_total_timeout`] (for very large downloads, say).
pub const DEFAULT_TOTAL_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Configures and builds a [`Transport`]. Every method takes and returns the builder;
/// [`build`](Self::build) reports any invalid setting.
///
/// Defaults: no authentication ([`NoAuth`]); connect timeout 10 s; per-attempt timeout 60 s (until
/// the response head); body read timeout 60 s (longest wait for the next piece of body); total
/// timeout 5 minutes ([`DEFAULT_TOTAL_TIMEOUT`], the whole call, body included); idle pooled
/// connections closed after 90 s; response bodies capped at 128 MiB; no concurrency limit;
/// [`RetryConfig::default`]; `User-Agent: snow/<version>`, `Accept: application/json`; Mozilla's
/// roots; no proxy.
///
/// So with the defaults no call can stall for ever: a server that stops answering, sends a head
/// and then nothing, or trickles its answer a byte at a time ends in a
/// [`TransportError::Timeout`](crate::TransportError::Timeout) within [`DEFAULT_TOTAL_TIMEOUT`].
///
/// ```
/// use std::time::Duration;
/// use snow_transport::{Instance, Proxy, RetryConfig, TlsConfig, Transport};
/// use snow_basic::BasicAuth;
///
/// let transport = Transport::builder(Instance::from_name("acme")?)
///     .auth(BasicAuth::new("admin", "s3cret"))
///     .connect_timeout(Duration::from_secs(5))
///     .timeout(Duration::from_secs(30))
///     .total_timeout(Duration::from_secs(120))
///     .max_response_body(16 * 1024 * 1024)
///     .concurrency_limit(8)
///     .retry(RetryConfig::default().max_attempts(4))
///     .default_header("x-requested-by", "nightly-sync")
///     .proxy(Proxy::http("http://proxy.corp.example:3128"))
///     .tls(TlsConfig::default())
///     .build()?;
/// assert!(!format!("{transport:?}").contains("s3cret"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TransportBuilder {
    instance: Instance,
    auth: Arc<dyn Authenticator>,
    connect_timeout: Option<Duration>,
    timeout: Option<Duration>,
    total_timeout: Option<Duration>,
    read_timeout: Option<Duration>,
    pool_idle_timeout: Option<Duration>,
    max_response_body: usize,
    concurrency_limit: Option<usize>,
    retry: RetryConfig,
    rate_limits: RateLimitConfig,
    headers: HeaderMap,
    user_agent: Option<String>,
    proxy: Option<Proxy>,
    tls: TlsConfig,
    layers: Vec<CallerLayer>,
    inner: Option<ClientService>,
    error: Option<BuildError>,
}

impl TransportBuilder {
    pub(crate) fn new(instance: Instance) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        Self {
            instance,
            auth: Arc::new(NoAuth),
            connect_timeout: Some(Duration::from_secs(10)),
            timeout: Some(Duration::from_secs(60)),
            total_timeout: Some(DEFAULT_TOTAL_TIMEOUT),
            read_timeout: Some(Duration::from_secs(60)),
            pool_idle_timeout: Some(Duration::from_secs(90)),
            max_response_body: DEFAULT_MAX_RESPONSE_BODY,
            concurrency_limit: None,
            retry: RetryConfig::default(),
            rate_limits: RateLimitConfig::default(),
            headers,
            user_agent: None,
            proxy: None,
            tls: TlsConfig::default(),
            layers: Vec::new(),
            inner: None,
            error: None,
        }
    }

    fn fail(&mut self, e: BuildError) {
        self.error.get_or_insert(e);
    }

    /// Authenticate requests with `auth` (any [`Authenticator`]; held as `Arc<dyn Authenticator>`).
    #[must_use]
    pub fn auth(mut self, auth: impl Authenticator) -> Self {
        self.auth = Arc::new(auth);
        self
    }

    /// Authenticate with an authenticator that is already shared.
    #[must_use]
    pub fn auth_arc(mut self, auth: Arc<dyn Authenticator>) -> Self {
        self.auth = auth;
        self
    }

    /// How long to wait for a TCP connection (to the instance or the proxy).
    #[must_use]
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = Some(d);
        self
    }

    /// How long one attempt may wait for the response head (connect, TLS, send, server time).
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = Some(d);
        self
    }

    /// A deadline for the whole call: waiting for a concurrency slot, every attempt, backoffs and
    /// reading the body (default [`DEFAULT_TOTAL_TIMEOUT`], 5 minutes). A body still arriving
    /// when it passes fails with [`TimeoutKind::Total`](crate::TimeoutKind::Total).
    #[must_use]
    pub fn total_timeout(mut self, d: Duration) -> Self {
        self.total_timeout = Some(d);
        self
    }

    /// No deadline for the whole call: only the connect, per-attempt and read timeouts apply, so
    /// a server trickling its body can hold the call as long as it keeps sending. For downloads
    /// that may legitimately take longer than any fixed bound.
    #[must_use]
    pub fn no_total_timeout(mut self) -> Self {
        self.total_timeout = None;
        self
    }

    /// How long reading the response body may wait for the next piece of data.
    #[must_use]
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.read_timeout = Some(d);
        self
    }

    /// Close pooled connections idle for longer than this.
    #[must_use]
    pub fn pool_idle_timeout(mut self, d: Duration) -> Self {
        self.pool_idle_timeout = Some(d);
        self
    }

    /// Refuse response bodies larger than `bytes` (default 128 MiB).
    #[must_use]
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.max_response_body = bytes;
        self
    }

    /// At most `n` requests in flight at once through this transport (and its clones); others wait.
    #[must_use]
    pub fn concurrency_limit(mut self, n: usize) -> Self {
        self.concurrency_limit = Some(n);
        self
    }

    /// The retry settings ([`RetryConfig::disabled`] turns retries off).
    #[must_use]
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.retry = retry;
        self
    }

    /// How to keep within the instance's rate-limit rules: pacing (on by default) and the cap
    /// on time a request spends waiting for them ([`RateLimitConfig`]).
    #[must_use]
    pub fn rate_limits(mut self, rate_limits: RateLimitConfig) -> Self {
        self.rate_limits = rate_limits;
        self
    }

    /// Send this header on every request that does not set it (replaces an earlier default of
    /// the same name, `Accept` included).
    ///
    /// Credential headers ([`snow_core::is_credential_header`]: `Authorization`,
    /// `Proxy-Authorization`, `Cookie`, `x-sn-apikey`, `X-UserToken`, ...) and values already
    /// marked sensitive are marked sensitive, and are not sent with token calls
    /// ([`HttpExchange`](snow_core::HttpExchange)) to any origin other than the instance.
    #[must_use]
    pub fn default_header<V>(mut self, name: impl AsRef<str>, value: V) -> Self
    where
        V: TryInto<HeaderValue>,
    {
        let name_str = name.as_ref();
        match (HeaderName::try_from(name_str), value.try_into()) {
            (Ok(n), Ok(mut v)) => {
                if is_credential_header(&n) {
                    v.set_sensitive(true);
                }
                self.headers.insert(n, v);
            }
            _ => self.fail(BuildError::InvalidHeader {
                name: name_str.to_owned(),
            }),
        }
        self
    }

    /// Replace the default `User-Agent` (`snow/<version>`).
    #[must_use]
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = Some(user_agent.into());
        self
    }

    /// Go through an HTTP CONNECT proxy, for every call including token calls.
    #[must_use]
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// TLS settings: roots, extra CAs, client identity.
    #[must_use]
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Add a tower layer of your own on top of the stack (outside everything but the total
    /// timeout). The first layer added is the outermost.
    ///
    /// A layer may run on another task than the caller's (snow-client runs concurrent requests
    /// of one task on tasks of the runtime): read per-request context from the request's
    /// extensions, not from task-local or thread-local values.
    ///
    /// ```
    /// use snow_transport::{Instance, Transport};
    ///
    /// // Count requests with a layer written inline.
    /// let counter = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    /// let seen = counter.clone();
    /// let transport = Transport::builder(Instance::from_name("acme")?)
    ///     .layer(tower::layer::layer_fn(move |svc: snow_transport::SnowService| {
    ///         let seen = seen.clone();
    ///         tower::ServiceExt::map_request(svc, move |req: http::Request<snow_transport::Body>| {
    ///             seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    ///             req
    ///         })
    ///     }))
    ///     .build()?;
    /// # let _ = transport;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<SnowService> + Send + Sync + 'static,
        L::Service: Service<Request<Body>, Response = Response<ResponseBody>>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<Request<Body>>>::Error: Into<BoxError>,
        <L::Service as Service<Request<Body>>>::Future: Send + 'static,
    {
        self.layers.push(Arc::new(move |svc| {
            BoxCloneSyncService::new(layer.layer(svc).map_err(Into::into))
        }));
        self
    }

    /// Replace the hyper client at the bottom of the stack with your own service (a session with
    /// its own connector, a recorder, a test double). Everything above it (limits, retry,
    /// timeouts, the origin check, auth, the body cap) still applies; the TLS, proxy, connect-timeout and
    /// pool settings do not, since they configure the replaced client. Token calls go through it
    /// too. The service is cloned for each request and made ready then (tower's `oneshot`), after
    /// authentication: time it spends not ready counts against the per-attempt timeout.
    #[must_use]
    pub fn inner_service<S, B>(mut self, service: S) -> Self
    where
        S: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.inner = Some(client_service(service));
        self
    }

    /// Build the transport. Needs no async runtime; using it needs Tokio.
    pub fn build(self) -> Result<Transport, BuildError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if self.retry.max_attempts == 0 {
            return Err(BuildError::Config {
                message: "retry max_attempts must be at least 1".into(),
            });
        }
        if let Some(problem) = self.rate_limits.problem() {
            return Err(BuildError::Config {
                message: problem.into(),
            });
        }
        let semaphore = match self.concurrency_limit {
            None => None,
            Some(0) => {
                return Err(BuildError::Config {
                    message: "the concurrency limit must be at least 1".into(),
                });
            }
            Some(n) if n > tokio::sync::Semaphore::MAX_PERMITS => {
                return Err(BuildError::Config {
                    message: format!(
                        "the concurrency limit must be at most {}",
                        tokio::sync::Semaphore::MAX_PERMITS
                    ),
                });
            }
            Some(n) => Some(Arc::new(tokio::sync::Semaphore::new(n))),
        };
        let mut headers = self.headers;
        let ua = self.user_agent.as_deref().unwrap_or(DEFAULT_USER_AGENT);
        let ua = HeaderValue::from_str(ua).map_err(|_| BuildError::InvalidHeader {
            name: USER_AGENT.as_str().to_owned(),
        })?;
        if !headers.contains_key(USER_AGENT) || self.user_agent.is_some() {
            headers.insert(USER_AGENT, ua);
        }
        let client = match self.inner {
            Some(client) => client,
            None => ClientService::Hyper(HyperService::new(
                &self.tls,
                self.proxy.as_ref(),
                self.connect_timeout,
                self.pool_idle_timeout,
            )?),
        };
        let counters = Arc::new(Counters::default());
        let stack = Stack {
            observe: ObserveLayer::new(counters.clone(), self.rate_limits.max_wait),
            total_timeout: self.total_timeout.map(TotalTimeoutLayer::new),
            caller_layers: CallerLayers::new(self.layers),
            default_headers: DefaultHeadersLayer::new(headers),
            concurrency_limit: semaphore.map(GlobalConcurrencyLimitLayer::with_semaphore),
            retry: RetryLayer::new(RetryPolicy::new(self.retry)),
            attempt: AttemptLayer::new(counters.clone()),
            rate_limits: self.rate_limits,
            attempt_timeout: self.timeout.map(TimeoutLayer::new),
            instance: self.instance.clone(),
            body_limit: BodyLimitLayer::new(self.max_response_body, self.read_timeout),
            client,
            counters,
        };
        Ok(Transport::new(self.instance, self.auth, stack))
    }
}

impl fmt::Debug for TransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are not shown: a caller's default header may carry a credential.
        let header_names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("TransportBuilder")
            .field("instance", &self.instance)
            .field("auth", &self.auth)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("total_timeout", &self.total_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("max_response_body", &self.max_response_body)
            .field("concurrency_limit", &self.concurrency_limit)
            .field("retry", &self.retry)
            .field("rate_limits", &self.rate_limits)
            .field("default_headers", &header_names)
            .field("user_agent", &self.user_agent)
            .field("proxy", &self.proxy)
            .field("tls", &self.tls)
            .field("layers", &self.layers.len())
            .field("custom_inner_service", &self.inner.is_some())
            .field("error", &self.error)
            .finish()
    }
}
