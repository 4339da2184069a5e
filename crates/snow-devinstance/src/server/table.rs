//! The Table API: `/api/now[/v1|/v2]/table/{table}[/{sys_id}]`.

use bytes::Bytes;
use http::header::{HeaderValue, LOCATION};
use http::{Method, StatusCode};

use super::respond::{self, Resp};
use super::service::Req;
use crate::db::{DbError, DisplayValue, EvalCtx, RenderOpts};

/// Transaction-cancelled error member appended to a cut result stream (KB0778443).
pub(crate) const CANCELLED_TAIL: &str = "],\"error\":{\"detail\":\"Transaction cancelled: maximum execution time exceeded Check logs for error trace or enable glide.rest.debug property to verify REST request processing\",\"message\":\"Transaction cancelled: maximum execution time exceeded\"},\"status\":\"failure\"}";

/// A list body that grows past this many bytes is cut short with the transaction-cancelled
/// `error` member (KB0778443), so no single request can exhaust memory.
pub(crate) const MAX_LIST_BODY: usize = 128 * 1024 * 1024;

/// Upper bound of the response buffer reserved up front for a list.
const MAX_PREALLOCATED: usize = 32 * 1024 * 1024;

pub(crate) async fn handle(req: &mut Req, segments: &[&str]) -> Resp {
    let (table, sys_id) = match segments {
        [table] => (*table, None),
        [table, id] => (*table, Some(*id)),
        _ => return respond::unknown_resource(),
    };
    if !req.state.db().has_table(table) {
        return respond::invalid_table(table);
    }
    match (req.method.clone(), sys_id) {
        (Method::GET | Method::HEAD, None) => list(req, table),
        (Method::GET | Method::HEAD, Some(id)) => get_one(req, table, id),
        (Method::POST, None) => create(req, table).await,
        (Method::PUT | Method::PATCH, Some(id)) => update(req, table, id).await,
        (Method::DELETE, Some(id)) => delete(req, table, id),
        _ => respond::method_not_allowed(),
    }
}

pub(crate) fn display_value(req: &Req) -> DisplayValue {
    match req.params.get("sysparm_display_value").map(str::trim) {
        Some(v) if v.eq_ignore_ascii_case("true") => DisplayValue::True,
        Some(v) if v.eq_ignore_ascii_case("all") => DisplayValue::All,
        _ => DisplayValue::False,
    }
}

pub(crate) fn eval_ctx(req: &Req) -> EvalCtx {
    let user_sys_id = req
        .caller
        .as_ref()
        .and_then(|c| {
            req.state
                .db()
                .user_by_name(&c.name)
                .map(|r| r.sys_id().to_owned())
        })
        .unwrap_or_default();
    EvalCtx {
        user_sys_id,
        now: req.state.now(),
    }
}

/// `sysparm_query` combined with name-value pair filters.
pub(crate) fn effective_query(req: &Req) -> String {
    let mut q = req.params.get("sysparm_query").unwrap_or("").to_owned();
    for (field, value) in req.params.name_value_filters() {
        if !q.is_empty() {
            q.push('^');
        }
        q.push_str(field);
        q.push('=');
        q.push_str(&value.replace('^', "^^"));
    }
    q
}

pub(crate) fn db_error(e: &DbError) -> Resp {
    match e {
        DbError::InvalidTable(t) => respond::invalid_table(t),
        DbError::NotFound => respond::no_record(),
        DbError::InvalidQuery(m) => respond::bad_request("Invalid query", m),
        DbError::InvalidField { field, reason } => {
            respond::bad_request("Invalid field value", &format!("{field}: {reason}"))
        }
        other => respond::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Exception while executing request: null",
            Some(&other.to_string()),
        ),
    }
}

fn list(req: &Req, table: &str) -> Resp {
    let limit = match req.params.number("sysparm_limit", 10_000) {
        0 => 10_000,
        n => n,
    };
    let offset = req.params.number("sysparm_offset", 0);
    let no_count = req.params.flag("sysparm_no_count", false);
    let query = effective_query(req);
    let ctx = eval_ctx(req);
    let fields = req
        .params
        .fields()
        .map(|f| crate::db::render::usable_fields(table, &f));
    let link_base = req.link_base();
    let opts = RenderOpts {
        fields: fields.as_deref(),
        display_value: display_value(req),
        exclude_reference_link: req.params.flag("sysparm_exclude_reference_link", false),
        link_base: &link_base,
    };
    let db = req.state.db();
    let listing = match db.list(table, &query, &ctx, offset, limit) {
        Ok(l) => l,
        Err(e) => return db_error(&e),
    };
    if listing.rows.is_empty() && req.version.as_deref() == Some("v1") {
        return respond::no_records_v1();
    }
    let shown = if req.cancel_txn {
        listing.rows.len() / 2
    } else {
        listing.rows.len()
    };
    // A guess only, capped: a long `sysparm_fields` must not turn into a huge allocation.
    let per_row = fields.as_ref().map_or(2048, |f| 16 + 64 * f.len().min(64));
    let mut out = Vec::with_capacity(
        listing
            .rows
            .len()
            .saturating_mul(per_row)
            .min(MAX_PREALLOCATED)
            + 64,
    );
    out.extend_from_slice(b"{\"result\":[");
    let mut cancelled = req.cancel_txn;
    for (i, rec) in listing.rows.iter().take(shown).enumerate() {
        if out.len() > MAX_LIST_BODY {
            // Like a real instance hitting its transaction quota mid-stream: a 200 whose
            // result stops early, followed by an `error` member. Memory stays bounded.
            cancelled = true;
            break;
        }
        if i > 0 {
            out.push(b',');
        }
        db.render(table, rec, &opts, &mut out);
    }
    if cancelled {
        out.extend_from_slice(CANCELLED_TAIL.as_bytes());
    } else {
        out.extend_from_slice(b"]}");
    }
    let returned = listing.rows.len();
    let total = if no_count { None } else { Some(listing.total) };
    drop(db);

    let mut resp = respond::json(StatusCode::OK, Bytes::from(out));
    let count = total.unwrap_or(returned);
    resp.headers_mut()
        .insert("x-total-count", HeaderValue::from(count as u64));
    if !req.params.flag("sysparm_suppress_pagination_header", false) {
        if let Some(link) = link_header(req, limit, offset, total, returned) {
            if let Ok(v) = HeaderValue::from_str(&link) {
                resp.headers_mut().insert(http::header::LINK, v);
            }
        }
    }
    resp
}

/// ServiceNow's `Link` header: `<url>;rel="first",<url>;rel="prev",<url>;rel="next",<url>;rel="last"`,
/// absent when everything fits on one page.
fn link_header(
    req: &Req,
    limit: usize,
    offset: usize,
    total: Option<usize>,
    returned: usize,
) -> Option<String> {
    let more = match total {
        Some(n) => offset.saturating_add(limit) < n,
        None => returned >= limit,
    };
    if offset == 0 && !more {
        return None;
    }
    let url = |off: usize| {
        format!(
            "<{}{}?{}>",
            req.state.base_url,
            req.path,
            req.params.with_page(limit, off)
        )
    };
    let mut parts = vec![format!("{};rel=\"first\"", url(0))];
    if offset > 0 {
        parts.push(format!(
            "{};rel=\"prev\"",
            url(offset.saturating_sub(limit))
        ));
    }
    if more {
        parts.push(format!(
            "{};rel=\"next\"",
            url(offset.saturating_add(limit))
        ));
    }
    if let Some(n) = total {
        let last = n.saturating_sub(1) / limit * limit;
        parts.push(format!("{};rel=\"last\"", url(last)));
    }
    Some(parts.join(","))
}

fn render_one(req: &Req, table: &str, sys_id: &str) -> Option<Vec<u8>> {
    let fields = req
        .params
        .fields()
        .map(|f| crate::db::render::usable_fields(table, &f));
    let link_base = req.link_base();
    let opts = RenderOpts {
        fields: fields.as_deref(),
        display_value: display_value(req),
        exclude_reference_link: req.params.flag("sysparm_exclude_reference_link", false),
        link_base: &link_base,
    };
    let db = req.state.db();
    let rec = db.get(table, sys_id)?;
    let mut out = Vec::with_capacity(2048);
    out.extend_from_slice(b"{\"result\":");
    db.render(table, rec, &opts, &mut out);
    out.push(b'}');
    Some(out)
}

fn get_one(req: &Req, table: &str, sys_id: &str) -> Resp {
    match render_one(req, table, sys_id) {
        Some(body) => respond::json(StatusCode::OK, body),
        None => respond::no_record(),
    }
}

/// The JSON object of a write request, or the error response.
pub(crate) async fn json_object(
    req: &mut Req,
) -> Result<serde_json::Map<String, serde_json::Value>, Resp> {
    if let Some(ct) = req.headers.get(http::header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim().to_owned();
        if !essence.is_empty() && essence != "application/json" && !essence.ends_with("+json") {
            return Err(respond::error(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Unsupported Media Type",
                Some(&format!(
                    "Content-Type {essence} is not supported; send application/json"
                )),
            ));
        }
    }
    let body = req.read_body().await?;
    let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
        respond::bad_request(
            "Exception while reading request",
            &format!("The payload is not valid JSON: {e}"),
        )
    })?;
    match value {
        serde_json::Value::Object(map) => Ok(map),
        // Only the first record of an array is processed, as ServiceNow does.
        serde_json::Value::Array(items) => match items.into_iter().next() {
            Some(serde_json::Value::Object(map)) => Ok(map),
            _ => Err(respond::bad_request(
                "Exception while reading request",
                "The payload must be a JSON object",
            )),
        },
        _ => Err(respond::bad_request(
            "Exception while reading request",
            "The payload must be a JSON object",
        )),
    }
}

fn no_response_body(req: &Req) -> bool {
    req.headers
        .get("x-no-response-body")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
}

async fn create(req: &mut Req, table: &str) -> Resp {
    if !req.caller_role().is_some_and(|r| r.can_write_table(table)) {
        return respond::acl("Insert");
    }
    let fields = match json_object(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let ctx = eval_ctx(req);
    let sys_id = match req.state.db_mut().insert(table, &fields, &ctx) {
        Ok(rec) => rec.sys_id().to_owned(),
        Err(e) => return db_error(&e),
    };
    let location = format!("{}/table/{table}/{sys_id}", req.link_base());
    let mut resp = if no_response_body(req) {
        respond::empty(StatusCode::NO_CONTENT)
    } else {
        match render_one(req, table, &sys_id) {
            Some(body) => respond::json(StatusCode::CREATED, body),
            None => respond::no_record(),
        }
    };
    if let Ok(v) = HeaderValue::from_str(&location) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

async fn update(req: &mut Req, table: &str, sys_id: &str) -> Resp {
    if !req.caller_role().is_some_and(|r| r.can_write_table(table)) {
        return respond::acl("Update");
    }
    if req.state.db().get(table, sys_id).is_none() {
        return respond::no_record();
    }
    let fields = match json_object(req).await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let ctx = eval_ctx(req);
    if let Err(e) = req.state.db_mut().update(table, sys_id, &fields, &ctx) {
        return db_error(&e);
    }
    if no_response_body(req) {
        return respond::empty(StatusCode::NO_CONTENT);
    }
    match render_one(req, table, sys_id) {
        Some(body) => respond::json(StatusCode::OK, body),
        None => respond::no_record(),
    }
}

fn delete(req: &Req, table: &str, sys_id: &str) -> Resp {
    if req.state.db().get(table, sys_id).is_none() {
        return respond::no_record();
    }
    if !req.caller_role().is_some_and(|r| r.can_delete()) {
        return respond::acl("Delete");
    }
    let mut db = req.state.db_mut();
    if let Err(e) = db.delete(table, sys_id) {
        return db_error(&e);
    }
    // As on a real instance, a record's attachments go with it (metadata and content).
    let attachments: Vec<String> = db
        .list(
            "sys_attachment",
            &format!("table_sys_id={sys_id}"),
            &EvalCtx::system(),
            0,
            usize::MAX,
        )
        .map(|l| l.rows.iter().map(|r| r.sys_id().to_owned()).collect())
        .unwrap_or_default();
    for id in &attachments {
        let _ = db.delete("sys_attachment", id);
    }
    drop(db);
    let mut blobs = req
        .state
        .blobs
        .write()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    for id in &attachments {
        blobs.remove(id.as_str());
    }
    respond::empty(StatusCode::NO_CONTENT)
}
