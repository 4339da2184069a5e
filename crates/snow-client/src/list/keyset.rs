//! Keyset paging: each page asks for `sys_id>last^ORDERBYsys_id` from offset 0.

use std::sync::Arc;

use futures_util::stream::{self, BoxStream, StreamExt};
use serde::de::DeserializeOwned;

use super::fetcher::{Fetcher, PageOut, Plan};
use crate::Error;
use crate::query::{Query, field};

/// The pages of a keyset-paged call.
pub(crate) fn pages<T>(
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
            match f.fetch::<T>(&query, offset, size).await {
                Ok(got) => {
                    let last_sys_id = match got.records.last_sys_id() {
                        Ok(id) => id,
                        Err(e) => return Some((Err(e), st.finish())),
                    };
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
                    if n >= got.size && last_sys_id.is_none() {
                        return Some((
                            Err(Error::Paging {
                                reason: "a full page ended with a record without a sys_id, so \
                                         keyset paging cannot ask for the next one"
                                    .to_owned(),
                            }),
                            st.finish(),
                        ));
                    }
                    st.done = n < got.size;
                    st.last = last_sys_id;
                    Some((
                        Ok(PageOut {
                            records: got.records,
                            expected,
                            span: None,
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
