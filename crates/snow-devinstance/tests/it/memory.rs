//! Memory stays bounded under hostile traffic: the request log and the counters are capped in
//! bytes, attachments in total.

use std::sync::Arc;

use crate::common::{Http, admin, start_with, temp_dir};
use bytes::Bytes;
use http::Method;
use snow_devinstance::{DevConfig, LoggedRequest, OTHER_PATHS};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_thousand_unauthenticated_60kb_heads_do_not_pin_the_log() {
    let (instance, _http) = start_with(DevConfig {
        records: 1,
        ..DevConfig::default()
    })
    .await;
    let addr = instance.local_addr();
    let pad: Arc<str> = "p".repeat(60 * 1024 - 600).into();
    let connections = 8;
    let per_connection = 10_000 / connections;
    // Raw keep-alive connections, requests written back to back while a reader counts the
    // answers: the cost is the instance's, not a client's.
    let tasks: Vec<_> = (0..connections)
        .map(|c| {
            let pad = pad.clone();
            tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
                let (mut rd, mut wr) = stream.into_split();
                let reader = tokio::spawn(async move {
                    let needle = b"HTTP/1.1 401 ";
                    let (mut seen, mut carry, mut buf) = (0, Vec::new(), vec![0u8; 1 << 16]);
                    while seen < per_connection {
                        let n = rd.read(&mut buf).await.expect("read");
                        assert!(n > 0, "connection closed after {seen} answers");
                        carry.extend_from_slice(&buf[..n]);
                        seen += carry.windows(needle.len()).filter(|w| w == needle).count();
                        let keep = carry.len().saturating_sub(needle.len() - 1);
                        carry.drain(..keep);
                    }
                    seen
                });
                for i in 0..per_connection {
                    // Distinct paths of ~300 bytes, so the counters see 10,000 new keys too.
                    let head = format!(
                        "GET /api/now/table/t{c}x{i}{} HTTP/1.1\r\nhost: x\r\nx-pad: {pad}\r\n\r\n",
                        "q".repeat(280)
                    );
                    wr.write_all(head.as_bytes()).await.expect("write");
                }
                assert_eq!(reader.await.expect("reader"), per_connection);
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("connection");
    }
    let a = instance.admin();
    let mem = a.memory();
    let log = a.request_log();
    // Measured from the entries themselves, not only from the instance's own accounting.
    let text: usize = log
        .iter()
        .map(|e| {
            e.method.len()
                + e.path.len()
                + e.query.len()
                + e.headers
                    .iter()
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>()
        })
        .sum();
    let accounted: usize = log.iter().map(LoggedRequest::accounted_bytes).sum();
    assert_eq!(mem.request_log_bytes, accounted);
    assert!(text <= accounted);
    assert!(
        accounted <= mem.request_log_max_bytes && mem.request_log_max_bytes <= 16 * 1024 * 1024,
        "{accounted} bytes logged, cap {}",
        mem.request_log_max_bytes
    );
    assert_eq!(mem.request_log_entries, log.len());
    assert!(
        log.len() >= 5_000,
        "entries are cut, not dropped: {}",
        log.len()
    );
    let pad_logged = log
        .iter()
        .flat_map(|e| &e.headers)
        .find(|(k, _)| k == "x-pad")
        .map(|(_, v)| v.clone())
        .expect("the padding header is logged");
    assert!(pad_logged.len() <= 1024 && pad_logged.ends_with('…'));
    // Counters: 10,000 distinct paths, bounded in bytes, every request still counted.
    assert!(
        mem.counters_bytes <= 2 * 1024 * 1024,
        "{}",
        mem.counters_bytes
    );
    let counters = a.counters();
    let counted: u64 = counters.requests.values().flat_map(|m| m.values()).sum();
    assert_eq!(counted, 10_000);
    assert!(counters.requests_with(OTHER_PATHS, 401) > 0);
    instance.shutdown().await.expect("shutdown");
}

async fn upload(http: &Http, record: &str, bytes: usize) -> crate::common::Reply {
    http.send(
        Method::POST,
        &format!(
            "/api/now/attachment/file?table_name=incident&table_sys_id={record}&file_name=a.bin"
        ),
        &[
            ("authorization", &admin()),
            ("content-type", "application/octet-stream"),
        ],
        vec![7u8; bytes],
    )
    .await
}

async fn attachment_cap(config: DevConfig, on_disk: bool) {
    let (instance, http) = start_with(config).await;
    let record = http
        .get(
            "/api/now/table/incident?sysparm_limit=1&sysparm_fields=sys_id",
            &admin(),
        )
        .await
        .json()["result"][0]["sys_id"]
        .as_str()
        .expect("an incident")
        .to_owned();
    let first = upload(&http, &record, 600).await;
    assert_eq!(first.status, 201, "{}", first.text());
    let first_id = first.json()["result"]["sys_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let mem = instance.admin().memory();
    assert_eq!(
        (mem.attachment_bytes, mem.attachments_on_disk),
        (600, on_disk)
    );
    let refused = upload(&http, &record, 600).await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        refused.json()["error"]["message"],
        "Failed to create the attachment"
    );
    assert!(
        refused.json()["error"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("full")),
        "{}",
        refused.text()
    );
    let del = http
        .send(
            Method::DELETE,
            &format!("/api/now/attachment/{first_id}"),
            &[("authorization", &admin())],
            Bytes::new(),
        )
        .await;
    assert_eq!(del.status, 204);
    assert_eq!(instance.admin().memory().attachment_bytes, 0);
    let again = upload(&http, &record, 900).await;
    assert_eq!(again.status, 201, "room again after the delete");
    let id = again.json()["result"]["sys_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let file = http
        .get(&format!("/api/now/attachment/{id}/file"), &admin())
        .await;
    assert_eq!(file.body.len(), 900);
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn attachments_are_capped_in_memory() {
    attachment_cap(
        DevConfig {
            records: 2,
            max_attachment_total_bytes: 1000,
            ..DevConfig::default()
        },
        false,
    )
    .await;
}

#[tokio::test]
async fn attachments_go_to_disk_with_a_data_directory_and_are_capped_there() {
    let dir = temp_dir("attachment-cap");
    attachment_cap(
        DevConfig {
            records: 2,
            max_attachment_total_bytes: 1000,
            data_dir: Some(dir.clone()),
            ..DevConfig::default()
        },
        true,
    )
    .await;
    let files = std::fs::read_dir(dir.join("attachments"))
        .expect("attachment dir")
        .count();
    assert_eq!(files, 1, "the deleted attachment's file is gone");
    let _ = std::fs::remove_dir_all(&dir);
}
