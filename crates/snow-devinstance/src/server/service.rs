//! One request from arrival to response: the pipeline, the finished response, counters and
//! the request log.

use std::sync::Arc;

use http::{Request, Response};
use hyper::body::Incoming;

use super::body::OutBody;
use super::finish::finish;
use super::pipeline::{self, Effects, Outcome};
use super::redact::log_entry;
use super::request::Req;
use super::state::State;

/// The connection is dropped without a response (an injected connection reset).
#[derive(Debug, thiserror::Error)]
#[error("connection reset by an injected fault")]
pub(crate) struct ResetConnection;

/// Serve one request.
pub(crate) async fn serve(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<OutBody>, ResetConnection> {
    let (parts, incoming) = req.into_parts();
    let gzip = super::gzip::accepted(&parts.headers);
    let mut req = Req::new(state.clone(), parts, incoming);
    let mut effects = Effects::default();
    let outcome = pipeline::run(&mut req, &mut effects).await;
    let status;
    let result = match outcome {
        Outcome::Reset => {
            status = 0;
            Err(ResetConnection)
        }
        Outcome::Respond(resp) => {
            status = resp.status().as_u16();
            Ok(finish(
                &state,
                resp,
                gzip,
                effects.truncate,
                effects.rate.as_ref(),
            ))
        }
    };
    state.count_request(&req.path, status);
    state.log_request(log_entry(&req, status));
    result
}
