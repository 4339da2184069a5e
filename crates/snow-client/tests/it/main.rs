//! snow-client's integration tests, one binary: each module was a test file of its own, and
//! `common` holds what they share (a dev instance per test, clients against it, its request log).

mod common;

mod aggregate;
mod attachment_streams;
mod attachments;
mod batch;
#[cfg(feature = "blocking")]
mod blocking;
mod cmdb;
mod concurrency;
mod error_texts;
mod errors;
mod from_env;
mod hostile;
mod import_set;
mod links;
mod oauth_client;
mod paging;
mod params_headers;
mod query_prop;
mod resource;
mod table;
