//! Listing records: [`ListRequest`], the paging [`RecordStream`] and the buffered [`Page`].
//!
//! A list call reads pages of `page_size` records (1000 by default) and yields records one by
//! one. Pages are kept as received and each record is decoded when it is yielded. Memory stays
//! bounded: one page fetching sequentially, at most two pages are held (the one being yielded
//! and the next); fetching concurrently, the pages in flight as well — never the whole result.
//!
//! - **Fetching ahead.** Inside a Tokio runtime the pages are fetched by a task of their own, so
//!   the next page is read while the caller uses the current one (even when the caller awaits
//!   other work between records). A sequential stream also asks for the page after next before
//!   it is needed and reads its body once a page has been used up: the instance prepares it
//!   meanwhile. A caller that takes longer than two seconds over a page gets each page asked for
//!   only when there is room for it. Dropping the stream stops the task.
//!
//! - **Stable order.** Offset paging over an unordered query can skip or repeat rows, so
//!   `ORDERBYsys_id` is appended when the query has no order of its own
//!   ([`ListRequest::stable_order`] turns this off).
//! - **Totals.** The first page's `X-Total-Count` (with `offset` and `limit`) says how many
//!   records to expect; a different number is an [`Error::CountMismatch`](crate::Error), or a
//!   warning ([`CountCheck`]). With `no_count(true)` paging stops at the first short page instead.
//! - **Paging modes** ([`Paging`]): by offset (the default); by `sys_id` ([`Paging::Keyset`]:
//!   each page asks for `sys_id>last^ORDERBYsys_id` from offset 0, so deep pages cost no more
//!   than the first and rows inserted or deleted meanwhile shift nothing); or by following the
//!   instance's `Link: rel="next"` headers ([`Paging::Links`]).
//! - **Concurrency** ([`ListRequest::concurrency`]): once the total is known, up to N pages are
//!   fetched at once, yielded in query order or as they arrive ([`PageOrder`]).
//! - **Cancelled transactions.** When ServiceNow cancels a slow transaction in the middle of a
//!   page (a `200` whose body ends with an `error` member, or JSON cut short), the page is asked
//!   for again from the same offset at half the size, up to [`ListRequest::cancel_retries`]
//!   times, before [`Error::TransactionCancelled`](crate::Error) is returned.
//!
//! The list machinery serves any collection endpoint (tables, attachments, and the APIs that
//! page the same way); it depends on the request path and the response decoder, never on an
//! API module.
//!
//! Files: `request.rs` (the builder), `stream.rs` ([`RecordStream`]), `page.rs` ([`Page`]),
//! `pending.rs` (records received but not decoded yet, and the buffer pool that also paces
//! asking ahead), `prefetch.rs` (the task that fetches the pages), `fetcher.rs` (one page
//! request, with its retries), `check.rs` (the order and repetition checks), and one file per
//! paging mode: `offset.rs`, `keyset.rs`, `links.rs`.

mod check;
mod fetcher;
mod keyset;
mod links;
mod offset;
mod page;
mod pending;
mod prefetch;
mod request;
mod stream;

#[cfg(test)]
pub(crate) use check::decode_sys_id;
#[cfg(test)]
pub(crate) use check::probe_sys_id;
pub use page::Page;
pub use request::ListRequest;
pub use stream::RecordStream;

/// Records per page when none is set.
pub const DEFAULT_PAGE_SIZE: u64 = 1000;

/// Halvings of a page after "Transaction cancelled" before giving up, when none is set.
pub const DEFAULT_CANCEL_RETRIES: u32 = 4;

/// What to do when the number of records received differs from what `X-Total-Count` announced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CountCheck {
    /// End the stream with [`Error::CountMismatch`](crate::Error::CountMismatch) (the default:
    /// no silent data loss).
    #[default]
    Error,
    /// Log a warning (`tracing`) and end normally.
    Warn,
    /// Do not check.
    Off,
}

/// How a list call finds its next page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Paging {
    /// `sysparm_offset` grows by the page size (the default); pages may be fetched concurrently.
    #[default]
    Offset,
    /// By `sys_id`: each page asks for `sys_id>last^ORDERBYsys_id` from offset 0. Constant cost
    /// per page on very large tables and no drift when rows come and go. Needs no order other
    /// than `sys_id` (ascending); a raw query is parsed so the bound joins every `^NQ` group (a
    /// query the parser cannot read is refused). Always sequential.
    Keyset,
    /// By following each response's `Link: <url>;rel="next"` header, as pysnow's legacy API
    /// did, until a response has no `next` link (or the limit is reached): for proxies or API
    /// paths that build their own links. The next-page URL (absolute, or a path on the
    /// instance) must stay on the instance's origin (credentials are never sent elsewhere) and
    /// move forward, or the stream ends with [`Error::Paging`](crate::Error::Paging); so does a
    /// page that repeats the previous one, or more records than the first page's
    /// `X-Total-Count` announced. Always sequential; a cancelled transaction on the first page
    /// is retried with smaller pages, on a linked page it is reported (the links fix the page
    /// size).
    Links,
}

/// In which order concurrently fetched pages are yielded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum PageOrder {
    /// In query order (the default): a page is yielded once the pages before it are.
    #[default]
    Query,
    /// As they arrive: faster when pages take unequal times, but records leave query order.
    Arrival,
}
