//! The CMDB Instance API (`/api/now/cmdb/instance/{class}`): configuration items with their
//! attributes and their inbound and outbound relations.
//!
//! ```no_run
//! use serde_json::json;
//!
//! # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
//! let servers = client.cmdb("cmdb_ci_linux_server");
//! for ci in servers.list().page_size(100).all::<snow_client::cmdb::CiSummary>().await? {
//!     println!("{} {}", ci.sys_id, ci.name);
//! }
//!
//! const RUNS_ON: &str = "60bc4e22c0a8010e01f074cbe6bd73c3"; // "Runs on::Runs"
//! let app = client.cmdb("cmdb_ci_appl")
//!     .create(&json!({"name": "billing-api", "version": "2.1"}))
//!     .outbound("3a2f...server sys_id...", RUNS_ON)
//!     .await?;
//! let id = app.sys_id().unwrap_or_default().to_owned();
//! client.cmdb("cmdb_ci_appl").update(&id, &json!({"version": "2.2"})).await?;
//! let rel = app.outbound_relations[0].sys_id.clone();
//! client.cmdb("cmdb_ci_appl").delete_relation(&id, &rel).await?;
//! # Ok(()) }
//! ```

use std::future::IntoFuture;

use bytes::Bytes;
use http::Method;
use serde::{Deserialize, Serialize};

use crate::client::Client;
use crate::list::ListRequest;
use crate::request::{ApiRequest, BoxFuture, json_object_body};
use crate::{Error, Field, Record};

/// The `source` sent with writes when none is set: a `discovery_source` choice.
pub const DEFAULT_SOURCE: &str = "ServiceNow";

/// The CMDB Instance API for one class (`cmdb_ci` or a class extending it). Cheap to clone.
#[derive(Clone, Debug)]
pub struct Cmdb {
    client: Client,
    class: String,
}

/// A CI as a list names it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct CiSummary {
    /// The CI's sys_id.
    pub sys_id: String,
    /// The CI's name.
    pub name: String,
}

/// A configuration item: its attributes and its relations both ways.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Ci {
    /// Every field of the CI, as the Table API shows a record.
    pub attributes: Record,
    /// The relations in which this CI is the child.
    pub inbound_relations: Vec<Relation>,
    /// The relations in which this CI is the parent.
    pub outbound_relations: Vec<Relation>,
}

impl Ci {
    /// The CI's sys_id.
    pub fn sys_id(&self) -> Option<&str> {
        self.attributes.sys_id()
    }

    /// The CI's name.
    pub fn name(&self) -> Option<&str> {
        self.attributes.str("name")
    }
}

/// One relation of a CI (a `cmdb_rel_ci` record) as seen from that CI.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Relation {
    /// The relation's own sys_id (for [`Cmdb::delete_relation`]).
    pub sys_id: String,
    /// The CI at the other end: sys_id, name and link.
    pub target: Field,
    /// The relationship type (`cmdb_rel_type`): sys_id, name (`Runs on::Runs`) and link.
    #[serde(rename = "type")]
    pub kind: Field,
}

/// A relation to add: the CI at the other end and the relationship type, both by sys_id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
struct NewRelation {
    target: String,
    #[serde(rename = "type")]
    kind: String,
}

impl Cmdb {
    pub(crate) fn new(client: Client, class: String) -> Self {
        Self { client, class }
    }

    /// The class.
    pub fn class(&self) -> &str {
        &self.class
    }

    fn at(&self, method: Method) -> ApiRequest {
        ApiRequest::api(method, ["cmdb", "instance", self.class.as_str()])
    }

    /// The CIs of the class (`sys_id` and `name`), paged like any list: add a query, a page
    /// size, a limit; finish with `all::<CiSummary>()`, `stream()`...
    pub fn list(&self) -> ListRequest {
        ListRequest::new(self.client.clone(), self.at(Method::GET))
    }

    /// One CI with its relations. A missing CI is [`Error::Api`] with 404.
    pub async fn get(&self, sys_id: &str) -> Result<Ci, Error> {
        let req = self.at(Method::GET).segment(sys_id);
        self.client.send_buffered(req).await?.raw().decode_one()
    }

    /// Creates a CI of the class from its attributes (any serde value that serialises to a
    /// JSON object); add relations and the `source` on the request, then `.await` it.
    pub fn create(&self, attributes: &impl Serialize) -> CmdbWrite {
        CmdbWrite::new(self.clone(), Method::POST, None, attributes_of(attributes))
    }

    /// Updates attributes of a CI (`PATCH`; [`CmdbWrite::put`] for `PUT`).
    pub fn update(&self, sys_id: &str, attributes: &impl Serialize) -> CmdbWrite {
        CmdbWrite::new(
            self.clone(),
            Method::PATCH,
            Some(sys_id.to_owned()),
            attributes_of(attributes),
        )
    }

    /// Adds relations to a CI (`POST /{class}/{sys_id}/relation`): give them with
    /// [`CmdbWrite::inbound`] and [`CmdbWrite::outbound`], then `.await` it.
    pub fn add_relations(&self, sys_id: &str) -> CmdbWrite {
        let mut w = CmdbWrite::new(
            self.clone(),
            Method::POST,
            Some(sys_id.to_owned()),
            Ok(None),
        );
        w.relation_path = true;
        w
    }

    /// Deletes one relation of a CI (`DELETE /{class}/{sys_id}/relation/{rel_sys_id}`) and
    /// returns the CI as it is afterwards.
    pub async fn delete_relation(&self, sys_id: &str, relation_sys_id: &str) -> Result<Ci, Error> {
        let req = self
            .at(Method::DELETE)
            .segment(sys_id)
            .segment("relation")
            .segment(relation_sys_id);
        self.client.send_buffered(req).await?.raw().decode_one()
    }
}

fn attributes_of(attributes: &impl Serialize) -> Result<Option<serde_json::Value>, Error> {
    let bytes = json_object_body(attributes)?;
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| Error::invalid_input(format!("the attributes could not be serialised: {e}")))
}

/// A CMDB write being configured (create, update, add relations); `.await` it for the CI as
/// it is afterwards. Not retried automatically unless [`retry`](Self::retry) allows it.
#[derive(Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct CmdbWrite {
    cmdb: Cmdb,
    method: Method,
    sys_id: Option<String>,
    relation_path: bool,
    attributes: Result<Option<serde_json::Value>, Error>,
    source: String,
    inbound: Vec<NewRelation>,
    outbound: Vec<NewRelation>,
    retry: crate::Retry,
}

impl CmdbWrite {
    fn new(
        cmdb: Cmdb,
        method: Method,
        sys_id: Option<String>,
        attributes: Result<Option<serde_json::Value>, Error>,
    ) -> Self {
        Self {
            cmdb,
            method,
            sys_id,
            relation_path: false,
            attributes,
            source: DEFAULT_SOURCE.to_owned(),
            inbound: Vec::new(),
            outbound: Vec::new(),
            retry: crate::Retry::default(),
        }
    }

    /// `source`: the entity reporting the CI, a `discovery_source` choice (default
    /// [`DEFAULT_SOURCE`]).
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = source.into();
        self
    }

    /// A relation in which this CI is the child: `target` (a CI's sys_id) is the parent, `kind`
    /// the relationship type's sys_id. Ignored by an update.
    pub fn inbound(mut self, target: impl Into<String>, kind: impl Into<String>) -> Self {
        self.inbound.push(NewRelation {
            target: target.into(),
            kind: kind.into(),
        });
        self
    }

    /// A relation in which this CI is the parent: `target` is the child. Ignored by an update.
    pub fn outbound(mut self, target: impl Into<String>, kind: impl Into<String>) -> Self {
        self.outbound.push(NewRelation {
            target: target.into(),
            kind: kind.into(),
        });
        self
    }

    /// Use `PUT` instead of `PATCH` for an update (the API treats both alike).
    pub fn put(mut self) -> Self {
        if self.method == Method::PATCH {
            self.method = Method::PUT;
        }
        self
    }

    /// Whether the transport may send the write again after a transient failure.
    pub fn retry(mut self, retry: crate::Retry) -> Self {
        self.retry = retry;
        self
    }

    fn body(&mut self) -> Result<Bytes, Error> {
        if self.source.trim().is_empty() || self.source.chars().any(char::is_control) {
            return Err(Error::invalid_input(
                "the CMDB source is empty or contains control characters",
            ));
        }
        let mut body = serde_json::Map::new();
        if let Some(a) = std::mem::replace(&mut self.attributes, Ok(None))? {
            body.insert("attributes".into(), a);
        }
        body.insert("source".into(), self.source.clone().into());
        let updating = self.method != Method::POST;
        if !updating {
            for (key, rels) in [
                ("inbound_relations", &self.inbound),
                ("outbound_relations", &self.outbound),
            ] {
                if !rels.is_empty() {
                    let v = serde_json::to_value(rels).map_err(|e| {
                        Error::invalid_input(format!("the relations could not be serialised: {e}"))
                    })?;
                    body.insert(key.into(), v);
                }
            }
        }
        serde_json::to_vec(&body)
            .map(Bytes::from)
            .map_err(|e| Error::invalid_input(format!("the body could not be serialised: {e}")))
    }

    /// Sends the write.
    pub async fn send(mut self) -> Result<Ci, Error> {
        let body = self.body()?;
        let mut req = self.cmdb.at(self.method.clone());
        if let Some(id) = &self.sys_id {
            req = req.segment(id.as_str());
        }
        if self.relation_path {
            req = req.segment("relation");
        }
        let req = req.json(body).retry(self.retry);
        self.cmdb
            .client
            .send_buffered(req)
            .await?
            .raw()
            .decode_one()
    }
}

impl IntoFuture for CmdbWrite {
    type Output = Result<Ci, Error>;
    type IntoFuture = BoxFuture<Ci>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ci_decodes_with_its_relations() {
        let body = br#"{"result":{"attributes":{"sys_id":"a1","name":"web","sys_class_name":"cmdb_ci_appl","support_group":{"link":"x","value":"g1"}},
            "inbound_relations":[],
            "outbound_relations":[{"sys_id":"r1","target":{"display_value":"srv","link":"l","value":"s1"},"type":{"display_value":"Runs on::Runs","link":"t","value":"t1"}}]}}"#;
        let h = http::HeaderMap::new();
        let ci: Ci =
            crate::response::RawResponse::new(&Method::GET, http::StatusCode::OK, &h, body)
                .decode_one()
                .unwrap();
        assert_eq!(ci.sys_id(), Some("a1"));
        assert_eq!(ci.name(), Some("web"));
        assert_eq!(
            ci.attributes.get("support_group").unwrap().value(),
            Some("g1")
        );
        let r = &ci.outbound_relations[0];
        assert_eq!(r.target.value(), Some("s1"));
        assert_eq!(r.kind.display_value(), Some("Runs on::Runs"));
    }
}
