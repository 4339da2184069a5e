//! Every response header line stays within 16 KiB, so any client can read it (Python's
//! `http.client`, under pysnow, refuses lines past 64 KiB).

use crate::common::{Reply, admin, start};
use http::Method;

const MAX_LINE: usize = 16 * 1024;

fn assert_short_headers(r: &Reply) {
    for (name, value) in &r.headers {
        let line = name.as_str().len() + 2 + value.len();
        assert!(line <= MAX_LINE, "{name}: {line} bytes");
    }
}

/// A valid query matching every incident, about `bytes` long once URL-encoded.
fn long_query(bytes: usize) -> String {
    let mut q = "active=true^ORactive=false".to_owned();
    let mut i = 0;
    while q.len() * 13 / 10 < bytes {
        q.push_str(&format!("^ORshort_descriptionLIKEnothing-like-this-{i}"));
        i += 1;
    }
    q
}

fn encode(q: &str) -> String {
    form_urlencoded::byte_serialize(q.as_bytes()).collect()
}

#[tokio::test]
async fn a_query_too_long_for_the_link_header_gets_414_with_the_error_envelope() {
    let (instance, http) = start(5).await;
    let huge = encode(&long_query(30_000));
    let r = http
        .get(
            &format!("/api/now/table/incident?sysparm_limit=1&sysparm_query={huge}"),
            &admin(),
        )
        .await;
    assert_short_headers(&r);
    assert_eq!(r.status, 414, "{}", r.text());
    let v = r.json();
    assert_eq!(v["status"], "failure");
    assert_eq!(v["error"]["message"], "Requested URI is too long");
    assert!(
        v["error"]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("sysparm_suppress_pagination_header")),
        "{v}"
    );
    assert!(r.header("link").is_none());

    // Without a Link header to write, the same query is served.
    let r = http
        .get(
            &format!(
                "/api/now/table/incident?sysparm_limit=1&sysparm_suppress_pagination_header=true&sysparm_query={huge}"
            ),
            &admin(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_short_headers(&r);
    assert_eq!(r.header("x-total-count"), Some("5"));
    assert!(r.header("link").is_none());

    // Nor is anything refused when everything fits on one page (no Link either).
    let r = http
        .get(
            &format!("/api/now/table/incident?sysparm_query={huge}"),
            &admin(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.header("link").is_none());

    // A long query that still fits is echoed in full, four times.
    let long = encode(&long_query(3_000));
    let r = http
        .get(
            &format!(
                "/api/now/table/incident?sysparm_limit=1&sysparm_offset=1&sysparm_query={long}"
            ),
            &admin(),
        )
        .await;
    assert_eq!(r.status, 200);
    assert_short_headers(&r);
    let link = r.header("link").expect("Link");
    assert_eq!(link.matches(&long).count(), 4, "first, prev, next, last");
    instance.shutdown().await.expect("shutdown");
}

#[tokio::test]
async fn an_absurd_attachment_file_name_never_makes_a_long_header() {
    let (instance, http) = start(2).await;
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
    let name = "n".repeat(20_000);
    let up = http
        .send(
            Method::POST,
            &format!(
                "/api/now/attachment/file?table_name=incident&table_sys_id={record}&file_name={name}"
            ),
            &[("authorization", &admin()), ("content-type", "text/plain")],
            "content",
        )
        .await;
    assert_eq!(up.status, 201, "{}", up.text());
    assert_short_headers(&up);
    let id = up.json()["result"]["sys_id"]
        .as_str()
        .expect("id")
        .to_owned();
    let file = http
        .get(&format!("/api/now/attachment/{id}/file"), &admin())
        .await;
    assert_eq!(file.status, 200);
    assert_short_headers(&file);
    assert_eq!(&file.body[..], b"content");
    assert!(file.header("content-disposition").is_none());
    assert!(file.header("x-attachment-metadata").is_none());
    let meta = http
        .get(&format!("/api/now/attachment/{id}"), &admin())
        .await;
    assert_eq!(meta.json()["result"]["file_name"], name.as_str());
    instance.shutdown().await.expect("shutdown");
}
