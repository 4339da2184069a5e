//! Authentication over real sockets: what the server sees, 401 replay, origins, redirects.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{HeaderName, Request, StatusCode};
use snow_basic::{ApiKey, BasicAuth, BearerToken};
use snow_core::secret::{ExposeSecret, SecretString};
use snow_core::{AuthError, AuthRetry, Authenticator, async_trait, insert_credential};
use snow_test_support::server::{reply, serve};
use snow_transport::{Body, RetryConfig, Transport, TransportError};

async fn ok_server() -> snow_test_support::server::RecordingServer {
    serve(|_, _| async { reply(200, r#"{"result":[]}"#) }).await
}

async fn get(transport: &Transport, path: &str) -> http::Response<snow_transport::ResponseBody> {
    transport.send(crate::get(path)).await.unwrap()
}

#[tokio::test]
async fn basic_auth_header_reaches_the_server() {
    let server = ok_server().await;
    let t = Transport::builder(server.instance())
        .auth(BasicAuth::new("admin", "hunter2"))
        .build()
        .unwrap();
    let resp = get(&t, "/api/now/table/incident").await;
    assert_eq!(resp.status(), 200);
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(
        seen[0].headers["authorization"],
        "Basic YWRtaW46aHVudGVyMg=="
    );
    assert_eq!(seen[0].headers.get_all("authorization").iter().count(), 1);
    assert_eq!(seen[0].uri.path(), "/api/now/table/incident");
}

#[tokio::test]
async fn api_key_in_header_and_custom_header() {
    let server = ok_server().await;
    let t = Transport::builder(server.instance())
        .auth(ApiKey::new("k-123"))
        .build()
        .unwrap();
    get(&t, "/api/now/table/x").await;
    let t = Transport::builder(server.instance())
        .auth(ApiKey::new("k-456").header_name(HeaderName::from_static("x-acme-key")))
        .build()
        .unwrap();
    get(&t, "/api/now/table/x").await;
    let seen = server.seen();
    assert_eq!(seen[0].headers["x-sn-apikey"], "k-123");
    assert!(seen[0].headers.get("authorization").is_none());
    assert_eq!(seen[0].uri.query(), None);
    assert_eq!(seen[1].headers["x-acme-key"], "k-456");
    assert!(seen[1].headers.get("x-sn-apikey").is_none());
}

#[tokio::test]
async fn api_key_in_query_keeps_other_parameters() {
    let server = ok_server().await;
    let t = Transport::builder(server.instance())
        .auth(ApiKey::new("k&1=2").in_query())
        .build()
        .unwrap();
    get(&t, "/api/now/table/x?sysparm_limit=5").await;
    let seen = server.seen();
    assert_eq!(
        seen[0].uri.query(),
        Some("sysparm_limit=5&x-sn-apikey=k%261%3D2")
    );
    assert!(seen[0].headers.get("x-sn-apikey").is_none());
}

#[tokio::test]
async fn bearer_token_header() {
    let server = ok_server().await;
    let t = Transport::builder(server.instance())
        .auth(BearerToken::new("tok-abc"))
        .build()
        .unwrap();
    get(&t, "/api/now/table/x").await;
    assert_eq!(server.seen()[0].headers["authorization"], "Bearer tok-abc");
}

/// A third-party authenticator, written against snow-core alone.
#[derive(Debug)]
struct HmacStyle {
    key_id: String,
    key: SecretString,
}

#[async_trait]
impl Authenticator for HmacStyle {
    async fn authenticate(&self, req: &mut http::request::Parts) -> Result<(), AuthError> {
        // A toy keyed digest over method and path (a real one would use an HMAC crate).
        let mut acc: u64 = 0xcbf2_9ce4_8422_2325;
        for b in self
            .key
            .expose_secret()
            .bytes()
            .chain(req.method.as_str().bytes())
            .chain(req.uri.path().bytes())
        {
            acc = (acc ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
        }
        let value = format!("keyId={},sig={acc:016x}", self.key_id);
        insert_credential(&mut req.headers, "x-signature", &value, "signature")
    }
}

#[tokio::test]
async fn third_party_authenticator_plugs_in_unchanged() {
    let server = ok_server().await;
    let auth = HmacStyle {
        key_id: "k1".into(),
        key: SecretString::from("very-secret"),
    };
    let t = Transport::builder(server.instance())
        .auth(auth)
        .build()
        .unwrap();
    get(&t, "/api/now/table/incident").await;
    let sig = server.seen()[0].headers["x-signature"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(sig.starts_with("keyId=k1,sig="), "{sig}");
    assert_eq!(sig.len(), "keyId=k1,sig=".len() + 16);
    assert!(!format!("{t:?}").contains("very-secret"));
}

/// `PUT {}` to a record through a transport authenticating with `auth`.
async fn put_record(
    server: &snow_test_support::server::RecordingServer,
    auth: impl Authenticator,
) -> http::Response<snow_transport::ResponseBody> {
    let t = Transport::builder(server.instance())
        .auth(auth)
        .build()
        .unwrap();
    t.send(
        Request::put("/api/now/table/x/1")
            .body(Body::from("{}"))
            .unwrap(),
    )
    .await
    .unwrap()
}

/// Hands out token N on the Nth authentication and always asks for a replay after a 401.
#[derive(Debug, Default)]
struct Rotating {
    issued: AtomicUsize,
    unauthorized: AtomicUsize,
}

#[async_trait]
impl Authenticator for Rotating {
    async fn authenticate(&self, req: &mut http::request::Parts) -> Result<(), AuthError> {
        let n = self.issued.fetch_add(1, Ordering::SeqCst) + 1;
        insert_credential(
            &mut req.headers,
            "authorization",
            &format!("Bearer t{n}"),
            "token",
        )
    }
    async fn on_unauthorized(
        &self,
        _req: &http::request::Parts,
        _resp: &http::response::Parts,
    ) -> Result<AuthRetry, AuthError> {
        self.unauthorized.fetch_add(1, Ordering::SeqCst);
        Ok(AuthRetry::Replay)
    }
}

#[tokio::test]
async fn a_401_is_replayed_once_with_fresh_credentials() {
    // Accepts only the second token.
    let server = serve(|seen, _| async move {
        if seen
            .headers
            .get("authorization")
            .is_some_and(|v| v == "Bearer t2")
        {
            reply(200, "{}")
        } else {
            reply(401, "{}")
        }
    })
    .await;
    let auth = Arc::new(Rotating::default());
    let resp = put_record(&server, auth.clone()).await;
    assert_eq!(resp.status(), 200);
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].headers["authorization"], "Bearer t1");
    assert_eq!(seen[1].headers["authorization"], "Bearer t2");
    assert_eq!(seen[1].body, "{}");
    assert_eq!(auth.unauthorized.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_401_is_replayed_at_most_once() {
    let server = serve(|_, _| async { reply(401, "{}") }).await;
    let auth = Arc::new(Rotating::default());
    let t = Transport::builder(server.instance())
        .auth(auth.clone())
        .build()
        .unwrap();
    let resp = get(&t, "/api/now/table/x").await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(server.count(), 2);
    assert_eq!(auth.unauthorized.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_streamed_body_is_never_replayed() {
    let server = serve(|_, _| async { reply(401, "{}") }).await;
    let auth = Arc::new(Rotating::default());
    let t = Transport::builder(server.instance())
        .auth(auth.clone())
        .build()
        .unwrap();
    let body = Body::from_stream(futures_util::stream::iter(vec![Ok::<
        _,
        snow_transport::BoxError,
    >(
        bytes::Bytes::from_static(b"data"),
    )]));
    let resp = t
        .send(Request::put("/api/now/attachment/file").body(body).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(server.count(), 1);
    assert_eq!(server.seen()[0].body, "data");
}

/// [`Rotating`], saying it can never replay.
#[derive(Debug, Default)]
struct Final(Rotating);

#[async_trait]
impl Authenticator for Final {
    async fn authenticate(&self, req: &mut http::request::Parts) -> Result<(), AuthError> {
        self.0.authenticate(req).await
    }
    async fn on_unauthorized(
        &self,
        req: &http::request::Parts,
        resp: &http::response::Parts,
    ) -> Result<AuthRetry, AuthError> {
        self.0.on_unauthorized(req, resp).await
    }
    fn can_replay(&self) -> bool {
        false
    }
}

#[tokio::test]
async fn an_authenticator_that_cannot_replay_is_not_asked_and_the_401_is_the_answer() {
    let server = serve(|_, _| async { reply(401, r#"{"error":{"message":"no"}}"#) }).await;
    // Through an Arc, as the builder holds it: the answer is forwarded.
    let auth = Arc::new(Final::default());
    assert!(!auth.can_replay());
    let resp = put_record(&server, auth.clone()).await;
    assert_eq!(resp.status(), 401);
    assert_eq!(server.count(), 1);
    assert_eq!(server.seen()[0].headers["authorization"], "Bearer t1");
    assert_eq!(auth.0.unauthorized.load(Ordering::SeqCst), 0);
    let body = resp.into_body().collect_bytes().await.unwrap();
    assert!(body.starts_with(b"{\"error\""));
}

#[tokio::test]
async fn basic_auth_does_not_replay() {
    let server =
        serve(|_, _| async { reply(401, r#"{"error":{"message":"User Not Authenticated"}}"#) })
            .await;
    let t = Transport::builder(server.instance())
        .auth(BasicAuth::new("admin", "wrong"))
        .build()
        .unwrap();
    let resp = get(&t, "/api/now/table/x").await;
    assert_eq!(resp.status(), 401);
    assert_eq!(server.count(), 1);
    let body = resp.into_body().collect_bytes().await.unwrap();
    assert!(body.starts_with(b"{\"error\""));
    // Fixed credentials all say so: the transport keeps no copy for a replay.
    assert!(!BasicAuth::new("admin", "wrong").can_replay());
    assert!(!BearerToken::new("t").can_replay());
    assert!(!ApiKey::new("k").can_replay());
}

#[tokio::test]
async fn other_origins_get_neither_credentials_nor_the_request() {
    let instance = ok_server().await;
    let other = ok_server().await;
    let t = Transport::builder(instance.instance())
        .auth(BasicAuth::new("admin", "hunter2"))
        .build()
        .unwrap();
    let err = t
        .send(
            Request::get(format!("{}/api/now/table/x", other.url()))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TransportError::CrossOrigin { .. }), "{err}");
    assert!(err.to_string().contains(&other.url()), "{err}");
    assert_eq!(other.count(), 0);
    assert_eq!(instance.count(), 0);

    // The same origin, spelt absolutely, is fine.
    get(&t, &format!("{}/api/now/table/x", instance.url())).await;
    assert_eq!(instance.count(), 1);
}

#[tokio::test]
async fn redirects_are_returned_not_followed() {
    let elsewhere = ok_server().await;
    let target = format!("{}/stolen", elsewhere.url());
    let server = serve(move |_, _| {
        let target = target.clone();
        async move {
            let mut r = reply(302, "");
            r.headers_mut().insert("location", target.parse().unwrap());
            r
        }
    })
    .await;
    let t = Transport::builder(server.instance())
        .auth(BasicAuth::new("admin", "hunter2"))
        .build()
        .unwrap();
    let resp = get(&t, "/api/now/table/x").await;
    assert_eq!(resp.status(), StatusCode::FOUND);
    assert_eq!(server.count(), 1);
    assert_eq!(elsewhere.count(), 0);
}

#[tokio::test]
async fn default_headers_are_sent_and_can_be_overridden() {
    let server = ok_server().await;
    let t = Transport::builder(server.instance())
        .default_header("x-requested-by", "nightly")
        .build()
        .unwrap();
    get(&t, "/api/now/table/x").await;
    t.send(
        Request::get("/api/now/table/x")
            .header("accept", "application/xml")
            .body(Body::empty())
            .unwrap(),
    )
    .await
    .unwrap();
    let seen = server.seen();
    assert_eq!(
        seen[0].headers["user-agent"],
        format!("snow/{}", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(seen[0].headers["accept"], "application/json");
    assert_eq!(seen[0].headers["x-requested-by"], "nightly");
    assert_eq!(seen[1].headers["accept"], "application/xml");
    assert_eq!(seen[1].headers.get_all("accept").iter().count(), 1);

    let t = Transport::builder(server.instance())
        .user_agent("my-tool/2")
        .build()
        .unwrap();
    get(&t, "/x").await;
    assert_eq!(server.seen()[2].headers["user-agent"], "my-tool/2");
}

#[tokio::test]
async fn a_failing_authenticator_stops_the_request() {
    #[derive(Debug)]
    struct Broken;
    #[async_trait]
    impl Authenticator for Broken {
        async fn authenticate(&self, _: &mut http::request::Parts) -> Result<(), AuthError> {
            Err(AuthError::MissingCredential("no token configured".into()))
        }
    }
    let server = ok_server().await;
    let t = Transport::builder(server.instance())
        .auth(Broken)
        .retry(RetryConfig::default())
        .build()
        .unwrap();
    let err = t.send(crate::get("/x")).await.unwrap_err();
    assert!(
        matches!(err, TransportError::Auth(AuthError::MissingCredential(_))),
        "{err}"
    );
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn lookalike_origins_and_odd_uri_forms_never_get_credentials() {
    let instance = ok_server().await;
    let other = ok_server().await;
    let t = Transport::builder(instance.instance())
        .auth(BasicAuth::new("admin", "hunter2"))
        .build()
        .unwrap();
    let port = instance.addr.port();
    let other_port = other.addr.port();
    for uri in [
        // Same host and port, other scheme.
        format!("https://127.0.0.1:{port}/x"),
        // Same host, other port.
        format!("http://127.0.0.1:{other_port}/x"),
        // Another name for the same address.
        format!("http://localhost:{port}/x"),
        // User information naming the instance, host elsewhere.
        format!("http://127.0.0.1:{port}@127.0.0.1:{other_port}/x"),
        // A trailing dot.
        format!("http://127.0.0.1.:{port}/x"),
    ] {
        let req = crate::get(uri.as_str());
        let err = t.send(req).await.unwrap_err();
        assert!(
            matches!(
                err,
                TransportError::CrossOrigin { .. } | TransportError::InvalidRequest { .. }
            ),
            "{uri}: {err}"
        );
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }
    for uri in [format!("127.0.0.1:{other_port}"), "*".to_owned()] {
        let req = crate::get(uri.as_str());
        let err = t.send(req).await.unwrap_err();
        assert!(
            matches!(err, TransportError::InvalidRequest { .. }),
            "{uri}: {err}"
        );
    }
    assert_eq!(other.count(), 0);
    assert_eq!(instance.count(), 0);

    // A network-path reference (`//host/x`, another host by RFC 3986) is refused: it reaches
    // neither server.
    let req = crate::get(&format!("//127.0.0.1:{other_port}/x"));
    let err = t.send(req).await.unwrap_err();
    assert!(
        matches!(err, TransportError::InvalidRequest { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("network-path"), "{err}");
    assert_eq!(other.count(), 0);
    assert_eq!(instance.count(), 0);
}

/// A credential at hand from `authenticate_now` (or, with `now: None`, a failure there);
/// `authenticate` counts its calls and sends another token, so what reaches the server shows
/// which one ran.
#[derive(Debug, Default)]
struct AtHand {
    replay: bool,
    now: Option<&'static str>,
    awaited: AtomicUsize,
}

#[async_trait]
impl Authenticator for AtHand {
    async fn authenticate(&self, req: &mut http::request::Parts) -> Result<(), AuthError> {
        self.awaited.fetch_add(1, Ordering::SeqCst);
        insert_credential(&mut req.headers, "authorization", "Bearer awaited", "token")
    }
    fn authenticate_now(&self, req: &mut http::request::Parts) -> Option<Result<(), AuthError>> {
        Some(match self.now {
            Some(token) => insert_credential(&mut req.headers, "authorization", token, "token"),
            None => Err(AuthError::MissingCredential("no key at hand".into())),
        })
    }
    fn can_replay(&self) -> bool {
        self.replay
    }
}

#[tokio::test]
async fn a_credential_at_hand_is_sent_without_awaiting_one_and_recorded_as_sent() {
    for replay in [false, true] {
        let server = ok_server().await;
        let auth = Arc::new(AtHand {
            replay,
            now: Some("Bearer now-secret"),
            ..AtHand::default()
        });
        let t = Transport::builder(server.instance())
            .auth(auth.clone())
            .build()
            .unwrap();
        let resp = get(&t, "/api/now/table/incident").await;
        assert_eq!(resp.status(), 200);
        assert_eq!(
            server.seen()[0].headers["authorization"],
            "Bearer now-secret",
            "replay: {replay}"
        );
        assert_eq!(auth.awaited.load(Ordering::SeqCst), 0, "replay: {replay}");
        // The credentials sent are on the answer, to keep them out of what it is quoted in.
        let sent = resp
            .extensions()
            .get::<snow_core::secret::SentCredentials>()
            .expect("the credentials sent are recorded");
        assert_eq!(sent.redact("echo: now-secret."), "echo: [redacted].");
    }
}

#[tokio::test]
async fn a_credential_that_fails_at_hand_stops_the_request_unsent() {
    for replay in [false, true] {
        let server = ok_server().await;
        let auth = Arc::new(AtHand {
            replay,
            ..AtHand::default()
        });
        let t = Transport::builder(server.instance())
            .auth(auth.clone())
            .build()
            .unwrap();
        let err = t.send(crate::get("/x")).await.unwrap_err();
        assert!(
            matches!(err, TransportError::Auth(AuthError::MissingCredential(_))),
            "replay: {replay}: {err}"
        );
        assert_eq!(server.count(), 0);
        assert_eq!(auth.awaited.load(Ordering::SeqCst), 0);
    }
}

/// Says so in a log line when its credential is put on.
#[derive(Debug)]
struct Talkative;

#[async_trait]
impl Authenticator for Talkative {
    async fn authenticate(&self, req: &mut http::request::Parts) -> Result<(), AuthError> {
        self.authenticate_now(req).unwrap_or(Ok(()))
    }
    fn authenticate_now(&self, req: &mut http::request::Parts) -> Option<Result<(), AuthError>> {
        tracing::info!("credential put on");
        Some(insert_credential(
            &mut req.headers,
            "authorization",
            "Bearer talk",
            "token",
        ))
    }
    fn can_replay(&self) -> bool {
        false
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_credential_at_hand_is_put_on_inside_the_attempt_span() {
    let capture = snow_test_support::Capture::default();
    let _guard = capture.install();
    let server = ok_server().await;
    let t = Transport::builder(server.instance())
        .auth(Talkative)
        .build()
        .unwrap();
    get(&t, "/api/now/table/incident").await;
    let text = capture.text();
    let line = text
        .lines()
        .find(|l| l.contains("credential put on"))
        .unwrap_or_else(|| panic!("no log line from the authenticator in:\n{text}"));
    assert!(line.contains("snow.request"), "{line}");
    assert!(line.contains("snow.attempt"), "{line}");
}
