//! The Attachment API: `/api/now[/v1]/attachment...`. Metadata lives in `sys_attachment`,
//! the bytes in the instance's blob store.

use bytes::Bytes;
use http::header::{CONTENT_DISPOSITION, CONTENT_TYPE, HeaderValue, LOCATION};
use http::{Method, StatusCode};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::blobs::PutError;
use super::request::Req;
use super::respond::{self, Resp, db_error};
use crate::db::{DisplayValue, RenderOpts};

pub(crate) async fn handle(req: &mut Req, segments: &[&str]) -> Resp {
    match (req.method.clone(), segments) {
        (Method::GET | Method::HEAD, []) => list(req),
        (Method::POST, ["file"]) => upload_raw(req).await,
        (Method::POST, ["upload"]) => upload_multipart(req).await,
        (Method::GET | Method::HEAD, [id]) => match metadata(req, id) {
            Some(meta) => respond::result(StatusCode::OK, &Value::Object(meta)),
            None => respond::no_record(),
        },
        (Method::GET | Method::HEAD, [id, "file"]) => download(req, id).await,
        (Method::DELETE, [id]) => delete(req, id).await,
        (Method::PATCH, [id]) => rename(req, id).await,
        _ => respond::method_not_allowed(),
    }
}

/// The metadata object: every `sys_attachment` field as a string, plus `download_link`
/// and the creator's and updater's names.
fn metadata(req: &Req, sys_id: &str) -> Option<Map<String, Value>> {
    let db = req.state.db();
    let rec = db.get("sys_attachment", sys_id)?;
    Some(metadata_of(req, &db, rec))
}

fn metadata_of(req: &Req, db: &crate::db::Db, rec: &crate::db::Record) -> Map<String, Value> {
    let link_base = req.link_base();
    let opts = RenderOpts {
        fields: None,
        display_value: DisplayValue::False,
        exclude_reference_link: true,
        link_base: &link_base,
    };
    let mut out = Vec::with_capacity(1024);
    db.render("sys_attachment", rec, &opts, &mut out);
    let mut meta = match serde_json::from_slice::<Value>(&out) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let name_of = |user_name: Option<&str>| {
        user_name
            .and_then(|u| db.user_by_name(u))
            .and_then(|r| r.get("name"))
            .unwrap_or("")
            .to_owned()
    };
    meta.insert(
        "created_by_name".into(),
        Value::String(name_of(rec.get("sys_created_by"))),
    );
    meta.insert(
        "updated_by_name".into(),
        Value::String(name_of(rec.get("sys_updated_by"))),
    );
    meta.insert(
        "download_link".into(),
        Value::String(format!("{link_base}/attachment/{}/file", rec.sys_id())),
    );
    meta
}

fn list(req: &Req) -> Resp {
    let limit = match req.params.number("sysparm_limit", 1000) {
        0 => 1000,
        n => n,
    };
    let offset = req.params.number("sysparm_offset", 0);
    let query = req.effective_query();
    let ctx = req.eval_ctx();
    let db = req.state.db();
    let listing = match db.list("sys_attachment", &query, &ctx, offset, limit) {
        Ok(l) => l,
        Err(e) => return db_error(&e),
    };
    let items: Vec<Value> = listing
        .rows
        .iter()
        .map(|rec| Value::Object(metadata_of(req, &db, rec)))
        .collect();
    let total = listing.total;
    drop(db);
    let mut resp = respond::result(StatusCode::OK, &Value::Array(items));
    resp.headers_mut()
        .insert("x-total-count", HeaderValue::from(total as u64));
    resp
}

fn missing(detail: &str) -> Resp {
    respond::bad_request("Missing mandatory parameter", detail)
}

async fn upload_raw(req: &mut Req) -> Resp {
    let (Some(table), Some(record), Some(file_name)) = (
        req.params.get("table_name").map(str::to_owned),
        req.params.get("table_sys_id").map(str::to_owned),
        req.params.get("file_name").map(str::to_owned),
    ) else {
        return missing("table_name, table_sys_id and file_name are mandatory");
    };
    let Some(content_type) = req
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return missing("The Content-Type header is mandatory");
    };
    let max = req.state.config.max_attachment_bytes;
    let data = match req.read_body_max(max).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    store(req, &table, &record, &file_name, &content_type, data).await
}

async fn upload_multipart(req: &mut Req) -> Resp {
    let boundary = req
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|ct| multer::parse_boundary(ct).ok());
    let Some(boundary) = boundary else {
        return respond::bad_request(
            "Failed to create the attachment",
            "The request is not multipart/form-data with a boundary",
        );
    };
    let max = req.state.config.max_attachment_bytes;
    let data = match req.read_body_max(max).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let stream = futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(data) });
    let mut multipart = multer::Multipart::new(stream, boundary);
    let (mut table, mut record, mut name_field) = (None, None, None);
    let mut file: Option<(String, String, Bytes)> = None;
    let bad = |detail: String| respond::bad_request("Failed to create the attachment", &detail);
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => return bad(format!("Malformed multipart body: {e}")),
        };
        let name = field.name().unwrap_or("").to_owned();
        let file_name = super::disposition::file_name(field.headers());
        let ct = field
            .content_type()
            .map(|m| m.to_string())
            .unwrap_or_else(|| "application/octet-stream".to_owned());
        let bytes = match field.bytes().await {
            Ok(b) => b,
            Err(e) => return bad(format!("Malformed multipart body: {e}")),
        };
        if let Some(file_name) = file_name {
            file = Some((file_name, ct, bytes));
            // The file must be the last part; later parts are ignored.
            break;
        }
        let text = String::from_utf8_lossy(&bytes).into_owned();
        match name.as_str() {
            "table_name" => table = Some(text),
            "table_sys_id" | "record_sys_id" => record = Some(text),
            "file_name" => name_field = Some(text),
            _ => {}
        }
    }
    let (Some(table), Some(record)) = (table, record) else {
        return missing(
            "table_name and table_sys_id (or record_sys_id) parts must come before the file",
        );
    };
    let Some((file_name, ct, bytes)) = file else {
        return missing("No file part found");
    };
    let file_name = if file_name.is_empty() {
        name_field.unwrap_or_default()
    } else {
        file_name
    };
    store(req, &table, &record, &file_name, &ct, bytes).await
}

async fn store(
    req: &Req,
    table: &str,
    record: &str,
    file_name: &str,
    content_type: &str,
    data: Bytes,
) -> Resp {
    // Attaching needs write access to the target record's table.
    if !req.caller_role().is_some_and(|r| r.can_write_table(table)) {
        return respond::acl("Insert");
    }
    if req.state.db().get(table, record).is_none() {
        return respond::no_record();
    }
    let hash: String = Sha256::digest(&data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let size = data.len().to_string();
    let mut fields = Map::new();
    for (k, v) in [
        ("file_name", file_name),
        ("content_type", content_type),
        ("size_bytes", size.as_str()),
        ("size_compressed", size.as_str()),
        ("compressed", "false"),
        ("table_name", table),
        ("table_sys_id", record),
        ("hash", hash.as_str()),
        ("state", "available"),
        ("chunk_size_bytes", "700000"),
    ] {
        fields.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    // The bytes are stored (on disk: synced) first, under a sys_id reserved for the record;
    // then the metadata record is made and logged. A crash in between leaves only a file no
    // record refers to, removed at the next start.
    let sys_id = req.state.db_mut().reserve_sys_id();
    fields.insert("sys_id".to_owned(), Value::String(sys_id.clone()));
    if let Err(e) = req.state.blobs.put(&sys_id, data).await {
        return match e {
            PutError::Full { .. } => {
                respond::bad_request("Failed to create the attachment", &e.to_string())
            }
            PutError::Io(_) => respond::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Exception while executing request",
                Some(&e.to_string()),
            ),
        };
    }
    let ctx = req.eval_ctx();
    let logged = {
        let mut db = req.state.db_mut();
        match db.insert("sys_attachment", &fields, &ctx) {
            Ok(rec) if rec.sys_id() == sys_id => Ok(req.state.log_changes(&db, &[&sys_id])),
            Ok(_) => Err(respond::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Exception while executing request: null",
                Some("The reserved attachment sys_id was not used"),
            )),
            Err(e) => Err(db_error(&e)),
        }
    };
    let ticket = match logged {
        Ok(t) => t,
        Err(r) => {
            req.state.blobs.remove(&[sys_id]).await;
            return r;
        }
    };
    if let Err(r) = req.durable(ticket).await {
        return r;
    }
    let Some(meta) = metadata(req, &sys_id) else {
        return respond::no_record();
    };
    let mut resp = respond::result(StatusCode::CREATED, &Value::Object(meta));
    if let Ok(v) = HeaderValue::from_str(&format!("{}/attachment/{sys_id}/file", req.link_base())) {
        resp.headers_mut().insert(LOCATION, v);
    }
    resp
}

/// RFC 5987 `attr-char` percent-encoding for `filename*`.
fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `json` with every non-ASCII character written as a JSON `\uXXXX` escape (surrogate pairs
/// beyond the Basic Multilingual Plane). Only valid inside string literals, which is where
/// serde_json puts non-ASCII text.
fn ascii_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    out
}

async fn download(req: &Req, sys_id: &str) -> Resp {
    let Some(meta) = metadata(req, sys_id) else {
        return respond::no_record();
    };
    let data = req.state.blobs.get(sys_id).await.unwrap_or_default();
    let str_of = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let file_name = str_of("file_name");
    let content_type = match str_of("content_type") {
        ct if ct.is_empty() => "application/octet-stream".to_owned(),
        ct => ct,
    };
    let mut resp = respond::with_body(StatusCode::OK, &content_type, data);
    let ascii_name: String = file_name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let disposition = format!(
        "attachment;filename=\"{ascii_name}\";filename*=UTF-8''{}",
        pct_encode(&file_name)
    );
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        resp.headers_mut().insert(CONTENT_DISPOSITION, v);
    }
    if let Ok(json) = serde_json::to_string(&Value::Object(meta)) {
        // Non-ASCII as `\uXXXX` escapes: the same JSON, but plain ASCII in the header, which
        // clients that decode header bytes as Latin-1 read back correctly.
        if let Ok(v) = HeaderValue::from_str(&ascii_json(&json)) {
            resp.headers_mut().insert("x-attachment-metadata", v);
        }
    }
    resp
}

/// The table an attachment belongs to, or `None` when there is no such attachment.
fn target_table(req: &Req, sys_id: &str) -> Option<String> {
    let db = req.state.db();
    let rec = db.get("sys_attachment", sys_id)?;
    Some(rec.get("table_name").unwrap_or_default().to_owned())
}

async fn delete(req: &Req, sys_id: &str) -> Resp {
    let Some(table) = target_table(req, sys_id) else {
        return respond::no_record();
    };
    if !req.caller_role().is_some_and(|r| r.can_write_table(&table)) {
        return respond::acl("Delete");
    }
    let ticket = {
        let mut db = req.state.db_mut();
        if let Err(e) = db.delete("sys_attachment", sys_id) {
            return db_error(&e);
        }
        req.state.log_changes(&db, &[sys_id])
    };
    if let Err(r) = req.durable(ticket).await {
        return r;
    }
    req.state.blobs.remove(&[sys_id.to_owned()]).await;
    respond::empty(StatusCode::NO_CONTENT)
}

async fn rename(req: &mut Req, sys_id: &str) -> Resp {
    let Some(table) = target_table(req, sys_id) else {
        return respond::no_record();
    };
    if !req.caller_role().is_some_and(|r| r.can_write_table(&table)) {
        return respond::acl("Update");
    }
    let fields = match req.json_object().await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let Some(Value::String(name)) = fields.get("file_name") else {
        return missing("file_name is mandatory");
    };
    let mut update = Map::new();
    update.insert("file_name".into(), Value::String(name.clone()));
    let ctx = req.eval_ctx();
    let ticket = {
        let mut db = req.state.db_mut();
        if let Err(e) = db.update("sys_attachment", sys_id, &update, &ctx) {
            return db_error(&e);
        }
        req.state.log_changes(&db, &[sys_id])
    };
    match req.durable(ticket).await {
        Ok(()) => respond::empty(StatusCode::NO_CONTENT),
        Err(r) => r,
    }
}
