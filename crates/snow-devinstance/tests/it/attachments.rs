//! Attachment API over real HTTP.

use crate::common::{admin, basic, start};
use bytes::Bytes;
use http::Method;
use sha2::Digest as _;

async fn some_incident(http: &crate::common::Http) -> String {
    let r = http
        .get(
            "/api/now/table/incident?sysparm_limit=1&sysparm_fields=sys_id",
            &admin(),
        )
        .await;
    r.json()["result"][0]["sys_id"]
        .as_str()
        .expect("sys_id")
        .to_owned()
}

#[tokio::test]
async fn raw_upload_metadata_download_list_delete() {
    let (instance, http) = start(5).await;
    let record = some_incident(&http).await;
    let content = b"hello attachment \xe2\x9c\x93".to_vec();
    let up = http
        .send(
            Method::POST,
            &format!("/api/now/attachment/file?table_name=incident&table_sys_id={record}&file_name=notes%20v1.txt"),
            &[("authorization", &admin()), ("content-type", "text/plain")],
            content.clone(),
        )
        .await;
    assert_eq!(up.status, 201, "{}", up.text());
    let meta = up.json()["result"].clone();
    let id = meta["sys_id"].as_str().expect("sys_id").to_owned();
    assert_eq!(
        up.header("location"),
        Some(format!("{}/api/now/attachment/{id}/file", instance.base_url()).as_str())
    );
    let hash: String = sha2::Sha256::digest(&content)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(meta["hash"], hash.as_str());
    assert_eq!(meta["size_bytes"], content.len().to_string().as_str());
    assert_eq!(meta["file_name"], "notes v1.txt");
    assert_eq!(meta["table_name"], "incident");
    assert_eq!(meta["table_sys_id"], record.as_str());
    assert_eq!(meta["content_type"], "text/plain");
    assert_eq!(
        meta["download_link"],
        format!("{}/api/now/attachment/{id}/file", instance.base_url()).as_str()
    );
    for (k, v) in meta.as_object().expect("object") {
        assert!(v.is_string(), "{k} is not a string: {v}");
    }

    let got = http
        .get(&format!("/api/now/attachment/{id}"), &admin())
        .await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json()["result"]["hash"], hash.as_str());

    let file = http
        .get(&format!("/api/now/attachment/{id}/file"), &admin())
        .await;
    assert_eq!(file.status, 200);
    assert_eq!(&file.body[..], &content[..]);
    assert_eq!(file.header("content-type"), Some("text/plain"));
    assert_eq!(
        file.header("content-disposition"),
        Some("attachment;filename=\"notes v1.txt\";filename*=UTF-8''notes%20v1.txt")
    );
    let header_meta: serde_json::Value = serde_json::from_str(
        file.header("x-attachment-metadata")
            .expect("metadata header"),
    )
    .expect("JSON");
    assert_eq!(header_meta["sys_id"], id.as_str());

    let list = http
        .get(
            &format!(
                "/api/now/attachment?sysparm_query=table_sys_id%3D{record}%5Etable_name%3Dincident"
            ),
            &admin(),
        )
        .await;
    assert_eq!(list.status, 200);
    assert_eq!(list.header("x-total-count"), Some("1"));
    assert_eq!(list.json()["result"][0]["sys_id"], id.as_str());

    let renamed = http
        .json(
            Method::PATCH,
            &format!("/api/now/attachment/{id}"),
            &admin(),
            &serde_json::json!({"file_name": "renamed.txt"}),
        )
        .await;
    assert_eq!(renamed.status, 204);
    let got = http
        .get(&format!("/api/now/attachment/{id}"), &admin())
        .await;
    assert_eq!(got.json()["result"]["file_name"], "renamed.txt");

    let r = http
        .send(
            Method::DELETE,
            &format!("/api/now/attachment/{id}"),
            &[("authorization", &basic("reader", "reader"))],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, 403);
    let r = http
        .send(
            Method::DELETE,
            &format!("/api/now/attachment/{id}"),
            &[("authorization", &admin())],
            Bytes::new(),
        )
        .await;
    assert_eq!(r.status, 204);
    assert_eq!(
        http.get(&format!("/api/now/attachment/{id}"), &admin())
            .await
            .status,
        404
    );
    assert_eq!(
        http.get(&format!("/api/now/attachment/{id}/file"), &admin())
            .await
            .status,
        404
    );
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn multipart_upload_accepts_both_field_names() {
    let (instance, http) = start(5).await;
    let record = some_incident(&http).await;
    for id_field in ["table_sys_id", "record_sys_id"] {
        let body = format!(
            "--XyZ\r\nContent-Disposition: form-data; name=\"table_name\"\r\n\r\nincident\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"{id_field}\"\r\n\r\n{record}\r\n\
             --XyZ\r\nContent-Disposition: form-data; name=\"uploadFile\"; filename=\"log.json\"\r\nContent-Type: application/json\r\n\r\n{{\"a\":1}}\r\n\
             --XyZ--\r\n"
        );
        let r = http
            .send(
                Method::POST,
                "/api/now/attachment/upload",
                &[
                    ("authorization", &admin()),
                    ("content-type", "multipart/form-data; boundary=XyZ"),
                ],
                body,
            )
            .await;
        assert_eq!(r.status, 201, "{id_field}: {}", r.text());
        let meta = r.json()["result"].clone();
        assert_eq!(meta["file_name"], "log.json");
        assert_eq!(meta["content_type"], "application/json");
        assert_eq!(meta["size_bytes"], "7");
        let file = http
            .get(
                &format!(
                    "/api/now/attachment/{}/file",
                    meta["sys_id"].as_str().expect("id")
                ),
                &admin(),
            )
            .await;
        assert_eq!(&file.body[..], b"{\"a\":1}");
    }
    let list = http
        .get(
            "/api/now/attachment?sysparm_query=file_name%3Dlog.json",
            &admin(),
        )
        .await;
    assert_eq!(list.header("x-total-count"), Some("2"));

    // Broken multipart (no boundary, as pysnow's multipart mode sends): 400, and nothing stored.
    let r = http
        .send(
            Method::POST,
            "/api/now/attachment/upload",
            &[
                ("authorization", &admin()),
                ("content-type", "multipart/form-data"),
            ],
            "raw bytes",
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["status"], "failure");
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn upload_errors() {
    let (instance, http) = start(5).await;
    let record = some_incident(&http).await;
    let r = http
        .send(
            Method::POST,
            &format!(
                "/api/now/attachment/file?table_name=incident&table_sys_id={record}&file_name=a.bin"
            ),
            &[("authorization", &admin())],
            "x",
        )
        .await;
    assert_eq!(r.status, 400, "Content-Type is mandatory");
    let r = http
        .send(
            Method::POST,
            "/api/now/attachment/file?table_name=incident&file_name=a.bin",
            &[
                ("authorization", &admin()),
                ("content-type", "application/octet-stream"),
            ],
            "x",
        )
        .await;
    assert_eq!(r.status, 400, "table_sys_id is mandatory");
    let r = http
        .send(
            Method::POST,
            "/api/now/attachment/file?table_name=incident&table_sys_id=00000000000000000000000000000000&file_name=a.bin",
            &[("authorization", &admin()), ("content-type", "application/octet-stream")],
            "x",
        )
        .await;
    assert_eq!(r.status, 404, "target record must exist");
    instance.shutdown().await.expect("shutdown");
}
