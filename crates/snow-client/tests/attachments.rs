//! Attachment API against the dev instance, as pysnow users use it: list, upload
//! (raw, content type guessed or given), streamed download, delete.

mod common;

use common::{client, log_for, param, start};
use futures_util::TryStreamExt;
use snow_client::{Attachment, Error, Record};

#[tokio::test]
async fn upload_list_download_delete() {
    let dev = start(5).await;
    let c = client(&dev, "admin");
    let rec: Record = c.table("incident").list().first().await.unwrap();
    let id = rec.sys_id().unwrap().to_owned();
    let att = c.attachments();

    // Case 19: raw upload with the guessed MIME type.
    let meta = att
        .upload("incident", &id, "notes.txt", b"hello attachment".to_vec())
        .await
        .unwrap();
    assert_eq!(meta.file_name, "notes.txt");
    assert_eq!(meta.table_sys_id, id);
    assert_eq!(meta.size(), Some(16));
    let r = log_for(&dev, "/api/now/attachment/file").pop().unwrap();
    assert_eq!(r.status, 201);
    assert_eq!(param(&r, "table_name").as_deref(), Some("incident"));
    assert_eq!(param(&r, "table_sys_id").as_deref(), Some(id.as_str()));
    assert_eq!(param(&r, "file_name").as_deref(), Some("notes.txt"));
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "content-type" && v == "text/plain")
    );

    // A given content type wins; a file from disk is streamed.
    let path = std::env::temp_dir().join(format!("snow-att-{}.bin", std::process::id()));
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    tokio::fs::write(&path, &big).await.unwrap();
    let from_file = att
        .upload_file("incident", &id, &path)
        .file_name("data.bin")
        .content_type("application/x-test")
        .await
        .unwrap();
    let _ = tokio::fs::remove_file(&path).await;
    assert_eq!(from_file.content_type, "application/x-test");
    assert_eq!(from_file.size(), Some(200_000));

    // Case 18: list for the record.
    let listed: Vec<Attachment> = att.for_record("incident", &id).all().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|a| a.file_name.as_str()).collect();
    assert_eq!(listed.len(), 2, "{names:?}");
    let r = log_for(&dev, "/api/now/attachment").pop().unwrap();
    assert!(
        param(&r, "sysparm_query")
            .unwrap()
            .starts_with(&format!("table_sys_id={id}^table_name=incident"))
    );
    let for_table: Vec<Attachment> = att.for_table("incident").all().await.unwrap();
    assert!(for_table.len() >= 2);

    // Streamed download.
    let dl = att.download(&from_file.sys_id).await.unwrap();
    assert_eq!(dl.content_type(), Some("application/x-test"));
    let chunks: Vec<bytes::Bytes> = dl.try_collect().await.unwrap();
    let joined: Vec<u8> = chunks.concat();
    assert_eq!(joined, big);
    let mut sink = Vec::new();
    let n = att
        .download(&meta.sys_id)
        .await
        .unwrap()
        .write_to(&mut sink)
        .await
        .unwrap();
    assert_eq!((n, &sink[..]), (16, &b"hello attachment"[..]));
    assert_eq!(att.get(&meta.sys_id).await.unwrap().file_name, "notes.txt");

    // Case 20: delete, then it is gone.
    att.delete(&meta.sys_id).await.unwrap();
    let err = att.delete(&meta.sys_id).await.unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND));
    let err = att.download(&meta.sys_id).await.unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND), "{err:?}");
    assert_eq!(
        att.for_record("incident", &id)
            .all::<Attachment>()
            .await
            .unwrap()
            .len(),
        1
    );
    // Deleting the record takes its remaining attachment with it (as on a real instance).
    let left = att
        .for_record("incident", &id)
        .all::<Attachment>()
        .await
        .unwrap()
        .remove(0);
    c.table("incident").delete(&id).await.unwrap();
    let err = att.get(&left.sys_id).await.unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND), "{err:?}");
    let err = att.download(&left.sys_id).await.unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND), "{err:?}");
    let id = c
        .table("incident")
        .create(&serde_json::json!({"short_description": "for bad input"}))
        .await
        .unwrap()
        .sys_id()
        .unwrap()
        .to_owned();

    // Bad input is refused before sending.
    let err = att
        .upload("incident", &id, "", b"x".to_vec())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
    dev.shutdown().await.unwrap();
}
