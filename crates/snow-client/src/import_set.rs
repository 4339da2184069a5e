//! The Import Set API (`/api/now/import/{staging_table}`): load rows into a staging table and
//! get the transform's outcome for each, typed.
//!
//! ```no_run
//! use serde_json::json;
//! use snow_client::import_set::ImportStatus;
//!
//! # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
//! let users = client.import_set("imp_user");
//!
//! // One row, transformed at once.
//! let loaded = users.insert(&json!({"user_name": "j.public", "first_name": "John"})).await?;
//! let result = loaded.result().expect("one transform map");
//! match &result.status {
//!     ImportStatus::Inserted | ImportStatus::Updated => println!("{} {}", result.table, result.sys_id),
//!     ImportStatus::Error => eprintln!("rejected: {:?}", result.error_message),
//!     other => println!("{other:?}"),
//! }
//!
//! // Many rows: sent in requests under the size limit, one outcome per row, in order.
//! let rows = (0..5000).map(|i| json!({"user_name": format!("user{i}")}));
//! for row in users.insert_multiple(rows).await? {
//!     if row.result.status == ImportStatus::Error {
//!         eprintln!("row {}: {:?}", row.index, row.result.error_message);
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::future::IntoFuture;

use bytes::{Bytes, BytesMut};
use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::list::ListRequest;
use crate::query::field;
use crate::request::{ApiRequest, BoxFuture, json_object_body};
use crate::{Error, Record};

/// The most bytes in one request by default: ServiceNow's `glide.rest.max_content_length`
/// (10 MB).
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 10 * 1024 * 1024;

/// The most rows in one `insertMultiple` request by default.
pub const DEFAULT_MAX_ROWS: usize = 1000;

/// The Import Set API for one staging table. Cheap to clone.
#[derive(Clone, Debug)]
pub struct ImportSet {
    client: Client,
    staging: String,
}

/// What became of one row: the fields of the API's `result` items.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct TransformResult {
    /// The transform map that ran.
    pub transform_map: String,
    /// The target table.
    pub table: String,
    /// The target record's sys_id (empty when nothing was written).
    pub sys_id: String,
    /// The outcome.
    pub status: ImportStatus,
    /// A message about the outcome (a transform script's `status_message`, why a row was
    /// ignored).
    pub status_message: Option<String>,
    /// Why the row was rejected, when `status` is [`ImportStatus::Error`].
    pub error_message: Option<String>,
    /// The target table's display field.
    pub display_name: String,
    /// The target record's display value.
    pub display_value: String,
    /// The target record's Table API URL.
    pub record_link: String,
    /// Any other member (fields a transform script adds).
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// The outcome of transforming a row (`status`, or a staging row's `sys_import_state`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ImportStatus {
    /// A target record was inserted.
    Inserted,
    /// An existing target record (matched on the coalesce fields) was updated.
    Updated,
    /// The row was ignored (nothing to change, or a transform script said so).
    Ignored,
    /// The row was skipped.
    Skipped,
    /// The row was rejected; see `error_message`.
    Error,
    /// Not transformed yet (an asynchronous `insertMultiple`): read it again later with
    /// [`ImportSet::rows`].
    #[default]
    Pending,
    /// Another state, as sent.
    Other(String),
}

impl ImportStatus {
    fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "inserted" | "insert" => ImportStatus::Inserted,
            "updated" | "update" => ImportStatus::Updated,
            "ignored" | "ignore" => ImportStatus::Ignored,
            "skipped" | "skip" => ImportStatus::Skipped,
            "error" => ImportStatus::Error,
            "pending" | "" => ImportStatus::Pending,
            _ => ImportStatus::Other(s.to_owned()),
        }
    }

    /// Whether the row reached the target table (inserted or updated).
    pub fn is_written(&self) -> bool {
        matches!(self, ImportStatus::Inserted | ImportStatus::Updated)
    }
}

impl<'de> Deserialize<'de> for ImportStatus {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ImportStatus::parse(&String::deserialize(d)?))
    }
}

/// The answer to a single-row load: the import set, the staging table, and one result per
/// transform map that ran.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct ImportResponse {
    /// The import set's number (`ISET0010001`).
    pub import_set: String,
    /// The staging table.
    pub staging_table: String,
    /// One result per transform map.
    #[serde(rename = "result")]
    pub results: Vec<TransformResult>,
}

impl ImportResponse {
    /// The first (usually only) transform result.
    pub fn result(&self) -> Option<&TransformResult> {
        self.results.first()
    }
}

/// One row of an `insertMultiple` load and its outcome.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct ImportRow {
    /// The row's position in what was given (from 0).
    pub index: usize,
    /// The sys_id of the import set holding it.
    pub import_set_id: String,
    /// The sys_id of the staging row (for [`ImportSet::get`]).
    pub staging_sys_id: String,
    /// The outcome (the staging row's `sys_import_state`, `sys_target_sys_id`,
    /// `sys_row_error`...).
    pub result: TransformResult,
}

impl ImportSet {
    pub(crate) fn new(client: Client, staging: String) -> Self {
        Self { client, staging }
    }

    /// The staging table.
    pub fn staging_table(&self) -> &str {
        &self.staging
    }

    /// Loads one row (`POST /import/{staging}`, any serde value that serialises to a JSON
    /// object; ServiceNow expects string values) and returns the transform's outcome. A row the
    /// transform rejects is a result with [`ImportStatus::Error`], not an `Err`. Never retried
    /// automatically (a row sent twice is loaded twice).
    pub fn insert(&self, row: &impl Serialize) -> InsertRequest {
        InsertRequest {
            client: self.client.clone(),
            staging: self.staging.clone(),
            body: json_object_body(row),
        }
    }

    /// Loads many rows (`POST /import/{staging}/insertMultiple`), in as many requests as it
    /// takes to stay under the request size limit, and returns every row's outcome in order.
    pub fn insert_multiple<I, R>(&self, rows: I) -> InsertMultipleRequest
    where
        I: IntoIterator<Item = R>,
        R: Serialize,
    {
        InsertMultipleRequest {
            client: self.client.clone(),
            staging: self.staging.clone(),
            rows: rows.into_iter().map(|r| json_object_body(&r)).collect(),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
            max_rows: DEFAULT_MAX_ROWS,
        }
    }

    /// The outcome of one staging row (`GET /import/{staging}/{sys_id}`).
    pub async fn get(&self, staging_sys_id: &str) -> Result<ImportResponse, Error> {
        let req = ApiRequest::api(
            Method::GET,
            ["import", self.staging.as_str(), staging_sys_id],
        );
        self.client.send_buffered(req).await?.raw().decode_body()
    }

    /// Every row of an import set in this staging table, with its outcome as the staging row
    /// holds it now, in row order (read through the Table API).
    pub async fn rows(&self, import_set_id: &str) -> Result<Vec<ImportRow>, Error> {
        let list = ListRequest::new(
            self.client.clone(),
            ApiRequest::api(Method::GET, ["table", self.staging.as_str()]),
        )
        .query(
            field("sys_import_set")
                .eq(import_set_id)
                .order_by("sys_import_row"),
        )
        .fields([
            "sys_id",
            "sys_import_row",
            "sys_import_state",
            "sys_import_state_comment",
            "sys_row_error",
            "sys_target_table",
            "sys_target_sys_id",
            "sys_transform_map",
        ])
        .exclude_reference_link(true);
        let records: Vec<Record> = list.all().await?;
        Ok(records
            .iter()
            .map(|r| {
                let text = |k: &str| r.str(k).unwrap_or_default().to_owned();
                let some = |k: &str| Some(text(k)).filter(|s| !s.is_empty());
                let index = text("sys_import_row")
                    .parse::<usize>()
                    .map_or(usize::MAX, |n| n.saturating_sub(1));
                ImportRow {
                    index,
                    import_set_id: import_set_id.to_owned(),
                    staging_sys_id: text("sys_id"),
                    result: TransformResult {
                        transform_map: text("sys_transform_map"),
                        table: text("sys_target_table"),
                        sys_id: text("sys_target_sys_id"),
                        status: ImportStatus::parse(&text("sys_import_state")),
                        status_message: some("sys_import_state_comment"),
                        error_message: some("sys_row_error"),
                        ..TransformResult::default()
                    },
                }
            })
            .collect())
    }
}

/// A single-row load being sent; `.await` it.
#[derive(Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct InsertRequest {
    client: Client,
    staging: String,
    body: Result<Bytes, Error>,
}

impl InsertRequest {
    /// Sends the row.
    pub async fn send(self) -> Result<ImportResponse, Error> {
        let req = ApiRequest::api(Method::POST, ["import", self.staging.as_str()]).json(self.body?);
        self.client.send_buffered(req).await?.raw().decode_body()
    }
}

impl IntoFuture for InsertRequest {
    type Output = Result<ImportResponse, Error>;
    type IntoFuture = BoxFuture<ImportResponse>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A many-row load being configured; `.await` it for every row's outcome, in the order given.
///
/// The rows go in `insertMultiple` requests of at most [`max_rows`](Self::max_rows) rows and
/// [`max_request_bytes`](Self::max_request_bytes) bytes each; every request makes one import
/// set (all of them share one `multi_import_set_id`). After each request the staging rows of
/// its import set are read back, so each row's outcome is what the instance recorded. A real
/// instance transforms `insertMultiple` rows asynchronously unless configured otherwise, so
/// outcomes may be [`ImportStatus::Pending`]: read them again later with [`ImportSet::rows`].
///
/// A row that fails to serialise, or is larger than a request may be, is refused before
/// anything is sent.
#[derive(Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct InsertMultipleRequest {
    client: Client,
    staging: String,
    rows: Vec<Result<Bytes, Error>>,
    max_request_bytes: usize,
    max_rows: usize,
}

/// The answer to one `insertMultiple` request.
#[derive(Deserialize)]
struct Loaded {
    import_set_id: String,
    #[serde(default)]
    multi_import_set_id: Option<String>,
}

impl InsertMultipleRequest {
    /// The most bytes in one request (default [`DEFAULT_MAX_REQUEST_BYTES`], the instance's
    /// `glide.rest.max_content_length`); lower it when the instance's limit is lower.
    pub fn max_request_bytes(mut self, n: usize) -> Self {
        self.max_request_bytes = n;
        self
    }

    /// The most rows in one request (default [`DEFAULT_MAX_ROWS`], at least 1).
    pub fn max_rows(mut self, n: usize) -> Self {
        self.max_rows = n.max(1);
        self
    }

    /// The rows, checked, cut into request bodies: `(index of the first row, body, rows)`.
    fn chunks(&self) -> Result<Vec<(usize, Bytes, usize)>, Error> {
        const OPEN: &[u8] = b"{\"records\":[";
        const CLOSE: &[u8] = b"]}";
        let room = self
            .max_request_bytes
            .saturating_sub(OPEN.len() + CLOSE.len());
        let mut out = Vec::new();
        let mut body = BytesMut::new();
        let (mut first, mut n) = (0, 0);
        let finish = |body: &mut BytesMut, out: &mut Vec<_>, first: usize, n: usize| {
            if n > 0 {
                let mut full = BytesMut::with_capacity(OPEN.len() + body.len() + CLOSE.len());
                full.extend_from_slice(OPEN);
                full.extend_from_slice(body);
                full.extend_from_slice(CLOSE);
                out.push((first, full.freeze(), n));
                body.clear();
            }
        };
        for (i, row) in self.rows.iter().enumerate() {
            let row = match row {
                Ok(r) => r,
                Err(e) => {
                    return Err(Error::invalid_input(format!("row {i} cannot be sent: {e}")));
                }
            };
            if row.len() > room {
                return Err(Error::invalid_input(format!(
                    "row {i} is {} bytes, more than a request may carry ({} bytes)",
                    row.len(),
                    self.max_request_bytes
                )));
            }
            let extra = usize::from(n > 0);
            if n == self.max_rows || body.len() + extra + row.len() > room {
                finish(&mut body, &mut out, first, n);
                first = i;
                n = 0;
            }
            if n > 0 {
                body.extend_from_slice(b",");
            }
            body.extend_from_slice(row);
            n += 1;
        }
        finish(&mut body, &mut out, first, n);
        Ok(out)
    }

    /// Sends the rows.
    pub async fn send(self) -> Result<Vec<ImportRow>, Error> {
        let chunks = self.chunks()?;
        let set = ImportSet::new(self.client.clone(), self.staging.clone());
        let mut multi: Option<String> = None;
        let mut out = Vec::with_capacity(self.rows.len());
        for (first, body, n) in chunks {
            let mut req = ApiRequest::api(
                Method::POST,
                ["import", self.staging.as_str(), "insertMultiple"],
            );
            if let Some(m) = &multi {
                req = req.pair("multi_import_set_id", m.clone());
            }
            let resp = self.client.send_buffered(req.json(body)).await?;
            let loaded: Loaded = resp.raw().decode_body()?;
            if multi.is_none() {
                multi = loaded.multi_import_set_id.filter(|m| !m.is_empty());
            }
            let rows = set.rows(&loaded.import_set_id).await?;
            let mut by_index: Vec<Option<ImportRow>> = vec![None; n];
            for row in rows {
                if let Some(slot) = by_index.get_mut(row.index) {
                    *slot = Some(row);
                }
            }
            for (k, row) in by_index.into_iter().enumerate() {
                let Some(mut row) = row else {
                    return Err(Error::UnexpectedResponse {
                        status: resp.parts.status,
                        content_type: None,
                        reason: format!(
                            "an import set that holds no row {} of the {n} sent (import set {})",
                            k + 1,
                            crate::query_quote(&loaded.import_set_id)
                        ),
                        excerpt: String::new(),
                    });
                };
                row.index = first + k;
                out.push(row);
            }
        }
        Ok(out)
    }
}

impl IntoFuture for InsertMultipleRequest {
    type Output = Result<Vec<ImportRow>, Error>;
    type IntoFuture = BoxFuture<Vec<ImportRow>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(rows: Vec<serde_json::Value>) -> InsertMultipleRequest {
        let client = Client::new(
            snow_transport::Transport::builder("https://acme.service-now.com".parse().unwrap())
                .build()
                .unwrap(),
        );
        ImportSet::new(client, "imp_user".into()).insert_multiple(rows)
    }

    #[test]
    fn chunks_stay_under_the_limits() {
        let rows: Vec<_> = (0..10)
            .map(|i| serde_json::json!({"user_name": format!("u{i:03}")}))
            .collect();
        let one = rows[0].to_string().len();
        // Room for three rows (and two commas) per request.
        let limit = "{\"records\":[]}".len() + 3 * one + 2;
        let chunks = request(rows.clone())
            .max_request_bytes(limit)
            .chunks()
            .unwrap();
        let sizes: Vec<(usize, usize)> = chunks.iter().map(|(f, _, n)| (*f, *n)).collect();
        assert_eq!(sizes, [(0, 3), (3, 3), (6, 3), (9, 1)]);
        for (_, body, n) in &chunks {
            assert!(body.len() <= limit);
            let v: serde_json::Value = serde_json::from_slice(body).unwrap();
            assert_eq!(v["records"].as_array().unwrap().len(), *n);
        }
        let by_rows = request(rows.clone()).max_rows(4).chunks().unwrap();
        assert_eq!(by_rows.iter().map(|c| c.2).collect::<Vec<_>>(), [4, 4, 2]);
        let e = request(rows).max_request_bytes(10).chunks().unwrap_err();
        assert!(e.to_string().contains("row 0"), "{e}");
        let e = request(vec![serde_json::json!([1])]).chunks().unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }));
        assert!(request(Vec::new()).chunks().unwrap().is_empty());
    }

    #[test]
    fn statuses() {
        assert_eq!(ImportStatus::parse("inserted"), ImportStatus::Inserted);
        assert_eq!(ImportStatus::parse("Ignored"), ImportStatus::Ignored);
        assert_eq!(
            ImportStatus::parse("weird"),
            ImportStatus::Other("weird".into())
        );
        assert!(ImportStatus::Updated.is_written());
        let r: TransformResult = serde_json::from_str(
            r#"{"transform_map":"User","table":"sys_user","status":"error","error_message":"bad","u_extra":"1"}"#,
        )
        .unwrap();
        assert_eq!(r.status, ImportStatus::Error);
        assert_eq!(r.error_message.as_deref(), Some("bad"));
        assert_eq!(r.other["u_extra"], "1");
    }
}
