//! The stack every request goes through, assembled from its layers in one place.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use snow_core::{Authenticator, BoxError, Instance};
use tower::limit::GlobalConcurrencyLimitLayer;
use tower::retry::RetryLayer;
use tower::timeout::TimeoutLayer;
use tower::util::BoxCloneSyncService;
use tower::{Layer, Service, ServiceBuilder, ServiceExt};

use crate::body::{Body, ResponseBody};
use crate::client::HyperService;
use crate::client_body::ClientBody;
use crate::error::TransportError;
use crate::layer::{
    AttemptLayer, AuthLayer, BodyLimitLayer, DefaultHeadersLayer, ObserveLayer, RateLimitLayer,
    RetryPolicy, TotalTimeoutLayer,
};
use crate::layer::{BoxFuture, ReadyCall};
use crate::pacer::Pacer;
use crate::rate_limit::RateLimitConfig;
use crate::stats::Counters;

/// The transport as one erased tower service: `Clone + Send + Sync`, errors are `BoxError`s that
/// downcast to [`TransportError`].
pub type SnowService = BoxCloneSyncService<Request<Body>, Response<ResponseBody>, BoxError>;

/// The main stack as [`Transport::send`](crate::Transport::send) calls it: the stack's own type
/// behind a shared reference, so that a call clones the stack's layers (reference counts) and
/// boxes its future once, where calling a [`SnowService`] boxes a copy of the service as well.
pub(crate) trait Call: Send + Sync {
    fn call(&self, req: Request<Body>) -> BoxFuture<Result<Response<ResponseBody>, BoxError>>;
}

impl<S> Call for S
where
    S: Service<Request<Body>, Response = Response<ResponseBody>, Error = BoxError>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send + 'static,
{
    fn call(&self, req: Request<Body>) -> BoxFuture<Result<Response<ResponseBody>, BoxError>> {
        Box::pin(ReadyCall::new(&mut self.clone(), req))
    }
}

/// The HTTP client at the bottom of the stack: the transport's own hyper-util client, or the
/// caller's inner service, erased and shared. Every stack built from one builder holds the same
/// one, and so shares its connection pool. The layers above clone it for every request, which
/// costs one reference count (a boxed clonable service would allocate a copy each time); the
/// transport's own client is called without boxing its future or its body.
#[derive(Clone)]
pub(crate) enum ClientService {
    /// The transport's own client.
    Hyper(HyperService),
    /// The caller's inner service.
    Custom(Arc<dyn SendRequest>),
}

impl fmt::Debug for ClientService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientService")
    }
}

/// Sending one request through a shared service.
pub(crate) trait SendRequest: Send + Sync {
    fn send(&self, req: Request<Body>) -> BoxFuture<Result<Response<ClientBody>, BoxError>>;
}

/// A tower service, cloned for each request it sends (calling one takes `&mut self`).
struct Shared<S>(S);

impl<S, B> SendRequest for Shared<S>
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn send(&self, req: Request<Body>) -> BoxFuture<Result<Response<ClientBody>, BoxError>> {
        let fut = self.0.clone().oneshot(req);
        Box::pin(async move {
            let resp = fut.await.map_err(Into::into)?;
            Ok(resp.map(ClientBody::new))
        })
    }
}

impl Service<Request<Body>> for ClientService {
    type Response = Response<ClientBody>;
    type Error = BoxError;
    type Future = ClientFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        match self {
            ClientService::Hyper(client) => ClientFuture::Hyper {
                call: client.call(req),
            },
            ClientService::Custom(client) => ClientFuture::Custom {
                call: client.send(req),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`ClientService`].
    #[project = ClientFutureProj]
    pub(crate) enum ClientFuture {
        Hyper {
            #[pin]
            call: <HyperService as Service<Request<Body>>>::Future,
        },
        Custom {
            call: BoxFuture<Result<Response<ClientBody>, BoxError>>,
        },
    }
}

impl Future for ClientFuture {
    type Output = Result<Response<ClientBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ClientFutureProj::Hyper { call } => {
                call.poll(cx).map_ok(|resp| resp.map(ClientBody::Hyper))
            }
            ClientFutureProj::Custom { call } => call.as_mut().poll(cx),
        }
    }
}

/// Erase a caller's HTTP client service into a [`ClientService`].
pub(crate) fn client_service<S, B>(service: S) -> ClientService
where
    S: Service<Request<Body>, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    ClientService::Custom(Arc::new(Shared(service)))
}

/// One of the caller's layers, kept as a function so that every stack built from one builder
/// ([`Transport::with_auth`](crate::Transport::with_auth)) applies it again.
pub(crate) type CallerLayer = Arc<dyn Fn(SnowService) -> SnowService + Send + Sync>;

/// The caller's layers as one layer: the first one added is the outermost.
#[derive(Clone, Default)]
pub(crate) struct CallerLayers(Arc<[CallerLayer]>);

impl CallerLayers {
    pub(crate) fn new(layers: Vec<CallerLayer>) -> Self {
        Self(layers.into())
    }

    /// These layers, or `None` when there are none (the stack then needs no erasure for them).
    pub(crate) fn non_empty(&self) -> Option<Self> {
        (!self.0.is_empty()).then(|| self.clone())
    }
}

impl fmt::Debug for CallerLayers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallerLayers({})", self.0.len())
    }
}

impl<S> Layer<S> for CallerLayers
where
    S: Service<Request<Body>, Response = Response<ResponseBody>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Service = SnowService;

    fn layer(&self, inner: S) -> SnowService {
        let inner = BoxCloneSyncService::new(inner.map_err(Into::into));
        self.0.iter().rev().fold(inner, |svc, layer| layer(svc))
    }
}

/// The layers of a transport, outer to inner, as its builder configured them.
///
/// [`service`](Self::service) assembles them into the main stack (with the authenticator it is
/// given), [`exchange`](Self::exchange) and [`foreign_exchange`](Self::foreign_exchange) into the
/// stacks of token calls. The fields are the layers themselves, in the order they are stacked;
/// the builder fills them in once.
#[derive(Clone, Debug)]
pub(crate) struct Stack {
    /// A span per logical request, the counters, the cap on waiting for rate limits.
    pub(crate) observe: ObserveLayer,
    /// A deadline over the whole call, the body included.
    pub(crate) total_timeout: Option<TotalTimeoutLayer>,
    /// The caller's own layers.
    pub(crate) caller_layers: CallerLayers,
    /// `User-Agent`, `Accept` and the caller's default headers.
    pub(crate) default_headers: DefaultHeadersLayer,
    /// At most this many calls in flight, shared by every stack built from one builder.
    pub(crate) concurrency_limit: Option<GlobalConcurrencyLimitLayer>,
    /// Retries, with backoff and `Retry-After`.
    pub(crate) retry: RetryLayer<RetryPolicy>,
    /// A span per attempt; attempts, bytes sent and throttled answers counted.
    pub(crate) attempt: AttemptLayer,
    /// Pacing by the instance's rate-limit rules (a pacer per authenticated stack, since
    /// ServiceNow counts per user), and the classification of `429`s and `202`s.
    pub(crate) rate_limits: RateLimitConfig,
    /// A deadline for each attempt's response head.
    pub(crate) attempt_timeout: Option<TimeoutLayer>,
    /// Requests stay on the instance; the auth layer is built for it too.
    pub(crate) instance: Instance,
    /// The response body cap and read timeout.
    pub(crate) body_limit: BodyLimitLayer,
    /// The HTTP client, shared.
    pub(crate) client: ClientService,
    /// The counters every layer adds to, shared.
    pub(crate) counters: Arc<Counters>,
}

impl Stack {
    /// The main stack, authenticating with `auth`, outer to inner: observability (the
    /// request's span), total timeout, the caller's layers, default headers, concurrency limit,
    /// retry, the attempt's span, rate-limit pacing, per-attempt timeout, auth (which resolves
    /// the URI against the instance and refuses other origins, as [`BaseUriLayer`] would), body
    /// cap, HTTP client. Every error leaves it as a boxed [`TransportError`].
    ///
    /// [`BaseUriLayer`]: crate::layer::BaseUriLayer
    pub(crate) fn service(&self, auth: Arc<dyn Authenticator>) -> (SnowService, Arc<dyn Call>) {
        let pacer = Arc::new(Pacer::new(self.rate_limits.clone()));
        let stack = ServiceBuilder::new()
            .map_err(typed as fn(BoxError) -> BoxError)
            .layer(self.observe.clone())
            .option_layer(self.total_timeout)
            .option_layer(self.caller_layers.non_empty())
            .layer(self.default_headers.clone())
            .option_layer(self.concurrency_limit.clone())
            .layer(self.retry.clone())
            .layer(self.attempt.clone())
            .layer(RateLimitLayer::new(pacer))
            .option_layer(self.attempt_timeout.clone())
            .layer(AuthLayer::new(auth, self.instance.clone()))
            .layer(self.body_limit)
            .service(self.client.clone());
        (BoxCloneSyncService::new(stack.clone()), Arc::new(stack))
    }

    /// Token calls to the instance's own origin: observability, total timeout, default
    /// headers, the attempt's span, per-attempt timeout, body cap, HTTP client. No retry, no
    /// pacing, no authentication, no origin check.
    pub(crate) fn exchange(&self) -> SnowService {
        self.exchange_with(self.default_headers.clone())
    }

    /// Token calls to any other origin (an external identity provider): as
    /// [`exchange`](Self::exchange), without the default headers that carry credentials.
    pub(crate) fn foreign_exchange(&self) -> SnowService {
        self.exchange_with(self.default_headers.without_credentials())
    }

    fn exchange_with(&self, default_headers: DefaultHeadersLayer) -> SnowService {
        BoxCloneSyncService::new(
            ServiceBuilder::new()
                .map_err(typed as fn(BoxError) -> BoxError)
                .layer(self.observe.clone())
                .option_layer(self.total_timeout)
                .layer(default_headers)
                .layer(self.attempt.clone())
                .option_layer(self.attempt_timeout.clone())
                .layer(self.body_limit)
                .service(self.client.clone()),
        )
    }
}

/// Every error leaving the transport is a boxed [`TransportError`].
fn typed(e: BoxError) -> BoxError {
    TransportError::from(e).boxed()
}
