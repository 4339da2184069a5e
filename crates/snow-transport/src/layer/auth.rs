//! Puts credentials on requests, and replays once after a `401` when the authenticator asks.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::{Request, Response, StatusCode};
use snow_core::secret::{SecretString, SentCredentials};
use snow_core::{AuthRetry, Authenticator, BoxError, Instance};
use tower::{Layer, Service, ServiceExt};

use crate::body::{Body, ResponseBody};
use crate::error::TransportError;
use crate::layer::BoxFuture;

/// Authenticates each request with an [`Authenticator`].
///
/// Credentials are only put on requests to the instance's origin (scheme, host and port): the
/// request's URI goes through [`Instance::resolve_uri`] first (a path is joined to the instance's
/// base URL), and any other origin fails with [`TransportError::CrossOrigin`] unsent. When the instance answers
/// `401`, the authenticator's [`on_unauthorized`](Authenticator::on_unauthorized) decides: on
/// [`AuthRetry::Replay`] the request is authenticated again and sent once more, if its body is
/// replayable. There is never more than one replay. An authenticator whose
/// [`can_replay`](Authenticator::can_replay) is `false` is not asked: its 401 is the answer, and
/// no copy of the request is kept for a replay.
#[derive(Clone)]
pub struct AuthLayer {
    auth: Arc<dyn Authenticator>,
    // Shared: the services clone their fields on every request.
    instance: Arc<Instance>,
    sent: Arc<SentCache>,
}

impl AuthLayer {
    /// Authenticate requests to `instance` with `auth`.
    pub fn new(auth: Arc<dyn Authenticator>, instance: Instance) -> Self {
        Self {
            auth,
            instance: Arc::new(instance),
            sent: Arc::default(),
        }
    }
}

impl fmt::Debug for AuthLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthLayer")
            .field("auth", &self.auth)
            .field("instance", &self.instance)
            .finish()
    }
}

impl<S> Layer<S> for AuthLayer {
    type Service = AuthService<S>;

    fn layer(&self, inner: S) -> AuthService<S> {
        AuthService {
            inner,
            auth: self.auth.clone(),
            instance: self.instance.clone(),
            sent: self.sent.clone(),
        }
    }
}

/// The service of [`AuthLayer`].
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: Arc<dyn Authenticator>,
    instance: Arc<Instance>,
    sent: Arc<SentCache>,
}

impl<S: fmt::Debug> fmt::Debug for AuthService<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthService")
            .field("inner", &self.inner)
            .field("auth", &self.auth)
            .field("instance", &self.instance)
            .finish()
    }
}

impl<S> Service<Request<Body>> for AuthService<S>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    type Response = Response<ResponseBody>;
    type Error = BoxError;
    type Future = AuthFuture<S>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        // A URL of the instance's origin is sent as it is (`resolve_uri` would return a copy).
        let on_instance = parts
            .uri
            .authority()
            .is_some_and(|a| !a.as_str().contains('@'))
            && self.instance.is_same_origin(&parts.uri);
        if !on_instance {
            parts.uri = match self.instance.resolve_uri(&parts.uri) {
                Ok(uri) => uri,
                Err(e) => return self.refuse(TransportError::refused_target(e)),
            };
        }
        // A credential at hand and no replay to prepare for: send with the service made ready.
        if !self.auth.can_replay()
            && let Some(done) = self.auth.authenticate_now(&mut parts)
        {
            if let Err(e) = done {
                return self.refuse(TransportError::Auth(e));
            }
            let sent = self.sent.get(&parts);
            return AuthFuture {
                state: State::Sending {
                    call: self.inner.call(Request::from_parts(parts, body)),
                    sent: Some(sent),
                },
            };
        }
        // Use the instance that was made ready, keep a fresh clone for a replay.
        let fresh = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, fresh);
        let auth = self.auth.clone();
        let sent = self.sent.clone();
        AuthFuture {
            state: State::Waiting {
                call: Box::pin(call(ready, auth, sent, parts, body)),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`AuthService`]: the answer, with the credentials it was sent with in its
    /// extensions.
    #[must_use = "futures do nothing unless you `.await` or poll them"]
    pub struct AuthFuture<S>
    where
        S: Service<Request<Body>>,
    {
        #[pin]
        state: State<S>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<S>
    where
        S: Service<Request<Body>>,
    {
        // Authenticated without waiting, sent; no replay possible.
        Sending {
            #[pin]
            call: S::Future,
            sent: Option<SentCredentials>,
        },
        // Waiting for a credential, or ready to replay after a 401.
        Waiting {
            call: BoxFuture<Result<Response<ResponseBody>, BoxError>>,
        },
        // Refused before sending.
        Failed {
            error: Option<BoxError>,
        },
    }
}

impl<S> AuthService<S>
where
    S: Service<Request<Body>> + Clone,
{
    /// Fails the request unsent. The service made ready for it is let go (what it holds for
    /// the call, a concurrency limit's permit say, with it) and a fresh clone takes its place.
    fn refuse(&mut self, error: TransportError) -> AuthFuture<S> {
        let fresh = self.inner.clone();
        drop(std::mem::replace(&mut self.inner, fresh));
        AuthFuture {
            state: State::Failed {
                error: Some(error.boxed()),
            },
        }
    }
}

impl<S> fmt::Debug for AuthFuture<S>
where
    S: Service<Request<Body>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthFuture").finish_non_exhaustive()
    }
}

impl<S> Future for AuthFuture<S>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<Response<ResponseBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().state.project() {
            StateProj::Sending { call, sent } => {
                let mut resp = ready!(call.poll(cx)).map_err(Into::into)?;
                if let Some(sent) = sent.take() {
                    resp.extensions_mut().insert(sent);
                }
                Poll::Ready(Ok(resp))
            }
            StateProj::Waiting { call } => call.as_mut().poll(cx),
            StateProj::Failed { error } => Poll::Ready(Err(error
                .take()
                .expect("AuthFuture polled after completion"))),
        }
    }
}

async fn call<S>(
    mut inner: S,
    auth: Arc<dyn Authenticator>,
    cache: Arc<SentCache>,
    original: http::request::Parts,
    body: Body,
) -> Result<Response<ResponseBody>, BoxError>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
{
    if !auth.can_replay() {
        // A 401 is final: no copy of the request is kept for a replay.
        let (parts, sent) = with_credentials(&*auth, &cache, original).await?;
        return send(&mut inner, parts, body, sent).await;
    }
    let replay_body = body.try_clone();

    let (parts, sent) = with_credentials(&*auth, &cache, original.clone()).await?;
    let resp = send(&mut inner, parts.clone(), body, sent).await?;
    if resp.status() != StatusCode::UNAUTHORIZED {
        return Ok(resp);
    }

    let (resp_parts, resp_body) = resp.into_parts();
    let decision = auth
        .on_unauthorized(&parts, &resp_parts)
        .await
        .map_err(TransportError::Auth)?;
    let (AuthRetry::Replay, Some(body)) = (decision, replay_body) else {
        return Ok(Response::from_parts(resp_parts, resp_body));
    };
    drop(resp_body);
    tracing::debug!(method = %original.method, "replaying the request once after 401 with fresh credentials");

    let (parts, sent) = with_credentials(&*auth, &cache, original).await?;
    // The same service sends the replay once it is ready again (no clone kept for it).
    inner.ready().await.map_err(Into::into)?;
    send(&mut inner, parts, body, sent).await
}

async fn with_credentials(
    auth: &dyn Authenticator,
    cache: &SentCache,
    mut parts: http::request::Parts,
) -> Result<(http::request::Parts, SentCredentials), BoxError> {
    match auth.authenticate_now(&mut parts) {
        Some(done) => done,
        None => auth.authenticate(&mut parts).await,
    }
    .map_err(TransportError::Auth)?;
    let sent = cache.get(&parts);
    Ok((parts, sent))
}

/// Sends on `inner` (ready); the answer carries the record of the credentials sent.
async fn send<S>(
    inner: &mut S,
    parts: http::request::Parts,
    body: Body,
    sent: SentCredentials,
) -> Result<Response<ResponseBody>, BoxError>
where
    S: Service<Request<Body>, Response = Response<ResponseBody>>,
    S::Error: Into<BoxError>,
{
    let mut resp = inner
        .call(Request::from_parts(parts, body))
        .await
        .map_err(Into::into)?;
    resp.extensions_mut().insert(sent);
    Ok(resp)
}

/// The last credentials a request carried, as found on its head, and the record derived from
/// them: nearly every request carries the same credential as the one before, so the record is
/// derived once per credential rather than once per request. The lock is never held across an
/// await, and only to compare or replace.
#[derive(Default)]
pub(crate) struct SentCache(std::sync::Mutex<Option<Sent>>);

/// One entry of [`SentCache`]: the raw credential header values and key parameters, in the
/// order they appear, and what was derived from them.
struct Sent {
    headers: Vec<http::HeaderValue>,
    params: Vec<String>,
    derived: SentCredentials,
}

impl SentCache {
    /// The record for `parts`: the cached one when `parts` carries exactly the same credentials.
    fn get(&self, parts: &http::request::Parts) -> SentCredentials {
        if let Ok(guard) = self.0.lock()
            && let Some(last) = guard.as_ref()
            && last.matches(parts)
        {
            return last.derived.clone();
        }
        let derived = sent_credentials(parts);
        let entry = Sent {
            headers: credential_headers(parts).cloned().collect(),
            params: credential_params(parts).map(str::to_owned).collect(),
            derived: derived.clone(),
        };
        if let Ok(mut guard) = self.0.lock() {
            *guard = Some(entry);
        }
        derived
    }
}

impl Sent {
    /// Whether `parts` carries these credentials and no other, compared without allocating.
    fn matches(&self, parts: &http::request::Parts) -> bool {
        credential_headers(parts).eq(self.headers.iter())
            && credential_params(parts).eq(self.params.iter().map(String::as_str))
    }
}

/// The values of the headers on `parts` that carry a credential.
fn credential_headers(parts: &http::request::Parts) -> impl Iterator<Item = &http::HeaderValue> {
    parts
        .headers
        .iter()
        .filter(|(name, value)| value.is_sensitive() || snow_core::is_credential_header(name))
        .map(|(_, value)| value)
}

/// The raw (still encoded) values of the query parameters on `parts` that carry a credential.
fn credential_params(parts: &http::request::Parts) -> impl Iterator<Item = &str> {
    parts
        .uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (snow_core::is_credential_query_param(name) && !value.is_empty()).then_some(value)
        })
}

/// The credentials on an authenticated request head, and the parts of them a server could
/// quote back (a Basic header's base64 text, its decoded `user:password` and password, a
/// bearer token, percent-decoded key parameters), for whoever quotes the answer to scrub.
fn sent_credentials(parts: &http::request::Parts) -> SentCredentials {
    use base64::Engine as _;
    let mut values = Vec::new();
    for value in credential_headers(parts) {
        let Ok(text) = value.to_str() else { continue };
        values.push(text.to_owned());
        let (scheme, rest) = text.split_once(' ').unwrap_or(("", text));
        if scheme.eq_ignore_ascii_case("basic") {
            values.push(rest.trim().to_owned());
            if let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(rest.trim()) {
                let decoded = String::from_utf8_lossy(&decoded).into_owned();
                if let Some((_, password)) = decoded.split_once(':') {
                    values.push(password.to_owned());
                }
                values.push(decoded);
            }
        } else if !scheme.is_empty() {
            values.push(rest.trim().to_owned());
        }
    }
    for value in credential_params(parts) {
        values.push(value.to_owned());
        let decoded = percent_encoding::percent_decode_str(&value.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        if decoded != value {
            values.push(decoded);
        }
    }
    SentCredentials::new(values.into_iter().map(SecretString::from).collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use snow_core::AuthError;

    use super::*;

    #[derive(Debug)]
    struct Stamp;

    #[snow_core::async_trait]
    impl Authenticator for Stamp {
        async fn authenticate(&self, req: &mut http::request::Parts) -> Result<(), AuthError> {
            req.headers
                .insert("authorization", http::HeaderValue::from_static("Bearer t"));
            Ok(())
        }
    }

    /// The record of sent credentials is reused only for exactly the same credentials: a new
    /// password, key or token gets its own, and the old one is not redacted in its place.
    #[test]
    fn the_sent_credentials_follow_each_change_of_credential() {
        fn head(auth: &str, query: &str) -> http::request::Parts {
            let mut parts =
                Request::get(format!("https://x.service-now.com/api/now/table/t{query}"))
                    .body(())
                    .unwrap()
                    .into_parts()
                    .0;
            if !auth.is_empty() {
                let mut value = http::HeaderValue::from_str(auth).unwrap();
                value.set_sensitive(true);
                parts.headers.insert(http::header::AUTHORIZATION, value);
            }
            parts
        }
        use base64::Engine as _;
        let basic = |p: &str| {
            let text = base64::engine::general_purpose::STANDARD.encode(format!("admin:{p}"));
            format!("Basic {text}")
        };
        let cache = SentCache::default();
        let quoted = "pw-one-1 pw-two-2 tok-three-3 key-four-4";
        let first = cache.get(&head(&basic("pw-one-1"), ""));
        assert_eq!(
            first.redact(quoted),
            "[redacted] pw-two-2 tok-three-3 key-four-4"
        );
        // The same credential again: the same record.
        let again = cache.get(&head(&basic("pw-one-1"), ""));
        assert_eq!(again.redact(quoted), first.redact(quoted));
        let second = cache.get(&head(&basic("pw-two-2"), ""));
        assert_eq!(
            second.redact(quoted),
            "pw-one-1 [redacted] tok-three-3 key-four-4"
        );
        let bearer = cache.get(&head("Bearer tok-three-3", ""));
        assert_eq!(
            bearer.redact(quoted),
            "pw-one-1 pw-two-2 [redacted] key-four-4"
        );
        // A key moved into the query, with the same header: a different request, its own record.
        let key = cache.get(&head("Bearer tok-three-3", "?x-sn-apikey=key-four-4"));
        assert_eq!(
            key.redact(quoted),
            "pw-one-1 pw-two-2 [redacted] [redacted]"
        );
        let none = cache.get(&head("", ""));
        assert!(none.is_empty());
    }

    #[tokio::test]
    async fn on_its_own_it_resolves_paths_and_refuses_other_origins() {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let record = seen.clone();
        let inner = tower::service_fn(move |req: Request<Body>| {
            let record = record.clone();
            async move {
                let auth = req.headers().contains_key("authorization");
                record.lock().unwrap().push(format!("{} {auth}", req.uri()));
                Ok::<_, BoxError>(Response::new(ResponseBody::empty()))
            }
        });
        let instance = Instance::from_url("http://127.0.0.1:8080/sn").unwrap();
        let svc = AuthLayer::new(Arc::new(Stamp), instance).layer(inner);
        let send = |uri: &str| {
            svc.clone()
                .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        };
        send("/api/now/table/x").await.unwrap();
        send("http://127.0.0.1:8080/x").await.unwrap();
        for bad in ["http://evil.com/x", "//evil.com/x"] {
            let e = TransportError::from(send(bad).await.unwrap_err());
            assert!(
                matches!(
                    e,
                    TransportError::CrossOrigin { .. } | TransportError::InvalidRequest { .. }
                ),
                "{bad}: {e}"
            );
        }
        assert_eq!(
            *seen.lock().unwrap(),
            [
                "http://127.0.0.1:8080/sn/api/now/table/x true",
                "http://127.0.0.1:8080/x true"
            ]
        );
    }
}
