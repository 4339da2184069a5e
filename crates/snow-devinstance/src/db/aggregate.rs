//! Aggregates over the records a query matches: what the Aggregate API (`/stats/{table}`)
//! computes. The records come from [`Db::list`], so the query means exactly what it means for
//! a list.
//!
//! Numbers are formatted as ServiceNow sends them: `avg` with four decimals (`"1.0000"`), `sum`
//! as an integer for integer fields and with two decimals for amounts, `min` and `max` as the
//! stored value. An aggregate over no value is `""`.

use std::cmp::Ordering;

use super::eval::{Path, resolve_path};
use super::record::Record;
use super::schema::{FieldType, schemas};
use super::{Db, DbError, EvalCtx};

/// An aggregate function other than `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AggFn {
    Avg,
    Min,
    Max,
    Sum,
}

impl AggFn {
    /// The key in a `stats` object (`avg`, `min`, `max`, `sum`).
    pub(crate) fn key(self) -> &'static str {
        match self {
            AggFn::Avg => "avg",
            AggFn::Min => "min",
            AggFn::Max => "max",
            AggFn::Sum => "sum",
        }
    }

    /// `avg`, `AVG`, ... → the function.
    pub(crate) fn parse(s: &str) -> Option<AggFn> {
        match s.to_ascii_lowercase().as_str() {
            "avg" => Some(AggFn::Avg),
            "min" => Some(AggFn::Min),
            "max" => Some(AggFn::Max),
            "sum" => Some(AggFn::Sum),
            _ => None,
        }
    }
}

/// What a `having` condition or an order compares: the count, or an aggregate of a field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Measure {
    Count,
    Of(AggFn, String),
}

/// A comparison of `having`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    pub(crate) fn parse(s: &str) -> Option<Cmp> {
        Some(match s {
            "=" => Cmp::Eq,
            "!=" => Cmp::Ne,
            ">" => Cmp::Gt,
            ">=" => Cmp::Ge,
            "<" => Cmp::Lt,
            "<=" => Cmp::Le,
            _ => return None,
        })
    }

    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
        }
    }
}

/// One `sysparm_having` condition: `count^priority^>^3`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Having {
    pub(crate) measure: Measure,
    pub(crate) cmp: Cmp,
    pub(crate) value: f64,
}

/// One `sysparm_order_by` key: a group-by field, `COUNT` or `AVG^field`, maybe `^DESC`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OrderKey {
    Field(String),
    Measure(Measure),
}

/// What to compute.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct AggSpec {
    pub(crate) count: bool,
    /// The requested aggregates, in request order.
    pub(crate) fields: Vec<(AggFn, String)>,
    pub(crate) group_by: Vec<String>,
    pub(crate) having: Vec<Having>,
    pub(crate) order_by: Vec<(OrderKey, bool)>,
}

/// The statistics of one group (or of all matching records).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Stats {
    /// The count, when asked for.
    pub(crate) count: Option<usize>,
    /// `(function, field, value)` for every requested aggregate; `""` over no value.
    pub(crate) values: Vec<(AggFn, String, String)>,
}

/// One group: its values of the group-by fields and its statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GroupStats {
    /// `(field, stored value, display value)` per group-by field.
    pub(crate) fields: Vec<(String, String, String)>,
    pub(crate) stats: Stats,
}

/// Why an aggregate could not be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AggError {
    /// The table does not exist or the query is invalid.
    #[error(transparent)]
    Db(#[from] DbError),
    /// A field named in an aggregate, a group-by, a condition or an order does not exist.
    #[error("Field {field} does not exist in table {table}")]
    UnknownField { table: String, field: String },
    /// `avg` or `sum` of a field that is not a number.
    #[error("Field {field} of table {table} is not numeric; {function} needs a number field")]
    NotNumeric {
        table: String,
        field: String,
        function: &'static str,
    },
    /// An order key that is neither a group-by field nor an aggregate.
    #[error("Cannot order by {0}: order by a group-by field, COUNT or an aggregate of a field")]
    BadOrder(String),
}

/// A field checked against a table.
struct Resolved {
    path: Path,
}

impl Db {
    /// Computes `spec` over the records of `table` matching `query`: one group without
    /// `group_by`, else one per distinct combination of group-by values (stored values),
    /// filtered by `having` and ordered by `order_by` (by the group values otherwise).
    pub(crate) fn aggregate(
        &self,
        table: &str,
        query: &str,
        spec: &AggSpec,
        ctx: &EvalCtx,
    ) -> Result<Vec<GroupStats>, AggError> {
        let schema = schemas()
            .table(table)
            .ok_or_else(|| DbError::InvalidTable(table.to_owned()))?;
        let resolve = |field: &str| -> Result<Resolved, AggError> {
            resolve_path(schema, field)
                .map(|path| Resolved { path })
                .ok_or_else(|| AggError::UnknownField {
                    table: table.to_owned(),
                    field: field.to_owned(),
                })
        };
        let numeric = |f: AggFn, field: &str, r: &Resolved| -> Result<(), AggError> {
            if matches!(f, AggFn::Avg | AggFn::Sum) && !r.path.field.is_numeric() {
                return Err(AggError::NotNumeric {
                    table: table.to_owned(),
                    field: field.to_owned(),
                    function: f.key(),
                });
            }
            Ok(())
        };
        let mut measured: Vec<(AggFn, String, Resolved)> = Vec::new();
        for (f, field) in &spec.fields {
            let r = resolve(field)?;
            numeric(*f, field, &r)?;
            measured.push((*f, field.clone(), r));
        }
        let groups_by: Vec<(String, Resolved)> = spec
            .group_by
            .iter()
            .map(|f| resolve(f).map(|r| (f.clone(), r)))
            .collect::<Result<_, _>>()?;
        let mut measure_paths: Vec<(Measure, Option<Resolved>)> = Vec::new();
        let measures =
            spec.having
                .iter()
                .map(|h| &h.measure)
                .chain(spec.order_by.iter().filter_map(|(k, _)| match k {
                    OrderKey::Measure(m) => Some(m),
                    OrderKey::Field(_) => None,
                }));
        for m in measures {
            let r = match m {
                Measure::Count => None,
                Measure::Of(f, field) => {
                    let r = resolve(field)?;
                    numeric(*f, field, &r)?;
                    Some(r)
                }
            };
            measure_paths.push((m.clone(), r));
        }
        for (k, _) in &spec.order_by {
            if let OrderKey::Field(f) = k {
                if !spec.group_by.contains(f) {
                    return Err(AggError::BadOrder(f.clone()));
                }
            }
        }

        let rows = self.list(table, query, ctx, 0, usize::MAX)?.rows;
        // Group the records by their group-by values (one group of everything without).
        let mut groups: Vec<(Vec<&str>, Vec<&Record>)> = Vec::new();
        let mut index: std::collections::HashMap<Vec<&str>, usize> = Default::default();
        for rec in rows {
            let key: Vec<&str> = groups_by
                .iter()
                .map(|(_, r)| self.path_value(rec, &r.path))
                .collect();
            match index.get(&key) {
                Some(&i) => groups[i].1.push(rec),
                None => {
                    index.insert(key.clone(), groups.len());
                    groups.push((key, vec![rec]));
                }
            }
        }
        if groups_by.is_empty() && groups.is_empty() {
            groups.push((Vec::new(), Vec::new()));
        }
        let measure_of = |m: &Measure, recs: &[&Record]| -> Option<f64> {
            match m {
                Measure::Count => Some(recs.len() as f64),
                Measure::Of(f, field) => {
                    let (_, r) = measure_paths.iter().find(|(mm, _)| match mm {
                        Measure::Of(g, h) => g == f && h == field,
                        Measure::Count => false,
                    })?;
                    let r = r.as_ref()?;
                    self.aggregate_of(*f, &r.path, recs).parse().ok()
                }
            }
        };
        groups.retain(|(_, recs)| {
            spec.having
                .iter()
                .all(|h| measure_of(&h.measure, recs).is_some_and(|v| h.cmp.holds(v, h.value)))
        });
        // Default order: by the group values; then the requested keys, first key first.
        groups.sort_by(|a, b| compare_values(&a.0, &b.0));
        for (key, descending) in spec.order_by.iter().rev() {
            groups.sort_by(|a, b| {
                let ord = match key {
                    OrderKey::Field(f) => {
                        let i = spec.group_by.iter().position(|g| g == f).unwrap_or(0);
                        compare_text(a.0.get(i).copied(), b.0.get(i).copied())
                    }
                    OrderKey::Measure(m) => {
                        let (x, y) = (measure_of(m, &a.1), measure_of(m, &b.1));
                        x.unwrap_or(f64::NEG_INFINITY)
                            .total_cmp(&y.unwrap_or(f64::NEG_INFINITY))
                    }
                };
                if *descending { ord.reverse() } else { ord }
            });
        }
        Ok(groups
            .into_iter()
            .map(|(key, recs)| GroupStats {
                fields: groups_by
                    .iter()
                    .zip(key)
                    .map(|((name, r), value)| {
                        let display = match r.path.field.ty {
                            FieldType::Reference => self.ref_display(value),
                            FieldType::Choice => r.path.field.choice_label(value),
                            _ => value,
                        };
                        (name.clone(), value.to_owned(), display.to_owned())
                    })
                    .collect(),
                stats: Stats {
                    count: spec.count.then_some(recs.len()),
                    values: measured
                        .iter()
                        .map(|(f, field, r)| {
                            (*f, field.clone(), self.aggregate_of(*f, &r.path, &recs))
                        })
                        .collect(),
                },
            })
            .collect())
    }

    /// One aggregate of a field over records, formatted as ServiceNow sends it.
    fn aggregate_of(&self, f: AggFn, path: &Path, recs: &[&Record]) -> String {
        let values = recs
            .iter()
            .map(|r| self.path_value(r, path))
            .filter(|v| !v.is_empty());
        let numeric = path.field.is_numeric();
        match f {
            AggFn::Avg | AggFn::Sum => {
                let nums: Vec<f64> = values.filter_map(|v| v.trim().parse().ok()).collect();
                if nums.is_empty() {
                    return String::new();
                }
                let sum: f64 = nums.iter().sum();
                match f {
                    AggFn::Avg => format!("{:.4}", sum / nums.len() as f64),
                    _ if path.field.ty == FieldType::Currency => format!("{sum:.2}"),
                    _ => format!("{}", sum.round() as i64),
                }
            }
            AggFn::Min | AggFn::Max => {
                let pick = |a: &str, b: &str| {
                    let ord = if numeric {
                        match (a.trim().parse::<f64>(), b.trim().parse::<f64>()) {
                            (Ok(x), Ok(y)) => x.total_cmp(&y),
                            _ => a.cmp(b),
                        }
                    } else {
                        a.cmp(b)
                    };
                    (f == AggFn::Min) == (ord == Ordering::Less)
                };
                values
                    .reduce(|best, v| if pick(v, best) { v } else { best })
                    .unwrap_or_default()
                    .to_owned()
            }
        }
    }
}

/// Compares two stored values: as numbers when both are, as text otherwise.
fn compare_text(a: Option<&str>, b: Option<&str>) -> Ordering {
    let (a, b) = (a.unwrap_or(""), b.unwrap_or(""));
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.total_cmp(&y),
        _ => a.cmp(b),
    }
}

fn compare_values(a: &[&str], b: &[&str]) -> Ordering {
    a.iter()
        .zip(b)
        .map(|(x, y)| compare_text(Some(x), Some(y)))
        .find(|o| *o != Ordering::Equal)
        .unwrap_or(Ordering::Equal)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> Db {
        Db::new_seeded(3, 300)
    }

    #[test]
    fn count_matches_a_listing_and_groups_add_up() {
        let db = db();
        let ctx = EvalCtx::system();
        let listed = db
            .list("incident", "active=true", &ctx, 0, usize::MAX)
            .unwrap();
        let spec = AggSpec {
            count: true,
            ..AggSpec::default()
        };
        let all = db
            .aggregate("incident", "active=true", &spec, &ctx)
            .unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].stats.count, Some(listed.total));
        let grouped = AggSpec {
            count: true,
            group_by: vec!["priority".into(), "state".into()],
            ..AggSpec::default()
        };
        let groups = db
            .aggregate("incident", "active=true", &grouped, &ctx)
            .unwrap();
        assert!(groups.len() > 1);
        let sum: usize = groups.iter().filter_map(|g| g.stats.count).sum();
        assert_eq!(sum, listed.total);
        // Default order: by the group values, numerically.
        let keys: Vec<(f64, f64)> = groups
            .iter()
            .map(|g| {
                (
                    g.fields[0].1.parse().unwrap(),
                    g.fields[1].1.parse().unwrap(),
                )
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(keys, sorted);
        assert_eq!(groups[0].fields[0].2, "1 - Critical");
    }

    #[test]
    fn numbers_having_and_order() {
        let db = db();
        let ctx = EvalCtx::system();
        let spec = AggSpec {
            count: true,
            fields: vec![
                (AggFn::Avg, "reassignment_count".into()),
                (AggFn::Sum, "reassignment_count".into()),
                (AggFn::Min, "opened_at".into()),
                (AggFn::Max, "priority".into()),
            ],
            group_by: vec!["category".into()],
            having: vec![Having {
                measure: Measure::Count,
                cmp: Cmp::Gt,
                value: 10.0,
            }],
            order_by: vec![(OrderKey::Measure(Measure::Count), true)],
        };
        let groups = db.aggregate("incident", "", &spec, &ctx).unwrap();
        assert!(!groups.is_empty());
        let counts: Vec<usize> = groups.iter().map(|g| g.stats.count.unwrap()).collect();
        assert!(counts.iter().all(|&c| c > 10), "{counts:?}");
        assert!(counts.windows(2).all(|w| w[0] >= w[1]), "{counts:?}");
        let v = &groups[0].stats.values;
        assert!(
            v[0].2.split_once('.').is_some_and(|(_, d)| d.len() == 4),
            "{v:?}"
        );
        assert!(v[1].2.parse::<i64>().is_ok());
        assert_eq!(v[2].2.len(), 19);
    }

    #[test]
    fn unknown_and_non_numeric_fields_are_errors() {
        let db = db();
        let ctx = EvalCtx::system();
        let spec = AggSpec {
            fields: vec![(AggFn::Avg, "no_such_field".into())],
            ..AggSpec::default()
        };
        assert!(matches!(
            db.aggregate("incident", "", &spec, &ctx),
            Err(AggError::UnknownField { .. })
        ));
        let spec = AggSpec {
            fields: vec![(AggFn::Sum, "short_description".into())],
            ..AggSpec::default()
        };
        assert!(matches!(
            db.aggregate("incident", "", &spec, &ctx),
            Err(AggError::NotNumeric { .. })
        ));
        assert!(matches!(
            db.aggregate("nope", "", &AggSpec::default(), &ctx),
            Err(AggError::Db(DbError::InvalidTable(_)))
        ));
    }
}
