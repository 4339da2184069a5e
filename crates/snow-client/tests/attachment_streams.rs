//! Attachments beyond the basics, against the dev instance: multipart uploads, uploads from
//! readers of known and unknown length, file names that must survive the round trip,
//! downloads saved whole or not at all, the hash check, and cut-off transfers.

mod common;

use std::path::{Path, PathBuf};

use common::{client, client_no_retry, log_for, start};
use snow_client::{Client, Error, Record};
use snow_devinstance::{FaultKind, FaultRule, Trigger};

async fn an_incident(c: &Client) -> String {
    let r: Record = c.table("incident").list().first().await.unwrap();
    r.sys_id().unwrap().to_owned()
}

/// A fresh, empty directory for one test.
fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("snow-att-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn entries(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn file_names_survive_raw_and_multipart_round_trips() {
    let dev = start(3).await;
    let c = client(&dev, "admin");
    let id = an_incident(&c).await;
    let att = c.attachments();
    let names = [
        "quarterly report.pdf",
        r#"say "hello" \ goodbye.txt"#,
        "résumé – 履歴書 📎.docx",
        "semi;colon=equals%20.txt",
    ];
    let out = dir("names");
    for (k, name) in names.iter().enumerate() {
        for multipart in [false, true] {
            let body = format!("content of {name}");
            let req = att.upload("incident", &id, name, body.clone().into_bytes());
            let meta = if multipart { req.multipart() } else { req }.await.unwrap();
            assert_eq!(meta.file_name, *name, "multipart={multipart}");
            let got = att.get(&meta.sys_id).await.unwrap();
            assert_eq!(got.file_name, *name);
            let download = att.download(&meta.sys_id).await.unwrap();
            assert_eq!(download.file_name().as_deref(), Some(*name));
            assert!(download.expected_hash().is_some());
            assert_eq!(download.bytes().await.unwrap(), body.as_bytes());
            let path = out.join(format!("{k}-{multipart}.bin"));
            let saved = att.download_to(&meta.sys_id, &path).await.unwrap();
            assert!(saved.verified);
            assert_eq!(std::fs::read(&path).unwrap(), body.as_bytes());
        }
    }
    // The multipart requests had a boundary and their length announced.
    let r = log_for(&dev, "/api/now/attachment/upload").pop().unwrap();
    let header = |n: &str| {
        r.headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
    };
    let ct = header("content-type").unwrap();
    assert!(
        ct.starts_with("multipart/form-data; boundary=snow-"),
        "{ct}"
    );
    assert!(header("content-length").is_some());
    let _ = std::fs::remove_dir_all(&out);
}

#[tokio::test]
async fn readers_of_known_and_unknown_length() {
    let dev = start(3).await;
    let c = client(&dev, "admin");
    let id = an_incident(&c).await;
    let att = c.attachments();
    let content = data(300_000);
    for (length, multipart) in [
        (Some(300_000), false),
        (None, false),
        (Some(300_000), true),
        (None, true),
    ] {
        let reader = std::io::Cursor::new(content.clone());
        let req = att.upload_reader("incident", &id, "stream.bin", reader, length);
        let meta = if multipart { req.multipart() } else { req }.await.unwrap();
        assert_eq!(meta.size(), Some(300_000), "{length:?} {multipart}");
        assert_eq!(
            att.download(&meta.sys_id)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap(),
            content
        );
        let path = if multipart {
            "/api/now/attachment/upload"
        } else {
            "/api/now/attachment/file"
        };
        let r = log_for(&dev, path).pop().unwrap();
        let announced = r.headers.iter().any(|(k, _)| k == "content-length");
        let chunked = r
            .headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        assert_eq!(
            (announced, chunked),
            (length.is_some(), length.is_none()),
            "{length:?} {multipart}"
        );
    }
    // A file from disk announces its length too.
    let d = dir("reader-file");
    let path = d.join("from disk.bin");
    std::fs::write(&path, &content).unwrap();
    let meta = att
        .upload_file("incident", &id, &path)
        .multipart()
        .await
        .unwrap();
    assert_eq!(meta.file_name, "from disk.bin");
    assert_eq!(meta.size(), Some(300_000));
    let _ = std::fs::remove_dir_all(&d);
}

/// A reader that yields some bytes, then fails.
struct Failing(usize);

impl tokio::io::AsyncRead for Failing {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        if self.0 == 0 {
            return std::task::Poll::Ready(Err(std::io::Error::other("disk went away")));
        }
        let n = self.0.min(buf.remaining()).min(10_000);
        buf.put_slice(&vec![b'x'; n]);
        self.0 -= n;
        std::task::Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn a_failing_or_short_source_is_an_io_error_and_nothing_is_stored() {
    let dev = start(3).await;
    let c = client(&dev, "admin");
    let id = an_incident(&c).await;
    let att = c.attachments();
    let e = att
        .upload_reader("incident", &id, "broken.bin", Failing(100_000), None)
        .await
        .unwrap_err();
    match &e {
        Error::Io { source, .. } => assert!(source.to_string().contains("disk went away"), "{e}"),
        other => panic!("{other:?}"),
    }
    let e = att
        .upload_reader(
            "incident",
            &id,
            "short.bin",
            std::io::Cursor::new(vec![1u8; 10]),
            Some(20),
        )
        .multipart()
        .await
        .unwrap_err();
    assert!(matches!(&e, Error::Io { .. }), "{e}");
    assert!(
        e.to_string().contains("ended after 10 of the 20 bytes"),
        "{e}"
    );
    let e = att
        .upload_file("incident", &id, "/nonexistent/snow/file.bin")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::Io { .. }), "{e}");
    let listed: Vec<snow_client::Attachment> = att.for_record("incident", &id).all().await.unwrap();
    assert!(listed.is_empty(), "{listed:?}");
}

#[tokio::test]
async fn an_upload_cut_off_by_a_connection_reset_is_a_clear_error() {
    let dev = start(3).await;
    let c = client_no_retry(&dev, "admin");
    let id = an_incident(&c).await;
    dev.admin().add_fault(
        FaultRule::new(FaultKind::ConnectionReset, Trigger::Always)
            .path_prefix("/api/now/attachment/file"),
    );
    let reader = std::io::Cursor::new(data(4_000_000));
    let e = c
        .attachments()
        .upload_reader("incident", &id, "cut.bin", reader, Some(4_000_000))
        .await
        .unwrap_err();
    // "the connection failed: connection error: Connection reset by peer", as a transport
    // error a caller may retry (the stream is not replayed automatically).
    assert!(e.transport_error().is_some(), "{e:?}");
    assert!(e.is_retryable(), "{e:?}");
    let text = e.to_string();
    assert!(
        text.contains("connection") || text.contains("closed") || text.contains("reset"),
        "{text}"
    );
    assert!(!e.to_string().contains("admin"), "no credential in {text}");
    dev.admin().clear_faults();
    let listed: Vec<snow_client::Attachment> = c
        .attachments()
        .for_record("incident", &id)
        .all()
        .await
        .unwrap();
    assert!(listed.is_empty());
}

#[tokio::test]
async fn downloads_never_leave_a_partial_or_unverified_file() {
    let dev = start(3).await;
    let c = client(&dev, "admin");
    let id = an_incident(&c).await;
    let att = c.attachments();
    let content = data(500_000);
    let meta = att
        .upload("incident", &id, "data.bin", content.clone())
        .await
        .unwrap();
    let d = dir("partial");
    let target = d.join("data.bin");

    // Cut off halfway: an error, and nothing in the directory.
    dev.admin().add_fault(
        FaultRule::new(FaultKind::TruncatedBody, Trigger::Always)
            .path_prefix(format!("/api/now/attachment/{}/file", meta.sys_id)),
    );
    let no_retry = client_no_retry(&dev, "admin");
    let e = no_retry
        .attachments()
        .download_to(&meta.sys_id, &target)
        .await
        .unwrap_err();
    assert!(
        e.transport_error().is_some() || matches!(e, Error::Transport(_)),
        "{e:?}"
    );
    assert_eq!(entries(&d), Vec::<String>::new());
    dev.admin().clear_faults();

    // An existing file is replaced only by a complete, verified download.
    std::fs::write(&target, b"previous").unwrap();
    let saved = att.download_to(&meta.sys_id, &target).await.unwrap();
    assert!(saved.verified);
    assert_eq!(saved.bytes, 500_000);
    assert_eq!(std::fs::read(&target).unwrap(), content);

    // Content that does not match its hash: HashMismatch, and the old file stays.
    let wrong = "0".repeat(64);
    c.table("sys_attachment")
        .update(&meta.sys_id, &serde_json::json!({"hash": wrong}))
        .await
        .unwrap();
    std::fs::write(&target, b"previous").unwrap();
    let e = att.download_to(&meta.sys_id, &target).await.unwrap_err();
    match &e {
        Error::HashMismatch { expected, actual } => {
            assert_eq!(expected, &wrong);
            assert_eq!(actual, &saved.sha256);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(std::fs::read(&target).unwrap(), b"previous");
    assert_eq!(entries(&d), vec!["data.bin".to_owned()]);
    let e = att
        .download(&meta.sys_id)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap_err();
    assert!(matches!(e, Error::HashMismatch { .. }), "{e}");
    // The stream yields the mismatch after the last chunk.
    use futures_util::StreamExt;
    let items: Vec<_> = att.download(&meta.sys_id).await.unwrap().collect().await;
    assert!(matches!(
        items.last(),
        Some(Err(Error::HashMismatch { .. }))
    ));
    let _ = std::fs::remove_dir_all(&d);
}

#[tokio::test]
async fn downloads_past_the_transport_cap_need_a_larger_max_size() {
    let dev = start(3).await;
    let instance: snow_client::Instance = dev.base_url().parse().unwrap();
    let small_cap = Client::new(
        snow_client::transport::Transport::builder(instance)
            .auth(snow_client::basic::BasicAuth::new("admin", "admin"))
            .max_response_body(100_000)
            .build()
            .unwrap(),
    );
    let id = an_incident(&small_cap).await;
    let att = small_cap.attachments();
    let meta = att
        .upload("incident", &id, "big.bin", data(300_000))
        .await
        .unwrap();
    let e = att.download(&meta.sys_id).await.unwrap_err();
    assert!(matches!(e, Error::BodyTooLarge { limit: 100_000 }), "{e:?}");
    let ok = att
        .download(&meta.sys_id)
        .max_size(1_000_000)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(ok.len(), 300_000);
    let d = dir("cap");
    att.download_to(&meta.sys_id, d.join("big.bin"))
        .await
        .unwrap();
    let _ = std::fs::remove_dir_all(&d);
}
