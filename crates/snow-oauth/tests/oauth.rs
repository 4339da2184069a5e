//! snow-oauth against an emulated ServiceNow token endpoint and table API, over real sockets.

mod support;

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, DecodingKey};
use secrecy::SecretString;
use snow_core::{AuthError, AuthRetry, Authenticator, http};
use snow_oauth::{
    ClientAuth, FileTokenStore, JwtAlgorithm, JwtBearer, OAuth, OAuthAuthenticator, OAuthBuilder,
    OAuthError, TokenEpoch, TokenSet, TokenStore,
};
use support::*;

fn builder(server: &TestServer, http: &HyperExchange) -> OAuthBuilder {
    OAuth::builder(&server.instance(), http.clone(), CLIENT_ID, CLIENT_SECRET)
}

fn table_url(server: &TestServer) -> String {
    server.url("/api/now/table/incident?sysparm_limit=1")
}

/// A token set the server knows the refresh token of, with an expired access token.
async fn expired_token_with_refresh(server: &TestServer, http: &HyperExchange) -> TokenSet {
    let seed = builder(server, http).build().unwrap();
    let t = seed.generate_token(USER, PASSWORD).await.unwrap();
    let rt = t
        .refresh_token()
        .expect("password grant returns a refresh token")
        .clone();
    TokenSet::new("stale-access-token")
        .with_refresh_token(rt)
        .with_expires_at(UNIX_EPOCH + Duration::from_secs(1))
}

/// The `OAuthError` an `AuthError` carries.
fn oauth_source(e: &AuthError) -> Option<&OAuthError> {
    std::error::Error::source(e).and_then(|s| s.downcast_ref::<OAuthError>())
}

fn secret_str(s: &SecretString) -> String {
    use secrecy::ExposeSecret as _;
    s.expose_secret().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_grant_then_bearer_on_requests() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let auth = builder(&server, &http).build().unwrap();

    let token = auth.generate_token(USER, PASSWORD).await.unwrap();
    assert!(token.access_token_str().starts_with("AT-"));
    assert!(token.refresh_token().is_some());
    assert_eq!(token.scope(), Some("useraccount"));
    assert_eq!(token.token_type(), "Bearer");
    assert!(token.expires_at().unwrap() > SystemTime::now() + Duration::from_secs(1700));

    let mut parts = request_parts(&table_url(&server));
    auth.authenticate(&mut parts).await.unwrap();
    let value = &parts.headers[http::header::AUTHORIZATION];
    assert!(value.is_sensitive());
    assert_eq!(
        value.to_str().unwrap(),
        format!("Bearer {}", token.access_token_str())
    );
    assert!(parts.extensions.get::<TokenEpoch>().is_some());

    for _ in 0..3 {
        assert_eq!(
            get_table(&auth, &http, &table_url(&server)).await.unwrap(),
            200
        );
    }
    // Within its lifetime, a second password grant returns the same token, as ServiceNow does.
    let again = auth.generate_token(USER, PASSWORD).await.unwrap();
    assert_eq!(again.access_token_str(), token.access_token_str());
    assert_eq!(server.state.counters.password.load(Ordering::SeqCst), 2);
    assert_eq!(server.state.counters.refresh.load(Ordering::SeqCst), 0);
    assert_eq!(
        server
            .state
            .counters
            .basic_client_auth
            .load(Ordering::SeqCst),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_secret_in_basic_header_on_request() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let auth = builder(&server, &http)
        .client_auth(ClientAuth::Basic)
        .password(USER, PASSWORD)
        .build()
        .unwrap();
    assert_eq!(
        get_table(&auth, &http, &table_url(&server)).await.unwrap(),
        200
    );
    assert_eq!(
        server
            .state
            .counters
            .basic_client_auth
            .load(Ordering::SeqCst),
        1
    );
    assert_eq!(server.state.counters.password.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_refreshes_and_updater_sees_each_new_token() {
    let server = TestServer::start(Config {
        access_ttl: 2,
        ..Config::default()
    })
    .await;
    let http = HyperExchange::new();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen2 = seen.clone();
    let auth = builder(&server, &http)
        .expiry_skew(Duration::from_millis(500))
        .token_updater(move |t| seen2.lock().unwrap().push(t.access_token_str().to_owned()))
        .build()
        .unwrap();

    let first = auth.generate_token(USER, PASSWORD).await.unwrap();
    assert_eq!(
        get_table(&auth, &http, &table_url(&server)).await.unwrap(),
        200
    );
    tokio::time::sleep(Duration::from_millis(2200)).await;
    // The token has expired: the request refreshes it first, and succeeds.
    assert_eq!(
        get_table(&auth, &http, &table_url(&server)).await.unwrap(),
        200
    );
    assert_eq!(
        get_table(&auth, &http, &table_url(&server)).await.unwrap(),
        200
    );

    let cached = auth.cached_token().unwrap();
    assert_ne!(cached.access_token_str(), first.access_token_str());
    assert_eq!(server.state.counters.refresh.load(Ordering::SeqCst), 1);
    assert_eq!(server.state.counters.table_401.load(Ordering::SeqCst), 0);
    // Once for generate_token, once for the refresh, each with the token then in the cache.
    assert_eq!(
        *seen.lock().unwrap(),
        vec![
            first.access_token_str().to_owned(),
            cached.access_token_str().to_owned()
        ]
    );
    // The refresh answer had no refresh token: the old one is kept.
    assert_eq!(
        secret_str(cached.refresh_token().unwrap()),
        secret_str(first.refresh_token().unwrap())
    );
}

/// What steady traffic did against an instance that reissues the current token.
struct Steady {
    requests: usize,
    /// Access tokens seen after the first one.
    new_tokens: usize,
    refreshes: usize,
    table_ok: usize,
    table_401: usize,
}

/// One request every 10 ms for `run_for`, each authenticated (refreshing as needed) and
/// replayed once on a 401, against a ServiceNow-like instance issuing `ttl_secs` tokens.
async fn steady_traffic(ttl_secs: u64, run_for: Duration) -> Steady {
    let server = TestServer::start(Config {
        access_ttl: ttl_secs,
        reissue_current: true,
        ..Config::default()
    })
    .await;
    let http = HyperExchange::new();
    let auth = builder(&server, &http).build().unwrap();
    let first = auth.generate_token(USER, PASSWORD).await.unwrap();
    let url = table_url(&server);
    let mut tokens = std::collections::HashSet::from([first.access_token_str().to_owned()]);
    let mut requests = 0;
    let until = std::time::Instant::now() + run_for;
    while std::time::Instant::now() < until {
        assert_eq!(get_table(&auth, &http, &url).await.unwrap(), 200);
        tokens.insert(auth.cached_token().unwrap().access_token_str().to_owned());
        requests += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let c = &server.state.counters;
    assert_eq!(c.password.load(Ordering::SeqCst), 1);
    Steady {
        requests,
        new_tokens: tokens.len() - 1,
        refreshes: c.refresh.load(Ordering::SeqCst),
        table_ok: c.table_ok.load(Ordering::SeqCst),
        table_401: c.table_401.load(Ordering::SeqCst),
    }
}

/// A 2-second token (`expires_in: 1` when new): renewed once at half its life, which brings it
/// back unchanged, then used until it has expired and renewed once more, for the next token. No
/// refresh storm in its last second, when the instance says `expires_in: 0`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_traffic_with_a_reissued_token_refreshes_at_most_twice_per_lifetime() {
    let s = steady_traffic(2, Duration::from_millis(2700)).await;
    println!(
        "2 s tokens: {} requests, {} refreshes, {} new tokens, {} 401s",
        s.requests, s.refreshes, s.new_tokens, s.table_401
    );
    assert!(s.new_tokens >= 1, "the token expired at least once");
    assert_eq!(s.table_ok, s.requests, "every request succeeded");
    assert!(
        s.refreshes <= 2 * s.new_tokens + 1,
        "{} refreshes for {} new tokens over {} requests",
        s.refreshes,
        s.new_tokens,
        s.requests
    );
}

/// A 1-second token is announced with `expires_in: 0`: it is due at once, but the minimum
/// interval between renewals keeps it in use until the instance lets it go, so each renewal
/// brings a new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_traffic_with_expires_in_zero_refreshes_once_per_lifetime() {
    let s = steady_traffic(1, Duration::from_millis(2500)).await;
    println!(
        "1 s tokens: {} requests, {} refreshes, {} new tokens, {} 401s",
        s.requests, s.refreshes, s.new_tokens, s.table_401
    );
    assert!(s.new_tokens >= 1, "the token expired at least once");
    assert_eq!(s.table_ok, s.requests, "every request succeeded");
    assert_eq!(
        s.refreshes, s.new_tokens,
        "each refresh brought a new token"
    );
}

/// A renewal that brings back the cached access token keeps its epoch; a 401 right after it is
/// not held back by the minimum interval between renewals, and brings a new token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reissued_token_keeps_its_epoch_and_a_401_still_renews_at_once() {
    let server = TestServer::start(Config {
        reissue_current: true,
        ..Config::default()
    })
    .await;
    let http = HyperExchange::new();
    let auth = builder(&server, &http).build().unwrap();
    let url = table_url(&server);
    let (a, u) = (&auth, &url);
    let epoch_now = move || async move {
        let mut parts = request_parts(u);
        a.authenticate(&mut parts).await.unwrap();
        *parts.extensions.get::<TokenEpoch>().unwrap()
    };
    let first = auth.generate_token(USER, PASSWORD).await.unwrap();
    let epoch = epoch_now().await;

    let again = auth.refresh().await.unwrap();
    assert_eq!(again.access_token_str(), first.access_token_str());
    assert_eq!(server.state.counters.refresh.load(Ordering::SeqCst), 1);
    assert_eq!(epoch_now().await, epoch, "the same token keeps its epoch");

    // The instance drops the token: the next request meets a 401, renews and is replayed.
    server.state.revoke_all_access();
    assert_eq!(get_table(&auth, &http, &url).await.unwrap(), 200);
    let c = &server.state.counters;
    assert_eq!(c.table_401.load(Ordering::SeqCst), 1);
    assert_eq!(c.refresh.load(Ordering::SeqCst), 2);
    let renewed = auth.cached_token().unwrap();
    assert_ne!(renewed.access_token_str(), first.access_token_str());
    assert!(epoch_now().await.get() > epoch.get());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_requests_with_expired_token_refresh_once() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let stale = expired_token_with_refresh(&server, &http).await;
    let updates = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let u = updates.clone();
    // Token calls are slowed down so that every task is queued before the refresh completes.
    let slow = SlowExchange::new(http.clone(), Duration::from_millis(300));
    let auth = OAuth::builder(&server.instance(), slow, CLIENT_ID, CLIENT_SECRET)
        .token(stale)
        .token_updater(move |_| {
            u.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();

    let url = table_url(&server);
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let (auth, http, url) = (auth.clone(), http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let mut parts = request_parts(&url);
            auth.authenticate(&mut parts).await.unwrap();
            let header = parts.headers[http::header::AUTHORIZATION].clone();
            let status = get_table(&auth, &http, &url).await.unwrap();
            (header, status)
        }));
    }
    let mut headers = std::collections::HashSet::new();
    for t in tasks {
        let (header, status) = t.await.unwrap();
        assert_eq!(status, 200);
        headers.insert(header);
    }
    assert_eq!(server.state.counters.refresh.load(Ordering::SeqCst), 1);
    assert_eq!(server.state.counters.table_ok.load(Ordering::SeqCst), 1000);
    assert_eq!(headers.len(), 1, "every request used the one new token");
    assert_eq!(updates.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_401s_refresh_once() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let auth = builder(&server, &http).build().unwrap();
    auth.generate_token(USER, PASSWORD).await.unwrap();
    assert_eq!(
        get_table(&auth, &http, &table_url(&server)).await.unwrap(),
        200
    );

    // The instance forgets every access token (as after a revocation): each request gets a 401.
    server.state.revoke_all_access();
    // All 1000 requests are authenticated with the stale token before any is sent.
    let url = table_url(&server);
    let barrier = Arc::new(tokio::sync::Barrier::new(1000));
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let (auth, http, url, barrier) = (auth.clone(), http.clone(), url.clone(), barrier.clone());
        tasks.push(tokio::spawn(async move {
            let mut parts = request_parts(&url);
            auth.authenticate(&mut parts).await.unwrap();
            barrier.wait().await;
            send_then_replay(&auth, &http, parts).await.unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let c = &server.state.counters;
    assert_eq!(c.table_401.load(Ordering::SeqCst), 1000);
    assert_eq!(c.refresh.load(Ordering::SeqCst), 1);
    assert_eq!(c.password.load(Ordering::SeqCst), 1);
    assert_eq!(c.table_ok.load(Ordering::SeqCst), 1001);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_on_unauthorized_with_same_epoch_refresh_once() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let auth = builder(&server, &http).build().unwrap();
    auth.generate_token(USER, PASSWORD).await.unwrap();
    let url = table_url(&server);

    let mut stale = Vec::new();
    for _ in 0..1000 {
        let mut parts = request_parts(&url);
        auth.authenticate(&mut parts).await.unwrap();
        stale.push(parts);
    }
    let epoch = *stale[0].extensions.get::<TokenEpoch>().unwrap();
    let response = http::Response::builder()
        .status(401)
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let response = Arc::new(response);
    let mut tasks = Vec::new();
    for parts in stale {
        let (auth, response) = (auth.clone(), response.clone());
        tasks.push(tokio::spawn(async move {
            auth.on_unauthorized(&parts, &response).await.unwrap()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), AuthRetry::Replay);
    }
    assert_eq!(server.state.counters.refresh.load(Ordering::SeqCst), 1);
    let mut parts = request_parts(&url);
    auth.authenticate(&mut parts).await.unwrap();
    let now = *parts.extensions.get::<TokenEpoch>().unwrap();
    assert!(now.get() > epoch.get());
    assert_eq!(get_table(&auth, &http, &url).await.unwrap(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_refresh_token_falls_back_to_password() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let auth = builder(&server, &http)
        .password(USER, PASSWORD)
        .build()
        .unwrap();
    assert_eq!(
        get_table(&auth, &http, &table_url(&server)).await.unwrap(),
        200
    );
    let first = auth.cached_token().unwrap();

    server
        .state
        .revoke(&secret_str(first.refresh_token().unwrap()));
    server.state.revoke_all_access();
    assert_eq!(
        get_table(&auth, &http, &table_url(&server)).await.unwrap(),
        200
    );

    let c = &server.state.counters;
    assert_eq!(
        c.refresh.load(Ordering::SeqCst),
        1,
        "the refresh was tried first"
    );
    assert_eq!(
        c.password.load(Ordering::SeqCst),
        2,
        "then the password grant"
    );
    let now = auth.cached_token().unwrap();
    assert_ne!(now.access_token_str(), first.access_token_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_refresh_token_without_password_is_a_permanent_error() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let stale = expired_token_with_refresh(&server, &http).await;
    server
        .state
        .revoke(&secret_str(stale.refresh_token().unwrap()));
    let auth = builder(&server, &http).token(stale).build().unwrap();

    let err = auth.token().await.unwrap_err();
    assert!(err.is_invalid_grant(), "{err:?}");
    assert!(!err.is_retryable());
    let msg = err.to_string();
    assert!(
        msg.contains("access_denied") && msg.contains("no password"),
        "{msg}"
    );

    let mut parts = request_parts(&table_url(&server));
    let err = auth.authenticate(&mut parts).await.unwrap_err();
    assert!(matches!(err, AuthError::MissingCredential(_)), "{err:?}");
    assert!(!err.is_retryable());
    // The dead refresh token is not tried again.
    assert_eq!(server.state.counters.refresh.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_from_a_refresh_token_alone() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let stale = expired_token_with_refresh(&server, &http).await;
    let rt = stale.refresh_token().unwrap().clone();
    let auth = builder(&server, &http)
        .refresh_token(rt.clone())
        .build()
        .unwrap();
    assert_eq!(
        get_table(&auth, &http, &table_url(&server)).await.unwrap(),
        200
    );
    assert_eq!(server.state.counters.refresh.load(Ordering::SeqCst), 1);
    assert_eq!(
        secret_str(auth.cached_token().unwrap().refresh_token().unwrap()),
        secret_str(&rt)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_credentials_grant() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let auth = builder(&server, &http)
        .client_credentials()
        .build()
        .unwrap();
    assert_eq!(
        get_table(&auth, &http, &table_url(&server)).await.unwrap(),
        200
    );
    assert_eq!(
        server
            .state
            .counters
            .client_credentials
            .load(Ordering::SeqCst),
        1
    );

    let off = TestServer::start(Config {
        client_credentials_enabled: false,
        ..Config::default()
    })
    .await;
    let auth = builder(&off, &http).client_credentials().build().unwrap();
    let err = auth.token().await.unwrap_err();
    assert!(
        matches!(&err, OAuthError::TokenCreate { status: Some(401), description: Some(d), .. } if d == "access_denied"),
        "{err:?}"
    );
}

fn jwt_server_config() -> Config {
    Config {
        jwt_keys: vec![
            (
                Algorithm::RS256,
                DecodingKey::from_rsa_pem(&fixture("rsa_public.pem")).unwrap(),
            ),
            (
                Algorithm::ES256,
                DecodingKey::from_ec_pem(&fixture("ec_public.pem")).unwrap(),
            ),
        ],
        ..Config::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_bearer_signed_here_is_accepted() {
    let server = TestServer::start(jwt_server_config()).await;
    let http = HyperExchange::new();
    for (alg, key) in [
        (JwtAlgorithm::RS256, "rsa_private.pem"),
        (JwtAlgorithm::RS256, "rsa_private_pkcs1.pem"),
        (JwtAlgorithm::ES256, "ec_private.pem"),
    ] {
        let jwt = JwtBearer::from_pem(alg, &fixture(key), USER)
            .unwrap()
            .key_id("test-key")
            .clock_skew(Duration::from_secs(30));
        let auth = builder(&server, &http).jwt_bearer(jwt).build().unwrap();
        let t = auth.token().await.unwrap_or_else(|e| panic!("{key}: {e}"));
        assert!(
            t.refresh_token().is_none(),
            "the JWT grant issues no refresh token"
        );
        assert_eq!(
            get_table(&auth, &http, &table_url(&server)).await.unwrap(),
            200
        );
    }
    assert_eq!(server.state.counters.jwt.load(Ordering::SeqCst), 3);

    // The assertion carries the claims ServiceNow checks.
    let jwt = JwtBearer::from_pem(JwtAlgorithm::ES256, &fixture("ec_private.pem"), USER)
        .unwrap()
        .key_id("k1");
    let a = secret_str(&jwt.sign_assertion(CLIENT_ID).unwrap());
    let header = jsonwebtoken::decode_header(&a).unwrap();
    assert_eq!(header.kid.as_deref(), Some("k1"));
    assert_eq!(header.alg, Algorithm::ES256);
    let mut v = jsonwebtoken::Validation::new(Algorithm::ES256);
    v.set_audience(&[CLIENT_ID]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(
        &a,
        &DecodingKey::from_ec_pem(&fixture("ec_public.pem")).unwrap(),
        &v,
    )
    .unwrap()
    .claims;
    assert_eq!(claims["iss"], CLIENT_ID);
    assert_eq!(claims["sub"], USER);
    assert!(claims["exp"].as_u64().unwrap() > claims["iat"].as_u64().unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_bearer_signed_with_another_key_is_rejected() {
    let server = TestServer::start(jwt_server_config()).await;
    let http = HyperExchange::new();
    for (alg, key) in [
        (JwtAlgorithm::RS256, "rsa_other_private.pem"),
        (JwtAlgorithm::ES256, "ec_other_private.pem"),
    ] {
        let jwt = JwtBearer::from_pem(alg, &fixture(key), USER).unwrap();
        let auth = builder(&server, &http).jwt_bearer(jwt).build().unwrap();
        let err = auth.token().await.unwrap_err();
        assert!(err.to_string().contains("access_denied"), "{err}");
        assert!(!err.is_retryable());
    }
    assert_eq!(server.state.counters.refused.load(Ordering::SeqCst), 2);
}

#[test]
fn jwt_key_must_match_the_algorithm() {
    let err =
        JwtBearer::from_pem(JwtAlgorithm::ES256, &fixture("rsa_private.pem"), USER).unwrap_err();
    assert!(matches!(err, OAuthError::Jwt { .. }), "{err:?}");
    let err = JwtBearer::from_pem(JwtAlgorithm::RS256, b"not a pem", USER).unwrap_err();
    assert!(matches!(err, OAuthError::Jwt { .. }), "{err:?}");
    assert!(!err.to_string().contains("not a pem"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_or_client_secret_say_access_denied() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let auth = builder(&server, &http).build().unwrap();
    let err = auth
        .generate_token(USER, "wrong-password")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, OAuthError::TokenCreate { status: Some(401), error, description: Some(d) }
            if error == "server_error" && d == "access_denied"),
        "{err:?}"
    );
    assert!(err.to_string().contains("access_denied"));
    assert!(!err.is_retryable());

    let bad_client = OAuth::builder(&server.instance(), http.clone(), CLIENT_ID, "wrong-secret")
        .password(USER, PASSWORD)
        .build()
        .unwrap();
    let mut parts = request_parts(&table_url(&server));
    let err = bad_client.authenticate(&mut parts).await.unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::Refused {
                transient: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        matches!(
            oauth_source(&err),
            Some(OAuthError::TokenCreate {
                status: Some(401),
                ..
            })
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("access_denied"));
    assert!(!err.is_retryable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_html_5xx_and_dead_endpoints_are_classified() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let with_url = |path: &str| {
        builder(&server, &http)
            .token_url(server.url(path))
            .password(USER, PASSWORD)
            .build()
            .unwrap()
    };
    let err = with_url("/redirect/oauth_token.do")
        .token()
        .await
        .unwrap_err();
    assert!(
        matches!(err, OAuthError::Redirected { status: 302 }),
        "{err:?}"
    );
    assert!(!err.is_retryable());

    let err = with_url("/hibernating/oauth_token.do")
        .token()
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::InstanceUnavailable {
                hibernating: true,
                status: 200
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("hibernating"), "{err}");
    assert!(!err.is_retryable());

    let err = with_url("/down/oauth_token.do").token().await.unwrap_err();
    assert!(
        matches!(
            err,
            OAuthError::InstanceUnavailable {
                hibernating: false,
                status: 503
            }
        ),
        "{err:?}"
    );
    assert!(err.is_retryable());
    let auth_err: AuthError = err.into();
    assert!(auth_err.is_retryable());

    // Nothing listens on port 9 of the loopback address.
    let dead = builder(&server, &http)
        .token_url("http://127.0.0.1:9/oauth_token.do")
        .password(USER, PASSWORD)
        .build()
        .unwrap();
    let err = dead.token().await.unwrap_err();
    assert!(matches!(err, OAuthError::Transport(_)), "{err:?}");
    assert!(err.is_retryable());

    let err = builder(&server, &http)
        .token_url("not a url")
        .build()
        .unwrap_err();
    assert!(matches!(err, OAuthError::Config { .. }));
    let err = builder(&server, &http)
        .revoke_url("ftp://example.com/revoke")
        .build()
        .unwrap_err();
    assert!(matches!(err, OAuthError::Config { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_or_grant_there_is_no_credential_and_no_replay() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let auth = builder(&server, &http).build().unwrap();
    let mut parts = request_parts(&table_url(&server));
    let err = auth.authenticate(&mut parts).await.unwrap_err();
    assert!(matches!(err, AuthError::MissingCredential(_)), "{err:?}");

    // A static token with no refresh token: a 401 is handed back, not replayed.
    let auth = builder(&server, &http)
        .token(TokenSet::new("unknown-token"))
        .build()
        .unwrap();
    assert_eq!(
        get_table(&auth, &http, &table_url(&server)).await.unwrap(),
        401
    );
    assert_eq!(server.state.grants(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoke_revokes_and_forgets() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let auth = builder(&server, &http).build().unwrap();
    let t = auth.generate_token(USER, PASSWORD).await.unwrap();
    assert_eq!(
        get_table(&auth, &http, &table_url(&server)).await.unwrap(),
        200
    );
    auth.revoke().await.unwrap();
    assert!(auth.cached_token().is_none());

    // The revoked tokens no longer work.
    // A 401, then the refresh token is refused too, with nothing to fall back on.
    let stale = builder(&server, &http).token(t.clone()).build().unwrap();
    let err = get_table(&stale, &http, &table_url(&server))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::Refused {
                transient: false,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        oauth_source(&err).is_some_and(OAuthError::is_invalid_grant),
        "{err:?}"
    );
    assert_eq!(server.state.counters.table_401.load(Ordering::SeqCst), 1);
    assert_eq!(server.state.counters.refresh.load(Ordering::SeqCst), 1);
    assert_eq!(server.state.counters.refused.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_generate_once_then_start_from_it() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let dir = std::env::temp_dir().join(format!("snow-oauth-it-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("token.json");
    let _ = std::fs::remove_file(&path);

    let first = builder(&server, &http)
        .token_store(FileTokenStore::new(&path))
        .build()
        .unwrap();
    let t1 = first.generate_token(USER, PASSWORD).await.unwrap();
    let stored = FileTokenStore::new(&path).load().await.unwrap().unwrap();
    assert_eq!(stored.access_token_str(), t1.access_token_str());

    // Later: a new authenticator starts from the stored token, with no password at all.
    let later = builder(&server, &http)
        .token_store(FileTokenStore::new(&path))
        .build()
        .unwrap();
    assert_eq!(
        get_table(&later, &http, &table_url(&server)).await.unwrap(),
        200
    );
    assert_eq!(server.state.counters.password.load(Ordering::SeqCst), 1);

    // A refresh lands in the store.
    let t2 = later.refresh().await.unwrap();
    assert_ne!(t2.access_token_str(), t1.access_token_str());
    let stored = FileTokenStore::new(&path).load().await.unwrap().unwrap();
    assert_eq!(stored.access_token_str(), t2.access_token_str());
    assert!(stored.refresh_token().is_some());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn all_secrets(extra: &[String]) -> Vec<String> {
    let mut v = vec![
        PASSWORD.to_owned(),
        CLIENT_SECRET.to_owned(),
        "AT-0".to_owned(),
        "RT-0".to_owned(),
        "x7Yq2wE9rT".to_owned(),
        "p4Lm8sV1nB".to_owned(),
    ];
    v.extend(extra.iter().cloned());
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_of_secret_holders_shows_no_secret() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let b = builder(&server, &http).password(USER, PASSWORD);
    let builder_dbg = format!("{b:?}");
    let auth: OAuthAuthenticator = b.build().unwrap();
    auth.token().await.unwrap();
    let token = auth.cached_token().unwrap();
    let pem = fixture("ec_private.pem");
    let jwt = JwtBearer::from_pem(JwtAlgorithm::ES256, &pem, USER).unwrap();
    let assertion = jwt.sign_assertion(CLIENT_ID).unwrap();
    let pem_body = String::from_utf8(pem)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .to_owned();
    let jwt_auth = builder(&server, &http)
        .jwt_bearer(jwt.clone())
        .build()
        .unwrap();

    let outputs = [
        builder_dbg,
        format!("{auth:?}"),
        format!("{auth:#?}"),
        format!("{token:?}"),
        format!("{token}"),
        format!("{jwt:?}"),
        format!("{jwt_auth:?}"),
        format!("{assertion:?}"),
        format!("{:?}", FileTokenStore::new("/tmp/x.json")),
    ];
    let secrets = all_secrets(&[pem_body, secret_str(&assertion)]);
    for out in &outputs {
        for s in &secrets {
            assert!(!out.contains(s.as_str()), "{s:?} leaked in {out}");
        }
    }
    assert!(outputs[1].contains(CLIENT_ID) && outputs[1].contains("REDACTED"));
}

#[test]
fn trace_log_of_a_full_flow_has_no_secret() {
    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let assertion = rt.block_on(async {
        let server = TestServer::start(jwt_server_config()).await;
        let http = HyperExchange::new();
        let url = table_url(&server);
        // Password grant, requests, a 401 with a refresh, a refused refresh with password fallback.
        let auth = builder(&server, &http)
            .password(USER, PASSWORD)
            .token_updater(|t| tracing::info!(token = %t, "updated"))
            .build()
            .unwrap();
        assert_eq!(get_table(&auth, &http, &url).await.unwrap(), 200);
        server.state.revoke_all_access();
        assert_eq!(get_table(&auth, &http, &url).await.unwrap(), 200);
        let t = auth.cached_token().unwrap();
        server.state.revoke(&secret_str(t.refresh_token().unwrap()));
        server.state.revoke_all_access();
        assert_eq!(get_table(&auth, &http, &url).await.unwrap(), 200);
        // Failures: wrong password, a JWT grant, revocation.
        let _ = auth
            .generate_token(USER, "wrong-password-Q1")
            .await
            .unwrap_err();
        let jwt =
            JwtBearer::from_pem(JwtAlgorithm::RS256, &fixture("rsa_private.pem"), USER).unwrap();
        let assertion = jwt.sign_assertion(CLIENT_ID).unwrap();
        let jwt_auth = builder(&server, &http).jwt_bearer(jwt).build().unwrap();
        assert_eq!(get_table(&jwt_auth, &http, &url).await.unwrap(), 200);
        auth.revoke().await.unwrap();
        let c = &server.state.counters;
        assert_eq!(c.refresh.load(Ordering::SeqCst), 2);
        assert_eq!(c.password.load(Ordering::SeqCst), 3);
        secret_str(&assertion)
    });

    let log = String::from_utf8(buf.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains("new OAuth token cached"),
        "the capture saw the flow:\n{log}"
    );
    assert!(log.contains("refresh token was refused"), "{log}");
    let mut secrets = all_secrets(&["wrong-password-Q1".to_owned()]);
    secrets.push(assertion[..40].to_owned());
    for s in &secrets {
        assert!(
            !log.contains(s.as_str()),
            "{s:?} leaked into the log:\n{log}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_token_replaces_the_cache_and_notifies() {
    let server = TestServer::start(Config::default()).await;
    let http = HyperExchange::new();
    let seed = builder(&server, &http).build().unwrap();
    let t = seed.generate_token(USER, PASSWORD).await.unwrap();

    let count = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let c = count.clone();
    let auth = builder(&server, &http)
        .token_updater(move |_| {
            c.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    auth.set_token(t.clone()).await.unwrap();
    assert_eq!(count.load(Ordering::SeqCst), 1);
    assert_eq!(
        get_table(&auth, &http, &table_url(&server)).await.unwrap(),
        200
    );
    let err = auth
        .set_token(TokenSet::new("bad\ntoken"))
        .await
        .unwrap_err();
    assert!(matches!(err, OAuthError::Protocol { .. }));
    assert!(!err.to_string().contains("bad\ntoken"));
    // The refused token did not replace the good one.
    assert_eq!(
        auth.cached_token().unwrap().access_token_str(),
        t.access_token_str()
    );
    auth.clear_token().await;
    assert!(auth.cached_token().is_none());
}

/// A hibernating developer instance answers every URL, the token and revocation endpoints
/// included, with HTTP 200 and its hibernation page: every token call says so, with a typed,
/// non-retryable error, and so does the authenticator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hibernating_instance_is_a_typed_error_for_every_token_call() {
    let server = TestServer::start(Config {
        hibernating: true,
        ..jwt_server_config()
    })
    .await;
    let http = HyperExchange::new();
    let asleep = |err: &OAuthError| {
        matches!(
            err,
            OAuthError::InstanceUnavailable {
                hibernating: true,
                status: 200
            }
        )
    };

    let auth = builder(&server, &http).build().unwrap();
    let err = auth.generate_token(USER, PASSWORD).await.unwrap_err();
    assert!(asleep(&err), "password: {err:?}");
    assert_eq!(err.kind(), snow_core::ErrorKind::Server);
    assert!(!err.is_retryable());
    assert!(err.to_string().contains("hibernating"), "{err}");

    let refresh = builder(&server, &http)
        .refresh_token("RT-from-before")
        .build()
        .unwrap();
    let err = refresh.token().await.unwrap_err();
    assert!(asleep(&err), "refresh: {err:?}");

    let cc = builder(&server, &http)
        .client_credentials()
        .build()
        .unwrap();
    assert!(asleep(&cc.token().await.unwrap_err()));
    let jwt = JwtBearer::from_pem(JwtAlgorithm::RS256, &fixture("rsa_private.pem"), USER).unwrap();
    let jwt = builder(&server, &http).jwt_bearer(jwt).build().unwrap();
    assert!(asleep(&jwt.token().await.unwrap_err()));
    let err = auth
        .revoke_token(&SecretString::from("RT-from-before"))
        .await
        .unwrap_err();
    assert!(asleep(&err), "revoke: {err:?}");

    // Through the Authenticator, as a transport sees it: a server-side failure, not retryable,
    // with the OAuth error as its source.
    let password = builder(&server, &http)
        .password(USER, PASSWORD)
        .build()
        .unwrap();
    let err = password
        .authenticate(&mut request_parts(&table_url(&server)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            AuthError::Other {
                kind: snow_core::ErrorKind::Server,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(!err.is_retryable());
    assert!(oauth_source(&err).is_some_and(asleep), "{err:?}");
    assert_eq!(server.state.counters.hibernating.load(Ordering::SeqCst), 6);
    assert_eq!(server.state.grants(), 0);
}
