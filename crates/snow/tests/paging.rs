//! Paging against the dev instance: bounded pages, limits across pages, stable order, totals,
//! keyset paging, concurrent pages and cancelled transactions.

mod common;

use std::collections::HashSet;

use common::{client, log_for, param, start};
use futures_util::TryStreamExt;
use snow::query::field;
use snow::{CountCheck, Error, Record};
use snow_devinstance::{FaultKind, FaultRule, Trigger};

const T: &str = "/api/now/table/incident";

fn ids(records: &[Record]) -> Vec<String> {
    records
        .iter()
        .map(|r| r.sys_id().unwrap_or_default().to_owned())
        .collect()
}

fn offsets(dev: &snow_devinstance::DevInstance) -> Vec<(u64, u64)> {
    log_for(dev, T)
        .iter()
        .map(|r| {
            let n = |k| param(r, k).and_then(|v| v.parse().ok()).unwrap_or(0);
            (n("sysparm_offset"), n("sysparm_limit"))
        })
        .collect()
}

#[tokio::test]
async fn pysnc_case_25_offsets_follow_total_count() {
    let dev = start(5).await;
    let c = client(&dev, "admin");
    let all: Vec<Record> = c.table("incident").list().page_size(2).all().await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(offsets(&dev), vec![(0, 2), (2, 2), (4, 1)]);
    let r = &log_for(&dev, T)[0];
    assert_eq!(param(r, "sysparm_query").as_deref(), Some("ORDERBYsys_id"));
    assert_eq!(
        param(r, "sysparm_suppress_pagination_header").as_deref(),
        Some("true")
    );
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn stream_follows_pages_in_stable_order_and_honours_limit_and_offset() {
    let dev = start(1000).await;
    let c = client(&dev, "admin");
    let inc = c.table("incident");
    let mut stream = inc.list().page_size(100).stream::<Record>();
    let mut got = Vec::new();
    let mut peak = 0;
    while let Some(r) = stream.try_next().await.unwrap() {
        peak = peak.max(stream.buffered() + 1);
        got.push(r);
    }
    // Bounded memory: the page being yielded plus one prefetched page, never more.
    assert!(peak <= 200, "held {peak} records at once");
    assert_eq!(stream.expected(), Some(1000));
    assert_eq!(got.len(), 1000);
    let ids = ids(&got);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "ORDERBYsys_id gives a stable order");
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        1000,
        "no duplicates"
    );
    assert_eq!(log_for(&dev, T).len(), 10);

    // The caller's limit across pages, with an offset.
    dev.admin().clear_request_log();
    let some: Vec<Record> = inc
        .list()
        .page_size(100)
        .offset(50)
        .limit(250)
        .all()
        .await
        .unwrap();
    assert_eq!(ids_of(&some), ids[50..300].to_vec());
    assert_eq!(offsets(&dev), vec![(50, 100), (150, 100), (250, 50)]);

    // The caller's own order is kept, and stable order can be turned off.
    dev.admin().clear_request_log();
    let _: Vec<Record> = inc
        .list()
        .query(field("active").eq(true).order_by_desc("number"))
        .limit(3)
        .all()
        .await
        .unwrap();
    let _: Vec<Record> = inc.list().stable_order(false).limit(3).all().await.unwrap();
    let _: Vec<Record> = inc
        .list()
        .raw_query("active=true")
        .limit(3)
        .all()
        .await
        .unwrap();
    let qs: Vec<Option<String>> = log_for(&dev, T)
        .iter()
        .map(|r| param(r, "sysparm_query"))
        .collect();
    assert_eq!(
        qs,
        vec![
            Some("active=true^ORDERBYDESCnumber".into()),
            None,
            Some("active=true^ORDERBYsys_id".into())
        ]
    );
    dev.shutdown().await.unwrap();
}

fn ids_of(r: &[Record]) -> Vec<String> {
    ids(r)
}

#[tokio::test]
async fn keyset_and_concurrent_paging_give_the_same_records() {
    let dev = start(1000).await;
    let c = client(&dev, "admin");
    let inc = c.table("incident");
    let q = || field("active").eq(true) | field("active").eq(false);
    let base: Vec<Record> = inc.list().query(q()).page_size(150).all().await.unwrap();
    assert_eq!(base.len(), 1000);

    dev.admin().clear_request_log();
    let keyset: Vec<Record> = inc
        .list()
        .query(q())
        .keyset(true)
        .page_size(150)
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&keyset), ids(&base));
    let log = log_for(&dev, T);
    assert!(
        log.iter()
            .all(|r| param(r, "sysparm_offset").as_deref() == Some("0"))
    );
    let second = param(&log[1], "sysparm_query").unwrap();
    assert!(
        second.contains("sys_id>") && second.ends_with("^ORDERBYsys_id"),
        "{second}"
    );

    let ordered: Vec<Record> = inc
        .list()
        .query(q())
        .page_size(100)
        .concurrency(4, true)
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&ordered), ids(&base));
    let unordered: Vec<Record> = inc
        .list()
        .query(q())
        .page_size(100)
        .concurrency(4, false)
        .all()
        .await
        .unwrap();
    let mut a = ids(&unordered);
    a.sort();
    assert_eq!(a, ids(&base));

    // With a limit, keyset stops there.
    let limited: Vec<Record> = inc
        .list()
        .keyset(true)
        .page_size(30)
        .limit(70)
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&limited), ids(&base)[..70].to_vec());
    // A raw query with ^NQ groups: the sys_id bound joins every group, so keyset paging
    // gives exactly what offset paging gives (a bound appended to the string would only
    // narrow the last group and repeat the first group's records on every page).
    let raw = "active=true^priority<=2^NQactive=false^ORDERBYsys_id";
    let by_offset: Vec<Record> = inc.list().raw_query(raw).page_size(40).all().await.unwrap();
    assert!(by_offset.len() > 100, "{}", by_offset.len());
    let by_key: Vec<Record> = inc
        .list()
        .raw_query(raw)
        .keyset(true)
        .page_size(40)
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&by_key), ids(&by_offset));
    // Keyset needs a query it can read, without another order.
    let err = inc
        .list()
        .raw_query("active=true^ORDERBYnumber")
        .keyset(true)
        .all::<Record>()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
    let err = inc
        .list()
        .query(field("active").eq(true).order_by("number"))
        .keyset(true)
        .all::<Record>()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn no_count_stops_at_the_first_short_page() {
    let dev = start(250).await;
    let c = client(&dev, "admin");
    let all: Vec<Record> = c
        .table("incident")
        .list()
        .no_count(true)
        .page_size(100)
        .all()
        .await
        .unwrap();
    assert_eq!(all.len(), 250);
    assert_eq!(offsets(&dev), vec![(0, 100), (100, 100), (200, 100)]);
    assert!(
        log_for(&dev, T)
            .iter()
            .all(|r| param(r, "sysparm_no_count").as_deref() == Some("true"))
    );
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_count_mismatch_is_an_error_or_a_warning() {
    let dev = start(300).await;
    let c = client(&dev, "admin");
    let inc = c.table("incident");
    // Delete records between the first and the second page.
    let run = |check| {
        let inc = inc.clone();
        let admin = dev.admin();
        async move {
            let mut s = inc
                .list()
                .page_size(100)
                .count_check(check)
                .stream::<Record>();
            let mut n = 0u64;
            let mut deleted = false;
            loop {
                match s.try_next().await {
                    Ok(Some(_)) => {
                        n += 1;
                        if !deleted {
                            deleted = true;
                            let victims: Vec<String> = admin.read_db(|db| {
                                db.list(
                                    "incident",
                                    "ORDERBYDESCsys_id",
                                    &snow_devinstance::db::EvalCtx::system(),
                                    0,
                                    10,
                                )
                                .map(|l| l.rows.iter().map(|r| r.sys_id().to_owned()).collect())
                                .unwrap_or_default()
                            });
                            admin.write_db(|db| {
                                for v in &victims {
                                    let _ = db.delete("incident", v);
                                }
                            });
                        }
                    }
                    Ok(None) => return Ok(n),
                    Err(e) => return Err((n, e)),
                }
            }
        }
    };
    match run(CountCheck::Error).await {
        Err((n, Error::CountMismatch { expected, received })) => {
            assert_eq!((expected, received), (300, n));
            assert!(n < 300);
        }
        other => panic!("{other:?}"),
    }
    let n = run(CountCheck::Warn).await.unwrap();
    assert!(n < 300);
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn cancelled_transactions_shrink_the_page_and_retry_from_the_same_offset() {
    let dev = start(400).await;
    let c = client(&dev, "admin");
    let inc = c.table("incident");
    let base: Vec<Record> = inc.list().page_size(100).all().await.unwrap();

    // Every second list request is cancelled after half its rows.
    dev.admin().clear_request_log();
    dev.admin().add_fault(
        FaultRule::new(FaultKind::TransactionCancelled, Trigger::EveryNth { n: 2 }).path_prefix(T),
    );
    let got: Vec<Record> = inc.list().page_size(100).all().await.unwrap();
    assert_eq!(ids(&got), ids(&base), "nothing lost, nothing repeated");
    let o = offsets(&dev);
    assert_eq!(o[0], (0, 100));
    assert_eq!(o[1], (100, 100), "cancelled");
    assert_eq!(o[2], (100, 50), "same offset, half the page");

    // Always cancelled: a typed error after the configured number of halvings.
    dev.admin().clear_faults();
    dev.admin()
        .add_fault(FaultRule::new(FaultKind::TransactionCancelled, Trigger::Always).path_prefix(T));
    dev.admin().clear_request_log();
    let err = inc
        .list()
        .page_size(64)
        .cancel_retries(3)
        .all::<Record>()
        .await
        .unwrap_err();
    match &err {
        Error::TransactionCancelled {
            rows_received,
            message,
            ..
        } => {
            assert!(message.contains("Transaction cancelled"));
            assert_eq!(*rows_received, 4, "half of the last 8-record page");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        offsets(&dev).iter().map(|o| o.1).collect::<Vec<_>>(),
        vec![64, 32, 16, 8]
    );
    assert!(err.to_string().contains("smaller pages"), "{err}");

    // A buffered page reports the cancellation instead of returning a silently short page.
    let err = inc.list().limit(10).page::<Record>().await.unwrap_err();
    assert!(matches!(err, Error::TransactionCancelled { .. }));
    dev.shutdown().await.unwrap();
}

/// pysnow acceptance case 26 (legacy paging): follow `Link: rel="next"` until none is left.
#[tokio::test]
async fn pysnow_case_26_follows_link_next_until_none() {
    let dev = start(7).await;
    let c = client(&dev, "admin");
    let linked: Vec<Record> = c
        .table("incident")
        .list()
        .fields(["sys_id", "number", "short_description"])
        .page_size(2)
        .follow_links(true)
        .all()
        .await
        .unwrap();
    let log = log_for(&dev, T);
    // Four requests: the first built by the client, three taken from `rel="next"`.
    assert_eq!(offsets(&dev), vec![(0, 2), (2, 2), (4, 2), (6, 2)]);
    // The links carry the caller's parameters (commas of sysparm_fields included).
    for r in &log {
        assert_eq!(
            param(r, "sysparm_fields").as_deref(),
            Some("sys_id,number,short_description")
        );
        assert_eq!(param(r, "sysparm_query").as_deref(), Some("ORDERBYsys_id"));
        assert_eq!(param(r, "sysparm_suppress_pagination_header"), None);
    }
    let by_offset: Vec<Record> = c
        .table("incident")
        .list()
        .fields(["sys_id", "number", "short_description"])
        .page_size(2)
        .all()
        .await
        .unwrap();
    assert_eq!(linked.len(), 7);
    assert_eq!(ids(&linked), ids(&by_offset));

    // A limit that ends inside a page stops there, without asking for the next one.
    let before = log_for(&dev, T).len();
    let three: Vec<Record> = c
        .table("incident")
        .list()
        .page_size(2)
        .limit(3)
        .follow_links(true)
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&three), ids(&by_offset)[..3].to_vec());
    assert_eq!(log_for(&dev, T).len() - before, 2);
    dev.shutdown().await.unwrap();
}

/// A one-route HTTP/1.1 server on loopback that answers every request with a list page of one
/// record and the given `Link` header, and counts requests.
async fn link_server(
    link: impl Fn(u16) -> String + Send + 'static,
) -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = std::sync::Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            counter.fetch_add(1, Ordering::SeqCst);
            let body = r#"{"result":[{"sys_id":"0123456789abcdef0123456789abcdef"}]}"#;
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nlink: {}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                link(port),
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    (port, hits)
}

#[tokio::test]
async fn links_to_another_origin_or_back_to_a_seen_page_stop_paging() {
    use std::sync::atomic::Ordering;
    let secret_link = "/api/now/table/incident?sysparm_offset=1&x-sn-apikey=TOPSECRET";
    // Another origin (a different port of the same host counts): refused before any request,
    // and the link itself (which may carry credentials) is not in the error.
    let (port, hits) =
        link_server(move |_| format!("<http://127.0.0.1:1{secret_link}>;rel=\"next\"")).await;
    let c = snow::Client::basic(&format!("http://127.0.0.1:{port}"), "u", "p").unwrap();
    let mut stream = c
        .table("incident")
        .list()
        .follow_links(true)
        .stream::<Record>();
    assert!(stream.try_next().await.unwrap().is_some());
    let err = stream.try_next().await.unwrap_err();
    assert!(matches!(err, Error::Paging { .. }), "{err:?}");
    assert!(err.to_string().contains("another origin"), "{err}");
    assert!(!err.to_string().contains("TOPSECRET") && !format!("{err:?}").contains("TOPSECRET"));
    assert_eq!(hits.load(Ordering::SeqCst), 1);

    // A link that leads back to itself: fetched once, then refused.
    let (port, hits) = link_server(move |port| {
        format!("<http://127.0.0.1:{port}/api/now/table/incident?sysparm_offset=1>;rel=\"next\"")
    })
    .await;
    let c = snow::Client::basic(&format!("http://127.0.0.1:{port}"), "u", "p").unwrap();
    let got = c
        .table("incident")
        .list()
        .follow_links(true)
        .stream::<Record>();
    let (ok, err) = collect_until_error(got).await;
    assert_eq!(ok, 2);
    assert!(
        matches!(&err, Some(Error::Paging { reason }) if reason.contains("already fetched")),
        "{err:?}"
    );
    assert_eq!(hits.load(Ordering::SeqCst), 2);

    // Not a URL at all.
    let (port, _) = link_server(|_| "<http://[::1>;rel=\"next\"".to_owned()).await;
    let c = snow::Client::basic(&format!("http://127.0.0.1:{port}"), "u", "p").unwrap();
    let got = c
        .table("incident")
        .list()
        .follow_links(true)
        .stream::<Record>();
    let (ok, err) = collect_until_error(got).await;
    assert_eq!(ok, 1);
    assert!(matches!(err, Some(Error::Paging { .. })), "{err:?}");
}

async fn collect_until_error(mut s: snow::RecordStream<Record>) -> (usize, Option<Error>) {
    let mut ok = 0;
    loop {
        match s.try_next().await {
            Ok(Some(_)) => ok += 1,
            Ok(None) => return (ok, None),
            Err(e) => return (ok, Some(e)),
        }
    }
}
