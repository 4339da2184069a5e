//! Revocation that revokes: API keys through the admin API; OAuth refresh tokens take their
//! access tokens along; access tokens go alone unless the instance is set otherwise.

use crate::common::{Http, admin, basic, spawn, start};
use bytes::Bytes;
use http::Method;
use serde_json::json;

const TABLE: &str = "/api/now/table/incident?sysparm_limit=1";

async fn with_key(http: &Http, key: &str) -> u16 {
    http.send(
        Method::GET,
        TABLE,
        &[("x-sn-apikey", key), ("accept", "application/json")],
        Bytes::new(),
    )
    .await
    .status
}

async fn mint(http: &Http, user: &str) -> String {
    let r = http
        .json(
            Method::POST,
            "/__dev/api_keys",
            &admin(),
            &json!({ "user": user }),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    r.json()["result"]["key"].as_str().expect("key").to_owned()
}

async fn revoke_keys(http: &Http, body: serde_json::Value) -> u64 {
    let r = http
        .json(Method::DELETE, "/__dev/api_keys", &admin(), &body)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    r.json()["result"]["revoked"].as_u64().expect("count")
}

#[tokio::test]
async fn api_keys_are_revoked_one_by_one_per_user_or_all() {
    let (instance, http) = start(3).await;
    let itil = mint(&http, "itil").await;
    let reader_1 = mint(&http, "reader").await;
    let reader_2 = mint(&http, "reader").await;
    for key in [&itil, &reader_1, &reader_2] {
        assert_eq!(with_key(&http, key).await, 200);
    }

    assert_eq!(revoke_keys(&http, json!({ "key": itil })).await, 1);
    assert_eq!(with_key(&http, &itil).await, 401);
    let in_query = http
        .send(
            Method::GET,
            &format!("{TABLE}&x-sn-apikey={itil}"),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(in_query.status, 401, "a revoked key fails in the query too");
    assert_eq!(
        with_key(&http, &reader_1).await,
        200,
        "other keys still work"
    );
    assert_eq!(revoke_keys(&http, json!({ "key": itil })).await, 0);

    assert_eq!(revoke_keys(&http, json!({ "user": "reader" })).await, 2);
    assert_eq!(with_key(&http, &reader_1).await, 401);
    assert_eq!(with_key(&http, &reader_2).await, 401);

    let a = instance.admin();
    let k1 = a.mint_api_key("itil").expect("key");
    let k2 = a.mint_api_key("admin").expect("key");
    assert_eq!(revoke_keys(&http, json!({})).await, 2, "every key");
    assert_eq!(with_key(&http, &k1).await, 401);
    assert_eq!(with_key(&http, &k2).await, 401);
    let k3 = a.mint_api_key("itil").expect("key");
    assert!(a.revoke_api_key(&k3));
    assert!(!a.revoke_api_key(&k3));
    assert_eq!(with_key(&http, &k3).await, 401);

    // Only admins revoke keys.
    let r = http
        .json(
            Method::DELETE,
            "/__dev/api_keys",
            &basic("itil", "itil"),
            &json!({}),
        )
        .await;
    assert_eq!(r.status, 403);
    instance.shutdown().await.expect("shutdown");
}

struct Grant {
    access: String,
    refresh: String,
}

async fn password_grant(http: &Http, user: &str) -> Grant {
    let form = format!(
        "grant_type=password&client_id=snow-dev&client_secret=snow-dev-secret&username={user}&password={user}"
    );
    let r = form_post(http, "/oauth_token.do", &form).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let v = r.json();
    Grant {
        access: v["access_token"].as_str().expect("access").to_owned(),
        refresh: v["refresh_token"].as_str().expect("refresh").to_owned(),
    }
}

async fn refresh_grant(http: &Http, refresh: &str) -> crate::common::Reply {
    let form = format!(
        "grant_type=refresh_token&client_id=snow-dev&client_secret=snow-dev-secret&refresh_token={refresh}"
    );
    form_post(http, "/oauth_token.do", &form).await
}

async fn form_post(http: &Http, path: &str, form: &str) -> crate::common::Reply {
    http.send(
        Method::POST,
        path,
        &[
            ("content-type", "application/x-www-form-urlencoded"),
            ("accept", "application/json"),
        ],
        form.to_owned(),
    )
    .await
}

async fn revoke(http: &Http, token: &str) {
    let r = http
        .send(
            Method::GET,
            &format!("/oauth_revoke_token.do?token={token}"),
            &[],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, 200);
}

async fn bearer(http: &Http, access: &str) -> u16 {
    http.get(TABLE, &format!("Bearer {access}")).await.status
}

#[tokio::test]
async fn revoking_a_refresh_token_revokes_its_access_tokens() {
    let (instance, http) = start(3).await;
    let itil = password_grant(&http, "itil").await;
    let other = password_grant(&http, "reader").await;
    assert_eq!(bearer(&http, &itil.access).await, 200);

    revoke(&http, &itil.refresh).await;
    assert_eq!(
        bearer(&http, &itil.access).await,
        401,
        "the access token went with its refresh token"
    );
    assert_eq!(refresh_grant(&http, &itil.refresh).await.status, 401);
    assert_eq!(bearer(&http, &other.access).await, 200, "other grants stay");
    assert_eq!(refresh_grant(&http, &other.refresh).await.status, 200);

    // Logging in again gives fresh tokens that work.
    let again = password_grant(&http, "itil").await;
    assert_ne!(again.access, itil.access);
    assert_ne!(again.refresh, itil.refresh);
    assert_eq!(bearer(&http, &again.access).await, 200);
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn revoking_an_access_token_alone_or_with_its_refresh_token() {
    let (instance, http) = start(3).await;
    let first = password_grant(&http, "itil").await;
    revoke(&http, &first.access).await;
    assert_eq!(bearer(&http, &first.access).await, 401);
    // By default the refresh token is untouched: the client renews and carries on.
    let renewed = refresh_grant(&http, &first.refresh).await;
    assert_eq!(renewed.status, 200, "{}", renewed.text());
    let access = renewed.json()["access_token"]
        .as_str()
        .expect("access")
        .to_owned();
    assert_ne!(access, first.access);
    assert_eq!(bearer(&http, &access).await, 200);

    // Set to revoke the refresh token as well (and so every access token issued with it).
    let r = http
        .json(
            Method::PUT,
            "/__dev/oauth_revocation",
            &admin(),
            &json!({"refresh_with_access": true}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    revoke(&http, &access).await;
    assert_eq!(bearer(&http, &access).await, 401);
    assert_eq!(refresh_grant(&http, &first.refresh).await.status, 401);

    instance.admin().set_revoke_refresh_with_access(false);
    let second = password_grant(&http, "itil").await;
    assert!(instance.admin().revoke_token(&second.access));
    assert_eq!(refresh_grant(&http, &second.refresh).await.status, 200);
    assert!(!instance.admin().revoke_token("no-such-token"));
    instance.shutdown().await.expect("shutdown");
}

#[test]
fn the_binary_takes_the_revocation_switch() {
    let (_server, url) = spawn(&[
        "--port",
        "0",
        "--records",
        "2",
        "--revoke-refresh-with-access",
    ]);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let http = Http::new(&url);
        let g = password_grant(&http, "itil").await;
        revoke(&http, &g.access).await;
        assert_eq!(refresh_grant(&http, &g.refresh).await.status, 401);
    });
}
