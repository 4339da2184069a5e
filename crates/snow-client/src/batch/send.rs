//! Sending a batch: items split into submissions under the limits, unserviced items sent
//! again, and every serviced item's base64 body decoded into its own response.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer};
use snow_core::secret::SentCredentials;

use super::{BatchItem, Settings};
use crate::client::Client;
use crate::request::ApiRequest;
use crate::response::RawResponse;
use crate::{Error, Record};

/// The answer to one request of a batch: its status, headers and body, decoded from the
/// batch's answer. Decode the body as with any answer: [`result`](Self::result),
/// [`one`](Self::one), [`expect_success`](Self::expect_success)... which turn an error
/// status into the typed [`Error`] of that request.
#[derive(Clone, Debug)]
pub struct BatchItemResponse {
    method: Method,
    status: StatusCode,
    status_text: String,
    headers: HeaderMap,
    body: Bytes,
    execution_time: Option<Duration>,
    error_message: Option<String>,
    redirect_url: Option<String>,
    /// The credentials the batch request carried, scrubbed from any text quoted in an error.
    sent: Option<SentCredentials>,
}

impl BatchItemResponse {
    /// The HTTP status of this request.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// `status_text`, as sent.
    pub fn status_text(&self) -> &str {
        &self.status_text
    }

    /// The response headers (empty when the batch excluded them).
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The decoded body.
    pub fn bytes(&self) -> &Bytes {
        &self.body
    }

    /// How long the instance took to run it (`execution_time`).
    pub fn execution_time(&self) -> Option<Duration> {
        self.execution_time
    }

    /// `error_message`, when the instance gave one.
    pub fn error_message(&self) -> Option<&str> {
        self.error_message.as_deref()
    }

    /// `redirect_url`, when the instance gave one.
    pub fn redirect_url(&self) -> Option<&str> {
        self.redirect_url.as_deref()
    }

    /// The answer, to decode with any [`RawResponse`] method.
    pub fn raw(&self) -> RawResponse<'_> {
        RawResponse::new(&self.method, self.status, &self.headers, &self.body)
            .with_sent_credentials(self.sent.as_ref())
    }

    /// The `result` member as `T`, or the typed error of this request.
    pub fn result<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.raw().decode_result()
    }

    /// Exactly one record (an object, or an array of one).
    pub fn one<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.raw().decode_one()
    }

    /// The result as a list.
    pub fn list<T: DeserializeOwned>(&self) -> Result<Vec<T>, Error> {
        self.raw().decode_list()
    }

    /// The result as records.
    pub fn records(&self) -> Result<Vec<Record>, Error> {
        self.list()
    }

    /// The whole body as `T`, for APIs without the `result` envelope.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.raw().decode_body()
    }

    /// Succeeds for a 2xx, otherwise the typed error of this request.
    pub fn expect_success(&self) -> Result<(), Error> {
        self.raw().expect_success()
    }
}

/// What became of one request of a batch.
#[derive(Debug)]
#[non_exhaustive]
pub struct BatchOutcome {
    /// The request's id.
    pub id: String,
    /// Its answer, or why there is none: [`Error::BatchUnserviced`] when the instance never ran
    /// it, or an error decoding its part of the batch's answer.
    pub response: Result<BatchItemResponse, Error>,
}

impl BatchOutcome {
    /// The `result` member as `T`; the request's error otherwise (an error status, or no
    /// answer).
    pub fn result<T: DeserializeOwned>(self) -> Result<T, Error> {
        self.response?.result()
    }

    /// Exactly one record; the request's error otherwise.
    pub fn one<T: DeserializeOwned>(self) -> Result<T, Error> {
        self.response?.one()
    }

    /// `Ok` for a 2xx; the request's error otherwise.
    pub fn check(self) -> Result<(), Error> {
        self.response?.expect_success()
    }
}

/// The answers to every request of a batch, in the order the requests were pushed.
///
/// When a submission failed as a whole after earlier ones had run (a `401`, a `500`, the
/// connection), the requests it carried and those not sent yet have [`Error::BatchUnserviced`]
/// outcomes and [`stopped_by`](Self::stopped_by) gives the failure.
#[derive(Debug)]
pub struct BatchResponses {
    outcomes: Vec<BatchOutcome>,
    submissions: u32,
    stopped_by: Option<Error>,
}

impl BatchResponses {
    /// The outcome of the request with this id.
    pub fn get(&self, id: &str) -> Option<&BatchOutcome> {
        self.outcomes.iter().find(|o| o.id == id)
    }

    /// Takes the outcome of the request with this id out (to decode it by value).
    pub fn take(&mut self, id: &str) -> Option<BatchOutcome> {
        let i = self.outcomes.iter().position(|o| o.id == id)?;
        Some(self.outcomes.remove(i))
    }

    /// The outcomes, in push order.
    pub fn iter(&self) -> std::slice::Iter<'_, BatchOutcome> {
        self.outcomes.iter()
    }

    /// How many outcomes.
    pub fn len(&self) -> usize {
        self.outcomes.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.outcomes.is_empty()
    }

    /// How many batch requests were sent (first submissions, splits and resubmissions).
    pub fn submissions(&self) -> u32 {
        self.submissions
    }

    /// The failure that stopped the batch part-way, if one did.
    pub fn stopped_by(&self) -> Option<&Error> {
        self.stopped_by.as_ref()
    }

    /// Whether every request was run and answered with a 2xx.
    pub fn all_succeeded(&self) -> bool {
        self.outcomes
            .iter()
            .all(|o| o.response.as_ref().is_ok_and(|r| r.status.is_success()))
    }
}

impl IntoIterator for BatchResponses {
    type Item = BatchOutcome;
    type IntoIter = std::vec::IntoIter<BatchOutcome>;
    fn into_iter(self) -> Self::IntoIter {
        self.outcomes.into_iter()
    }
}

impl<'a> IntoIterator for &'a BatchResponses {
    type Item = &'a BatchOutcome;
    type IntoIter = std::slice::Iter<'a, BatchOutcome>;
    fn into_iter(self) -> Self::IntoIter {
        self.outcomes.iter()
    }
}

/// An id sent as a string or a number.
struct Id(String);

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(Id(s)),
            serde_json::Value::Number(n) => Ok(Id(n.to_string())),
            other => Err(de::Error::custom(format!(
                "expected an id (a string or a number), got {other}"
            ))),
        }
    }
}

#[derive(Deserialize)]
struct RawHeader {
    name: String,
    value: String,
}

#[derive(Deserialize)]
struct RawServiced {
    id: Id,
    status_code: u16,
    #[serde(default)]
    status_text: Option<String>,
    #[serde(default)]
    headers: Vec<RawHeader>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    execution_time: Option<u64>,
    #[serde(default)]
    error_message: Option<String>,
    #[serde(default)]
    redirect_url: Option<String>,
}

#[derive(Deserialize)]
struct RawBatch {
    batch_request_id: Id,
    #[serde(default)]
    serviced_requests: Vec<RawServiced>,
    #[serde(default)]
    unserviced_requests: Vec<Id>,
}

/// A serviced request's part of the batch answer, decoded.
fn decode_item(
    raw: RawServiced,
    method: Method,
    sent: Option<SentCredentials>,
) -> Result<BatchItemResponse, Error> {
    let status = StatusCode::from_u16(raw.status_code).map_err(|_| Error::UnexpectedResponse {
        status: StatusCode::OK,
        content_type: None,
        reason: format!(
            "a batch item status {} that is not an HTTP status",
            raw.status_code
        ),
        excerpt: String::new(),
    })?;
    let mut headers = HeaderMap::new();
    for h in raw.headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(h.name.as_str()),
            HeaderValue::try_from(h.value.as_str()),
        ) {
            headers.append(n, v);
        }
    }
    let text: String = raw
        .body
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let body = base64::engine::general_purpose::STANDARD
        .decode(text.as_bytes())
        .map_err(|_| Error::UnexpectedResponse {
            status,
            content_type: None,
            reason: "a batch item body that is not base64".into(),
            excerpt: String::new(),
        })?;
    Ok(BatchItemResponse {
        method,
        status,
        status_text: raw.status_text.unwrap_or_default(),
        headers,
        body: Bytes::from(body),
        execution_time: raw.execution_time.map(Duration::from_millis),
        error_message: raw.error_message.filter(|m| !m.is_empty()),
        redirect_url: raw.redirect_url.filter(|m| !m.is_empty()),
        sent,
    })
}

/// One request ready to go: its id, method and JSON.
struct Ready {
    id: String,
    method: Method,
    json: Vec<u8>,
}

const OPEN: &str = "{\"batch_request_id\":";
const REQUESTS: &[u8] = b",\"rest_requests\":[";
const CLOSE: &[u8] = b"]}";

/// Room a batch body takes besides its items, with a batch id of up to 20 digits.
const FRAME: usize = OPEN.len() + 22 + REQUESTS.len() + CLOSE.len();

/// Sends `items` as as many batches as the settings require and collects every outcome.
pub(crate) async fn run(
    client: &Client,
    items: Vec<(String, BatchItem)>,
    s: &Settings,
) -> Result<BatchResponses, Error> {
    let instance = client.instance();
    let mut ready = Vec::with_capacity(items.len());
    for (id, item) in &items {
        let (json, body_len) =
            item.encode(id, instance, client.defaults(), s.exclude_response_headers)?;
        if body_len > s.max_item_bytes {
            return Err(Error::invalid_input(format!(
                "batch request {id}: its body of {body_len} bytes is more than a batch request may carry ({} bytes)",
                s.max_item_bytes
            )));
        }
        if json.len() + FRAME > s.max_batch_bytes {
            return Err(Error::invalid_input(format!(
                "batch request {id} takes {} bytes, more than a batch may carry ({} bytes)",
                json.len(),
                s.max_batch_bytes
            )));
        }
        ready.push(Ready {
            id: id.clone(),
            method: item.method().clone(),
            json,
        });
    }
    let n = ready.len();
    let mut queue: VecDeque<usize> = (0..n).collect();
    let mut attempts = vec![0u32; n];
    let mut outcomes: Vec<Option<Result<BatchItemResponse, Error>>> =
        (0..n).map(|_| None).collect();
    let mut submissions = 0u32;
    let mut stopped_by = None;
    while !queue.is_empty() {
        let mut chunk = Vec::new();
        let mut size = FRAME;
        while let Some(&i) = queue.front() {
            let add = ready[i].json.len() + usize::from(!chunk.is_empty());
            if chunk.len() == s.max_requests
                || (!chunk.is_empty() && size + add > s.max_batch_bytes)
            {
                break;
            }
            size += add;
            chunk.push(i);
            queue.pop_front();
        }
        submissions += 1;
        for &i in &chunk {
            attempts[i] += 1;
        }
        let batch_id = submissions.to_string();
        match submit(client, &ready, &chunk, &batch_id, s).await {
            Ok((raw, sent)) => {
                let index: HashMap<&str, usize> =
                    chunk.iter().map(|&i| (ready[i].id.as_str(), i)).collect();
                let mut answered = vec![false; n];
                for item in raw.serviced_requests {
                    let Some(&i) = index.get(item.id.0.as_str()) else {
                        tracing::warn!(id = %crate::query_quote(&item.id.0), "the batch answered a request it was not sent");
                        continue;
                    };
                    answered[i] = true;
                    outcomes[i] = Some(decode_item(item, ready[i].method.clone(), sent.clone()));
                }
                let listed: Vec<usize> = raw
                    .unserviced_requests
                    .iter()
                    .filter_map(|id| index.get(id.0.as_str()).copied())
                    .collect();
                // Requests neither serviced nor listed as unserviced were not run either.
                let missing = chunk
                    .iter()
                    .copied()
                    .filter(|&i| !answered[i] && !listed.contains(&i));
                for i in listed.iter().copied().chain(missing) {
                    if answered[i] {
                        continue;
                    }
                    if attempts[i] <= s.max_resubmits {
                        queue.push_back(i);
                    } else {
                        outcomes[i] = Some(Err(Error::BatchUnserviced {
                            id: ready[i].id.clone(),
                            attempts: attempts[i],
                            reason: "the instance left it unserviced every time".into(),
                        }));
                    }
                }
            }
            Err(e) => {
                if submissions == 1 {
                    // Nothing ran: the batch failed as a whole.
                    return Err(e);
                }
                let reason = format!("a batch carrying it failed ({e})");
                for i in chunk.into_iter().chain(queue.drain(..)) {
                    outcomes[i] = Some(Err(Error::BatchUnserviced {
                        id: ready[i].id.clone(),
                        attempts: attempts[i],
                        reason: reason.clone(),
                    }));
                }
                stopped_by = Some(e);
            }
        }
    }
    let outcomes = ready
        .into_iter()
        .zip(outcomes)
        .map(|(r, o)| BatchOutcome {
            response: o.unwrap_or_else(|| {
                Err(Error::BatchUnserviced {
                    id: r.id.clone(),
                    attempts: 0,
                    reason: "it was not sent".into(),
                })
            }),
            id: r.id,
        })
        .collect();
    Ok(BatchResponses {
        outcomes,
        submissions,
        stopped_by,
    })
}

/// Sends one batch and checks its answer.
async fn submit(
    client: &Client,
    ready: &[Ready],
    chunk: &[usize],
    batch_id: &str,
    s: &Settings,
) -> Result<(RawBatch, Option<SentCredentials>), Error> {
    let mut body = Vec::with_capacity(
        FRAME
            + chunk
                .iter()
                .map(|&i| ready[i].json.len() + 1)
                .sum::<usize>(),
    );
    body.extend_from_slice(OPEN.as_bytes());
    body.extend_from_slice(
        serde_json::to_string(batch_id)
            .unwrap_or_default()
            .as_bytes(),
    );
    body.extend_from_slice(REQUESTS);
    for (k, &i) in chunk.iter().enumerate() {
        if k > 0 {
            body.push(b',');
        }
        body.extend_from_slice(&ready[i].json);
    }
    body.extend_from_slice(CLOSE);
    let mut req = ApiRequest::api(Method::POST, ["v1", "batch"]).json(Bytes::from(body));
    if let Some(max) = s.max_output_bytes {
        req = req.header(
            HeaderName::from_static("x-batchrequest-max-output-size"),
            HeaderValue::from(max),
        );
    }
    let resp = client.send_buffered(req).await?;
    let raw: RawBatch = resp.raw().decode_body()?;
    if raw.batch_request_id.0 != batch_id {
        return Err(Error::UnexpectedResponse {
            status: resp.parts.status,
            content_type: None,
            reason: format!(
                "the answer to batch {batch_id} names batch {}",
                crate::query_quote(&raw.batch_request_id.0)
            ),
            excerpt: String::new(),
        });
    }
    Ok((raw, resp.parts.extensions.get::<SentCredentials>().cloned()))
}
