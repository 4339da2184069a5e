//! TLS against an in-test CA and a tokio-rustls server on 127.0.0.1.

use http::Version;
use snow_test_support::server::{reply, serve, serve_tls};
use snow_test_support::tls::TestCa;
use snow_transport::{BuildError, RetryConfig, TlsConfig, Transport, TransportError};

async fn get(
    t: &Transport,
) -> Result<http::Response<snow_transport::ResponseBody>, TransportError> {
    t.send(crate::get("/api/now/table/x")).await
}

#[tokio::test]
async fn default_roots_refuse_an_unknown_ca_with_a_clear_error() {
    let ca = TestCa::new();
    let server = serve_tls(ca.server_config(&ca.server(), false), |_, _| async {
        reply(200, "{}")
    })
    .await;
    let t = Transport::builder(server.instance()).build().unwrap();
    let err = get(&t).await.unwrap_err();
    eprintln!("{err}");
    assert!(err.is_certificate_verification(), "{err:?}");
    assert!(
        err.to_string().contains("certificate verification failed"),
        "{err}"
    );
    // Not retried: a certificate does not get better by asking again.
    assert!(!err.is_retryable());
    assert_eq!(server.count(), 0);
}

#[tokio::test]
async fn https_to_a_plain_http_server_says_to_use_http() {
    let server = serve(|_, _| async { reply(200, "{}") }).await;
    let plain = server.url();
    let https: snow_transport::Instance = plain.replacen("http://", "https://", 1).parse().unwrap();
    let t = Transport::builder(https).build().unwrap();
    let err = get(&t).await.unwrap_err();
    assert!(matches!(err, TransportError::Tls { .. }), "{err:?}");
    assert!(err.to_string().contains("use an http:// URL"), "{err}");
}

#[tokio::test]
async fn the_ca_pem_makes_it_work_over_http2() {
    let ca = TestCa::new();
    let server = serve_tls(ca.server_config(&ca.server(), false), |_, _| async {
        reply(200, "{}")
    })
    .await;
    let t = Transport::builder(server.instance())
        .tls(TlsConfig::default().add_ca_pem(ca.cert_pem.clone()))
        .build()
        .unwrap();
    let resp = get(&t).await.unwrap();
    assert_eq!(resp.status(), 200);
    // ALPN picked HTTP/2.
    assert_eq!(server.seen()[0].version, Version::HTTP_2);
    assert_eq!(resp.version(), Version::HTTP_2);

    // Replacing the roots with only this CA works too.
    let t = Transport::builder(server.instance())
        .tls(TlsConfig::default().only_ca_pem(ca.cert_pem.clone()))
        .build()
        .unwrap();
    assert_eq!(get(&t).await.unwrap().status(), 200);

    // Another CA does not vouch for this server.
    let other = TestCa::new();
    let t = Transport::builder(server.instance())
        .tls(TlsConfig::default().only_ca_pem(other.cert_pem.clone()))
        .build()
        .unwrap();
    assert!(get(&t).await.unwrap_err().is_certificate_verification());
}

#[tokio::test]
async fn skipping_verification_works_only_when_asked() {
    let ca = TestCa::new();
    let server = serve_tls(ca.server_config(&ca.server(), false), |_, _| async {
        reply(200, "{}")
    })
    .await;
    let strict = Transport::builder(server.instance()).build().unwrap();
    assert!(
        get(&strict)
            .await
            .unwrap_err()
            .is_certificate_verification()
    );

    let tls = TlsConfig::default().danger_accept_invalid_certs();
    assert!(tls.accepts_invalid_certs());
    let lax = Transport::builder(server.instance())
        .tls(tls)
        .build()
        .unwrap();
    assert_eq!(get(&lax).await.unwrap().status(), 200);
    assert_eq!(server.count(), 1);
}

#[tokio::test]
async fn mutual_tls_accepts_the_configured_identity_and_refuses_none() {
    let ca = TestCa::new();
    let server = serve_tls(ca.server_config(&ca.server(), true), |_, _| async {
        reply(200, "{}")
    })
    .await;
    let client = ca.client();

    let with_cert = Transport::builder(server.instance())
        .tls(
            TlsConfig::default()
                .add_ca_pem(ca.cert_pem.clone())
                .client_identity_pem(client.cert_pem.clone(), client.key_pem.clone()),
        )
        .build()
        .unwrap();
    assert_eq!(get(&with_cert).await.unwrap().status(), 200);
    assert_eq!(server.count(), 1);

    let without = Transport::builder(server.instance())
        .tls(TlsConfig::default().add_ca_pem(ca.cert_pem.clone()))
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    let err = get(&without).await.unwrap_err();
    eprintln!("{err}");
    assert!(matches!(err, TransportError::Tls { .. }), "{err:?}");
    assert!(!err.is_certificate_verification());
    assert_eq!(server.count(), 1);

    // A certificate from another CA is refused as well.
    let stranger = TestCa::new().client();
    let wrong = Transport::builder(server.instance())
        .tls(
            TlsConfig::default()
                .add_ca_pem(ca.cert_pem.clone())
                .client_identity_pem(stranger.cert_pem, stranger.key_pem),
        )
        .retry(RetryConfig::disabled())
        .build()
        .unwrap();
    assert!(get(&wrong).await.is_err());
    assert_eq!(server.count(), 1);
}

#[test]
fn broken_pems_are_build_errors_that_never_echo_the_key() {
    let ca = TestCa::new();
    let instance = snow_transport::Instance::from_url("https://127.0.0.1:1").unwrap();

    let err = Transport::builder(instance.clone())
        .tls(TlsConfig::default().add_ca_pem("not a pem"))
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::Tls { .. }), "{err}");
    assert!(err.to_string().contains("no CERTIFICATE"), "{err}");

    let client = ca.client();
    let bogus_key =
        "-----BEGIN PRIVATE KEY-----\nU2VjcmV0S2V5TWF0ZXJpYWw=\n-----END PRIVATE KEY-----\n";
    let err = Transport::builder(instance.clone())
        .tls(TlsConfig::default().client_identity_pem(client.cert_pem.clone(), bogus_key))
        .build()
        .unwrap_err();
    assert!(matches!(err, BuildError::Tls { .. }), "{err}");
    assert!(!err.to_string().contains("U2VjcmV0"), "{err}");

    let tls =
        TlsConfig::default().client_identity_pem(client.cert_pem.clone(), client.key_pem.clone());
    let key_body: String = client.key_pem.lines().nth(1).unwrap().to_owned();
    for shown in [
        format!("{tls:?}"),
        format!(
            "{:?}",
            Transport::builder(instance.clone()).tls(tls.clone())
        ),
        format!(
            "{:?}",
            Transport::builder(instance).tls(tls).build().unwrap()
        ),
    ] {
        assert!(!shown.contains(&key_body), "{shown}");
        assert!(!shown.contains("PRIVATE KEY"), "{shown}");
    }
}
