//! Changing every record a query matches through batches: PySNC's `update_multiple` and
//! `delete_multiple`, with one outcome per record.

use std::future::IntoFuture;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use serde::Deserialize;

use super::{BatchItem, Settings, send};
use crate::Error;
use crate::client::Client;
use crate::list::{ListRequest, Paging};
use crate::query::{Query, QueryError};
use crate::request::{ApiRequest, BoxFuture};

/// What became of one record of a bulk change.
#[derive(Debug)]
#[non_exhaustive]
pub struct RecordOutcome {
    /// The record's sys_id.
    pub sys_id: String,
    /// `Ok` when it was changed; its request's error otherwise (a `403` for a record the user
    /// may not change, [`Error::BatchUnserviced`] when it was never run...).
    pub result: Result<(), Error>,
}

/// The outcome of a bulk change: one entry per matching record, in sys_id order.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct BulkOutcome {
    /// Every record found, with its outcome.
    pub records: Vec<RecordOutcome>,
    /// The failure that stopped the change part-way (listing the records, or a batch failing
    /// as a whole); the records not reached are not listed.
    pub stopped_by: Option<Error>,
}

impl BulkOutcome {
    /// The sys_ids of the records changed.
    pub fn succeeded(&self) -> impl Iterator<Item = &str> {
        self.records
            .iter()
            .filter(|r| r.result.is_ok())
            .map(|r| r.sys_id.as_str())
    }

    /// The records not changed, with why.
    pub fn failed(&self) -> impl Iterator<Item = (&str, &Error)> {
        self.records
            .iter()
            .filter_map(|r| r.result.as_ref().err().map(|e| (r.sys_id.as_str(), e)))
    }

    /// Whether every matching record was changed and nothing stopped the change.
    pub fn is_complete(&self) -> bool {
        self.stopped_by.is_none() && self.records.iter().all(|r| r.result.is_ok())
    }
}

/// A bulk update or delete being sent; `.await` it for the [`BulkOutcome`].
#[derive(Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct BulkRequest {
    client: Client,
    settings: Settings,
    table: String,
    query: Result<Query, QueryError>,
    /// The update's body; `None` deletes.
    payload: Option<Result<Bytes, Error>>,
}

#[derive(Deserialize)]
struct SysIdOnly {
    sys_id: String,
}

impl BulkRequest {
    pub(crate) fn new(
        client: Client,
        settings: Settings,
        table: String,
        query: Result<Query, QueryError>,
        payload: Option<Result<Bytes, Error>>,
    ) -> Self {
        Self {
            client,
            settings,
            table,
            query,
            payload,
        }
    }

    /// The request changing one record.
    fn item(&self, sys_id: &str, payload: Option<&Bytes>) -> BatchItem {
        let at = |m| ApiRequest::api(m, ["table", self.table.as_str(), sys_id]);
        BatchItem::from_request(match payload {
            // The written record is not needed back: a smaller answer.
            Some(body) => at(Method::PATCH).json(body.clone()).header(
                HeaderName::from_static("x-no-response-body"),
                HeaderValue::from_static("true"),
            ),
            None => at(Method::DELETE),
        })
    }

    /// Changes one chunk of records; `Err` when the batch failed as a whole.
    async fn change(
        &self,
        ids: &[String],
        payload: Option<&Bytes>,
    ) -> Result<Vec<RecordOutcome>, Error> {
        let items = ids
            .iter()
            .map(|id| (id.clone(), self.item(id, payload)))
            .collect();
        let answers = send::run(&self.client, items, &self.settings).await?;
        Ok(answers
            .into_iter()
            .map(|o| RecordOutcome {
                sys_id: o.id.clone(),
                result: o.check(),
            })
            .collect())
    }

    /// Finds the records and changes them, a batch at a time.
    pub async fn send(mut self) -> Result<BulkOutcome, Error> {
        let query = self.query.clone().map_err(Error::InvalidQuery)?;
        if query.is_empty() {
            return Err(Error::invalid_input(
                "a bulk change needs a query; an empty one would change the whole table",
            ));
        }
        let payload = match self.payload.take() {
            Some(p) => Some(p?),
            None => None,
        };
        let chunk = self.settings.max_requests;
        let mut ids = ListRequest::new(
            self.client.clone(),
            ApiRequest::api(Method::GET, ["table", self.table.as_str()]),
        )
        .query(query)
        .fields(["sys_id"])
        .paging(Paging::Keyset)
        .page_size(chunk as u64)
        .stream::<SysIdOnly>();
        let mut out = BulkOutcome::default();
        let mut pending: Vec<String> = Vec::with_capacity(chunk);
        loop {
            let next = ids.try_next().await;
            let done = match next {
                Ok(Some(r)) => {
                    pending.push(r.sys_id);
                    false
                }
                Ok(None) => true,
                Err(e) => {
                    if out.records.is_empty() && pending.is_empty() {
                        return Err(e);
                    }
                    out.stopped_by = Some(e);
                    true
                }
            };
            if pending.len() == chunk || (done && !pending.is_empty()) {
                let these = std::mem::take(&mut pending);
                match self.change(&these, payload.as_ref()).await {
                    Ok(mut records) => out.records.append(&mut records),
                    Err(e) if out.records.is_empty() => return Err(e),
                    Err(e) => {
                        out.records
                            .extend(these.into_iter().map(|sys_id| RecordOutcome {
                                result: Err(Error::BatchUnserviced {
                                    id: sys_id.clone(),
                                    attempts: 1,
                                    reason: format!("the batch carrying it failed ({e})"),
                                }),
                                sys_id,
                            }));
                        out.stopped_by = Some(e);
                        return Ok(out);
                    }
                }
            }
            if done {
                return Ok(out);
            }
        }
    }
}

impl IntoFuture for BulkRequest {
    type Output = Result<BulkOutcome, Error>;
    type IntoFuture = BoxFuture<BulkOutcome>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
