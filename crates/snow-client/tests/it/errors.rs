//! Every error kind against the dev instance's fault modes (and a closed port, and a TLS
//! instance whose certificate is not trusted), plus secrets kept out of errors and Debug.

use std::time::Duration;

use crate::common::{client, client_no_retry, log_for, start};
use snow_client::basic::BasicAuth;
use snow_client::transport::{RetryConfig, Transport};
use snow_client::{Client, Error, Record};
use snow_devinstance::{DevConfig, DevInstance, FaultKind, FaultRule, RateLimitRule, Trigger};

const T: &str = "/api/now/table/incident";

async fn first(c: &Client) -> Result<Record, Error> {
    c.table("incident").list().first().await
}

/// POSTs the dev instance has logged on the incident table.
fn posts(dev: &DevInstance) -> usize {
    log_for(dev, T)
        .iter()
        .filter(|r| r.method == "POST")
        .count()
}

fn sys_ids(records: &[Record]) -> Vec<Option<String>> {
    records
        .iter()
        .map(|r| r.sys_id().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn hibernation_page_is_detected() {
    let dev = start(5).await;
    dev.admin().hibernate(true);
    let err = first(&client(&dev, "admin")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::InstanceUnavailable {
                hibernating: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("hibernating"));
    assert!(!err.is_retryable());
    dev.admin().hibernate(false);
    assert!(first(&client(&dev, "admin")).await.is_ok());
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn rate_limits_semaphores_and_retries() {
    let dev = start(5).await;
    // A full semaphore queue: 429 without Retry-After.
    dev.admin()
        .add_fault(FaultRule::new(FaultKind::Semaphore, Trigger::Always).path_prefix(T));
    let err = first(&client_no_retry(&dev, "admin")).await.unwrap_err();
    match &err {
        Error::RateLimited {
            retry_after,
            message,
            ..
        } => {
            assert!(retry_after.is_none());
            assert!(
                message.as_deref().unwrap_or("").contains("semaphore"),
                "{err}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.is_retryable());
    assert_eq!(err.status(), Some(http::StatusCode::TOO_MANY_REQUESTS));

    // Every second request refused: the transport's retry gets through.
    dev.admin().clear_faults();
    dev.admin()
        .add_fault(FaultRule::new(FaultKind::Semaphore, Trigger::EveryNth { n: 2 }).path_prefix(T));
    let c = client(&dev, "admin");
    for _ in 0..4 {
        first(&c).await.unwrap();
    }
    assert!(dev.admin().counters().requests_with(T, 429) >= 1);

    // A rate-limit rule: 429 with Retry-After, surfaced as is when retrying is off.
    dev.admin().clear_faults();
    dev.admin()
        .set_rate_limits(vec![RateLimitRule::per_hour(Some("itil"), 1)]);
    let c = client_no_retry(&dev, "itil");
    first(&c).await.unwrap();
    match first(&c).await.unwrap_err() {
        Error::RateLimited {
            retry_after,
            message,
            ..
        } => {
            assert!(retry_after.is_some_and(|d| d > Duration::ZERO));
            assert!(message.unwrap_or_default().contains("Rate limit"));
        }
        other => panic!("{other:?}"),
    }
    // With retry on, a Retry-After longer than the transport's maximum is a typed rate limit.
    let err = first(&client(&dev, "itil")).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::RateLimited {
                retry_after: Some(_),
                ..
            }
        ),
        "{err:?}"
    );
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn session_rejection_server_errors_and_truncated_bodies() {
    let dev = start(5).await;
    let c = client_no_retry(&dev, "admin");
    let admin = dev.admin();

    admin.set_faults(vec![
        FaultRule::new(FaultKind::SessionRejected, Trigger::Always).path_prefix(T),
    ]);
    let err = first(&c).await.unwrap_err();
    assert!(matches!(err, Error::SessionRejected { .. }), "{err:?}");
    assert!(err.is_retryable());
    // The default transport retries a GET answered 202 (a busy session rejects it)...
    admin.set_faults(vec![
        FaultRule::new(FaultKind::SessionRejected, Trigger::EveryNth { n: 2 }).path_prefix(T),
    ]);
    let retrying = client(&dev, "admin");
    let before = admin.counters().requests_with(T, 202);
    for _ in 0..4 {
        first(&retrying).await.unwrap();
    }
    assert!(admin.counters().requests_with(T, 202) > before);
    // ... but never a write: a POST answered 202 is reported after one request.
    admin.set_faults(vec![
        FaultRule::new(FaultKind::SessionRejected, Trigger::Always).path_prefix(T),
    ]);
    let before = posts(&dev);
    let err = retrying
        .table("incident")
        .create(&serde_json::json!({"short_description": "once"}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::ACCEPTED), "{err:?}");
    assert_eq!(posts(&dev), before + 1);

    for (status, retryable) in [(500, false), (503, true)] {
        admin.set_faults(vec![
            FaultRule::new(FaultKind::ServerError { status }, Trigger::Always).path_prefix(T),
        ]);
        let err = first(&c).await.unwrap_err();
        assert_eq!(err.status().map(|s| s.as_u16()), Some(status), "{err:?}");
        assert!(matches!(err, Error::Api { .. }));
        assert_eq!(err.is_retryable(), retryable, "{err}");
    }
    // A 503 every second time is retried by the default transport.
    admin.set_faults(vec![
        FaultRule::new(
            FaultKind::ServerError { status: 503 },
            Trigger::EveryNth { n: 2 },
        )
        .path_prefix(T),
    ]);
    let retrying = client(&dev, "admin");
    for _ in 0..3 {
        first(&retrying).await.unwrap();
    }

    admin.set_faults(vec![
        FaultRule::new(FaultKind::TruncatedBody, Trigger::Always).path_prefix(T),
    ]);
    let err = c
        .table("incident")
        .list()
        .page::<Record>()
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::TruncatedResponse { .. } | Error::Transport(_)),
        "{err:?}"
    );

    admin.set_faults(vec![
        FaultRule::new(FaultKind::ConnectionReset, Trigger::Always).path_prefix(T),
    ]);
    let err = first(&c).await.unwrap_err();
    assert!(
        matches!(err, Error::Transport(_) | Error::Connect(_)),
        "{err:?}"
    );

    // Every second request dropped (before the response, or in the middle of the body): the
    // transport retries the first kind, the page stream asks again after the second; a whole
    // paged listing completes either way, and every record arrives once.
    admin.set_faults(Vec::new());
    let whole: Vec<Record> = c.table("incident").list().all().await.unwrap();
    for kind in [FaultKind::ConnectionReset, FaultKind::TruncatedBody] {
        admin.set_faults(vec![
            FaultRule::new(kind.clone(), Trigger::EveryNth { n: 2 }).path_prefix(T),
        ]);
        let before = admin.counters().requests_with(T, 200);
        let paged: Vec<Record> = client(&dev, "admin")
            .table("incident")
            .list()
            .page_size(2)
            .all()
            .await
            .unwrap_or_else(|e| panic!("{kind:?}: {e:?}"));
        assert_eq!(sys_ids(&paged), sys_ids(&whole), "{kind:?}");
        // Some requests were really dropped and asked again (3 pages, more requests).
        assert!(
            admin.counters().requests_with(T, 200) - before >= 3,
            "{kind:?}"
        );
    }
    // A write is not asked again when its connection drops.
    admin.set_faults(vec![
        FaultRule::new(FaultKind::ConnectionReset, Trigger::Always).path_prefix(T),
    ]);
    let before = posts(&dev);
    let err = client(&dev, "admin")
        .table("incident")
        .create(&serde_json::json!({"short_description": "once"}))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_eq!(posts(&dev), before + 1);
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_page_whose_body_is_cut_off_is_fetched_again() {
    // Pages large enough that the response head arrives before the cut, so the failure comes
    // while the body is read: the transport (retries off here) cannot help, the stream can.
    let dev = start(300).await;
    let c = client_no_retry(&dev, "admin");
    let whole: Vec<Record> = c.table("incident").list().all().await.unwrap();
    dev.admin().set_faults(vec![
        FaultRule::new(FaultKind::TruncatedBody, Trigger::EveryNth { n: 2 }).path_prefix(T),
    ]);
    let paged: Vec<Record> = c
        .table("incident")
        .list()
        .page_size(100)
        .all()
        .await
        .unwrap();
    assert_eq!(sys_ids(&paged), sys_ids(&whole));
    // Cut every time: after two more tries, the error.
    dev.admin().set_faults(vec![
        FaultRule::new(FaultKind::TruncatedBody, Trigger::Always).path_prefix(T),
    ]);
    let before = log_for(&dev, T).len();
    let err = c
        .table("incident")
        .list()
        .page_size(100)
        .all::<Record>()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Transport(_)), "{err:?}");
    assert_eq!(log_for(&dev, T).len() - before, 3);
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn latency_beyond_the_timeout_is_a_timeout() {
    let dev = start(5).await;
    dev.admin().add_fault(
        FaultRule::new(FaultKind::Latency { millis: 2_000 }, Trigger::Always).path_prefix(T),
    );
    let t = Transport::builder(dev.base_url().parse().unwrap())
        .auth(BasicAuth::new("admin", "admin"))
        .timeout(Duration::from_millis(200))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = first(&Client::new(t)).await.unwrap_err();
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    assert!(err.is_retryable());
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn connection_refused_is_connect() {
    let dev = start(1).await;
    let url = dev.base_url().to_owned();
    dev.shutdown().await.unwrap();
    let c = Client::new(
        Transport::builder(url.parse().unwrap())
            .retry(RetryConfig::disabled())
            .build()
            .unwrap(),
    );
    let err = first(&c).await.unwrap_err();
    assert!(matches!(err, Error::Connect(_)), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn untrusted_certificate_is_tls() {
    let dev = DevInstance::start(DevConfig {
        records: 1,
        tls: true,
        ..DevConfig::default()
    })
    .await
    .unwrap();
    let err = first(&client_no_retry(&dev, "admin")).await.unwrap_err();
    assert!(matches!(err, Error::Tls(_)), "{err:?}");
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn auth_and_acl_failures_keep_secrets_out() {
    let dev = start(3).await;
    let secret = "hunter2-very-secret";
    let c = Client::basic(dev.base_url(), "admin", secret).unwrap();
    assert!(!format!("{c:?}").contains(secret));
    let err = first(&c).await.unwrap_err();
    assert_eq!(
        err.status(),
        Some(http::StatusCode::UNAUTHORIZED),
        "{err:?}"
    );
    assert!(err.to_string().contains("User Not Authenticated"), "{err}");
    assert!(!err.to_string().contains(secret) && !format!("{err:?}").contains(secret));
    let logged = log_for(&dev, T).pop().unwrap();
    assert!(
        logged
            .headers
            .iter()
            .any(|(k, v)| k == "authorization" && v == "<redacted>")
    );

    // Reader may not write: 403 with ServiceNow's ACL message.
    let reader = client(&dev, "reader");
    let err = reader
        .table("incident")
        .create(&serde_json::json!({"short_description": "x"}))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::FORBIDDEN));
    assert!(err.to_string().contains("ACL"), "{err}");

    // API key and bearer constructors keep their secrets out of Debug too.
    let key = Client::api_key(dev.base_url(), "key-material-123").unwrap();
    assert!(!format!("{key:?}").contains("key-material-123"));
    let bearer = Client::bearer(dev.base_url(), "token-material-456").unwrap();
    assert!(!format!("{bearer:?}").contains("token-material-456"));
    assert_eq!(
        first(&bearer).await.unwrap_err().status(),
        Some(http::StatusCode::UNAUTHORIZED)
    );
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn api_key_and_oauth_clients_work() {
    let dev = start(3).await;
    let key = dev.admin().mint_api_key("itil").unwrap();
    assert!(
        first(&Client::api_key(dev.base_url(), key).unwrap())
            .await
            .is_ok()
    );

    let c = Client::oauth_password(
        dev.base_url(),
        "snow-dev",
        "snow-dev-secret",
        "admin",
        "admin",
    )
    .unwrap();
    assert!(first(&c).await.is_ok());
    assert!(first(&c).await.is_ok());
    assert_eq!(
        dev.admin().counters().grants("password"),
        1,
        "the token is cached"
    );
    let bad = Client::oauth_password(dev.base_url(), "snow-dev", "wrong-secret", "admin", "admin")
        .unwrap();
    let err = first(&bad).await.unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert!(!err.to_string().contains("wrong-secret"));
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn oauth_token_calls_use_the_transport_the_caller_configured() {
    let dev = DevInstance::start(DevConfig {
        records: 3,
        tls: true,
        ..DevConfig::default()
    })
    .await
    .unwrap();
    let ca = dev
        .ca_pem()
        .expect("a TLS instance has a CA")
        .as_bytes()
        .to_vec();
    let instance: snow_client::Instance = dev.base_url().parse().unwrap();
    let transport = Transport::builder(instance)
        .tls(snow_client::transport::TlsConfig::default().add_ca_pem(ca))
        .build()
        .unwrap();
    let c = Client::oauth_over(transport, "snow-dev", "snow-dev-secret", |b| {
        b.password("admin", "admin")
    })
    .unwrap();
    assert!(first(&c).await.is_ok());
    assert!(first(&c).await.is_ok());
    assert_eq!(dev.admin().counters().grants("password"), 1);

    // The same OAuth client over default roots fails at the token call: it does not trust the CA.
    let untrusting = Client::oauth(dev.base_url(), "snow-dev", "snow-dev-secret", |b| {
        b.password("admin", "admin")
    })
    .unwrap();
    let err = first(&untrusting).await.unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    assert_eq!(dev.admin().counters().grants("password"), 1);
    dev.shutdown().await.unwrap();
}

#[test]
fn bad_configuration_is_a_clear_error() {
    for bad in [
        "",
        "evil.com/x",
        "https://user:pw@acme.service-now.com",
        "ftp://x",
    ] {
        let err = Client::basic(bad, "u", "p").unwrap_err();
        assert!(matches!(err, Error::Config(_)), "{bad}: {err:?}");
        assert!(!err.to_string().contains("pw@"));
    }
    assert_eq!(
        Client::basic("acme", "u", "p")
            .unwrap()
            .instance()
            .base_url(),
        "https://acme.service-now.com"
    );
}
