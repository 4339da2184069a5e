//! The answers of the Aggregate API, typed: numbers are parsed from the strings ServiceNow
//! sends (`"count":"42"`, `"avg":{"x":"1.0000"}`), and a value that is not one is an
//! [`Error::Decode`](crate::Error::Decode) naming its path.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::spec::AggregateFn;

/// The statistics of all matching records, or of one group.
///
/// ```
/// # async fn demo(client: snow_client::Client) -> Result<(), snow_client::Error> {
/// let stats = client.aggregate("incident").stats().count().avg(["reassignment_count"]).await?;
/// println!("{} incidents, {:?} reassignments on average",
///     stats.count.unwrap_or(0), stats.avg("reassignment_count"));
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct Stats {
    /// The number of records, when `count` was asked for.
    pub count: Option<u64>,
    /// The mean of each field asked for; `None` when no record has a value.
    pub avg: BTreeMap<String, Option<f64>>,
    /// The total of each field asked for; `None` when no record has a value.
    pub sum: BTreeMap<String, Option<f64>>,
    /// The smallest value of each field asked for (a number, a date or text).
    pub min: BTreeMap<String, StatValue>,
    /// The largest value of each field asked for (a number, a date or text).
    pub max: BTreeMap<String, StatValue>,
}

impl Stats {
    /// The mean of `field`, when asked for and defined.
    pub fn avg(&self, field: &str) -> Option<f64> {
        self.avg.get(field).copied().flatten()
    }

    /// The total of `field`, when asked for and defined.
    pub fn sum(&self, field: &str) -> Option<f64> {
        self.sum.get(field).copied().flatten()
    }

    /// The smallest value of `field`, when asked for.
    pub fn min(&self, field: &str) -> Option<&StatValue> {
        self.min.get(field)
    }

    /// The largest value of `field`, when asked for.
    pub fn max(&self, field: &str) -> Option<&StatValue> {
        self.max.get(field)
    }

    /// The value of any aggregate function of `field` as a number, when there is one.
    pub fn number(&self, function: AggregateFn, field: &str) -> Option<f64> {
        match function {
            AggregateFn::Avg => self.avg(field),
            AggregateFn::Sum => self.sum(field),
            AggregateFn::Min => self.min(field).and_then(StatValue::as_f64),
            AggregateFn::Max => self.max(field).and_then(StatValue::as_f64),
        }
    }
}

/// A minimum or maximum as ServiceNow sends it: the stored value of the field (a number, a
/// date `yyyy-MM-dd HH:mm:ss`, text), empty when no record has one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StatValue(String);

impl StatValue {
    /// The value as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether no record had a value.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The value as a number, when it is one.
    pub fn as_f64(&self) -> Option<f64> {
        self.0.trim().parse().ok()
    }

    /// The value as a whole number, when it is one.
    pub fn as_i64(&self) -> Option<i64> {
        self.0.trim().parse().ok()
    }
}

impl fmt::Display for StatValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One group of a grouped aggregate: its values of the group-by fields and its statistics.
#[derive(Clone, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct StatsGroup {
    /// The group's value of each group-by field, in the order asked for.
    pub fields: Vec<GroupValue>,
    /// The group's statistics.
    pub stats: Stats,
}

impl StatsGroup {
    /// The group's stored value of `field`.
    pub fn value(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|g| g.field == field)
            .map(|g| g.value.as_str())
    }

    /// The group's display value of `field`, when display values were asked for.
    pub fn display_value(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|g| g.field == field)
            .and_then(|g| g.display_value.as_deref())
    }
}

/// One group-by field's value in a group (`groupby_fields`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct GroupValue {
    /// The field.
    pub field: String,
    /// Its stored value (a reference's sys_id, a choice's value); empty for records without.
    #[serde(default)]
    pub value: String,
    /// Its display value, when asked for with `display_value`.
    #[serde(default)]
    pub display_value: Option<String>,
}

/// A number sent as a string (or a JSON number); `""` and `null` are none.
struct Num(Option<f64>);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number, or a string holding one")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Num, E> {
                let t = s.trim();
                if t.is_empty() {
                    return Ok(Num(None));
                }
                t.parse::<f64>()
                    .ok()
                    .filter(|n| n.is_finite())
                    .map(|n| Num(Some(n)))
                    .ok_or_else(|| E::invalid_value(de::Unexpected::Str(s), &self))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Num, E> {
                Ok(Num(Some(n)))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Num, E> {
                Ok(Num(Some(n as f64)))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Num, E> {
                Ok(Num(Some(n as f64)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Num, E> {
                Ok(Num(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A count sent as a string (or a JSON number).
struct Count(u64);

impl<'de> Deserialize<'de> for Count {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Count;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number, or a string holding one")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Count, E> {
                s.trim()
                    .parse()
                    .map(Count)
                    .map_err(|_| E::invalid_value(de::Unexpected::Str(s), &self))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Count, E> {
                Ok(Count(n))
            }
        }
        d.deserialize_any(V)
    }
}

/// A min or max value: text, or a JSON number kept as its text.
struct Text(String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Text(match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => s,
            serde_json::Value::Null => String::new(),
            other => other.to_string(),
        }))
    }
}

/// `stats` as sent.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct RawStats {
    count: Option<Count>,
    avg: BTreeMap<String, Num>,
    sum: BTreeMap<String, Num>,
    min: BTreeMap<String, Text>,
    max: BTreeMap<String, Text>,
}

impl From<RawStats> for Stats {
    fn from(r: RawStats) -> Self {
        Stats {
            count: r.count.map(|c| c.0),
            avg: r.avg.into_iter().map(|(k, v)| (k, v.0)).collect(),
            sum: r.sum.into_iter().map(|(k, v)| (k, v.0)).collect(),
            min: r
                .min
                .into_iter()
                .map(|(k, v)| (k, StatValue(v.0)))
                .collect(),
            max: r
                .max
                .into_iter()
                .map(|(k, v)| (k, StatValue(v.0)))
                .collect(),
        }
    }
}

/// The ungrouped `result`.
#[derive(Deserialize)]
pub(crate) struct RawUngrouped {
    #[serde(default)]
    pub(crate) stats: RawStats,
}

/// One element of a grouped `result`.
#[derive(Deserialize)]
pub(crate) struct RawGroup {
    #[serde(default)]
    stats: RawStats,
    #[serde(default)]
    groupby_fields: Vec<GroupValue>,
}

impl From<RawGroup> for StatsGroup {
    fn from(r: RawGroup) -> Self {
        StatsGroup {
            fields: r.groupby_fields,
            stats: r.stats.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::response::RawResponse;

    fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, crate::Error> {
        let h = http::HeaderMap::new();
        RawResponse::new(&http::Method::GET, http::StatusCode::OK, &h, body).decode_result()
    }

    #[test]
    fn strings_become_numbers() {
        let body = br#"{"result":{"stats":{"count":"42","avg":{"a":"1.5000","b":""},"sum":{"a":7},"min":{"d":"2024-01-01 00:00:00"},"max":{"n":3}}}}"#;
        let s: Stats = decode::<RawUngrouped>(body).unwrap().stats.into();
        assert_eq!(s.count, Some(42));
        assert_eq!(s.avg("a"), Some(1.5));
        assert_eq!(s.avg.get("b"), Some(&None));
        assert_eq!(s.sum("a"), Some(7.0));
        assert_eq!(s.min("d").unwrap().as_str(), "2024-01-01 00:00:00");
        assert_eq!(s.max("n").unwrap().as_i64(), Some(3));
        assert_eq!(s.number(AggregateFn::Max, "n"), Some(3.0));
    }

    #[test]
    fn a_value_that_is_no_number_names_its_path() {
        let e = decode::<RawUngrouped>(br#"{"result":{"stats":{"avg":{"a":"lots"}}}}"#)
            .err()
            .unwrap();
        match e {
            crate::Error::Decode { path, .. } => assert_eq!(path, "result.stats.avg.a"),
            other => panic!("{other}"),
        }
        let e = decode::<RawUngrouped>(br#"{"result":{"stats":{"count":"-1"}}}"#)
            .err()
            .unwrap();
        assert!(matches!(e, crate::Error::Decode { .. }), "{e}");
    }

    #[test]
    fn groups() {
        let body = br#"{"result":[{"stats":{"count":"3"},"groupby_fields":[{"value":"1","display_value":"1 - Critical","field":"priority"}]},{"stats":{"count":"1"},"groupby_fields":[{"value":"","field":"priority"}]}]}"#;
        let g: Vec<StatsGroup> = decode::<Vec<RawGroup>>(body)
            .unwrap()
            .into_iter()
            .map(Into::into)
            .collect();
        assert_eq!(g[0].value("priority"), Some("1"));
        assert_eq!(g[0].display_value("priority"), Some("1 - Critical"));
        assert_eq!(g[1].value("priority"), Some(""));
        assert_eq!(g[1].stats.count, Some(1));
    }
}
