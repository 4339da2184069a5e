//! One request as the handlers see it, and what they read from it: the caller, the body, the
//! display-value mode, the evaluation context, the effective query and the render options.
//!
//! Handlers depend on this module only, never on the pipeline that authenticates the request,
//! injects faults and finishes the response.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use hyper::body::Incoming;

use super::auth::Caller;
use super::body;
use super::config::Role;
use super::params::Params;
use super::respond::{self, Resp};
use super::state::State;
use super::wal::Ticket;
use crate::db::{DisplayValue, EvalCtx, RenderOpts};

/// A request body: from the connection, or already in memory (a batch item).
enum ReqBody {
    Incoming(Incoming),
    Bytes(Bytes),
}

/// A request on its way through the handlers.
pub(crate) struct Req {
    pub(crate) state: Arc<State>,
    pub(crate) method: Method,
    pub(crate) path: String,
    /// The raw query string.
    pub(crate) query: String,
    pub(crate) params: Params,
    pub(crate) headers: HeaderMap,
    body: Option<ReqBody>,
    pub(crate) caller: Option<Caller>,
    /// `v1`, `v2`, ... when the path carried a version segment.
    pub(crate) version: Option<String>,
    /// An injected fault asks for a list to be cut short with an `error` member.
    pub(crate) cancel_txn: bool,
}

impl Req {
    /// The request as it arrived; `X-HTTP-Method-Override` replaces the method.
    pub(crate) fn new(state: Arc<State>, parts: http::request::Parts, body: Incoming) -> Self {
        let method = parts
            .headers
            .get("x-http-method-override")
            .and_then(|v| Method::from_bytes(v.as_bytes()).ok())
            .unwrap_or_else(|| parts.method.clone());
        let query = parts.uri.query().unwrap_or("").to_owned();
        Self {
            state,
            method,
            path: parts.uri.path().to_owned(),
            params: Params::parse(&query),
            query,
            headers: parts.headers,
            body: Some(ReqBody::Incoming(body)),
            caller: None,
            version: None,
            cancel_txn: false,
        }
    }

    /// A request made inside the instance (one item of a batch) by an already authenticated
    /// caller, with its body in memory.
    pub(crate) fn inner(
        state: Arc<State>,
        caller: Option<Caller>,
        method: Method,
        path: String,
        query: String,
        headers: HeaderMap,
        body: Bytes,
    ) -> Self {
        Self {
            state,
            method,
            path,
            params: Params::parse(&query),
            query,
            headers,
            body: Some(ReqBody::Bytes(body)),
            caller,
            version: None,
            cancel_txn: false,
        }
    }

    /// The body, capped at the JSON-API limit (`max_body_bytes`).
    pub(crate) async fn read_body(&mut self) -> Result<Bytes, Resp> {
        self.read_body_max(self.state.config.max_body_bytes).await
    }

    /// The body, capped at `max` bytes; read once (later calls give an empty body).
    pub(crate) async fn read_body_max(&mut self, max: usize) -> Result<Bytes, Resp> {
        match self.body.take() {
            Some(ReqBody::Incoming(b)) => body::read(b, &self.headers, max).await,
            Some(ReqBody::Bytes(b)) if b.len() > max => {
                Err(respond::too_large(b.len() as u64, max))
            }
            Some(ReqBody::Bytes(b)) => Ok(b),
            None => Ok(Bytes::new()),
        }
    }

    /// `{base}/api/now[/vN]`: where links and `Location` point, echoing the request's version.
    pub(crate) fn link_base(&self) -> String {
        match &self.version {
            Some(v) => format!("{}/api/now/{v}", self.state.base_url),
            None => format!("{}/api/now", self.state.base_url),
        }
    }

    /// The authenticated caller's role.
    pub(crate) fn caller_role(&self) -> Option<Role> {
        self.caller.as_ref().map(|c| c.role)
    }

    /// `sysparm_display_value`: `true`, `all` or (anything else) `false`.
    pub(crate) fn display_value(&self) -> DisplayValue {
        match self.params.get("sysparm_display_value").map(str::trim) {
            Some(v) if v.eq_ignore_ascii_case("true") => DisplayValue::True,
            Some(v) if v.eq_ignore_ascii_case("all") => DisplayValue::All,
            _ => DisplayValue::False,
        }
    }

    /// Who is acting and when, for `javascript:` values and system fields.
    pub(crate) fn eval_ctx(&self) -> EvalCtx {
        let user_sys_id = self
            .caller
            .as_ref()
            .and_then(|c| {
                self.state
                    .db()
                    .user_by_name(&c.name)
                    .map(|r| r.sys_id().to_owned())
            })
            .unwrap_or_default();
        EvalCtx {
            user_sys_id,
            now: self.state.now(),
        }
    }

    /// `sysparm_query` combined with name-value pair filters.
    pub(crate) fn effective_query(&self) -> String {
        let mut q = self.params.get("sysparm_query").unwrap_or("").to_owned();
        for (field, value) in self.params.name_value_filters() {
            if !q.is_empty() {
                q.push('^');
            }
            q.push_str(field);
            q.push('=');
            q.push_str(&value.replace('^', "^^"));
        }
        q
    }

    /// How records of `table` are rendered for this request (`sysparm_fields`,
    /// `sysparm_display_value`, `sysparm_exclude_reference_link`, the link base).
    pub(crate) fn render_spec(&self, table: &str) -> RenderSpec {
        RenderSpec {
            fields: self
                .params
                .fields()
                .map(|f| crate::db::render::usable_fields(table, &f)),
            display_value: self.display_value(),
            exclude_reference_link: self.params.flag("sysparm_exclude_reference_link", false),
            link_base: self.link_base(),
        }
    }

    /// Waits until logged changes are on disk (at once without a data directory), so a 2xx is
    /// only sent for a write that survives a crash; a 500 when the log cannot be written.
    pub(crate) async fn durable(&self, ticket: Ticket) -> Result<(), Resp> {
        ticket.wait().await.map_err(|message| {
            respond::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Exception while executing request",
                Some(&format!(
                    "The change could not be written to the data directory: {message}"
                )),
            )
        })
    }

    /// Whether the caller sent `X-no-response-body: true`.
    pub(crate) fn no_response_body(&self) -> bool {
        self.headers
            .get("x-no-response-body")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
    }

    /// The JSON object of a write request (the first one of an array, as ServiceNow does),
    /// or the error response: 415 for a non-JSON content type, 400 for anything unreadable.
    pub(crate) async fn json_object(
        &mut self,
    ) -> Result<serde_json::Map<String, serde_json::Value>, Resp> {
        if let Some(ct) = self.headers.get(http::header::CONTENT_TYPE) {
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
        let body = self.read_body().await?;
        let value: serde_json::Value = serde_json::from_slice(&body).map_err(|e| {
            respond::bad_request(
                "Exception while reading request",
                &format!("The payload is not valid JSON: {e}"),
            )
        })?;
        let not_object = || {
            respond::bad_request(
                "Exception while reading request",
                "The payload must be a JSON object",
            )
        };
        match value {
            serde_json::Value::Object(map) => Ok(map),
            serde_json::Value::Array(items) => match items.into_iter().next() {
                Some(serde_json::Value::Object(map)) => Ok(map),
                _ => Err(not_object()),
            },
            _ => Err(not_object()),
        }
    }
}

/// Owned render options of one request; [`RenderSpec::opts`] borrows them as [`RenderOpts`].
#[derive(Debug, Clone)]
pub(crate) struct RenderSpec {
    fields: Option<Vec<String>>,
    display_value: DisplayValue,
    exclude_reference_link: bool,
    link_base: String,
}

impl RenderSpec {
    /// The options to pass to [`crate::db::Db::render`].
    pub(crate) fn opts(&self) -> RenderOpts<'_> {
        RenderOpts {
            fields: self.fields.as_deref(),
            display_value: self.display_value,
            exclude_reference_link: self.exclude_reference_link,
            link_base: &self.link_base,
        }
    }

    /// How many fields are asked for (`None`: all).
    pub(crate) fn field_count(&self) -> Option<usize> {
        self.fields.as_ref().map(Vec::len)
    }
}
