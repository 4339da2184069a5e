//! Behaviour of the three authenticators, checked on request heads.

use snow_basic::{ApiKey, BasicAuth, BearerToken, SecretString};
use snow_core::http::{self, HeaderName};
use snow_core::{AuthError, AuthRetry, Authenticator};

fn parts(uri: &str) -> http::request::Parts {
    http::Request::get(uri).body(()).unwrap().into_parts().0
}

#[tokio::test]
async fn basic_sets_sensitive_authorization() {
    let auth = BasicAuth::new("admin", SecretString::from("hunter2"));
    let mut p = parts("https://acme.service-now.com/api/now/table/incident");
    auth.authenticate(&mut p).await.unwrap();
    // base64("admin:hunter2")
    assert_eq!(p.headers["authorization"], "Basic YWRtaW46aHVudGVyMg==");
    assert!(p.headers["authorization"].is_sensitive());
    assert_eq!(p.headers.len(), 1);
}

#[tokio::test]
async fn basic_replaces_an_existing_authorization_header() {
    let auth = BasicAuth::new("a", "b");
    let mut p = parts("https://acme.service-now.com/");
    p.headers.insert("authorization", "stale".parse().unwrap());
    auth.authenticate(&mut p).await.unwrap();
    assert_eq!(p.headers.get_all("authorization").iter().count(), 1);
    assert_eq!(p.headers["authorization"], "Basic YTpi");
}

#[tokio::test]
async fn bearer_sets_header_and_rejects_unsendable_tokens_without_echoing_them() {
    let auth = BearerToken::new(String::from("tok-123"));
    let mut p = parts("https://acme.service-now.com/");
    auth.authenticate(&mut p).await.unwrap();
    assert_eq!(p.headers["authorization"], "Bearer tok-123");
    assert!(p.headers["authorization"].is_sensitive());

    let bad = BearerToken::new("line1\nsecret-part");
    let mut p = parts("https://acme.service-now.com/");
    let err = bad.authenticate(&mut p).await.unwrap_err();
    assert!(matches!(
        err,
        AuthError::InvalidCredential { what: "token" }
    ));
    assert!(!err.to_string().contains("secret-part"));
    assert!(p.headers.is_empty());
}

#[tokio::test]
async fn api_key_header_default_and_custom_name() {
    let key = ApiKey::new("k-1");
    let mut p = parts("https://acme.service-now.com/");
    key.authenticate(&mut p).await.unwrap();
    assert_eq!(p.headers["x-sn-apikey"], "k-1");
    assert!(p.headers["x-sn-apikey"].is_sensitive());
    assert_eq!(p.uri.query(), None);

    let key = ApiKey::new("k-2").header_name(HeaderName::from_static("x-custom-key"));
    let mut p = parts("https://acme.service-now.com/");
    key.authenticate(&mut p).await.unwrap();
    assert_eq!(p.headers["x-custom-key"], "k-2");
    assert!(p.headers.get("x-sn-apikey").is_none());
}

#[tokio::test]
async fn api_key_in_query_is_percent_encoded_and_kept_in_its_value() {
    let key = ApiKey::new("a b&c=d#e%f+g/h?é").in_query();
    for (uri, want) in [
        (
            "https://acme.service-now.com/api/now/table/x",
            "https://acme.service-now.com/api/now/table/x?x-sn-apikey=a%20b%26c%3Dd%23e%25f%2Bg%2Fh%3F%C3%A9",
        ),
        (
            "https://acme.service-now.com/api/now/table/x?sysparm_limit=1",
            "https://acme.service-now.com/api/now/table/x?sysparm_limit=1&x-sn-apikey=a%20b%26c%3Dd%23e%25f%2Bg%2Fh%3F%C3%A9",
        ),
        (
            "/api/now/table/x?",
            "/api/now/table/x?x-sn-apikey=a%20b%26c%3Dd%23e%25f%2Bg%2Fh%3F%C3%A9",
        ),
    ] {
        let mut p = parts(uri);
        key.authenticate(&mut p).await.unwrap();
        assert_eq!(p.uri.to_string(), want);
        assert!(p.headers.is_empty());
    }
}

#[tokio::test]
async fn none_of_them_asks_for_a_replay() {
    let auths: Vec<Box<dyn Authenticator>> = vec![
        Box::new(BasicAuth::new("u", "p")),
        Box::new(ApiKey::new("k")),
        Box::new(BearerToken::new("t")),
    ];
    let resp = http::Response::builder()
        .status(401)
        .body(())
        .unwrap()
        .into_parts()
        .0;
    for a in auths {
        let p = parts("https://acme.service-now.com/");
        assert_eq!(a.on_unauthorized(&p, &resp).await.unwrap(), AuthRetry::No);
    }
}

#[test]
fn debug_never_shows_secrets() {
    let secret = "Sup3r-Secret-Value";
    let shown = [
        format!("{:?}", BasicAuth::new("admin", secret)),
        format!("{:#?}", BasicAuth::new("admin", secret)),
        format!("{:?}", ApiKey::new(secret)),
        format!("{:?}", ApiKey::new(secret).in_query()),
        format!("{:?}", BearerToken::new(secret)),
        format!("{:#?}", BearerToken::new(secret)),
    ];
    for s in &shown {
        assert!(!s.contains(secret), "{s}");
        assert!(s.contains("REDACTED"), "{s}");
    }
    // Nor the base64 header value, for Basic (base64 of "admin:Sup3r-Secret-Value"), nor the
    // base64 of the password alone.
    use base64::Engine as _;
    let header_b64 = base64::engine::general_purpose::STANDARD.encode(format!("admin:{secret}"));
    let password_b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    for s in &shown[..2] {
        assert!(!s.contains(&header_b64), "{s}");
        assert!(!s.contains(&password_b64[..20]), "{s}");
        assert!(s.contains("admin"), "{s}");
    }
}

#[tokio::test]
async fn basic_refuses_a_user_name_with_a_colon_without_echoing_the_password() {
    // "a:b" + "c" would reach the server as user "a", password "b:c".
    let auth = BasicAuth::new("a:b", "Sup3r-Secret-Value");
    let mut p = parts("https://acme.service-now.com/");
    let err = auth.authenticate(&mut p).await.unwrap_err();
    assert!(
        matches!(err, AuthError::InvalidCredential { what } if what.contains("user name")),
        "{err}"
    );
    assert!(!err.to_string().contains("Sup3r"), "{err}");
    assert!(p.headers.is_empty());
    assert_eq!(auth.user(), "a:b");
    // A colon in the password is fine.
    let auth = BasicAuth::new("a", "b:c");
    let mut p = parts("https://acme.service-now.com/");
    auth.authenticate(&mut p).await.unwrap();
    assert_eq!(p.headers["authorization"], "Basic YTpiOmM=");
}

#[tokio::test]
async fn the_credential_at_hand_is_the_one_authenticate_puts_on() {
    let with = |auth: &dyn Authenticator| {
        let mut parts = http::Request::get("https://acme.service-now.com/api/now/table/x?a=1")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let done = auth.authenticate_now(&mut parts);
        (done, parts)
    };
    let auths: Vec<Box<dyn Authenticator>> = vec![
        Box::new(BasicAuth::new("admin", "pw-1")),
        Box::new(BearerToken::new("tok-1")),
        Box::new(ApiKey::new("key-1")),
        Box::new(ApiKey::new("key-1").in_query()),
    ];
    for auth in &auths {
        let (done, now) = with(auth.as_ref());
        assert!(matches!(done, Some(Ok(()))), "{auth:?}");
        let mut awaited = with(&snow_core::NoAuth).1;
        auth.authenticate(&mut awaited).await.unwrap();
        assert_eq!(now.uri, awaited.uri, "{auth:?}");
        assert_eq!(now.headers, awaited.headers, "{auth:?}");
        assert!(now.headers.values().all(|v| v.is_sensitive()), "{auth:?}");
        // Something was put on: a header, or the key in the query.
        let bare = with(&snow_core::NoAuth).1;
        assert!(!now.headers.is_empty() || now.uri != bare.uri, "{auth:?}");
    }
}
