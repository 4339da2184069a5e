//! The transport handle; its builder and the assembly of its stack are child modules.

mod builder;
mod stack;

use std::fmt;
use std::sync::Arc;

use http::{Request, Response};
use snow_core::{Authenticator, ExchangeError, HttpExchange, Instance, async_trait};
use tower::ServiceExt;

use crate::body::{Body, ResponseBody};
use crate::error::TransportError;
use crate::stats::Stats;

pub use builder::{DEFAULT_TOTAL_TIMEOUT, DEFAULT_USER_AGENT, TransportBuilder};
pub use stack::SnowService;
use stack::{Call, Stack};

/// An HTTP transport bound to one ServiceNow instance: connection pool, TLS, proxy, timeouts,
/// retries, concurrency limit and authentication, as one cheap-to-clone handle.
///
/// Built with [`Transport::builder`]. Clones share the pool and the authenticator.
///
/// ```no_run
/// use snow_transport::{Body, Instance, Transport};
/// use snow_basic::BasicAuth;
///
/// # async fn doc() -> Result<(), Box<dyn std::error::Error>> {
/// let instance = Instance::from_name("acme")?;
/// let transport = Transport::builder(instance)
///     .auth(BasicAuth::new("admin", "s3cret"))
///     .build()?;
/// let req = http::Request::get("/api/now/table/incident?sysparm_limit=1").body(Body::empty())?;
/// let resp = transport.send(req).await?;
/// println!("{} {}", resp.status(), String::from_utf8_lossy(&resp.into_body().collect_bytes().await?));
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Transport {
    shared: Arc<Shared>,
}

struct Shared {
    instance: Instance,
    auth: Arc<dyn Authenticator>,
    service: SnowService,
    /// The same stack, as `send` calls it.
    call: Arc<dyn Call>,
    /// Token calls to the instance's own origin.
    exchange: SnowService,
    /// Token calls to any other origin: no credential-bearing default header.
    foreign_exchange: SnowService,
    /// The layers, to build the stack again with another authenticator.
    stack: Stack,
}

impl Transport {
    /// Start configuring a transport for `instance`.
    pub fn builder(instance: Instance) -> TransportBuilder {
        TransportBuilder::new(instance)
    }

    fn new(instance: Instance, auth: Arc<dyn Authenticator>, stack: Stack) -> Self {
        let (service, call) = stack.service(auth.clone());
        Self {
            shared: Arc::new(Shared {
                instance,
                service,
                call,
                exchange: stack.exchange(),
                foreign_exchange: stack.foreign_exchange(),
                auth,
                stack,
            }),
        }
    }

    /// A transport with the same connection pool, TLS, proxy, timeouts, retry policy, concurrency
    /// limit, default headers and layers, that authenticates with `auth` instead.
    ///
    /// This is how an authenticator whose credentials come from the instance itself (OAuth) makes
    /// its token calls with exactly the settings of the API calls: build the transport, hand it
    /// to the authenticator as its [`HttpExchange`], then authenticate API calls with
    /// `transport.with_auth(authenticator)`. The concurrency limit is shared by both handles.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use snow_core::{HttpExchange, Instance};
    /// use snow_transport::Transport;
    ///
    /// let base = Transport::builder(Instance::from_name("acme")?).build()?;
    /// let token_calls: Arc<dyn HttpExchange> = Arc::new(base.clone());
    /// # let _ = token_calls;
    /// // let oauth = OAuth::builder(...).exchange(token_calls).password(user, pw).build()?;
    /// let api = base.with_auth(snow_core::NoAuth);
    /// assert_eq!(api.instance(), base.instance());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_auth(&self, auth: impl Authenticator) -> Transport {
        self.with_auth_arc(Arc::new(auth))
    }

    /// [`with_auth`](Self::with_auth) for an authenticator that is already shared.
    pub fn with_auth_arc(&self, auth: Arc<dyn Authenticator>) -> Transport {
        let shared = &self.shared;
        let (service, call) = shared.stack.service(auth.clone());
        Self {
            shared: Arc::new(Shared {
                instance: shared.instance.clone(),
                service,
                call,
                exchange: shared.exchange.clone(),
                foreign_exchange: shared.foreign_exchange.clone(),
                auth,
                stack: shared.stack.clone(),
            }),
        }
    }

    /// The instance this transport talks to.
    pub fn instance(&self) -> &Instance {
        &self.shared.instance
    }

    /// Send a request through the whole stack: total timeout, the caller's layers, default
    /// headers, concurrency limit, retry, per-attempt timeout, authentication (after the origin
    /// check), HTTP.
    ///
    /// The URI may be a path (`/api/now/table/incident`, joined to the instance's base URL) or an
    /// absolute URL of the instance's origin; any other origin fails with
    /// [`TransportError::CrossOrigin`]. Redirects are returned as they are, never followed.
    /// Non-2xx statuses are responses, not errors.
    pub async fn send(&self, req: Request<Body>) -> Result<Response<ResponseBody>, TransportError> {
        self.shared
            .call
            .call(req)
            .await
            .map_err(TransportError::from)
    }

    /// What this transport did so far: requests, attempts, retries by reason, `429`s by kind,
    /// `202` session rejections, bytes in and out, time waited for pacing and before retries.
    ///
    /// The counters are shared by every clone of the transport, every handle made from it with
    /// [`with_auth`](Self::with_auth) and every client over them; each read is a snapshot.
    /// Export them to your metrics system on a timer (see the `metrics` example).
    pub fn stats(&self) -> Stats {
        self.shared.stack.counters.snapshot()
    }

    /// The whole stack as an erased tower service, to wrap further or drive with `tower` utilities.
    pub fn service(&self) -> SnowService {
        self.shared.service.clone()
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("instance", &self.shared.instance)
            .field("auth", &self.shared.auth)
            .field("stack", &self.shared.stack)
            .finish_non_exhaustive()
    }
}

/// Token calls: the same connector, TLS, proxy, timeouts and body cap as every other call, but no
/// authentication, no origin restriction, no retry; redirects are returned as they are. Default
/// headers that carry credentials are only sent when the token endpoint is on the instance's origin.
#[async_trait]
impl HttpExchange for Transport {
    async fn exchange(
        &self,
        request: Request<Vec<u8>>,
    ) -> Result<Response<Vec<u8>>, ExchangeError> {
        let (parts, body) = request.into_parts();
        match parts.uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {}
            _ => {
                return Err(ExchangeError::InvalidRequest {
                    message: "the URL of a token request must be an absolute http(s) URL".into(),
                });
            }
        }
        let service = if self.shared.instance.is_same_origin(&parts.uri) {
            &self.shared.exchange
        } else {
            &self.shared.foreign_exchange
        };
        let req = Request::from_parts(parts, Body::from(body));
        let resp = service
            .clone()
            .oneshot(req)
            .await
            .map_err(|e| ExchangeError::from(TransportError::from(e)))?;
        let (parts, body) = resp.into_parts();
        let bytes = body.collect_bytes().await.map_err(ExchangeError::from)?;
        Ok(Response::from_parts(parts, bytes.to_vec()))
    }
}
