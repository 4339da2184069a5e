//! Table API against the dev instance over real HTTP: reads, writes, parameters, the calls
//! pysnow users make, and pysnow's parameter leak (rbw/pysnow#195) that must not happen here.

use crate::common::{client, log_for, param, params, start};
use serde::Deserialize;
use serde_json::json;
use snow_client::params::DisplayValue;
use snow_client::query::field;
use snow_client::{Error, Field, Record};

const T: &str = "/api/now/table/incident";

#[tokio::test]
async fn get_by_sys_id_and_typed_decoding() {
    let dev = start(50).await;
    let c = client(&dev, "admin");
    let inc = c.table("incident");
    let first: Record = inc.list().first().await.unwrap();
    let id = first.sys_id().unwrap().to_owned();

    let r = inc.get(&id).fields(["number", "sys_id"]).await.unwrap();
    assert_eq!(r.sys_id(), Some(id.as_str()));
    assert_eq!(r.len(), 2);
    let last = log_for(&dev, T).pop().unwrap();
    assert_eq!(last.path, format!("{T}/{id}"));
    assert_eq!(
        param(&last, "sysparm_fields").as_deref(),
        Some("number,sys_id")
    );

    #[derive(Deserialize)]
    struct Inc {
        number: Field,
        priority: Field,
    }
    let typed: Inc = inc
        .get(&id)
        .display_value(DisplayValue::All)
        .fetch()
        .await
        .unwrap();
    assert!(typed.number.value().is_some_and(|n| n.starts_with("INC")));
    assert!(typed.priority.value().is_some() && typed.priority.display_value().is_some());

    // A missing record is a typed 404 (acceptance 22) and `None` with fetch_optional.
    let missing = "0123456789abcdef0123456789abcdef";
    let err = inc.get(missing).await.unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND));
    assert!(err.to_string().contains("No Record found"), "{err}");
    assert!(
        inc.get(missing)
            .fetch_optional::<Record>()
            .await
            .unwrap()
            .is_none()
    );

    // A decode error names the JSON path.
    #[derive(Debug, Deserialize)]
    struct Wrong {
        #[serde(rename = "number")]
        _number: u32,
    }
    let err = inc.get(&id).fetch::<Wrong>().await.unwrap_err();
    match err {
        Error::Decode { path, .. } => assert_eq!(path, "result.number"),
        other => panic!("{other:?}"),
    }
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn list_sends_every_parameter_lowercase() {
    let dev = start(30).await;
    let c = client(&dev, "admin");
    let _: Vec<Record> = c
        .table("incident")
        .list()
        .query(field("active").eq(true))
        .fields(["number", "caller_id.email"])
        .limit(2)
        .offset(5)
        .display_value(DisplayValue::All)
        .exclude_reference_link(true)
        .view("desktop")
        .query_category("list")
        .query_no_domain(false)
        .all()
        .await
        .unwrap();
    let r = log_for(&dev, T).pop().unwrap();
    let p = |n| param(&r, n);
    assert_eq!(
        p("sysparm_query").as_deref(),
        Some("active=true^ORDERBYsys_id")
    );
    // sys_id is asked for too: the stream checks the order of the records it yields.
    assert_eq!(
        p("sysparm_fields").as_deref(),
        Some("number,caller_id.email,sys_id")
    );
    assert_eq!(p("sysparm_limit").as_deref(), Some("2"));
    assert_eq!(p("sysparm_offset").as_deref(), Some("5"));
    assert_eq!(p("sysparm_display_value").as_deref(), Some("all"));
    assert_eq!(p("sysparm_exclude_reference_link").as_deref(), Some("true"));
    assert_eq!(p("sysparm_view").as_deref(), Some("desktop"));
    assert_eq!(p("sysparm_query_category").as_deref(), Some("list"));
    assert_eq!(p("sysparm_query_no_domain").as_deref(), Some("false"));
    for (_, v) in params(&r) {
        assert!(!v.contains("True") && !v.contains("False"));
    }

    // Case 4: a query on sys_id.
    let one: Record = c.table("incident").list().first().await.unwrap();
    let id = one.sys_id().unwrap();
    let got: Record = c
        .table("incident")
        .query(field("sys_id").eq(id))
        .one()
        .await
        .unwrap();
    assert_eq!(got.sys_id(), Some(id));
    let r = log_for(&dev, T).pop().unwrap();
    assert_eq!(
        param(&r, "sysparm_query").unwrap(),
        format!("sys_id={id}^ORDERBYsys_id")
    );
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_first_all_with_pysnow_meanings_cases_6_to_9() {
    let dev = start(30).await;
    let c = client(&dev, "admin");
    let inc = c.table("incident");
    let none = || inc.query(field("number").eq("NOPE"));
    let many = || inc.list();
    let number: Record = inc.list().first().await.unwrap();
    let n = number.str("number").unwrap().to_owned();
    let single = || inc.query(field("number").eq(n.as_str()));

    assert_eq!(
        single().one::<Record>().await.unwrap().str("number"),
        Some(n.as_str())
    );
    assert!(matches!(
        many().one::<Record>().await,
        Err(Error::MultipleResults)
    ));
    assert!(matches!(
        many().one_or_none::<Record>().await,
        Err(Error::MultipleResults)
    ));
    assert!(many().first::<Record>().await.is_ok());
    assert!(many().first_or_none::<Record>().await.unwrap().is_some());
    assert!(matches!(
        none().one::<Record>().await,
        Err(Error::NoResults)
    ));
    assert!(none().one_or_none::<Record>().await.unwrap().is_none());
    assert!(none().all::<Record>().await.unwrap().is_empty());
    assert!(matches!(
        none().first::<Record>().await,
        Err(Error::NoResults)
    ));
    assert!(none().first_or_none::<Record>().await.unwrap().is_none());

    // The same accessors on a buffered page (pysnow's first() refused that).
    let page = many().limit(3).page::<Record>().await.unwrap();
    assert_eq!(page.len(), 3);
    assert_eq!(page.total_count(), Some(30));
    assert!(page.next_link().is_some());
    assert!(page.clone().first().is_ok());
    assert!(matches!(page.one(), Err(Error::MultipleResults)));
    let empty = none().page::<Record>().await.unwrap();
    assert!(matches!(empty.clone().one(), Err(Error::NoResults)));
    assert!(empty.first_or_none().is_none());

    // Case 9: an object result (GET by id) reads as one record through the generic resource.
    let id = number.sys_id().unwrap();
    let resp = c
        .resource("/api/now/table/incident")
        .get()
        .path(id)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.records().unwrap().len(), 1);
    assert_eq!(resp.one::<Record>().unwrap().sys_id(), Some(id));
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn create_update_put_delete_cases_14_to_16() {
    let dev = start(10).await;
    let c = client(&dev, "admin");
    let inc = c.table("incident");

    let created = inc
        .create(&json!({"short_description": "snow create test", "urgency": "2"}))
        .await
        .unwrap();
    let id = created.sys_id().unwrap().to_owned();
    assert_eq!(created.str("short_description"), Some("snow create test"));
    let post = log_for(&dev, T).pop().unwrap();
    assert_eq!((post.method.as_str(), post.status), ("POST", 201));
    assert!(
        post.query.is_empty(),
        "a create carries no list parameters: {}",
        post.query
    );

    let updated = inc.update(&id, &json!({"urgency": "1"})).await.unwrap();
    assert_eq!(updated.str("urgency"), Some("1"));
    let r = log_for(&dev, T).pop().unwrap();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("PATCH", &*format!("{T}/{id}"))
    );

    let put = inc
        .update(&id, &json!({"urgency": "3"}))
        .put()
        .await
        .unwrap();
    assert_eq!(put.str("urgency"), Some("3"));
    assert_eq!(log_for(&dev, T).pop().unwrap().method, "PUT");

    // X-no-response-body: 204, nothing to decode.
    inc.update(&id, &json!({"urgency": "2"}))
        .send_without_body()
        .await
        .unwrap();
    let r = log_for(&dev, T).pop().unwrap();
    assert_eq!(r.status, 204);
    assert!(
        r.headers
            .iter()
            .any(|(k, v)| k == "x-no-response-body" && v == "true")
    );

    // Input display value is passed through.
    inc.update(&id, &json!({"urgency": "1"}))
        .input_display_value(true)
        .fields(["urgency"])
        .await
        .unwrap();
    let r = log_for(&dev, T).pop().unwrap();
    assert_eq!(
        param(&r, "sysparm_input_display_value").as_deref(),
        Some("true")
    );

    inc.delete(&id).await.unwrap();
    let r = log_for(&dev, T).pop().unwrap();
    assert_eq!((r.method.as_str(), r.status), ("DELETE", 204));
    let err = inc.delete(&id).await.unwrap_err();
    assert_eq!(err.status(), Some(http::StatusCode::NOT_FOUND));

    // A payload that is not an object is refused before any request.
    dev.admin().clear_request_log();
    let err = inc.create(&json!(["a"])).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }), "{err}");
    let err = inc
        .update_where(field("number").eq("x"), &json!(3))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
    assert!(dev.admin().request_log().is_empty());
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn update_and_delete_by_query() {
    let dev = start(10).await;
    let c = client(&dev, "admin");
    let inc = c.table("incident");
    let created = inc
        .create(&json!({"short_description": "by query ^ with a caret"}))
        .await
        .unwrap();
    let q = || field("short_description").eq("by query ^ with a caret");
    let updated = inc
        .update_where(q(), &json!({"impact": "1"}))
        .await
        .unwrap();
    assert_eq!(updated.sys_id(), created.sys_id());
    assert_eq!(updated.str("impact"), Some("1"));
    let log = log_for(&dev, T);
    let (lookup, write) = (&log[log.len() - 2], &log[log.len() - 1]);
    assert_eq!(lookup.method, "GET");
    assert_eq!(write.method, "PATCH");
    assert!(
        write.query.is_empty(),
        "no lookup parameter leaks into the write"
    );

    inc.delete_where(q()).await.unwrap();
    assert!(matches!(inc.delete_where(q()).await, Err(Error::NoResults)));
    // Several matches: nothing is written.
    let before = log_for(&dev, T).len();
    assert!(matches!(
        inc.update_where(
            field("active").eq(true) | field("active").eq(false),
            &json!({"impact": "1"})
        )
        .await,
        Err(Error::MultipleResults)
    ));
    assert!(log_for(&dev, T)[before..].iter().all(|r| r.method == "GET"));
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn nothing_leaks_between_calls_pysnow_195() {
    let dev = start(10).await;
    let c = client(&dev, "admin");
    let inc = c.table("incident");
    let _: Vec<Record> = inc
        .list()
        .query(field("number").eq("INC0000001"))
        .fields(["number"])
        .limit(1)
        .display_value(DisplayValue::True)
        .all()
        .await
        .unwrap();
    let created = inc
        .create(&json!({"short_description": "leak"}))
        .await
        .unwrap();
    let _: Vec<Record> = inc.list().limit(1).all().await.unwrap();
    let log = log_for(&dev, T);
    let post = &log[log.len() - 2];
    assert_eq!(post.method, "POST");
    assert!(post.query.is_empty());
    let list = &log[log.len() - 1];
    assert_eq!(
        param(list, "sysparm_query").as_deref(),
        Some("ORDERBYsys_id")
    );
    assert!(param(list, "sysparm_fields").is_none());
    assert!(param(list, "sysparm_display_value").is_none());
    let _ = created;
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn hostile_table_names_stay_in_their_segment() {
    let dev = start(5).await;
    let c = client(&dev, "admin");
    let err = c
        .table("incident/../sys_user")
        .list()
        .first::<Record>()
        .await
        .unwrap_err();
    // One encoded segment: the instance sees an unknown table, not sys_user.
    assert_eq!(err.status(), Some(http::StatusCode::BAD_REQUEST), "{err}");
    let r = log_for(&dev, "/api/now/table/").pop().unwrap();
    assert!(
        r.path.starts_with("/api/now/table/incident%2F"),
        "{}",
        r.path
    );
    assert!(matches!(
        c.table("..").list().first::<Record>().await,
        Err(Error::InvalidInput { .. })
    ));
    // Invalid table: 400 with ServiceNow's message (acceptance 23).
    let err = c
        .table("no_such_table")
        .list()
        .first::<Record>()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Invalid table"), "{err}");
    dev.shutdown().await.unwrap();
}
