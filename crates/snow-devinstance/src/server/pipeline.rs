//! What happens to a request before a handler sees it: the admin API, hibernation,
//! authentication, injected faults and rate limits.

use http::StatusCode;
use http::header::{self, HeaderValue};

use super::auth;
use super::faults::{self, FaultKind, RateDecision};
use super::request::Req;
use super::respond::{self, Resp};
use super::{admin, router};

/// What the pipeline decided for one request.
pub(crate) enum Outcome {
    /// Send this response.
    Respond(Resp),
    /// Close the connection without a response (an injected connection reset).
    Reset,
}

/// Side effects on the finished response, decided on the way in.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    /// Cut the body halfway (an injected truncated body).
    pub(crate) truncate: bool,
    /// The rate-limit rule that matched, for the `X-RateLimit-*` headers.
    pub(crate) rate: Option<RateDecision>,
}

/// Run the request through the pipeline and, if it gets that far, the router.
pub(crate) async fn run(req: &mut Req, effects: &mut Effects) -> Outcome {
    let state = req.state.clone();
    if let Some(rest) = req.path.strip_prefix("/__dev/") {
        let rest = rest.to_owned();
        req.caller = auth::authenticate(&state, &req.headers, None);
        return Outcome::Respond(admin::http(req, &rest).await);
    }
    if state.faults().hibernating(&req.path) {
        return Outcome::Respond(respond::hibernating());
    }
    let public = req.path == "/oauth_token.do" || req.path == "/oauth_revoke_token.do";
    if !public {
        req.caller = auth::authenticate(&state, &req.headers, req.params.get("x-sn-apikey"));
        if req.caller.is_none() {
            return Outcome::Respond(respond::unauthorized());
        }
    }
    let user = req.caller.as_ref().map(|c| c.name.clone());
    let hits = state.faults().roll(&req.path, user.as_deref());
    if let Some(pause) = faults::latency(&hits) {
        tokio::time::sleep(pause).await;
    }
    for hit in &hits {
        match hit {
            FaultKind::ConnectionReset => return Outcome::Reset,
            FaultKind::Semaphore => return Outcome::Respond(semaphore_full()),
            FaultKind::SessionRejected => {
                return Outcome::Respond(respond::empty(StatusCode::ACCEPTED));
            }
            FaultKind::Hibernate => return Outcome::Respond(respond::hibernating()),
            FaultKind::ServerError { status } => {
                let code = StatusCode::from_u16(*status)
                    .ok()
                    .filter(|s| s.is_server_error())
                    .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                return Outcome::Respond(respond::error(
                    code,
                    "Exception while executing request: null",
                    Some(respond::DEBUG_HINT),
                ));
            }
            FaultKind::TransactionCancelled => req.cancel_txn = true,
            FaultKind::TruncatedBody => effects.truncate = true,
            FaultKind::Latency { .. } => {}
        }
    }
    if let Some(name) = &user {
        let now_s = u64::try_from(state.now_ms() / 1000).unwrap_or(0);
        effects.rate = state.faults().rate_limit(name, now_s);
        if let Some(d) = effects.rate.as_ref()
            && let Some(retry) = d.retry_after
        {
            return Outcome::Respond(rate_limited(d.limit, retry, api_name(&req.path)));
        }
    }
    Outcome::Respond(router::route(req).await)
}

/// 429 for a full API_INT semaphore queue: no rate-limit headers.
fn semaphore_full() -> Resp {
    respond::error(
        StatusCode::TOO_MANY_REQUESTS,
        "Maximum number of concurrent requests exceeded",
        Some("The API_INT semaphore queue is full"),
    )
}

/// 429 for an exceeded rate-limit rule, with `Retry-After`.
fn rate_limited(limit: u64, retry_after: u64, api: &str) -> Resp {
    let mut resp = respond::error(
        StatusCode::TOO_MANY_REQUESTS,
        "Rate limit exceeded",
        Some(&format!(
            "Rate limit of {limit} requests per hour for {api} exceeded"
        )),
    );
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
    resp
}

/// The API a path belongs to, as rate-limit messages name it.
fn api_name(path: &str) -> &'static str {
    if path.contains("/attachment") {
        "Attachment API"
    } else if path.contains("/table/") {
        "Table API"
    } else {
        "REST API"
    }
}
