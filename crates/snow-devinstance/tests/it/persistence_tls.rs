//! State survives a restart through the data directory; HTTPS with the generated CA.

use std::sync::Arc;

use crate::common::{admin, start_with};
use bytes::Bytes;
use http::Method;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use serde_json::json;
use snow_devinstance::{DevConfig, DevInstance};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("snow-devinstance-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn writes_survive_a_restart() {
    let dir = temp_dir("persist");
    let config = DevConfig {
        records: 10,
        data_dir: Some(dir.clone()),
        ..DevConfig::default()
    };
    let (instance, http) = start_with(config.clone()).await;
    let created = http
        .json(
            Method::POST,
            "/api/now/table/incident",
            &admin(),
            &json!({"short_description": "remember me"}),
        )
        .await;
    let id = created.json()["result"]["sys_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let up = http
        .send(
            Method::POST,
            &format!(
                "/api/now/attachment/file?table_name=incident&table_sys_id={id}&file_name=a.txt"
            ),
            &[("authorization", &admin()), ("content-type", "text/plain")],
            "kept bytes",
        )
        .await;
    let att = up.json()["result"]["sys_id"]
        .as_str()
        .expect("attachment id")
        .to_owned();
    let victim = http
        .get(
            "/api/now/table/incident?sysparm_limit=1&sysparm_fields=sys_id",
            &admin(),
        )
        .await
        .json()["result"][0]["sys_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let del = http
        .send(
            Method::DELETE,
            &format!("/api/now/table/incident/{victim}"),
            &[("authorization", &admin())],
            Bytes::new(),
        )
        .await;
    assert_eq!(del.status, 204);
    instance.shutdown().await.expect("shutdown saves");
    assert!(dir.join("db.json").is_file());

    let (again, http) = start_with(config).await;
    let r = http
        .get(&format!("/api/now/table/incident/{id}"), &admin())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"]["short_description"], "remember me");
    assert_eq!(
        http.get(&format!("/api/now/table/incident/{victim}"), &admin())
            .await
            .status,
        404
    );
    let file = http
        .get(&format!("/api/now/attachment/{att}/file"), &admin())
        .await;
    assert_eq!(&file.body[..], b"kept bytes");
    again.shutdown().await.expect("shutdown");

    // A corrupt state file is refused with a clear error, not a panic.
    std::fs::write(dir.join("db.json"), b"{ definitely not a db").expect("write");
    let err = DevInstance::start(DevConfig {
        data_dir: Some(dir.clone()),
        ..DevConfig::default()
    })
    .await
    .expect_err("corrupt state");
    assert!(err.to_string().contains("not valid"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn https_with_the_generated_ca_and_alpn() {
    let instance = DevInstance::start(DevConfig {
        records: 5,
        tls: true,
        ..DevConfig::default()
    })
    .await
    .expect("start");
    assert!(instance.base_url().starts_with("https://127.0.0.1:"));
    let pem = instance.ca_pem().expect("CA PEM");
    let mut roots = rustls::RootCertStore::empty();
    let mut reader = std::io::Cursor::new(pem.as_bytes());
    for cert in rustls_pemfile_certs(&mut reader) {
        roots.add(cert).expect("CA cert");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    for alpn in [b"http/1.1".to_vec(), b"h2".to_vec()] {
        let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_root_certificates(roots.clone())
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.clone()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let tcp = tokio::net::TcpStream::connect(instance.local_addr())
            .await
            .expect("tcp");
        let name = rustls::pki_types::ServerName::try_from("localhost").expect("name");
        let tls = connector
            .connect(name, tcp)
            .await
            .expect("TLS handshake with the generated CA");
        assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&alpn[..]));
        let req = http::Request::builder()
            .uri(format!(
                "{}/api/now/table/incident?sysparm_limit=2",
                instance.base_url()
            ))
            .header("authorization", admin())
            .header("host", "localhost")
            .body(Empty::<Bytes>::new())
            .expect("request");
        let resp = if alpn == b"h2" {
            let (mut send, conn) = hyper::client::conn::http2::handshake(
                hyper_util::rt::TokioExecutor::new(),
                TokioIo::new(tls),
            )
            .await
            .expect("h2 handshake");
            tokio::spawn(conn);
            send.send_request(req).await.expect("h2 response")
        } else {
            let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .expect("h1 handshake");
            tokio::spawn(conn);
            send.send_request(req).await.expect("h1 response")
        };
        assert_eq!(resp.status(), 200);
        let body = resp.into_body().collect().await.expect("body").to_bytes();
        let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(v["result"].as_array().map(Vec::len), Some(2));
    }
    instance.shutdown().await.expect("shutdown");
}

fn rustls_pemfile_certs(
    reader: &mut dyn std::io::BufRead,
) -> Vec<rustls::pki_types::CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject as _;
    let mut text = String::new();
    let _ = reader.read_to_string(&mut text);
    rustls::pki_types::CertificateDer::pem_slice_iter(text.as_bytes())
        .filter_map(Result::ok)
        .collect()
}

#[tokio::test]
async fn periodic_saves_happen_without_a_shutdown() {
    let dir = temp_dir("periodic");
    let (instance, http) = start_with(DevConfig {
        records: 5,
        data_dir: Some(dir.clone()),
        persist_every: Some(std::time::Duration::from_millis(100)),
        ..DevConfig::default()
    })
    .await;
    let created = http
        .json(
            Method::POST,
            "/api/now/table/incident",
            &admin(),
            &json!({"short_description": "saved by the ticker"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let mut saved = false;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        if std::fs::read(dir.join("db.json"))
            .is_ok_and(|b| String::from_utf8_lossy(&b).contains("saved by the ticker"))
        {
            saved = true;
            break;
        }
    }
    assert!(saved, "no periodic save within 5 s");
    instance.shutdown().await.expect("shutdown");
    let _ = std::fs::remove_dir_all(&dir);
}
