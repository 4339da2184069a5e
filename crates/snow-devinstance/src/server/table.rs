//! The Table API: `/api/now[/v1|/v2]/table/{table}[/{sys_id}]`.

use bytes::Bytes;
use http::header::{HeaderValue, LOCATION};
use http::{Method, StatusCode};

use super::request::Req;
use super::respond::{self, Resp, db_error};
use crate::db::EvalCtx;

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
        (Method::DELETE, Some(id)) => delete(req, table, id).await,
        _ => respond::method_not_allowed(),
    }
}

fn list(req: &Req, table: &str) -> Resp {
    let limit = match req.params.number("sysparm_limit", 10_000) {
        0 => 10_000,
        n => n,
    };
    let offset = req.params.number("sysparm_offset", 0);
    let no_count = req.params.flag("sysparm_no_count", false);
    let query = req.effective_query();
    let ctx = req.eval_ctx();
    let spec = req.render_spec(table);
    let opts = spec.opts();
    let db = req.state.db();
    let listing = match db.list(table, &query, &ctx, offset, limit) {
        Ok(l) => l,
        Err(e) => return db_error(&e),
    };
    if listing.rows.is_empty() && req.version.as_deref() == Some("v1") {
        return respond::no_records_v1();
    }
    let returned = listing.rows.len();
    let total = if no_count { None } else { Some(listing.total) };
    let link = if req.params.flag("sysparm_suppress_pagination_header", false) {
        None
    } else {
        link_header(req, limit, offset, total, returned)
    };
    if let Some(link) = &link {
        let line = "link: ".len() + link.len();
        if line > respond::MAX_HEADER_LINE {
            // The query cannot be echoed four times in a header any client reads: refuse
            // loudly rather than drop the Link header (a client following it would take the
            // first page for the last).
            return respond::error(
                StatusCode::URI_TOO_LONG,
                "Requested URI is too long",
                Some(&format!(
                    "The query is too long to repeat in the Link header ({line} bytes, at most {}); \
                     shorten sysparm_query or send sysparm_suppress_pagination_header=true",
                    respond::MAX_HEADER_LINE
                )),
            );
        }
    }
    let shown = if req.cancel_txn {
        listing.rows.len() / 2
    } else {
        listing.rows.len()
    };
    // A guess only, capped: a long `sysparm_fields` must not turn into a huge allocation.
    let per_row = spec.field_count().map_or(2048, |n| 16 + 64 * n.min(64));
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
    drop(db);

    let mut resp = respond::json(StatusCode::OK, Bytes::from(out));
    let count = total.unwrap_or(returned);
    resp.headers_mut()
        .insert("x-total-count", HeaderValue::from(count as u64));
    if let Some(v) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
        resp.headers_mut().insert(http::header::LINK, v);
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
    let spec = req.render_spec(table);
    let db = req.state.db();
    let rec = db.get(table, sys_id)?;
    let mut out = Vec::with_capacity(2048);
    out.extend_from_slice(b"{\"result\":");
    db.render(table, rec, &spec.opts(), &mut out);
    out.push(b'}');
    Some(out)
}

fn get_one(req: &Req, table: &str, sys_id: &str) -> Resp {
    match render_one(req, table, sys_id) {
        Some(body) => respond::json(StatusCode::OK, body),
        None => respond::no_record(),
    }
}

async fn create(req: &mut Req, table: &str) -> Resp {
    if !req.caller_role().is_some_and(|r| r.can_write_table(table)) {
        return respond::acl("Insert");
    }
    let fields = match req.json_object().await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let ctx = req.eval_ctx();
    let (sys_id, ticket) = {
        let mut db = req.state.db_mut();
        let sys_id = match db.insert(table, &fields, &ctx) {
            Ok(rec) => rec.sys_id().to_owned(),
            Err(e) => return db_error(&e),
        };
        let ticket = req.state.log_changes(&db, &[&sys_id]);
        (sys_id, ticket)
    };
    if let Err(r) = req.durable(ticket).await {
        return r;
    }
    let location = format!("{}/table/{table}/{sys_id}", req.link_base());
    let mut resp = if req.no_response_body() {
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
    let fields = match req.json_object().await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let ctx = req.eval_ctx();
    let ticket = {
        let mut db = req.state.db_mut();
        if let Err(e) = db.update(table, sys_id, &fields, &ctx) {
            return db_error(&e);
        }
        req.state.log_changes(&db, &[sys_id])
    };
    if let Err(r) = req.durable(ticket).await {
        return r;
    }
    if req.no_response_body() {
        return respond::empty(StatusCode::NO_CONTENT);
    }
    match render_one(req, table, sys_id) {
        Some(body) => respond::json(StatusCode::OK, body),
        None => respond::no_record(),
    }
}

async fn delete(req: &Req, table: &str, sys_id: &str) -> Resp {
    if req.state.db().get(table, sys_id).is_none() {
        return respond::no_record();
    }
    if !req.caller_role().is_some_and(|r| r.can_delete()) {
        return respond::acl("Delete");
    }
    let (attachments, ticket) = {
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
        let mut gone: Vec<&str> = vec![sys_id];
        gone.extend(attachments.iter().map(String::as_str));
        let ticket = req.state.log_changes(&db, &gone);
        (attachments, ticket)
    };
    if let Err(r) = req.durable(ticket).await {
        return r;
    }
    // The bytes go once the deletion is on disk: a crash before leaves them unreferenced,
    // and they are cleaned up at the next start.
    req.state.blobs.remove(&attachments).await;
    respond::empty(StatusCode::NO_CONTENT)
}
