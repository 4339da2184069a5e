//! The `snow-devinstance` binary: URL on the first stdout line, SIGTERM saves the data.

use std::process::Command;

use crate::common::{Http, Server, admin, spawn};
use http::Method;
use serde_json::json;

#[cfg(unix)]
fn terminate(server: &mut Server) -> std::process::ExitStatus {
    let pid = server.0.id().to_string();
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(sent.success());
    server.0.wait().expect("exits")
}

#[cfg(unix)]
#[tokio::test]
async fn prints_url_first_and_saves_on_sigterm() {
    let dir = std::env::temp_dir().join(format!("snow-devinstance-bin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_s = dir.to_string_lossy().into_owned();
    let (mut server, url) = spawn(&[
        "--port",
        "0",
        "--records",
        "20",
        "--data",
        &dir_s,
        "--access-token-ttl",
        "5",
    ]);
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let http = Http::new(&url);
    let created = http
        .json(
            Method::POST,
            "/api/now/table/incident",
            &admin(),
            &json!({"short_description": "across restarts"}),
        )
        .await;
    assert_eq!(created.status, 201);
    let id = created.json()["result"]["sys_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let form = "grant_type=password&client_id=snow-dev&client_secret=snow-dev-secret&username=admin&password=admin";
    let t = http
        .send(
            Method::POST,
            "/oauth_token.do",
            &[("content-type", "application/x-www-form-urlencoded")],
            form,
        )
        .await;
    assert_eq!(t.json()["expires_in"], 4, "--access-token-ttl applies");
    let status = terminate(&mut server);
    assert!(status.success(), "{status:?}");

    let (mut server, url) = spawn(&["--port", "0", "--data", &dir_s]);
    let http = Http::new(&url);
    let r = http
        .get(&format!("/api/now/table/incident/{id}"), &admin())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"]["short_description"], "across restarts");
    let status = terminate(&mut server);
    assert!(status.success(), "{status:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn tls_writes_the_ca_where_asked() {
    let ca = std::env::temp_dir().join(format!("snow-devinstance-ca-{}.pem", std::process::id()));
    let ca_s = ca.to_string_lossy().into_owned();
    let (_server, url) = spawn(&["--port", "0", "--records", "5", "--tls", "--ca-out", &ca_s]);
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");
    let pem = std::fs::read_to_string(&ca).expect("CA written before the URL line");
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    let _ = std::fs::remove_file(&ca);
}
