//! snow-oauth end to end: the OAuth authenticator on snow-transport, against the dev instance,
//! over real HTTP (and HTTPS, and through a CONNECT proxy). Every test checks what the instance
//! counted or logged, not only what the client saw.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::Value;
use snow_core::http::Request;
use snow_core::secret::ExposeSecret;
use snow_core::{AuthError, Instance};
use snow_devinstance::{
    Counters, DevConfig, DevInstance, DevUser, FaultKind, FaultRule, Role, Trigger,
};
use snow_oauth::{JwtAlgorithm, JwtBearer, OAuth, OAuthBuilder, OAuthError, TokenSet};
use snow_test_support::proxy::ConnectProxy;
use snow_test_support::{Capture, assert_no_secret};
use snow_transport::{Body, Proxy, TlsConfig, Transport, TransportBuilder, TransportError};

const TABLE: &str = "/api/now/table/incident";
const TOKEN: &str = "/oauth_token.do";

/// A user with a password distinctive enough to search for in logs.
const USER: &str = "integration.user";
const PASSWORD: &str = "pw-Zq81-integration";
/// A client secret distinctive enough to search for in logs.
const CLIENT_SECRET: &str = "cs-9fK2-client-secret";

/// A small dev instance with one extra user and a distinctive client secret.
fn config() -> DevConfig {
    let mut config = DevConfig {
        records: 5,
        ..DevConfig::default()
    };
    config.users.push(DevUser::new(USER, PASSWORD, Role::Itil));
    config.oauth.client_secret = CLIENT_SECRET.to_owned().into();
    config
}

/// A running dev instance with what a client needs to talk to it.
struct Dev {
    server: DevInstance,
    instance: Instance,
    client_id: String,
    client_secret: String,
}

impl Dev {
    async fn start(config: DevConfig) -> Dev {
        let client_id = config.oauth.client_id.clone();
        let client_secret = config.oauth.client_secret.expose_secret().to_owned();
        let server = DevInstance::start(config)
            .await
            .expect("dev instance starts");
        let instance = Instance::from_url(server.base_url()).expect("the dev instance URL");
        Dev {
            server,
            instance,
            client_id,
            client_secret,
        }
    }

    fn counters(&self) -> Counters {
        self.server.admin().counters()
    }

    /// A transport builder for this instance: trusts its CA when it serves HTTPS, and goes
    /// through `proxy` when given.
    fn transport(&self, proxy: Option<&ConnectProxy>) -> TransportBuilder {
        let mut builder = Transport::builder(self.instance.clone());
        if let Some(pem) = self.server.ca_pem() {
            builder = builder.tls(TlsConfig::default().add_ca_pem(pem.as_bytes().to_vec()));
        }
        if let Some(proxy) = proxy {
            builder = builder.proxy(Proxy::http(proxy.url()));
        }
        builder
    }

    /// An OAuth builder whose token calls go through a transport of this instance.
    fn oauth(&self, proxy: Option<&ConnectProxy>) -> OAuthBuilder {
        let exchange = self.transport(proxy).build().expect("token transport");
        OAuth::builder(
            &self.instance,
            exchange,
            self.client_id.clone(),
            self.client_secret.clone(),
        )
    }

    /// The transport for API calls, authenticated by `auth`.
    fn api(&self, proxy: Option<&ConnectProxy>, auth: &OAuth) -> Transport {
        self.transport(proxy)
            .auth(auth.clone())
            .build()
            .expect("API transport")
    }
}

/// The OAuth error behind a credential the token endpoint refused (not transiently).
fn refused(err: &TransportError) -> Option<&OAuthError> {
    match err {
        TransportError::Auth(AuthError::Refused {
            transient: false,
            source,
        }) => source.downcast_ref::<OAuthError>(),
        _ => None,
    }
}

/// `GET /api/now/table/incident?sysparm_limit=1`: the status and the parsed body.
async fn get_incident(api: &Transport) -> Result<(u16, Value), TransportError> {
    let request = Request::get(format!("{TABLE}?sysparm_limit=1"))
        .body(Body::empty())
        .expect("a static request");
    let response = api.send(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect_bytes().await?;
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// The request succeeded with exactly one incident.
async fn assert_one_incident(api: &Transport) {
    let (status, body) = get_incident(api).await.expect("the table request");
    assert_eq!(status, 200, "{body}");
    let result = body["result"].as_array().expect("a result array");
    assert_eq!(result.len(), 1, "{body}");
    assert!(result[0]["sys_id"].is_string(), "{body}");
}

/// Every token set the updater was called with, in order.
#[derive(Clone, Default)]
struct Updates(Arc<Mutex<Vec<TokenSet>>>);

impl Updates {
    fn record(&self) -> impl Fn(&TokenSet) + Send + Sync + 'static {
        let seen = self.0.clone();
        move |t: &TokenSet| {
            seen.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(t.clone());
        }
    }

    fn all(&self) -> Vec<TokenSet> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn access(t: &TokenSet) -> String {
    t.access_token_str().to_owned()
}

fn refresh(t: &TokenSet) -> String {
    t.refresh_token()
        .map(|r| r.expose_secret().to_owned())
        .unwrap_or_default()
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../crates/snow-oauth/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// The users the instance logged for table requests, in order.
fn table_users(dev: &Dev) -> Vec<Option<String>> {
    dev.server
        .admin()
        .request_log()
        .into_iter()
        .filter(|r| r.path == TABLE)
        .map(|r| r.user)
        .collect()
}

#[tokio::test]
async fn generate_token_then_table_requests_with_the_bearer_token() {
    let dev = Dev::start(config()).await;
    let auth = dev.oauth(None).build().expect("authenticator");
    let token = auth
        .generate_token(USER, PASSWORD)
        .await
        .expect("password grant");
    assert_eq!(token.scope(), Some("useraccount"));
    assert_eq!(token.token_type(), "Bearer");
    assert_eq!(access(&token).len(), 86, "ServiceNow-shaped opaque token");
    assert!(token.refresh_token().is_some());

    let api = dev.api(None, &auth);
    for _ in 0..3 {
        assert_one_incident(&api).await;
    }

    let c = dev.counters();
    assert_eq!(c.grants("password"), 1);
    assert_eq!(c.requests_to(TOKEN), 1);
    assert_eq!(c.requests_with(TABLE, 200), 3);
    assert_eq!(c.requests_to(TABLE), 3);
    // The instance saw the bearer token (it named the user) and logged no credential.
    let log = dev.server.admin().request_log();
    let table: Vec<_> = log.iter().filter(|r| r.path == TABLE).collect();
    assert_eq!(table.len(), 3);
    for r in table {
        assert_eq!(r.user.as_deref(), Some(USER));
        let authz = r.headers.iter().find(|(k, _)| k == "authorization");
        assert_eq!(authz.map(|(_, v)| v.as_str()), Some("<redacted>"));
    }
    let token_call = log.iter().find(|r| r.path == TOKEN).expect("token call");
    assert_eq!(token_call.method, "POST");
    assert_eq!(token_call.status, 200);
    assert!(
        token_call
            .headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "application/x-www-form-urlencoded"),
        "{token_call:?}"
    );
}

#[tokio::test]
async fn requests_keep_working_across_expiry_with_one_refresh_each_time() {
    let dev = Dev::start(DevConfig {
        access_token_ttl: Duration::from_secs(2),
        ..config()
    })
    .await;
    let updates = Updates::default();
    let auth = dev
        .oauth(None)
        .token_updater(updates.record())
        .build()
        .expect("authenticator");
    let first = auth.generate_token(USER, PASSWORD).await.expect("grant");
    let api = dev.api(None, &auth);
    assert_one_incident(&api).await;

    let mut previous = first.clone();
    for round in 1..=2u64 {
        // Past the access token's lifetime on both sides: the next request must refresh first.
        tokio::time::sleep(Duration::from_millis(2300)).await;
        assert_one_incident(&api).await;

        let c = dev.counters();
        assert_eq!(c.grants("refresh_token"), round, "one refresh per expiry");
        assert_eq!(c.grants("password"), 1);
        assert_eq!(
            c.requests_with(TABLE, 401),
            0,
            "renewed before expiry, no 401"
        );
        let seen = updates.all();
        assert_eq!(
            seen.len() as u64,
            1 + round,
            "the updater ran once per new token"
        );
        let newest = seen.last().expect("an update");
        assert_ne!(access(newest), access(&previous), "a new access token");
        assert_eq!(
            refresh(newest),
            refresh(&first),
            "the refresh token is kept"
        );
        let cached = auth.cached_token().expect("a cached token");
        assert_eq!(
            access(&cached),
            access(newest),
            "the cache holds the new token"
        );
        previous = newest.clone();
    }
    assert_eq!(dev.counters().requests_with(TABLE, 200), 3);
    assert_eq!(access(&updates.all()[0]), access(&first));
}

/// Steady traffic across two expiries of a 2-second token. The instance answers a refresh made
/// while the access token is still valid with that same token and a smaller `expires_in` (the
/// rule ServiceNow documents for access requests inside the lifetime); the client must not then
/// refresh again on every request until the token really expires. Per access token it makes at
/// most two refreshes: one ahead of expiry that brings it back unchanged, one at expiry (or on
/// the first 401) that brings the next; the last token may have had its early one too.
#[tokio::test]
async fn steady_traffic_across_expiry_refreshes_a_bounded_number_of_times() {
    let dev = Dev::start(DevConfig {
        access_token_ttl: Duration::from_secs(2),
        ..config()
    })
    .await;
    let auth = dev.oauth(None).build().expect("authenticator");
    let first = auth.generate_token(USER, PASSWORD).await.expect("grant");
    let api = dev.api(None, &auth);
    let mut tokens = std::collections::HashSet::from([access(&first)]);
    let mut requests = 0u64;
    let until = Instant::now() + Duration::from_secs(5);
    while Instant::now() < until {
        assert_one_incident(&api).await;
        tokens.insert(access(&auth.cached_token().expect("cached")));
        requests += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let c = dev.counters();
    let new_tokens = tokens.len() as u64 - 1;
    let refreshes = c.grants("refresh_token");
    println!(
        "steady traffic, 2 s tokens: {requests} requests, {refreshes} refresh grants, \
         {new_tokens} new access tokens, {} 401s",
        c.requests_with(TABLE, 401)
    );
    assert!(new_tokens >= 1, "the token expired at least once");
    assert_eq!(c.grants("password"), 1);
    assert_eq!(c.requests_with(TABLE, 200), requests);
    assert!(
        refreshes <= 2 * new_tokens + 1,
        "{refreshes} refresh grants for {new_tokens} new access tokens over {requests} requests"
    );
}

/// Make every token call take 300 ms, so that a burst piles up behind the one refresh: the
/// requests wait for it at the gate, or meet the stale token and answer 401 meanwhile.
fn slow_token_endpoint(dev: &Dev) {
    dev.server.admin().add_fault(
        FaultRule::new(FaultKind::Latency { millis: 300 }, Trigger::Always).path_prefix(TOKEN),
    );
}

/// Run `n` table requests at once; return how many answered 200 with one incident.
async fn burst(api: &Transport, n: usize) -> usize {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let api = api.clone();
        tasks.spawn(async move { get_incident(&api).await });
    }
    let mut ok = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("the task ran") {
            Ok((200, body)) if body["result"].as_array().is_some_and(|r| r.len() == 1) => ok += 1,
            Ok((status, body)) => panic!("HTTP {status}: {body}"),
            Err(e) => panic!("request failed: {e}"),
        }
    }
    ok
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_requests_with_an_expired_token_cause_one_refresh() {
    let dev = Dev::start(DevConfig {
        access_token_ttl: Duration::from_secs(1),
        ..config()
    })
    .await;
    let updates = Updates::default();
    let auth = dev
        .oauth(None)
        .token_updater(updates.record())
        .build()
        .expect("authenticator");
    let first = auth.generate_token(USER, PASSWORD).await.expect("grant");
    tokio::time::sleep(Duration::from_millis(1300)).await;
    // The token is now expired on both sides; the renewed one will live long enough for the burst.
    dev.server
        .admin()
        .set_token_ttls(Some(Duration::from_secs(1800)), None);
    dev.server.admin().reset_counters();
    slow_token_endpoint(&dev);
    let api = dev.api(None, &auth);

    let started = Instant::now();
    assert_eq!(burst(&api, 1000).await, 1000);
    let elapsed = started.elapsed();

    let c = dev.counters();
    assert_eq!(c.grants("refresh_token"), 1, "single flight: {c:?}");
    assert_eq!(c.requests_to(TOKEN), 1, "{c:?}");
    assert_eq!(c.requests_with(TABLE, 200), 1000);
    assert_eq!(c.requests_with(TABLE, 401), 0);
    let seen = updates.all();
    assert_eq!(seen.len(), 2, "generated, then refreshed once");
    assert_ne!(access(&seen[1]), access(&first));
    assert_eq!(
        access(&auth.cached_token().expect("cached")),
        access(&seen[1])
    );
    println!("1,000 requests with an expired token: 1 refresh, {elapsed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_401s_from_a_revoked_token_cause_one_refresh() {
    let dev = Dev::start(config()).await;
    let updates = Updates::default();
    let auth = dev
        .oauth(None)
        .token_updater(updates.record())
        .build()
        .expect("authenticator");
    let first = auth.generate_token(USER, PASSWORD).await.expect("grant");
    let api = dev.api(None, &auth);
    assert_one_incident(&api).await;
    assert!(dev.server.admin().revoke_token(&access(&first)));
    dev.server.admin().reset_counters();
    slow_token_endpoint(&dev);

    let started = Instant::now();
    assert_eq!(burst(&api, 1000).await, 1000);
    let elapsed = started.elapsed();

    let c = dev.counters();
    assert_eq!(
        c.grants("refresh_token"),
        1,
        "one refresh for all 401s: {c:?}"
    );
    assert_eq!(c.requests_to(TOKEN), 1, "{c:?}");
    assert_eq!(c.requests_with(TABLE, 200), 1000, "every request succeeded");
    let refused = c.requests_with(TABLE, 401);
    assert!(refused >= 1, "some requests met the revoked token: {c:?}");
    assert_eq!(
        c.requests_to(TABLE),
        1000 + refused,
        "each 401 replayed once"
    );
    let seen = updates.all();
    assert_eq!(seen.len(), 2);
    assert_ne!(access(&seen[1]), access(&first));
    println!("1,000 requests with a revoked token: {refused} answered 401, 1 refresh, {elapsed:?}");
}

#[tokio::test]
async fn a_revoked_refresh_token_falls_back_to_the_password() {
    let dev = Dev::start(config()).await;
    let auth = dev
        .oauth(None)
        .password(USER, PASSWORD)
        .build()
        .expect("authenticator");
    let api = dev.api(None, &auth);
    assert_one_incident(&api).await; // first token: password grant
    let old = auth.cached_token().expect("cached");
    assert_eq!(dev.counters().grants("password"), 1);

    // Both tokens dead on the instance: the request gets a 401, the refresh is refused, the
    // password grant gets a new pair, and the request is replayed.
    assert_eq!(dev.server.admin().revoke_tokens(Some(USER)), 2);
    assert_one_incident(&api).await;

    let c = dev.counters();
    assert_eq!(c.grants("password"), 2, "{c:?}");
    assert_eq!(c.grants("refresh_token"), 0, "{c:?}");
    assert_eq!(c.requests_with(TOKEN, 401), 1, "the refused refresh");
    assert_eq!(c.requests_with(TABLE, 401), 1);
    assert_eq!(c.requests_with(TABLE, 200), 2);
    let new = auth.cached_token().expect("cached");
    assert_ne!(access(&new), access(&old));
    assert_ne!(refresh(&new), refresh(&old));
    assert!(!refresh(&new).is_empty());
}

#[tokio::test]
async fn a_revoked_refresh_token_without_a_password_is_a_clear_permanent_error() {
    let dev = Dev::start(config()).await;
    let auth = dev.oauth(None).build().expect("authenticator");
    auth.generate_token(USER, PASSWORD).await.expect("grant");
    let api = dev.api(None, &auth);
    assert_one_incident(&api).await;
    assert_eq!(dev.server.admin().revoke_tokens(Some(USER)), 2);

    let err = get_incident(&api).await.expect_err("no way to renew");
    assert!(!err.is_retryable(), "{err}");
    let Some(OAuthError::InvalidGrant { description, .. }) = refused(&err) else {
        panic!("expected an invalid-grant auth error, got {err:?}");
    };
    let description = description.as_deref().unwrap_or_default();
    assert!(description.contains("access_denied"), "{description}");
    assert!(description.contains("no password"), "{description}");
    let c = dev.counters();
    assert_eq!(c.requests_with(TOKEN, 401), 1, "one refused refresh: {c:?}");
    assert_eq!(c.requests_with(TABLE, 401), 1);

    // The dead refresh token is forgotten: the next request fails at once, asking nobody.
    let err = get_incident(&api).await.expect_err("still no token");
    assert!(
        matches!(err, TransportError::Auth(AuthError::MissingCredential(_))),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert_eq!(dev.counters(), c, "no further request reached the instance");
}

#[tokio::test]
async fn client_credentials_grant() {
    let dev = Dev::start(config()).await;
    let auth = dev
        .oauth(None)
        .client_credentials()
        .build()
        .expect("authenticator");
    let api = dev.api(None, &auth);
    assert_one_incident(&api).await;
    let token = auth.cached_token().expect("cached");
    assert!(
        token.refresh_token().is_none(),
        "no refresh token for this grant"
    );
    // Revoked: renewed with the same grant after the 401.
    assert!(dev.server.admin().revoke_token(&access(&token)));
    assert_one_incident(&api).await;

    let c = dev.counters();
    assert_eq!(c.grants("client_credentials"), 2, "{c:?}");
    assert_eq!(c.requests_with(TABLE, 401), 1);
    assert_eq!(c.requests_with(TABLE, 200), 2);
    // The grant acts as the client's "OAuth Application User".
    assert_eq!(
        table_users(&dev),
        [Some("admin".to_owned()), None, Some("admin".to_owned())]
    );

    // On an instance where the grant is disabled: access_denied.
    let mut disabled = config();
    disabled.oauth.client_credentials_user = None;
    let dev = Dev::start(disabled).await;
    let auth = dev
        .oauth(None)
        .client_credentials()
        .build()
        .expect("authenticator");
    let err = get_incident(&dev.api(None, &auth))
        .await
        .expect_err("grant disabled");
    assert!(
        matches!(refused(&err), Some(OAuthError::TokenCreate { description: Some(d), .. }) if d == "access_denied"),
        "{err:?}"
    );
    assert_eq!(dev.counters().requests_with(TOKEN, 401), 1);
    assert_eq!(dev.counters().requests_to(TABLE), 0);
}

/// JWT bearer with `algorithm`: accepted when signed with the key matching the instance's public
/// key, rejected (access_denied) when signed with another one.
async fn jwt_bearer_case(algorithm: JwtAlgorithm, public: &str, private: &str, other: &str) {
    let mut cfg = config();
    cfg.oauth.jwt_public_key_pem = Some(String::from_utf8(fixture(public)).expect("PEM text"));
    let dev = Dev::start(cfg).await;

    let jwt = JwtBearer::from_pem(algorithm, &fixture(private), "itil").expect("key");
    let auth = dev
        .oauth(None)
        .jwt_bearer(jwt)
        .build()
        .expect("authenticator");
    assert_one_incident(&dev.api(None, &auth)).await;
    let c = dev.counters();
    assert_eq!(c.grants("jwt_bearer"), 1, "{c:?}");
    assert_eq!(table_users(&dev), [Some("itil".to_owned())]);
    assert!(
        auth.cached_token()
            .expect("cached")
            .refresh_token()
            .is_none()
    );

    let jwt = JwtBearer::from_pem(algorithm, &fixture(other), "itil").expect("key");
    let auth = dev
        .oauth(None)
        .jwt_bearer(jwt)
        .build()
        .expect("authenticator");
    let err = get_incident(&dev.api(None, &auth))
        .await
        .expect_err("signed with another key");
    let Some(OAuthError::TokenCreate {
        status,
        description,
        ..
    }) = refused(&err)
    else {
        panic!("expected a rejected grant, got {err:?}");
    };
    assert_eq!(*status, Some(401));
    assert_eq!(description.as_deref(), Some("access_denied"));
    assert!(!err.is_retryable());
    let c = dev.counters();
    assert_eq!(
        c.grants("jwt_bearer"),
        1,
        "no token for the wrong key: {c:?}"
    );
    assert_eq!(c.requests_with(TOKEN, 401), 1);
    assert_eq!(
        c.requests_to(TABLE),
        1,
        "the refused client sent no table request"
    );
}

#[tokio::test]
async fn jwt_bearer_rs256_accepted_with_the_right_key_only() {
    jwt_bearer_case(
        JwtAlgorithm::RS256,
        "rsa_public.pem",
        "rsa_private.pem",
        "rsa_other_private.pem",
    )
    .await;
}

#[tokio::test]
async fn jwt_bearer_es256_accepted_with_the_right_key_only() {
    jwt_bearer_case(
        JwtAlgorithm::ES256,
        "ec_public.pem",
        "ec_private.pem",
        "ec_other_private.pem",
    )
    .await;
}

/// The token-creation error for a refused password grant, checked in full.
fn assert_access_denied(err: &OAuthError, secret: &str) {
    let OAuthError::TokenCreate {
        status,
        error,
        description,
    } = err
    else {
        panic!("expected a token-creation error, got {err:?}");
    };
    assert_eq!(*status, Some(401));
    assert_eq!(error, "server_error");
    assert_eq!(description.as_deref(), Some("access_denied"));
    assert!(!err.is_retryable());
    let text = format!("{err} {err:?}");
    assert!(text.contains("access_denied"), "{text}");
    assert!(!text.contains(secret), "{text}");
}

#[tokio::test]
async fn wrong_client_secret_or_password_is_access_denied() {
    let dev = Dev::start(config()).await;
    let wrong_secret = OAuth::builder(
        &dev.instance,
        dev.transport(None).build().expect("transport"),
        dev.client_id.clone(),
        "cs-wrong-7Hq",
    )
    .build()
    .expect("authenticator");
    let err = wrong_secret
        .generate_token(USER, PASSWORD)
        .await
        .expect_err("wrong client secret");
    assert_access_denied(&err, "cs-wrong-7Hq");

    let auth = dev.oauth(None).build().expect("authenticator");
    let err = auth
        .generate_token(USER, "pw-wrong-3Xv")
        .await
        .expect_err("wrong password");
    assert_access_denied(&err, "pw-wrong-3Xv");
    assert!(auth.cached_token().is_none());

    // Through the transport, with the password on the builder: the same refusal, as AuthError.
    let auth = dev
        .oauth(None)
        .password(USER, "pw-wrong-3Xv")
        .build()
        .expect("authenticator");
    let err = get_incident(&dev.api(None, &auth))
        .await
        .expect_err("wrong password");
    assert!(
        matches!(refused(&err), Some(OAuthError::TokenCreate { status: Some(401), description: Some(d), .. }) if d == "access_denied"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("pw-wrong-3Xv"));

    let c = dev.counters();
    assert_eq!(c.requests_with(TOKEN, 401), 3, "{c:?}");
    assert!(c.token_grants.values().all(|n| *n == 0), "{c:?}");
    assert_eq!(c.requests_to(TABLE), 0);
}

#[tokio::test]
async fn token_and_table_calls_go_through_the_connect_proxy() {
    let dev = Dev::start(config()).await;
    let proxy = ConnectProxy::start().await;
    let target = dev.server.local_addr().to_string();
    let auth = dev.oauth(Some(&proxy)).build().expect("authenticator");

    auth.generate_token(USER, PASSWORD).await.expect("grant");
    assert_eq!(
        proxy.targets(),
        std::slice::from_ref(&target),
        "the token call tunnelled"
    );
    assert_eq!(dev.counters().grants("password"), 1);

    let api = dev.api(Some(&proxy), &auth);
    assert_one_incident(&api).await;
    assert_eq!(
        proxy.targets(),
        [target.clone(), target.clone()],
        "the table call tunnelled"
    );
    // A refresh after a 401 reuses the token transport's pooled tunnel.
    let token = auth.cached_token().expect("cached");
    assert!(dev.server.admin().revoke_token(&access(&token)));
    assert_one_incident(&api).await;
    let c = dev.counters();
    assert_eq!(c.grants("refresh_token"), 1);
    assert_eq!(c.requests_with(TABLE, 200), 2);
    assert!(proxy.targets().iter().all(|t| *t == target));
}

#[tokio::test]
async fn basic_flow_over_tls() {
    let dev = Dev::start(DevConfig {
        tls: true,
        ..config()
    })
    .await;
    assert!(dev.server.base_url().starts_with("https://"));
    let auth = dev.oauth(None).build().expect("authenticator");
    auth.generate_token(USER, PASSWORD).await.expect("grant");
    let api = dev.api(None, &auth);
    assert_one_incident(&api).await;
    let token = auth.cached_token().expect("cached");
    assert!(dev.server.admin().revoke_token(&access(&token)));
    assert_one_incident(&api).await;

    let c = dev.counters();
    assert_eq!(c.grants("password"), 1);
    assert_eq!(c.grants("refresh_token"), 1);
    assert_eq!(c.requests_with(TABLE, 200), 2);
    assert_eq!(c.requests_with(TABLE, 401), 1);

    // Without the instance's CA the token call fails on the certificate, transiently or not,
    // but never reaching the instance.
    let untrusting = Transport::builder(dev.instance.clone())
        .build()
        .expect("transport");
    let auth = OAuth::builder(
        &dev.instance,
        untrusting,
        dev.client_id.clone(),
        CLIENT_SECRET,
    )
    .build()
    .expect("authenticator");
    let err = auth
        .generate_token(USER, PASSWORD)
        .await
        .expect_err("untrusted certificate");
    assert!(matches!(err, OAuthError::Transport(_)), "{err:?}");
    assert_eq!(dev.counters().requests_to(TOKEN), c.requests_to(TOKEN));
}

#[tokio::test]
async fn tls_through_the_connect_proxy() {
    let dev = Dev::start(DevConfig {
        tls: true,
        ..config()
    })
    .await;
    let proxy = ConnectProxy::start().await;
    let target = dev.server.local_addr().to_string();
    let auth = dev.oauth(Some(&proxy)).build().expect("authenticator");
    auth.generate_token(USER, PASSWORD).await.expect("grant");
    assert_one_incident(&dev.api(Some(&proxy), &auth)).await;
    assert_eq!(proxy.targets(), [target.clone(), target]);
    let c = dev.counters();
    assert_eq!(c.grants("password"), 1);
    assert_eq!(c.requests_with(TABLE, 200), 1);
}

#[test]
fn trace_capture_of_a_full_flow_holds_no_secret() {
    let capture = Capture::default();
    let _guard = capture.install();
    // One thread: everything the runtime runs (client, transport, instance) logs to the capture.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (tokens, counters) = runtime.block_on(async {
        let dev = Dev::start(DevConfig {
            access_token_ttl: Duration::from_secs(2),
            ..config()
        })
        .await;
        let updates = Updates::default();
        let auth = dev
            .oauth(None)
            .password(USER, PASSWORD)
            .token_updater(updates.record())
            .build()
            .expect("authenticator");
        let api = dev.api(None, &auth);
        // Generate, request.
        auth.generate_token(USER, PASSWORD).await.expect("grant");
        assert_one_incident(&api).await;
        // Expiry: refresh before the next request.
        tokio::time::sleep(Duration::from_millis(2300)).await;
        assert_one_incident(&api).await;
        // Revoked access token: 401, refresh, replay.
        let current = auth.cached_token().expect("cached");
        assert!(dev.server.admin().revoke_token(&access(&current)));
        assert_one_incident(&api).await;
        // Revoked refresh token too: refused refresh, password fallback.
        assert_eq!(dev.server.admin().revoke_tokens(Some(USER)), 2);
        assert_one_incident(&api).await;
        tracing::debug!(transport = ?api, "the transport after the flow");
        (updates.all(), dev.counters())
    });
    assert_eq!(counters.grants("password"), 2, "{counters:?}");
    assert_eq!(counters.grants("refresh_token"), 2, "{counters:?}");
    assert_eq!(counters.requests_with(TABLE, 401), 2, "{counters:?}");
    assert_eq!(tokens.len(), 4, "one update per new token");

    let log = capture.text();
    for expected in [
        "new OAuth token cached",
        "refresh token was refused",
        "replaying the request",
        "the transport after the flow",
    ] {
        assert!(log.contains(expected), "{expected:?} missing from:\n{log}");
    }
    let mut secrets = vec![PASSWORD.to_owned(), CLIENT_SECRET.to_owned()];
    for t in &tokens {
        secrets.push(access(t));
        secrets.push(refresh(t));
    }
    assert_no_secret(&log, &secrets);
}

#[tokio::test]
async fn debug_of_the_transport_with_oauth_shows_no_secret() {
    let dev = Dev::start(config()).await;
    let auth = dev
        .oauth(None)
        .password(USER, PASSWORD)
        .build()
        .expect("authenticator");
    let api = dev.api(None, &auth);
    assert_one_incident(&api).await;
    let token = auth.cached_token().expect("cached");
    assert_eq!(dev.counters().grants("password"), 1);

    let shown = format!("{api:?}\n{api:#?}\n{auth:?}\n{token:?}\n{token}");
    let secrets = [
        PASSWORD.to_owned(),
        CLIENT_SECRET.to_owned(),
        access(&token),
        refresh(&token),
    ];
    assert_no_secret(&shown, &secrets);
    assert!(shown.contains("OAuthAuthenticator"), "{shown}");
    assert!(shown.contains(USER), "the user name is not secret: {shown}");
    assert!(shown.contains("REDACTED"), "{shown}");
}
