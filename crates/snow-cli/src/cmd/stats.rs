//! `snow stats TABLE`: the Aggregate API (counts, averages, minimums, maximums, sums), whole
//! or grouped.

use clap::Args;
use serde_json::Value;
use serde_json::value::RawValue;
use snow_client::aggregate::{AggregateFn, Having, HavingBuilder, Stats, StatsGroup, StatsOrder};

use super::Ctx;
use crate::connect::Needs;
use crate::exit::CliError;
use crate::output::{CellMode, RecordWriter, ordered_object, write_one};

/// `snow stats`.
#[derive(Args)]
pub(crate) struct StatsArgs {
    /// The table, e.g. incident.
    table: String,
    /// Only the records matching this encoded query.
    #[arg(long, short = 'q', value_name = "QUERY")]
    query: Option<String>,
    /// The mean of these number fields (comma-separated).
    #[arg(long, value_delimiter = ',', value_name = "FIELDS")]
    avg: Vec<String>,
    /// The smallest value of these fields.
    #[arg(long, value_delimiter = ',', value_name = "FIELDS")]
    min: Vec<String>,
    /// The largest value of these fields.
    #[arg(long, value_delimiter = ',', value_name = "FIELDS")]
    max: Vec<String>,
    /// The total of these number fields.
    #[arg(long, value_delimiter = ',', value_name = "FIELDS")]
    sum: Vec<String>,
    /// One row per distinct combination of these fields' values.
    #[arg(long, short = 'g', value_delimiter = ',', value_name = "FIELDS")]
    group_by: Vec<String>,
    /// Keep only the groups meeting a condition, FUNCTION(FIELD)OP NUMBER with count, avg,
    /// min, max or sum and =, !=, >, >=, <, <=: 'count(priority)>3' (repeatable).
    #[arg(long, value_name = "CONDITION", requires = "group_by")]
    having: Vec<String>,
    /// Order the groups by count, a group-by field or FUNCTION(FIELD); a leading - for
    /// descending: --order-by -count (repeatable).
    #[arg(
        long,
        value_name = "KEY",
        requires = "group_by",
        allow_hyphen_values = true
    )]
    order_by: Vec<String>,
    /// Show the display value of each group-by field too (a reference's name, a choice's
    /// label); tables and CSV show it instead of the value.
    #[arg(long, requires = "group_by")]
    display_value: bool,
}

/// Runs `snow stats`.
pub(crate) async fn run(ctx: &Ctx, a: StatsArgs) -> Result<(), CliError> {
    let having = a
        .having
        .iter()
        .map(|h| parse_having(h))
        .collect::<Result<Vec<_>, _>>()?;
    let order = a
        .order_by
        .iter()
        .map(|o| parse_order(o))
        .collect::<Result<Vec<_>, _>>()?;
    let client = ctx.connect(Needs::default())?.client;
    // The count always: it is what a group is, and costs nothing more.
    let mut req = client
        .aggregate(&a.table)
        .stats()
        .count()
        .avg(&a.avg)
        .min(&a.min)
        .max(&a.max)
        .sum(&a.sum);
    if let Some(q) = a.query.as_deref().filter(|q| !q.trim().is_empty()) {
        req = req.raw_query(q);
    }
    let format = ctx.format();
    let mode = if a.display_value {
        CellMode::Display
    } else {
        CellMode::Value
    };
    if a.group_by.is_empty() {
        let stats = req.send().await?;
        let row = ordered_object(stat_members(&stats, &a));
        return write_one(&mut std::io::stdout().lock(), format, &row, mode);
    }
    let mut grouped = req.group_by(&a.group_by).display_value(a.display_value);
    for h in having {
        grouped = grouped.having(h);
    }
    for o in order {
        grouped = grouped.order_by(o);
    }
    let groups = grouped.send().await?;
    let mut writer = RecordWriter::new(
        std::io::BufWriter::new(std::io::stdout().lock()),
        format,
        None,
        mode,
    );
    for g in &groups {
        writer.write(&group_row(g, &a))?;
    }
    writer.finish()?;
    Ok(())
}

/// A group as one flat row: the group-by fields, then the statistics.
fn group_row(g: &StatsGroup, a: &StatsArgs) -> Box<RawValue> {
    let mut members: Vec<(String, Value)> = Vec::new();
    for f in &a.group_by {
        let name = f.trim();
        let value = g.value(name).unwrap_or_default();
        let v = match g.display_value(name) {
            Some(d) if a.display_value => serde_json::json!({"value": value, "display_value": d}),
            _ => Value::from(value),
        };
        members.push((name.to_owned(), v));
    }
    members.extend(stat_members(&g.stats, a));
    ordered_object(members)
}

/// `count`, then `avg(FIELD)`, `min(FIELD)`, `max(FIELD)` and `sum(FIELD)` for the fields
/// asked for.
fn stat_members(s: &Stats, a: &StatsArgs) -> Vec<(String, Value)> {
    let mut out = vec![("count".to_owned(), s.count.map_or(Value::Null, Value::from))];
    let number = |n: Option<f64>| n.map_or(Value::Null, Value::from);
    let text = |v: Option<&snow_client::aggregate::StatValue>| {
        v.map_or(Value::Null, |v| Value::from(v.as_str()))
    };
    for (function, fields) in [
        ("avg", &a.avg),
        ("min", &a.min),
        ("max", &a.max),
        ("sum", &a.sum),
    ] {
        for f in fields.iter().map(|f| f.trim()).filter(|f| !f.is_empty()) {
            let v = match function {
                "avg" => number(s.avg(f)),
                "sum" => number(s.sum(f)),
                "min" => text(s.min(f)),
                _ => text(s.max(f)),
            };
            out.push((format!("{function}({f})"), v));
        }
    }
    out
}

/// An aggregate function by name (`count` is not one: it is asked for apart).
fn function(name: &str) -> Option<AggregateFn> {
    match name.trim().to_ascii_lowercase().as_str() {
        "avg" => Some(AggregateFn::Avg),
        "min" => Some(AggregateFn::Min),
        "max" => Some(AggregateFn::Max),
        "sum" => Some(AggregateFn::Sum),
        _ => None,
    }
}

/// `FUNCTION(FIELD)` split, or `None` when the text is not of that shape.
fn call(text: &str) -> Option<(&str, &str)> {
    let (name, rest) = text.split_once('(')?;
    let field = rest.strip_suffix(')')?;
    Some((name.trim(), field.trim()))
}

/// `count(priority)>3`, `avg(reassignment_count)<=1.5`.
fn parse_having(text: &str) -> Result<Having, CliError> {
    let bad = |why: &str| {
        CliError::usage(format!(
            "--having {text:?}: {why}; write FUNCTION(FIELD)OP NUMBER, e.g. 'count(priority)>3'"
        ))
    };
    let close = text.find(')').ok_or_else(|| bad("no FUNCTION(FIELD)"))?;
    let (measure, condition) = text.split_at(close + 1);
    let (name, field) = call(measure.trim()).ok_or_else(|| bad("no FUNCTION(FIELD)"))?;
    let builder: HavingBuilder = if name.eq_ignore_ascii_case("count") {
        Having::count(field)
    } else {
        let f =
            function(name).ok_or_else(|| bad("the function is not count, avg, min, max or sum"))?;
        Having::of(f, field)
    };
    let condition = condition.trim();
    let (op, number) = ["!=", ">=", "<=", "=", ">", "<"]
        .iter()
        .find_map(|op| condition.strip_prefix(op).map(|n| (*op, n.trim())))
        .ok_or_else(|| bad("no operator (=, !=, >, >=, <, <=)"))?;
    let value: f64 = number
        .parse()
        .ok()
        .filter(|n: &f64| n.is_finite())
        .ok_or_else(|| bad("the value is not a number"))?;
    Ok(match op {
        "=" => builder.eq(value),
        "!=" => builder.ne(value),
        ">" => builder.gt(value),
        ">=" => builder.ge(value),
        "<" => builder.lt(value),
        _ => builder.le(value),
    })
}

/// `count`, `priority`, `avg(reassignment_count)`; a leading `-` for descending.
fn parse_order(text: &str) -> Result<StatsOrder, CliError> {
    let (desc, key) = match text.trim().strip_prefix('-') {
        Some(k) => (true, k.trim()),
        None => (false, text.trim()),
    };
    if key.is_empty() {
        return Err(CliError::usage(format!(
            "--order-by {text:?} names nothing"
        )));
    }
    let order = if key.eq_ignore_ascii_case("count") {
        StatsOrder::count()
    } else if let Some((name, field)) = call(key) {
        let f = function(name).ok_or_else(|| {
            CliError::usage(format!(
                "--order-by {text:?}: the function is not avg, min, max or sum"
            ))
        })?;
        StatsOrder::of(f, field)
    } else {
        StatsOrder::field(key)
    };
    Ok(if desc { order.desc() } else { order })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn having_conditions_parse() {
        for (text, param) in [
            ("count(priority)>3", "count^priority^>^3"),
            (
                "avg(reassignment_count) <= 1.5",
                "avg^reassignment_count^<=^1.5",
            ),
            ("SUM(x)!=0", "sum^x^!=^0"),
        ] {
            assert_eq!(
                parse_having(text).unwrap().to_param().unwrap(),
                param,
                "{text}"
            );
        }
        for bad in [
            "count>3",
            "median(x)>1",
            "count(x)~3",
            "count(x)>lots",
            "count(x)>inf",
        ] {
            assert!(
                matches!(parse_having(bad), Err(CliError::Usage(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn order_keys_parse() {
        for (text, param) in [
            ("count", "COUNT"),
            ("-count", "COUNT^DESC"),
            ("priority", "priority"),
            ("-avg(reassignment_count)", "AVG^reassignment_count^DESC"),
        ] {
            assert_eq!(
                parse_order(text).unwrap().to_param().unwrap(),
                param,
                "{text}"
            );
        }
        assert!(parse_order("-").is_err());
        assert!(parse_order("median(x)").is_err());
    }
}
