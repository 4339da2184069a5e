//! The client against servers that lie: about totals, about offsets, about order. Each server
//! here is a small HTTP server inside the test; each test fails on a client that trusts the
//! server (it allocates for a claimed total, pages forever, or returns wrong records quietly).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use snow_client::{Client, CountCheck, Error, PageOrder, Paging, Record};
use snow_test_support::server::serve;

/// What a lying list endpoint answers to one request.
struct Page {
    ids: Vec<usize>,
    total: Option<String>,
}

/// A list endpoint on loopback: `answer(offset, limit, query)` says which record numbers (and
/// which `X-Total-Count`) to send; records are `{"sys_id": <32 hex digits of n>, "number": n}`.
/// Returns the client and the request counter.
async fn lying_server(
    answer: impl Fn(u64, u64, &str) -> Page + Send + Sync + 'static,
) -> (Client, Arc<AtomicUsize>) {
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    let answer = Arc::new(answer);
    let server = serve(move |seen, _| {
        let (answer, counter) = (answer.clone(), counter.clone());
        async move {
            counter.fetch_add(1, Ordering::SeqCst);
            let q = seen.uri.query().unwrap_or("").to_owned();
            let param = |name: &str| {
                q.split('&').find_map(|p| {
                    let (k, v) = p.split_once('=')?;
                    (k == name).then(|| {
                        percent_encoding::percent_decode_str(v)
                            .decode_utf8_lossy()
                            .into_owned()
                    })
                })
            };
            let offset = param("sysparm_offset").and_then(|v| v.parse().ok());
            let limit = param("sysparm_limit").and_then(|v| v.parse().ok());
            let query = param("sysparm_query").unwrap_or_default();
            let with_sys_id =
                param("sysparm_fields").is_none_or(|f| f.split(',').any(|f| f == "sys_id"));
            let page = answer(offset.unwrap_or(0), limit.unwrap_or(10_000), &query);
            let records: Vec<String> = page
                .ids
                .iter()
                .map(|n| {
                    if with_sys_id {
                        format!(r#"{{"sys_id":"{n:032x}","number":"{n}"}}"#)
                    } else {
                        format!(r#"{{"number":"{n}"}}"#)
                    }
                })
                .collect();
            let body = format!(r#"{{"result":[{}]}}"#, records.join(","));
            let mut resp =
                http::Response::builder().header("content-type", "application/json;charset=UTF-8");
            if let Some(t) = page.total {
                resp = resp.header("x-total-count", t);
            }
            resp.body(Full::new(Bytes::from(body))).expect("a response")
        }
    })
    .await;
    let client = Client::basic(&server.url(), "u", "p").unwrap();
    (client, hits)
}

/// Numbers `offset..offset+limit` of a table of `n` records, honestly.
fn honest(n: u64, offset: u64, limit: u64) -> Vec<usize> {
    (offset..n.min(offset.saturating_add(limit)))
        .map(|i| i as usize)
        .collect()
}

/// Runs a stream to its end (bounded in time: a client that pages forever fails here).
async fn drain(list: snow_client::ListRequest) -> (Vec<Record>, Option<Error>) {
    let mut s = list.stream::<Record>();
    let mut got = Vec::new();
    let run = async {
        loop {
            match s.try_next().await {
                Ok(Some(r)) => got.push(r),
                Ok(None) => return None,
                Err(e) => return Some(e),
            }
        }
    };
    let err = tokio::time::timeout(Duration::from_secs(20), run)
        .await
        .expect("the stream ended in time");
    (got, err)
}

#[tokio::test]
async fn a_huge_claimed_total_plans_nothing_and_ends_at_the_short_page() {
    for concurrency in [1, 8] {
        let (c, hits) = lying_server(|offset, limit, _| Page {
            ids: honest(25, offset, limit),
            total: Some(i64::MAX.to_string()),
        })
        .await;
        let list = c
            .table("incident")
            .list()
            .page_size(10)
            .concurrency(concurrency);
        let (got, err) = drain(list).await;
        assert_eq!(got.len(), 25, "concurrency {concurrency}");
        assert!(
            matches!(err, Some(Error::CountMismatch { received: 25, .. })),
            "{err:?}"
        );
        // Three pages (10, 10, 5) and at most the window of pages already in flight.
        let n = hits.load(Ordering::SeqCst);
        assert!(n >= 3 && n <= 3 + concurrency, "{n} requests");
    }
}

#[tokio::test]
async fn a_total_below_the_truth_is_found_out_by_one_more_request() {
    // Claims 10 records; has 25. Trusting the count would stop after one page, silently.
    let (c, hits) = lying_server(|offset, limit, _| Page {
        ids: honest(25, offset, limit),
        total: Some("10".into()),
    })
    .await;
    let (got, err) = drain(c.table("incident").list().page_size(10)).await;
    assert!(
        matches!(err, Some(Error::CountMismatch { expected: 10, .. })),
        "{err:?}"
    );
    assert_eq!(
        got.len(),
        10,
        "no record past the claimed total is yielded as if fine"
    );
    assert_eq!(
        hits.load(Ordering::SeqCst),
        2,
        "one extra request, not more"
    );

    // A claimed total of 0 with records in the first page.
    let (c, hits) = lying_server(|offset, limit, _| Page {
        ids: honest(25, offset, limit),
        total: Some("0".into()),
    })
    .await;
    let (got, err) = drain(c.table("incident").list().page_size(10)).await;
    assert!(
        matches!(err, Some(Error::CountMismatch { expected: 0, .. })),
        "{err:?}"
    );
    assert!(got.is_empty());
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn an_honest_total_that_is_a_multiple_of_the_page_costs_one_empty_page() {
    let (c, hits) = lying_server(|offset, limit, _| Page {
        ids: honest(20, offset, limit),
        total: Some("20".into()),
    })
    .await;
    let (got, err) = drain(c.table("incident").list().page_size(10)).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.len(), 20);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_server_ignoring_the_offset_is_caught_on_the_second_page() {
    for (no_count, total) in [(true, None), (false, Some("1000000".to_owned()))] {
        let (c, hits) = lying_server(move |_offset, limit, _| Page {
            ids: honest(1_000_000, 0, limit),
            total: total.clone(),
        })
        .await;
        let list = c
            .table("incident")
            .list()
            .page_size(10)
            .no_count(no_count)
            .count_check(CountCheck::Off);
        let (got, err) = drain(list).await;
        assert_eq!(got.len(), 10);
        match err {
            Some(Error::Paging { reason }) => {
                assert!(reason.contains("page 2"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert!(hits.load(Ordering::SeqCst) <= 3);
    }
}

#[tokio::test]
async fn duplicated_or_reordered_rows_are_errors_naming_the_page() {
    // Page 2 starts with the last row of page 1.
    let (c, _) = lying_server(|offset, limit, _| Page {
        ids: honest(30, offset.saturating_sub(u64::from(offset > 0)), limit),
        total: None,
    })
    .await;
    let (got, err) = drain(c.table("incident").list().page_size(10).no_count(true)).await;
    assert_eq!(got.len(), 10);
    let reason = match err {
        Some(Error::Paging { reason }) => reason,
        other => panic!("{other:?}"),
    };
    assert!(
        reason.contains("page 2") && reason.contains(&format!("{:032x}", 9)),
        "{reason}"
    );

    // Rows out of order inside a page.
    let (c, _) = lying_server(|offset, limit, _| {
        let mut ids = honest(30, offset, limit);
        if offset == 10 {
            ids.swap(3, 4);
        }
        Page { ids, total: None }
    })
    .await;
    let (got, err) = drain(c.table("incident").list().page_size(10).no_count(true)).await;
    // 10 from page 1, then 10, 11, 12, 14 of page 2 before 13 comes out of order.
    assert_eq!(got.len(), 14);
    assert!(
        matches!(&err, Some(Error::Paging { reason }) if reason.contains("page 2")),
        "{err:?}"
    );

    // The same, fetched concurrently and yielded as pages arrive.
    let (c, _) = lying_server(|offset, limit, _| Page {
        ids: honest(60, offset.saturating_sub(u64::from(offset > 0)), limit),
        total: Some("60".into()),
    })
    .await;
    let list = c
        .table("incident")
        .list()
        .page_size(10)
        .concurrency(4)
        .page_order(PageOrder::Arrival)
        .count_check(CountCheck::Off);
    let (_, err) = drain(list).await;
    assert!(matches!(&err, Some(Error::Paging { .. })), "{err:?}");
}

#[tokio::test]
async fn a_broken_record_is_a_decode_error_even_when_its_sys_id_repeats() {
    /// The records of a server whose every page is `body`.
    async fn stream_of(body: &'static str) -> (Vec<Record>, Option<Error>) {
        let server =
            serve(move |_, _| async move { snow_test_support::server::reply(200, body) }).await;
        let c = Client::basic(&server.url(), "u", "p").unwrap();
        drain(c.table("incident").list().page_size(10).no_count(true)).await
    }
    // The second record names the first one's sys_id and is not JSON: what is wrong with it is
    // its JSON, and that is what the caller hears (not a paging error).
    let (got, err) = stream_of(
        r#"{"result":[{"sys_id":"00000000000000000000000000000001","number":"1"},{"sys_id":"00000000000000000000000000000001","x":tru}]}"#,
    )
    .await;
    assert_eq!(got.len(), 1);
    assert!(
        matches!(&err, Some(Error::UnexpectedResponse { reason, .. }) if reason.contains("malformed JSON")),
        "{err:?}"
    );
    // The same record with its JSON whole is a repeated row.
    let (got, err) = stream_of(
        r#"{"result":[{"sys_id":"00000000000000000000000000000001","number":"1"},{"sys_id":"00000000000000000000000000000001","x":true}]}"#,
    )
    .await;
    assert_eq!(got.len(), 1);
    assert!(matches!(&err, Some(Error::Paging { .. })), "{err:?}");
    // A byte that is not UTF-8 inside a string is not JSON either (a check that skips strings
    // would call the record whole and the repeat a paging error).
    let server = serve(|_, _| async move {
        http::Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(
                b"{\"result\":[{\"sys_id\":\"00000000000000000000000000000001\",\"number\":\"1\"},{\"sys_id\":\"00000000000000000000000000000001\",\"x\":\"\xff\"}]}",
            )))
            .unwrap()
    })
    .await;
    let c = Client::basic(&server.url(), "u", "p").unwrap();
    let (got, err) = drain(c.table("incident").list().page_size(10).no_count(true)).await;
    assert_eq!(got.len(), 1);
    assert!(
        matches!(&err, Some(Error::UnexpectedResponse { reason, .. }) if reason.contains("UTF-8")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_repeated_row_under_a_caller_chosen_order_is_an_error() {
    // Ordered by number: sys_ids need not increase, but none may come twice.
    let (c, _) = lying_server(|offset, limit, _| {
        let mut ids: Vec<usize> = honest(30, offset, limit).into_iter().rev().collect();
        if offset == 10 {
            ids[5] = 25; // also on page 3
        }
        Page { ids, total: None }
    })
    .await;
    let list = c
        .table("incident")
        .list()
        .query(
            snow_client::query::field("active")
                .eq(true)
                .order_by("number"),
        )
        .page_size(10)
        .no_count(true);
    let (got, err) = drain(list).await;
    assert!(
        matches!(&err, Some(Error::Paging { reason }) if reason.contains("page 3")),
        "{err:?} after {}",
        got.len()
    );

    // Honest data under a caller-chosen order pages without complaint.
    let (c, _) = lying_server(|offset, limit, _| Page {
        ids: honest(30, offset, limit).into_iter().rev().collect(),
        total: Some("30".into()),
    })
    .await;
    let list = c
        .table("incident")
        .list()
        .query(
            snow_client::query::field("active")
                .eq(true)
                .order_by_desc("number"),
        )
        .page_size(10);
    let (got, err) = drain(list).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.len(), 30);
}

#[tokio::test]
async fn paging_asks_for_sys_id_when_the_fields_leave_it_out() {
    // Keyset paging needs each page's last sys_id; without it paging used to stop after the
    // first page, quietly.
    let (c, hits) = lying_server(|_offset, limit, query| {
        let after = query
            .split('^')
            .find_map(|t| t.strip_prefix("sys_id>"))
            .and_then(|h| usize::from_str_radix(h, 16).ok());
        let start = after.map_or(0, |a| a + 1) as u64;
        Page {
            ids: honest(25, start, limit),
            total: Some(if after.is_none() { "25" } else { "0" }.into()),
        }
    })
    .await;
    let list = c
        .table("incident")
        .list()
        .fields(["number"])
        .page_size(10)
        .paging(Paging::Keyset);
    let (got, err) = drain(list).await;
    assert!(err.is_none(), "{err:?}");
    assert_eq!(got.len(), 25);
    assert_eq!(hits.load(Ordering::SeqCst), 3);
}

/// A server that echoes what it was sent into its error envelope and a header.
async fn echo_server(status: u16) -> u16 {
    let server = serve(move |seen, _| async move {
        let header = |n: &str| {
            seen.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned()
        };
        let auth = header("authorization");
        let key = header("x-sn-apikey");
        let query = seen.uri.query().unwrap_or("").to_owned();
        // Everything a careless server might quote back, decoded too.
        let decoded = auth
            .strip_prefix("Basic ")
            .and_then(|b| {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD.decode(b).ok()
            })
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let body = serde_json::json!({
            "error": {
                "message": format!("Refused {auth} {key}"),
                "detail": format!("you sent {decoded} and {query}; the secret was {}", decoded.split(':').nth(1).unwrap_or("")),
            },
            "status": "failure",
        });
        http::Response::builder()
            .status(status)
            .header("content-type", "application/json")
            .header("x-transaction-id", format!("tx {auth}"))
            .body(Full::new(Bytes::from(body.to_string())))
            .expect("a response")
    })
    .await;
    server.addr.port()
}

fn chain_text(e: &Error) -> String {
    let mut out = format!("{e} | {e:?}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        out.push_str(&format!(" | {s} | {s:?}"));
        source = s.source();
    }
    out
}

#[tokio::test]
async fn credentials_echoed_by_the_server_never_reach_an_error() {
    use base64::Engine as _;
    for status in [400, 401, 403, 500] {
        let port = echo_server(status).await;
        let url = format!("http://127.0.0.1:{port}");
        let password = "Pa55word-for-echo";
        let basic = Client::basic(&url, "integration.user", password).unwrap();
        let e = basic.table("incident").get("a").await.unwrap_err();
        let text = chain_text(&e);
        let b64 = base64::engine::general_purpose::STANDARD
            .encode(format!("integration.user:{password}"));
        for secret in [password, b64.as_str()] {
            assert!(!text.contains(secret), "{status}: {secret} in {text}");
        }
        assert!(text.contains("redacted"), "{text}");

        let key = "K3Y-0123456789-abcdef";
        let api = Client::api_key(&url, key).unwrap();
        let e = api
            .table("incident")
            .list()
            .limit(1)
            .all::<Record>()
            .await
            .unwrap_err();
        assert!(!chain_text(&e).contains(key), "{}", chain_text(&e));

        let token = "eyJhbGciOi.token-value-123";
        let bearer = Client::bearer(&url, token).unwrap();
        let e = bearer.table("incident").get("a").await.unwrap_err();
        assert!(!chain_text(&e).contains(token), "{}", chain_text(&e));
    }
}

#[tokio::test]
async fn a_stream_of_endless_slow_pages_ends_at_the_callers_bound() {
    // Every page is full and new (sys_ids keep increasing), each answered well within the
    // per-request timeouts: only a bound on the whole run ends it.
    let (c, _) = lying_server(|offset, limit, _| Page {
        ids: honest(u64::MAX / 2, offset, limit),
        total: None,
    })
    .await;
    let mut s = c
        .table("incident")
        .list()
        .page_size(10)
        .no_count(true)
        .timeout(Duration::from_secs(2))
        .stream::<Record>();
    let mut n = 0u64;
    let err = loop {
        match s.try_next().await {
            Ok(Some(_)) => {
                n += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok(None) => panic!("an endless stream ended"),
            Err(e) => break e,
        }
    };
    assert!(matches!(err, Error::Timeout(_)), "{err:?}");
    // At most one record per 10 ms for 2 s (fewer on a busy machine), then the bound.
    assert!((20..=200).contains(&n), "{n} records");
}
