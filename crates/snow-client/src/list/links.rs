//! Link paging: follow each response's `Link: <url>;rel="next"` header.

use std::collections::HashSet;
use std::sync::Arc;

use futures_util::stream::{self, BoxStream, StreamExt};
use serde::de::DeserializeOwned;

use super::fetcher::{Fetcher, PageOut, Plan};
use crate::Error;
use crate::query::Query;

/// Pages found by following `Link: rel="next"` from the first page.
///
/// Paging stops with [`Error::Paging`] when a link leaves the instance's origin, does not move
/// forward (`sysparm_offset` not above the previous one, or a URL already fetched), when a page
/// starts with the same record as the page before it (a server ignoring the offset), or when
/// more records arrive than the first page's `X-Total-Count` announced: a broken server cannot
/// make the stream repeat records forever.
pub(crate) fn pages<T>(
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
        seen: HashSet<String>,
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
        seen: HashSet::new(),
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
                f.fetch::<T>(&q, plan.start, size).await.map(|got| {
                    if !plan.no_count {
                        st.total = got.total.map(|t| t.saturating_sub(plan.start));
                        expected = st.total.map(|t| plan.limit.map_or(t, |l| l.min(t)));
                    }
                    (got.records, got.next)
                })
            } else {
                let link = st.next.take()?;
                let uri = match resolve_link(f.client().instance(), &link) {
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
            if let Some(total) = st.total
                && st.received > total
            {
                return fail(format!(
                    "more records arrived than X-Total-Count announced ({total})"
                ));
            }
            st.remaining = st.remaining.map(|r| r.saturating_sub(n));
            // An empty page ends paging even if it links on.
            st.next = if n == 0 { None } else { next };
            let more = st.next.is_some();
            Some((
                Ok(PageOut {
                    records,
                    expected,
                    span: None,
                }),
                more.then_some(st),
            ))
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

/// The URL of a `Link` target: absolute, or a path-absolute reference resolved against the
/// instance's origin (RFC 3986: such a reference replaces the whole path, so a path prefix the
/// instance is served under is already in it); it must be on the instance's origin.
fn resolve_link(instance: &snow_core::Instance, link: &str) -> Result<http::Uri, Error> {
    let invalid = || Error::Paging {
        reason: "the next-page link in the Link header is not a valid URL".to_owned(),
    };
    let absolute = if link.starts_with('/') && !link.starts_with("//") {
        format!("{}{link}", instance.origin())
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
                uri.host()
                    .map_or_else(|| "no host".to_owned(), crate::query_quote)
            ),
        });
    }
    Ok(uri)
}
