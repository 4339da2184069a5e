use super::*;
use crate::Record;
use http::HeaderValue;

fn resp<'a>(
    method: &'a Method,
    status: u16,
    headers: &'a HeaderMap,
    body: &'a [u8],
) -> RawResponse<'a> {
    RawResponse::new(method, StatusCode::from_u16(status).unwrap(), headers, body)
}

fn decode_list(status: u16, body: &str) -> Result<Vec<Record>, Error> {
    let h = HeaderMap::new();
    resp(&Method::GET, status, &h, body.as_bytes()).decode_list()
}

fn decode_one(status: u16, body: &str) -> Result<Record, Error> {
    let h = HeaderMap::new();
    resp(&Method::GET, status, &h, body.as_bytes()).decode_one()
}

#[test]
fn one_record() {
    let r = decode_one(200, r#"{"result":[{"sys_id":"a","number":"INC1"}]}"#).unwrap();
    assert_eq!(r.str("number"), Some("INC1"));
}

#[test]
fn three_records() {
    let body = r#"{"result":[{"n":"0"},{"n":"1"},{"n":"2"}]}"#;
    assert!(matches!(decode_one(200, body), Err(Error::MultipleResults)));
    let all = decode_list(200, body).unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all.first().and_then(|r| r.str("n")), Some("0"));
}

#[test]
fn empty_result() {
    assert!(matches!(
        decode_one(200, r#"{"result":[]}"#),
        Err(Error::NoResults)
    ));
    assert!(decode_list(200, r#"{"result":[]}"#).unwrap().is_empty());
}

#[test]
fn object_result() {
    let body = r#"{"result":{"sys_id":"x","number":"INC9"}}"#;
    let all = decode_list(200, body).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(decode_one(200, body).unwrap().str("number"), Some("INC9"));
}

#[test]
fn missing_result() {
    let e = decode_list(200, "{}").unwrap_err();
    match &e {
        Error::UnexpectedResponse { reason, .. } => assert!(reason.contains("result")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_body_on_200() {
    let e = decode_list(
        200,
        r#"{"error":{"message":"test_message","detail":"test_details"}}"#,
    )
    .unwrap_err();
    match &e {
        Error::Api {
            status,
            message,
            detail,
            ..
        } => {
            assert_eq!(*status, StatusCode::OK);
            assert_eq!(message, "test_message");
            assert_eq!(detail.as_deref(), Some("test_details"));
        }
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("test_message: test_details"));
}

#[test]
fn status_500_with_empty_body() {
    let e = decode_list(500, "").unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::INTERNAL_SERVER_ERROR));
    assert!(e.to_string().contains("500 Internal Server Error"), "{e}");
    assert!(e.to_string().contains("empty body"));
}

#[test]
fn get_answered_202_is_session_rejection() {
    let mut h = HeaderMap::new();
    h.insert("x-transaction-id", HeaderValue::from_static("79aee3f52fa2"));
    let e = resp(&Method::GET, 202, &h, b"")
        .decode_list::<Record>()
        .unwrap_err();
    assert!(matches!(
        &e,
        Error::SessionRejected { transaction_id: Some(t) } if t == "79aee3f52fa2"
    ));
    assert!(e.is_retryable());
    // A 202 to a POST is not a session rejection.
    assert!(resp(&Method::POST, 202, &h, b"").expect_success().is_ok());
}

#[test]
fn not_found_names_message_detail_and_transaction_id() {
    let mut h = HeaderMap::new();
    h.insert("x-transaction-id", HeaderValue::from_static("0123456789ab"));
    let body = br#"{"error":{"message":"No Record found","detail":"Record doesn't exist or ACL restricts the record retrieval"},"status":"failure"}"#;
    let e = resp(&Method::GET, 404, &h, body)
        .decode_one::<Record>()
        .unwrap_err();
    match &e {
        Error::Api {
            status,
            transaction_id,
            ..
        } => {
            assert_eq!(*status, StatusCode::NOT_FOUND);
            assert_eq!(transaction_id.as_deref(), Some("0123456789ab"));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        e.to_string().contains(
            "No Record found: Record doesn't exist or ACL restricts the record retrieval"
        )
    );
}

#[test]
fn detail_may_be_null_empty_or_missing() {
    for body in [
        r#"{"error":{"detail":null,"message":"Invalid table name"},"status":"failure"}"#,
        r#"{"error":{"detail":"","message":"Invalid table name"},"status":"failure"}"#,
        r#"{"error":{"message":"Invalid table name"},"status":"failure"}"#,
    ] {
        let e = decode_list(400, body).unwrap_err();
        match &e {
            Error::Api {
                status,
                message,
                detail,
                ..
            } => {
                assert_eq!(*status, StatusCode::BAD_REQUEST);
                assert_eq!(message, "Invalid table name");
                assert_eq!(*detail, None);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            e.to_string(),
            "ServiceNow returned HTTP 400 Bad Request: Invalid table name"
        );
    }
}

#[test]
fn non_json_bodies_are_typed_errors() {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("text/html"));
    for (status, reason) in [(503, "Service Unavailable"), (500, "Internal Server Error")] {
        let e = resp(&Method::GET, status, &h, b"<html><body>down</body></html>")
            .decode_list::<Record>()
            .unwrap_err();
        assert!(matches!(e, Error::UnexpectedResponse { .. }), "{e:?}");
        assert!(e.to_string().contains(reason), "{e}");
        assert!(e.to_string().contains("down"));
        assert_eq!(e.is_retryable(), status == 503);
    }
    let e = resp(&Method::GET, 200, &h, b"<html>login</html>")
        .decode_list::<Record>()
        .unwrap_err();
    match e {
        Error::UnexpectedResponse {
            content_type,
            reason,
            ..
        } => {
            assert_eq!(content_type.as_deref(), Some("text/html"));
            assert!(reason.contains("not JSON"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn hibernation_page_is_detected() {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("text/html"));
    let page = b"<html><head><title>Instance Hibernating page</title></head><body>Your instance is hibernating. <a href=\"https://developer.servicenow.com/dev.do#!/home?wu=true\">Sign in</a></body></html>";
    let e = resp(&Method::GET, 200, &h, page)
        .decode_list::<Record>()
        .unwrap_err();
    assert!(
        matches!(e, Error::InstanceUnavailable { hibernating: true, status } if status == StatusCode::OK)
    );
    assert!(!e.is_retryable());
    // The same words inside a JSON record are data, not the page.
    let body = br#"{"result":[{"short_description":"Your instance is hibernating"}]}"#;
    assert_eq!(
        resp(&Method::GET, 200, &h, body)
            .decode_list::<Record>()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn transaction_cancelled_after_rows() {
    let body = r#"{"result":[{"n":"1"},{"n":"2"},{"n":"3"}],"error":{"detail":"Transaction cancelled: maximum execution time exceeded Check logs for error trace or enable glide.rest.debug property to verify REST request processing","message":"Transaction cancelled: maximum execution time exceeded"},"status":"failure"}"#;
    let e = decode_list(200, body).unwrap_err();
    match &e {
        Error::TransactionCancelled {
            rows_received,
            message,
            ..
        } => {
            assert_eq!(*rows_received, 3);
            assert!(message.contains("maximum execution time"));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(e.status(), Some(StatusCode::OK));
    assert!(e.to_string().contains("after sending 3 record(s)"));
    // Also when decoding into a generic result type.
    let h = HeaderMap::new();
    let e = resp(&Method::GET, 200, &h, body.as_bytes())
        .decode_result::<serde_json::Value>()
        .unwrap_err();
    assert!(matches!(
        e,
        Error::TransactionCancelled {
            rows_received: 3,
            ..
        }
    ));
}

#[test]
fn transaction_cancelled_when_rows_do_not_fit_the_type() {
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Strict {
        number: u32,
    }
    let body = br#"{"result":[{"number":"x"}],"error":{"message":"Transaction cancelled: maximum execution time exceeded"}}"#;
    let h = HeaderMap::new();
    let e = resp(&Method::GET, 200, &h, body)
        .decode_list::<Strict>()
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::TransactionCancelled {
                rows_received: 1,
                ..
            }
        ),
        "{e:?}"
    );
}

#[test]
fn truncated_json_is_a_clear_error() {
    let body = r#"{"result":[{"n":"1"},{"n":"2"},{"n":"3","short_descr"#;
    let e = decode_list(200, body).unwrap_err();
    assert!(
        matches!(
            e,
            Error::TruncatedResponse {
                rows_received: 2,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("ended in the middle of the JSON"));
    // Cut right after the opening.
    assert!(matches!(
        decode_list(200, r#"{"result":["#).unwrap_err(),
        Error::TruncatedResponse {
            rows_received: 0,
            ..
        }
    ));
}

#[test]
fn malformed_json_is_unexpected() {
    let e = decode_list(200, r#"{"result":[}"#).unwrap_err();
    assert!(
        matches!(&e, Error::UnexpectedResponse { reason, .. } if reason.starts_with("malformed JSON")),
        "{e:?}"
    );
}

#[test]
fn rate_limited_with_retry_after() {
    let mut h = HeaderMap::new();
    h.insert("retry-after", HeaderValue::from_static("30"));
    h.insert("x-ratelimit-limit", HeaderValue::from_static("100"));
    h.insert("x-ratelimit-reset", HeaderValue::from_static("1700000000"));
    h.insert(
        "x-ratelimit-rule",
        HeaderValue::from_static("0123456789abcdef0123456789abcdef"),
    );
    let body = br#"{"error":{"message":"Rate limit exceeded","detail":"Rate limit of 100 requests per hour for Table API exceeded"},"status":"failure"}"#;
    let e = resp(&Method::GET, 429, &h, body)
        .decode_list::<Record>()
        .unwrap_err();
    match &e {
        Error::RateLimited {
            retry_after,
            message,
            rule,
            limit,
            reset,
        } => {
            assert_eq!(*retry_after, Some(Duration::from_secs(30)));
            assert_eq!(rule.as_deref(), Some("0123456789abcdef0123456789abcdef"));
            assert_eq!(*limit, Some(100));
            assert_eq!(
                *reset,
                Some(std::time::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
            );
            assert!(
                message
                    .as_deref()
                    .unwrap()
                    .contains("100 requests per hour")
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(e.is_retryable());
    // Semaphore exhaustion: no headers, unknown body.
    let h = HeaderMap::new();
    let e = resp(&Method::POST, 429, &h, b"busy")
        .decode_one::<Record>()
        .unwrap_err();
    assert!(matches!(
        e,
        Error::RateLimited {
            retry_after: None,
            message: None,
            rule: None,
            limit: None,
            reset: None,
        }
    ));
}

#[test]
fn retry_after_http_date() {
    let mut h = HeaderMap::new();
    let future = SystemTime::now() + Duration::from_secs(120);
    h.insert(
        "retry-after",
        HeaderValue::from_str(&httpdate::fmt_http_date(future)).unwrap(),
    );
    let r = resp(&Method::GET, 429, &h, b"");
    let d = r.retry_after().unwrap();
    assert!(d <= Duration::from_secs(120) && d >= Duration::from_secs(100));
    h.insert(
        "retry-after",
        HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
    );
    assert_eq!(
        resp(&Method::GET, 429, &h, b"").retry_after(),
        Some(Duration::ZERO)
    );
    h.insert("retry-after", HeaderValue::from_static("soon"));
    assert_eq!(resp(&Method::GET, 429, &h, b"").retry_after(), None);
}

#[test]
fn decode_errors_name_the_json_path() {
    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Incident {
        number: String,
        priority: u8,
    }
    let body =
        br#"{"result":[{"number":"INC1","priority":1},{"number":"INC2","priority":"high"}]}"#;
    let h = HeaderMap::new();
    let e = resp(&Method::GET, 200, &h, body)
        .decode_list::<Incident>()
        .unwrap_err();
    match &e {
        Error::Decode { path, .. } => assert_eq!(path, "result[1].priority"),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("result[1].priority"));
}

#[test]
fn headers_are_read() {
    let mut h = HeaderMap::new();
    h.insert("x-total-count", HeaderValue::from_static("73"));
    h.insert("x-transaction-id", HeaderValue::from_static("79aee3f52fa2"));
    let r = resp(&Method::GET, 200, &h, b"{}");
    assert_eq!(r.total_count(), Some(73));
    assert_eq!(r.transaction_id(), Some("79aee3f52fa2"));
    assert_eq!(r.status(), StatusCode::OK);
}

#[test]
fn delete_204_and_write_without_body() {
    let h = HeaderMap::new();
    assert!(resp(&Method::DELETE, 204, &h, b"").expect_success().is_ok());
    let e = resp(
        &Method::DELETE,
        404,
        &h,
        br#"{"error":{"message":"No Record found","detail":"x"},"status":"failure"}"#,
    )
    .expect_success()
    .unwrap_err();
    assert!(matches!(e, Error::Api { .. }));
    let e = resp(&Method::PATCH, 403, &h, b"")
        .expect_success()
        .unwrap_err();
    assert_eq!(e.status(), Some(StatusCode::FORBIDDEN));
}

#[test]
fn unexpected_excerpt_never_carries_credentials() {
    let mut h = HeaderMap::new();
    h.insert("content-type", HeaderValue::from_static("text/plain"));
    let body =
        b"Bad request. Echo: Authorization: Bearer sekrit-token-123 x-sn-apikey: KEY-999 access_token=tok456";
    let e = resp(&Method::GET, 400, &h, body)
        .decode_list::<Record>()
        .unwrap_err();
    let shown = format!("{e} {e:?}");
    for s in ["sekrit-token-123", "KEY-999", "tok456"] {
        assert!(!shown.contains(s), "{s} in {shown}");
    }
}

#[test]
fn record_shapes_decode_in_a_list() {
    let body = r#"{"result":[{"caller_id":{"link":"https://x/api/now/table/sys_user/1","value":"1"},"state":{"display_value":"New","value":"1"},"assigned_to":""}]}"#;
    let r = decode_list(200, body).unwrap();
    let rec = &r[0];
    assert_eq!(rec.get("caller_id").and_then(|f| f.value()), Some("1"));
    assert_eq!(
        rec.get("state").and_then(|f| f.display_value()),
        Some("New")
    );
    assert_eq!(rec.str("assigned_to"), Some(""));
}

fn spans(status: u16, body: &str) -> Result<Vec<String>, Error> {
    let h = HeaderMap::new();
    let spans = resp(&Method::GET, status, &h, body.as_bytes()).list_spans()?;
    Ok(spans
        .into_iter()
        .map(|r| body.get(r.bytes).unwrap_or("<out of range>").to_owned())
        .collect())
}

#[test]
fn list_spans_locate_each_record_without_decoding() {
    let body = r#"{"result": [ {"n":"0"}, {"n":"1","x":{"a":[1,2]}},{"n":"2"} ]}"#;
    assert_eq!(
        spans(200, body).unwrap(),
        [
            r#"{"n":"0"}"#,
            r#"{"n":"1","x":{"a":[1,2]}}"#,
            r#"{"n":"2"}"#
        ]
    );
    // A single object is a list of one, as decode_list reads it.
    assert_eq!(
        spans(200, r#"{"result":{"n":"0"}}"#).unwrap(),
        [r#"{"n":"0"}"#]
    );
    assert!(spans(200, r#"{"result":[]}"#).unwrap().is_empty());
}

#[test]
fn list_spans_report_the_same_errors_as_decode_list() {
    let cancelled = r#"{"result":[{"n":"0"},{"n":"1"}],"error":{"message":"Transaction cancelled: maximum execution time exceeded","detail":""}}"#;
    assert!(matches!(
        spans(200, cancelled),
        Err(Error::TransactionCancelled {
            rows_received: 2,
            ..
        })
    ));
    assert!(matches!(
        spans(200, r#"{"result":[{"n":"0"},{"n":"#),
        Err(Error::TruncatedResponse {
            rows_received: 1,
            ..
        })
    ));
    let not_found = r#"{"error":{"message":"No Record found","detail":null},"status":"failure"}"#;
    assert!(matches!(spans(404, not_found), Err(Error::Api { .. })));
    assert!(matches!(
        spans(200, "<html>oops</html>"),
        Err(Error::UnexpectedResponse { .. })
    ));
    match spans(200, r#"{"result":"text"}"#) {
        Err(Error::Decode { path, .. }) => assert_eq!(path, "result"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn list_items_decoded_alone_name_their_path_in_the_page() {
    #[derive(serde::Deserialize, Debug)]
    struct Incident {
        priority: u8,
    }
    let ok = decode_list_item::<Incident>(br#"{"priority":1}"#, 0).unwrap();
    assert_eq!(ok.priority, 1);
    let e = decode_list_item::<Incident>(br#"{"priority":"high"}"#, 7).unwrap_err();
    match &e {
        Error::Decode { path, .. } => assert_eq!(path, "result[7].priority"),
        other => panic!("{other:?}"),
    }
    match decode_list_item::<Incident>(br#""text""#, 3) {
        Err(Error::Decode { path, .. }) => assert_eq!(path, "result[3]"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_malformed_body_says_what_is_wrong() {
    let h = HeaderMap::new();
    // Invalid UTF-8 inside a string.
    let mut body = br#"{"result":[{"number":"INC"#.to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(br#""}]}"#);
    let e = resp(&Method::GET, 200, &h, &body)
        .decode_list::<Record>()
        .unwrap_err();
    assert!(
        matches!(&e, Error::UnexpectedResponse { reason, .. } if reason.contains("UTF-8")),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    // JSON nested past the parser's depth limit.
    let deep = format!(
        r#"{{"result":[{{"a":{}{}}}]}}"#,
        "[".repeat(500),
        "]".repeat(500)
    );
    let e = resp(&Method::GET, 200, &h, deep.as_bytes())
        .decode_list::<Record>()
        .unwrap_err();
    assert!(
        matches!(&e, Error::UnexpectedResponse { reason, .. } if reason.contains("nested")),
        "{e:?}"
    );
    assert!(!e.is_retryable());
    let e = resp(&Method::GET, 200, &h, deep.as_bytes())
        .decode_list::<serde_json::Value>()
        .unwrap_err();
    assert!(e.to_string().contains("nested"), "{e}");
    // The same through the lazy list path, when the record is read.
    let r = resp(&Method::GET, 200, &h, deep.as_bytes());
    let spans = r.list_spans().unwrap();
    let e =
        super::decode_list_item::<Record>(&deep.as_bytes()[spans[0].bytes.clone()], 0).unwrap_err();
    assert!(e.to_string().contains("nested"), "{e}");
    // The list path delimits records by their structure; the bad bytes are reported when the
    // record holding them is decoded.
    let r = resp(&Method::GET, 200, &h, &body);
    let spans = r.list_spans().unwrap();
    let e = super::decode_list_item::<Record>(&body[spans[0].bytes.clone()], 0).unwrap_err();
    assert!(e.to_string().contains("UTF-8"), "{e}");
    assert!(e.to_string().contains("record 0"), "{e}");
}

#[test]
fn a_record_with_bytes_that_are_not_utf8_inside_a_string_is_not_json() {
    let record = b"{\"a\":\"\xff\",\"sys_id\":\"x\"}";
    // serde_json's `IgnoredAny` skips strings without checking them; `is_json` does not.
    assert!(serde_json::from_slice::<serde::de::IgnoredAny>(record).is_ok());
    assert!(!super::is_json(record));
    assert!(super::is_json(br#"{"a":"\u00e9","sys_id":"x"}"#));
    assert!(!super::is_json(br#"{"a":1} {}"#));
}
