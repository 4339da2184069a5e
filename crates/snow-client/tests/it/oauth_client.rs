//! pysnow's OAuthClient flow through `Client::oauth_client`, against the dev instance over
//! real HTTP and HTTPS: generate a token from a user and password, keep it through the token
//! updater, start another client from the stored token, read it, revoke it; token calls over
//! the client's own TLS settings; a hibernating instance as the client's own error.

use std::sync::{Arc, Mutex, PoisonError};

use snow_client::oauth::TokenSet;
use snow_client::transport::TlsConfig;
use snow_client::{Client, Error, ErrorKind, OAuthClient, Record};
use snow_devinstance::{DevConfig, DevInstance};

const CLIENT_ID: &str = "snow-dev";
const CLIENT_SECRET: &str = "snow-dev-secret";
const T: &str = "/api/now/table/incident";

/// Every token set the updater was called with.
#[derive(Clone, Default)]
struct Updates(Arc<Mutex<Vec<TokenSet>>>);

impl Updates {
    fn record(&self) -> impl Fn(&TokenSet) + Send + Sync + 'static {
        let seen = self.0.clone();
        move |t| {
            seen.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(t.clone())
        }
    }

    fn all(&self) -> Vec<TokenSet> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

fn oauth_client(dev: &DevInstance, updates: &Updates) -> OAuthClient {
    Client::oauth_client(dev.base_url(), CLIENT_ID, CLIENT_SECRET)
        .token_updater(updates.record())
        .build()
        .expect("client")
}

#[tokio::test]
async fn generate_store_set_read_and_revoke_a_token() {
    let dev = crate::common::start(10).await;
    let updates = Updates::default();

    // The seed flow, as pysnow: generate, keep, use.
    let client = oauth_client(&dev, &updates);
    assert!(client.oauth().token().is_none());
    let token = client.oauth().generate_token("itil", "itil").await.unwrap();
    assert!(token.refresh_token().is_some());
    assert_eq!(updates.all().len(), 1, "the updater got the new token");
    assert_eq!(
        updates.all()[0].access_token_str(),
        token.access_token_str()
    );
    assert_eq!(
        client
            .oauth()
            .token()
            .map(|t| t.access_token_str().to_owned()),
        Some(token.access_token_str().to_owned())
    );
    let rows: Vec<Record> = client
        .table("incident")
        .list()
        .limit(3)
        .all()
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(dev.admin().counters().grants("password"), 1);
    let users: Vec<_> = crate::common::log_for(&dev, T)
        .into_iter()
        .map(|r| r.user)
        .collect();
    assert_eq!(users, [Some("itil".to_owned())]);

    // A second client starts from the stored token: no grant, same user.
    let stored: TokenSet = serde_json::from_str(&serde_json::to_string(&token).unwrap()).unwrap();
    let second = oauth_client(&dev, &Updates::default());
    second.oauth().set_token(stored).await.unwrap();
    let one: Record = second.table("incident").list().first().await.unwrap();
    assert!(one.sys_id().is_some());
    assert_eq!(dev.admin().counters().grants("password"), 1);
    // `&OAuthClient` goes where a `&Client` does.
    fn takes_client(c: &Client) -> String {
        c.instance().base_url()
    }
    assert_eq!(takes_client(&second), dev.base_url());

    // Revoke: the instance forgets the token, and so does the client.
    client.oauth().revoke().await.unwrap();
    assert!(client.oauth().token().is_none());
    let e = second
        .table("incident")
        .list()
        .first::<Record>()
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    let e = client.oauth().fresh_token().await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
}

#[tokio::test]
async fn a_refused_password_is_the_clients_auth_error() {
    let dev = crate::common::start(1).await;
    let client = oauth_client(&dev, &Updates::default());
    let e = client
        .oauth()
        .generate_token("itil", "wrong")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Auth(_)), "{e:?}");
    assert_eq!(e.kind(), ErrorKind::Auth);
    let source = std::error::Error::source(&e)
        .and_then(std::error::Error::source)
        .and_then(|s| s.downcast_ref::<snow_client::oauth::OAuthError>());
    assert!(
        matches!(
            source,
            Some(snow_client::oauth::OAuthError::TokenCreate { .. })
        ),
        "{e:?}"
    );
    assert!(!e.to_string().contains("wrong"));
}

#[tokio::test]
async fn token_calls_use_the_clients_tls_settings() {
    let dev = DevInstance::start(DevConfig {
        records: 3,
        tls: true,
        ..DevConfig::default()
    })
    .await
    .unwrap();
    let ca = dev.ca_pem().expect("a CA").as_bytes().to_vec();
    // One TLS setting, for the token calls and the API calls alike.
    let client = Client::oauth_client(dev.base_url(), CLIENT_ID, CLIENT_SECRET)
        .tls(TlsConfig::default().add_ca_pem(ca))
        .password("admin", "admin")
        .build()
        .unwrap();
    let rows: Vec<Record> = client.table("incident").list().all().await.unwrap();
    assert_eq!(rows.len(), 3);
    assert_eq!(dev.admin().counters().grants("password"), 1);

    // Without the CA, the token call fails the TLS handshake: it did use the client's settings.
    let untrusting = Client::oauth_client(dev.base_url(), CLIENT_ID, CLIENT_SECRET)
        .build()
        .unwrap();
    let e = untrusting
        .oauth()
        .generate_token("admin", "admin")
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");
}

#[tokio::test]
async fn a_hibernating_instance_is_instance_unavailable_through_the_client() {
    let dev = crate::common::start(1).await;
    dev.admin().hibernate(true);

    // A token call made by the client's handle.
    let client = oauth_client(&dev, &Updates::default());
    let e = client
        .oauth()
        .generate_token("admin", "admin")
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InstanceUnavailable {
                hibernating: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(!e.is_retryable());

    // A token call made on the way to an API call.
    let client =
        Client::oauth_password(dev.base_url(), CLIENT_ID, CLIENT_SECRET, "admin", "admin").unwrap();
    let e = client
        .table("incident")
        .list()
        .first::<Record>()
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InstanceUnavailable {
                hibernating: true,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("hibernating"), "{e}");
    assert_eq!(e.kind(), ErrorKind::Server);
}

#[tokio::test]
async fn settings_errors_surface_at_build() {
    let e = Client::oauth_client("ftp://x", CLIENT_ID, CLIENT_SECRET)
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    let e = Client::oauth_client("acme", CLIENT_ID, CLIENT_SECRET)
        .oauth(|b| b.token_url("not a url"))
        .build()
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    let client = Client::oauth_client("acme", CLIENT_ID, "cs-secret-value")
        .build()
        .unwrap();
    assert!(!format!("{client:?}").contains("cs-secret-value"));
}
