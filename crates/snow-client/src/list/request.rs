//! [`ListRequest`]: a list call being configured.

use std::sync::Arc;

use serde::de::DeserializeOwned;

use super::check::OrderCheck;
use super::fetcher::{Fetcher, Plan};
use super::{
    CountCheck, DEFAULT_CANCEL_RETRIES, DEFAULT_PAGE_SIZE, Page, PageOrder, Paging, RecordStream,
};
use crate::Error;
use crate::client::Client;
use crate::params::{
    HasListParams, HasRecordParams, HasRequest, ListParams, RecordParams, extra_setters,
    list_setters, record_setters,
};
use crate::query::{FieldName, Query};
use crate::request::ApiRequest;

/// A list call being configured. Every setting belongs to this call only; nothing carries over
/// to the next call on the same table (pysnow #195 cannot happen).
///
/// The `sysparm_*` settings are those of [`ListParams`]; [`limit`](Self::limit) caps the
/// records of the whole call and [`offset`](Self::offset) is where it starts, while
/// [`page_size`](Self::page_size) is the `sysparm_limit` of each request.
///
/// Finish it with [`stream`](Self::stream) (pages followed lazily), [`all`](Self::all),
/// [`one`](Self::one), [`first`](Self::first), [`one_or_none`](Self::one_or_none),
/// [`first_or_none`](Self::first_or_none), or [`page`](Self::page) (one request, buffered).
#[derive(Clone, Debug)]
#[must_use = "a list request does nothing until finished with stream(), all(), one(), first() or page()"]
pub struct ListRequest {
    client: Client,
    request: ApiRequest,
    params: ListParams,
    page_size: u64,
    stable_order: bool,
    count_check: CountCheck,
    paging: Paging,
    concurrency: usize,
    ask_ahead: bool,
    page_order: PageOrder,
    cancel_retries: u32,
    stream_timeout: Option<std::time::Duration>,
}

impl HasListParams for ListRequest {
    fn list_params(&mut self) -> &mut ListParams {
        &mut self.params
    }
}

impl HasRecordParams for ListRequest {
    fn record_params(&mut self) -> &mut RecordParams {
        self.params.record_params()
    }
}

impl HasRequest for ListRequest {
    fn api_request(&mut self) -> &mut ApiRequest {
        &mut self.request
    }
}

impl ListRequest {
    /// A list call on a collection endpoint (`request` is its `GET`).
    pub(crate) fn new(client: Client, request: ApiRequest) -> Self {
        Self {
            client,
            request,
            params: ListParams::new(),
            page_size: DEFAULT_PAGE_SIZE,
            stable_order: true,
            count_check: CountCheck::default(),
            paging: Paging::default(),
            concurrency: 1,
            ask_ahead: true,
            page_order: PageOrder::default(),
            cancel_retries: DEFAULT_CANCEL_RETRIES,
            stream_timeout: None,
        }
    }

    list_setters!();
    record_setters!();
    extra_setters!();

    /// Records per request (`sysparm_limit` of each page); default [`DEFAULT_PAGE_SIZE`],
    /// at least 1.
    pub fn page_size(mut self, n: u64) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// Append `ORDERBYsys_id` when the query has no order (default `true`), so offset paging
    /// neither skips nor repeats rows.
    pub fn stable_order(mut self, yes: bool) -> Self {
        self.stable_order = yes;
        self
    }

    /// What to do when fewer or more records arrive than `X-Total-Count` announced.
    pub fn count_check(mut self, check: CountCheck) -> Self {
        self.count_check = check;
        self
    }

    /// How to find the next page: by offset (the default), by `sys_id` ([`Paging::Keyset`]) or
    /// by following `Link` headers ([`Paging::Links`]).
    ///
    /// ```no_run
    /// use snow_client::list::Paging;
    /// # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
    /// let all: Vec<snow_client::Record> = client.table("incident").list()
    ///     .page_size(500)
    ///     .paging(Paging::Keyset)
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn paging(mut self, paging: Paging) -> Self {
        self.paging = paging;
        self
    }

    /// Fetch up to `n` pages at once once the total is known (offset paging only).
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n.max(1);
        self
    }

    /// Whether a sequential stream asks for the page after next before it is needed (on by
    /// default): its request goes while the next page is read, its body is read once a page
    /// has been used up, so the instance prepares it while the caller works (see the
    /// [module documentation](crate::list)). Off, a page is asked for only when the stream has
    /// room for it: the next page is still fetched while the current one is used, but none
    /// after it, so a stream dropped early leaves at most that one page asked for in vain, at
    /// the cost of waiting on each page in turn.
    ///
    /// ```no_run
    /// # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
    /// let mut stream = client.table("incident").list().ask_ahead(false).stream::<snow_client::Record>();
    /// # Ok(()) }
    /// ```
    pub fn ask_ahead(mut self, on: bool) -> Self {
        self.ask_ahead = on;
        self
    }

    /// In which order concurrently fetched pages are yielded (query order by default).
    pub fn page_order(mut self, order: PageOrder) -> Self {
        self.page_order = order;
        self
    }

    /// A bound on the stream's whole run (see [`RecordStream::timeout`]); none by default:
    /// each request is bounded by the transport's timeouts.
    pub fn timeout(mut self, limit: std::time::Duration) -> Self {
        self.stream_timeout = Some(limit);
        self
    }

    /// How many times a cancelled page is halved and asked for again before
    /// [`Error::TransactionCancelled`] is returned (default [`DEFAULT_CANCEL_RETRIES`]).
    pub fn cancel_retries(mut self, n: u32) -> Self {
        self.cancel_retries = n;
        self
    }

    /// The query to send: the caller's, plus `ORDERBYsys_id` as configured.
    fn final_query(&self) -> Result<Query, Error> {
        let q = match &self.params.query {
            Some(Ok(q)) => q.clone(),
            Some(Err(e)) => return Err(Error::InvalidQuery(e.clone())),
            None => Query::new(),
        };
        let sys_id = FieldName::new("sys_id").map_err(Error::InvalidQuery)?;
        if self.paging == Paging::Keyset {
            // A raw query is read back into terms, so that `sys_id>last` can be added to every
            // `^NQ` group (appending `^sys_id>last` to the string would bind to the last group
            // only and widen the others).
            let q = match q.raw_str() {
                Some(raw) => Query::parse(raw).map_err(|e| {
                    Error::invalid_input(format!(
                        "keyset paging needs a query it can read, and the raw query could not be read: {e}"
                    ))
                })?,
                None => q,
            };
            if q.orders()
                .iter()
                .any(|o| o.field.as_str() != "sys_id" || o.descending)
            {
                return Err(Error::invalid_input(
                    "keyset paging orders by sys_id; remove the query's other sort keys",
                ));
            }
            return Ok(if q.has_order() {
                q
            } else {
                q.order_by(sys_id, false)
            });
        }
        Ok(if self.stable_order && !q.has_order() {
            q.order_by(sys_id, false)
        } else {
            q
        })
    }

    /// What fetches this call's pages, the query it sends, and how it pages.
    pub(super) fn plan(&self) -> Result<(Arc<Fetcher>, Query, Plan), Error> {
        let query = self.final_query()?;
        // Check every parameter once, before any request.
        self.params.clone().query(query.clone()).to_pairs()?;
        // The stream checks the sys_ids it yields (and keyset paging needs the last one), so it
        // asks for sys_id when the caller's field list leaves it out.
        let mut params = self.params.clone();
        params.record_params().ensure_sys_id();
        // The Link header is only read when following links (and must come then); otherwise
        // the instance need not build it.
        let params = match self.paging {
            Paging::Links => params.pagination_header_default(),
            Paging::Offset | Paging::Keyset => params.suppress_pagination_header(true),
        };
        let mut fetcher = Fetcher::new(
            self.client.clone(),
            self.request.clone(),
            params,
            self.cancel_retries,
        );
        // One page at a time (keyset and link paging always are): the next is asked for while
        // the caller uses the one before, and at most two are held.
        if self.ask_ahead && (self.concurrency == 1 || self.paging != Paging::Offset) {
            fetcher = fetcher.ask_ahead(2);
        }
        let plan = Plan {
            start: self.params.offset.unwrap_or(0),
            limit: self.params.limit,
            page: self.page_size,
            no_count: self.params.get_no_count(),
            concurrency: self.concurrency,
            page_order: self.page_order,
            strict_count: self.count_check == CountCheck::Error,
        };
        Ok((Arc::new(fetcher), query, plan))
    }

    /// The records as a stream, following pages lazily (nothing is sent until it is polled).
    ///
    /// ```no_run
    /// use snow_client::{Client, Record, query::field};
    ///
    /// # async fn demo(client: Client) -> Result<(), snow_client::Error> {
    /// let mut stream = client.table("incident").list()
    ///     .query(field("active").eq(true))
    ///     .page_size(500)
    ///     .stream::<Record>();
    /// while let Some(r) = stream.try_next().await? {
    ///     println!("{}", r.str("number").unwrap_or("?"));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn stream<T>(self) -> RecordStream<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let (fetcher, query, plan) = match self.plan() {
            Ok(x) => x,
            Err(e) => return RecordStream::failed(e),
        };
        let check = OrderCheck::new(sorted_by_sys_id(&query));
        let ask_ahead = (self.paging != Paging::Offset).then(|| Arc::clone(fetcher.pool()));
        let pages = match self.paging {
            Paging::Offset => super::offset::pages::<T>(fetcher, query, plan),
            Paging::Keyset => super::keyset::pages::<T>(fetcher, query, plan),
            Paging::Links => super::links::pages::<T>(fetcher, query, plan),
        };
        let stream = RecordStream::new(pages, ask_ahead, self.count_check, check);
        match self.stream_timeout {
            Some(limit) => stream.timeout(limit),
            None => stream,
        }
    }

    /// Every record (all pages) in a `Vec`.
    pub async fn all<T>(self) -> Result<Vec<T>, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.stream().all().await
    }

    fn capped(mut self, n: u64) -> Self {
        self.params.limit = Some(self.params.limit.map_or(n, |l| l.min(n)));
        self.page_size = self.page_size.min(n).max(1);
        self.concurrency = 1;
        self
    }

    /// Exactly one record: [`Error::NoResults`] when none matches, [`Error::MultipleResults`]
    /// when more than one does (asks for at most two).
    pub async fn one<T>(self) -> Result<T, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.capped(2).stream().one().await
    }

    /// The only record, `None` when none matches, [`Error::MultipleResults`] when several do.
    pub async fn one_or_none<T>(self) -> Result<Option<T>, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.capped(2).stream().one_or_none().await
    }

    /// The first record in query order ([`Error::NoResults`] when none matches); asks for one.
    pub async fn first<T>(self) -> Result<T, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.capped(1).stream().first().await
    }

    /// The first record, or `None`.
    pub async fn first_or_none<T>(self) -> Result<Option<T>, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.capped(1).stream().first_or_none().await
    }

    /// One request, buffered: `sysparm_limit` = the limit (or the page size) and the offset as
    /// set, with the `X-Total-Count` and `Link` headers of the answer. No paging, no retry on
    /// a cancelled transaction.
    pub async fn page<T>(self) -> Result<Page<T>, Error>
    where
        T: DeserializeOwned,
    {
        let query = self.final_query()?;
        let size = self.params.limit.unwrap_or(self.page_size);
        let start = self.params.offset.unwrap_or(0);
        let pairs = self
            .params
            .query(query)
            .limit(size)
            .offset(start)
            .to_pairs()?;
        let resp = self.client.send_buffered(self.request.pairs(pairs)).await?;
        Page::from_response(&resp)
    }
}

/// Whether the query's first sort key is `sys_id`, ascending (for a raw query: its first
/// `ORDERBY` term).
fn sorted_by_sys_id(query: &Query) -> bool {
    match query.raw_str() {
        Some(raw) => raw
            .split('^')
            .find(|t| t.starts_with("ORDERBY"))
            .is_some_and(|t| t == "ORDERBYsys_id"),
        None => query
            .orders()
            .first()
            .is_some_and(|o| o.field.as_str() == "sys_id" && !o.descending),
    }
}
