//! Offset paging: `sysparm_offset` grows by the page size; pages may be fetched concurrently.

use std::sync::Arc;

use futures_util::stream::{self, BoxStream, StreamExt};
use serde::de::DeserializeOwned;

use super::PageOrder;
use super::fetcher::{Fetcher, PageOut, Plan};
use crate::Error;
use crate::query::Query;

/// The pages of an offset-paged call.
pub(crate) fn pages<T>(
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
                let rest = if plan.page_order == PageOrder::Query {
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
