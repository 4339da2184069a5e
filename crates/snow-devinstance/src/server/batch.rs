//! The Batch API: `POST /api/now[/v1]/batch`.
//!
//! Each of `rest_requests` (`id`, `method`, `url` relative with its query, `headers` as
//! `[{name,value}]`, `body` in base64, `exclude_response_headers`) runs through the same
//! router as a request from the network would, as the batch's caller, one after the other.
//! Requests past `DevConfig::batch_max_requests` are not run: their ids are listed in
//! `unserviced_requests`, as when a real batch runs out of time. Every answer comes back in
//! `serviced_requests` with its status, headers and base64 body; the batch itself answers 200.

// Helpers return the error response itself, as the handlers do; these are cold paths.
#![allow(clippy::result_large_err)]

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde_json::{Map, Value, json};

use super::auth::Caller;
use super::redact::log_entry;
use super::request::Req;
use super::respond::{self, Resp};
use super::state::State;

/// The most bytes one request of a batch may carry (`glide.rest.batch.max.inputSize`).
const MAX_ITEM_INPUT: usize = 5 * 1024 * 1024;

/// One request of a batch, as sent.
struct Item {
    id: String,
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    exclude_headers: bool,
}

/// A JSON string or number as text (ids may be sent either way; they are echoed as strings).
fn text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_item(v: &Value) -> Result<Item, String> {
    let o = v
        .as_object()
        .ok_or("every rest_requests item must be an object")?;
    let required = |k: &str| {
        text(o.get(k))
            .filter(|s| !s.is_empty())
            .ok_or(format!("{k} is mandatory in every rest_requests item"))
    };
    let headers = match o.get("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(hs)) => hs
            .iter()
            .filter_map(|h| Some((text(h.get("name"))?, text(h.get("value"))?)))
            .collect(),
        Some(_) => return Err("headers must be an array of {name, value}".into()),
    };
    Ok(Item {
        id: required("id")?,
        method: required("method")?,
        url: required("url")?,
        headers,
        body: text(o.get("body")).filter(|b| !b.is_empty()),
        exclude_headers: o
            .get("exclude_response_headers")
            .is_some_and(|b| b.as_bool() == Some(true) || b.as_str() == Some("true")),
    })
}

/// A handler future, boxed: the router leads here and items lead back to the router, and the
/// box is what keeps that recursion a finite (and `Send`) type.
pub(crate) type Boxed<'a> = Pin<Box<dyn Future<Output = Resp> + Send + 'a>>;

pub(crate) fn handle<'a>(req: &'a mut Req, segments: &'a [&'a str]) -> Boxed<'a> {
    Box::pin(serve(req, segments))
}

async fn serve(req: &mut Req, segments: &[&str]) -> Resp {
    if !segments.is_empty() {
        return respond::unknown_resource();
    }
    if req.method != Method::POST {
        return respond::method_not_allowed();
    }
    let body = match req.json_object().await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let bad = |detail: &str| respond::bad_request("Invalid batch request", detail);
    let Some(Value::Array(requests)) = body.get("rest_requests") else {
        return bad("rest_requests must be an array of requests");
    };
    let items = match requests
        .iter()
        .map(parse_item)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(items) => items,
        Err(e) => return bad(&e),
    };
    let batch_id = text(body.get("batch_request_id")).unwrap_or_default();
    let limit = req.state.config.batch_max_requests;
    let (state, caller) = (req.state.clone(), req.caller.clone());
    let mut serviced = Vec::new();
    let mut unserviced = Vec::new();
    for (i, item) in items.iter().enumerate() {
        if i >= limit {
            unserviced.push(Value::String(item.id.clone()));
            continue;
        }
        serviced.push(run(&state, caller.as_ref(), item).await);
    }
    respond::json_value(
        StatusCode::OK,
        &json!({
            "batch_request_id": batch_id,
            "serviced_requests": serviced,
            "unserviced_requests": unserviced,
        }),
    )
}

/// Runs one request of the batch and describes its answer.
async fn run(state: &Arc<State>, caller: Option<&Caller>, item: &Item) -> Value {
    let started = Instant::now();
    let resp = match prepare(state, caller, item) {
        Ok(mut inner) => {
            let resp = super::router::route(&mut inner).await;
            let status = resp.status().as_u16();
            state.count_request(&inner.path, status);
            state.log_request(log_entry(&inner, status));
            resp
        }
        Err(resp) => resp,
    };
    describe(item, resp, started)
}

/// The inner request of an item, or the answer that refuses it.
fn prepare(state: &Arc<State>, caller: Option<&Caller>, item: &Item) -> Result<Req, Resp> {
    let bad = |detail: &str| respond::bad_request("Invalid batch request item", detail);
    let method = Method::from_bytes(item.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| bad("method is not an HTTP method"))?;
    let uri: http::Uri = item
        .url
        .parse()
        .map_err(|_| bad("url must be a path on the instance, with its query"))?;
    if uri.scheme().is_some() || !uri.path().starts_with("/api/") {
        return Err(bad(
            "url must be a path on the instance starting with /api/",
        ));
    }
    if uri.path().trim_end_matches('/').ends_with("/batch") {
        return Err(bad("a batch cannot contain another batch"));
    }
    let body = match &item.body {
        None => Bytes::new(),
        Some(b64) => Bytes::from(
            base64::engine::general_purpose::STANDARD
                .decode(b64.trim())
                .map_err(|_| bad("body must be base64"))?,
        ),
    };
    if body.len() > MAX_ITEM_INPUT {
        return Err(respond::too_large(body.len() as u64, MAX_ITEM_INPUT));
    }
    let mut headers = HeaderMap::new();
    for (name, value) in &item.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.append(n, v);
        }
    }
    Ok(Req::inner(
        state.clone(),
        caller.cloned(),
        method,
        uri.path().to_owned(),
        uri.query().unwrap_or("").to_owned(),
        headers,
        body,
    ))
}

/// `Content-Type` for `content-type`.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut c = part.chars();
            match c.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// A serviced request as the batch answer lists it.
fn describe(item: &Item, resp: Resp, started: Instant) -> Value {
    let status = resp.status();
    let mut out = Map::new();
    out.insert("id".into(), Value::String(item.id.clone()));
    out.insert("status_code".into(), Value::from(status.as_u16()));
    out.insert(
        "status_text".into(),
        Value::String(status.canonical_reason().unwrap_or("").to_owned()),
    );
    let headers: Vec<Value> = if item.exclude_headers {
        Vec::new()
    } else {
        resp.headers()
            .iter()
            .filter_map(|(n, v)| {
                Some(json!({"name": title_case(n.as_str()), "value": v.to_str().ok()?}))
            })
            .collect()
    };
    out.insert("headers".into(), Value::Array(headers));
    let body = resp.body();
    out.insert(
        "body".into(),
        Value::String(base64::engine::general_purpose::STANDARD.encode(body)),
    );
    out.insert(
        "execution_time".into(),
        Value::from(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)),
    );
    if status.is_client_error() || status.is_server_error() {
        let message = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|v| v.pointer("/error/message")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("").to_owned());
        out.insert("error_message".into(), Value::String(message));
    }
    Value::Object(out)
}
