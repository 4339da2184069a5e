//! Tables: each workload's results (median, min–max), the ratio of every contender to every
//! other, and the targets.

use std::fmt::Write as _;

use crate::runner::Series;

/// The median (the mean of the two middle values for an even count).
pub(crate) fn median(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

/// `median (min–max)`, or the value alone for one run.
pub(crate) fn spread(v: &[f64], digits: usize) -> String {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    s.sort_by(f64::total_cmp);
    match (s.first(), s.last()) {
        (Some(lo), Some(hi)) if s.len() > 1 => {
            format!("{:.digits$} ({lo:.digits$}–{hi:.digits$})", median(&s))
        }
        (Some(x), _) => format!("{x:.digits$}"),
        _ => "–".to_owned(),
    }
}

/// A rate with thousands grouped.
pub(crate) fn grouped(x: f64) -> String {
    if !x.is_finite() {
        return "–".to_owned();
    }
    let n = x.round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Series {
    pub(crate) fn walls(&self) -> Vec<f64> {
        self.samples.iter().map(|s| s.wall_s).collect()
    }
    pub(crate) fn rates(&self) -> Vec<f64> {
        self.samples.iter().map(|s| s.rate()).collect()
    }
    pub(crate) fn rss(&self) -> Vec<f64> {
        self.samples.iter().map(|s| s.rss_mib).collect()
    }
    /// Median seconds per record or request.
    pub(crate) fn unit_time(&self) -> f64 {
        median(
            &self
                .samples
                .iter()
                .map(|s| s.wall_s / s.count as f64)
                .collect::<Vec<_>>(),
        )
    }
    pub(crate) fn count(&self) -> u64 {
        self.samples.first().map_or(0, |s| s.count)
    }
}

/// The series of `key` in `all`.
pub(crate) fn find<'a>(all: &'a [Series], key: &str) -> Option<&'a Series> {
    all.iter().find(|s| s.key == key)
}

/// One workload's measurements as markdown: the results, then the ratio matrix.
pub(crate) fn workload_tables(title: &str, unit: &str, series: &[Series], out: &mut String) {
    let runs = series.iter().map(|s| s.samples.len()).max().unwrap_or(0);
    let _ = writeln!(out, "### {title}\n");
    let first = series
        .iter()
        .any(|s| s.samples.iter().any(|x| x.first_ms.is_some()));
    let _ = write!(
        out,
        "| contender | {unit} | wall s | {unit}/s | peak RSS MiB |"
    );
    if first {
        let _ = write!(out, " first request ms |");
    }
    let _ = writeln!(out);
    let _ = writeln!(
        out,
        "|---|---|---|---|---|{}",
        if first { "---|" } else { "" }
    );
    for s in series {
        let rates = s.rates();
        let _ = write!(
            out,
            "| {} | {} | {} | {} ({}–{}) | {} |",
            s.key,
            grouped(s.count() as f64),
            spread(&s.walls(), 3),
            grouped(median(&rates)),
            grouped(rates.iter().copied().fold(f64::INFINITY, f64::min)),
            grouped(rates.iter().copied().fold(0.0, f64::max)),
            spread(&s.rss(), 1),
        );
        if first {
            let firsts: Vec<f64> = s.samples.iter().filter_map(|x| x.first_ms).collect();
            let _ = write!(out, " {} |", spread(&firsts, 2));
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(
        out,
        "\nMedian (min–max) of {runs} timed runs, each its own process, contenders alternating.\n"
    );
    if series.len() > 1 {
        ratio_matrix(series, out);
    }
}

/// Time per record or request of the row's contender over the column's (below 1: the row is
/// faster).
fn ratio_matrix(series: &[Series], out: &mut String) {
    let _ = write!(out, "| time ratio (row / column) |");
    for s in series {
        let _ = write!(out, " {} |", s.key);
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "|---|{}", "---|".repeat(series.len()));
    for row in series {
        let _ = write!(out, "| {} |", row.key);
        for col in series {
            let _ = write!(out, " {:.2} |", row.unit_time() / col.unit_time());
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out);
}
