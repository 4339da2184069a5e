//! `sysparm_*` parameters for list, get and write calls.
//!
//! Each call gets its own value: the types are plain owned data with no shared state, so nothing
//! set for one call shows up in another (pysnow's #195 leak cannot happen). Only what was set is
//! sent, and booleans go out lowercase.
//!
//! ```
//! use snow_client::params::{DisplayValue, ListParams};
//! use snow_client::query::field;
//!
//! let base = ListParams::new().fields(["number", "short_description"]).limit(50);
//! let open = base.clone().query(field("active").eq(true));
//! assert!(base.to_pairs()?.iter().all(|(k, _)| *k != "sysparm_query"));
//! assert_eq!(open.to_pairs()?[0], ("sysparm_query", "active=true".to_owned()));
//! # Ok::<(), snow_client::Error>(())
//! ```

use crate::Error;
use crate::query::{FieldName, Query, QueryError};

/// `sysparm_display_value`: what reference and choice fields hold in responses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DisplayValue {
    /// Stored values only (the instance default).
    #[default]
    False,
    /// Display values only.
    True,
    /// Both, as `{"display_value","value"}` objects (read them with [`crate::Field`]).
    All,
}

impl DisplayValue {
    /// The parameter text.
    pub fn as_str(self) -> &'static str {
        match self {
            DisplayValue::False => "false",
            DisplayValue::True => "true",
            DisplayValue::All => "all",
        }
    }
}

fn bool_str(b: bool) -> String {
    if b { "true" } else { "false" }.to_owned()
}

/// Options shared by every call that returns records (`sysparm_fields`, `sysparm_display_value`,
/// `sysparm_exclude_reference_link`, `sysparm_view`, `sysparm_query_no_domain`).
///
/// Held by the parameter types and the request builders alike; their setters are generated once,
/// by `record_setters!`, from [`HasRecordParams`].
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct RecordParams {
    fields: Option<Result<Vec<FieldName>, QueryError>>,
    display_value: Option<DisplayValue>,
    exclude_reference_link: Option<bool>,
    view: Option<String>,
    query_no_domain: Option<bool>,
}

impl RecordParams {
    pub(crate) fn set_fields<I, S>(&mut self, fields: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.fields = Some(
            fields
                .into_iter()
                .map(|f| FieldName::new(f.as_ref()))
                .collect(),
        );
    }

    /// Adds `sys_id` to a field list that leaves it out (an empty or absent list already
    /// returns every field).
    pub(crate) fn ensure_sys_id(&mut self) {
        if let Some(Ok(fields)) = &mut self.fields
            && !fields.is_empty()
            && !fields.iter().any(|f| f.as_str() == "sys_id")
            && let Ok(sys_id) = FieldName::new("sys_id")
        {
            fields.push(sys_id);
        }
    }

    pub(crate) fn set_display_value(&mut self, d: DisplayValue) {
        self.display_value = Some(d);
    }

    pub(crate) fn set_exclude_reference_link(&mut self, yes: bool) {
        self.exclude_reference_link = Some(yes);
    }

    pub(crate) fn set_view(&mut self, view: String) {
        self.view = Some(view);
    }

    pub(crate) fn set_query_no_domain(&mut self, yes: bool) {
        self.query_no_domain = Some(yes);
    }

    pub(crate) fn push(&self, out: &mut Vec<(&'static str, String)>) -> Result<(), Error> {
        if let Some(fields) = &self.fields {
            let fields = fields
                .as_ref()
                .map_err(|e| Error::InvalidQuery(e.clone()))?;
            if !fields.is_empty() {
                let joined: Vec<&str> = fields.iter().map(FieldName::as_str).collect();
                out.push(("sysparm_fields", joined.join(",")));
            }
        }
        if let Some(d) = self.display_value {
            out.push(("sysparm_display_value", d.as_str().to_owned()));
        }
        if let Some(b) = self.exclude_reference_link {
            out.push(("sysparm_exclude_reference_link", bool_str(b)));
        }
        if let Some(v) = &self.view {
            check_name("view name", v)?;
            out.push(("sysparm_view", v.clone()));
        }
        if let Some(b) = self.query_no_domain {
            out.push(("sysparm_query_no_domain", bool_str(b)));
        }
        Ok(())
    }
}

/// A free-text parameter value must be non-empty and free of control characters.
fn check_name(what: &str, v: &str) -> Result<(), Error> {
    if v.is_empty() || v.chars().any(char::is_control) {
        return Err(Error::invalid_input(format!(
            "the {what} {:?} is empty or contains control characters",
            crate::query_quote(v)
        )));
    }
    Ok(())
}

/// A type that carries [`RecordParams`]: the parameter types and the request builders.
pub(crate) trait HasRecordParams {
    fn record_params(&mut self) -> &mut RecordParams;
}

/// The setters of [`RecordParams`], generated once for every type implementing
/// [`HasRecordParams`].
macro_rules! record_setters {
    () => {
        /// `sysparm_fields`: return only these fields (dot-walk allowed, e.g. `caller_id.email`).
        /// Names are checked before anything is sent; an empty list means all fields.
        pub fn fields<I, S>(mut self, fields: I) -> Self
        where
            I: IntoIterator<Item = S>,
            S: AsRef<str>,
        {
            $crate::params::HasRecordParams::record_params(&mut self).set_fields(fields);
            self
        }

        /// `sysparm_display_value`: stored values ([`DisplayValue::False`](crate::DisplayValue),
        /// the default), display values (`True`) or both (`All`, read them with
        /// [`Field`](crate::Field)).
        pub fn display_value(mut self, d: $crate::params::DisplayValue) -> Self {
            $crate::params::HasRecordParams::record_params(&mut self).set_display_value(d);
            self
        }

        /// `sysparm_exclude_reference_link`: drop the `link` of reference fields.
        pub fn exclude_reference_link(mut self, yes: bool) -> Self {
            $crate::params::HasRecordParams::record_params(&mut self)
                .set_exclude_reference_link(yes);
            self
        }

        /// `sysparm_view`: a UI view (`desktop`, `mobile`, `both`); `fields` wins when both are
        /// set.
        pub fn view(mut self, view: impl Into<String>) -> Self {
            $crate::params::HasRecordParams::record_params(&mut self).set_view(view.into());
            self
        }

        /// `sysparm_query_no_domain`: include records outside the user's domains (admins, or
        /// the `query_no_domain_table_api` role).
        pub fn query_no_domain(mut self, yes: bool) -> Self {
            $crate::params::HasRecordParams::record_params(&mut self).set_query_no_domain(yes);
            self
        }
    };
}
pub(crate) use record_setters;

/// The `sysparm_*` parameters a typed setter owns, with the setter to use instead. `.param()`
/// and a client's default parameters refuse these names (in any letter case): a second value
/// would fight the setter's, and paging depends on `sysparm_limit`, `sysparm_offset` and
/// `sysparm_query` being its own.
pub const OWNED_PARAMS: &[(&str, &str)] = &[
    ("sysparm_query", ".query() or .raw_query()"),
    ("sysparm_fields", ".fields()"),
    ("sysparm_display_value", ".display_value()"),
    (
        "sysparm_exclude_reference_link",
        ".exclude_reference_link()",
    ),
    ("sysparm_view", ".view()"),
    ("sysparm_query_no_domain", ".query_no_domain()"),
    ("sysparm_limit", ".limit() or .page_size()"),
    ("sysparm_offset", ".offset()"),
    ("sysparm_no_count", ".no_count()"),
    ("sysparm_query_category", ".query_category()"),
    (
        "sysparm_suppress_pagination_header",
        ".paging() (set by the paging mode)",
    ),
    ("sysparm_input_display_value", ".input_display_value()"),
];

/// Whether `name` may be sent as an extra parameter (`.param()`, a client default): not empty,
/// no control characters, and not one of the [`OWNED_PARAMS`].
pub(crate) fn check_extra_param(name: &str) -> Result<(), String> {
    if name.is_empty() || name.chars().any(char::is_control) {
        return Err(format!(
            "the parameter name {:?} is empty or contains control characters",
            crate::query_quote(name)
        ));
    }
    if let Some((owned, setter)) = OWNED_PARAMS
        .iter()
        .find(|(owned, _)| owned.eq_ignore_ascii_case(name))
    {
        return Err(format!(
            "{owned} has its own setter: use {setter} instead of .param()"
        ));
    }
    Ok(())
}

/// A request builder that carries its [`ApiRequest`](crate::request::ApiRequest), to which
/// `.param()` and `.header()` add.
pub(crate) trait HasRequest {
    fn api_request(&mut self) -> &mut crate::request::ApiRequest;
}

/// `.param()` and `.header()`, generated once for every request builder implementing
/// [`HasRequest`] (get, list, write and delete requests, and their blocking forms).
macro_rules! extra_setters {
    () => {
        /// Adds a query parameter to this request only (pysnow's custom parameters), sent
        /// percent-encoded; it wins over a client default of the same name. The `sysparm_*`
        /// names a typed setter owns ([`OWNED_PARAMS`](crate::params::OWNED_PARAMS), such as
        /// `sysparm_limit`) are refused: the request fails with
        /// [`Error::InvalidInput`](crate::Error::InvalidInput) naming the setter, before
        /// anything is sent.
        pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
            $crate::params::HasRequest::api_request(&mut self).add_param(name.into(), value.into());
            self
        }

        /// Adds a header to this request only; it replaces a client default of the same name (a
        /// name given twice here is sent twice). Credential headers are marked sensitive. An
        /// invalid name or value makes the request fail with
        /// [`Error::InvalidInput`](crate::Error::InvalidInput) before anything is sent.
        pub fn header(mut self, name: impl AsRef<str>, value: impl AsRef<str>) -> Self {
            $crate::params::HasRequest::api_request(&mut self)
                .add_header(name.as_ref(), value.as_ref());
            self
        }
    };
}
pub(crate) use extra_setters;

/// A type that carries [`ListParams`]: the parameter type itself and the list request.
pub(crate) trait HasListParams {
    fn list_params(&mut self) -> &mut ListParams;
}

/// The setters of [`ListParams`] that a list request shares, generated once for every type
/// implementing [`HasListParams`].
macro_rules! list_setters {
    () => {
        /// `sysparm_query` from the query builder: `field("active").eq(true)`, a built
        /// [`Query`](crate::query::Query), or a builder with an order. Checked before anything
        /// is sent; replaces any earlier query.
        pub fn query(mut self, query: impl $crate::query::IntoQuery) -> Self {
            $crate::params::HasListParams::list_params(&mut self).query = Some(query.into_query());
            self
        }

        /// An encoded query string sent as it is, without any check or escaping (see
        /// [`Query::raw_unchecked`](crate::query::Query::raw_unchecked)). Never build it from
        /// untrusted input.
        pub fn raw_query(mut self, encoded: impl Into<String>) -> Self {
            $crate::params::HasListParams::list_params(&mut self).query =
                Some(Ok($crate::query::Query::raw_unchecked(encoded)));
            self
        }

        /// At most this many records (`sysparm_limit` of a single request; a paging list
        /// request asks for pages of its page size until it has this many).
        pub fn limit(mut self, n: u64) -> Self {
            $crate::params::HasListParams::list_params(&mut self).limit = Some(n);
            self
        }

        /// Skip this many records first (`sysparm_offset`; of the first page, when paging).
        pub fn offset(mut self, n: u64) -> Self {
            $crate::params::HasListParams::list_params(&mut self).offset = Some(n);
            self
        }

        /// `sysparm_no_count`: skip the count query. `X-Total-Count` is then not meaningful:
        /// paging stops at the first short page and no count check is made.
        pub fn no_count(mut self, yes: bool) -> Self {
            $crate::params::HasListParams::list_params(&mut self).no_count = Some(yes);
            self
        }

        /// `sysparm_query_category`: the query category (read replica) to use.
        pub fn query_category(mut self, category: impl Into<String>) -> Self {
            $crate::params::HasListParams::list_params(&mut self).query_category =
                Some(category.into());
            self
        }
    };
}
pub(crate) use list_setters;

/// Parameters of a list call (`GET /table/{t}`).
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct ListParams {
    pub(crate) query: Option<Result<Query, QueryError>>,
    pub(crate) limit: Option<u64>,
    pub(crate) offset: Option<u64>,
    pub(crate) no_count: Option<bool>,
    pub(crate) query_category: Option<String>,
    suppress_pagination_header: Option<bool>,
    record: RecordParams,
}

impl HasListParams for ListParams {
    fn list_params(&mut self) -> &mut ListParams {
        self
    }
}

impl HasRecordParams for ListParams {
    fn record_params(&mut self) -> &mut RecordParams {
        &mut self.record
    }
}

impl ListParams {
    /// No parameter set: the instance's defaults apply.
    pub fn new() -> Self {
        Self::default()
    }

    list_setters!();
    record_setters!();

    /// `sysparm_suppress_pagination_header`: drop the `Link` header.
    pub fn suppress_pagination_header(mut self, yes: bool) -> Self {
        self.suppress_pagination_header = Some(yes);
        self
    }

    /// Sends no `sysparm_suppress_pagination_header` at all (the instance's default: a `Link`
    /// header), whatever was set before.
    pub(crate) fn pagination_header_default(mut self) -> Self {
        self.suppress_pagination_header = None;
        self
    }

    /// The query set, if any and valid.
    pub fn get_query(&self) -> Option<&Query> {
        self.query.as_ref().and_then(|q| q.as_ref().ok())
    }

    /// The limit set, if any.
    pub fn get_limit(&self) -> Option<u64> {
        self.limit
    }

    /// The offset set, if any.
    pub fn get_offset(&self) -> Option<u64> {
        self.offset
    }

    /// Whether `sysparm_no_count=true` is set.
    pub fn get_no_count(&self) -> bool {
        self.no_count == Some(true)
    }

    /// The `(name, value)` pairs to send, unencoded, in a fixed order; or the first invalid
    /// setting (query, field name, view).
    pub fn to_pairs(&self) -> Result<Vec<(&'static str, String)>, Error> {
        let mut out = Vec::new();
        if let Some(q) = &self.query {
            let q = q.as_ref().map_err(|e| Error::InvalidQuery(e.clone()))?;
            if !q.is_empty() {
                out.push(("sysparm_query", q.to_encoded()));
            }
        }
        self.record.push(&mut out)?;
        if let Some(n) = self.limit {
            out.push(("sysparm_limit", n.to_string()));
        }
        if let Some(n) = self.offset {
            out.push(("sysparm_offset", n.to_string()));
        }
        if let Some(b) = self.no_count {
            out.push(("sysparm_no_count", bool_str(b)));
        }
        if let Some(c) = &self.query_category {
            check_name("query category", c)?;
            out.push(("sysparm_query_category", c.clone()));
        }
        if let Some(b) = self.suppress_pagination_header {
            out.push(("sysparm_suppress_pagination_header", bool_str(b)));
        }
        Ok(out)
    }
}

/// Parameters of a single-record read (`GET /table/{t}/{sys_id}`).
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct GetParams {
    record: RecordParams,
}

impl HasRecordParams for GetParams {
    fn record_params(&mut self) -> &mut RecordParams {
        &mut self.record
    }
}

impl GetParams {
    /// No parameter set.
    pub fn new() -> Self {
        Self::default()
    }

    record_setters!();

    /// The `(name, value)` pairs to send, or the first invalid setting.
    pub fn to_pairs(&self) -> Result<Vec<(&'static str, String)>, Error> {
        let mut out = Vec::new();
        self.record.push(&mut out)?;
        Ok(out)
    }
}

/// Parameters of a create or update (`POST`, `PUT`, `PATCH`).
#[derive(Clone, Debug, Default, PartialEq)]
#[must_use]
pub struct WriteParams {
    input_display_value: Option<bool>,
    record: RecordParams,
}

impl HasRecordParams for WriteParams {
    fn record_params(&mut self) -> &mut RecordParams {
        &mut self.record
    }
}

impl WriteParams {
    /// No parameter set.
    pub fn new() -> Self {
        Self::default()
    }

    record_setters!();

    /// `sysparm_input_display_value`: the values sent are display values (a reference by name,
    /// dates in the user's time zone). Needed to write encrypted fields.
    pub fn input_display_value(mut self, yes: bool) -> Self {
        self.input_display_value = Some(yes);
        self
    }

    /// The `(name, value)` pairs to send, or the first invalid setting.
    pub fn to_pairs(&self) -> Result<Vec<(&'static str, String)>, Error> {
        let mut out = Vec::new();
        self.record.push(&mut out)?;
        if let Some(b) = self.input_display_value {
            out.push(("sysparm_input_display_value", bool_str(b)));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::field;

    fn get<'a>(pairs: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn query_limit_offset() {
        let sys_id = "98ace1a537ea2a00cf5c9c9953990e19";
        let p = ListParams::new()
            .query(field("sys_id").eq(sys_id))
            .limit(10000)
            .offset(0)
            .to_pairs()
            .unwrap();
        assert_eq!(get(&p, "sysparm_query"), Some(&*format!("sys_id={sys_id}")));
        assert_eq!(get(&p, "sysparm_limit"), Some("10000"));
        assert_eq!(get(&p, "sysparm_offset"), Some("0"));
    }

    #[test]
    fn fields_limit_offset() {
        let p = ListParams::new()
            .fields(["foo", "bar"])
            .limit(2)
            .offset(5)
            .to_pairs()
            .unwrap();
        assert_eq!(get(&p, "sysparm_fields"), Some("foo,bar"));
        assert_eq!(get(&p, "sysparm_limit"), Some("2"));
        assert_eq!(get(&p, "sysparm_offset"), Some("5"));
    }

    #[test]
    fn every_list_parameter_and_lowercase_booleans() {
        let p = ListParams::new()
            .query(field("active").eq(true))
            .fields(["number", "caller_id.email"])
            .limit(5)
            .offset(10)
            .display_value(DisplayValue::All)
            .exclude_reference_link(true)
            .view("mobile")
            .no_count(true)
            .query_category("list")
            .query_no_domain(false)
            .suppress_pagination_header(true)
            .to_pairs()
            .unwrap();
        let expect = [
            ("sysparm_query", "active=true"),
            ("sysparm_fields", "number,caller_id.email"),
            ("sysparm_display_value", "all"),
            ("sysparm_exclude_reference_link", "true"),
            ("sysparm_view", "mobile"),
            ("sysparm_query_no_domain", "false"),
            ("sysparm_limit", "5"),
            ("sysparm_offset", "10"),
            ("sysparm_no_count", "true"),
            ("sysparm_query_category", "list"),
            ("sysparm_suppress_pagination_header", "true"),
        ];
        let got: Vec<(&str, &str)> = p.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(got, expect);
        for (_, v) in &p {
            assert!(!v.contains("True") && !v.contains("False"));
        }
    }

    #[test]
    fn unset_parameters_are_not_sent() {
        assert!(ListParams::new().to_pairs().unwrap().is_empty());
        assert!(GetParams::new().to_pairs().unwrap().is_empty());
        assert!(WriteParams::new().to_pairs().unwrap().is_empty());
        // An empty field list and an empty query mean "all".
        let p = ListParams::new()
            .fields(Vec::<String>::new())
            .query(crate::query::Query::new())
            .to_pairs()
            .unwrap();
        assert!(p.is_empty());
    }

    #[test]
    fn display_value_variants() {
        for (d, s) in [
            (DisplayValue::False, "false"),
            (DisplayValue::True, "true"),
            (DisplayValue::All, "all"),
        ] {
            let p = GetParams::new().display_value(d).to_pairs().unwrap();
            assert_eq!(p, vec![("sysparm_display_value", s.to_owned())]);
        }
    }

    #[test]
    fn write_params_include_input_display_value() {
        let p = WriteParams::new()
            .input_display_value(true)
            .fields(["sys_id"])
            .exclude_reference_link(false)
            .to_pairs()
            .unwrap();
        assert_eq!(get(&p, "sysparm_input_display_value"), Some("true"));
        assert_eq!(get(&p, "sysparm_fields"), Some("sys_id"));
        assert_eq!(get(&p, "sysparm_exclude_reference_link"), Some("false"));
    }

    #[test]
    fn invalid_settings_are_errors_naming_the_input() {
        let e = ListParams::new()
            .fields(["number", "bad field"])
            .to_pairs()
            .unwrap_err();
        assert!(e.to_string().contains("bad field"), "{e}");
        let e = ListParams::new()
            .fields(["caller_id..email"])
            .to_pairs()
            .unwrap_err();
        assert!(e.to_string().contains("caller_id..email"));
        let e = ListParams::new()
            .query(field("x").eq("a\nb"))
            .to_pairs()
            .unwrap_err();
        assert!(matches!(e, Error::InvalidQuery(_)));
        let e = GetParams::new().view("a\rb").to_pairs().unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }));
        let e = ListParams::new().query_category("").to_pairs().unwrap_err();
        assert!(matches!(e, Error::InvalidInput { .. }));
    }

    #[test]
    fn nothing_leaks_between_calls() {
        // pysnow #195: a query or fields set for one call stayed on the resource.
        let base = ListParams::new().limit(10);
        let first = base.clone().query(field("number").eq("INC1")).fields(["a"]);
        let second = base.clone();
        assert!(first.to_pairs().unwrap().len() == 3);
        assert_eq!(
            second.to_pairs().unwrap(),
            vec![("sysparm_limit", "10".to_owned())]
        );
        // Turning params into pairs twice gives the same pairs (no accumulation).
        assert_eq!(first.to_pairs().unwrap(), first.to_pairs().unwrap());
        assert_eq!(base, ListParams::new().limit(10));
    }

    #[test]
    fn accessors() {
        let p = ListParams::new().limit(3).offset(6).query(field("a").eq(1));
        assert_eq!(p.get_limit(), Some(3));
        assert_eq!(p.get_offset(), Some(6));
        assert_eq!(p.get_query().map(|q| q.to_string()), Some("a=1".into()));
    }
}
