//! Fetching one sys_id range: keyset pages (`sys_id>last^ORDERBYsys_id`) within the range's
//! bounds, handed to the writer in batches.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use snow_client::list::Paging;
use snow_client::query::{Query, field};
use snow_client::{Client, DisplayValue, Error, Field};
use tokio::sync::mpsc;

use super::checkpoint::RangeState;
use crate::exit::CliError;

/// Records handed to the writer at most at once.
const BATCH: usize = 1000;

/// What every range asks for.
#[derive(Clone, Debug)]
pub(crate) struct Spec {
    pub(crate) table: String,
    /// The caller's query, parsed (the range bounds are added to each of its `^NQ` groups).
    pub(crate) query: Query,
    pub(crate) fields: Vec<String>,
    pub(crate) display_value: Option<DisplayValue>,
    pub(crate) exclude_reference_link: bool,
    pub(crate) page_size: u64,
}

/// Records of one range, in sys_id order; `done` on the range's last batch.
#[derive(Debug)]
pub(crate) struct Batch {
    pub(crate) range: usize,
    pub(crate) records: Vec<Box<RawValue>>,
    pub(crate) done: bool,
}

/// The query for the records of a range not written yet: after its last written sys_id (or
/// from its start) and before its end.
pub(crate) fn range_query(base: &Query, state: &RangeState) -> Result<Query, CliError> {
    let mut q = base.clone();
    let lower = match (&state.after, &state.range.start) {
        (Some(after), _) => Some(field("sys_id").gt(after.as_str())),
        (None, Some(start)) => Some(field("sys_id").ge(start.as_str())),
        (None, None) => None,
    };
    let upper = state
        .range
        .end
        .as_ref()
        .map(|end| field("sys_id").lt(end.as_str()));
    for cond in lower.into_iter().chain(upper) {
        let term = cond.into_term().map_err(query_error)?;
        q = q.and_term(term).map_err(query_error)?;
    }
    Ok(q)
}

fn query_error(e: snow_client::query::QueryError) -> CliError {
    CliError::Client(Error::InvalidQuery(e))
}

/// Fetches the records of range `index` not written yet and sends them in batches; an error
/// ends the range (the records before it are sent first).
pub(crate) async fn fetch_range(
    client: Client,
    spec: Arc<Spec>,
    index: usize,
    state: RangeState,
    tx: mpsc::Sender<Result<Batch, CliError>>,
) {
    let query = match range_query(&spec.query, &state) {
        Ok(q) => q,
        Err(e) => {
            let _ = tx.send(Err(e)).await;
            return;
        }
    };
    let mut req = client
        .table(spec.table.clone())
        .list()
        .query(query)
        .paging(Paging::Keyset)
        .page_size(spec.page_size)
        // The total is counted once for the whole export; each page need not count again.
        .no_count(true);
    if !spec.fields.is_empty() {
        req = req.fields(spec.fields.iter().cloned());
    }
    if let Some(d) = spec.display_value {
        req = req.display_value(d);
    }
    if spec.exclude_reference_link {
        req = req.exclude_reference_link(true);
    }
    let mut stream = req.stream::<Box<RawValue>>();
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        match stream.try_next().await {
            Ok(Some(rec)) => {
                batch.push(rec);
                // Hand the batch over when full, or before waiting for the next page.
                if batch.len() >= BATCH || stream.buffered() == 0 {
                    let records = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    let b = Batch {
                        range: index,
                        records,
                        done: false,
                    };
                    if tx.send(Ok(b)).await.is_err() {
                        return;
                    }
                }
            }
            Ok(None) => {
                let _ = tx
                    .send(Ok(Batch {
                        range: index,
                        records: batch,
                        done: true,
                    }))
                    .await;
                return;
            }
            Err(e) => {
                if !batch.is_empty() {
                    let b = Batch {
                        range: index,
                        records: std::mem::take(&mut batch),
                        done: false,
                    };
                    if tx.send(Ok(b)).await.is_err() {
                        return;
                    }
                }
                let _ = tx.send(Err(CliError::Client(e))).await;
                return;
            }
        }
    }
}

/// The sys_id of a record (its value, whatever the display-value setting).
pub(crate) fn sys_id_of(raw: &RawValue) -> Option<String> {
    #[derive(Deserialize)]
    struct Probe {
        #[serde(default)]
        sys_id: Option<Field>,
    }
    serde_json::from_str::<Probe>(raw.get())
        .ok()?
        .sys_id?
        .value()
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::super::ranges::SysIdRange;
    use super::*;

    fn state(start: Option<&str>, end: Option<&str>, after: Option<&str>) -> RangeState {
        RangeState {
            range: SysIdRange {
                start: start.map(str::to_owned),
                end: end.map(str::to_owned),
            },
            after: after.map(str::to_owned),
            done: false,
        }
    }

    #[test]
    fn bounds_join_every_group() {
        let base = Query::parse("active=true^NQpriority=1").unwrap();
        let q = range_query(&base, &state(Some("4"), Some("8"), None)).unwrap();
        assert_eq!(
            q.to_string(),
            "active=true^sys_id>=4^sys_id<8^NQpriority=1^sys_id>=4^sys_id<8"
        );
        let q = range_query(&base, &state(Some("4"), None, Some("5a"))).unwrap();
        assert_eq!(
            q.to_string(),
            "active=true^sys_id>5a^NQpriority=1^sys_id>5a"
        );
        let q = range_query(&Query::new(), &state(None, None, None)).unwrap();
        assert_eq!(q.to_string(), "");
    }

    #[test]
    fn sys_ids_are_read_in_every_display_mode() {
        let raw = |s: &str| RawValue::from_string(s.to_owned()).unwrap();
        assert_eq!(
            sys_id_of(&raw(r#"{"a":1,"sys_id":"abc"}"#)).as_deref(),
            Some("abc")
        );
        assert_eq!(
            sys_id_of(&raw(r#"{"sys_id":{"value":"abc","display_value":"abc"}}"#)).as_deref(),
            Some("abc")
        );
        assert_eq!(sys_id_of(&raw(r#"{"a":1}"#)), None);
    }
}
