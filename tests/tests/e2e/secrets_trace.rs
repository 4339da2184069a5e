//! A TRACE-level capture of full flows through the client, for every kind of credential (Basic,
//! API key in a header and in the query, a bearer token, OAuth), with failures among them,
//! holds no password, client secret, token, API key or Authorization value: neither in what the
//! client, the transport and the instance log, nor in the errors (Display and Debug) the flows
//! end with.

use std::time::Duration;

use serde_json::json;
use snow_client::basic::{ApiKey, BasicAuth, BearerToken};
use snow_client::{Client, Instance, Record};
use snow_devinstance::{DevConfig, DevInstance, DevUser, Role};
use snow_test_support::{Capture, assert_no_secret};

const USER: &str = "trace.user";
const PASSWORD: &str = "pw-Trace-8Kq2-password";
const CLIENT_SECRET: &str = "cs-Trace-4Hn7-client-secret";

/// Reads, writes and a failure through one client; every error is logged at debug with its
/// Display and Debug, as an application would.
async fn exercise(client: &Client) {
    let table = client.table("incident");
    let listed: Vec<Record> = table.list().limit(3).all().await.expect("list");
    assert!(!listed.is_empty());
    let created = table
        .create(&json!({"short_description": "trace flow"}))
        .await
        .expect("create");
    let id = created.sys_id().expect("sys_id").to_owned();
    table
        .update(&id, &json!({"urgency": "2"}))
        .await
        .expect("update");
    table.delete(&id).await.expect("delete");
    let missing = table.get(&id).await.unwrap_err();
    tracing::debug!(error = %missing, debug = ?missing, "an expected 404");
}

#[test]
fn every_kind_of_credential_stays_out_of_a_trace_capture() {
    let capture = Capture::default();
    let secrets = capture.run(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let mut config = DevConfig {
                records: 5,
                ..DevConfig::default()
            };
            config.users.push(DevUser::new(USER, PASSWORD, Role::Admin));
            config.oauth.client_secret = CLIENT_SECRET.to_owned().into();
            let (client_id, dev) = (
                config.oauth.client_id.clone(),
                DevInstance::start(config).await.expect("dev"),
            );
            let instance: Instance = dev.base_url().parse().expect("instance");
            let mut secrets = vec![PASSWORD.to_owned(), CLIENT_SECRET.to_owned()];

            // Basic, then a wrong password.
            let basic = Client::basic(dev.base_url(), USER, PASSWORD).expect("client");
            exercise(&basic).await;
            let wrong =
                Client::basic(dev.base_url(), USER, "pw-wrong-but-secret-too").expect("client");
            let e = wrong.table("incident").get("x").await.unwrap_err();
            tracing::debug!(error = %e, debug = ?e, "a refused password");
            secrets.push("pw-wrong-but-secret-too".to_owned());

            // API keys, in the header and in the query.
            let key = dev.admin().mint_api_key(USER).expect("key");
            secrets.push(key.clone());
            exercise(
                &Client::with_auth(instance.clone(), ApiKey::new(key.clone())).expect("client"),
            )
            .await;
            exercise(
                &Client::with_auth(instance.clone(), ApiKey::new(key.clone()).in_query())
                    .expect("client"),
            )
            .await;

            // OAuth with the password grant, through the client; then its token as a bearer.
            let oauth = Client::oauth_password(
                dev.base_url(),
                client_id.clone(),
                CLIENT_SECRET,
                USER,
                PASSWORD,
            )
            .expect("client");
            exercise(&oauth).await;
            let auth = snow_client::oauth::OAuth::builder(
                &instance,
                snow_client::transport::Transport::builder(instance.clone())
                    .build()
                    .expect("transport"),
                client_id,
                CLIENT_SECRET,
            )
            .build()
            .expect("oauth");
            let token = auth.generate_token(USER, PASSWORD).await.expect("token");
            let access = token_text(&token);
            secrets.push(access.clone());
            if let Some(refresh) = refresh_text(&token) {
                secrets.push(refresh);
            }
            exercise(
                &Client::with_auth(instance.clone(), BearerToken::new(access)).expect("client"),
            )
            .await;
            tracing::debug!(?auth, ?oauth, ?basic, "the clients after the flows");

            // A revoked token: the instance answers 401.
            dev.admin().revoke_tokens(Some(USER));
            let stale =
                Client::with_auth(instance, BearerToken::new(token_text(&token))).expect("client");
            let e = stale.table("incident").get("x").await.unwrap_err();
            tracing::debug!(error = %e, debug = ?e, "a revoked token");
            tokio::time::sleep(Duration::from_millis(10)).await;
            let _ = BasicAuth::new(USER, PASSWORD);
            dev.shutdown().await.expect("shutdown");
            secrets
        })
    });
    let log = capture.text();
    for expected in [
        "an expected 404",
        "a refused password",
        "a revoked token",
        "the clients after the flows",
    ] {
        assert!(
            log.contains(expected),
            "{expected:?} missing from the capture"
        );
    }
    assert!(
        log.lines().count() > 50,
        "the capture holds the flows ({} lines)",
        log.lines().count()
    );
    let mut all = secrets;
    all.push(basic_value(USER, PASSWORD));
    assert_no_secret(&log, &all);
}

fn token_text(token: &snow_client::oauth::TokenSet) -> String {
    use snow_client::core::secret::ExposeSecret;
    token.access_token().expose_secret().to_owned()
}

fn refresh_text(token: &snow_client::oauth::TokenSet) -> Option<String> {
    use snow_client::core::secret::ExposeSecret;
    token.refresh_token().map(|t| t.expose_secret().to_owned())
}

fn basic_value(user: &str, password: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
}
