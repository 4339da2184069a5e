//! The Table API: [`Table`] and its read and write requests.

use std::future::IntoFuture;

use bytes::Bytes;
use http::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::client::Client;
use crate::list::ListRequest;
use crate::params::{
    GetParams, HasRecordParams, HasRequest, RecordParams, WriteParams, extra_setters,
    record_setters,
};
use crate::query::IntoQuery;
use crate::request::{ApiRequest, BoxFuture, Buffered, Retry, json_object_body};
use crate::{Error, Record};

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

    /// `DELETE`, `GET`, `PATCH`... on `/table/{name}` or `/table/{name}/{sys_id}`.
    fn request(&self, method: Method, sys_id: Option<String>) -> ApiRequest {
        let req = ApiRequest::api(method, ["table", self.name.as_str()]);
        match sys_id {
            Some(id) => req.segment(id),
            None => req,
        }
    }

    /// The REST URL of a record, `<instance>/api/now/table/<name>/<sys_id>` (pysnow's
    /// `get_record_link`), each part percent-encoded. An empty sys_id, `.` or `..` is refused.
    ///
    /// ```
    /// # fn demo() -> Result<(), snow_client::Error> {
    /// let client = snow_client::Client::basic("acme", "admin", "s3cret")?;
    /// let incidents = client.table("incident");
    /// assert_eq!(
    ///     incidents.record_link("9d385017c611228701d22104cc95c371")?,
    ///     "https://acme.service-now.com/api/now/table/incident/9d385017c611228701d22104cc95c371"
    /// );
    /// assert_eq!(
    ///     incidents.form_link("9d385017c611228701d22104cc95c371")?,
    ///     "https://acme.service-now.com/incident.do?sys_id=9d385017c611228701d22104cc95c371"
    /// );
    /// # Ok(()) }
    /// # demo().unwrap();
    /// ```
    pub fn record_link(&self, sys_id: &str) -> Result<String, Error> {
        let req = self
            .request(Method::GET, Some(sys_id.to_owned()))
            .into_http(self.client.instance())?;
        Ok(req.uri().to_string())
    }

    /// The URL of a record's form in the instance's UI, `<instance>/<name>.do?sys_id=<sys_id>`
    /// (what a person opens in a browser). An empty sys_id is refused.
    pub fn form_link(&self, sys_id: &str) -> Result<String, Error> {
        if sys_id.is_empty() {
            return Err(Error::invalid_input("the sys_id of a form link is empty"));
        }
        self.client
            .instance()
            .url()
            .segment(&format!("{}.do", self.name))
            .query("sys_id", sys_id)
            .build_string()
            .map_err(crate::request::url_error)
    }

    /// A list call (`GET /table/{name}`) with its own query, fields, limit, paging options...
    pub fn list(&self) -> ListRequest {
        ListRequest::new(self.client.clone(), self.request(Method::GET, None))
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
            request: self.request(Method::GET, Some(sys_id.into())),
            params: GetParams::new(),
        }
    }

    /// Creates a record (`POST`, answered `201`) from any serde value that serialises to a JSON
    /// object. Never retried automatically unless [`WriteRequest::retry`] allows it.
    pub fn create(&self, payload: &impl Serialize) -> WriteRequest {
        WriteRequest::new(
            self.client.clone(),
            self.request(Method::POST, None),
            json_object_body(payload),
        )
    }

    /// Updates the given fields of a record (`PATCH`; [`WriteRequest::put`] for `PUT`).
    pub fn update(&self, sys_id: impl Into<String>, payload: &impl Serialize) -> WriteRequest {
        self.update_body(sys_id.into(), json_object_body(payload))
    }

    fn update_body(&self, sys_id: String, body: Result<Bytes, Error>) -> WriteRequest {
        WriteRequest::new(
            self.client.clone(),
            self.request(Method::PATCH, Some(sys_id)),
            body,
        )
    }

    /// Deletes a record (`DELETE`, answered `204`).
    pub fn delete(&self, sys_id: impl Into<String>) -> DeleteRequest {
        DeleteRequest {
            client: self.client.clone(),
            request: self.request(Method::DELETE, Some(sys_id.into())),
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
        self.update_body(sys_id, Ok(body)).await
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

/// A single-record read being configured. `.await` it for a [`Record`], or call
/// [`fetch`](Self::fetch) for your own type.
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct GetRequest {
    client: Client,
    request: ApiRequest,
    params: GetParams,
}

impl HasRecordParams for GetRequest {
    fn record_params(&mut self) -> &mut RecordParams {
        self.params.record_params()
    }
}

impl HasRequest for GetRequest {
    fn api_request(&mut self) -> &mut ApiRequest {
        &mut self.request
    }
}

impl GetRequest {
    record_setters!();
    extra_setters!();

    /// Sends the request and decodes the record as `T`.
    pub async fn fetch<T: DeserializeOwned + 'static>(self) -> Result<T, Error> {
        let pairs = self.params.to_pairs()?;
        let resp = self.client.send_buffered(self.request.pairs(pairs)).await?;
        resp.raw().decode_one_owned()
    }

    /// Like [`fetch`](Self::fetch), but a 404 (no such record, or no read access) is `None`.
    pub async fn fetch_optional<T: DeserializeOwned + 'static>(self) -> Result<Option<T>, Error> {
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

/// Whether a write's answer carries the written record.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Record,
    /// `X-no-response-body: true`.
    None,
}

/// A create or update being configured. `.await` it for the written [`Record`], call
/// [`send`](Self::send) for your own type, or [`send_without_body`](Self::send_without_body)
/// to skip the response body (`X-no-response-body: true`).
#[derive(Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct WriteRequest {
    client: Client,
    request: ApiRequest,
    body: Result<Bytes, Error>,
    params: WriteParams,
    retry: Retry,
}

impl HasRecordParams for WriteRequest {
    fn record_params(&mut self) -> &mut RecordParams {
        self.params.record_params()
    }
}

impl HasRequest for WriteRequest {
    fn api_request(&mut self) -> &mut ApiRequest {
        &mut self.request
    }
}

impl WriteRequest {
    fn new(client: Client, request: ApiRequest, body: Result<Bytes, Error>) -> Self {
        Self {
            client,
            request,
            body,
            params: WriteParams::new(),
            retry: Retry::default(),
        }
    }

    record_setters!();
    extra_setters!();

    /// Use `PUT` instead of `PATCH` for an update (ServiceNow treats both alike: only the given
    /// fields change). No effect on a create.
    pub fn put(mut self) -> Self {
        if self.request.method() == Method::PATCH {
            self.request = self.request.method_to(Method::PUT);
        }
        self
    }

    /// `sysparm_input_display_value`: the values sent are display values.
    pub fn input_display_value(mut self, yes: bool) -> Self {
        self.params = self.params.input_display_value(yes);
        self
    }

    /// Whether the transport may send this write again after a transient failure (`429`,
    /// `502`-`504`, a failed connection). By default a `PUT` may be retried and a create or
    /// `PATCH` may not: a create sent twice can insert twice.
    pub fn retry(mut self, retry: Retry) -> Self {
        self.retry = retry;
        self
    }

    async fn exchange(self, answer: Answer) -> Result<Buffered, Error> {
        let body = self.body?;
        let pairs = self.params.to_pairs()?;
        let mut req = self.request.pairs(pairs).json(body).retry(self.retry);
        if answer == Answer::None {
            req = req.header(
                http::HeaderName::from_static("x-no-response-body"),
                http::HeaderValue::from_static("true"),
            );
        }
        self.client.send_buffered(req).await
    }

    /// Sends the write and decodes the returned record as `T`.
    pub async fn send<T: DeserializeOwned + 'static>(self) -> Result<T, Error> {
        self.exchange(Answer::Record)
            .await?
            .raw()
            .decode_one_owned()
    }

    /// Sends the write with `X-no-response-body: true` and checks only the status.
    pub async fn send_without_body(self) -> Result<(), Error> {
        self.exchange(Answer::None).await?.raw().expect_success()
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
    request: ApiRequest,
    query_no_domain: Option<bool>,
}

impl HasRequest for DeleteRequest {
    fn api_request(&mut self) -> &mut ApiRequest {
        &mut self.request
    }
}

impl DeleteRequest {
    extra_setters!();

    /// `sysparm_query_no_domain`.
    pub fn query_no_domain(mut self, yes: bool) -> Self {
        self.query_no_domain = Some(yes);
        self
    }

    /// Sends the delete; `204` is success, a missing record is [`Error::Api`] with 404.
    pub async fn send(self) -> Result<(), Error> {
        let pairs = self
            .query_no_domain
            .map(|b| ("sysparm_query_no_domain", b.to_string()));
        self.client
            .send_buffered(self.request.pairs(pairs))
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
