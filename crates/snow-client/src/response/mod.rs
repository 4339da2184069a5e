//! Decoding ServiceNow answers from status, headers and body bytes.
//!
//! Pure functions over an already-read response, so every case is testable without HTTP:
//!
//! - `{"result": ...}` (object or array) → the caller's serde type; a decoding failure is
//!   [`Error::Decode`] naming the JSON path (`result[3].priority`).
//! - `{"error":{"message","detail"},"status":"failure"}` at any status → [`Error::Api`]
//!   (`detail` may be a string, `""`, `null` or missing).
//! - a 2xx with a top-level `error` after a `result` → [`Error::TransactionCancelled`] with the
//!   number of records that arrived; JSON cut off mid-way → [`Error::TruncatedResponse`].
//! - the developer-instance hibernation page → [`Error::InstanceUnavailable`] `{hibernating: true}`.
//! - other non-JSON bodies → [`Error::UnexpectedResponse`] with a short, credential-free excerpt.
//! - `202` to a GET → [`Error::SessionRejected`]; `429` → [`Error::RateLimited`] with `Retry-After`.
//!
//! ```
//! use snow_client::response::RawResponse;
//! use snow_client::{Error, Record};
//! let headers = http::HeaderMap::new();
//! let body = br#"{"result":[{"number":"INC1"},{"number":"INC2"}]}"#;
//! let r = RawResponse::new(&http::Method::GET, http::StatusCode::OK, &headers, body);
//! let records: Vec<Record> = r.decode_list()?;
//! assert_eq!(records[1].str("number"), Some("INC2"));
//!
//! let body = br#"{"error":{"message":"No Record found","detail":null},"status":"failure"}"#;
//! let r = RawResponse::new(&http::Method::GET, http::StatusCode::NOT_FOUND, &headers, body);
//! assert!(matches!(r.decode_one::<Record>(), Err(Error::Api { .. })));
//! # Ok::<(), Error>(())
//! ```

mod brackets;
mod excerpt;
pub(crate) mod link;
mod scan;
pub(crate) mod walk;

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Method, StatusCode};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, IgnoredAny, MapAccess, SeqAccess, Visitor};

use serde_json::value::RawValue;
use snow_core::secret::SentCredentials;

use crate::Error;
use scan::{ErrorBody, scan};

/// The markers of the developer-instance hibernation page.
const HIBERNATION_MARKERS: [&str; 2] =
    ["Instance Hibernating page", "Your instance is hibernating"];

/// A response that has been read: method of the request, status, headers and body.
#[derive(Clone, Copy, Debug)]
pub struct RawResponse<'a> {
    method: &'a Method,
    status: StatusCode,
    headers: &'a HeaderMap,
    body: &'a [u8],
    /// The credentials the request carried, scrubbed from any text quoted in an error.
    sent: Option<&'a SentCredentials>,
}

/// The success envelope, decoded in one pass.
#[derive(Deserialize)]
struct Envelope<T> {
    result: Option<T>,
    error: Option<ErrorBody>,
}

/// What was wrong with JSON the parser refused, in words (the parser's message carries a
/// position, never the body's text).
fn json_problem(e: Option<&serde_json::Error>) -> String {
    let Some(e) = e else {
        return "malformed JSON".to_owned();
    };
    let msg = e.to_string();
    if msg.contains("recursion limit exceeded") {
        format!("JSON nested deeper than the decoder's limit of 128 levels ({msg})")
    } else if msg.contains("unicode") || msg.contains("UTF-8") {
        format!("text that is not valid UTF-8 ({msg})")
    } else {
        format!("malformed JSON ({msg})")
    }
}

/// A result that is either one object or an array of them.
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a record or an array of records")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Vec::<T>::deserialize(de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany::Many)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(OneOrMany::One)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A list result located but not decoded: the records of an array, or one object.
enum RawResult<'a> {
    Many(Vec<&'a RawValue>),
    One,
}

impl<'de: 'a, 'a> Deserialize<'de> for RawResult<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawResult<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a record or an array of records")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(65_536));
                while let Some(item) = seq.next_element::<&'a RawValue>()? {
                    items.push(item);
                }
                Ok(RawResult::Many(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(RawResult::One)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// The success envelope with the records left undecoded.
#[derive(Deserialize)]
struct RawEnvelope<'a> {
    #[serde(borrow)]
    result: Option<RawResult<'a>>,
    error: Option<ErrorBody>,
}

/// The envelope of a single-object result, to find that object's bytes.
#[derive(Deserialize)]
struct OneEnvelope<'a> {
    #[serde(borrow)]
    result: &'a RawValue,
}

/// Where `part` (a sub-slice of `whole`) sits inside `whole`.
fn span_in(whole: &[u8], part: &str) -> Range<usize> {
    let start = (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize);
    start..start + part.len()
}

/// `T` from the JSON of one value, as `serde_json::from_slice` decodes it; a [`Record`] is
/// kept as its JSON and read field by field when used (see [`Record`]).
///
/// [`Record`]: crate::Record
pub(crate) fn from_json_slice<T: DeserializeOwned + 'static>(
    bytes: &[u8],
) -> Result<T, serde_json::Error> {
    if let Some(record) = as_record(|| crate::Record::from_json(bytes).map(Some)) {
        return record;
    }
    json_from_bytes(bytes)
}

/// Whether `bytes` are one JSON text: UTF-8 throughout (which serde_json's `IgnoredAny` does
/// not check inside strings) and well-formed.
pub(crate) fn is_json(bytes: &[u8]) -> bool {
    std::str::from_utf8(bytes).is_ok_and(|text| serde_json::from_str::<IgnoredAny>(text).is_ok())
}

/// `T` from JSON bytes, as `serde_json::from_slice` decodes it, with the bytes checked for
/// UTF-8 once, whole, rather than string by string.
///
/// serde_json checks the UTF-8 of every string it reads from a byte slice, each one a call of
/// its own: for a record of sixty members that is about a sixth of decoding it, most of it on
/// the member names. Reading from a `&str` skips those checks, and checking the whole text
/// first costs a small part of them. Bytes that are not UTF-8 are read from the slice, which
/// reports where.
pub(crate) fn json_from_bytes<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    match std::str::from_utf8(bytes) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(bytes),
    }
}

/// The record `make` gives, as a `T`, when `T` is [`Record`](crate::Record) (`make` is called
/// only then); `None` for any other `T`, or when `make` gives no record.
fn as_record<T: 'static, E>(
    make: impl FnOnce() -> Result<Option<crate::Record>, E>,
) -> Option<Result<T, E>> {
    let mut slot: Option<T> = None;
    let record = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<crate::Record>>()?;
    match make() {
        Ok(made) => *record = made,
        Err(e) => return Some(Err(e)),
    }
    slot.map(Ok)
}

/// Decodes the record at `index` of a list result from its own bytes (see
/// [`RawResponse::list_spans`]); a failure names the path as a whole-body decode would
/// (`result[3].priority`).
///
/// Records are decoded with plain serde_json; only a record that fails is decoded a second
/// time with path tracking (which costs an allocation per key), to name where it failed.
pub(crate) fn decode_list_item<T: DeserializeOwned + 'static>(
    item: &[u8],
    index: usize,
) -> Result<T, Error> {
    let first_error = match from_json_slice::<T>(item) {
        Ok(t) => return Ok(t),
        Err(e) if !e.is_data() => {
            return Err(Error::UnexpectedResponse {
                status: StatusCode::OK,
                content_type: None,
                reason: format!("record {index}: {}", json_problem(Some(&e))),
                excerpt: String::new(),
            });
        }
        Err(e) => e,
    };
    let de = &mut serde_json::Deserializer::from_slice(item);
    let Err(pe) = serde_path_to_error::deserialize::<_, T>(de) else {
        // Cannot happen (the same bytes decode the same way); report the first error.
        return Err(Error::Decode {
            path: format!("result[{index}]"),
            source: first_error,
        });
    };
    let inner = pe.path().to_string();
    let path = match inner.as_str() {
        "" | "." => format!("result[{index}]"),
        p if p.starts_with('[') => format!("result[{index}]{p}"),
        p => format!("result[{index}].{p}"),
    };
    Err(Error::Decode {
        path,
        source: pe.into_inner(),
    })
}

impl<'a> RawResponse<'a> {
    /// Wraps a read response. `method` is the request's method (a `202` means session rejection
    /// only for GET).
    pub fn new(
        method: &'a Method,
        status: StatusCode,
        headers: &'a HeaderMap,
        body: &'a [u8],
    ) -> Self {
        Self {
            method,
            status,
            headers,
            body,
            sent: None,
        }
    }

    /// Scrubs `sent` (the credentials the request carried) from every text this response puts
    /// into an error.
    pub fn with_sent_credentials(mut self, sent: Option<&'a SentCredentials>) -> Self {
        self.sent = sent;
        self
    }

    /// Server text bound for an error: credentials the request carried and anything that looks
    /// like a credential removed, quoted safely.
    fn quote(&self, text: &str) -> String {
        let text = match self.sent {
            Some(sent) => sent.redact(text),
            None => Cow::Borrowed(text),
        };
        crate::query_quote(&excerpt::redact(&text))
    }

    /// An error body's message and detail, scrubbed as [`quote`](Self::quote) does.
    fn scrubbed(&self, e: ErrorBody) -> ErrorBody {
        ErrorBody {
            message: self.quote(&e.message),
            detail: e.detail.map(|d| self.quote(&d)),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `X-Transaction-ID` header (worth logging with any failure).
    pub fn transaction_id(&self) -> Option<&'a str> {
        self.header("x-transaction-id")
    }

    /// The `X-Total-Count` header: how many records match the whole query.
    pub fn total_count(&self) -> Option<u64> {
        self.header("x-total-count")
            .and_then(|v| v.trim().parse().ok())
    }

    fn header(&self, name: &str) -> Option<&'a str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn content_type(&self) -> Option<String> {
        self.header("content-type").map(|v| self.quote(v))
    }

    /// The `Retry-After` header: seconds, or an HTTP date (counted from now).
    pub fn retry_after(&self) -> Option<Duration> {
        let v = self.header("retry-after")?.trim();
        if let Ok(secs) = v.parse::<u64>() {
            return Some(Duration::from_secs(secs));
        }
        let at = httpdate::parse_http_date(v).ok()?;
        Some(
            at.duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO),
        )
    }

    fn unexpected(&self, reason: &str) -> Error {
        Error::UnexpectedResponse {
            status: self.status,
            content_type: self.content_type(),
            reason: reason.to_owned(),
            excerpt: match self.sent {
                Some(sent) => sent.redact(&excerpt::excerpt(self.body)).into_owned(),
                None => excerpt::excerpt(self.body),
            },
        }
    }

    fn api(&self, e: ErrorBody) -> Error {
        let transaction_id = self.transaction_id().map(|t| self.quote(t));
        let e = self.scrubbed(e);
        if self.status.is_success() && e.message.contains("Transaction cancelled") {
            return Error::TransactionCancelled {
                rows_received: 0,
                message: e.message,
                detail: e.detail,
                transaction_id,
            };
        }
        Error::Api {
            status: self.status,
            message: e.message,
            detail: e.detail,
            transaction_id,
        }
    }

    /// Errors decided before looking at JSON: 202 on GET, 429, the hibernation page, non-JSON.
    fn precheck(&self) -> Result<(), Error> {
        if self.status == StatusCode::ACCEPTED && self.method == Method::GET {
            return Err(Error::SessionRejected {
                transaction_id: self.transaction_id().map(|t| self.quote(t)),
            });
        }
        if self.status == StatusCode::TOO_MANY_REQUESTS {
            let message = if snow_core::looks_like_json(self.body) {
                scan(self.body).error.map(|e| {
                    let e = self.scrubbed(e);
                    match e.detail {
                        Some(d) => format!("{}: {d}", e.message),
                        None => e.message,
                    }
                })
            } else {
                None
            };
            return Err(Error::RateLimited {
                retry_after: self.retry_after(),
                message,
                rule: self.header("x-ratelimit-rule").map(|r| self.quote(r)),
                limit: self
                    .header("x-ratelimit-limit")
                    .and_then(|v| v.trim().parse().ok()),
                reset: self
                    .header("x-ratelimit-reset")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .and_then(|secs| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(secs))),
            });
        }
        if !snow_core::looks_like_json(self.body) {
            let text = String::from_utf8_lossy(self.body);
            if HIBERNATION_MARKERS.iter().any(|m| text.contains(m)) {
                return Err(Error::InstanceUnavailable {
                    hibernating: true,
                    status: self.status,
                });
            }
            return Err(if self.body.iter().all(u8::is_ascii_whitespace) {
                self.unexpected("an empty body")
            } else {
                self.unexpected("a body that is not JSON")
            });
        }
        Ok(())
    }

    /// Why a JSON body that did not decode as `T` failed, preferring ServiceNow's own error.
    fn explain_failure(&self, decode_error: Option<Error>) -> Error {
        self.explain(decode_error, None)
    }

    /// Why a body that the JSON parser refused failed.
    fn explain_syntax(&self, e: &serde_json::Error) -> Error {
        self.explain(None, Some(e))
    }

    /// Why the body could not be decoded, preferring ServiceNow's own error, then what the
    /// parser found wrong (cut short, malformed, too deep, not UTF-8), then the decoding error.
    fn explain(&self, decode_error: Option<Error>, syntax: Option<&serde_json::Error>) -> Error {
        let s = scan(self.body);
        if let Some(e) = s.error {
            if self.status.is_success() && s.has_result {
                return Error::TransactionCancelled {
                    rows_received: s.rows,
                    message: self.quote(&e.message),
                    detail: e.detail.map(|d| self.quote(&d)),
                    transaction_id: self.transaction_id().map(|t| self.quote(t)),
                };
            }
            return self.api(e);
        }
        if s.eof {
            return Error::TruncatedResponse {
                rows_received: s.rows,
                status: self.status,
            };
        }
        if s.malformed {
            return self.unexpected(&json_problem(s.problem.as_ref()));
        }
        if let Some(e) = syntax {
            // The tolerant scan skips what the real decoding read (string contents, depth
            // inside values), so the parser's own complaint is the accurate one.
            return self.unexpected(&json_problem(Some(e)));
        }
        if !self.status.is_success() {
            return self.unexpected("JSON without ServiceNow's `error` member");
        }
        match decode_error {
            Some(e) => e,
            None => self.unexpected("JSON without a `result` member"),
        }
    }

    /// Decodes `result` into `T` (the whole result: an object or an array).
    pub fn decode_result<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.precheck()?;
        match json_from_bytes::<Envelope<T>>(self.body) {
            Ok(env) => match (env.result, env.error) {
                (_, Some(_)) => Err(self.explain_failure(None)),
                (Some(r), None) if self.status.is_success() => Ok(r),
                _ => Err(self.explain_failure(None)),
            },
            Err(e) if e.is_data() => {
                // Decode again with path tracking, only to name where it failed.
                let de = &mut serde_json::Deserializer::from_slice(self.body);
                let err = match serde_path_to_error::deserialize::<_, Envelope<T>>(de) {
                    Err(pe) => Error::Decode {
                        path: pe.path().to_string(),
                        source: pe.into_inner(),
                    },
                    Ok(_) => Error::Decode {
                        path: "result".into(),
                        source: e,
                    },
                };
                Err(self.explain_failure(Some(err)))
            }
            Err(e) => Err(self.explain_syntax(&e)),
        }
    }

    /// Decodes a list result: an array of `T`, or a single object as a list of one.
    pub fn decode_list<T: DeserializeOwned>(&self) -> Result<Vec<T>, Error> {
        Ok(match self.decode_result::<OneOrMany<T>>()? {
            OneOrMany::One(t) => vec![t],
            OneOrMany::Many(v) => v,
        })
    }

    /// Checks a list answer as [`decode_list`](Self::decode_list) does (errors, cancelled or
    /// truncated transactions, non-JSON) and returns the byte range of each record in the body,
    /// leaving the records undecoded: a caller decodes them one at a time with
    /// `decode_list_item`, so a page never needs its decoded records in memory all at once.
    ///
    /// A record is delimited here by its structure and read by serde_json when it is decoded:
    /// a record whose inside is not JSON fails there, after the records before it, as a record
    /// that does not fit the caller's type does.
    pub(crate) fn list_spans(&self) -> Result<Vec<walk::RecordAt>, Error> {
        self.precheck()?;
        // The common shape is delimited by its structure alone, without decoding the page
        // before its records are decoded; anything else is read by serde_json below.
        if self.status.is_success()
            && let Some(spans) = walk::result_records(self.body)
        {
            return Ok(spans);
        }
        Ok(self
            .decoded_list_spans()?
            .into_iter()
            .map(walk::RecordAt::bytes)
            .collect())
    }

    /// [`list_spans`](Self::list_spans) after its pre-checks, by serde_json alone.
    fn decoded_list_spans(&self) -> Result<Vec<Range<usize>>, Error> {
        match serde_json::from_slice::<RawEnvelope<'_>>(self.body) {
            Ok(env) => match (env.result, env.error) {
                (Some(RawResult::Many(items)), None) if self.status.is_success() => Ok(items
                    .into_iter()
                    .map(|r| span_in(self.body, r.get()))
                    .collect()),
                (Some(RawResult::One), None) if self.status.is_success() => {
                    match serde_json::from_slice::<OneEnvelope<'_>>(self.body) {
                        Ok(one) => Ok(vec![span_in(self.body, one.result.get())]),
                        Err(e) => Err(self.explain_syntax(&e)),
                    }
                }
                _ => Err(self.explain_failure(None)),
            },
            Err(e) if e.is_data() => {
                let err = Error::Decode {
                    path: "result".into(),
                    source: e,
                };
                Err(self.explain_failure(Some(err)))
            }
            Err(e) => Err(self.explain_syntax(&e)),
        }
    }

    /// [`decode_one`](Self::decode_one), with a [`Record`](crate::Record) kept as its JSON
    /// and read field by field (see [`Record`](crate::Record)).
    pub(crate) fn decode_one_owned<T: DeserializeOwned + 'static>(&self) -> Result<T, Error> {
        if self.status.is_success()
            && self.precheck().is_ok()
            && let Some(record) = as_record(|| {
                Ok::<_, std::convert::Infallible>(crate::Record::from_result_json(self.body))
            })
        {
            return record.map_err(|never| match never {});
        }
        self.decode_one()
    }

    /// Decodes exactly one record: an object, or an array of exactly one
    /// ([`Error::NoResults`] / [`Error::MultipleResults`] otherwise).
    pub fn decode_one<T: DeserializeOwned>(&self) -> Result<T, Error> {
        match self.decode_result::<OneOrMany<T>>()? {
            OneOrMany::One(t) => Ok(t),
            OneOrMany::Many(v) => {
                let mut it = v.into_iter();
                match (it.next(), it.next()) {
                    (Some(t), None) => Ok(t),
                    (None, _) => Err(Error::NoResults),
                    (Some(_), Some(_)) => Err(Error::MultipleResults),
                }
            }
        }
    }

    /// Decodes the whole body as `T`, for APIs that answer without the `result` envelope (the
    /// Batch API, Import Set's `insertMultiple`), after the same checks as every answer: an
    /// error status or a top-level `error` member is the typed error of the answer, and a body
    /// that is not JSON is [`Error::UnexpectedResponse`]. A failure to fit `T` is
    /// [`Error::Decode`] naming the path.
    ///
    /// ```
    /// use snow_client::response::RawResponse;
    /// #[derive(serde::Deserialize)]
    /// struct Loaded { import_set_id: String }
    /// let headers = http::HeaderMap::new();
    /// let body = br#"{"import_set_id":"abc","multi_import_set_id":"def"}"#;
    /// let r = RawResponse::new(&http::Method::POST, http::StatusCode::OK, &headers, body);
    /// assert_eq!(r.decode_body::<Loaded>()?.import_set_id, "abc");
    /// # Ok::<(), snow_client::Error>(())
    /// ```
    pub fn decode_body<T: DeserializeOwned>(&self) -> Result<T, Error> {
        self.precheck()?;
        if !self.status.is_success() {
            return Err(self.explain_failure(None));
        }
        if let Some(e) = scan(self.body).error {
            return Err(self.api(e));
        }
        let de = &mut serde_json::Deserializer::from_slice(self.body);
        serde_path_to_error::deserialize(de).map_err(|e| {
            let path = e.path().to_string();
            let source = e.into_inner();
            if source.is_eof() || source.is_syntax() {
                self.explain_failure(None)
            } else {
                Error::Decode { path, source }
            }
        })
    }

    /// Checks an answer that needs no body (DELETE's 204, writes with `X-no-response-body`):
    /// any 2xx other than a GET's 202 is fine; anything else is the matching error.
    pub fn expect_success(&self) -> Result<(), Error> {
        if self.status.is_success()
            && !(self.status == StatusCode::ACCEPTED && self.method == Method::GET)
        {
            if !self.body.is_empty()
                && snow_core::looks_like_json(self.body)
                && let Some(e) = scan(self.body).error
            {
                return Err(self.api(e));
            }
            return Ok(());
        }
        self.precheck()?;
        Err(self.explain_failure(None))
    }
}

#[cfg(test)]
mod prop;
#[cfg(test)]
mod tests;
