//! Property tests of everything here that reads what the network sent: the response envelope
//! and error decoding, the `Link` header, `Retry-After`, `X-RateLimit-*`, and the record-order
//! probe. Whatever the bytes, nothing panics, every error is one bounded line, and nothing is
//! allocated in proportion to a number the server wrote rather than to the bytes it sent.

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use proptest::prelude::*;

use super::RawResponse;
use super::link::next_link;
use crate::Record;

/// Longest error text any of these produce (messages are clipped to 2,000 characters, excerpts
/// to 200, and the rest is fixed text).
const MAX_ERROR_TEXT: usize = 6_000;

fn statuses() -> impl Strategy<Value = u16> {
    prop_oneof![
        Just(200u16),
        Just(201),
        Just(202),
        Just(204),
        Just(400),
        Just(401),
        Just(404),
        Just(429),
        Just(500),
        Just(503),
        100u16..600,
    ]
}

/// JSON-ish bodies: ServiceNow's shapes with arbitrary pieces, cut anywhere.
fn bodies() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just("null".to_owned()),
        Just("\"\"".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        "[a-z0-9 \\\\\"]{0,12}".prop_map(|s| format!("{s:?}")),
        Just("1e999999".to_owned()),
        Just("\"\\ud800\"".to_owned()),
    ];
    let value = leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(|v| format!("[{}]", v.join(","))),
            prop::collection::vec(("[a-z_]{1,8}", inner), 0..6).prop_map(|kv| {
                let members: Vec<String> =
                    kv.into_iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
                format!("{{{}}}", members.join(","))
            }),
        ]
    });
    let envelope = (value.clone(), value.clone(), any::<u8>()).prop_map(|(result, error, pick)| {
        match pick % 5 {
            0 => format!(r#"{{"result":{result}}}"#),
            1 => format!(r#"{{"error":{error},"status":"failure"}}"#),
            2 => format!(r#"{{"result":{result},"error":{error},"status":"failure"}}"#),
            3 => result,
            _ => format!(r#"{{"error":{{"message":{error},"detail":{result}}}}}"#),
        }
    });
    prop_oneof![
        4 => (envelope, any::<prop::sample::Index>()).prop_map(|(text, cut)| {
            let bytes = text.into_bytes();
            // Sometimes cut short, as a cancelled transaction's body is.
            let at = cut.index(bytes.len() + 1);
            if at % 3 == 0 { bytes[..at].to_vec() } else { bytes }
        }),
        1 => prop::collection::vec(any::<u8>(), 0..256),
        1 => Just(b"<html><title>Instance Hibernating page</title></html>".to_vec()),
    ]
}

fn headers() -> impl Strategy<Value = HeaderMap> {
    let value = "[ -~]{0,40}";
    (value, value, value, value, value).prop_map(|(ra, total, limit, reset, tx)| {
        let mut h = HeaderMap::new();
        for (name, v) in [
            ("retry-after", ra),
            ("x-total-count", total),
            ("x-ratelimit-limit", limit),
            ("x-ratelimit-reset", reset),
            ("x-transaction-id", tx),
        ] {
            if let Ok(v) = HeaderValue::from_str(&v) {
                h.insert(name, v);
            }
        }
        h
    })
}

fn check_error(e: &crate::Error) {
    let text = e.to_string();
    assert!(!text.is_empty());
    assert!(!text.contains('\n'), "one line: {text}");
    assert!(text.len() <= MAX_ERROR_TEXT, "{} bytes", text.len());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(768))]

    #[test]
    fn any_answer_decodes_or_fails_cleanly(
        status in statuses(),
        body in bodies(),
        headers in headers(),
        get in any::<bool>(),
    ) {
        let method = if get { Method::GET } else { Method::POST };
        let Ok(status) = StatusCode::from_u16(status) else { return Ok(()) };
        let r = RawResponse::new(&method, status, &headers, &body);
        let _ = r.total_count();
        let _ = r.retry_after();
        for result in [
            r.decode_list::<Record>().map(|_| ()),
            r.decode_one::<serde_json::Value>().map(|_| ()),
            r.decode_result::<serde_json::Value>().map(|_| ()),
            r.expect_success(),
            r.list_spans().map(|spans| {
                for (i, at) in spans.into_iter().enumerate() {
                    let item = body.get(at.bytes).expect("spans lie inside the body");
                    let _ = super::decode_list_item::<Record>(item, i);
                    let _ = crate::list::probe_sys_id(item, at.sys_id);
                }
            }),
        ] {
            if let Err(e) = result {
                check_error(&e);
            }
        }
    }

    #[test]
    fn any_link_header_is_read_without_panic(header in "[ -~]{0,200}") {
        if let Some(url) = next_link(&header) {
            prop_assert!(header.contains(url.trim()));
        }
    }

    #[test]
    fn link_headers_with_next_are_found(
        url in "https://x/[a-z0-9/?=&,;]{0,30}",
        before in prop::collection::vec("https://y/[a-z]{0,8}", 0..3),
    ) {
        prop_assume!(!url.contains('>'));
        let mut parts: Vec<String> =
            before.iter().map(|u| format!("<{u}>; rel=\"prev\"")).collect();
        parts.push(format!("<{url}>;rel=\"next\""));
        prop_assert_eq!(next_link(&parts.join(", ")), Some(url));
    }
}

/// Well-formed pages: records of strings, references and the odd other value, with JSON
/// whitespace between the parts and escapes in strings.
fn pages() -> impl Strategy<Value = String> {
    let ws = prop::sample::select(vec!["", " ", "\n", "\t ", "\r\n"]);
    let text = "[a-z0-9 \\\\\"{}\\[\\],:\u{e9}]{0,16}";
    let value = prop_oneof![
        4 => text.prop_map(serde_json::Value::String),
        1 => (text, text).prop_map(|(link, value)| serde_json::json!({"link": link, "value": value})),
        1 => Just(serde_json::json!([1, {"a": [null, true]}, -2.5e3])),
        // A sys_id that is not the record's own: inside a value, and spelled inside a string.
        1 => text.prop_map(|t| serde_json::json!({"sys_id": t, "x": ["sys_id"]})),
        1 => Just(serde_json::Value::String(r#"{"sys_id":"no"}"#.to_owned())),
    ];
    // Names with an escape (`"` or `\` in them) now and then.
    let record = prop::collection::vec(
        ("[a-z_]{1,8}|sys_id|[a-z]{1,2}[\"\\\\][a-z]{0,2}", value),
        0..6,
    )
    .prop_map(|members| serde_json::Value::Object(members.into_iter().collect()));
    (
        prop::collection::vec(record, 0..5),
        ws.clone(),
        ws,
        any::<bool>(),
    )
        .prop_map(|(records, a, b, escape)| {
            let records: Vec<String> = records.iter().map(|r| r.to_string()).collect();
            let page = format!(
                "{a}{{{b}\"result\"{a}:{b}[{a}{}{b}]{a}}}{b}",
                records.join(&format!("{a},{b}"))
            );
            // A name that spells sys_id with an escape.
            if escape {
                page.replacen(r#""sys_id":"#, r#""sys\u005fid":"#, 1)
            } else {
                page
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The structural walk finds the records serde_json finds, in every well-formed page.
    #[test]
    fn well_formed_pages_are_delimited_as_serde_delimits_them(page in pages()) {
        let headers = HeaderMap::new();
        let r = RawResponse::new(&Method::GET, StatusCode::OK, &headers, page.as_bytes());
        let walked = super::walk::result_records(page.as_bytes());
        prop_assert!(walked.is_some(), "{}", page);
        let walked = walked.unwrap();
        let decoded = r.decoded_list_spans().unwrap();
        prop_assert_eq!(walked.iter().map(|at| at.bytes.clone()).collect::<Vec<_>>(), decoded);
        for at in walked {
            let item = &page.as_bytes()[at.bytes.clone()];
            let by_serde = crate::list::decode_sys_id(item).unwrap();
            prop_assert_eq!(&crate::list::probe_sys_id(item, None).unwrap(), &by_serde);
            prop_assert_eq!(&crate::list::probe_sys_id(item, at.sys_id).unwrap(), &by_serde);
        }
    }

    /// A record kept as its JSON reads as the same record decoded into a map: the same fields,
    /// the same text, the same errors.
    #[test]
    fn records_kept_as_json_read_as_decoded_ones(body in bodies(), page in pages()) {
        let mut items = vec![body];
        if let Some(records) = super::walk::result_records(page.as_bytes()) {
            items.extend(records.into_iter().map(|at| page.as_bytes()[at.bytes].to_vec()));
        }
        for item in items {
            let kept = Record::from_json(&item);
            let decoded = serde_json::from_slice::<Record>(&item);
            match (kept, decoded) {
                (Ok(kept), Ok(decoded)) => {
                    for (name, value) in decoded.iter() {
                        prop_assert_eq!(kept.str(name), value.as_str());
                        prop_assert_eq!(kept.get(name), Some(value));
                    }
                    prop_assert_eq!(kept.get("no such field"), None);
                    prop_assert_eq!(&kept, &decoded);
                    prop_assert_eq!(format!("{kept:?}"), format!("{decoded:?}"));
                    prop_assert_eq!(
                        serde_json::to_string(&kept).ok(),
                        serde_json::to_string(&decoded).ok()
                    );
                    let mut changed = kept.clone();
                    changed.insert("zz", "1");
                    prop_assert_eq!(changed.len(), decoded.len() + usize::from(decoded.get("zz").is_none()));
                    prop_assert_eq!(kept.into_iter().collect::<Vec<_>>(), decoded.into_iter().collect::<Vec<_>>());
                }
                (Err(a), Err(b)) => prop_assert_eq!(a.to_string(), b.to_string()),
                (a, b) => prop_assert!(false, "kept {:?}, decoded {:?}", a, b),
            }
        }
    }

    /// Whatever the bytes: where the walk delimits records, serde_json either finds the same
    /// ones or fails on one of them (which that record's decoding then reports); where serde
    /// reads a sys_id, the probe reads the same.
    #[test]
    fn the_walk_never_hides_what_serde_would_report(body in bodies()) {
        let headers = HeaderMap::new();
        let r = RawResponse::new(&Method::GET, StatusCode::OK, &headers, &body);
        if let Some(walked) = super::walk::result_records(&body) {
            let some_record_is_not_json = walked.iter().any(|at| {
                !super::is_json(&body[at.bytes.clone()])
            });
            match r.decoded_list_spans() {
                Ok(decoded) => {
                    let spans: Vec<_> = walked.iter().map(|at| at.bytes.clone()).collect();
                    prop_assert_eq!(decoded, spans);
                }
                Err(_) => prop_assert!(some_record_is_not_json),
            }
            for at in walked {
                let item = &body[at.bytes.clone()];
                if let Ok(id) = crate::list::decode_sys_id(item) {
                    prop_assert_eq!(crate::list::probe_sys_id(item, at.sys_id).ok(), Some(id));
                }
            }
        }
        if let Ok(id) = crate::list::decode_sys_id(&body) {
            prop_assert_eq!(crate::list::probe_sys_id(&body, None).ok(), Some(id));
        }
    }

    /// Decoding from the text checked whole gives what decoding from the bytes gives: the same
    /// value, or the same error at the same place (bytes that are not UTF-8 included).
    #[test]
    fn json_read_as_checked_text_reads_as_bytes(body in bodies(), page in pages()) {
        for bytes in [&body[..], page.as_bytes()] {
            let text = super::json_from_bytes::<serde_json::Value>(bytes).map_err(|e| e.to_string());
            let slice = serde_json::from_slice::<serde_json::Value>(bytes).map_err(|e| e.to_string());
            prop_assert_eq!(text, slice);
            let text = super::json_from_bytes::<Record>(bytes).map_err(|e| e.to_string());
            let slice = serde_json::from_slice::<Record>(bytes).map_err(|e| e.to_string());
            prop_assert_eq!(text, slice);
        }
    }

    /// `X-Attachment-Metadata` is JSON text from the server.
    #[test]
    fn any_attachment_metadata_is_read_without_panic(text in "[ -~]{0,120}") {
        let _ = serde_json::from_str::<crate::Attachment>(&text);
    }

    /// Encoded queries read back (`Query::parse`, used by keyset paging on raw queries and by
    /// the command line's `query check`): any text parses or fails with a bounded message.
    #[test]
    fn any_encoded_query_parses_or_fails_cleanly(text in "[ -~]{0,160}") {
        match crate::query::Query::parse(&text) {
            Ok(q) => {
                // What parsed writes out and parses again to the same thing.
                let again = crate::query::Query::parse(&q.to_string()).expect("reparses");
                prop_assert_eq!(again.to_string(), q.to_string());
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(!msg.contains('\n') && msg.len() < 1_000, "{}", msg);
            }
        }
    }
}
