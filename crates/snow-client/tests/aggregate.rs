//! The Aggregate API against the dev instance: typed results equal what the instance computed
//! and what streaming the same records gives.

mod common;

use std::collections::BTreeMap;

use common::{client, log_for, param, start};
use snow_client::aggregate::{Having, StatsOrder};
use snow_client::query::{Query, field};
use snow_client::{Error, Record};

#[tokio::test]
async fn count_equals_the_records_streamed_for_the_same_query() {
    let dev = start(400).await;
    let c = client(&dev, "itil");
    let q = || field("active").eq(true) & field("priority").le(3);
    let count = c.aggregate("incident").count(q()).await.unwrap();
    let streamed: Vec<Record> = c
        .table("incident")
        .list()
        .query(q())
        .fields(["sys_id"])
        .page_size(50)
        .all()
        .await
        .unwrap();
    assert!(count > 50, "{count}");
    assert_eq!(count, streamed.len() as u64);
    assert_eq!(
        c.aggregate("incident").count(Query::new()).await.unwrap(),
        400
    );
    let r = log_for(&dev, "/api/now/stats/incident").pop().unwrap();
    assert_eq!(param(&r, "sysparm_count").as_deref(), Some("true"));
    assert!(
        param(&r, "sysparm_query").is_none(),
        "an empty query is not sent"
    );
}

#[tokio::test]
async fn typed_statistics_equal_the_instance_and_the_records() {
    let dev = start(300).await;
    let c = client(&dev, "reader");
    let q = || field("state").ne(8);
    let stats = c
        .aggregate("incident")
        .stats()
        .query(q())
        .count()
        .avg(["reassignment_count"])
        .sum(["reassignment_count"])
        .min(["opened_at"])
        .max(["opened_at", "priority"])
        .await
        .unwrap();
    // What the instance computed, read without the typed layer.
    let raw: serde_json::Value = c
        .resource("/api/now/stats/incident")
        .get()
        .query("sysparm_query", "state!=8")
        .query("sysparm_count", "true")
        .query("sysparm_avg_fields", "reassignment_count")
        .query("sysparm_sum_fields", "reassignment_count")
        .query("sysparm_min_fields", "opened_at")
        .query("sysparm_max_fields", "opened_at,priority")
        .send()
        .await
        .unwrap()
        .result()
        .unwrap();
    let s = &raw["stats"];
    assert_eq!(
        stats.count.unwrap().to_string(),
        s["count"].as_str().unwrap()
    );
    let avg: f64 = s["avg"]["reassignment_count"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(stats.avg("reassignment_count"), Some(avg));
    assert_eq!(
        stats.min("opened_at").unwrap().as_str(),
        s["min"]["opened_at"]
    );
    assert_eq!(stats.max("priority").unwrap().as_i64(), Some(5));

    // And what the records themselves give.
    let rows: Vec<Record> = c
        .table("incident")
        .list()
        .query(q())
        .fields(["reassignment_count", "opened_at"])
        .all()
        .await
        .unwrap();
    assert_eq!(stats.count, Some(rows.len() as u64));
    let total: i64 = rows
        .iter()
        .map(|r| r.i64("reassignment_count").unwrap().unwrap_or(0))
        .sum();
    assert_eq!(stats.sum("reassignment_count"), Some(total as f64));
    let mean = total as f64 / rows.len() as f64;
    assert!((stats.avg("reassignment_count").unwrap() - mean).abs() < 0.0001);
    let earliest = rows
        .iter()
        .filter_map(|r| r.str("opened_at"))
        .min()
        .unwrap();
    assert_eq!(stats.min("opened_at").unwrap().as_str(), earliest);
}

#[tokio::test]
async fn groups_with_having_order_and_display_values() {
    let dev = start(300).await;
    let c = client(&dev, "admin");
    let groups = c
        .aggregate("incident")
        .stats()
        .count()
        .group_by(["priority", "category"])
        .avg(["reassignment_count"])
        .having(Having::count("priority").ge(4))
        .order_by(StatsOrder::count().desc())
        .display_value(true)
        .await
        .unwrap();
    assert!(groups.len() > 3);
    let counts: Vec<u64> = groups.iter().map(|g| g.stats.count.unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
    assert!(counts.iter().all(|&n| n >= 4));
    // Every group's count is the number of its records.
    let rows: Vec<Record> = c
        .table("incident")
        .list()
        .fields(["priority", "category"])
        .all()
        .await
        .unwrap();
    let mut by_group: BTreeMap<(String, String), u64> = BTreeMap::new();
    for r in &rows {
        let key = (
            r.str("priority").unwrap().to_owned(),
            r.str("category").unwrap().to_owned(),
        );
        *by_group.entry(key).or_default() += 1;
    }
    for g in &groups {
        let key = (
            g.value("priority").unwrap().to_owned(),
            g.value("category").unwrap().to_owned(),
        );
        assert_eq!(g.stats.count, by_group.get(&key).copied(), "{key:?}");
        assert!(g.display_value("priority").unwrap().contains(" - "));
        assert!(g.stats.avg("reassignment_count").is_some());
    }
    // Without having, the groups add up to the table.
    let all = c
        .aggregate("incident")
        .stats()
        .count()
        .group_by(["active"])
        .await
        .unwrap();
    assert_eq!(all.iter().map(|g| g.stats.count.unwrap()).sum::<u64>(), 300);
}

#[tokio::test]
async fn unknown_fields_and_tables_are_typed_errors() {
    let dev = start(20).await;
    let c = client(&dev, "admin");
    let e = c
        .aggregate("incident")
        .stats()
        .avg(["no_such_field"])
        .await
        .unwrap_err();
    match &e {
        Error::Api {
            status,
            message,
            detail,
            ..
        } => {
            assert_eq!(status.as_u16(), 400);
            assert_eq!(message, "Invalid aggregate field");
            assert!(detail.as_deref().unwrap().contains("no_such_field"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    let e = c
        .aggregate("no_table")
        .count(field("a").eq(1))
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400), "{e}");
    let e = c
        .aggregate("incident")
        .stats()
        .count()
        .group_by(["priority"])
        .order_by(StatsOrder::field("category"))
        .await
        .unwrap_err();
    assert_eq!(e.status().map(|s| s.as_u16()), Some(400), "{e}");
    // Refused before sending.
    let before = dev
        .admin()
        .counters()
        .requests_to("/api/now/stats/incident");
    let e = c
        .aggregate("incident")
        .stats()
        .sum(["bad name"])
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidQuery(_)), "{e}");
    assert_eq!(
        dev.admin()
            .counters()
            .requests_to("/api/now/stats/incident"),
        before
    );
}
