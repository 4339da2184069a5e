//! A blocking client for programs without async: `fn main`, scripts, pysnow ports (the
//! `blocking` feature).
//!
//! [`Client`] mirrors [`snow_client::Client`](crate::Client): tables, lists (paging as an
//! [`Iterator`]), writes, any API path, attachments and OAuth, with the same builders and
//! setters; each call returns its result instead of a future. Where the async client has
//! `.await`, the blocking one has `.send()`; where it has `.stream()`, `.iter()`. It is a thin layer: every call
//! runs the async client's own code on a Tokio runtime the client owns (one worker thread,
//! started when the client is built, shut down when its last clone is dropped), as
//! `reqwest::blocking` does. Nothing else is needed: no `#[tokio::main]`, no runtime of yours.
//!
//! ```no_run
//! use serde_json::json;
//! use snow_client::blocking::Client;
//! use snow_client::{Record, query::field};
//!
//! fn main() -> Result<(), snow_client::Error> {
//!     let client = Client::basic("acme", "admin", "s3cret")?;
//!     let incidents = client.table("incident");
//!
//!     let open: Vec<Record> = incidents.list().query(field("active").eq(true)).limit(5).all()?;
//!     for r in incidents.list().page_size(500).iter::<Record>() {
//!         println!("{}", r?.str("number").unwrap_or("?"));
//!     }
//!     let created = incidents.create(&json!({"short_description": "Printer on fire"})).send()?;
//!     incidents.delete(created.sys_id().unwrap_or_default()).send()?;
//!     # let _ = open;
//!     Ok(())
//! }
//! ```
//!
//! Calling it inside an async runtime (an `async fn`, a task, `spawn_blocking`) would block one
//! of the runtime's threads, so every call there fails with [`Error::BlockingInAsync`] before
//! anything is sent, instead of panicking as a nested runtime would. Use the async client
//! there, or run blocking code on a thread of your own (`std::thread::spawn`). Clients are
//! `Send + Sync` and cheap to clone: share one between threads.

mod attachment;
mod client;
mod list;
#[cfg(feature = "oauth")]
mod oauth;
mod resource;
mod table;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

pub use attachment::{Attachments, Download, UploadRequest};
pub use client::{Client, ClientBuilder};
pub use list::{ListRequest, RecordIter};
#[cfg(feature = "oauth")]
pub use oauth::{OAuthClient, OAuthClientBuilder, OAuthHandle};
pub use resource::{Resource, ResourceRequest};
pub use table::{DeleteRequest, GetRequest, Table, WriteRequest};

use crate::{ConfigError, Error};

/// The runtime a blocking client runs its calls on; clones share it, and the last one shuts it
/// down without waiting (so dropping a client never blocks, nor panics in an async context).
#[derive(Clone)]
pub(crate) struct Runtime(Arc<Owned>);

struct Owned(Option<tokio::runtime::Runtime>);

impl Drop for Owned {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

impl fmt::Debug for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Runtime")
    }
}

impl Runtime {
    /// A runtime with one worker thread, which drives connections between calls.
    pub(crate) fn new() -> Result<Self, Error> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("snow-blocking")
            .enable_all()
            .build()
            .map_err(|e| Error::Config(ConfigError::Runtime(e)))?;
        Ok(Runtime(Arc::new(Owned(Some(rt)))))
    }

    /// Runs `fut` to completion on this runtime, blocking the calling thread; refused inside
    /// an async runtime.
    pub(crate) fn block_on<T>(
        &self,
        fut: impl Future<Output = Result<T, Error>>,
    ) -> Result<T, Error> {
        if tokio::runtime::Handle::try_current().is_ok() {
            return Err(Error::BlockingInAsync);
        }
        match &self.0.0 {
            Some(rt) => rt.block_on(fut),
            None => Err(Error::BlockingInAsync),
        }
    }
}

/// Builder methods of a blocking wrapper that hand their arguments to the async builder inside
/// (through the wrapper's `map`), documented by a link to the async method.
macro_rules! delegate {
    ($async_ty:literal; $( $(#[$m:meta])* fn $name:ident($($arg:ident: $ty:ty),*); )*) => {
        $(
            #[doc = concat!("See [`", $async_ty, "::", stringify!($name), "`](crate::", $async_ty, "::", stringify!($name), ").")]
            $(#[$m])*
            pub fn $name(self, $($arg: $ty),*) -> Self {
                self.map(|inner| inner.$name($($arg),*))
            }
        )*
    };
}
pub(crate) use delegate;
