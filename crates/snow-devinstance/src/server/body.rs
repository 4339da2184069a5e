//! Request-body reading with a cap, and the outgoing body type.

use bytes::Bytes;
use http::HeaderMap;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::{Frame, Incoming};

use super::respond::{self, Resp};

/// Error type of outgoing bodies.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Outgoing body.
pub(crate) type OutBody = BoxBody<Bytes, BoxError>;

pub(crate) fn full(bytes: Bytes) -> OutBody {
    Full::new(bytes).map_err(|never| match never {}).boxed()
}

/// A body that sends the first half of `bytes` and then fails, so the connection is cut
/// before the announced length arrives.
pub(crate) fn truncated(bytes: Bytes) -> OutBody {
    let half = bytes.slice(..bytes.len() / 2);
    let frames: Vec<Result<Frame<Bytes>, BoxError>> = vec![
        Ok(Frame::data(half)),
        Err("response truncated by an injected fault".into()),
    ];
    StreamBody::new(futures_util::stream::iter(frames)).boxed()
}

/// The declared `Content-Length`, if any and parseable.
pub(crate) fn content_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Read the whole body, refusing more than `max` bytes with ServiceNow's payload-limit error.
pub(crate) async fn read(body: Incoming, headers: &HeaderMap, max: usize) -> Result<Bytes, Resp> {
    if let Some(len) = content_length(headers)
        && len > max as u64
    {
        return Err(respond::too_large(len, max));
    }
    match Limited::new(body, max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) => {
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some()
            {
                Err(respond::too_large(
                    content_length(headers).unwrap_or(max as u64 + 1),
                    max,
                ))
            } else {
                Err(respond::bad_request(
                    "Exception while reading request",
                    "The request body could not be read",
                ))
            }
        }
    }
}
