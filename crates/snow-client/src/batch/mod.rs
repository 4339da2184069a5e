//! The Batch API (`POST /api/now/v1/batch`): many requests of any kind in one round trip,
//! each answered on its own.
//!
//! A [`Batch`] collects [`BatchItem`]s and sends them. Requests the instance leaves in
//! `unserviced_requests` (its time or size quota ran out) are sent again in a new batch, up to
//! [`Batch::max_resubmits`] times; requests too many or too large for one batch are split
//! across several under the documented limits (10 MB per batch request, 5 MB per request
//! body). Every answered request's base64 body is decoded into its own
//! [`BatchItemResponse`], whose error status is that request's typed [`Error`].
//!
//! ```no_run
//! use serde_json::json;
//! use snow_client::batch::BatchItem;
//! use snow_client::{Record, query::field};
//!
//! # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
//! let mut batch = client.batch();
//! let list = batch.push(BatchItem::get("/api/now/table/incident").query("sysparm_limit", "5"));
//! let create = batch.push(
//!     BatchItem::post("/api/now/table/incident").json(&json!({"short_description": "via batch"})),
//! );
//! let mut answers = batch.send().await?;
//! let five: Vec<Record> = answers.take(&list).expect("pushed").result()?;
//! let created: Record = answers.take(&create).expect("pushed").one()?;
//!
//! // PySNC's update_multiple / delete_multiple: every record matching a query, one outcome each.
//! let outcome = client.batch()
//!     .update_where("incident", field("active").eq(false), &json!({"state": "7"}))
//!     .await?;
//! for (sys_id, e) in outcome.failed() {
//!     eprintln!("{sys_id}: {e}");
//! }
//! # Ok(()) }
//! ```

mod bulk;
mod item;
mod send;

use std::collections::HashSet;
use std::future::IntoFuture;

use serde::Serialize;

pub use bulk::{BulkOutcome, BulkRequest, RecordOutcome};
pub use item::BatchItem;
pub use send::{BatchItemResponse, BatchOutcome, BatchResponses};

use crate::Error;
use crate::client::Client;
use crate::query::IntoQuery;
use crate::request::{BoxFuture, json_object_body};

/// How often a request left unserviced is sent again, by default (as PySNC does).
pub const DEFAULT_MAX_RESUBMITS: u32 = 3;
/// The most requests in one batch, by default.
pub const DEFAULT_MAX_REQUESTS: usize = 100;
/// The most bytes in one batch request, by default: ServiceNow's REST request limit
/// (`glide.rest.max_content_length`, 10 MB).
pub const DEFAULT_MAX_BATCH_BYTES: usize = 10 * 1024 * 1024;
/// The most bytes in one request's body, by default: `glide.rest.batch.max.inputSize` (5 MB).
pub const DEFAULT_MAX_ITEM_BYTES: usize = 5 * 1024 * 1024;

/// How a batch is sent.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) max_resubmits: u32,
    pub(crate) max_requests: usize,
    pub(crate) max_batch_bytes: usize,
    pub(crate) max_item_bytes: usize,
    pub(crate) max_output_bytes: Option<u64>,
    pub(crate) exclude_response_headers: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            max_resubmits: DEFAULT_MAX_RESUBMITS,
            max_requests: DEFAULT_MAX_REQUESTS,
            max_batch_bytes: DEFAULT_MAX_BATCH_BYTES,
            max_item_bytes: DEFAULT_MAX_ITEM_BYTES,
            max_output_bytes: None,
            exclude_response_headers: false,
        }
    }
}

/// A batch of requests being put together; [`send`](Self::send) it (or `.await` it).
///
/// Requests get ids `"1"`, `"2"`... in push order unless given one
/// ([`push_with_id`](Self::push_with_id)); the answers are looked up by id. A batch is not
/// retried as a whole by the transport (it may hold writes); only unserviced requests are sent
/// again.
#[derive(Clone, Debug)]
#[must_use = "a batch does nothing until sent"]
pub struct Batch {
    client: Client,
    items: Vec<(String, BatchItem)>,
    ids: HashSet<String>,
    next: u64,
    settings: Settings,
}

impl Batch {
    pub(crate) fn new(client: Client) -> Self {
        Self {
            client,
            items: Vec::new(),
            ids: HashSet::new(),
            next: 0,
            settings: Settings::default(),
        }
    }

    /// Adds a request and returns its id.
    pub fn push(&mut self, item: BatchItem) -> String {
        let id = loop {
            self.next += 1;
            let id = self.next.to_string();
            if !self.ids.contains(&id) {
                break id;
            }
        };
        self.ids.insert(id.clone());
        self.items.push((id.clone(), item));
        id
    }

    /// Adds a request under an id of the caller's; an id already used is refused.
    pub fn push_with_id(&mut self, id: impl Into<String>, item: BatchItem) -> Result<(), Error> {
        let id = id.into();
        if id.is_empty() || id.chars().any(char::is_control) {
            return Err(Error::invalid_input(
                "a batch request id must be non-empty text without control characters",
            ));
        }
        if !self.ids.insert(id.clone()) {
            return Err(Error::invalid_input(format!(
                "the batch already has a request with id {:?}",
                crate::query_quote(&id)
            )));
        }
        self.items.push((id, item));
        Ok(())
    }

    /// Adds a request (builder style).
    pub fn with(mut self, item: BatchItem) -> Self {
        self.push(item);
        self
    }

    /// How many requests.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// How many times a request left in `unserviced_requests` is sent again before its
    /// outcome is [`Error::BatchUnserviced`] (default [`DEFAULT_MAX_RESUBMITS`]).
    pub fn max_resubmits(mut self, n: u32) -> Self {
        self.settings.max_resubmits = n;
        self
    }

    /// The most requests in one batch (default [`DEFAULT_MAX_REQUESTS`], at least 1); more are
    /// sent in further batches.
    pub fn max_requests_per_batch(mut self, n: usize) -> Self {
        self.settings.max_requests = n.max(1);
        self
    }

    /// The most bytes in one batch request (default [`DEFAULT_MAX_BATCH_BYTES`]).
    pub fn max_batch_bytes(mut self, n: usize) -> Self {
        self.settings.max_batch_bytes = n;
        self
    }

    /// The most bytes in one request's body (default [`DEFAULT_MAX_ITEM_BYTES`]); a larger
    /// one is refused before anything is sent.
    pub fn max_item_bytes(mut self, n: usize) -> Self {
        self.settings.max_item_bytes = n;
        self
    }

    /// `X-BATCHREQUEST-MAX-OUTPUT-SIZE`: the most bytes of output per request (the instance
    /// caps it at `glide.rest.batch.max.outputSize`, 10 MB by default).
    pub fn max_output_bytes(mut self, n: u64) -> Self {
        self.settings.max_output_bytes = Some(n);
        self
    }

    /// `exclude_response_headers` on every request: smaller answers, no response headers.
    pub fn exclude_response_headers(mut self, yes: bool) -> Self {
        self.settings.exclude_response_headers = yes;
        self
    }

    /// Sends every request and collects the answers. `Err` when nothing could be run (invalid
    /// input, or the first batch failed as a whole); otherwise one outcome per request.
    pub async fn send(self) -> Result<BatchResponses, Error> {
        send::run(&self.client, self.items, &self.settings).await
    }

    /// Updates every record of `table` matching `query` with `payload` (`PATCH` through
    /// batches, as PySNC's `update_multiple`), and reports each record's outcome. The records
    /// are found by keyset paging over their sys_ids and changed a batch at a time, so memory
    /// stays bounded; the requests pushed to this batch are not sent, its settings are used.
    /// An empty query is refused: it would change the whole table (to mean that, say so with
    /// a condition such as `field("sys_id").is_not_empty()`).
    pub fn update_where(
        &self,
        table: impl Into<String>,
        query: impl IntoQuery,
        payload: &impl Serialize,
    ) -> BulkRequest {
        BulkRequest::new(
            self.client.clone(),
            self.settings.clone(),
            table.into(),
            query.into_query(),
            Some(json_object_body(payload)),
        )
    }

    /// Deletes every record of `table` matching `query` through batches (PySNC's
    /// `delete_multiple`), reporting each record's outcome; as [`update_where`](Self::update_where).
    pub fn delete_where(&self, table: impl Into<String>, query: impl IntoQuery) -> BulkRequest {
        BulkRequest::new(
            self.client.clone(),
            self.settings.clone(),
            table.into(),
            query.into_query(),
            None,
        )
    }
}

impl IntoFuture for Batch {
    type Output = Result<BatchResponses, Error>;
    type IntoFuture = BoxFuture<BatchResponses>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
