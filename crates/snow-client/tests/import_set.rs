//! The Import Set API against the dev instance: typed transform results, rejected rows,
//! many rows split under the request limits, roles.

mod common;

use common::{client, log_for, start};
use serde_json::json;
use snow_client::import_set::ImportStatus;
use snow_client::{Error, Record};

#[tokio::test]
async fn one_row_inserted_updated_ignored_and_rejected() {
    let dev = start(10).await;
    let c = client(&dev, "admin");
    let users = c.import_set("imp_user");
    let loaded = users
        .insert(&json!({"user_name": "j.public", "first_name": "John", "last_name": "Public"}))
        .await
        .unwrap();
    assert!(loaded.import_set.starts_with("ISET"), "{loaded:?}");
    assert_eq!(loaded.staging_table, "imp_user");
    let r = loaded.result().unwrap();
    assert_eq!(r.status, ImportStatus::Inserted);
    assert_eq!(
        (r.transform_map.as_str(), r.table.as_str()),
        ("User", "sys_user")
    );
    assert_eq!(r.display_value, "John Public");
    assert!(
        r.record_link
            .ends_with(&format!("/table/sys_user/{}", r.sys_id))
    );
    // The typed result is what the instance wrote.
    let user: Record = c.table("sys_user").get(&r.sys_id).await.unwrap();
    assert_eq!(user.str("user_name"), Some("j.public"));

    let again = users
        .insert(&json!({"user_name": "j.public", "title": "CTO"}))
        .await
        .unwrap();
    let again = again.result().unwrap();
    assert_eq!(again.status, ImportStatus::Updated);
    assert_eq!(again.sys_id, r.sys_id);
    let same = users
        .insert(&json!({"user_name": "j.public", "title": "CTO"}))
        .await
        .unwrap();
    assert_eq!(same.result().unwrap().status, ImportStatus::Ignored);
    assert!(same.result().unwrap().status_message.is_some());

    // A row the transform rejects is an outcome, not an error; nothing reaches the target.
    let bad = users
        .insert(&json!({"user_name": "x.y", "active": "perhaps"}))
        .await
        .unwrap();
    let bad = bad.result().unwrap();
    assert_eq!(bad.status, ImportStatus::Error);
    assert!(
        bad.error_message.as_deref().unwrap().contains("active"),
        "{bad:?}"
    );
    assert!(bad.sys_id.is_empty());
    let none: Option<Record> = c
        .table("sys_user")
        .list()
        .query(snow_client::query::field("user_name").eq("x.y"))
        .one_or_none()
        .await
        .unwrap();
    assert!(none.is_none());
}

#[tokio::test]
async fn many_rows_are_split_and_reported_in_order() {
    let dev = start(10).await;
    let c = client(&dev, "admin");
    let rows: Vec<_> = (0..23)
        .map(|i| {
            if i == 7 {
                json!({"name": format!("srv-imp-{i:02}"), "cpu_count": "lots"})
            } else {
                json!({"name": format!("srv-imp-{i:02}"), "cpu_count": (i % 8).to_string(), "os": "Linux"})
            }
        })
        .collect();
    let one = rows[0].to_string().len();
    let results = c
        .import_set("imp_computer")
        .insert_multiple(rows.clone())
        .max_rows(10)
        .max_request_bytes(3000.max(one * 6))
        .await
        .unwrap();
    assert_eq!(results.len(), 23);
    let posts = log_for(&dev, "/api/now/import/imp_computer/insertMultiple");
    assert!(posts.len() >= 3, "{}", posts.len());
    assert!(posts.iter().all(|p| p.status == 200));
    for (i, r) in results.iter().enumerate() {
        assert_eq!(r.index, i);
        if i == 7 {
            assert_eq!(r.result.status, ImportStatus::Error);
            assert!(
                r.result
                    .error_message
                    .as_deref()
                    .unwrap()
                    .contains("cpu_count")
            );
            continue;
        }
        assert_eq!(r.result.status, ImportStatus::Inserted, "{i}: {r:?}");
        assert_eq!(r.result.table, "cmdb_ci_server");
        let ci: Record = c
            .table("cmdb_ci_server")
            .get(&r.result.sys_id)
            .await
            .unwrap();
        assert_eq!(ci.str("name"), Some(format!("srv-imp-{i:02}").as_str()));
    }
    // The row results are what the staging rows say.
    let row = &results[7];
    let again = c
        .import_set("imp_computer")
        .get(&row.staging_sys_id)
        .await
        .unwrap();
    assert_eq!(again.result().unwrap().status, ImportStatus::Error);
    let listed = c
        .import_set("imp_computer")
        .rows(&row.import_set_id)
        .await
        .unwrap();
    assert!(
        listed
            .iter()
            .any(|r| r.staging_sys_id == row.staging_sys_id)
    );

    // The same rows again coalesce on name: updated or ignored, never inserted twice.
    let second = c
        .import_set("imp_computer")
        .insert_multiple(rows)
        .await
        .unwrap();
    assert_eq!(
        log_for(&dev, "/api/now/import/imp_computer/insertMultiple").len(),
        posts.len() + 1
    );
    assert!(
        second
            .iter()
            .enumerate()
            .all(|(i, r)| i == 7 || r.result.status == ImportStatus::Ignored)
    );
}

#[tokio::test]
async fn rights_and_bad_tables_are_typed_errors() {
    let dev = start(10).await;
    for user in ["itil", "reader"] {
        let e = client(&dev, user)
            .import_set("imp_user")
            .insert(&json!({"user_name": "n"}))
            .await
            .unwrap_err();
        assert_eq!(e.status().map(|s| s.as_u16()), Some(403), "{user}: {e}");
        let e = client(&dev, user)
            .import_set("imp_user")
            .insert_multiple([json!({"user_name": "n"})])
            .await
            .unwrap_err();
        assert_eq!(e.status().map(|s| s.as_u16()), Some(403), "{user}: {e}");
    }
    let c = client(&dev, "admin");
    let e = c
        .import_set("incident")
        .insert(&json!({"a": "b"}))
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400), "{e}");
    let e = c
        .import_set("imp_user")
        .get("00000000000000000000000000000000")
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(404), "{e}");
    let e = c
        .import_set("imp_user")
        .insert_multiple([json!({"user_name": "x".repeat(100)})])
        .max_request_bytes(50)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
}
