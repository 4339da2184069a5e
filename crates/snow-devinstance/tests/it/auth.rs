//! Basic, OAuth (all grants), Bearer, API keys, revocation, redaction.

use std::time::Duration;

use crate::common::{Http, admin, basic, start, start_with};
use bytes::Bytes;
use http::Method;
use serde_json::json;
use snow_devinstance::DevConfig;

const FORM: (&str, &str) = ("content-type", "application/x-www-form-urlencoded");

async fn token(http: &Http, form: &str, extra: &[(&str, &str)]) -> crate::common::Reply {
    let mut headers = vec![FORM, ("accept", "application/json")];
    headers.extend_from_slice(extra);
    http.send(Method::POST, "/oauth_token.do", &headers, form.to_owned())
        .await
}

const PASSWORD_GRANT: &str = "grant_type=password&client_id=snow-dev&client_secret=snow-dev-secret&username=itil&password=itil";

#[tokio::test]
async fn password_grant_response_shape_and_token_reuse() {
    let (instance, http) = start(5).await;
    let r = token(&http, PASSWORD_GRANT, &[]).await;
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("application/json;charset=UTF-8")
    );
    let t = r.json();
    assert_eq!(t["scope"], "useraccount");
    assert_eq!(t["token_type"], "Bearer");
    assert_eq!(t["expires_in"], 1799);
    let access = t["access_token"].as_str().expect("access token").to_owned();
    let refresh = t["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned();
    assert_eq!(access.len(), 86);
    assert_ne!(access, refresh);

    // Same user and client within the lifetime: the same tokens.
    let again = token(&http, PASSWORD_GRANT, &[]).await.json();
    assert_eq!(again["access_token"].as_str(), Some(access.as_str()));
    assert_eq!(again["refresh_token"].as_str(), Some(refresh.as_str()));

    // Client authentication as HTTP Basic, as requests-oauthlib sends it.
    let via_basic = token(
        &http,
        "grant_type=password&username=itil&password=itil",
        &[("authorization", &basic("snow-dev", "snow-dev-secret"))],
    )
    .await;
    assert_eq!(via_basic.status, 200);
    assert_eq!(
        via_basic.json()["access_token"].as_str(),
        Some(access.as_str())
    );

    let bearer = format!("Bearer {access}");
    let r = http
        .get("/api/now/table/incident?sysparm_limit=1", &bearer)
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(instance.admin().counters().grants("password"), 3);
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn every_token_failure_is_the_same_401() {
    let (instance, http) = start(5).await;
    for form in [
        "grant_type=password&client_id=snow-dev&client_secret=snow-dev-secret&username=itil&password=bad",
        "grant_type=password&client_id=snow-dev&client_secret=wrong&username=itil&password=itil",
        "grant_type=password&client_id=other&client_secret=snow-dev-secret&username=itil&password=itil",
        "grant_type=refresh_token&client_id=snow-dev&client_secret=snow-dev-secret&refresh_token=nope",
        "grant_type=authorization_code&client_id=snow-dev&client_secret=snow-dev-secret&code=x",
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=not.a.jwt",
        "garbage%%%",
        "",
    ] {
        let r = token(&http, form, &[]).await;
        assert_eq!(r.status, 401, "{form}");
        assert_eq!(
            r.text(),
            r#"{"error_description":"access_denied","error":"server_error"}"#,
            "{form}"
        );
    }
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn expiry_refresh_and_revocation() {
    let (instance, http) = start_with(DevConfig {
        records: 5,
        access_token_ttl: Duration::from_secs(2),
        ..DevConfig::default()
    })
    .await;
    let t = token(&http, PASSWORD_GRANT, &[]).await.json();
    assert_eq!(t["expires_in"], 1);
    let access = t["access_token"].as_str().expect("access").to_owned();
    let refresh = t["refresh_token"].as_str().expect("refresh").to_owned();
    let bearer = format!("Bearer {access}");
    assert_eq!(
        http.get("/api/now/table/incident?sysparm_limit=1", &bearer)
            .await
            .status,
        200
    );

    // Move the instance clock past the lifetime instead of sleeping.
    instance.admin().set_clock_skew_secs(3);
    let expired = http
        .get("/api/now/table/incident?sysparm_limit=1", &bearer)
        .await;
    assert_eq!(expired.status, 401);
    assert_eq!(
        expired.header("www-authenticate"),
        Some("BASIC realm=\"Service-now\"")
    );

    let form = format!(
        "grant_type=refresh_token&client_id=snow-dev&client_secret=snow-dev-secret&refresh_token={refresh}"
    );
    let renewed = token(&http, &form, &[]).await;
    assert_eq!(renewed.status, 200);
    let renewed = renewed.json();
    let new_access = renewed["access_token"].as_str().expect("access").to_owned();
    assert_ne!(new_access, access);
    let new_bearer = format!("Bearer {new_access}");
    assert_eq!(
        http.get("/api/now/table/incident?sysparm_limit=1", &new_bearer)
            .await
            .status,
        200
    );
    assert_eq!(instance.admin().counters().grants("refresh_token"), 1);

    let revoked = http
        .send(
            Method::GET,
            &format!("/oauth_revoke_token.do?token={new_access}"),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(revoked.status, 200);
    assert_eq!(
        http.get("/api/now/table/incident?sysparm_limit=1", &new_bearer)
            .await
            .status,
        401
    );
    http.send(
        Method::GET,
        &format!("/oauth_revoke_token.do?token={refresh}"),
        &[],
        Bytes::new(),
    )
    .await;
    assert_eq!(
        token(&http, &form, &[]).await.status,
        401,
        "revoked refresh token"
    );
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn client_credentials_and_jwt_bearer_give_no_refresh_token() {
    let key = rcgen::KeyPair::generate().expect("key");
    let (instance, http) = start_with(DevConfig {
        records: 5,
        oauth: snow_devinstance::OAuthClientConfig {
            jwt_public_key_pem: Some(key.public_key_pem()),
            ..Default::default()
        },
        ..DevConfig::default()
    })
    .await;
    let r = token(
        &http,
        "grant_type=client_credentials&client_id=snow-dev&client_secret=snow-dev-secret",
        &[],
    )
    .await;
    assert_eq!(r.status, 200);
    let t = r.json();
    assert!(t.get("refresh_token").is_none(), "{t}");
    assert_eq!(t["token_type"], "Bearer");

    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let sign = |claims: serde_json::Value| {
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            &claims,
            &jsonwebtoken::EncodingKey::from_ec_pem(key.serialize_pem().as_bytes())
                .expect("encoding key"),
        )
        .expect("sign")
    };
    let good = sign(json!({"sub": "reader", "aud": "snow-dev", "iss": "me", "exp": now + 60}));
    let form = format!(
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&client_id=snow-dev&client_secret=snow-dev-secret&assertion={good}"
    );
    let r = token(&http, &form, &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let t = r.json();
    assert!(t.get("refresh_token").is_none());
    let bearer = format!("Bearer {}", t["access_token"].as_str().expect("access"));
    let write = http
        .json(
            Method::POST,
            "/api/now/table/incident",
            &bearer,
            &json!({"short_description": "x"}),
        )
        .await;
    assert_eq!(write.status, 403, "the token acts as reader");

    // Expired beyond the 300 s skew, wrong audience: refused. Within the skew: accepted.
    let stale = sign(json!({"sub": "reader", "aud": "snow-dev", "exp": now - 400}));
    let wrong_aud = sign(json!({"sub": "reader", "aud": "other", "exp": now + 60}));
    let in_skew = sign(json!({"sub": "itil", "aud": "snow-dev", "exp": now - 200}));
    for (jwt, status) in [(stale, 401), (wrong_aud, 401), (in_skew, 200)] {
        let form = format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={jwt}"
        );
        assert_eq!(token(&http, &form, &[]).await.status, status);
    }
    let c = instance.admin().counters();
    assert_eq!(
        (c.grants("client_credentials"), c.grants("jwt_bearer")),
        (1, 2)
    );
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn api_key_in_header_or_query_and_redacted_in_the_log() {
    let (instance, http) = start(5).await;
    let key = instance.admin().mint_api_key("itil").expect("key");
    let r = http
        .send(
            Method::GET,
            "/api/now/table/incident?sysparm_limit=1",
            &[("x-sn-apikey", &key)],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = http
        .send(
            Method::GET,
            &format!("/api/now/table/incident?sysparm_limit=1&x-sn-apikey={key}"),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, 200);
    let r = http
        .send(
            Method::GET,
            "/api/now/table/incident?sysparm_limit=1",
            &[("x-sn-apikey", "wrong")],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, 401);

    // Minting through the admin API over HTTP.
    let minted = http
        .json(
            Method::POST,
            "/__dev/api_keys",
            &admin(),
            &json!({"user": "reader"}),
        )
        .await;
    assert_eq!(minted.status, 201);
    let key2 = minted.json()["result"]["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let r = http
        .send(
            Method::GET,
            "/api/now/table/incident?sysparm_limit=1",
            &[("x-sn-apikey", &key2)],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, 200);
    http.send(Method::POST, "/oauth_token.do", &[FORM], PASSWORD_GRANT)
        .await;

    let log = instance.admin().request_log();
    let text = format!("{log:?}");
    assert!(
        !text.contains(&key) && !text.contains(&key2),
        "API keys leaked into the log"
    );
    assert!(
        !text.contains("YWRtaW46YWRtaW4"),
        "Basic credentials leaked into the log"
    );
    assert!(
        log.iter()
            .any(|e| e.query.contains("x-sn-apikey=%3Credacted%3E"))
    );
    assert!(log.iter().any(|e| {
        e.headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "<redacted>")
    }));
    assert!(log.iter().any(|e| e.user.as_deref() == Some("itil")));
    let http_log = http.get("/__dev/requests", &admin()).await;
    assert_eq!(http_log.status, 200);
    assert!(!http_log.text().contains(&key));
    assert!(
        http_log.json()["result"]
            .as_array()
            .is_some_and(|a| a.len() >= 5)
    );
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn secrets_stay_out_of_debug_output() {
    let config = DevConfig::default();
    let text = format!("{config:?}");
    assert!(!text.contains("snow-dev-secret"), "{text}");
    assert!(!text.contains("password: \"admin\""), "{text}");
    assert!(text.contains("<redacted>"));
}

#[tokio::test]
async fn admin_api_needs_the_admin_role() {
    let (instance, http) = start(5).await;
    assert_eq!(
        http.get("/__dev/counters", &basic("itil", "itil"))
            .await
            .status,
        403
    );
    assert_eq!(
        http.send(Method::GET, "/__dev/counters", &[], Bytes::new())
            .await
            .status,
        401
    );
    http.get("/api/now/table/incident?sysparm_limit=1", &admin())
        .await;
    let c = http.get("/__dev/counters", &admin()).await;
    assert_eq!(c.status, 200);
    assert_eq!(
        c.json()["result"]["requests"]["/api/now/table/incident"]["200"],
        1
    );
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn admin_api_controls_tokens_and_clock() {
    let (instance, http) = start(5).await;
    let ttl = http
        .json(
            Method::PUT,
            "/__dev/token_ttl",
            &admin(),
            &json!({"access_secs": 60}),
        )
        .await;
    assert_eq!(ttl.status, 200);
    let t = token(&http, PASSWORD_GRANT, &[]).await.json();
    assert_eq!(t["expires_in"], 59);
    let bearer = format!("Bearer {}", t["access_token"].as_str().expect("access"));
    assert_eq!(
        http.get("/api/now/table/incident?sysparm_limit=1", &bearer)
            .await
            .status,
        200
    );

    let clock = http
        .json(
            Method::PUT,
            "/__dev/clock",
            &admin(),
            &json!({"skew_secs": 61}),
        )
        .await;
    assert_eq!(clock.status, 200);
    assert_eq!(instance.admin().clock_skew_secs(), 61);
    assert_eq!(
        http.get("/api/now/table/incident?sysparm_limit=1", &bearer)
            .await
            .status,
        401
    );
    http.json(
        Method::PUT,
        "/__dev/clock",
        &admin(),
        &json!({"skew_secs": 0}),
    )
    .await;
    assert_eq!(
        http.get("/api/now/table/incident?sysparm_limit=1", &bearer)
            .await
            .status,
        200
    );

    let revoked = http
        .json(
            Method::POST,
            "/__dev/revoke",
            &admin(),
            &json!({"user": "itil"}),
        )
        .await;
    assert_eq!(
        revoked.json()["result"]["revoked"],
        2,
        "access and refresh token"
    );
    assert_eq!(
        http.get("/api/now/table/incident?sysparm_limit=1", &bearer)
            .await
            .status,
        401
    );
    instance.shutdown().await.expect("shutdown");
}
