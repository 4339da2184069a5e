//! Building responses the way ServiceNow shapes them.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HeaderValue};
use http::{Response, StatusCode};

use crate::db::DbError;

pub(crate) type Resp = Response<Bytes>;

pub(crate) const JSON: &str = "application/json;charset=UTF-8";

/// The longest response header line (name, `: ` and value) this instance sends. Python's
/// `http.client` refuses lines past 64 KiB; 16 KiB keeps every client well inside its limits.
pub(crate) const MAX_HEADER_LINE: usize = 16 * 1024;

/// The `detail` ServiceNow gives with an unhandled exception or a cancelled transaction.
pub(crate) const DEBUG_HINT: &str = "Check logs for error trace or enable glide.rest.debug property to verify REST request processing";

/// A JSON string literal (quotes and escapes included).
pub(crate) fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

pub(crate) fn with_body(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Resp {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    if let Ok(v) = HeaderValue::from_str(content_type) {
        r.headers_mut().insert(CONTENT_TYPE, v);
    }
    r
}

pub(crate) fn json(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    with_body(status, JSON, body)
}

pub(crate) fn json_value(status: StatusCode, value: &serde_json::Value) -> Resp {
    json(status, serde_json::to_vec(value).unwrap_or_default())
}

/// `{"result": value}`.
pub(crate) fn result(status: StatusCode, value: &serde_json::Value) -> Resp {
    json_value(status, &serde_json::json!({ "result": value }))
}

pub(crate) fn empty(status: StatusCode) -> Resp {
    let mut r = Response::new(Bytes::new());
    *r.status_mut() = status;
    r
}

/// ServiceNow's error envelope. `detail: None` renders `"detail":null`.
pub(crate) fn error_body(message: &str, detail: Option<&str>) -> String {
    format!(
        "{{\"error\":{{\"message\":{},\"detail\":{}}},\"status\":\"failure\"}}",
        quote(message),
        detail.map(quote).unwrap_or_else(|| "null".to_owned())
    )
}

pub(crate) fn error(status: StatusCode, message: &str, detail: Option<&str>) -> Resp {
    json(status, error_body(message, detail))
}

pub(crate) fn unauthorized() -> Resp {
    let mut r = error(
        StatusCode::UNAUTHORIZED,
        "User Not Authenticated",
        Some("Required to provide Auth information"),
    );
    r.headers_mut().insert(
        http::header::WWW_AUTHENTICATE,
        HeaderValue::from_static("BASIC realm=\"Service-now\""),
    );
    r
}

pub(crate) fn no_record() -> Resp {
    error(
        StatusCode::NOT_FOUND,
        "No Record found",
        Some("Record doesn't exist or ACL restricts the record retrieval"),
    )
}

pub(crate) fn no_records_v1() -> Resp {
    error(
        StatusCode::NOT_FOUND,
        "No Record found",
        Some("Records matching query not found. Check query parameter or offset parameter"),
    )
}

pub(crate) fn invalid_table(table: &str) -> Resp {
    error(
        StatusCode::BAD_REQUEST,
        &format!("Invalid table {table}"),
        None,
    )
}

pub(crate) fn acl(operation: &str) -> Resp {
    error(
        StatusCode::FORBIDDEN,
        "Operation Failed",
        Some(&format!(
            "ACL Exception {operation} Failed due to security constraints"
        )),
    )
}

/// The response for a database error: 400 `Invalid table`, 404, 400 `Invalid query` or
/// `Invalid field value`, else 500.
pub(crate) fn db_error(e: &DbError) -> Resp {
    match e {
        DbError::InvalidTable(t) => invalid_table(t),
        DbError::NotFound => no_record(),
        DbError::InvalidQuery(m) => bad_request("Invalid query", m),
        DbError::InvalidField { field, reason } => {
            bad_request("Invalid field value", &format!("{field}: {reason}"))
        }
        other => error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Exception while executing request: null",
            Some(&other.to_string()),
        ),
    }
}

pub(crate) fn bad_request(message: &str, detail: &str) -> Resp {
    error(StatusCode::BAD_REQUEST, message, Some(detail))
}

pub(crate) fn too_large(len: u64, max: usize) -> Resp {
    error(
        StatusCode::BAD_REQUEST,
        "Exception while reading request",
        Some(&format!(
            "Rejected large REST payload with content-length = {len} bytes. Max allowed: {max} bytes."
        )),
    )
}

pub(crate) fn unknown_resource() -> Resp {
    error(
        StatusCode::BAD_REQUEST,
        "Requested URI does not represent any resource",
        None,
    )
}

pub(crate) fn method_not_allowed() -> Resp {
    error(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not Supported",
        Some("The requested method is not supported by this resource"),
    )
}

pub(crate) fn oauth_denied() -> Resp {
    json(
        StatusCode::UNAUTHORIZED,
        "{\"error_description\":\"access_denied\",\"error\":\"server_error\"}",
    )
}

/// The page a hibernating developer instance answers every request with.
pub(crate) const HIBERNATION_PAGE: &str = "<html><head><title>Instance Hibernating page</title>\
<meta charset=\"utf-8\"></head><body><div class=\"container\"><h1>Your instance is hibernating</h1>\
<p>Developer instances hibernate after a period of inactivity. Sign in to wake it up.</p>\
<a class=\"btn\" href=\"https://developer.servicenow.com/dev.do#!/home?wu=true\">Sign in</a>\
</div></body></html>";

pub(crate) fn hibernating() -> Resp {
    with_body(StatusCode::OK, "text/html", HIBERNATION_PAGE)
}
