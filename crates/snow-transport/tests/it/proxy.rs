//! The HTTP CONNECT proxy, with an in-test proxy that records every tunnel.

use http::Request;
use snow_basic::BasicAuth;
use snow_core::HttpExchange;
use snow_core::secret::SecretString;
use snow_test_support::proxy::ConnectProxy;
use snow_test_support::server::{reply, serve, serve_tls};
use snow_test_support::tls::TestCa;
use snow_transport::{BuildError, Proxy, RetryConfig, TlsConfig, Transport, TransportError};

const PROXY_AUTH: &str = "Basic cHJveHktdXNlcjpwcjB4eS1wYXNz"; // proxy-user:pr0xy-pass

#[tokio::test]
async fn requests_go_through_the_tunnel_with_proxy_credentials() {
    let server = serve(|_, _| async { reply(200, "{}") }).await;
    let proxy = ConnectProxy::start_with(Some(PROXY_AUTH), 0).await;
    let t = Transport::builder(server.instance())
        .auth(BasicAuth::new("admin", "hunter2"))
        .proxy(Proxy::http(proxy.url()).basic_auth("proxy-user", SecretString::from("pr0xy-pass")))
        .build()
        .unwrap();
    let resp = t.send(crate::get("/api/now/table/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    let connects = proxy.connects();
    assert_eq!(connects.len(), 1);
    assert_eq!(connects[0].0, server.addr.to_string());
    assert_eq!(connects[0].1.as_deref(), Some(PROXY_AUTH));
    // The instance credentials went inside the tunnel, to the instance.
    assert_eq!(
        server.seen()[0].headers["authorization"],
        "Basic YWRtaW46aHVudGVyMg=="
    );
    assert!(
        server.seen()[0]
            .headers
            .get("proxy-authorization")
            .is_none()
    );
    assert!(!format!("{t:?}").contains("pr0xy-pass"));
}

#[tokio::test]
async fn token_calls_use_the_proxy_too() {
    let token_endpoint = serve(|seen, _| async move {
        assert!(seen.headers.get("authorization").is_none());
        reply(
            200,
            r#"{"access_token":"at","token_type":"Bearer","expires_in":1799}"#,
        )
    })
    .await;
    let instance = serve(|_, _| async { reply(200, "{}") }).await;
    let proxy = ConnectProxy::start_with(Some(PROXY_AUTH), 0).await;
    let t = Transport::builder(instance.instance())
        .auth(BasicAuth::new("admin", "hunter2"))
        .proxy(Proxy::http(proxy.url()).basic_auth("proxy-user", "pr0xy-pass"))
        .build()
        .unwrap();
    let req = Request::post(format!("{}/oauth_token.do", token_endpoint.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(b"grant_type=password".to_vec())
        .unwrap();
    let resp = t.exchange(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.body().starts_with(b"{\"access_token\""));
    assert_eq!(proxy.connects()[0].0, token_endpoint.addr.to_string());
    let seen = token_endpoint.seen();
    assert_eq!(seen[0].body, "grant_type=password");
    assert_eq!(seen[0].uri.path(), "/oauth_token.do");
}

#[tokio::test]
async fn https_goes_through_the_tunnel() {
    let ca = TestCa::new();
    let server = serve_tls(ca.server_config(&ca.server(), false), |_, _| async {
        reply(200, "{}")
    })
    .await;
    let proxy = ConnectProxy::start_with(None, 0).await;
    let t = Transport::builder(server.instance())
        .proxy(Proxy::http(proxy.url()))
        .tls(TlsConfig::default().add_ca_pem(ca.cert_pem.clone()))
        .build()
        .unwrap();
    let resp = t.send(crate::get("/x")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(proxy.connects()[0].0, server.addr.to_string());
}

#[tokio::test]
async fn wrong_proxy_credentials_are_a_connect_error() {
    let server = serve(|_, _| async { reply(200, "{}") }).await;
    let proxy = ConnectProxy::start_with(Some(PROXY_AUTH), 0).await;
    let t = Transport::builder(server.instance())
        .proxy(Proxy::http(proxy.url()).basic_auth("proxy-user", "wrong-pass"))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = t.send(crate::get("/x")).await.unwrap_err();
    assert!(matches!(err, TransportError::Connect { .. }), "{err}");
    assert!(
        err.to_string().contains("proxy authorization required"),
        "{err}"
    );
    assert!(!err.to_string().contains("wrong-pass"));
    assert_eq!(server.count(), 0);
}

#[test]
fn unusable_proxy_urls_fail_the_build_without_echoing_credentials() {
    let instance = snow_transport::Instance::from_name("acme").unwrap();
    for url in [
        "https://proxy:3128",
        "proxy:3128",
        "http://u:s3cr3t@proxy:3128",
        "http://p/x",
    ] {
        let err = Transport::builder(instance.clone())
            .proxy(Proxy::http(url))
            .build()
            .unwrap_err();
        assert!(matches!(err, BuildError::Proxy { .. }), "{url}: {err}");
        assert!(!err.to_string().contains("s3cr3t"), "{err}");
        assert!(!format!("{:?}", Proxy::http(url)).contains("s3cr3t"));
    }
}
