//! The Table API: [`Table`] and its read and write requests.

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use bytes::Bytes;
use http::{Method, Request};
use serde::Serialize;
use serde::de::DeserializeOwned;
use snow_transport::Body;

use crate::client::{Buffered, Client, json_object_body, url_error};
use crate::list::ListRequest;
use crate::params::{DisplayValue, GetParams, WriteParams};
use crate::query::IntoQuery;
use crate::{Error, Record};

/// A boxed future, as returned by `.await` on the request builders.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = Result<T, Error>> + Send + 'static>>;

/// One table, `/api/now/table/{name}` (under the instance's API root). Cheap to clone; holds
/// no per-call state.
///
/// ```no_run
/// use snow_client::{Client, Record, query::field};
/// use serde_json::json;
///
/// # async fn demo(client: Client) -> Result<(), snow_client::Error> {
/// let incidents = client.table("incident");
/// let open: Vec<Record> = incidents.list().query(field("active").eq(true)).limit(5).all().await?;
/// let created = incidents.create(&json!({"short_description": "Printer on fire"})).await?;
/// let id = created.sys_id().unwrap_or_default().to_owned();
/// incidents.update(&id, &json!({"urgency": "1"})).await?;
/// incidents.delete(&id).await?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct Table {
    client: Client,
    name: String,
}

impl Table {
    pub(crate) fn new(client: Client, name: String) -> Self {
        Self { client, name }
    }

    /// The table's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn segments(&self) -> Vec<String> {
        vec!["table".to_owned(), self.name.clone()]
    }

    /// A list call (`GET /table/{name}`) with its own query, fields, limit, paging options...
    pub fn list(&self) -> ListRequest {
        ListRequest::new(self.client.clone(), self.segments())
    }

    /// Shorthand for `list().query(query)`.
    pub fn query(&self, query: impl IntoQuery) -> ListRequest {
        self.list().query(query)
    }

    /// One record by sys_id (`GET /table/{name}/{sys_id}`); `.await` gives a [`Record`],
    /// [`GetRequest::fetch`] any serde type. A missing record is [`Error::Api`] with 404.
    pub fn get(&self, sys_id: impl Into<String>) -> GetRequest {
        GetRequest {
            client: self.client.clone(),
            segments: self.segments(),
            sys_id: sys_id.into(),
            params: GetParams::new(),
        }
    }

    /// Creates a record (`POST`, answered `201`) from any serde value that serialises to a JSON
    /// object. Never retried automatically unless [`WriteRequest::retry`] is set.
    pub fn create(&self, payload: &impl Serialize) -> WriteRequest {
        WriteRequest::new(
            self.client.clone(),
            self.segments(),
            None,
            Method::POST,
            json_object_body(payload),
        )
    }

    /// Updates the given fields of a record (`PATCH`; [`WriteRequest::put`] for `PUT`).
    pub fn update(&self, sys_id: impl Into<String>, payload: &impl Serialize) -> WriteRequest {
        WriteRequest::new(
            self.client.clone(),
            self.segments(),
            Some(sys_id.into()),
            Method::PATCH,
            json_object_body(payload),
        )
    }

    /// Deletes a record (`DELETE`, answered `204`).
    pub fn delete(&self, sys_id: impl Into<String>) -> DeleteRequest {
        DeleteRequest {
            client: self.client.clone(),
            segments: self.segments(),
            sys_id: sys_id.into(),
            query_no_domain: None,
        }
    }

    /// Updates the one record matching `query`: looks it up with `one()` (so no match is
    /// [`Error::NoResults`] and several are [`Error::MultipleResults`], and nothing is written),
    /// then `PATCH`es it. A payload that is not a JSON object is refused before any request.
    pub async fn update_where(
        &self,
        query: impl IntoQuery,
        payload: &impl Serialize,
    ) -> Result<Record, Error> {
        let body = json_object_body(payload)?;
        let sys_id = self.lookup(query).await?;
        WriteRequest::new(
            self.client.clone(),
            self.segments(),
            Some(sys_id),
            Method::PATCH,
            Ok(body),
        )
        .await
    }

    /// Deletes the one record matching `query` (looked up with `one()` first).
    pub async fn delete_where(&self, query: impl IntoQuery) -> Result<(), Error> {
        let sys_id = self.lookup(query).await?;
        self.delete(sys_id).await
    }

    async fn lookup(&self, query: impl IntoQuery) -> Result<String, Error> {
        let found: Record = self.list().query(query).fields(["sys_id"]).one().await?;
        found.sys_id().map(str::to_owned).ok_or_else(|| {
            Error::invalid_input("the matching record has no sys_id (check read access to it)")
        })
    }
}

fn build_request(
    client: &Client,
    method: Method,
    segments: &[String],
    sys_id: Option<&str>,
    pairs: &[(&'static str, String)],
    body: Option<Bytes>,
) -> Result<Request<Body>, Error> {
    let mut url = client.instance().api();
    for s in segments {
        url = url.segment(s);
    }
    if let Some(id) = sys_id {
        url = url.segment(id);
    }
    for (k, v) in pairs {
        url = url.query(k, v);
    }
    let uri = url.build().map_err(url_error)?;
    let mut req = Request::builder().method(method).uri(uri);
    let body = match body {
        Some(b) => {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
            Body::from(b)
        }
        None => Body::empty(),
    };
    req.body(body)
        .map_err(|e| Error::invalid_input(e.to_string()))
}

/// A single-record read being configured. `.await` it for a [`Record`], or call
/// [`fetch`](Self::fetch) for your own type.
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct GetRequest {
    client: Client,
    segments: Vec<String>,
    sys_id: String,
    params: GetParams,
}

impl GetRequest {
    /// `sysparm_fields` (dot-walk allowed).
    pub fn fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.params = self.params.fields(fields);
        self
    }

    /// `sysparm_display_value`.
    pub fn display_value(mut self, d: DisplayValue) -> Self {
        self.params = self.params.display_value(d);
        self
    }

    /// `sysparm_exclude_reference_link`.
    pub fn exclude_reference_link(mut self, yes: bool) -> Self {
        self.params = self.params.exclude_reference_link(yes);
        self
    }

    /// `sysparm_view`.
    pub fn view(mut self, view: impl Into<String>) -> Self {
        self.params = self.params.view(view);
        self
    }

    /// `sysparm_query_no_domain`.
    pub fn query_no_domain(mut self, yes: bool) -> Self {
        self.params = self.params.query_no_domain(yes);
        self
    }

    /// Sends the request and decodes the record as `T`.
    pub async fn fetch<T: DeserializeOwned>(self) -> Result<T, Error> {
        let pairs = self.params.to_pairs()?;
        let req = build_request(
            &self.client,
            Method::GET,
            &self.segments,
            Some(&self.sys_id),
            &pairs,
            None,
        )?;
        let resp = self.client.send_buffered(req, false).await?;
        resp.raw().decode_one()
    }

    /// Like [`fetch`](Self::fetch), but a 404 (no such record, or no read access) is `None`.
    pub async fn fetch_optional<T: DeserializeOwned>(self) -> Result<Option<T>, Error> {
        match self.fetch().await {
            Ok(t) => Ok(Some(t)),
            Err(Error::Api { status, .. }) if status == http::StatusCode::NOT_FOUND => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl IntoFuture for GetRequest {
    type Output = Result<Record, Error>;
    type IntoFuture = BoxFuture<Record>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.fetch())
    }
}

/// A create or update being configured. `.await` it for the written [`Record`], call
/// [`send`](Self::send) for your own type, or [`send_without_body`](Self::send_without_body)
/// to skip the response body (`X-no-response-body: true`).
#[derive(Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct WriteRequest {
    client: Client,
    segments: Vec<String>,
    sys_id: Option<String>,
    method: Method,
    body: Result<Bytes, Error>,
    params: WriteParams,
    retry: bool,
}

impl WriteRequest {
    fn new(
        client: Client,
        segments: Vec<String>,
        sys_id: Option<String>,
        method: Method,
        body: Result<Bytes, Error>,
    ) -> Self {
        Self {
            client,
            segments,
            sys_id,
            method,
            body,
            params: WriteParams::new(),
            retry: false,
        }
    }

    /// Use `PUT` instead of `PATCH` for an update (ServiceNow treats both alike: only the given
    /// fields change). No effect on a create.
    pub fn put(mut self) -> Self {
        if self.sys_id.is_some() {
            self.method = Method::PUT;
        }
        self
    }

    /// `sysparm_input_display_value`: the values sent are display values.
    pub fn input_display_value(mut self, yes: bool) -> Self {
        self.params = self.params.input_display_value(yes);
        self
    }

    /// `sysparm_fields` of the returned record.
    pub fn fields<I, S>(mut self, fields: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.params = self.params.fields(fields);
        self
    }

    /// `sysparm_display_value` of the returned record.
    pub fn display_value(mut self, d: DisplayValue) -> Self {
        self.params = self.params.display_value(d);
        self
    }

    /// `sysparm_exclude_reference_link` of the returned record.
    pub fn exclude_reference_link(mut self, yes: bool) -> Self {
        self.params = self.params.exclude_reference_link(yes);
        self
    }

    /// `sysparm_view` of the returned record.
    pub fn view(mut self, view: impl Into<String>) -> Self {
        self.params = self.params.view(view);
        self
    }

    /// `sysparm_query_no_domain` (updates).
    pub fn query_no_domain(mut self, yes: bool) -> Self {
        self.params = self.params.query_no_domain(yes);
        self
    }

    /// Allow the transport to retry this write on `429`, `502`-`504` or a failed connection.
    /// Off by default for creates and `PATCH`: a retried create can insert twice.
    pub fn retry(mut self, yes: bool) -> Self {
        self.retry = yes;
        self
    }

    async fn exchange(self, no_body: bool) -> Result<Buffered, Error> {
        let body = self.body?;
        let pairs = self.params.to_pairs()?;
        let mut req = build_request(
            &self.client,
            self.method,
            &self.segments,
            self.sys_id.as_deref(),
            &pairs,
            Some(body),
        )?;
        if no_body {
            req.headers_mut()
                .insert("x-no-response-body", http::HeaderValue::from_static("true"));
        }
        self.client.send_buffered(req, self.retry).await
    }

    /// Sends the write and decodes the returned record as `T`.
    pub async fn send<T: DeserializeOwned>(self) -> Result<T, Error> {
        self.exchange(false).await?.raw().decode_one()
    }

    /// Sends the write with `X-no-response-body: true` and checks only the status.
    pub async fn send_without_body(self) -> Result<(), Error> {
        self.exchange(true).await?.raw().expect_success()
    }
}

impl IntoFuture for WriteRequest {
    type Output = Result<Record, Error>;
    type IntoFuture = BoxFuture<Record>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// A delete being configured; `.await` it.
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct DeleteRequest {
    client: Client,
    segments: Vec<String>,
    sys_id: String,
    query_no_domain: Option<bool>,
}

impl DeleteRequest {
    /// `sysparm_query_no_domain`.
    pub fn query_no_domain(mut self, yes: bool) -> Self {
        self.query_no_domain = Some(yes);
        self
    }

    /// Sends the delete; `204` is success, a missing record is [`Error::Api`] with 404.
    pub async fn send(self) -> Result<(), Error> {
        let mut pairs = Vec::new();
        if let Some(b) = self.query_no_domain {
            pairs.push(("sysparm_query_no_domain", b.to_string()));
        }
        let req = build_request(
            &self.client,
            Method::DELETE,
            &self.segments,
            Some(&self.sys_id),
            &pairs,
            None,
        )?;
        self.client
            .send_buffered(req, false)
            .await?
            .raw()
            .expect_success()
    }
}

impl IntoFuture for DeleteRequest {
    type Output = Result<(), Error>;
    type IntoFuture = BoxFuture<()>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}
