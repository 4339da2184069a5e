//! The CMDB Instance API: `/api/now[/v1]/cmdb/instance/{class}`.
//!
//! | call | answer |
//! |---|---|
//! | `GET /{class}` (`sysparm_query`, `sysparm_limit`, `sysparm_offset`) | `[{"sys_id","name"}]` + `X-Total-Count` |
//! | `GET /{class}/{sys_id}` | `{"attributes","inbound_relations","outbound_relations"}` |
//! | `POST /{class}` `{"attributes","source","inbound_relations","outbound_relations"}` | the new CI |
//! | `PUT`/`PATCH /{class}/{sys_id}` `{"attributes","source"}` | the CI |
//! | `POST /{class}/{sys_id}/relation` `{"inbound_relations","outbound_relations","source"}` | the CI |
//! | `DELETE /{class}/{sys_id}/relation/{rel_sys_id}` | the CI |
//!
//! Every success is 200. Relations are `cmdb_rel_ci` records: an outbound relation has the CI
//! as `parent`, an inbound one as `child`. Writes need write access to the class (admin);
//! deleting a relation needs delete rights (admin); reads need none.

// Helpers return the error response itself, as the handlers do; these are cold paths.
#![allow(clippy::result_large_err)]

use http::header::HeaderValue;
use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::request::Req;
use super::respond::{self, Resp, db_error};
use super::wal::Ticket;
use crate::db::{Db, DisplayValue, EvalCtx, Record, RenderOpts, schemas};

pub(crate) async fn handle(req: &mut Req, segments: &[&str]) -> Resp {
    let Some((&"instance", rest)) = segments.split_first() else {
        return respond::unknown_resource();
    };
    let Some((&class, rest)) = rest.split_first() else {
        return respond::unknown_resource();
    };
    match (schemas().table("cmdb_ci"), schemas().table(class)) {
        (_, None) => return respond::invalid_table(class),
        (Some(ci), Some(c)) if ci.family.contains(&c.id) => {}
        _ => {
            return respond::bad_request(
                &format!("Invalid class {class}"),
                &format!("{class} is not a CMDB class (cmdb_ci or a class extending it)"),
            );
        }
    }
    match (req.method.clone(), rest) {
        (Method::GET | Method::HEAD, []) => list(req, class),
        (Method::GET | Method::HEAD, [id]) => get(req, class, id),
        (Method::POST, []) => create(req, class).await,
        (Method::PUT | Method::PATCH, [id]) => update(req, class, id).await,
        (Method::POST, [id, "relation"]) => add_relations(req, class, id).await,
        (Method::DELETE, [id, "relation", rel]) => delete_relation(req, class, id, rel).await,
        _ => respond::method_not_allowed(),
    }
}

fn list(req: &Req, class: &str) -> Resp {
    let limit = match req.params.number("sysparm_limit", 10_000) {
        0 => 10_000,
        n => n,
    };
    let offset = req.params.number("sysparm_offset", 0);
    let ctx = req.eval_ctx();
    let db = req.state.db();
    let listing = match db.list(class, &req.effective_query(), &ctx, offset, limit) {
        Ok(l) => l,
        Err(e) => return db_error(&e),
    };
    let items: Vec<Value> = listing
        .rows
        .iter()
        .map(|r| json!({"sys_id": r.sys_id(), "name": r.get("name").unwrap_or_default()}))
        .collect();
    let mut resp = respond::result(StatusCode::OK, &Value::Array(items));
    resp.headers_mut()
        .insert("x-total-count", HeaderValue::from(listing.total as u64));
    resp
}

/// The CI as the API shows it: its attributes and its relations both ways.
fn ci_json(req: &Req, db: &Db, rec: &Record) -> Value {
    let link_base = req.link_base();
    let opts = RenderOpts {
        fields: None,
        display_value: DisplayValue::False,
        exclude_reference_link: false,
        link_base: &link_base,
    };
    let mut out = Vec::with_capacity(2048);
    db.render(rec.class_name(), rec, &opts, &mut out);
    let attributes: Value = serde_json::from_slice(&out).unwrap_or_else(|_| json!({}));
    let id = rec.sys_id();
    let ctx = EvalCtx::system();
    let relations = |mine: &str, other: &str| -> Vec<Value> {
        db.list("cmdb_rel_ci", &format!("{mine}={id}"), &ctx, 0, usize::MAX)
            .map(|l| l.rows)
            .unwrap_or_default()
            .into_iter()
            .map(|rel| {
                let target = rel.get(other).unwrap_or_default();
                let ty = rel.get("type").unwrap_or_default();
                json!({
                    "sys_id": rel.sys_id(),
                    "target": {
                        "display_value": db.lookup(target).map(|t| db.display_value(t)).unwrap_or(""),
                        "link": format!("{link_base}/cmdb/instance/cmdb_ci/{target}"),
                        "value": target,
                    },
                    "type": {
                        "display_value": db.lookup(ty).map(|t| db.display_value(t)).unwrap_or(""),
                        "link": format!("{link_base}/table/cmdb_rel_type/{ty}"),
                        "value": ty,
                    },
                })
            })
            .collect()
    };
    json!({
        "attributes": attributes,
        "inbound_relations": relations("child", "parent"),
        "outbound_relations": relations("parent", "child"),
    })
}

fn get(req: &Req, class: &str, sys_id: &str) -> Resp {
    let db = req.state.db();
    match db.get(class, sys_id) {
        Some(rec) => respond::result(StatusCode::OK, &ci_json(req, &db, rec)),
        None => respond::no_record(),
    }
}

/// `source`, mandatory on every write.
fn source(body: &Map<String, Value>) -> Result<String, Resp> {
    match body.get("source") {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
        _ => Err(respond::bad_request(
            "Missing mandatory parameter",
            "source is mandatory: the entity that reports the CI (a discovery_source choice, such as ServiceNow)",
        )),
    }
}

/// A relation to add: `(parent, child, type)`.
type NewRelation = (String, String, String);

/// The relations of a body, checked: each target a CI, each type a relationship type.
fn relations(db: &Db, ci: &str, body: &Map<String, Value>) -> Result<Vec<NewRelation>, Resp> {
    let mut out = Vec::new();
    for (key, outbound) in [("inbound_relations", false), ("outbound_relations", true)] {
        let items = match body.get(key) {
            None | Some(Value::Null) => continue,
            Some(Value::Array(items)) => items,
            Some(_) => return Err(bad_relation(&format!("{key} must be an array"))),
        };
        for item in items {
            let field = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let (target, ty) = (field("target"), field("type"));
            if db.get("cmdb_ci", &target).is_none() {
                return Err(bad_relation(&format!(
                    "{key}: target {target:?} is not a CI"
                )));
            }
            if db.get("cmdb_rel_type", &ty).is_none() {
                return Err(bad_relation(&format!(
                    "{key}: type {ty:?} is not a relationship type"
                )));
            }
            out.push(if outbound {
                (ci.to_owned(), target, ty)
            } else {
                (target, ci.to_owned(), ty)
            });
        }
    }
    Ok(out)
}

fn bad_relation(detail: &str) -> Resp {
    respond::bad_request("Invalid relation", detail)
}

/// `attributes`, an object (absent: none).
fn attributes(body: &Map<String, Value>) -> Result<Map<String, Value>, Resp> {
    match body.get("attributes") {
        None | Some(Value::Null) => Ok(Map::new()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(_) => Err(respond::bad_request(
            "Exception while reading request",
            "attributes must be a JSON object",
        )),
    }
}

fn add_all(
    db: &mut Db,
    rels: &[NewRelation],
    source: &str,
    ctx: &EvalCtx,
    changed: &mut Vec<String>,
) -> Result<(), Resp> {
    for (parent, child, ty) in rels {
        let mut f = Map::new();
        for (k, v) in [("parent", parent), ("child", child), ("type", ty)] {
            f.insert(k.to_owned(), Value::String(v.clone()));
        }
        f.insert("discovery_source".into(), Value::String(source.to_owned()));
        let rec = db
            .insert("cmdb_rel_ci", &f, ctx)
            .map_err(|e| db_error(&e))?;
        changed.push(rec.sys_id().to_owned());
    }
    Ok(())
}

/// Logs `changed` (with the write lock still held, right after the change).
fn log(req: &Req, db: &Db, changed: &[String]) -> Ticket {
    let ids: Vec<&str> = changed.iter().map(String::as_str).collect();
    req.state.log_changes(db, &ids)
}

/// Waits until the change is durable, then answers with the CI.
async fn answer(req: &Req, class: &str, sys_id: &str, ticket: Ticket) -> Resp {
    if let Err(r) = req.durable(ticket).await {
        return r;
    }
    get(req, class, sys_id)
}

async fn create(req: &mut Req, class: &str) -> Resp {
    if !req.caller_role().is_some_and(|r| r.can_write_table(class)) {
        return respond::acl("Insert");
    }
    let body = match req.json_object().await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (source, mut attrs) = match (source(&body), attributes(&body)) {
        (Ok(s), Ok(a)) => (s, a),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    attrs.insert("discovery_source".into(), Value::String(source.clone()));
    let ctx = req.eval_ctx();
    let mut changed = Vec::new();
    let (sys_id, ticket) = {
        let mut db = req.state.db_mut();
        // The relations are checked before anything is written; `""` stands for the new CI.
        let rels = match relations(&db, "", &body) {
            Ok(r) => r,
            Err(r) => return r,
        };
        let id = match db.insert(class, &attrs, &ctx) {
            Ok(rec) => rec.sys_id().to_owned(),
            Err(e) => return db_error(&e),
        };
        changed.push(id.clone());
        let rels: Vec<NewRelation> = rels
            .into_iter()
            .map(|(p, c, t)| {
                let fill = |s: String| if s.is_empty() { id.clone() } else { s };
                (fill(p), fill(c), t)
            })
            .collect();
        if let Err(r) = add_all(&mut db, &rels, &source, &ctx, &mut changed) {
            return r;
        }
        let ticket = log(req, &db, &changed);
        (id, ticket)
    };
    answer(req, class, &sys_id, ticket).await
}

async fn update(req: &mut Req, class: &str, sys_id: &str) -> Resp {
    if !req.caller_role().is_some_and(|r| r.can_write_table(class)) {
        return respond::acl("Update");
    }
    if req.state.db().get(class, sys_id).is_none() {
        return respond::no_record();
    }
    let body = match req.json_object().await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let (source, mut attrs) = match (source(&body), attributes(&body)) {
        (Ok(s), Ok(a)) => (s, a),
        (Err(r), _) | (_, Err(r)) => return r,
    };
    attrs.insert("discovery_source".into(), Value::String(source));
    let ctx = req.eval_ctx();
    let ticket = {
        let mut db = req.state.db_mut();
        if let Err(e) = db.update(class, sys_id, &attrs, &ctx) {
            return db_error(&e);
        }
        log(req, &db, &[sys_id.to_owned()])
    };
    answer(req, class, sys_id, ticket).await
}

async fn add_relations(req: &mut Req, class: &str, sys_id: &str) -> Resp {
    if !req.caller_role().is_some_and(|r| r.can_write_table(class)) {
        return respond::acl("Insert");
    }
    if req.state.db().get(class, sys_id).is_none() {
        return respond::no_record();
    }
    let body = match req.json_object().await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let source = match source(&body) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let ctx = req.eval_ctx();
    let mut changed = Vec::new();
    let ticket = {
        let mut db = req.state.db_mut();
        let rels = match relations(&db, sys_id, &body) {
            Ok(r) => r,
            Err(r) => return r,
        };
        if let Err(r) = add_all(&mut db, &rels, &source, &ctx, &mut changed) {
            return r;
        }
        log(req, &db, &changed)
    };
    answer(req, class, sys_id, ticket).await
}

async fn delete_relation(req: &Req, class: &str, sys_id: &str, rel: &str) -> Resp {
    if req.state.db().get(class, sys_id).is_none() {
        return respond::no_record();
    }
    if !req.caller_role().is_some_and(|r| r.can_delete()) {
        return respond::acl("Delete");
    }
    let ticket = {
        let mut db = req.state.db_mut();
        let belongs = db
            .get("cmdb_rel_ci", rel)
            .is_some_and(|r| r.get("parent") == Some(sys_id) || r.get("child") == Some(sys_id));
        if !belongs {
            return respond::no_record();
        }
        if let Err(e) = db.delete("cmdb_rel_ci", rel) {
            return db_error(&e);
        }
        log(req, &db, &[rel.to_owned()])
    };
    answer(req, class, sys_id, ticket).await
}
