//! Which handler answers a request that made it through the pipeline.

use http::{Method, StatusCode};

use super::request::Req;
use super::respond::{self, Resp};
use super::{aggregate, attachment, batch, cmdb, import_set, oauth, table};

/// Route to the token endpoints, the Table, Attachment, Aggregate, Import Set, Batch or CMDB
/// Instance API.
pub(crate) async fn route(req: &mut Req) -> Resp {
    let path = req.path.clone();
    match path.as_str() {
        "/oauth_token.do" => {
            if req.method != Method::POST {
                return respond::oauth_denied();
            }
            // Every failure of the token endpoint, an unreadable or oversized body included,
            // is the same 401 `access_denied` body.
            return match req.read_body().await {
                Ok(b) => oauth::token(&req.state, &req.headers, &b),
                Err(_) => respond::oauth_denied(),
            };
        }
        "/oauth_revoke_token.do" => {
            let b = req.read_body().await.unwrap_or_default();
            return oauth::revoke(&req.state, &req.query, &b);
        }
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/api/now/") else {
        return respond::unknown_resource();
    };
    let mut segments: Vec<&str> = rest.split('/').filter(|s| !s.is_empty()).collect();
    if segments.first().is_some_and(|s| {
        s.len() >= 2 && s.starts_with('v') && s[1..].bytes().all(|b| b.is_ascii_digit())
    }) {
        req.version = Some(segments.remove(0).to_owned());
    }
    let is_list = segments.len() == 2
        && segments[0] == "table"
        && matches!(req.method, Method::GET | Method::HEAD);
    if req.cancel_txn && !is_list {
        // Cancelled before any output: a plain 500 (KB1297438).
        return respond::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Transaction cancelled: maximum execution time exceeded",
            Some(respond::DEBUG_HINT),
        );
    }
    match segments.split_first() {
        Some((&"table", rest)) => table::handle(req, rest).await,
        Some((&"attachment", rest)) => attachment::handle(req, rest).await,
        Some((&"stats", rest)) => aggregate::handle(req, rest),
        Some((&"import", rest)) => import_set::handle(req, rest).await,
        Some((&"batch", rest)) => batch::handle(req, rest).await,
        Some((&"cmdb", rest)) => cmdb::handle(req, rest).await,
        _ => respond::unknown_resource(),
    }
}
