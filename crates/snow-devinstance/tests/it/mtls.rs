//! Mutual TLS: with a client CA the listener requires a client certificate and verifies it
//! against that CA; without one the handshake is refused before any HTTP is read.

use std::net::SocketAddr;
use std::sync::Arc;

use crate::common::{admin, spawn};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::json;
use snow_devinstance::{DevConfig, DevInstance};
use snow_test_support::tls::{Identity, TestCa};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Sends a raw HTTP/1.1 request over TLS, presenting `identity` if given: the status line
/// of the response, or the error (TLS alerts included) as text.
async fn exchange(
    addr: SocketAddr,
    server_ca: &str,
    identity: Option<&Identity>,
    request: &str,
) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(server_ca.as_bytes()) {
        roots.add(cert.expect("PEM")).expect("root");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(roots);
    let config = match identity {
        None => builder.with_no_client_auth(),
        Some(Identity { cert_pem, key_pem }) => {
            let certs: Vec<_> = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                .map(|c| c.expect("cert"))
                .collect();
            let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).expect("key");
            builder.with_client_auth_cert(certs, key).expect("identity")
        }
    };
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").expect("name");
    let mut tls = connector
        .connect(name, tcp)
        .await
        .map_err(|e| format!("handshake: {e:?}"))?;
    // With TLS 1.3 the client finishes its side of the handshake before the server has
    // checked the certificate, so a refusal (an alert) arrives on the first read.
    tls.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("write: {e:?}"))?;
    let mut response = Vec::new();
    tls.read_to_end(&mut response)
        .await
        .map_err(|e| format!("read: {e:?}"))?;
    let text = String::from_utf8_lossy(&response);
    Ok(text.lines().next().unwrap_or("").to_owned())
}

/// `GET /api/now/table/incident?sysparm_limit=1` as admin.
async fn get(
    addr: SocketAddr,
    server_ca: &str,
    identity: Option<&Identity>,
) -> Result<String, String> {
    let request = format!(
        "GET /api/now/table/incident?sysparm_limit=1 HTTP/1.1\r\nhost: localhost\r\nauthorization: {}\r\nconnection: close\r\n\r\n",
        admin()
    );
    exchange(addr, server_ca, identity, &request).await
}

/// `PUT /__dev/client_ca` as admin.
async fn put_client_ca(
    addr: SocketAddr,
    server_ca: &str,
    identity: Option<&Identity>,
    body: &serde_json::Value,
) -> Result<String, String> {
    let body = body.to_string();
    let request = format!(
        "PUT /__dev/client_ca HTTP/1.1\r\nhost: localhost\r\nauthorization: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        admin(),
        body.len()
    );
    exchange(addr, server_ca, identity, &request).await
}

const OK: &str = "HTTP/1.1 200 OK";

#[tokio::test]
async fn client_certificates_are_required_and_verified() {
    let ca = TestCa::named("integration client CA");
    let good = ca.client_named("integration.user");
    let stranger = TestCa::named("some other CA").client_named("intruder");
    let instance = DevInstance::start(DevConfig {
        records: 2,
        client_ca_pem: Some(ca.cert_pem.clone()),
        ..DevConfig::default()
    })
    .await
    .expect("start");
    assert!(instance.base_url().starts_with("https://"), "implies TLS");
    let (addr, server_ca) = (
        instance.local_addr(),
        instance.ca_pem().expect("CA").to_owned(),
    );

    let refused = get(addr, &server_ca, None)
        .await
        .expect_err("no certificate");
    assert!(refused.contains("CertificateRequired"), "{refused}");
    let refused = get(addr, &server_ca, Some(&stranger))
        .await
        .expect_err("certificate from another CA");
    assert!(refused.contains("Alert"), "{refused}");
    assert_eq!(
        instance.admin().counters().requests.len(),
        0,
        "no HTTP request got through"
    );
    assert_eq!(get(addr, &server_ca, Some(&good)).await.as_deref(), Ok(OK));

    // Switched off and on again at run time, in Rust and over the admin API.
    let a = instance.admin();
    a.set_client_ca(None).expect("off");
    assert_eq!(get(addr, &server_ca, None).await.as_deref(), Ok(OK));
    a.set_client_ca(Some(&ca.cert_pem.clone())).expect("on");
    assert!(get(addr, &server_ca, None).await.is_err());
    assert!(a.set_client_ca(Some("not a PEM")).is_err());
    assert!(get(addr, &server_ca, None).await.is_err(), "still on");
    instance.shutdown().await.expect("shutdown");

    let plain = DevInstance::start(DevConfig {
        records: 1,
        ..DevConfig::default()
    })
    .await
    .expect("start");
    assert!(
        plain
            .admin()
            .set_client_ca(Some(&ca.cert_pem.clone()))
            .is_err()
    );
    plain.shutdown().await.expect("shutdown");
}

#[test]
fn the_binary_takes_a_client_ca_file() {
    let dir = crate::common::temp_dir("mtls-bin");
    std::fs::create_dir_all(&dir).expect("dir");
    let ca = TestCa::named("binary client CA");
    let (ca_file, server_ca_file) = (dir.join("client-ca.pem"), dir.join("server-ca.pem"));
    std::fs::write(&ca_file, ca.cert_pem.clone()).expect("write");
    let (_server, url) = spawn(&[
        "--port",
        "0",
        "--records",
        "2",
        "--client-ca",
        &ca_file.to_string_lossy(),
        "--ca-out",
        &server_ca_file.to_string_lossy(),
    ]);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let addr: SocketAddr = url.trim_start_matches("https://").parse().expect("address");
    let server_ca = std::fs::read_to_string(&server_ca_file).expect("CA written");
    let identity = ca.client_named("cli.user");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        assert!(get(addr, &server_ca, None).await.is_err());
        assert_eq!(
            get(addr, &server_ca, Some(&identity)).await.as_deref(),
            Ok(OK)
        );
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn the_admin_api_sets_the_client_ca() {
    let instance = DevInstance::start(DevConfig {
        records: 1,
        tls: true,
        ..DevConfig::default()
    })
    .await
    .expect("start");
    let (addr, server_ca) = (
        instance.local_addr(),
        instance.ca_pem().expect("CA").to_owned(),
    );
    let ca = TestCa::named("admin-set CA");
    let identity = ca.client_named("admin-set.user");
    assert_eq!(get(addr, &server_ca, None).await.as_deref(), Ok(OK));
    let on = json!({ "pem": ca.cert_pem.clone() });
    assert_eq!(
        put_client_ca(addr, &server_ca, None, &on).await.as_deref(),
        Ok(OK)
    );
    assert!(get(addr, &server_ca, None).await.is_err());
    assert_eq!(
        get(addr, &server_ca, Some(&identity)).await.as_deref(),
        Ok(OK)
    );
    let bad = json!({ "pem": "garbage" });
    assert_eq!(
        put_client_ca(addr, &server_ca, Some(&identity), &bad)
            .await
            .as_deref(),
        Ok("HTTP/1.1 400 Bad Request")
    );
    let off = json!({ "pem": null });
    assert_eq!(
        put_client_ca(addr, &server_ca, Some(&identity), &off)
            .await
            .as_deref(),
        Ok(OK)
    );
    assert_eq!(get(addr, &server_ca, None).await.as_deref(), Ok(OK));
    instance.shutdown().await.expect("shutdown");
}
