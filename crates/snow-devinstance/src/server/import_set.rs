//! The Import Set API: `/api/now[/v1]/import/{staging_table}`.
//!
//! - `POST /import/{staging}`: one row, written to the staging table and transformed at once;
//!   201 `{"import_set":"ISET0010001","staging_table":…,"result":[{transform result}]}`.
//! - `POST /import/{staging}/insertMultiple`: `{"records":[…]}` (column names as keys) into a
//!   new import set; 200 `{"import_set_id":…,"multi_import_set_id":…}`. The rows are
//!   transformed before the answer (a real instance transforms them later by default).
//! - `GET /import/{staging}/{row sys_id}`: the transform result of one staging row.
//!
//! Loading needs write access to the staging table (admin); reads need none.

// Helpers return the error response itself, as the handlers do; these are cold paths.
#![allow(clippy::result_large_err)]

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::request::Req;
use super::respond::{self, Resp, db_error};
use crate::db::query::escape_value;
use crate::db::transform::{Outcome, TransformMap, map_for};
use crate::db::{Db, EvalCtx, schemas};

pub(crate) async fn handle(req: &mut Req, segments: &[&str]) -> Resp {
    let (staging, rest) = match segments.split_first() {
        Some((t, rest)) => (*t, rest),
        None => return respond::unknown_resource(),
    };
    if schemas().table(staging).is_none() {
        return respond::invalid_table(staging);
    }
    let Some(map) = map_for(staging) else {
        return respond::bad_request(
            &format!("Invalid staging table {staging}"),
            &format!(
                "{staging} is not an import set table (a table extending sys_import_set_row with a transform map)"
            ),
        );
    };
    match (req.method.clone(), rest) {
        (Method::POST, []) => insert_one(req, map).await,
        (Method::POST, ["insertMultiple"]) => insert_multiple(req, map).await,
        (Method::GET | Method::HEAD, [id]) => get_row(req, map, id),
        _ => respond::method_not_allowed(),
    }
}

fn may_load(req: &Req, map: &TransformMap) -> Result<(), Resp> {
    if req
        .caller_role()
        .is_some_and(|r| r.can_write_table(map.source))
    {
        Ok(())
    } else {
        Err(respond::acl("Insert"))
    }
}

/// The import set single-row loads of `staging` go to, created on first use.
fn open_set(
    db: &mut Db,
    staging: &str,
    ctx: &EvalCtx,
    changed: &mut Vec<String>,
) -> Result<String, Resp> {
    let q = format!("table_name={}^mode=synchronous", escape_value(staging));
    if let Some(rec) = db
        .list("sys_import_set", &q, ctx, 0, 1)
        .map_err(|e| db_error(&e))?
        .rows
        .first()
    {
        return Ok(rec.sys_id().to_owned());
    }
    new_set(db, staging, "synchronous", "", ctx, changed)
}

fn new_set(
    db: &mut Db,
    staging: &str,
    mode: &str,
    multi: &str,
    ctx: &EvalCtx,
    changed: &mut Vec<String>,
) -> Result<String, Resp> {
    let mut fields = Map::new();
    for (k, v) in [
        ("table_name", staging),
        ("mode", mode),
        ("state", "loading"),
        ("multi_import_set", multi),
        ("short_description", "Loaded through the Import Set API"),
    ] {
        fields.insert(k.to_owned(), Value::String(v.to_owned()));
    }
    let id = db
        .insert("sys_import_set", &fields, ctx)
        .map_err(|e| db_error(&e))?
        .sys_id()
        .to_owned();
    changed.push(id.clone());
    Ok(id)
}

/// How many rows import set `set` holds in `staging`.
fn rows_in(db: &Db, staging: &str, set: &str, ctx: &EvalCtx) -> usize {
    db.list(staging, &format!("sys_import_set={set}"), ctx, 0, 0)
        .map_or(0, |l| l.total)
}

fn set_number(db: &Db, set: &str) -> String {
    db.get("sys_import_set", set)
        .and_then(|r| r.get("number"))
        .unwrap_or_default()
        .to_owned()
}

/// One transform result as the API sends it.
fn result_json(
    db: &Db,
    link_base: &str,
    map: &TransformMap,
    state: &str,
    target: &str,
    message: Option<&str>,
) -> Value {
    let schema = schemas().table(map.target);
    let display_name = schema.map_or("", |s| s.fields[s.display_field].name);
    let display_value = db
        .get(map.target, target)
        .map(|r| db.display_value(r).to_owned())
        .unwrap_or_default();
    let mut m = Map::new();
    let mut put = |k: &str, v: &str| {
        m.insert(k.to_owned(), Value::String(v.to_owned()));
    };
    put("transform_map", map.name);
    put("table", map.target);
    put("display_name", display_name);
    put("display_value", &display_value);
    put(
        "record_link",
        &if target.is_empty() {
            String::new()
        } else {
            format!("{link_base}/table/{}/{target}", map.target)
        },
    );
    put("status", state);
    put("sys_id", target);
    if let Some(msg) = message.filter(|m| !m.is_empty()) {
        put(
            if state == "error" {
                "error_message"
            } else {
                "status_message"
            },
            msg,
        );
    }
    Value::Object(m)
}

fn outcome_message(o: &Outcome) -> Option<&str> {
    match o {
        Outcome::Error(e) => Some(e),
        Outcome::Ignored(_, why) => Some(why),
        _ => None,
    }
}

async fn insert_one(req: &mut Req, map: &'static TransformMap) -> Resp {
    if let Err(r) = may_load(req, map) {
        return r;
    }
    let fields = match req.json_object().await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let ctx = req.eval_ctx();
    let link_base = req.link_base();
    let (body, ticket) = {
        let mut db = req.state.db_mut();
        let mut changed = Vec::new();
        let set = match open_set(&mut db, map.source, &ctx, &mut changed) {
            Ok(s) => s,
            Err(r) => return r,
        };
        let n = rows_in(&db, map.source, &set, &ctx) + 1;
        let done = match db.import_row(map, &set, n, &fields, &ctx, &mut changed) {
            Ok(t) => t,
            Err(e) => return db_error(&e),
        };
        let o = &done.outcome;
        let item = result_json(
            &db,
            &link_base,
            map,
            o.state(),
            o.target().unwrap_or(""),
            outcome_message(o),
        );
        let body = json!({
            "import_set": set_number(&db, &set),
            "staging_table": map.source,
            "result": [item],
        });
        let ids: Vec<&str> = changed.iter().map(String::as_str).collect();
        (body, req.state.log_changes(&db, &ids))
    };
    if let Err(r) = req.durable(ticket).await {
        return r;
    }
    respond::json_value(StatusCode::CREATED, &body)
}

async fn insert_multiple(req: &mut Req, map: &'static TransformMap) -> Resp {
    if let Err(r) = may_load(req, map) {
        return r;
    }
    let body = match req.json_object().await {
        Ok(f) => f,
        Err(r) => return r,
    };
    let bad = |detail: &str| respond::bad_request("Exception while reading request", detail);
    let Some(Value::Array(records)) = body.get("records") else {
        return bad("The payload must be {\"records\":[{…},…]}");
    };
    let mut rows = Vec::with_capacity(records.len());
    for r in records {
        match r {
            Value::Object(m) => rows.push(m),
            _ => return bad("Every item of records must be a JSON object"),
        }
    }
    let multi = req
        .params
        .get("multi_import_set_id")
        .filter(|s| crate::db::is_sys_id(s))
        .map(str::to_owned);
    let ctx = req.eval_ctx();
    let (body, ticket) = {
        let mut db = req.state.db_mut();
        let mut changed = Vec::new();
        let multi = multi.unwrap_or_else(|| db.reserve_sys_id());
        let set = match new_set(
            &mut db,
            map.source,
            "asynchronous",
            &multi,
            &ctx,
            &mut changed,
        ) {
            Ok(s) => s,
            Err(r) => return r,
        };
        for (i, row) in rows.iter().enumerate() {
            if let Err(e) = db.import_row(map, &set, i + 1, row, &ctx, &mut changed) {
                return db_error(&e);
            }
        }
        let mut done = Map::new();
        done.insert("state".into(), Value::String("processed".into()));
        if let Err(e) = db.update("sys_import_set", &set, &done, &ctx) {
            return db_error(&e);
        }
        let ids: Vec<&str> = changed.iter().map(String::as_str).collect();
        let body = json!({ "import_set_id": set, "multi_import_set_id": multi });
        (body, req.state.log_changes(&db, &ids))
    };
    if let Err(r) = req.durable(ticket).await {
        return r;
    }
    respond::json_value(StatusCode::OK, &body)
}

fn get_row(req: &Req, map: &'static TransformMap, sys_id: &str) -> Resp {
    let db = req.state.db();
    let Some(row) = db.get(map.source, sys_id) else {
        return respond::no_record();
    };
    let field = |k: &str| row.get(k).unwrap_or_default();
    let state = field("sys_import_state");
    let message = if state == "error" {
        field("sys_row_error")
    } else {
        field("sys_import_state_comment")
    };
    let item = result_json(
        &db,
        &req.link_base(),
        map,
        state,
        field("sys_target_sys_id"),
        Some(message),
    );
    let body = json!({
        "import_set": set_number(&db, field("sys_import_set")),
        "staging_table": map.source,
        "result": [item],
    });
    respond::json_value(StatusCode::OK, &body)
}
