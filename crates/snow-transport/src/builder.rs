//! Configuring a [`Transport`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, USER_AGENT};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use snow_core::{Authenticator, BoxError, Instance, NoAuth};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::retry::RetryLayer;
use tower::timeout::TimeoutLayer;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceExt};

use crate::body::{Body, DEFAULT_MAX_RESPONSE_BODY, ResponseBody};
use crate::client::HyperService;
use crate::error::{BuildError, TransportError};
use crate::layer::{
    AuthLayer, BaseUriLayer, BodyLimitLayer, DefaultHeadersLayer, RetryPolicy, TotalTimeoutLayer,
};
use crate::proxy::{Connector, Proxy};
use crate::retry::RetryConfig;
use crate::tls::TlsConfig;
use crate::transport::{SnowService, Transport};

/// The default `User-Agent`: `snow/<version of this crate>`.
pub const DEFAULT_USER_AGENT: &str = concat!("snow/", env!("CARGO_PKG_VERSION"));

type LayerFn = Arc<dyn Fn(SnowService) -> SnowService + Send + Sync>;
type InnerFn = Box<dyn FnOnce(BodyLimitLayer) -> SnowService + Send>;

/// The settings of a transport, as shown by `Debug`.
#[derive(Clone)]
pub(crate) struct Settings {
    pub(crate) auth: Arc<dyn Authenticator>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) timeout: Option<Duration>,
    pub(crate) total_timeout: Option<Duration>,
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) pool_idle_timeout: Option<Duration>,
    pub(crate) max_response_body: usize,
    pub(crate) concurrency_limit: Option<usize>,
    pub(crate) retry: RetryConfig,
    pub(crate) headers: HeaderMap,
    pub(crate) proxy: Option<Proxy>,
    pub(crate) tls: TlsConfig,
    pub(crate) layers: usize,
    pub(crate) custom_inner_service: bool,
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Header values are not shown: a caller's default header may carry a credential.
        let header_names: Vec<&str> = self.headers.keys().map(HeaderName::as_str).collect();
        f.debug_struct("Settings")
            .field("auth", &self.auth)
            .field("connect_timeout", &self.connect_timeout)
            .field("timeout", &self.timeout)
            .field("total_timeout", &self.total_timeout)
            .field("read_timeout", &self.read_timeout)
            .field("pool_idle_timeout", &self.pool_idle_timeout)
            .field("max_response_body", &self.max_response_body)
            .field("concurrency_limit", &self.concurrency_limit)
            .field("retry", &self.retry)
            .field("default_headers", &header_names)
            .field("proxy", &self.proxy)
            .field("tls", &self.tls)
            .field("layers", &self.layers)
            .field("custom_inner_service", &self.custom_inner_service)
            .finish()
    }
}

/// Configures and builds a [`Transport`]. Every method takes and returns the builder;
/// [`build`](Self::build) reports any invalid setting.
///
/// Defaults: no authentication ([`NoAuth`]); connect timeout 10 s; per-attempt timeout 60 s (until
/// the response head); body read timeout 60 s (longest wait for the next piece of body); no total
/// timeout; idle pooled connections closed after 90 s; response bodies capped at 128 MiB; no
/// concurrency limit; [`RetryConfig::default`]; `User-Agent: snow/<version>`,
/// `Accept: application/json`; Mozilla's roots; no proxy.
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
    settings: Settings,
    user_agent: Option<String>,
    layers: Vec<LayerFn>,
    inner: Option<InnerFn>,
    error: Option<BuildError>,
}

impl TransportBuilder {
    pub(crate) fn new(instance: Instance) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        Self {
            instance,
            settings: Settings {
                auth: Arc::new(NoAuth),
                connect_timeout: Some(Duration::from_secs(10)),
                timeout: Some(Duration::from_secs(60)),
                total_timeout: None,
                read_timeout: Some(Duration::from_secs(60)),
                pool_idle_timeout: Some(Duration::from_secs(90)),
                max_response_body: DEFAULT_MAX_RESPONSE_BODY,
                concurrency_limit: None,
                retry: RetryConfig::default(),
                headers,
                proxy: None,
                tls: TlsConfig::default(),
                layers: 0,
                custom_inner_service: false,
            },
            user_agent: None,
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
        self.settings.auth = Arc::new(auth);
        self
    }

    /// Authenticate with an authenticator that is already shared.
    #[must_use]
    pub fn auth_arc(mut self, auth: Arc<dyn Authenticator>) -> Self {
        self.settings.auth = auth;
        self
    }

    /// How long to wait for a TCP connection (to the instance or the proxy).
    #[must_use]
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.settings.connect_timeout = Some(d);
        self
    }

    /// How long one attempt may wait for the response head (connect, TLS, send, server time).
    #[must_use]
    pub fn timeout(mut self, d: Duration) -> Self {
        self.settings.timeout = Some(d);
        self
    }

    /// A deadline for the whole call: waiting for a concurrency slot, every attempt, backoffs and
    /// reading the body.
    #[must_use]
    pub fn total_timeout(mut self, d: Duration) -> Self {
        self.settings.total_timeout = Some(d);
        self
    }

    /// How long reading the response body may wait for the next piece of data.
    #[must_use]
    pub fn read_timeout(mut self, d: Duration) -> Self {
        self.settings.read_timeout = Some(d);
        self
    }

    /// Close pooled connections idle for longer than this.
    #[must_use]
    pub fn pool_idle_timeout(mut self, d: Duration) -> Self {
        self.settings.pool_idle_timeout = Some(d);
        self
    }

    /// Refuse response bodies larger than `bytes` (default 128 MiB).
    #[must_use]
    pub fn max_response_body(mut self, bytes: usize) -> Self {
        self.settings.max_response_body = bytes;
        self
    }

    /// At most `n` requests in flight at once through this transport (and its clones); others wait.
    #[must_use]
    pub fn concurrency_limit(mut self, n: usize) -> Self {
        self.settings.concurrency_limit = Some(n);
        self
    }

    /// The retry settings ([`RetryConfig::disabled`] turns retries off).
    #[must_use]
    pub fn retry(mut self, retry: RetryConfig) -> Self {
        self.settings.retry = retry;
        self
    }

    /// Send this header on every request that does not set it (replaces an earlier default of
    /// the same name, `Accept` included).
    ///
    /// Credential headers (`Authorization`, `Proxy-Authorization`, `Cookie`, `x-sn-apikey`) and
    /// values already marked sensitive are marked sensitive, and are not sent with token calls
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
                self.settings.headers.insert(n, v);
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
        self.settings.proxy = Some(proxy);
        self
    }

    /// TLS settings: roots, extra CAs, client identity.
    #[must_use]
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.settings.tls = tls;
        self
    }

    /// Add a tower layer of your own on top of the stack (outside everything but the total
    /// timeout). The first layer added is the outermost.
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
        self.settings.layers += 1;
        self.layers.push(Arc::new(move |svc| {
            BoxCloneSyncService::new(layer.layer(svc).map_err(Into::into))
        }));
        self
    }

    /// Replace the hyper client at the bottom of the stack with your own service (a session with
    /// its own connector, a recorder, a test double). Everything above it (limits, retry,
    /// timeouts, base URI, auth, the body cap) still applies; the TLS, proxy, connect-timeout and
    /// pool settings do not, since they configure the replaced client. Token calls go through it
    /// too.
    #[must_use]
    pub fn inner_service<S, B>(mut self, service: S) -> Self
    where
        S: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.settings.custom_inner_service = true;
        self.inner = Some(Box::new(move |limit: BodyLimitLayer| {
            BoxCloneSyncService::new(limit.layer(service))
        }));
        self
    }

    /// Build the transport. Needs no async runtime; using it needs Tokio.
    pub fn build(self) -> Result<Transport, BuildError> {
        let Self {
            instance,
            mut settings,
            user_agent,
            layers,
            inner,
            error,
        } = self;
        if let Some(e) = error {
            return Err(e);
        }
        if settings.retry.max_attempts == 0 {
            return Err(BuildError::Config {
                message: "retry max_attempts must be at least 1".into(),
            });
        }
        if settings.concurrency_limit == Some(0) {
            return Err(BuildError::Config {
                message: "the concurrency limit must be at least 1".into(),
            });
        }
        if settings
            .concurrency_limit
            .is_some_and(|n| n > tokio::sync::Semaphore::MAX_PERMITS)
        {
            return Err(BuildError::Config {
                message: format!(
                    "the concurrency limit must be at most {}",
                    tokio::sync::Semaphore::MAX_PERMITS
                ),
            });
        }
        let ua = user_agent.as_deref().unwrap_or(DEFAULT_USER_AGENT);
        let ua = HeaderValue::from_str(ua).map_err(|_| BuildError::InvalidHeader {
            name: USER_AGENT.as_str().to_owned(),
        })?;
        if !settings.headers.contains_key(USER_AGENT) || user_agent.is_some() {
            settings.headers.insert(USER_AGENT, ua);
        }

        let body_limit = BodyLimitLayer::new(settings.max_response_body, settings.read_timeout);
        let inner: SnowService = match inner {
            Some(make) => make(body_limit),
            None => BoxCloneSyncService::new(body_limit.layer(hyper_service(&settings)?)),
        };

        let headers = DefaultHeadersLayer::new(settings.headers.clone());
        let stack = Stack {
            inner: inner.clone(),
            layers: layers.into(),
            semaphore: settings
                .concurrency_limit
                .map(|n| Arc::new(tokio::sync::Semaphore::new(n))),
        };
        let svc = stack.main_service(&instance, &settings);

        // Token calls: no auth, no origin restriction, no retry. Token endpoints on another
        // origin (an external identity provider) get no credential-bearing default header.
        let mut exchange = inner;
        if let Some(t) = settings.timeout {
            exchange = BoxCloneSyncService::new(TimeoutLayer::new(t).layer(exchange));
        }
        let mut public_headers = HeaderMap::new();
        for (name, value) in &settings.headers {
            if !value.is_sensitive() && !is_credential_header(name) {
                public_headers.append(name.clone(), value.clone());
            }
        }
        let foreign = finish_exchange(
            BoxCloneSyncService::new(
                DefaultHeadersLayer::new(public_headers).layer(exchange.clone()),
            ),
            settings.total_timeout,
        );
        let exchange = finish_exchange(
            BoxCloneSyncService::new(headers.layer(exchange)),
            settings.total_timeout,
        );

        Ok(Transport::from_parts(
            instance, svc, exchange, foreign, settings, stack,
        ))
    }
}

/// What it takes to (re)build the main stack around the shared inner client: [`Transport::with_auth`]
/// builds a second stack with another authenticator over the same pool, TLS, proxy and limits.
#[derive(Clone)]
pub(crate) struct Stack {
    /// The hyper client (or the caller's inner service) with the body cap: shared, so is the pool.
    inner: SnowService,
    /// The caller's layers, outermost last.
    layers: Arc<[LayerFn]>,
    /// The concurrency limit, shared by every stack built from one builder.
    semaphore: Option<Arc<tokio::sync::Semaphore>>,
}

impl Stack {
    /// The main stack, inner to outer: body cap + client, auth, base URI, per-attempt timeout,
    /// retry, concurrency limit, default headers, the caller's layers, total timeout.
    pub(crate) fn main_service(&self, instance: &Instance, settings: &Settings) -> SnowService {
        let mut svc: SnowService = BoxCloneSyncService::new(
            AuthLayer::new(settings.auth.clone(), instance.clone()).layer(self.inner.clone()),
        );
        svc = BoxCloneSyncService::new(BaseUriLayer::new(instance.clone()).layer(svc));
        if let Some(t) = settings.timeout {
            svc = BoxCloneSyncService::new(TimeoutLayer::new(t).layer(svc));
        }
        svc = BoxCloneSyncService::new(
            RetryLayer::new(RetryPolicy::new(settings.retry.clone())).layer(svc),
        );
        if let Some(semaphore) = &self.semaphore {
            svc = BoxCloneSyncService::new(
                GlobalConcurrencyLimitLayer::with_semaphore(semaphore.clone()).layer(svc),
            );
        }
        svc =
            BoxCloneSyncService::new(DefaultHeadersLayer::new(settings.headers.clone()).layer(svc));
        for layer in self.layers.iter().rev() {
            svc = layer(svc);
        }
        if let Some(t) = settings.total_timeout {
            svc = BoxCloneSyncService::new(TotalTimeoutLayer::new(t).layer(svc));
        }
        BoxCloneSyncService::new(svc.map_err(typed))
    }
}

fn finish_exchange(mut exchange: SnowService, total_timeout: Option<Duration>) -> SnowService {
    if let Some(t) = total_timeout {
        exchange = BoxCloneSyncService::new(TotalTimeoutLayer::new(t).layer(exchange));
    }
    BoxCloneSyncService::new(exchange.map_err(typed))
}

/// Headers that carry credentials, whatever their value.
fn is_credential_header(name: &HeaderName) -> bool {
    name == http::header::AUTHORIZATION
        || name == http::header::PROXY_AUTHORIZATION
        || name == http::header::COOKIE
        || name.as_str() == API_KEY_HEADER
}

/// The header ServiceNow reads API keys from (spelt out here: snow-transport does not depend on
/// snow-basic).
const API_KEY_HEADER: &str = "x-sn-apikey";

/// Every error leaving the transport is a boxed [`TransportError`].
fn typed(e: BoxError) -> BoxError {
    TransportError::from(e).boxed()
}

fn hyper_service(settings: &Settings) -> Result<HyperService, BuildError> {
    let tls = settings.tls.client_config()?;
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(settings.connect_timeout);
    let connector = match &settings.proxy {
        Some(proxy) => Connector::Tunnel(proxy.tunnel(http)?),
        None => Connector::Direct(http),
    };
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(connector);
    let mut builder = Client::builder(TokioExecutor::new());
    // The pool timer is what makes the idle timeout take effect.
    builder
        .pool_timer(TokioTimer::new())
        .timer(TokioTimer::new())
        .pool_idle_timeout(settings.pool_idle_timeout);
    Ok(HyperService {
        client: builder.build(https),
    })
}

impl fmt::Debug for TransportBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportBuilder")
            .field("instance", &self.instance)
            .field("settings", &self.settings)
            .field("user_agent", &self.user_agent)
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}
