//! Blocking lists: [`ListRequest`] and the paging [`RecordIter`].

use std::fmt;

use serde::de::DeserializeOwned;

use super::Runtime;
use crate::list::{CountCheck, PageOrder, Paging};
use crate::params::{
    HasListParams, HasRecordParams, HasRequest, ListParams, RecordParams, extra_setters,
    list_setters, record_setters,
};
use crate::request::ApiRequest;
use crate::{Error, Page, RecordStream};

/// A list call being configured; see [`snow_client::ListRequest`](crate::ListRequest) for
/// every setting. Finish it with [`iter`](Self::iter) (pages followed lazily, as an
/// [`Iterator`]), [`all`](Self::all), [`one`](Self::one), [`first`](Self::first),
/// [`one_or_none`](Self::one_or_none), [`first_or_none`](Self::first_or_none) or
/// [`page`](Self::page).
#[derive(Clone, Debug)]
#[must_use = "a list request does nothing until finished with iter(), all(), one(), first() or page()"]
pub struct ListRequest {
    inner: crate::ListRequest,
    rt: Runtime,
}

impl HasListParams for ListRequest {
    fn list_params(&mut self) -> &mut ListParams {
        self.inner.list_params()
    }
}

impl HasRecordParams for ListRequest {
    fn record_params(&mut self) -> &mut RecordParams {
        self.inner.record_params()
    }
}

impl HasRequest for ListRequest {
    fn api_request(&mut self) -> &mut ApiRequest {
        self.inner.api_request()
    }
}

impl ListRequest {
    pub(crate) fn new(inner: crate::ListRequest, rt: Runtime) -> Self {
        Self { inner, rt }
    }

    fn map(self, f: impl FnOnce(crate::ListRequest) -> crate::ListRequest) -> Self {
        Self {
            inner: f(self.inner),
            rt: self.rt,
        }
    }

    list_setters!();
    record_setters!();
    extra_setters!();

    super::delegate! { "ListRequest";
        fn page_size(n: u64);
        fn stable_order(yes: bool);
        fn count_check(check: CountCheck);
        fn paging(paging: Paging);
        fn concurrency(n: usize);
        fn page_order(order: PageOrder);
        fn cancel_retries(n: u32);
    }

    /// The records as an [`Iterator`], following pages lazily (nothing is sent until the first
    /// `next()`), in bounded memory; see [`snow_client::ListRequest::stream`](crate::ListRequest::stream).
    /// After an error the iterator ends.
    ///
    /// ```no_run
    /// use snow_client::Record;
    /// # fn demo(client: snow_client::blocking::Client) -> Result<(), snow_client::Error> {
    /// for r in client.table("incident").list().page_size(500).iter::<Record>() {
    ///     println!("{}", r?.str("number").unwrap_or("?"));
    /// }
    /// # Ok(()) }
    /// ```
    pub fn iter<T>(self) -> RecordIter<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        RecordIter {
            stream: self.inner.stream(),
            rt: self.rt,
            done: false,
        }
    }

    /// Every record (all pages) in a `Vec`.
    pub fn all<T>(self) -> Result<Vec<T>, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.rt.block_on(self.inner.all())
    }

    /// Exactly one record ([`Error::NoResults`], [`Error::MultipleResults`] otherwise).
    pub fn one<T>(self) -> Result<T, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.rt.block_on(self.inner.one())
    }

    /// The only record, `None` when none matches, [`Error::MultipleResults`] when several do.
    pub fn one_or_none<T>(self) -> Result<Option<T>, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.rt.block_on(self.inner.one_or_none())
    }

    /// The first record in query order ([`Error::NoResults`] when none matches).
    pub fn first<T>(self) -> Result<T, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.rt.block_on(self.inner.first())
    }

    /// The first record, or `None`.
    pub fn first_or_none<T>(self) -> Result<Option<T>, Error>
    where
        T: DeserializeOwned + Send + 'static,
    {
        self.rt.block_on(self.inner.first_or_none())
    }

    /// One request, buffered; see [`snow_client::ListRequest::page`](crate::ListRequest::page).
    pub fn page<T>(self) -> Result<Page<T>, Error>
    where
        T: DeserializeOwned,
    {
        self.rt.block_on(self.inner.page())
    }
}

/// The records of a list call, page after page, as an [`Iterator`] of results: the blocking
/// form of [`RecordStream`], with its bounded memory and its checks. It ends after the last
/// record or after the first error.
pub struct RecordIter<T> {
    stream: RecordStream<T>,
    rt: Runtime,
    done: bool,
}

impl<T> fmt::Debug for RecordIter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordIter")
            .field("stream", &self.stream)
            .field("done", &self.done)
            .finish()
    }
}

impl<T> RecordIter<T> {
    /// How many records the call should yield in all, once the first page told.
    pub fn expected(&self) -> Option<u64> {
        self.stream.expected()
    }

    /// How many records were yielded so far.
    pub fn received(&self) -> u64 {
        self.stream.received()
    }
}

impl<T: Send + 'static> Iterator for RecordIter<T> {
    type Item = Result<T, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let stream = &mut self.stream;
        let item = self
            .rt
            .block_on(async { Ok(stream.next().await) })
            .unwrap_or_else(|e| Some(Err(e)));
        if !matches!(item, Some(Ok(_))) {
            self.done = true;
        }
        item
    }
}
