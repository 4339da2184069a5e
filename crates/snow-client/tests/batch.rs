//! The Batch API against the dev instance: typed per-request answers and errors, unserviced
//! requests resubmitted, batches split under the limits, bulk update and delete by query.

mod common;

use common::{client, log_for, start};
use serde_json::json;
use snow_client::batch::BatchItem;
use snow_client::query::field;
use snow_client::{Client, Error, Record};
use snow_devinstance::{DevConfig, DevInstance};

async fn start_limited(records: usize, batch_max_requests: usize) -> DevInstance {
    DevInstance::start(DevConfig {
        records,
        batch_max_requests,
        ..DevConfig::default()
    })
    .await
    .unwrap()
}

async fn some_ids(c: &Client, n: u64) -> Vec<String> {
    let rows: Vec<Record> = c
        .table("incident")
        .list()
        .fields(["sys_id"])
        .limit(n)
        .all()
        .await
        .unwrap();
    rows.iter()
        .map(|r| r.sys_id().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn one_fails_one_is_unserviced_and_resubmitted() {
    let dev = start_limited(20, 2).await;
    let c = client(&dev, "itil");
    let ids = some_ids(&c, 1).await;
    let mut batch = c.batch();
    let read = batch.push(BatchItem::get("/api/now/table/incident").path(&ids[0]));
    // itil may not delete: this one fails on its own.
    let fail = batch.push(BatchItem::delete("/api/now/table/incident").path(&ids[0]));
    // Past the instance's two requests per batch: unserviced, then sent again.
    let create = batch.push(
        BatchItem::post("/api/now/table/incident")
            .query("sysparm_fields", "sys_id,short_description")
            .json(&json!({"short_description": "third in line"})),
    );
    let mut answers = batch.send().await.unwrap();
    assert_eq!(answers.submissions(), 2);
    assert!(answers.stopped_by().is_none());
    assert!(!answers.all_succeeded());
    let record: Record = answers.take(&read).unwrap().one().unwrap();
    assert_eq!(record.sys_id(), Some(ids[0].as_str()));
    let e = answers.take(&fail).unwrap().check().unwrap_err();
    match &e {
        Error::Api { status, detail, .. } => {
            assert_eq!(status.as_u16(), 403);
            assert!(
                detail.as_deref().unwrap().contains("ACL Exception Delete"),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    let created = answers.take(&create).unwrap();
    let response = created.response.as_ref().unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert!(response.headers().contains_key("location"));
    let created: Record = created.one().unwrap();
    assert_eq!(created.str("short_description"), Some("third in line"));
    let batches = log_for(&dev, "/api/now/v1/batch");
    assert_eq!(batches.len(), 2);
    // The instance ran the create once.
    assert_eq!(
        dev.admin()
            .counters()
            .requests_with("/api/now/table/incident", 201),
        1
    );
}

#[tokio::test]
async fn never_serviced_requests_are_typed_errors_after_the_limit() {
    let dev = start_limited(5, 1).await;
    let c = client(&dev, "admin");
    let answers = c
        .batch()
        .max_resubmits(1)
        .with(BatchItem::get("/api/now/table/incident").query("sysparm_limit", "1"))
        .with(BatchItem::get("/api/now/table/sys_user").query("sysparm_limit", "1"))
        .with(BatchItem::get("/api/now/table/problem").query("sysparm_limit", "1"))
        .await
        .unwrap();
    // The instance runs one request per batch: [1,2,3] runs 1; the resubmitted [2,3] runs 2;
    // 3 was left unserviced twice, past the one resubmission allowed.
    let outcomes: Vec<_> = answers.iter().map(|o| o.response.is_ok()).collect();
    assert_eq!(outcomes, [true, true, false]);
    match &answers.get("3").unwrap().response {
        Err(e @ Error::BatchUnserviced { attempts, .. }) => {
            assert_eq!(*attempts, 2);
            assert!(e.is_retryable());
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(answers.submissions(), 2);
}

#[tokio::test]
async fn large_batches_are_split_under_the_limits() {
    let dev = start(30).await;
    let c = client(&dev, "admin");
    let ids = some_ids(&c, 7).await;
    let mut batch = c
        .batch()
        .max_requests_per_batch(3)
        .exclude_response_headers(true);
    let pushed: Vec<String> = ids
        .iter()
        .map(|id| batch.push(BatchItem::get("/api/now/table/incident").path(id)))
        .collect();
    let answers = batch.send().await.unwrap();
    assert_eq!(answers.submissions(), 3);
    for (id, sys_id) in pushed.iter().zip(&ids) {
        let o = answers.get(id).unwrap();
        let r = o.response.as_ref().unwrap();
        assert!(r.headers().is_empty());
        assert_eq!(r.one::<Record>().unwrap().sys_id(), Some(sys_id.as_str()));
    }
    // By size: each request takes ~2.9 KB in the batch (its body in base64), so one fits in
    // 4 KB and two do not.
    let big = "x".repeat(2000);
    let mut batch = c.batch().max_batch_bytes(4_000);
    for _ in 0..4 {
        batch.push(
            BatchItem::post("/api/now/table/incident").json(&json!({"short_description": big})),
        );
    }
    let answers = batch.send().await.unwrap();
    assert!(answers.all_succeeded());
    assert_eq!(answers.submissions(), 4);
    // A request too large for any batch is refused before anything is sent.
    let before = log_for(&dev, "/api/now/v1/batch").len();
    let e = c
        .batch()
        .max_item_bytes(100)
        .with(BatchItem::post("/api/now/table/incident").json(&json!({"short_description": big})))
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    let e = c
        .batch()
        .with(BatchItem::get("/table/incident"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("batch request 1"), "{e}");
    assert_eq!(log_for(&dev, "/api/now/v1/batch").len(), before);
    let mut dup = c.batch();
    dup.push_with_id("a", BatchItem::get("/api/now/table/incident"))
        .unwrap();
    assert!(
        dup.push_with_id("a", BatchItem::get("/api/now/table/incident"))
            .is_err()
    );
}

#[tokio::test]
async fn bulk_update_and_delete_by_query_report_each_record() {
    let dev = start(60).await;
    let admin = client(&dev, "admin");
    let q = || field("active").eq(true) & field("priority").le(3);
    let matching = admin.aggregate("incident").count(q()).await.unwrap();
    assert!(matching > 5, "{matching}");
    let outcome = admin
        .batch()
        .max_requests_per_batch(4)
        .update_where(
            "incident",
            q(),
            &json!({"short_description": "bulk touched"}),
        )
        .await
        .unwrap();
    assert!(outcome.is_complete(), "{:?}", outcome.failed().next());
    assert_eq!(outcome.records.len() as u64, matching);
    let touched = admin
        .aggregate("incident")
        .count(field("short_description").eq("bulk touched"))
        .await
        .unwrap();
    assert_eq!(touched, matching);
    let ids: Vec<&str> = outcome.succeeded().collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "records come in sys_id order");

    // itil may update incidents but not delete them: every record fails on its own.
    let itil = client(&dev, "itil");
    let denied = itil
        .batch()
        .delete_where("incident", field("short_description").eq("bulk touched"))
        .await
        .unwrap();
    assert_eq!(denied.records.len() as u64, matching);
    assert!(
        denied
            .failed()
            .all(|(_, e)| e.status().map(|s| s.as_u16()) == Some(403))
    );

    let deleted = admin
        .batch()
        .max_requests_per_batch(5)
        .delete_where("incident", field("short_description").eq("bulk touched"))
        .await
        .unwrap();
    assert!(deleted.is_complete());
    assert_eq!(deleted.records.len() as u64, matching);
    assert_eq!(
        admin
            .aggregate("incident")
            .count(field("short_description").eq("bulk touched"))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        admin
            .aggregate("incident")
            .count(snow_client::query::Query::new())
            .await
            .unwrap(),
        60 - matching
    );

    let e = admin
        .batch()
        .delete_where("incident", snow_client::query::Query::new())
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
}
