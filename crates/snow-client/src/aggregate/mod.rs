//! The Aggregate API (`/api/now/stats/{table}`): counts, means, minimums, maximums and totals
//! over the records a query matches, whole or grouped by fields.
//!
//! ```no_run
//! use snow_client::aggregate::{Having, StatsOrder};
//! use snow_client::query::field;
//!
//! # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
//! let incidents = client.aggregate("incident");
//!
//! // pysnow's old `count`: how many records match.
//! let open = incidents.count(field("active").eq(true)).await?;
//!
//! // Several statistics at once.
//! let stats = incidents.stats()
//!     .query(field("active").eq(true))
//!     .count()
//!     .avg(["reassignment_count"])
//!     .max(["opened_at"])
//!     .await?;
//! assert_eq!(stats.count, Some(open));
//!
//! // Grouped: per assignment group and priority, the groups of more than 3, largest first.
//! for group in incidents.stats()
//!     .count()
//!     .group_by(["assignment_group", "priority"])
//!     .having(Having::count("priority").gt(3))
//!     .order_by(StatsOrder::count().desc())
//!     .display_value(true)
//!     .await?
//! {
//!     println!("{:?} {:?}: {:?}", group.display_value("assignment_group"),
//!         group.value("priority"), group.stats.count);
//! }
//! # Ok(()) }
//! ```

mod result;
mod spec;

use std::future::IntoFuture;

use http::Method;

pub use result::{GroupValue, StatValue, Stats, StatsGroup};
pub use spec::{AggregateFn, Having, HavingBuilder, StatsOrder};

use crate::Error;
use crate::client::Client;
use crate::query::{FieldName, IntoQuery, Query, QueryError};
use crate::request::{ApiRequest, BoxFuture};
use result::{RawGroup, RawUngrouped};

/// The Aggregate API for one table. Cheap to clone; holds no per-call state.
#[derive(Clone, Debug)]
pub struct Aggregate {
    client: Client,
    table: String,
}

impl Aggregate {
    pub(crate) fn new(client: Client, table: String) -> Self {
        Self { client, table }
    }

    /// The table.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// How many records match `query` (`sysparm_count=true`), without reading them: pysnow's
    /// old `count`. An empty [`Query`] counts every record.
    ///
    /// ```no_run
    /// # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
    /// use snow_client::query::field;
    /// let n = client.aggregate("incident").count(field("priority").le(2)).await?;
    /// # Ok(()) }
    /// ```
    pub async fn count(&self, query: impl IntoQuery) -> Result<u64, Error> {
        let stats = self.stats().query(query).count().send().await?;
        stats.count.ok_or_else(|| Error::Decode {
            path: "result.stats.count".into(),
            source: <serde_json::Error as serde::de::Error>::missing_field("count"),
        })
    }

    /// Statistics to ask for: add a query, `count()`, `avg(..)`, ..., maybe `group_by(..)`.
    pub fn stats(&self) -> StatsRequest {
        StatsRequest {
            client: self.client.clone(),
            table: self.table.clone(),
            spec: Spec::default(),
        }
    }
}

/// What both request types ask for.
#[derive(Clone, Debug, Default)]
struct Spec {
    query: Option<Result<Query, QueryError>>,
    count: bool,
    fields: Vec<(AggregateFn, spec::Checked)>,
}

impl Spec {
    fn add<I, S>(&mut self, f: AggregateFn, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.fields
            .extend(fields.into_iter().map(|s| (f, FieldName::new(s.as_ref()))));
    }

    fn pairs(&self) -> Result<Vec<(&'static str, String)>, Error> {
        let mut out = Vec::new();
        if let Some(q) = &self.query {
            let q = q.as_ref().map_err(|e| Error::InvalidQuery(e.clone()))?;
            if !q.is_empty() {
                out.push(("sysparm_query", q.to_encoded()));
            }
        }
        if self.count {
            out.push(("sysparm_count", "true".to_owned()));
        }
        for f in [
            AggregateFn::Avg,
            AggregateFn::Min,
            AggregateFn::Max,
            AggregateFn::Sum,
        ] {
            let names = self
                .fields
                .iter()
                .filter(|(g, _)| *g == f)
                .map(|(_, n)| n.clone().map(|n| n.as_str().to_owned()))
                .collect::<Result<Vec<_>, _>>()?;
            if !names.is_empty() {
                out.push((f.param(), names.join(",")));
            }
        }
        Ok(out)
    }
}

/// The setters both request types share.
macro_rules! stats_setters {
    () => {
        /// `sysparm_query`: only the records matching this query (replaces an earlier one).
        pub fn query(mut self, query: impl IntoQuery) -> Self {
            self.spec_mut().query = Some(query.into_query());
            self
        }

        /// An encoded query sent as it is, without any check (see
        /// [`Query::raw_unchecked`]). Never build it from untrusted input.
        pub fn raw_query(mut self, encoded: impl Into<String>) -> Self {
            self.spec_mut().query = Some(Ok(Query::raw_unchecked(encoded)));
            self
        }

        /// `sysparm_count=true`: the number of records.
        pub fn count(mut self) -> Self {
            self.spec_mut().count = true;
            self
        }

        /// `sysparm_avg_fields`: the mean of these number fields.
        pub fn avg<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, fields: I) -> Self {
            self.spec_mut().add(AggregateFn::Avg, fields);
            self
        }

        /// `sysparm_min_fields`: the smallest value of these fields.
        pub fn min<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, fields: I) -> Self {
            self.spec_mut().add(AggregateFn::Min, fields);
            self
        }

        /// `sysparm_max_fields`: the largest value of these fields.
        pub fn max<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, fields: I) -> Self {
            self.spec_mut().add(AggregateFn::Max, fields);
            self
        }

        /// `sysparm_sum_fields`: the total of these number fields.
        pub fn sum<I: IntoIterator<Item = S>, S: AsRef<str>>(mut self, fields: I) -> Self {
            self.spec_mut().add(AggregateFn::Sum, fields);
            self
        }
    };
}

/// Statistics of all matching records being asked for. `.await` it (or call
/// [`send`](Self::send)) for the [`Stats`]; [`group_by`](Self::group_by) for groups.
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct StatsRequest {
    client: Client,
    table: String,
    spec: Spec,
}

impl StatsRequest {
    fn spec_mut(&mut self) -> &mut Spec {
        &mut self.spec
    }

    stats_setters!();

    /// `sysparm_group_by`: statistics per distinct combination of these fields' values.
    pub fn group_by<I, S>(self, fields: I) -> GroupedStatsRequest
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        GroupedStatsRequest {
            base: self,
            group_by: fields
                .into_iter()
                .map(|f| FieldName::new(f.as_ref()))
                .collect(),
            having: Vec::new(),
            order_by: Vec::new(),
            display_value: false,
        }
    }

    fn request(&self) -> Result<ApiRequest, Error> {
        Ok(ApiRequest::api(Method::GET, ["stats", self.table.as_str()]).pairs(self.spec.pairs()?))
    }

    /// Sends the request. An unknown field is the instance's [`Error::Api`] (400).
    pub async fn send(self) -> Result<Stats, Error> {
        let req = self.request()?;
        let raw: RawUngrouped = self
            .client
            .send_buffered(req)
            .await?
            .raw()
            .decode_result()?;
        Ok(raw.stats.into())
    }
}

impl IntoFuture for StatsRequest {
    type Output = Result<Stats, Error>;
    type IntoFuture = BoxFuture<Stats>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// Grouped statistics being asked for. `.await` it (or call [`send`](Self::send)) for the
/// groups, in the instance's order ([`order_by`](Self::order_by)).
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until awaited"]
pub struct GroupedStatsRequest {
    base: StatsRequest,
    group_by: Vec<spec::Checked>,
    having: Vec<Having>,
    order_by: Vec<StatsOrder>,
    display_value: bool,
}

impl GroupedStatsRequest {
    fn spec_mut(&mut self) -> &mut Spec {
        &mut self.base.spec
    }

    stats_setters!();

    /// `sysparm_having`: keep only the groups meeting this condition (all of them, when
    /// called several times).
    pub fn having(mut self, condition: Having) -> Self {
        self.having.push(condition);
        self
    }

    /// `sysparm_order_by`: order the groups by this key (then by the next one given).
    pub fn order_by(mut self, order: StatsOrder) -> Self {
        self.order_by.push(order);
        self
    }

    /// `sysparm_display_value=true`: each group-by value comes with its display value (a
    /// reference's name, a choice's label).
    pub fn display_value(mut self, yes: bool) -> Self {
        self.display_value = yes;
        self
    }

    fn request(&self) -> Result<ApiRequest, Error> {
        let mut pairs = self.base.spec.pairs()?;
        let names = self
            .group_by
            .iter()
            .map(|f| f.clone().map(|n| n.as_str().to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        if names.is_empty() {
            return Err(Error::invalid_input(
                "group_by needs at least one field; use stats() alone for ungrouped statistics",
            ));
        }
        pairs.push(("sysparm_group_by", names.join(",")));
        if !self.having.is_empty() {
            let having = self
                .having
                .iter()
                .map(Having::to_param)
                .collect::<Result<Vec<_>, _>>()?;
            pairs.push(("sysparm_having", having.join(",")));
        }
        if !self.order_by.is_empty() {
            let order = self
                .order_by
                .iter()
                .map(StatsOrder::to_param)
                .collect::<Result<Vec<_>, _>>()?;
            pairs.push(("sysparm_order_by", order.join(",")));
        }
        if self.display_value {
            pairs.push(("sysparm_display_value", "true".to_owned()));
        }
        Ok(ApiRequest::api(Method::GET, ["stats", self.base.table.as_str()]).pairs(pairs))
    }

    /// Sends the request.
    pub async fn send(self) -> Result<Vec<StatsGroup>, Error> {
        let req = self.request()?;
        let raw: Vec<RawGroup> = self
            .base
            .client
            .send_buffered(req)
            .await?
            .raw()
            .decode_result()?;
        Ok(raw.into_iter().map(Into::into).collect())
    }
}

impl IntoFuture for GroupedStatsRequest {
    type Output = Result<Vec<StatsGroup>, Error>;
    type IntoFuture = BoxFuture<Vec<StatsGroup>>;
    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::field;

    fn client() -> Client {
        Client::new(
            snow_transport::Transport::builder("https://acme.service-now.com".parse().unwrap())
                .build()
                .unwrap(),
        )
    }

    fn query_of(req: ApiRequest) -> String {
        let uri = req
            .uri(&"https://acme.service-now.com".parse().unwrap())
            .unwrap();
        format!("{}?{}", uri.path(), uri.query().unwrap_or(""))
    }

    #[test]
    fn parameters() {
        let a = Aggregate::new(client(), "incident".into());
        let r = a
            .stats()
            .query(field("active").eq(true))
            .count()
            .avg(["reassignment_count", "reopen_count"])
            .max(["opened_at"])
            .request()
            .unwrap();
        assert_eq!(
            query_of(r),
            "/api/now/stats/incident?sysparm_query=active%3Dtrue&sysparm_count=true&sysparm_avg_fields=reassignment_count%2Creopen_count&sysparm_max_fields=opened_at"
        );
        let g = a
            .stats()
            .count()
            .group_by(["assignment_group", "priority"])
            .sum(["reassignment_count"])
            .having(Having::count("priority").gt(3))
            .order_by(StatsOrder::count().desc())
            .order_by(StatsOrder::field("priority"))
            .display_value(true)
            .request()
            .unwrap();
        assert_eq!(
            query_of(g),
            "/api/now/stats/incident?sysparm_count=true&sysparm_sum_fields=reassignment_count&sysparm_group_by=assignment_group%2Cpriority&sysparm_having=count%5Epriority%5E%3E%5E3&sysparm_order_by=COUNT%5EDESC%2Cpriority&sysparm_display_value=true"
        );
    }

    #[test]
    fn bad_input_is_refused_before_sending() {
        let a = Aggregate::new(client(), "incident".into());
        assert!(matches!(
            a.stats().avg(["bad name"]).request(),
            Err(Error::InvalidQuery(_))
        ));
        assert!(matches!(
            a.stats().group_by(["x,y"]).request(),
            Err(Error::InvalidQuery(_))
        ));
        assert!(matches!(
            a.stats().group_by(Vec::<String>::new()).request(),
            Err(Error::InvalidInput { .. })
        ));
    }
}
