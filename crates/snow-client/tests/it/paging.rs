//! Paging against the dev instance: bounded pages, limits across pages, stable order, totals,
//! keyset paging, concurrent pages and cancelled transactions.

use std::collections::HashSet;

use crate::common::{client, log_for, param, start};
use snow_client::query::field;
use snow_client::{CountCheck, Error, PageOrder, Paging, Record};
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
async fn offsets_grow_by_the_page_until_a_short_page() {
    let dev = start(5).await;
    let c = client(&dev, "admin");
    let all: Vec<Record> = c.table("incident").list().page_size(2).all().await.unwrap();
    assert_eq!(all.len(), 5);
    // The total is not used to plan requests: every page asks for the page size, and the
    // short page ends paging.
    assert_eq!(offsets(&dev), vec![(0, 2), (2, 2), (4, 2)]);
    let r = &log_for(&dev, T)[0];
    assert_eq!(param(r, "sysparm_query").as_deref(), Some("ORDERBYsys_id"));
    assert_eq!(
        param(r, "sysparm_suppress_pagination_header").as_deref(),
        Some("true")
    );
    dev.shutdown().await.unwrap();
}

/// Waits (up to 10 s) until the instance has seen `n` page requests.
async fn until_requests(dev: &snow_devinstance::DevInstance, n: usize) -> Vec<(u64, u64)> {
    for _ in 0..1000 {
        if offsets(dev).len() >= n {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    offsets(dev)
}

#[tokio::test]
async fn pages_are_asked_for_ahead_and_none_after_the_stream_is_dropped() {
    let dev = start(1000).await;
    let c = client(&dev, "admin");
    let mut stream = c.table("incident").list().page_size(100).stream::<Record>();
    stream.try_next().await.unwrap().unwrap();
    // Not polled again, the stream reads the second page and asks for the third (whose body
    // waits until the first page is used up)...
    let asked = vec![(0, 100), (100, 100), (200, 100)];
    assert_eq!(until_requests(&dev, 3).await, asked);
    // ...and asks for no fourth before then.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(offsets(&dev), asked);
    for _ in 0..100 {
        stream.try_next().await.unwrap().unwrap();
    }
    assert_eq!(until_requests(&dev, 4).await.len(), 4);
    // Dropped, it asks for nothing more.
    drop(stream);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(offsets(&dev).len(), 4);
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_stream_ended_by_an_error_asks_for_nothing_more() {
    #[derive(Debug, serde::Deserialize)]
    struct Numbered {
        #[allow(dead_code)]
        number: u32,
    }
    let dev = start(1000).await;
    // The second page takes a while, so the first page's error comes while it is on its way.
    dev.admin().add_fault(
        FaultRule::new(
            FaultKind::Latency { millis: 400 },
            Trigger::EveryNth { n: 2 },
        )
        .path_prefix(T),
    );
    let c = client(&dev, "admin");
    let mut stream = c
        .table("incident")
        .list()
        .page_size(100)
        .stream::<Numbered>();
    // "INC0000001" is no number: the first record ends the stream.
    assert!(matches!(stream.try_next().await, Err(Error::Decode { .. })));
    // Kept, not dropped: once the second page would have come, no third is asked for.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let asked = offsets(&dev);
    assert!(asked.len() <= 2, "{asked:?}");
    assert!(stream.try_next().await.unwrap().is_none());
    assert_eq!(stream.buffered(), 0, "the pages held went with the error");
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_asking_ahead_a_page_is_asked_for_when_there_is_room() {
    let dev = start(1000).await;
    let c = client(&dev, "admin");
    let mut stream = c
        .table("incident")
        .list()
        .page_size(100)
        .ask_ahead(false)
        .stream::<Record>();
    stream.try_next().await.unwrap().unwrap();
    // The next page is still fetched while the first is used, but none after it.
    assert_eq!(until_requests(&dev, 2).await, vec![(0, 100), (100, 100)]);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(offsets(&dev).len(), 2);
    drop(stream);
    dev.shutdown().await.unwrap();
}

#[tokio::test]
async fn concurrent_pages_are_asked_for_only_when_there_is_room() {
    let dev = start(1000).await;
    let c = client(&dev, "admin");
    let mut stream = c
        .table("incident")
        .list()
        .page_size(100)
        .concurrency(2)
        .stream::<Record>();
    stream.try_next().await.unwrap().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    // The first page alone, then two at a time: no page is asked for beyond those.
    assert_eq!(offsets(&dev), vec![(0, 100), (100, 100), (200, 100)]);
    drop(stream);
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
    // Ten full pages reach X-Total-Count; one more (empty) page proves it was not too low.
    assert_eq!(log_for(&dev, T).len(), 11);

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
        .paging(Paging::Keyset)
        .page_size(150)
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&keyset), ids(&base));
    let log = log_for(&dev, T);
    // With sysparm_no_count the first page's X-Total-Count is only its size: no mismatch.
    let uncounted: Vec<Record> = inc
        .list()
        .query(q())
        .paging(Paging::Keyset)
        .no_count(true)
        .page_size(150)
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&uncounted), ids(&base));
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
        .concurrency(4)
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&ordered), ids(&base));
    let unordered: Vec<Record> = inc
        .list()
        .query(q())
        .page_size(100)
        .concurrency(4)
        .page_order(PageOrder::Arrival)
        .all()
        .await
        .unwrap();
    let mut a = ids(&unordered);
    a.sort();
    assert_eq!(a, ids(&base));

    // With a limit, keyset stops there.
    let limited: Vec<Record> = inc
        .list()
        .paging(Paging::Keyset)
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
        .paging(Paging::Keyset)
        .page_size(40)
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&by_key), ids(&by_offset));
    // Keyset needs a query it can read, without another order.
    let err = inc
        .list()
        .raw_query("active=true^ORDERBYnumber")
        .paging(Paging::Keyset)
        .all::<Record>()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput { .. }));
    let err = inc
        .list()
        .query(field("active").eq(true).order_by("number"))
        .paging(Paging::Keyset)
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
    // A cancelled page is asked again from the same offset, half as large (pages asked for
    // ahead may come between the two in the log).
    let o = offsets(&dev);
    assert_eq!(o[0], (0, 100));
    let retried = o
        .iter()
        .enumerate()
        .any(|(i, &(offset, size))| size == 100 && o[i + 1..].contains(&(offset, 50)));
    assert!(retried, "same offset, half the page: {o:?}");

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

/// pysnow's legacy paging: follow `Link: rel="next"` until none is left.
#[tokio::test]
async fn follows_link_next_until_none() {
    let dev = start(7).await;
    let c = client(&dev, "admin");
    let linked: Vec<Record> = c
        .table("incident")
        .list()
        .fields(["sys_id", "number", "short_description"])
        .page_size(2)
        .paging(Paging::Links)
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
        .paging(Paging::Links)
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&three), ids(&by_offset)[..3].to_vec());
    assert_eq!(log_for(&dev, T).len() - before, 2);

    // With sysparm_no_count, X-Total-Count is the page's size, not the table's: no mismatch.
    let counted: Vec<Record> = c
        .table("incident")
        .list()
        .page_size(2)
        .no_count(true)
        .paging(Paging::Links)
        .all()
        .await
        .unwrap();
    assert_eq!(ids(&counted), ids(&by_offset));
    dev.shutdown().await.unwrap();
}

/// What the test server answers to its `hit`-th request (from 0): the `Link` header (none when
/// empty), the one record's sys_id, and `X-Total-Count`.
struct Answer {
    link: String,
    sys_id: String,
    total: u64,
}

/// A one-route HTTP/1.1 server on loopback that answers every request with a list page of one
/// record, and counts requests.
async fn link_server(
    answer: impl Fn(u16, usize) -> Answer + Send + 'static,
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
            let a = answer(port, counter.fetch_add(1, Ordering::SeqCst));
            let body = format!(r#"{{"result":[{{"sys_id":"{}"}}]}}"#, a.sys_id);
            let link = if a.link.is_empty() {
                String::new()
            } else {
                format!("link: {}\r\n", a.link)
            };
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-total-count: {}\r\n{link}content-length: {}\r\nconnection: close\r\n\r\n{body}",
                a.total,
                body.len()
            );
            let _ = sock.write_all(resp.as_bytes()).await;
        }
    });
    (port, hits)
}

fn id(n: usize) -> String {
    format!("{n:032x}")
}

async fn collect_until_error(mut s: snow_client::RecordStream<Record>) -> (usize, Option<Error>) {
    let mut ok = 0;
    loop {
        match s.try_next().await {
            Ok(Some(_)) => ok += 1,
            Ok(None) => return (ok, None),
            Err(e) => return (ok, Some(e)),
        }
    }
}

/// Follows links from a test server; returns the records yielded, the error, and the requests.
async fn follow(
    answer: impl Fn(u16, usize) -> Answer + Send + 'static,
) -> (usize, Option<Error>, usize) {
    use std::sync::atomic::Ordering;
    let (port, hits) = link_server(answer).await;
    let c = snow_client::Client::basic(&format!("http://127.0.0.1:{port}"), "u", "p").unwrap();
    let s = c
        .table("incident")
        .list()
        .paging(Paging::Links)
        .count_check(CountCheck::Off)
        .stream::<Record>();
    let (ok, err) = collect_until_error(s).await;
    (ok, err, hits.load(Ordering::SeqCst))
}

fn paging_reason(err: &Option<Error>) -> String {
    match err {
        Some(Error::Paging { reason }) => reason.clone(),
        other => panic!("expected a paging error, got {other:?}"),
    }
}

#[tokio::test]
async fn links_are_followed_only_forward_and_only_on_the_instance() {
    // A path-absolute link (RFC 8288 allows relative references) is resolved on the instance.
    let (ok, err, hits) = follow(|_, hit| Answer {
        link: if hit < 2 {
            format!(
                "</api/now/table/incident?sysparm_offset={}>;rel=next",
                hit + 1
            )
        } else {
            String::new()
        },
        sys_id: id(hit),
        total: 3,
    })
    .await;
    assert_eq!((ok, hits), (3, 3), "{err:?}");
    assert!(err.is_none());

    // Another origin (a different port of the same host counts): refused before any request,
    // and the link itself (which may carry credentials) is not in the error.
    let secret = "/api/now/table/incident?sysparm_offset=1&x-sn-apikey=TOPSECRET";
    let (ok, err, hits) = follow(move |_, hit| Answer {
        link: format!("<http://127.0.0.1:1{secret}>;rel=\"next\""),
        sys_id: id(hit),
        total: 9,
    })
    .await;
    assert_eq!((ok, hits), (1, 1));
    assert!(paging_reason(&err).contains("another origin"));
    let e = err.unwrap();
    assert!(!e.to_string().contains("TOPSECRET") && !format!("{e:?}").contains("TOPSECRET"));

    // A link back to the same offset.
    let (ok, err, hits) = follow(|port, hit| Answer {
        link: format!("<http://127.0.0.1:{port}/api/now/table/incident?sysparm_offset=0>;rel=next"),
        sys_id: id(hit),
        total: 9,
    })
    .await;
    assert_eq!((ok, hits), (1, 1));
    assert!(paging_reason(&err).contains("does not move forward"));

    // A link without an offset that repeats itself: fetched once, then refused.
    let (ok, err, hits) = follow(|port, hit| Answer {
        link: format!("<http://127.0.0.1:{port}/api/now/table/incident?page=x>;rel=next"),
        sys_id: id(hit),
        total: 9,
    })
    .await;
    assert_eq!((ok, hits), (2, 2));
    assert!(paging_reason(&err).contains("already fetched"));

    // A server that ignores the offset: new links, the same records.
    let (ok, err, hits) = follow(|port, hit| Answer {
        link: format!(
            "<http://127.0.0.1:{port}/api/now/table/incident?sysparm_offset={}>;rel=next",
            hit + 1
        ),
        sys_id: id(0),
        total: 9,
    })
    .await;
    assert_eq!((ok, hits), (1, 2));
    assert!(paging_reason(&err).contains("same record"));

    // New records forever, past what X-Total-Count announced.
    let (ok, err, hits) = follow(|port, hit| Answer {
        link: format!(
            "<http://127.0.0.1:{port}/api/now/table/incident?sysparm_offset={}>;rel=next",
            hit + 1
        ),
        sys_id: id(hit),
        total: 2,
    })
    .await;
    assert_eq!((ok, hits), (2, 3));
    assert!(paging_reason(&err).contains("X-Total-Count"));

    // Not a URL at all.
    let (ok, err, _) = follow(|_, hit| Answer {
        link: "<http://[::1>;rel=\"next\"".to_owned(),
        sys_id: id(hit),
        total: 9,
    })
    .await;
    assert_eq!(ok, 1);
    assert!(paging_reason(&err).contains("not a valid URL"));
}
