//! Bad input gets the documented envelope (or a closed connection), and the next request is served.

use crate::common::{admin, start};
use bytes::Bytes;
use http::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

async fn still_serving(http: &crate::common::Http) {
    let r = http
        .get("/api/now/table/incident?sysparm_limit=1", &admin())
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["result"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn malformed_json_wrong_type_and_oversized_bodies() {
    let (instance, http) = start(5).await;
    let auth = admin();
    let r = http
        .send(
            Method::POST,
            "/api/now/table/incident",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            "{\"short_description\": ",
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json()["error"]["message"],
        "Exception while reading request"
    );
    still_serving(&http).await;

    let r = http
        .send(
            Method::POST,
            "/api/now/table/incident",
            &[("authorization", &auth), ("content-type", "text/plain")],
            "short_description=x",
        )
        .await;
    assert_eq!(r.status, 415);
    assert_eq!(r.json()["status"], "failure");

    let r = http
        .send(
            Method::POST,
            "/api/now/table/incident",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            "42",
        )
        .await;
    assert_eq!(r.status, 400);

    let big = vec![b' '; 10 * 1024 * 1024 + 1];
    let len = big.len();
    let r = http
        .send(
            Method::POST,
            "/api/now/table/incident",
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            big,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        r.json(),
        json!({"error":{"message":"Exception while reading request","detail":format!("Rejected large REST payload with content-length = {len} bytes. Max allowed: 10485760 bytes.")},"status":"failure"})
    );
    still_serving(&http).await;
    let count = http
        .get("/api/now/table/incident?sysparm_limit=1", &auth)
        .await;
    assert_eq!(
        count.header("x-total-count"),
        Some("5"),
        "no bad write created a record"
    );
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn odd_queries_and_unknown_tables() {
    let (instance, http) = start(5).await;
    for path in [
        "/api/now/table/incident?sysparm_query=%E0%A4%A&sysparm_limit=-5&sysparm_offset=abc",
        "/api/now/table/incident?sysparm_query=^^^ORDERBY^NQ^OR&sysparm_display_value=maybe",
        "/api/now/table/incident?sysparm_query=no_such_field%3D1",
        "/api/now/table/incident?sysparm_query=priorityBETWEEN&sysparm_fields=,,,",
        "/api/now/table/incident?sysparm_query=sys_created_on%3Ejavascript:gs.evil()",
        "/api/now/table/incident?%%%=&&&=",
    ] {
        let r = http.get(path, &admin()).await;
        assert!(r.status == 200 || r.status == 400, "{path}: {}", r.status);
        let v = r.json();
        assert!(
            v.get("result").is_some() || v["status"] == "failure",
            "{path}: {v}"
        );
    }
    let r = http.get("/api/now/table/..%2F..%2Fetc", &admin()).await;
    assert_eq!(r.status, 400);
    still_serving(&http).await;
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn garbage_bytes_on_the_socket_close_that_connection_only() {
    let (instance, http) = start(5).await;
    for garbage in [
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage tls hello"[..],
        b"NOT HTTP AT ALL\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header Line\r\n\r\n",
        b"\x00\x00\x00\x00\xff\xff\xff\xff",
    ] {
        let mut stream = tokio::net::TcpStream::connect(instance.local_addr())
            .await
            .expect("connect");
        stream.write_all(garbage).await.expect("write");
        let mut buf = Vec::new();
        // The server answers with an error status or simply closes; either way the read ends.
        let read = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_end(&mut buf),
        )
        .await;
        assert!(read.is_ok(), "connection left hanging after garbage");
        if !buf.is_empty() {
            assert!(
                buf.starts_with(b"HTTP/1.1 4"),
                "{}",
                String::from_utf8_lossy(&buf)
            );
        }
        still_serving(&http).await;
    }
    // A request split oddly across writes still works on a raw socket.
    let mut stream = tokio::net::TcpStream::connect(instance.local_addr())
        .await
        .expect("connect");
    let req = format!(
        "GET /api/now/table/incident?sysparm_limit=1 HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        admin()
    );
    for chunk in req.as_bytes().chunks(7) {
        stream.write_all(chunk).await.expect("write");
    }
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.expect("read");
    assert!(
        buf.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&buf)
    );
    let _ = Bytes::new();
    instance.shutdown().await.expect("shutdown");
}
