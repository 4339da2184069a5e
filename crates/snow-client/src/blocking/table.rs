//! The blocking Table API: [`Table`] and its requests.

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{ListRequest, Runtime};
use crate::params::{HasRecordParams, HasRequest, RecordParams, extra_setters, record_setters};
use crate::query::IntoQuery;
use crate::request::ApiRequest;
use crate::{Error, Record, Retry};

/// The blocking form of [`snow_client::Table`](crate::Table): one table, every call returning
/// its result.
///
/// The table handle is what updates and deletes go through, so a record read from it needs
/// only its sys_id to be written back (pysnow's `response.update(...)`):
///
/// ```no_run
/// use serde_json::json;
/// use snow_client::{Record, query::field};
///
/// # fn demo(client: snow_client::blocking::Client) -> Result<(), snow_client::Error> {
/// let incidents = client.table("incident");
/// let r: Record = incidents.list().query(field("number").eq("INC0010001")).one()?;
/// incidents.update(r.sys_id().unwrap_or_default(), &json!({"state": "2"})).send()?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Table {
    inner: crate::Table,
    rt: Runtime,
}

impl Table {
    pub(crate) fn new(inner: crate::Table, rt: Runtime) -> Self {
        Self { inner, rt }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        self.inner.name()
    }

    /// The REST URL of a record (pysnow's `get_record_link`); see
    /// [`snow_client::Table::record_link`](crate::Table::record_link).
    pub fn record_link(&self, sys_id: &str) -> Result<String, Error> {
        self.inner.record_link(sys_id)
    }

    /// The URL of a record's form in the instance's UI; see
    /// [`snow_client::Table::form_link`](crate::Table::form_link).
    pub fn form_link(&self, sys_id: &str) -> Result<String, Error> {
        self.inner.form_link(sys_id)
    }

    /// A list call with its own query, fields, limit, paging options...
    pub fn list(&self) -> ListRequest {
        ListRequest::new(self.inner.list(), self.rt.clone())
    }

    /// Shorthand for `list().query(query)`.
    pub fn query(&self, query: impl IntoQuery) -> ListRequest {
        self.list().query(query)
    }

    /// One record by sys_id; [`send`](GetRequest::send) gives a [`Record`],
    /// [`fetch`](GetRequest::fetch) any serde type.
    pub fn get(&self, sys_id: impl Into<String>) -> GetRequest {
        GetRequest {
            inner: self.inner.get(sys_id),
            rt: self.rt.clone(),
        }
    }

    /// Creates a record (`POST`); `send()` gives the created record.
    pub fn create(&self, payload: &impl Serialize) -> WriteRequest {
        WriteRequest {
            inner: self.inner.create(payload),
            rt: self.rt.clone(),
        }
    }

    /// Updates the given fields of a record (`PATCH`; `.put()` for `PUT`).
    pub fn update(&self, sys_id: impl Into<String>, payload: &impl Serialize) -> WriteRequest {
        WriteRequest {
            inner: self.inner.update(sys_id, payload),
            rt: self.rt.clone(),
        }
    }

    /// Deletes a record (`DELETE`).
    pub fn delete(&self, sys_id: impl Into<String>) -> DeleteRequest {
        DeleteRequest {
            inner: self.inner.delete(sys_id),
            rt: self.rt.clone(),
        }
    }

    /// Updates the one record matching `query`; see
    /// [`snow_client::Table::update_where`](crate::Table::update_where).
    pub fn update_where(
        &self,
        query: impl IntoQuery,
        payload: &impl Serialize,
    ) -> Result<Record, Error> {
        self.rt.block_on(self.inner.update_where(query, payload))
    }

    /// Deletes the one record matching `query`; see
    /// [`snow_client::Table::delete_where`](crate::Table::delete_where).
    pub fn delete_where(&self, query: impl IntoQuery) -> Result<(), Error> {
        self.rt.block_on(self.inner.delete_where(query))
    }
}

/// A single-record read being configured; see
/// [`snow_client::table::GetRequest`](crate::table::GetRequest).
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until sent"]
pub struct GetRequest {
    inner: crate::table::GetRequest,
    rt: Runtime,
}

impl HasRecordParams for GetRequest {
    fn record_params(&mut self) -> &mut RecordParams {
        self.inner.record_params()
    }
}

impl HasRequest for GetRequest {
    fn api_request(&mut self) -> &mut ApiRequest {
        self.inner.api_request()
    }
}

impl GetRequest {
    record_setters!();
    extra_setters!();

    /// Sends the request: the record.
    pub fn send(self) -> Result<Record, Error> {
        self.fetch()
    }

    /// Sends the request and decodes the record as `T`.
    pub fn fetch<T: DeserializeOwned + 'static>(self) -> Result<T, Error> {
        self.rt.block_on(self.inner.fetch())
    }

    /// Like [`fetch`](Self::fetch), but a 404 is `None`.
    pub fn fetch_optional<T: DeserializeOwned + 'static>(self) -> Result<Option<T>, Error> {
        self.rt.block_on(self.inner.fetch_optional())
    }
}

/// A create or update being configured; see
/// [`snow_client::table::WriteRequest`](crate::table::WriteRequest).
#[derive(Debug)]
#[must_use = "a request does nothing until sent"]
pub struct WriteRequest {
    inner: crate::table::WriteRequest,
    rt: Runtime,
}

impl HasRecordParams for WriteRequest {
    fn record_params(&mut self) -> &mut RecordParams {
        self.inner.record_params()
    }
}

impl HasRequest for WriteRequest {
    fn api_request(&mut self) -> &mut ApiRequest {
        self.inner.api_request()
    }
}

impl WriteRequest {
    record_setters!();
    extra_setters!();

    fn map(self, f: impl FnOnce(crate::table::WriteRequest) -> crate::table::WriteRequest) -> Self {
        Self {
            inner: f(self.inner),
            rt: self.rt,
        }
    }

    super::delegate! { "table::WriteRequest";
        fn put();
        fn input_display_value(yes: bool);
        fn retry(retry: Retry);
    }

    /// Sends the write: the written record (what `.await` gives in the async client).
    pub fn send(self) -> Result<Record, Error> {
        self.send_as()
    }

    /// Sends the write and decodes the written record as `T` (the async client's
    /// [`send`](crate::table::WriteRequest::send)).
    pub fn send_as<T: DeserializeOwned + 'static>(self) -> Result<T, Error> {
        self.rt.block_on(self.inner.send())
    }

    /// Sends the write with `X-no-response-body: true` and checks only the status.
    pub fn send_without_body(self) -> Result<(), Error> {
        self.rt.block_on(self.inner.send_without_body())
    }
}

/// A delete being configured; see [`snow_client::table::DeleteRequest`](crate::table::DeleteRequest).
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until sent"]
pub struct DeleteRequest {
    inner: crate::table::DeleteRequest,
    rt: Runtime,
}

impl HasRequest for DeleteRequest {
    fn api_request(&mut self) -> &mut ApiRequest {
        self.inner.api_request()
    }
}

impl DeleteRequest {
    extra_setters!();

    fn map(
        self,
        f: impl FnOnce(crate::table::DeleteRequest) -> crate::table::DeleteRequest,
    ) -> Self {
        Self {
            inner: f(self.inner),
            rt: self.rt,
        }
    }

    super::delegate! { "table::DeleteRequest";
        fn query_no_domain(yes: bool);
    }

    /// Sends the delete; `204` is success.
    pub fn send(self) -> Result<(), Error> {
        self.rt.block_on(self.inner.send())
    }
}
