//! Listing records: [`ListRequest`], the paging [`RecordStream`] and the buffered [`Page`].
//!
//! A list call reads pages of `page_size` records (1000 by default) and yields records one by
//! one. Memory stays bounded: the page being yielded, one decoded page prefetched, and the pages
//! in flight (one, or `concurrency` when fetching concurrently) — never the whole result.
//!
//! - **Stable order.** Offset paging over an unordered query can skip or repeat rows, so
//!   `ORDERBYsys_id` is appended when the query has no order of its own
//!   ([`ListRequest::stable_order`] turns this off).
//! - **Totals.** The first page's `X-Total-Count` (with `offset` and `limit`) says how many
//!   records to expect; a different number is an [`Error::CountMismatch`], or a warning
//!   ([`CountCheck`]). With `no_count(true)` paging stops at the first short page instead.
//! - **Keyset paging** ([`ListRequest::keyset`]): each page asks for `sys_id>last^ORDERBYsys_id`
//!   from offset 0, so deep pages cost no more than the first and rows inserted or deleted
//!   meanwhile shift nothing.
//! - **Concurrency** ([`ListRequest::concurrency`]): once the total is known, up to N pages are
//!   fetched at once, yielded in order or as they arrive.
//! - **Cancelled transactions.** When ServiceNow cancels a slow transaction in the middle of a
//!   page (a `200` whose body ends with an `error` member, or JSON cut short), the page is asked
//!   for again from the same offset at half the size, up to [`ListRequest::cancel_retries`]
//!   times, before [`Error::TransactionCancelled`] is returned.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_util::stream::{self, BoxStream, StreamExt};
use http::Request;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use snow_transport::{Body, TransportError};

use crate::client::{Buffered, Client, url_error};
use crate::params::{DisplayValue, ListParams};
use crate::query::{IntoQuery, Query, QueryError, field};
use crate::{Error, Field};

/// Records per page when none is set.
pub const DEFAULT_PAGE_SIZE: u64 = 1000;

/// Halvings of a page after "Transaction cancelled" before giving up, when none is set.
pub const DEFAULT_CANCEL_RETRIES: u32 = 4;

/// What to do when the number of records received differs from what `X-Total-Count` announced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CountCheck {
    /// End the stream with [`Error::CountMismatch`] (the default: no silent data loss).
    #[default]
    Error,
    /// Log a warning (`tracing`) and end normally.
    Warn,
    /// Do not check.
    Off,
}

/// A list call being configured. Every setting belongs to this call only; nothing carries over
/// to the next call on the same table (pysnow #195 cannot happen).
///
/// Finish it with [`stream`](Self::stream) (pages followed lazily), [`all`](Self::all),
/// [`one`](Self::one), [`first`](Self::first), [`one_or_none`](Self::one_or_none),
/// [`first_or_none`](Self::first_or_none), or [`page`](Self::page) (one request, buffered).
#[derive(Clone, Debug)]
#[must_use = "a list request does nothing until finished with stream(), all(), one(), first() or page()"]
pub struct ListRequest {
    client: Client,
    segments: Vec<String>,
    params: ListParams,
    query: Option<Result<Query, QueryError>>,
    limit: Option<u64>,
    offset: u64,
    page_size: u64,
    no_count: bool,
    stable_order: bool,
    count_check: CountCheck,
    keyset: bool,
    follow_links: bool,
    concurrency: usize,
    ordered: bool,
    cancel_retries: u32,
}

impl ListRequest {
    pub(crate) fn new(client: Client, segments: Vec<String>) -> Self {
        Self {
            client,
            segments,
            params: ListParams::new(),
            query: None,
            limit: None,
            offset: 0,
            page_size: DEFAULT_PAGE_SIZE,
            no_count: false,
            stable_order: true,
            count_check: CountCheck::default(),
            keyset: false,
            follow_links: false,
            concurrency: 1,
            ordered: true,
            cancel_retries: DEFAULT_CANCEL_RETRIES,
        }
    }

    /// `sysparm_query` from the query builder: `field("active").eq(true)`, a built
    /// [`Query`], or a builder with an order. Replaces any earlier query of this call.
    pub fn query(mut self, query: impl IntoQuery) -> Self {
        self.query = Some(query.into_query());
        self
    }

    /// An encoded query string sent as it is, without any check or escaping (see
    /// [`Query::raw_unchecked`]). Never build it from untrusted input.
    pub fn raw_query(mut self, encoded: impl Into<String>) -> Self {
        self.query = Some(Ok(Query::raw_unchecked(encoded)));
        self
    }

    /// `sysparm_fields`: only these fields (dot-walk allowed: `caller_id.email`).
    pub fn fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.params = self.params.fields(fields);
        self
    }

    /// At most this many records in all, across pages.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Skip this many records first (`sysparm_offset` of the first page).
    pub fn offset(mut self, n: u64) -> Self {
        self.offset = n;
        self
    }

    /// Records per request (`sysparm_limit` of each page); default [`DEFAULT_PAGE_SIZE`],
    /// at least 1.
    pub fn page_size(mut self, n: u64) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// `sysparm_display_value`: `False` (stored values), `True` (display values) or `All`
    /// (both; read them with [`Field`]).
    pub fn display_value(mut self, d: DisplayValue) -> Self {
        self.params = self.params.display_value(d);
        self
    }

    /// `sysparm_exclude_reference_link`.
    pub fn exclude_reference_link(mut self, yes: bool) -> Self {
        self.params = self.params.exclude_reference_link(yes);
        self
    }

    /// `sysparm_view` (`desktop`, `mobile`, `both`).
    pub fn view(mut self, view: impl Into<String>) -> Self {
        self.params = self.params.view(view);
        self
    }

    /// `sysparm_no_count`: skip the count query. Totals are then unknown: paging stops at the
    /// first short page and no count check is made.
    pub fn no_count(mut self, yes: bool) -> Self {
        self.no_count = yes;
        self.params = self.params.no_count(yes);
        self
    }

    /// `sysparm_query_category`.
    pub fn query_category(mut self, category: impl Into<String>) -> Self {
        self.params = self.params.query_category(category);
        self
    }

    /// `sysparm_query_no_domain`.
    pub fn query_no_domain(mut self, yes: bool) -> Self {
        self.params = self.params.query_no_domain(yes);
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

    /// Page by `sys_id` (`sys_id>last^ORDERBYsys_id`, offset 0) instead of by offset: constant
    /// cost per page on very large tables and no drift when rows come and go. Needs no order
    /// other than `sys_id` (ascending); a raw query is parsed so the bound joins every `^NQ`
    /// group (a query the parser cannot read is refused). Always sequential.
    pub fn keyset(mut self, yes: bool) -> Self {
        self.keyset = yes;
        self
    }

    /// Page by following each response's `Link: <url>;rel="next"` header, as pysnow's legacy
    /// API did, until a response has no `next` link (or the limit is reached), instead of
    /// computing offsets from `X-Total-Count`: for proxies or API paths that build their own
    /// links. The next-page URL (absolute, or a path on the instance) must stay on the
    /// instance's origin (credentials are never sent elsewhere) and move forward, or the
    /// stream ends with [`Error::Paging`]; so does a page that repeats the previous one, or more
    /// records than the first page's `X-Total-Count` announced. The usual count check applies
    /// at the end (see [`count_check`](Self::count_check)). Always sequential; a cancelled
    /// transaction on the first page is retried with smaller pages, on a linked page it is
    /// reported (the links fix the page size). Cannot be combined with
    /// [`keyset`](Self::keyset).
    ///
    /// ```no_run
    /// # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
    /// let all: Vec<snow_client::Record> = client.table("incident").list()
    ///     .page_size(500)
    ///     .follow_links(true)
    ///     .all()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn follow_links(mut self, yes: bool) -> Self {
        self.follow_links = yes;
        self
    }

    /// Fetch up to `n` pages at once once the total is known (offset paging only); `ordered`
    /// keeps the records in query order, otherwise pages are yielded as they arrive.
    pub fn concurrency(mut self, n: usize, ordered: bool) -> Self {
        self.concurrency = n.max(1);
        self.ordered = ordered;
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
        let q = match &self.query {
            Some(Ok(q)) => q.clone(),
            Some(Err(e)) => return Err(Error::InvalidQuery(e.clone())),
            None => Query::new(),
        };
        let sys_id = crate::query::FieldName::new("sys_id").map_err(Error::InvalidQuery)?;
        if self.keyset && self.follow_links {
            return Err(Error::invalid_input(
                "keyset paging and following Link headers are two ways of paging; choose one",
            ));
        }
        if self.keyset {
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

    fn fetcher(&self) -> Result<(Arc<Fetcher>, Query), Error> {
        let query = self.final_query()?;
        // Check every parameter once, before any request.
        self.params.clone().query(query.clone()).to_pairs()?;
        Ok((
            Arc::new(Fetcher {
                client: self.client.clone(),
                segments: self.segments.clone(),
                // The Link header is only read when following links (and must come then);
                // otherwise the instance need not build it.
                params: if self.follow_links {
                    self.params.clone().pagination_header_default()
                } else {
                    self.params.clone().suppress_pagination_header(true)
                },
                cancel_retries: self.cancel_retries,
                pool: Arc::default(),
            }),
            query,
        ))
    }

    /// The records as a stream, following pages lazily (nothing is sent until it is polled).
    ///
    /// ```no_run
    /// use futures_util::TryStreamExt;
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
        let count_check = self.count_check;
        let (fetcher, query) = match self.fetcher() {
            Ok(x) => x,
            Err(e) => return RecordStream::failed(e),
        };
        let plan = Plan {
            start: self.offset,
            limit: self.limit,
            page: self.page_size,
            no_count: self.no_count,
            concurrency: self.concurrency,
            ordered: self.ordered,
        };
        let pages = if self.keyset {
            keyset_pages::<T>(fetcher, query, plan)
        } else if self.follow_links {
            link_pages::<T>(fetcher, query, plan)
        } else {
            offset_pages::<T>(fetcher, query, plan)
        };
        RecordStream::new(pages, count_check)
    }

    /// Every record (all pages) in a `Vec`.
    pub async fn all<T>(self) -> Result<Vec<T>, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.stream().all().await
    }

    fn capped(mut self, n: u64) -> Self {
        self.limit = Some(self.limit.map_or(n, |l| l.min(n)));
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
        let size = self.limit.unwrap_or(self.page_size);
        let params = self
            .params
            .clone()
            .query(query)
            .limit(size)
            .offset(self.offset);
        let resp = get_list(&self.client, &self.segments, &params, None).await?;
        let raw = resp.raw();
        let records = raw.decode_list::<T>()?;
        let next_link = link_of(&resp.parts.headers);
        Ok(Page {
            records,
            total_count: raw.total_count(),
            next_link,
        })
    }
}

async fn get_list(
    client: &Client,
    segments: &[String],
    params: &ListParams,
    pool: Option<&BufferPool>,
) -> Result<crate::client::Buffered, Error> {
    let pairs = params.to_pairs()?;
    let mut url = client.instance().api();
    for s in segments {
        url = url.segment(s);
    }
    for (k, v) in &pairs {
        url = url.query(k, v);
    }
    let uri = url.build().map_err(url_error)?;
    get_uri(client, uri, pool).await
}

/// GETs a URL of the instance and reads the whole body (into a buffer from `pool`, if given).
async fn get_uri(
    client: &Client,
    uri: http::Uri,
    pool: Option<&BufferPool>,
) -> Result<crate::client::Buffered, Error> {
    let req = Request::get(uri)
        .body(Body::empty())
        .map_err(|e| Error::invalid_input(e.to_string()))?;
    let method = req.method().clone();
    let (parts, mut body) = client.send(req, false).await?.into_parts();
    // Read into one buffer sized from Content-Length (bounded), so a page is never held twice
    // (once as the received chunks, once as their concatenation).
    let hint = http_body::Body::size_hint(&body);
    let reserve = hint.exact().unwrap_or(hint.lower());
    let reserve = usize::try_from(reserve).unwrap_or(0).min(MAX_RESERVE);
    let mut buf = match pool {
        Some(pool) => pool.take(reserve),
        None => BytesMut::with_capacity(reserve),
    };
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| Error::from(TransportError::from(e)))?;
        if let Ok(data) = frame.into_data() {
            buf.extend_from_slice(&data);
        }
    }
    Ok(Buffered {
        method,
        parts,
        body: buf.freeze(),
    })
}

/// Page buffers of one stream, handed back when a page's last record is taken and reused for
/// the next page.
///
/// Without it every page is a fresh allocation of the page's size (~19 MB for 10,000
/// incidents) freed a page later; glibc's malloc then raises its mmap threshold to that size and
/// serves later pages from the heap, where they fragment it: peak memory grew by ~18 MiB at
/// 200,000 records and kept growing with the table. Reusing the same two or three buffers keeps
/// memory flat.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    free: std::sync::Mutex<Vec<BytesMut>>,
}

impl BufferPool {
    /// Buffers kept for reuse at most (a stream holds two pages, plus requests in flight).
    const KEEP: usize = 4;

    /// An empty buffer with room for `want` bytes: a returned one when there is one.
    fn take(&self, want: usize) -> BytesMut {
        let reused = self
            .free
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop();
        match reused {
            Some(mut buf) => {
                buf.clear();
                buf.reserve(want);
                buf
            }
            None => BytesMut::with_capacity(want),
        }
    }

    /// Takes a page body back once nothing else refers to it.
    fn give(&self, body: Bytes) {
        if let Ok(buf) = body.try_into_mut() {
            let mut free = self
                .free
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if free.len() < Self::KEEP {
                free.push(buf);
            }
        }
    }
}

/// How many times one page is asked again after its body could not be read to the end.
const MAX_DROPPED_READS: u32 = 2;

/// Most bytes reserved up front from a response's announced length.
const MAX_RESERVE: usize = 64 * 1024 * 1024;

/// The `rel="next"` URL of a response's `Link` header, if any.
fn link_of(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::LINK)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(next_link)
}

/// The `rel="next"` URL of a `Link` header (RFC 8288): `<url>;rel="next"` among
/// comma-separated links. URLs are taken between `<` and `>`, so commas inside them
/// (`sysparm_fields=a,b`) do not split a link; parameters are split on `;` and links on `,`
/// only outside quoted strings (so `title="x; rel=next"` is a title); `rel` may be quoted with
/// `"` or `'`, unquoted, or hold several relation types.
fn next_link(header: &str) -> Option<String> {
    let mut rest = header;
    loop {
        let open = rest.find('<')?;
        let after = &rest[open + 1..];
        let close = after.find('>')?;
        let url = &after[..close];
        let (params, tail) = link_params(&after[close + 1..]);
        let is_next = params.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("rel")
                && v.split_ascii_whitespace()
                    .any(|r| r.eq_ignore_ascii_case("next"))
        });
        if is_next {
            return Some(url.trim().to_owned());
        }
        rest = tail;
    }
}

/// The `;`-separated `name=value` parameters of one link, up to the `,` that ends it outside
/// quotes, and the rest of the header after that comma. Quotes are removed from values.
fn link_params(s: &str) -> (Vec<(String, String)>, &str) {
    let mut params = Vec::new();
    let mut current = Vec::<u8>::new();
    let mut quote: Option<u8> = None;
    let bytes = s.as_bytes();
    let mut i = 0;
    let flush = |current: &mut Vec<u8>, params: &mut Vec<(String, String)>| {
        let text = String::from_utf8_lossy(current).into_owned();
        current.clear();
        if let Some((k, v)) = text.split_once('=') {
            params.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    };
    while let Some(&b) = bytes.get(i) {
        i += 1;
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) if b == b'\\' => {
                if let Some(&escaped) = bytes.get(i) {
                    current.push(escaped);
                    i += 1;
                }
            }
            Some(_) => current.push(b),
            None => match b {
                b'"' | b'\'' => quote = Some(b),
                b';' => flush(&mut current, &mut params),
                b',' => break,
                _ => current.push(b),
            },
        }
    }
    flush(&mut current, &mut params);
    (params, s.get(i..).unwrap_or(""))
}

/// What fetches pages for one stream.
struct Fetcher {
    client: Client,
    segments: Vec<String>,
    params: ListParams,
    cancel_retries: u32,
    pool: Arc<BufferPool>,
}

/// Records received but not decoded yet: the bodies of one or more list responses and where
/// each record sits in them. Records are decoded one at a time as they are taken, and each body
/// is dropped as soon as its last record is taken, so a page costs its raw bytes, not its
/// decoded records.
struct Pending<T> {
    chunks: VecDeque<Chunk>,
    len: usize,
    decode: fn(&[u8], usize) -> Result<T, Error>,
    /// Where finished bodies go back to.
    pool: Option<Arc<BufferPool>>,
}

/// One response body and the records left in it.
struct Chunk {
    body: Bytes,
    spans: std::vec::IntoIter<Range<usize>>,
    /// Position of the next record in the response's `result` array (for error paths).
    index: usize,
}

impl<T> Pending<T> {
    fn empty(decode: fn(&[u8], usize) -> Result<T, Error>) -> Self {
        Self {
            chunks: VecDeque::new(),
            len: 0,
            decode,
            pool: None,
        }
    }

    /// Records not taken yet.
    fn len(&self) -> usize {
        self.len
    }

    /// A hash of the next record's bytes, to recognise a page that repeats the one before.
    fn first_hash(&self) -> Option<u64> {
        use std::hash::{Hash, Hasher};
        let chunk = self.chunks.front()?;
        let span = chunk.spans.as_slice().first()?;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        chunk.body.get(span.clone())?.hash(&mut h);
        Some(h.finish())
    }

    /// Drops all but the first `n` records.
    fn truncate(&mut self, n: usize) {
        let mut keep = n;
        for chunk in &mut self.chunks {
            let have = chunk.spans.len();
            if have > keep {
                let spans: Vec<_> = chunk.spans.by_ref().take(keep).collect();
                chunk.spans = spans.into_iter();
            }
            keep -= chunk.spans.len();
        }
        for chunk in std::mem::take(&mut self.chunks) {
            if chunk.spans.len() > 0 {
                self.chunks.push_back(chunk);
            } else if let Some(pool) = &self.pool {
                pool.give(chunk.body);
            }
        }
        self.len = self.len.min(n);
    }

    fn append(&mut self, mut other: Pending<T>) {
        self.len += other.len;
        self.chunks.append(&mut other.chunks);
        if self.pool.is_none() {
            self.pool = other.pool.take();
        }
    }

    /// Drops the first body, handing its buffer back for the next page.
    fn pop_front(&mut self) {
        if let (Some(chunk), Some(pool)) = (self.chunks.pop_front(), &self.pool) {
            pool.give(chunk.body);
        }
    }

    /// Decodes and removes the next record.
    fn take(&mut self) -> Option<Result<T, Error>> {
        loop {
            let chunk = self.chunks.front_mut()?;
            let Some(span) = chunk.spans.next() else {
                self.pop_front();
                continue;
            };
            let index = chunk.index;
            chunk.index += 1;
            self.len = self.len.saturating_sub(1);
            let item = match chunk.body.get(span) {
                Some(bytes) => (self.decode)(bytes, index),
                None => Err(Error::invalid_input(
                    "a record's position lies outside its page",
                )),
            };
            if chunk.spans.len() == 0 {
                self.pop_front();
            }
            return Some(item);
        }
    }
}

impl<T: DeserializeOwned> Pending<T> {
    /// The records of one body; the body goes back to `pool` once they are all taken.
    fn from_body(body: Bytes, spans: Vec<Range<usize>>, pool: &Arc<BufferPool>) -> Self {
        let mut p = Self::empty(crate::response::decode_list_item::<T>);
        p.pool = Some(Arc::clone(pool));
        if spans.is_empty() {
            pool.give(body);
        } else {
            p.len = spans.len();
            p.chunks.push_back(Chunk {
                body,
                spans: spans.into_iter(),
                index: 0,
            });
        }
        p
    }
}

/// One successful request.
struct Fetched<T> {
    records: Pending<T>,
    total: Option<u64>,
    /// The `sysparm_limit` that succeeded (smaller than asked after a cancellation).
    size: u64,
    /// The last record's sys_id (keyset paging only).
    last_sys_id: Option<String>,
    /// The `Link: rel="next"` URL.
    next: Option<String>,
}

#[derive(serde::Deserialize)]
struct SysIdProbe {
    #[serde(default)]
    sys_id: Option<Field>,
}

impl Fetcher {
    /// One request of at most `size` records at `offset`; halves the size (down to 1) and asks
    /// again after a cancelled or truncated answer, up to the configured number of times.
    async fn fetch<T: DeserializeOwned>(
        &self,
        query: &Query,
        offset: u64,
        size: u64,
        want_sys_id: bool,
    ) -> Result<Fetched<T>, Error> {
        let mut size = size.max(1);
        let mut retries = 0;
        let mut dropped = 0;
        loop {
            let params = self
                .params
                .clone()
                .query(query.clone())
                .limit(size)
                .offset(offset);
            let resp = match get_list(&self.client, &self.segments, &params, Some(&self.pool)).await
            {
                Ok(resp) => resp,
                // The connection dropped while the page was being read (the transport retries
                // only failures before a response): a GET is safe to ask again.
                Err(e @ Error::Transport { .. }) if dropped < MAX_DROPPED_READS => {
                    dropped += 1;
                    tracing::warn!(offset, size, error = %e, "page read failed; asking again");
                    continue;
                }
                Err(e) => return Err(e),
            };
            let raw = resp.raw();
            match raw.list_spans() {
                Ok(spans) => {
                    let last_sys_id = match spans.last() {
                        Some(last) if want_sys_id => {
                            let bytes = resp.body.get(last.clone()).unwrap_or_default();
                            crate::response::decode_list_item::<SysIdProbe>(bytes, spans.len() - 1)?
                                .sys_id
                                .and_then(|f| f.value().map(str::to_owned))
                        }
                        _ => None,
                    };
                    let total = raw.total_count();
                    let next = link_of(&resp.parts.headers);
                    return Ok(Fetched {
                        records: Pending::from_body(resp.body, spans, &self.pool),
                        total,
                        size,
                        last_sys_id,
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

    /// The URL of a `Link` target: absolute, or a path on the instance (RFC 8288 allows
    /// relative references); it must be on the instance's origin.
    fn resolve_link(&self, link: &str) -> Result<http::Uri, Error> {
        let invalid = || Error::Paging {
            reason: "the next-page link in the Link header is not a valid URL".to_owned(),
        };
        let instance = self.client.instance();
        let absolute = if link.starts_with('/') && !link.starts_with("//") {
            let base: http::Uri = instance.base_url().parse().map_err(|_| invalid())?;
            let (Some(scheme), Some(authority)) = (base.scheme_str(), base.authority()) else {
                return Err(invalid());
            };
            format!("{scheme}://{authority}{link}")
        } else {
            link.to_owned()
        };
        let uri: http::Uri = absolute.parse().map_err(|_| invalid())?;
        if uri.scheme().is_none() {
            return Err(invalid());
        }
        if !instance.is_same_origin(&uri) {
            return Err(Error::Paging {
                reason: format!(
                    "the next-page link points to another origin ({}), not the instance",
                    uri.host().unwrap_or("no host")
                ),
            });
        }
        Ok(uri)
    }

    /// One page at a URL of the instance, and its `Link: rel="next"`.
    async fn fetch_uri<T: DeserializeOwned>(
        &self,
        uri: http::Uri,
    ) -> Result<(Pending<T>, Option<String>), Error> {
        let resp = get_uri(&self.client, uri, Some(&self.pool)).await?;
        let spans = resp.raw().list_spans()?;
        let next = link_of(&resp.parts.headers);
        Ok((Pending::from_body(resp.body, spans, &self.pool), next))
    }

    /// Records `start..start+len` (one page, in several requests after a cancellation).
    async fn range<T: DeserializeOwned>(
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
            let got = self.fetch::<T>(query, pos, want, false).await?;
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

/// One page handed to the record stream.
struct PageOut<T> {
    records: Pending<T>,
    /// Records the whole call should yield (known from the first page's total).
    expected: Option<u64>,
}

/// How a stream pages: where it starts, how many records in all and per request, whether
/// `X-Total-Count` is meaningful, and how many pages may be in flight (offset paging only).
#[derive(Debug, Clone, Copy)]
struct Plan {
    start: u64,
    limit: Option<u64>,
    page: u64,
    no_count: bool,
    concurrency: usize,
    ordered: bool,
}

fn offset_pages<T>(
    f: Arc<Fetcher>,
    q: Query,
    plan: Plan,
) -> BoxStream<'static, Result<PageOut<T>, Error>>
where
    T: DeserializeOwned + Send + 'static,
{
    let first_len = plan.limit.map_or(plan.page, |l| l.min(plan.page));
    if first_len == 0 {
        return stream::empty().boxed();
    }
    let (f0, q0) = (f.clone(), q.clone());
    stream::once(async move { f0.range::<T>(&q0, plan.start, first_len).await })
        .flat_map(move |res| {
            let (records, total, short) = match res {
                Ok(x) => x,
                Err(e) => return stream::once(async { Err(e) }).boxed(),
            };
            let total = if plan.no_count { None } else { total };
            if let Some(total) = total {
                let avail = total.saturating_sub(plan.start);
                let want = plan.limit.map_or(avail, |l| l.min(avail));
                let mut ranges = Vec::new();
                let end = plan.start.saturating_add(want);
                let mut pos = plan.start + first_len;
                while pos < end {
                    let len = plan.page.min(end - pos);
                    ranges.push((pos, len));
                    pos += len;
                }
                let head = stream::once(async move {
                    Ok(PageOut {
                        records,
                        expected: Some(want),
                    })
                });
                let (f, q) = (f.clone(), q.clone());
                let futs = stream::iter(ranges).map(move |(o, l)| {
                    let (f, q) = (f.clone(), q.clone());
                    async move {
                        f.range::<T>(&q, o, l).await.map(|(records, _, _)| PageOut {
                            records,
                            expected: None,
                        })
                    }
                });
                let rest = if plan.ordered {
                    futs.buffered(plan.concurrency).boxed()
                } else {
                    futs.buffer_unordered(plan.concurrency).boxed()
                };
                head.chain(rest).boxed()
            } else {
                let head = stream::once(async move {
                    Ok(PageOut {
                        records,
                        expected: None,
                    })
                });
                let remaining = plan.limit.map(|l| l - first_len);
                let (f, q) = (f.clone(), q.clone());
                let page = plan.page;
                let rest = stream::unfold(
                    (plan.start + first_len, remaining, short),
                    move |(pos, rem, done)| {
                        let (f, q) = (f.clone(), q.clone());
                        async move {
                            if done || rem == Some(0) {
                                return None;
                            }
                            let len = rem.map_or(page, |r| r.min(page));
                            match f.range::<T>(&q, pos, len).await {
                                Ok((records, _, short)) => Some((
                                    Ok(PageOut {
                                        records,
                                        expected: None,
                                    }),
                                    (pos + len, rem.map(|r| r - len), short),
                                )),
                                Err(e) => Some((Err(e), (pos, rem, true))),
                            }
                        }
                    },
                );
                head.chain(rest).boxed()
            }
        })
        .boxed()
}

fn keyset_pages<T>(
    f: Arc<Fetcher>,
    q: Query,
    plan: Plan,
) -> BoxStream<'static, Result<PageOut<T>, Error>>
where
    T: DeserializeOwned + Send + 'static,
{
    let Plan {
        start,
        limit,
        page,
        no_count,
        ..
    } = plan;
    struct State {
        last: Option<String>,
        remaining: Option<u64>,
        first: bool,
        done: bool,
    }
    impl State {
        fn finish(mut self) -> Self {
            self.done = true;
            self
        }
    }
    let init = State {
        last: None,
        remaining: limit,
        first: true,
        done: false,
    };
    stream::unfold(init, move |mut st| {
        let (f, q) = (f.clone(), q.clone());
        async move {
            if st.done || st.remaining == Some(0) {
                return None;
            }
            let size = st.remaining.map_or(page, |r| r.min(page));
            let (query, offset) = match &st.last {
                None => (q, start),
                Some(last) => {
                    let term = match field("sys_id").gt(last.as_str()).into_term() {
                        Ok(t) => t,
                        Err(e) => return Some((Err(Error::InvalidQuery(e)), st.finish())),
                    };
                    match q.and_term(term) {
                        Ok(q) => (q, 0),
                        Err(e) => return Some((Err(Error::InvalidQuery(e)), st.finish())),
                    }
                }
            };
            match f.fetch::<T>(&query, offset, size, true).await {
                Ok(got) => {
                    let n = got.records.len() as u64;
                    // With sysparm_no_count, X-Total-Count is only the page's size.
                    let expected = if st.first && !no_count {
                        got.total.map(|t| {
                            let avail = t.saturating_sub(start);
                            limit.map_or(avail, |l| l.min(avail))
                        })
                    } else {
                        None
                    };
                    st.first = false;
                    st.remaining = st.remaining.map(|r| r.saturating_sub(n));
                    st.done = n < got.size || got.last_sys_id.is_none();
                    st.last = got.last_sys_id;
                    Some((
                        Ok(PageOut {
                            records: got.records,
                            expected,
                        }),
                        st,
                    ))
                }
                Err(e) => Some((Err(e), st.finish())),
            }
        }
    })
    .boxed()
}

/// Pages found by following `Link: rel="next"` from the first page.
///
/// Paging stops with [`Error::Paging`] when a link leaves the instance's origin, does not move
/// forward (`sysparm_offset` not above the previous one, or a URL already fetched), when a page
/// starts with the same record as the page before it (a server ignoring the offset), or when
/// more records arrive than the first page's `X-Total-Count` announced: a broken server cannot
/// make the stream repeat records forever.
fn link_pages<T>(
    f: Arc<Fetcher>,
    q: Query,
    plan: Plan,
) -> BoxStream<'static, Result<PageOut<T>, Error>>
where
    T: DeserializeOwned + Send + 'static,
{
    struct State {
        next: Option<String>,
        remaining: Option<u64>,
        first: bool,
        seen: std::collections::HashSet<String>,
        offset: u64,
        /// The first page's `X-Total-Count` minus the start offset (unless `no_count`).
        total: Option<u64>,
        received: u64,
        /// Hash of the previous page's first record.
        head: Option<u64>,
    }
    let fail = |reason: String| Some((Err(Error::Paging { reason }), None));
    let init = State {
        next: None,
        remaining: plan.limit,
        first: true,
        seen: std::collections::HashSet::new(),
        offset: plan.start,
        total: None,
        received: 0,
        head: None,
    };
    stream::unfold(Some(init), move |st| {
        let (f, q) = (f.clone(), q.clone());
        async move {
            let mut st = st?;
            if st.remaining == Some(0) {
                return None;
            }
            let mut expected = None;
            let fetched = if st.first {
                let size = st.remaining.map_or(plan.page, |r| r.min(plan.page));
                f.fetch::<T>(&q, plan.start, size, false).await.map(|got| {
                    if !plan.no_count {
                        st.total = got.total.map(|t| t.saturating_sub(plan.start));
                        expected = st.total.map(|t| plan.limit.map_or(t, |l| l.min(t)));
                    }
                    (got.records, got.next)
                })
            } else {
                let link = st.next.take()?;
                let uri = match f.resolve_link(&link) {
                    Ok(uri) => uri,
                    Err(e) => return Some((Err(e), None)),
                };
                let offset =
                    query_param(&uri, "sysparm_offset").and_then(|v| v.parse::<u64>().ok());
                if let Some(off) = offset {
                    if off <= st.offset {
                        return fail(format!(
                            "the next-page link does not move forward (offset {off} after {})",
                            st.offset
                        ));
                    }
                    st.offset = off;
                }
                if !st.seen.insert(uri.to_string()) {
                    return fail("the next-page link leads back to a page already fetched".into());
                }
                f.fetch_uri::<T>(uri).await
            };
            let (mut records, next) = match fetched {
                Ok(x) => x,
                Err(e) => return Some((Err(e), None)),
            };
            st.first = false;
            let head = records.first_hash();
            if head.is_some() && head == st.head {
                return fail(
                    "the next page starts with the same record as the page before it".into(),
                );
            }
            st.head = head;
            if let Some(r) = st.remaining {
                records.truncate(usize::try_from(r).unwrap_or(usize::MAX));
            }
            let n = records.len() as u64;
            st.received += n;
            if let Some(total) = st.total {
                if st.received > total {
                    return fail(format!(
                        "more records arrived than X-Total-Count announced ({total})"
                    ));
                }
            }
            st.remaining = st.remaining.map(|r| r.saturating_sub(n));
            // An empty page ends paging even if it links on.
            st.next = if n == 0 { None } else { next };
            let more = st.next.is_some();
            Some((Ok(PageOut { records, expected }), more.then_some(st)))
        }
    })
    .boxed()
}

/// The raw (still percent-encoded) value of a query parameter of a URI.
fn query_param<'u>(uri: &'u http::Uri, name: &str) -> Option<&'u str> {
    uri.query()?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then_some(v)
    })
}

/// The records of a list call, page after page, as a [`Stream`].
///
/// Holds at most the page being yielded and one page prefetched (plus the requests in flight
/// when fetching concurrently). Pages are kept as received and each record is decoded when it
/// is yielded, so memory is about two pages of JSON whatever the record type; a record that
/// does not decode ends the stream with [`Error::Decode`] after the records before it. After an
/// error the stream ends.
#[must_use = "streams do nothing unless polled"]
pub struct RecordStream<T> {
    pages: BoxStream<'static, Result<PageOut<T>, Error>>,
    current: Option<Pending<T>>,
    next: Option<Pending<T>>,
    pages_done: bool,
    pending_error: Option<Error>,
    finished: bool,
    received: u64,
    expected: Option<u64>,
    count_check: CountCheck,
}

// No field is ever pinned: records are moved out by value.
impl<T> Unpin for RecordStream<T> {}

impl<T> fmt::Debug for RecordStream<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordStream")
            .field("received", &self.received)
            .field("expected", &self.expected)
            .field("buffered", &self.current.as_ref().map_or(0, Pending::len))
            .field("prefetched", &self.next.as_ref().map(Pending::len))
            .field("finished", &self.finished)
            .finish()
    }
}

impl<T: Send + 'static> RecordStream<T> {
    fn new(pages: BoxStream<'static, Result<PageOut<T>, Error>>, count_check: CountCheck) -> Self {
        Self {
            pages,
            current: None,
            next: None,
            pages_done: false,
            pending_error: None,
            finished: false,
            received: 0,
            expected: None,
            count_check,
        }
    }

    fn failed(e: Error) -> Self {
        Self::new(stream::once(async { Err(e) }).boxed(), CountCheck::Off)
    }
}

impl<T> RecordStream<T> {
    /// How many records the call should yield in all, once the first page told
    /// (`X-Total-Count` with the offset and limit applied); `None` before, or with `no_count`.
    pub fn expected(&self) -> Option<u64> {
        self.expected
    }

    /// How many records the stream holds right now, received but not yielded yet: the rest of
    /// the current page plus the prefetched page (never more than two pages when fetching
    /// sequentially). They are kept as received and decoded one by one as they are yielded.
    pub fn buffered(&self) -> usize {
        self.current.as_ref().map_or(0, Pending::len) + self.next.as_ref().map_or(0, Pending::len)
    }

    /// How many records were yielded so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Every remaining record in a `Vec`.
    pub async fn all(mut self) -> Result<Vec<T>, Error> {
        let mut out = Vec::new();
        while let Some(r) = self.next().await {
            out.push(r?);
        }
        Ok(out)
    }

    /// The first record; [`Error::NoResults`] when there is none.
    pub async fn first(self) -> Result<T, Error> {
        self.first_or_none().await?.ok_or(Error::NoResults)
    }

    /// The first record, or `None`.
    pub async fn first_or_none(mut self) -> Result<Option<T>, Error> {
        self.next().await.transpose()
    }

    /// Exactly one record: [`Error::NoResults`] or [`Error::MultipleResults`] otherwise.
    pub async fn one(self) -> Result<T, Error> {
        self.one_or_none().await?.ok_or(Error::NoResults)
    }

    /// The only record, or `None`; [`Error::MultipleResults`] when there are several.
    pub async fn one_or_none(mut self) -> Result<Option<T>, Error> {
        let Some(first) = self.next().await.transpose()? else {
            return Ok(None);
        };
        match self.next().await.transpose()? {
            None => Ok(Some(first)),
            Some(_) => Err(Error::MultipleResults),
        }
    }

    fn end(&mut self) -> Option<Error> {
        self.finished = true;
        let expected = self.expected?;
        if expected == self.received {
            return None;
        }
        match self.count_check {
            CountCheck::Error => Some(Error::CountMismatch {
                expected,
                received: self.received,
            }),
            CountCheck::Warn => {
                tracing::warn!(
                    expected,
                    received = self.received,
                    "the number of records received differs from X-Total-Count"
                );
                None
            }
            CountCheck::Off => None,
        }
    }
}

impl<T> Stream for RecordStream<T> {
    type Item = Result<T, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.finished {
                return Poll::Ready(None);
            }
            // Keep one page prefetched.
            if this.next.is_none() && !this.pages_done {
                match this.pages.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(page))) => {
                        if let Some(e) = page.expected {
                            this.expected = Some(e);
                        }
                        this.next = Some(page.records);
                    }
                    Poll::Ready(Some(Err(e))) => {
                        this.pending_error = Some(e);
                        this.pages_done = true;
                    }
                    Poll::Ready(None) => this.pages_done = true,
                    Poll::Pending => {}
                }
            }
            match this.current.as_mut().and_then(Pending::take) {
                Some(Ok(item)) => {
                    this.received += 1;
                    return Poll::Ready(Some(Ok(item)));
                }
                Some(Err(e)) => {
                    this.finished = true;
                    return Poll::Ready(Some(Err(e)));
                }
                None => this.current = None,
            }
            if let Some(next) = this.next.take() {
                this.current = Some(next);
                continue;
            }
            if let Some(e) = this.pending_error.take() {
                this.finished = true;
                return Poll::Ready(Some(Err(e)));
            }
            if this.pages_done {
                return Poll::Ready(this.end().map(Err));
            }
            return Poll::Pending;
        }
    }
}

/// The answer to one list request, buffered: the records, `X-Total-Count` and the `Link`
/// header's next page. The same accessors as [`RecordStream`] work on it.
#[derive(Clone, Debug, PartialEq)]
pub struct Page<T> {
    records: Vec<T>,
    total_count: Option<u64>,
    next_link: Option<String>,
}

impl<T> Page<T> {
    /// The records.
    pub fn records(&self) -> &[T] {
        &self.records
    }

    /// `X-Total-Count`: how many records match the whole query.
    pub fn total_count(&self) -> Option<u64> {
        self.total_count
    }

    /// The `Link` header's `rel="next"` URL, when there is a next page.
    pub fn next_link(&self) -> Option<&str> {
        self.next_link.as_deref()
    }

    /// How many records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether the page is empty.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Every record.
    pub fn all(self) -> Vec<T> {
        self.records
    }

    /// Exactly one record: [`Error::NoResults`] or [`Error::MultipleResults`] otherwise.
    pub fn one(self) -> Result<T, Error> {
        self.one_or_none()?.ok_or(Error::NoResults)
    }

    /// The only record or `None`; [`Error::MultipleResults`] when there are several.
    pub fn one_or_none(self) -> Result<Option<T>, Error> {
        let mut it = self.records.into_iter();
        match (it.next(), it.next()) {
            (None, _) => Ok(None),
            (Some(r), None) => Ok(Some(r)),
            (Some(_), Some(_)) => Err(Error::MultipleResults),
        }
    }

    /// The first record; [`Error::NoResults`] when there is none.
    pub fn first(self) -> Result<T, Error> {
        self.first_or_none().ok_or(Error::NoResults)
    }

    /// The first record, or `None`.
    pub fn first_or_none(self) -> Option<T> {
        self.records.into_iter().next()
    }
}

impl<T> IntoIterator for Page<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;
    fn into_iter(self) -> Self::IntoIter {
        self.records.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next() {
        let h = r#"<https://x/api/now/table/incident?sysparm_limit=1&sysparm_offset=0>;rel="first",<https://x/api/now/table/incident?sysparm_limit=1&sysparm_offset=1>;rel="next",<https://x/api/now/table/incident?sysparm_limit=1&sysparm_offset=72>;rel="last""#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://x/api/now/table/incident?sysparm_limit=1&sysparm_offset=1")
        );
        assert_eq!(next_link(r#"<https://x/a>;rel="first""#), None);
        // Commas inside a URL do not split it; quoting styles and several relation types.
        let h = r#"<https://x/t?sysparm_fields=a,b&sysparm_offset=0>; rel="first", <https://x/t?sysparm_fields=a,b&sysparm_offset=2>; rel='next'"#;
        assert_eq!(
            next_link(h).as_deref(),
            Some("https://x/t?sysparm_fields=a,b&sysparm_offset=2")
        );
        assert_eq!(
            next_link("<https://x/b>; title=\"a,b\"; rel=\"prev next\"").as_deref(),
            Some("https://x/b")
        );
        assert_eq!(
            next_link("<https://x/c>;REL=next").as_deref(),
            Some("https://x/c")
        );
        assert_eq!(next_link("<https://x/d>;rel=nextpage"), None);
        assert_eq!(next_link("garbage"), None);
        assert_eq!(next_link("<unclosed;rel=next"), None);
        assert_eq!(next_link(""), None);
    }

    #[test]
    fn pending_truncates_across_chunks() {
        let mut p = Pending::<u32>::empty(|b, _| Ok(u32::from(b[0])));
        for body in [&b"\x01\x02\x03"[..], &b"\x04\x05"[..]] {
            let spans = (0..body.len()).map(|i| i..i + 1).collect();
            let mut chunk = Pending::<u32>::empty(|b, _| Ok(u32::from(b[0])));
            chunk.len = body.len();
            chunk.chunks.push_back(Chunk {
                body: Bytes::copy_from_slice(body),
                spans: Vec::into_iter(spans),
                index: 0,
            });
            p.append(chunk);
        }
        p.truncate(4);
        assert_eq!(p.len(), 4);
        let got: Vec<u32> = std::iter::from_fn(|| p.take())
            .map(Result::unwrap)
            .collect();
        assert_eq!(got, vec![1, 2, 3, 4]);
    }

    #[test]
    fn page_accessors_follow_pysnow() {
        let page = |v: Vec<u32>| Page {
            records: v,
            total_count: None,
            next_link: None,
        };
        assert_eq!(page(vec![1]).one().unwrap(), 1);
        assert!(matches!(
            page(vec![1, 2, 3]).one(),
            Err(Error::MultipleResults)
        ));
        assert_eq!(page(vec![1, 2, 3]).first().unwrap(), 1);
        assert_eq!(page(vec![1, 2, 3]).first_or_none(), Some(1));
        assert!(matches!(page(vec![]).one(), Err(Error::NoResults)));
        assert!(matches!(page(vec![]).first(), Err(Error::NoResults)));
        assert_eq!(page(vec![]).one_or_none().unwrap(), None);
        assert_eq!(page(vec![]).first_or_none(), None);
        assert!(page(vec![]).all().is_empty());
    }
}
