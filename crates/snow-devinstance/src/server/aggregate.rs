//! The Aggregate API: `GET /api/now[/v1]/stats/{table}`.
//!
//! Parameters: `sysparm_query` (and name-value filters), `sysparm_count`,
//! `sysparm_avg_fields`, `sysparm_min_fields`, `sysparm_max_fields`, `sysparm_sum_fields`,
//! `sysparm_group_by`, `sysparm_having` (`count^priority^>^3`, comma-separated),
//! `sysparm_order_by` (`priority`, `COUNT`, `AVG^field`, each maybe `^DESC`, comma-separated)
//! and `sysparm_display_value` (adds `display_value` to the group-by values).

// Helpers return the error response itself, as the handlers do; these are cold paths.
#![allow(clippy::result_large_err)]

use http::{Method, StatusCode};
use serde_json::{Map, Value, json};

use super::request::Req;
use super::respond::{self, Resp, db_error};
use crate::db::DisplayValue;
use crate::db::aggregate::{
    AggError, AggFn, AggSpec, Cmp, GroupStats, Having, Measure, OrderKey, Stats,
};

pub(crate) fn handle(req: &Req, segments: &[&str]) -> Resp {
    let [table] = segments else {
        return respond::unknown_resource();
    };
    if !matches!(req.method, Method::GET | Method::HEAD) {
        return respond::method_not_allowed();
    }
    let spec = match spec(req) {
        Ok(s) => s,
        Err(r) => return r,
    };
    let grouped = !spec.group_by.is_empty();
    let display = req.display_value() != DisplayValue::False;
    let query = req.effective_query();
    let ctx = req.eval_ctx();
    let outcome = req.state.db().aggregate(table, &query, &spec, &ctx);
    let groups = match outcome {
        Ok(g) => g,
        Err(AggError::Db(e)) => return db_error(&e),
        Err(e @ (AggError::UnknownField { .. } | AggError::NotNumeric { .. })) => {
            return respond::bad_request("Invalid aggregate field", &e.to_string());
        }
        Err(e @ AggError::BadOrder(_)) => {
            return respond::bad_request("Invalid sysparm_order_by", &e.to_string());
        }
    };
    let result = if grouped {
        Value::Array(groups.iter().map(|g| group_json(g, display)).collect())
    } else {
        let stats = groups
            .first()
            .map(|g| stats_json(&g.stats))
            .unwrap_or_else(|| json!({}));
        json!({ "stats": stats })
    };
    respond::result(StatusCode::OK, &result)
}

/// A comma-separated parameter as a list (empty items dropped).
fn list(req: &Req, name: &str) -> Vec<String> {
    req.params
        .get(name)
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn spec(req: &Req) -> Result<AggSpec, Resp> {
    let mut spec = AggSpec {
        count: req.params.flag("sysparm_count", false),
        group_by: list(req, "sysparm_group_by"),
        ..AggSpec::default()
    };
    for f in [AggFn::Avg, AggFn::Min, AggFn::Max, AggFn::Sum] {
        for field in list(req, &format!("sysparm_{}_fields", f.key())) {
            spec.fields.push((f, field));
        }
    }
    for item in list(req, "sysparm_having") {
        spec.having.push(having(&item).ok_or_else(|| {
            respond::bad_request(
                "Invalid sysparm_having",
                &format!("{item}: expected aggregate^field^operator^number, for example count^priority^>^3"),
            )
        })?);
    }
    for item in list(req, "sysparm_order_by") {
        let mut parts: Vec<&str> = item.split('^').map(str::trim).collect();
        let descending = match parts.last() {
            Some(p) if p.eq_ignore_ascii_case("desc") => {
                parts.pop();
                true
            }
            Some(p) if p.eq_ignore_ascii_case("asc") => {
                parts.pop();
                false
            }
            _ => false,
        };
        let key = match parts.as_slice() {
            [c] if c.eq_ignore_ascii_case("count") => OrderKey::Measure(Measure::Count),
            [field] if !field.is_empty() => OrderKey::Field((*field).to_owned()),
            [agg, field] => match AggFn::parse(agg) {
                Some(f) => OrderKey::Measure(Measure::Of(f, (*field).to_owned())),
                None => return Err(bad_order(&item)),
            },
            _ => return Err(bad_order(&item)),
        };
        spec.order_by.push((key, descending));
    }
    Ok(spec)
}

fn bad_order(item: &str) -> Resp {
    respond::bad_request(
        "Invalid sysparm_order_by",
        &format!(
            "{item}: expected a group-by field, COUNT or AVG^field, optionally followed by ^DESC"
        ),
    )
}

/// `count^priority^>^3` → a condition.
fn having(item: &str) -> Option<Having> {
    let parts: Vec<&str> = item.split('^').map(str::trim).collect();
    let [agg, field, op, value] = parts.as_slice() else {
        return None;
    };
    let measure = if agg.eq_ignore_ascii_case("count") {
        Measure::Count
    } else {
        Measure::Of(AggFn::parse(agg)?, (*field).to_owned())
    };
    Some(Having {
        measure,
        cmp: Cmp::parse(op)?,
        value: value.parse().ok().filter(|v: &f64| v.is_finite())?,
    })
}

/// `{"count":"42","avg":{"field":"1.0000"},...}`: only what was asked for.
fn stats_json(stats: &Stats) -> Value {
    let mut out = Map::new();
    if let Some(c) = stats.count {
        out.insert("count".into(), Value::String(c.to_string()));
    }
    for (f, field, value) in &stats.values {
        let entry = out
            .entry(f.key())
            .or_insert_with(|| Value::Object(Map::new()));
        if let Value::Object(m) = entry {
            m.insert(field.clone(), Value::String(value.clone()));
        }
    }
    Value::Object(out)
}

fn group_json(group: &GroupStats, display: bool) -> Value {
    let fields: Vec<Value> = group
        .fields
        .iter()
        .map(|(field, value, shown)| {
            let mut m = Map::new();
            m.insert("value".into(), Value::String(value.clone()));
            if display {
                m.insert("display_value".into(), Value::String(shown.clone()));
            }
            m.insert("field".into(), Value::String(field.clone()));
            Value::Object(m)
        })
        .collect();
    json!({ "stats": stats_json(&group.stats), "groupby_fields": fields })
}
