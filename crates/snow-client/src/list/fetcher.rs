//! [`Fetcher`]: one page request of a list call, with its retries.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::PageOrder;
use super::pending::{BufferPool, Lease, Pending};
use crate::Error;
use crate::client::Client;
use crate::params::ListParams;
use crate::query::Query;
use crate::request::{ApiRequest, Buffered, Target};
use crate::response::link::next_link_of;

/// How many times one page is asked again after its body could not be read to the end.
const MAX_DROPPED_READS: u32 = 2;

/// What fetches pages for one stream: the endpoint, the parameters of every page, and the
/// buffers page bodies are read into.
pub(crate) struct Fetcher {
    client: Client,
    request: ApiRequest,
    params: ListParams,
    cancel_retries: u32,
    pool: Arc<BufferPool>,
}

/// One successful request.
pub(crate) struct Fetched<T> {
    pub(crate) records: Pending<T>,
    /// `X-Total-Count`.
    pub(crate) total: Option<u64>,
    /// The `sysparm_limit` that succeeded (smaller than asked after a cancellation).
    pub(crate) size: u64,
    /// The `Link: rel="next"` URL.
    pub(crate) next: Option<String>,
}

/// One page handed to the record stream.
pub(crate) struct PageOut<T> {
    pub(crate) records: Pending<T>,
    /// Records the whole call should yield (known from the first page's total).
    pub(crate) expected: Option<u64>,
    /// The page's offset and the number of records it was asked for, when paging by offset.
    pub(crate) span: Option<(u64, u64)>,
}

/// How a stream pages: where it starts, how many records in all and per request, whether
/// `X-Total-Count` is meaningful, and how many pages may be in flight (offset paging only).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Plan {
    pub(crate) start: u64,
    pub(crate) limit: Option<u64>,
    pub(crate) page: u64,
    pub(crate) no_count: bool,
    pub(crate) concurrency: usize,
    pub(crate) page_order: PageOrder,
    /// Whether a record past the announced total ends the stream ([`CountCheck::Error`]):
    /// then no page is asked for after one that proved the total too low.
    ///
    /// [`CountCheck::Error`]: super::CountCheck::Error
    pub(crate) strict_count: bool,
}

impl Fetcher {
    pub(crate) fn new(
        client: Client,
        request: ApiRequest,
        params: ListParams,
        cancel_retries: u32,
    ) -> Self {
        Self {
            client,
            request,
            params,
            cancel_retries,
            pool: Arc::default(),
        }
    }

    /// Pages of this stream are asked for ahead, at most `pages` held at once (see
    /// [`BufferPool::bounded`]).
    pub(crate) fn ask_ahead(mut self, pages: usize) -> Self {
        self.pool = Arc::new(BufferPool::bounded(pages));
        self
    }

    /// The pool page bodies are read into (and the pacing of a stream asking ahead).
    pub(crate) fn pool(&self) -> &Arc<BufferPool> {
        &self.pool
    }

    /// The client the pages are fetched with.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Sends one page request and reads its body into a pooled buffer: once there is room for
    /// it, counted as held until its records are used up; or at once, uncounted, when it is a
    /// later piece of a page that holds its lease already (`piece`), so a page never waits for
    /// room it takes itself.
    async fn get(&self, req: ApiRequest, piece: bool) -> Result<(Buffered, Option<Lease>), Error> {
        let mut lease = None;
        let resp = self
            .client
            .send_buffered_into(req, async |want| {
                if !piece {
                    lease = Some(self.pool.lease().await);
                }
                self.pool.take(want)
            })
            .await?;
        Ok((resp, lease))
    }

    /// One request of at most `size` records at `offset`; halves the size (down to 1) and asks
    /// again after a cancelled or truncated answer, up to the configured number of times.
    pub(crate) async fn fetch<T: DeserializeOwned + 'static>(
        &self,
        query: &Query,
        offset: u64,
        size: u64,
    ) -> Result<Fetched<T>, Error> {
        self.fetch_piece(query, offset, size, false).await
    }

    /// [`fetch`](Self::fetch), for a later piece of a page (`piece`: see [`get`](Self::get)).
    async fn fetch_piece<T: DeserializeOwned + 'static>(
        &self,
        query: &Query,
        offset: u64,
        size: u64,
        piece: bool,
    ) -> Result<Fetched<T>, Error> {
        let mut size = size.max(1);
        let mut retries = 0;
        let mut dropped = 0;
        loop {
            let pairs = self
                .params
                .clone()
                .query(query.clone())
                .limit(size)
                .offset(offset)
                .to_pairs()?;
            let (resp, lease) = match self.get(self.request.clone().pairs(pairs), piece).await {
                Ok(got) => got,
                // The connection dropped while the page was being read (the transport retries
                // only failures before a response): a GET is safe to ask again.
                Err(e) if e.is_dropped_connection() && dropped < MAX_DROPPED_READS => {
                    dropped += 1;
                    tracing::warn!(offset, size, error = %e, "page read failed; asking again");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let raw = resp.raw();
            match raw.list_spans() {
                Ok(spans) => {
                    let total = raw.total_count();
                    let next = next_link_of(&resp.parts.headers);
                    return Ok(Fetched {
                        records: Pending::from_body(resp.body, spans, &self.pool, lease),
                        total,
                        size,
                        next,
                    });
                }
                Err(e @ (Error::TransactionCancelled { .. } | Error::TruncatedResponse { .. }))
                    if retries < self.cancel_retries =>
                {
                    tracing::warn!(offset, size, error = %e, "page cancelled; asking again for a smaller page");
                    retries += 1;
                    size = (size / 2).max(1);
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// One page at a URL of the instance (already checked to be on its origin), and its
    /// `Link: rel="next"`.
    pub(crate) async fn fetch_uri<T: DeserializeOwned + 'static>(
        &self,
        uri: http::Uri,
    ) -> Result<(Pending<T>, Option<String>), Error> {
        // The caller's headers go with every page; the link carries the query.
        let (resp, lease) = self
            .get(self.request.clone().retarget(Target::Uri(uri)), false)
            .await?;
        let spans = resp.raw().list_spans()?;
        let next = next_link_of(&resp.parts.headers);
        Ok((
            Pending::from_body(resp.body, spans, &self.pool, lease),
            next,
        ))
    }

    /// Records `start..start+len` (one page, in several requests after a cancellation): the
    /// records, the first answer's `X-Total-Count`, and whether the last answer was short.
    pub(crate) async fn range<T: DeserializeOwned + 'static>(
        &self,
        query: &Query,
        start: u64,
        len: u64,
    ) -> Result<(Pending<T>, Option<u64>, bool), Error> {
        let mut out = Pending::empty(crate::response::decode_list_item::<T>);
        let mut total = None;
        let mut pos = start;
        let end = start.saturating_add(len);
        let mut size = len;
        let mut short = false;
        while pos < end {
            let want = size.min(end - pos);
            // The first piece waits for room and holds it for the whole page.
            let got = self.fetch_piece::<T>(query, pos, want, pos > start).await?;
            if total.is_none() {
                total = got.total;
            }
            short = (got.records.len() as u64) < got.size;
            out.append(got.records);
            pos += got.size;
            // Grow back towards the page size after a shrunk success.
            size = got.size.saturating_mul(2).min(len);
            if short {
                break;
            }
        }
        Ok((out, total, short))
    }
}

#[cfg(test)]
mod tests {
    use snow_devinstance::{DevConfig, DevInstance, FaultKind, FaultRule, Trigger};

    use crate::{Client, Record};

    /// A page fetched in pieces after a cancellation holds one place among the pages a stream
    /// keeps: its later pieces do not wait for room it takes itself (with the caller holding
    /// the other place, the second piece waited out the grace, and the stream stopped asking
    /// ahead for good).
    #[tokio::test]
    async fn the_pieces_of_a_page_take_no_room_of_their_own() {
        let dev = DevInstance::start(DevConfig {
            records: 40,
            ..DevConfig::default()
        })
        .await
        .unwrap();
        let client = Client::basic(dev.base_url(), "admin", "admin").unwrap();
        let list = client.table("incident").list().page_size(20);
        let (fetcher, query, _) = list.plan().unwrap();
        let pool = fetcher.pool().clone();
        assert!(pool.asks_ahead());
        // The caller holds the page before.
        let _held = pool.lease().await;
        dev.admin().add_fault(
            FaultRule::new(FaultKind::TransactionCancelled, Trigger::Next { n: 1 })
                .path_prefix("/api/now/table/incident"),
        );
        let (records, _, short) = fetcher.range::<Record>(&query, 0, 20).await.unwrap();
        assert_eq!(records.len(), 20, "the whole page, in two pieces");
        assert!(!short);
        let sizes: Vec<String> = dev
            .admin()
            .request_log()
            .iter()
            .filter_map(|r| {
                r.query
                    .split('&')
                    .find_map(|p| p.strip_prefix("sysparm_limit=").map(str::to_owned))
            })
            .collect();
        assert_eq!(sizes, ["20", "10", "10"], "cancelled, then two halves");
        assert!(pool.asks_ahead(), "no piece waited for room");
        dev.shutdown().await.unwrap();
    }
}
