//! Test support: a ServiceNow-like token endpoint and table API served by hyper on 127.0.0.1,
//! a plain-hyper `HttpExchange`, and a minimal "transport" (authenticate, send, one replay on 401).

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use snow_core::{
    AuthRetry, Authenticator, ExchangeError, HttpExchange, Instance, async_trait, http,
};

pub(crate) const CLIENT_ID: &str = "test-client-id";
pub(crate) const CLIENT_SECRET: &str = "client-secret-Zq8";
pub(crate) const USER: &str = "admin";
pub(crate) const PASSWORD: &str = "user-password-Kx3";

/// What the emulated instance accepts.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) access_ttl: u64,
    pub(crate) refresh_returns_refresh_token: bool,
    pub(crate) client_credentials_enabled: bool,
    /// As ServiceNow does: every password or refresh grant made while the user's access token is
    /// valid answers with that token and `expires_in` = the whole seconds it has left, rounded
    /// down (0 in its last second); a new token only once it has expired.
    pub(crate) reissue_current: bool,
    /// Public keys for JWT-bearer assertions.
    pub(crate) jwt_keys: Vec<(Algorithm, DecodingKey)>,
    /// As a hibernating developer instance does: every URL answers 200 with the hibernation page.
    pub(crate) hibernating: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            access_ttl: 1800,
            refresh_returns_refresh_token: false,
            client_credentials_enabled: true,
            reissue_current: false,
            jwt_keys: Vec::new(),
            hibernating: false,
        }
    }
}

#[derive(Default)]
struct Tokens {
    /// access token -> (user, expiry)
    access: HashMap<String, (String, Instant)>,
    /// refresh token -> user
    refresh: HashMap<String, String>,
    /// user -> (current access token, its refresh token)
    current: HashMap<String, (String, Option<String>)>,
}

/// Counters kept by the emulated instance.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) password: AtomicUsize,
    pub(crate) refresh: AtomicUsize,
    pub(crate) client_credentials: AtomicUsize,
    pub(crate) jwt: AtomicUsize,
    pub(crate) refused: AtomicUsize,
    pub(crate) basic_client_auth: AtomicUsize,
    pub(crate) table_ok: AtomicUsize,
    pub(crate) table_401: AtomicUsize,
    pub(crate) hibernating: AtomicUsize,
}

pub(crate) struct State {
    config: Config,
    tokens: Mutex<Tokens>,
    seq: AtomicU64,
    pub(crate) counters: Counters,
}

impl State {
    /// Revoke a token (access or refresh) as `/oauth_revoke_token.do` would.
    pub(crate) fn revoke(&self, token: &str) {
        let mut t = self.tokens.lock().unwrap();
        t.access.remove(token);
        t.refresh.remove(token);
    }

    /// Revoke every access token (the refresh tokens stay valid).
    pub(crate) fn revoke_all_access(&self) {
        let mut t = self.tokens.lock().unwrap();
        t.access.clear();
        t.current.clear();
    }

    pub(crate) fn grants(&self) -> usize {
        let c = &self.counters;
        c.password.load(Ordering::SeqCst)
            + c.refresh.load(Ordering::SeqCst)
            + c.client_credentials.load(Ordering::SeqCst)
            + c.jwt.load(Ordering::SeqCst)
    }
}

pub(crate) struct TestServer {
    pub(crate) addr: SocketAddr,
    pub(crate) state: Arc<State>,
}

impl TestServer {
    pub(crate) async fn start(config: Config) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State {
            config,
            tokens: Mutex::new(Tokens::default()),
            seq: AtomicU64::new(0),
            counters: Counters::default(),
        });
        let st = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let st = st.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| {
                        let st = st.clone();
                        async move { Ok::<_, Infallible>(handle(&st, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
        TestServer { addr, state }
    }

    pub(crate) fn instance(&self) -> Instance {
        Instance::from_url(&format!("http://{}", self.addr)).unwrap()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

fn json(status: StatusCode, body: serde_json::Value) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json;charset=UTF-8")
        .body(Full::new(Bytes::from(body.to_string())))
        .unwrap()
}

fn access_denied() -> Response<Full<Bytes>> {
    json(
        StatusCode::UNAUTHORIZED,
        serde_json::json!({"error_description":"access_denied","error":"server_error"}),
    )
}

/// The page a hibernating developer instance answers every URL with.
pub(crate) const HIBERNATION_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
    <title>Instance Hibernating page</title></head><body><div class=\"container\">\
    <h1>Your instance is hibernating</h1><p>Instances hibernate after a period of inactivity.</p>\
    <a href=\"https://developer.servicenow.com/dev.do#!/home?wu=true\">Sign in</a> to wake it up.\
    </div></body></html>";

async fn handle(st: &State, req: Request<Incoming>) -> Response<Full<Bytes>> {
    if st.config.hibernating {
        st.counters.hibernating.fetch_add(1, Ordering::SeqCst);
        return Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "text/html; charset=UTF-8")
            .body(Full::new(Bytes::from_static(HIBERNATION_PAGE.as_bytes())))
            .unwrap();
    }
    let (parts, body) = req.into_parts();
    let Ok(body) = Limited::new(body, 1 << 20).collect().await else {
        return json(StatusCode::BAD_REQUEST, serde_json::json!({}));
    };
    let body = body.to_bytes();
    match (parts.method.as_str(), parts.uri.path()) {
        ("POST", "/oauth_token.do") => token_endpoint(st, &parts, &body),
        ("GET", "/oauth_revoke_token.do") => {
            let q = parts.uri.query().unwrap_or("");
            for (k, v) in url::form_urlencoded::parse(q.as_bytes()) {
                if k == "token" {
                    st.revoke(&v);
                }
            }
            json(StatusCode::OK, serde_json::json!({}))
        }
        ("POST", "/redirect/oauth_token.do") => Response::builder()
            .status(StatusCode::FOUND)
            .header("location", "http://127.0.0.1:9/steal")
            .body(Full::new(Bytes::new()))
            .unwrap(),
        ("POST", "/hibernating/oauth_token.do") => Response::builder()
            .status(StatusCode::OK)
            .header("content-type", "text/html")
            .body(Full::new(Bytes::from_static(
                b"<html><title>Instance Hibernating page</title></html>",
            )))
            .unwrap(),
        ("POST", "/down/oauth_token.do") => Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .header("content-type", "text/html")
            .body(Full::new(Bytes::from_static(b"<html>503</html>")))
            .unwrap(),
        (_, p) if p.starts_with("/api/now/") => table(st, &parts),
        _ => json(StatusCode::NOT_FOUND, serde_json::json!({})),
    }
}

fn table(st: &State, parts: &http::request::Parts) -> Response<Full<Bytes>> {
    let token = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let ok = token.is_some_and(|t| {
        let tokens = st.tokens.lock().unwrap();
        tokens
            .access
            .get(t)
            .is_some_and(|(_, exp)| Instant::now() < *exp)
    });
    if ok {
        st.counters.table_ok.fetch_add(1, Ordering::SeqCst);
        json(StatusCode::OK, serde_json::json!({"result": []}))
    } else {
        st.counters.table_401.fetch_add(1, Ordering::SeqCst);
        json(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error":{"message":"User Not Authenticated","detail":"Required to provide Auth information"},"status":"failure"}),
        )
    }
}

fn token_endpoint(st: &State, parts: &http::request::Parts, body: &[u8]) -> Response<Full<Bytes>> {
    let ct = parts
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error":"invalid_request"}),
        );
    }
    let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
    let get = |k: &str| form.get(k).map(String::as_str);

    // Client authentication: form fields, or HTTP Basic.
    let (id, secret) = match parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        Some(b64) => {
            st.counters.basic_client_auth.fetch_add(1, Ordering::SeqCst);
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(b64)
                .unwrap_or_default();
            let decoded = String::from_utf8(decoded).unwrap_or_default();
            let (i, s) = decoded.split_once(':').unwrap_or(("", ""));
            let dec = |x: &str| {
                url::form_urlencoded::parse(format!("x={x}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (dec(i), dec(s))
        }
        None => (
            get("client_id").unwrap_or("").to_owned(),
            get("client_secret").unwrap_or("").to_owned(),
        ),
    };
    if id != CLIENT_ID || secret != CLIENT_SECRET {
        st.counters.refused.fetch_add(1, Ordering::SeqCst);
        return access_denied();
    }

    match get("grant_type").unwrap_or("") {
        "password" => {
            st.counters.password.fetch_add(1, Ordering::SeqCst);
            if get("username") != Some(USER) || get("password") != Some(PASSWORD) {
                st.counters.refused.fetch_add(1, Ordering::SeqCst);
                return access_denied();
            }
            issue(st, USER, true, true)
        }
        "refresh_token" => {
            st.counters.refresh.fetch_add(1, Ordering::SeqCst);
            let user = {
                let t = st.tokens.lock().unwrap();
                get("refresh_token").and_then(|r| t.refresh.get(r).cloned())
            };
            match user {
                Some(user) => issue(
                    st,
                    &user,
                    st.config.reissue_current,
                    st.config.refresh_returns_refresh_token,
                ),
                None => {
                    st.counters.refused.fetch_add(1, Ordering::SeqCst);
                    access_denied()
                }
            }
        }
        "client_credentials" => {
            st.counters
                .client_credentials
                .fetch_add(1, Ordering::SeqCst);
            if !st.config.client_credentials_enabled {
                return access_denied();
            }
            issue(st, "oauth.app.user", true, false)
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            st.counters.jwt.fetch_add(1, Ordering::SeqCst);
            let Some(assertion) = get("assertion") else {
                return access_denied();
            };
            let verified = st.config.jwt_keys.iter().find_map(|(alg, key)| {
                let mut v = Validation::new(*alg);
                v.set_audience(&[CLIENT_ID]);
                v.set_issuer(&[CLIENT_ID]);
                v.leeway = 300;
                v.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
                jsonwebtoken::decode::<serde_json::Value>(assertion, key, &v).ok()
            });
            match verified {
                Some(data) if data.claims["sub"] == USER => issue(st, USER, false, false),
                _ => {
                    st.counters.refused.fetch_add(1, Ordering::SeqCst);
                    access_denied()
                }
            }
        }
        _ => json(
            StatusCode::BAD_REQUEST,
            serde_json::json!({"error":"unsupported_grant_type"}),
        ),
    }
}

/// Issue (or, for a password grant within the lifetime, return again) a token for `user`.
fn issue(st: &State, user: &str, reuse_current: bool, with_refresh: bool) -> Response<Full<Bytes>> {
    let ttl = st.config.access_ttl;
    let mut t = st.tokens.lock().unwrap();
    if reuse_current
        && let Some((access, refresh)) = t.current.get(user).cloned()
        && let Some((_, exp)) = t.access.get(&access)
    {
        let left = exp.saturating_duration_since(Instant::now());
        let (valid, left) = if st.config.reissue_current {
            (!left.is_zero(), expires_in(left))
        } else {
            (left.as_secs() > 0, left.as_secs())
        };
        if valid {
            let mut body = serde_json::json!({"scope":"useraccount","token_type":"Bearer",
                        "expires_in": left, "access_token": access});
            if let (true, Some(r)) = (with_refresh, refresh) {
                body["refresh_token"] = r.into();
            }
            return json(StatusCode::OK, body);
        }
    }
    let n = st.seq.fetch_add(1, Ordering::SeqCst);
    let access = format!("AT-{n:04}-x7Yq2wE9rT");
    let refresh = with_refresh.then(|| format!("RT-{n:04}-p4Lm8sV1nB"));
    t.access.insert(
        access.clone(),
        (user.to_owned(), Instant::now() + Duration::from_secs(ttl)),
    );
    if let Some(r) = &refresh {
        t.refresh.insert(r.clone(), user.to_owned());
    }
    let keep_refresh = refresh
        .clone()
        .or_else(|| t.current.get(user).and_then(|(_, r)| r.clone()));
    t.current
        .insert(user.to_owned(), (access.clone(), keep_refresh));
    let announced = if st.config.reissue_current {
        expires_in(Duration::from_secs(ttl))
    } else {
        ttl
    };
    let mut body = serde_json::json!({"scope":"useraccount","token_type":"Bearer",
        "expires_in": announced, "access_token": access});
    if let Some(r) = refresh {
        body["refresh_token"] = r.into();
    }
    json(StatusCode::OK, body)
}

/// ServiceNow's `expires_in` for a token with `left` to live: whole seconds, rounded down, from
/// a moment just after now (1799 for a new 1800-second token, 0 in its last second).
fn expires_in(left: Duration) -> u64 {
    left.saturating_sub(Duration::from_millis(1)).as_secs()
}

/// An `HttpExchange` over a plain hyper-util client (no TLS), as a transport would provide.
#[derive(Debug, Clone)]
pub(crate) struct HyperExchange {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl HyperExchange {
    pub(crate) fn new() -> Self {
        HyperExchange {
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub(crate) async fn send(
        &self,
        req: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, ExchangeError> {
        let req = req.map(|b| Full::new(Bytes::from(b)));
        let resp = self.client.request(req).await.map_err(|e| {
            if e.is_connect() {
                ExchangeError::Connect { source: e.into() }
            } else {
                ExchangeError::Io { source: e.into() }
            }
        })?;
        let (parts, body) = resp.into_parts();
        let body = Limited::new(body, 1 << 20)
            .collect()
            .await
            .map_err(|_| ExchangeError::BodyTooLarge { limit: 1 << 20 })?
            .to_bytes();
        Ok(http::Response::from_parts(parts, body.to_vec()))
    }
}

#[async_trait]
impl HttpExchange for HyperExchange {
    async fn exchange(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, ExchangeError> {
        self.send(request).await
    }
}

/// What a transport does: authenticate, send, and on 401 ask the authenticator, replaying once.
pub(crate) async fn get_table(
    auth: &dyn Authenticator,
    http: &HyperExchange,
    url: &str,
) -> Result<StatusCode, snow_core::AuthError> {
    let mut replayed = false;
    loop {
        let (mut parts, ()) = http::Request::get(url).body(()).unwrap().into_parts();
        auth.authenticate(&mut parts).await?;
        let req = http::Request::from_parts(clone_head(&parts), Vec::new());
        let resp = http.send(req).await.expect("the test server answers");
        if resp.status() == StatusCode::UNAUTHORIZED && !replayed {
            let (rparts, _) = resp.into_parts();
            if auth.on_unauthorized(&parts, &rparts).await? == AuthRetry::Replay {
                replayed = true;
                continue;
            }
            return Ok(StatusCode::UNAUTHORIZED);
        }
        return Ok(resp.status());
    }
}

/// A copy of a request head without its extensions (which are not `Clone`).
pub(crate) fn clone_head(parts: &http::request::Parts) -> http::request::Parts {
    let mut b = http::Request::builder()
        .method(parts.method.clone())
        .uri(parts.uri.clone());
    for (k, v) in &parts.headers {
        b = b.header(k, v.clone());
    }
    b.body(()).unwrap().into_parts().0
}

pub(crate) fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

pub(crate) fn request_parts(url: &str) -> http::request::Parts {
    http::Request::get(url).body(()).unwrap().into_parts().0
}

/// Send a request already authenticated; on 401 ask the authenticator and replay once.
pub(crate) async fn send_then_replay(
    auth: &dyn Authenticator,
    http: &HyperExchange,
    parts: http::request::Parts,
) -> Result<StatusCode, snow_core::AuthError> {
    let resp = http
        .send(http::Request::from_parts(clone_head(&parts), Vec::new()))
        .await
        .expect("the test server answers");
    if resp.status() != StatusCode::UNAUTHORIZED {
        return Ok(resp.status());
    }
    let (rparts, _) = resp.into_parts();
    if auth.on_unauthorized(&parts, &rparts).await? != AuthRetry::Replay {
        return Ok(StatusCode::UNAUTHORIZED);
    }
    let mut again = request_parts(&parts.uri.to_string());
    auth.authenticate(&mut again).await?;
    let resp = http
        .send(http::Request::from_parts(clone_head(&again), Vec::new()))
        .await
        .expect("the test server answers");
    Ok(resp.status())
}

/// An exchange that waits before each token call, so concurrent callers pile up behind it.
#[derive(Debug, Clone)]
pub(crate) struct SlowExchange {
    inner: HyperExchange,
    delay: Duration,
}

impl SlowExchange {
    pub(crate) fn new(inner: HyperExchange, delay: Duration) -> Self {
        SlowExchange { inner, delay }
    }
}

#[async_trait]
impl HttpExchange for SlowExchange {
    async fn exchange(
        &self,
        request: http::Request<Vec<u8>>,
    ) -> Result<http::Response<Vec<u8>>, ExchangeError> {
        tokio::time::sleep(self.delay).await;
        self.inner.send(request).await
    }
}
