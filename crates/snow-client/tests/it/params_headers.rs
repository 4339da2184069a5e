//! Extra query parameters and headers against the dev instance: a client's defaults (pysnow's
//! `request_params`) and each request's `.param()` / `.header()`, on get, list (every page),
//! create, update and delete; the `sysparm_*` names the typed setters own are refused before
//! anything is sent.

use crate::common::{log_for, param, params, start};
use serde_json::json;
use snow_client::list::Paging;
use snow_client::{Client, Error, Record};
use snow_devinstance::{DevInstance, LoggedRequest};

const T: &str = "/api/now/table/incident";

fn header<'a>(r: &'a LoggedRequest, name: &str) -> Vec<&'a str> {
    r.headers
        .iter()
        .filter(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect()
}

fn with_defaults(dev: &DevInstance) -> Client {
    Client::builder(dev.base_url())
        .basic("admin", "admin")
        .default_param("x_source", "nightly")
        .default_param("x_shared", "default")
        .default_header("x-requested-by", "snow-tests")
        .default_header("x-shared", "default")
        .build()
        .expect("client")
}

#[tokio::test]
async fn client_defaults_go_with_every_request_and_requests_win() {
    let dev = start(30).await;
    let c = with_defaults(&dev);
    let inc = c.table("incident");

    let first: Record = inc.list().first().await.unwrap();
    let id = first.sys_id().unwrap().to_owned();
    let _: Record = inc
        .get(&id)
        .param("x_shared", "mine")
        .header("x-shared", "mine")
        .await
        .unwrap();
    let created = inc
        .create(&json!({"short_description": "defaults"}))
        .await
        .unwrap();
    let new_id = created.sys_id().unwrap().to_owned();
    inc.update(&new_id, &json!({"urgency": "1"})).await.unwrap();
    inc.delete(&new_id).await.unwrap();
    let _ = c
        .resource("/api/now/stats/incident")
        .get()
        .query("sysparm_count", "true")
        .send()
        .await
        .unwrap();

    let log = dev.admin().request_log();
    assert_eq!(log.len(), 6, "{log:#?}");
    for r in &log {
        assert_eq!(param(r, "x_source").as_deref(), Some("nightly"), "{r:?}");
        assert_eq!(header(r, "x-requested-by"), ["snow-tests"], "{r:?}");
    }
    // The get set its own values: they replace the defaults, each sent once.
    let get = &log[1];
    assert_eq!(get.path, format!("{T}/{id}"));
    let shared: Vec<_> = params(get)
        .into_iter()
        .filter(|(k, _)| k == "x_shared")
        .collect();
    assert_eq!(shared, [("x_shared".to_owned(), "mine".to_owned())]);
    assert_eq!(header(get, "x-shared"), ["mine"]);
    // The others carry the defaults.
    for r in log.iter().skip(2) {
        assert_eq!(param(r, "x_shared").as_deref(), Some("default"), "{r:?}");
        assert_eq!(header(r, "x-shared"), ["default"], "{r:?}");
    }
}

#[tokio::test]
async fn request_params_and_headers_on_every_page_of_a_list() {
    let dev = start(25).await;
    let c = crate::common::client(&dev, "admin");
    for paging in [Paging::Offset, Paging::Keyset, Paging::Links] {
        dev.admin().clear_request_log();
        let all: Vec<Record> = c
            .table("incident")
            .list()
            .page_size(10)
            .paging(paging)
            .param("x_trace", "abc")
            .header("x-trace", "abc")
            .all()
            .await
            .unwrap();
        assert_eq!(all.len(), 25, "{paging:?}");
        let pages = log_for(&dev, T);
        assert!(pages.len() >= 3, "{paging:?}: {pages:#?}");
        for r in &pages {
            assert_eq!(
                param(r, "x_trace").as_deref(),
                Some("abc"),
                "{paging:?}: {r:?}"
            );
            assert_eq!(header(r, "x-trace"), ["abc"], "{paging:?}: {r:?}");
        }
    }
}

#[tokio::test]
async fn write_and_delete_requests_take_params_and_headers() {
    let dev = start(5).await;
    let c = crate::common::client(&dev, "admin");
    let inc = c.table("incident");
    let created: Record = inc
        .create(&json!({"short_description": "extras"}))
        .param("x_op", "create")
        .header("x-op", "create")
        .await
        .unwrap();
    let id = created.sys_id().unwrap().to_owned();
    let _: Record = inc
        .update(&id, &json!({"urgency": "2"}))
        .put()
        .param("x_op", "update")
        .header("x-op", "update")
        .await
        .unwrap();
    inc.delete(&id)
        .param("x_op", "delete")
        .header("x-op", "delete")
        .await
        .unwrap();
    let log = log_for(&dev, T);
    let ops: Vec<(String, Option<String>, Vec<&str>)> = log
        .iter()
        .map(|r| (r.method.clone(), param(r, "x_op"), header(r, "x-op")))
        .collect();
    assert_eq!(
        ops,
        [
            ("POST".to_owned(), Some("create".to_owned()), vec!["create"]),
            ("PUT".to_owned(), Some("update".to_owned()), vec!["update"]),
            (
                "DELETE".to_owned(),
                Some("delete".to_owned()),
                vec!["delete"]
            ),
        ]
    );
}

#[tokio::test]
async fn owned_sysparms_are_refused_before_anything_is_sent() {
    let dev = start(5).await;
    let c = crate::common::client(&dev, "admin");
    let inc = c.table("incident");
    let refused = |e: Error, setter: &str| {
        let text = e.to_string();
        assert!(matches!(e, Error::InvalidInput { .. }), "{text}");
        assert!(text.contains(setter), "{text}");
    };
    refused(
        inc.list()
            .param("sysparm_limit", "5")
            .all::<Record>()
            .await
            .unwrap_err(),
        ".limit()",
    );
    refused(
        inc.list()
            .param("SYSPARM_QUERY", "active=true")
            .first::<Record>()
            .await
            .unwrap_err(),
        ".query()",
    );
    refused(
        inc.get("9d385017c611228701d22104cc95c371")
            .param("sysparm_display_value", "all")
            .await
            .unwrap_err(),
        ".display_value()",
    );
    refused(
        inc.create(&json!({"short_description": "x"}))
            .param("sysparm_input_display_value", "true")
            .await
            .unwrap_err(),
        ".input_display_value()",
    );
    let e = inc
        .delete("9d385017c611228701d22104cc95c371")
        .header("bad header", "x")
        .await
        .unwrap_err();
    assert!(e.to_string().contains("bad header"), "{e}");
    let e = inc
        .get("9d385017c611228701d22104cc95c371")
        .header("x-ok", "line\nbreak")
        .await
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
    assert!(dev.admin().request_log().is_empty(), "nothing was sent");

    // A parameter no setter owns is sent, sysparm_ or not.
    let _: Vec<Record> = inc
        .list()
        .limit(1)
        .param("sysparm_something_new", "1")
        .all()
        .await
        .unwrap();
    let last = log_for(&dev, T).pop().unwrap();
    assert_eq!(param(&last, "sysparm_something_new").as_deref(), Some("1"));

    // Client defaults follow the same rule, when the client is built.
    let e = Client::builder(dev.base_url())
        .basic("admin", "admin")
        .default_param("sysparm_fields", "number")
        .build()
        .unwrap_err();
    assert!(e.to_string().contains(".fields()"), "{e}");
    let e = Client::builder(dev.base_url())
        .default_header("x-ok", "a\rb")
        .build()
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput { .. }), "{e}");
}

#[tokio::test]
async fn credential_headers_are_sensitive_and_a_content_type_set_by_the_caller_wins() {
    let dev = start(5).await;
    let key = dev.admin().mint_api_key("admin").unwrap();
    // An API key given as a default header authenticates (and the dev instance's log redacts it).
    let c = Client::builder(dev.base_url())
        .default_header("x-sn-apikey", &key)
        .build()
        .unwrap();
    let debug = format!("{c:?}");
    assert!(!debug.contains(&key), "{debug}");
    let created: Record = c
        .table("incident")
        .create(&json!({"short_description": "content type"}))
        .header("content-type", "application/json;charset=UTF-8")
        .await
        .unwrap();
    assert!(created.sys_id().is_some());
    let last = log_for(&dev, T).pop().unwrap();
    assert_eq!(last.status, 201);
    assert_eq!(
        header(&last, "content-type"),
        ["application/json;charset=UTF-8"]
    );
}
