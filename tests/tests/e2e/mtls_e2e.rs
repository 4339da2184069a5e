//! Mutual TLS end to end: snow-transport presenting a client certificate (`TlsConfig`
//! client identity) to the dev instance started with a client CA, over real HTTPS.

use snow_basic::BasicAuth;
use snow_core::Instance;
use snow_core::http::Request;
use snow_devinstance::{DevConfig, DevInstance};
use snow_test_support::tls::TestCa;
use snow_transport::{Body, TlsConfig, Transport, TransportError};

const TABLE: &str = "/api/now/table/incident";

/// A CA certificate (PEM) and a client certificate and key (PEM) it issued.
fn client_pki(ca_name: &str) -> (String, String, String) {
    let ca = TestCa::named(ca_name);
    let client = ca.client_named("integration.user");
    (ca.cert_pem.clone(), client.cert_pem, client.key_pem)
}

async fn get_incident(transport: &Transport) -> Result<(u16, serde_json::Value), TransportError> {
    let request = Request::get(format!("{TABLE}?sysparm_limit=1"))
        .body(Body::empty())
        .expect("a static request");
    let response = transport.send(request).await?;
    let status = response.status().as_u16();
    let body = response.into_body().collect_bytes().await?;
    Ok((status, serde_json::from_slice(&body).expect("JSON")))
}

#[tokio::test]
async fn transport_with_a_client_identity_passes_mutual_tls_and_without_one_fails() {
    let (client_ca, cert, key) = client_pki("e2e client CA");
    let dev = DevInstance::start(DevConfig {
        records: 3,
        client_ca_pem: Some(client_ca),
        ..DevConfig::default()
    })
    .await
    .expect("dev instance starts");
    let instance = Instance::from_url(dev.base_url()).expect("the dev instance URL");
    let server_ca = dev.ca_pem().expect("HTTPS").as_bytes().to_vec();
    let transport = |tls: TlsConfig| {
        Transport::builder(instance.clone())
            .tls(tls)
            .auth(BasicAuth::new("admin", "admin"))
            .build()
            .expect("transport")
    };

    let with_identity = transport(
        TlsConfig::default()
            .only_ca_pem(server_ca.clone())
            .client_identity_pem(cert, key),
    );
    let (status, body) = get_incident(&with_identity).await.expect("mutual TLS");
    assert_eq!(status, 200);
    assert_eq!(body["result"].as_array().map(Vec::len), Some(1));

    let without = transport(TlsConfig::default().only_ca_pem(server_ca.clone()));
    let err = get_incident(&without)
        .await
        .expect_err("no client certificate");
    assert!(matches!(err, TransportError::Tls { .. }), "{err:?}");

    let (_, other_cert, other_key) = client_pki("some other CA");
    let stranger = transport(
        TlsConfig::default()
            .only_ca_pem(server_ca)
            .client_identity_pem(other_cert, other_key),
    );
    let err = get_incident(&stranger)
        .await
        .expect_err("a certificate the instance does not trust");
    assert!(matches!(err, TransportError::Tls { .. }), "{err:?}");

    let counters = dev.admin().counters();
    assert_eq!(counters.requests_with(TABLE, 200), 1);
    assert_eq!(counters.requests_to(TABLE), 1, "refused before any HTTP");
    dev.shutdown().await.expect("shutdown");
}
