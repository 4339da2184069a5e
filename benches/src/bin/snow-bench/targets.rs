//! The targets of `docs/benchmarks.md`, judged on the ratios of one run.

use std::fmt::Write as _;

use crate::plan::Plan;
use crate::report::{find, median};
use crate::runner::Series;
use crate::workloads::Results;

/// Median time per record or request of `a` over `b`, when both ran.
fn ratio(all: &[Series], a: &str, b: &str) -> Option<f64> {
    Some(find(all, a)?.unit_time() / find(all, b)?.unit_time())
}

fn rss(all: &[Series], key: &str) -> Option<f64> {
    Some(median(&find(all, key)?.rss()))
}

fn verdict(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "met",
        Some(false) => "**missed**",
        None => "not run",
    }
}

fn show(x: Option<f64>, unit: &str) -> String {
    x.map_or_else(|| "–".to_owned(), |x| format!("{x:.2}{unit}"))
}

/// The targets table.
pub(crate) fn table(res: &Results, plan: &Plan, out: &mut String) {
    let _ = writeln!(out, "## Targets (ratios of medians within this run)\n");
    if plan.smoke {
        let _ = writeln!(out, "Smoke sizes: the ratios below mean nothing.\n");
    }
    let _ = writeln!(out, "| id | target | measured | verdict |");
    let _ = writeln!(out, "|---|---|---|---|");
    let mut row = |id: &str, target: &str, measured: String, ok: Option<bool>| {
        let _ = writeln!(out, "| {id} | {target} | {measured} | {} |", verdict(ok));
    };

    let t = ratio(&res.w1, "snow-typed", "raw-bytes");
    row(
        "W1t",
        "snow typed ≤ 1.2× the bytes-only floor",
        show(t, "×"),
        t.map(|x| x <= 1.2),
    );
    let p = ratio(&res.w1, "pysnow", "snow-typed");
    row(
        "W1t",
        "snow typed ≥ 5× faster than pysnow",
        show(p, "× faster"),
        p.map(|x| x >= 5.0),
    );
    let d = ratio(&res.w1, "snow-dynamic", "snow-typed");
    row(
        "W1d",
        "snow dynamic ≤ 1.5× snow typed",
        show(d, "×"),
        d.map(|x| x <= 1.5),
    );

    let mut peaks = Vec::new();
    let mut flat = Vec::new();
    for key in ["snow-typed", "snow-dynamic"] {
        if let (Some(small), Some(big)) = (rss(&res.w1, key), rss(&res.w1_big, key)) {
            peaks.push(small.max(big));
            flat.push((key, small, big));
        }
    }
    let peak = peaks.iter().copied().reduce(f64::max);
    row(
        "W1m",
        "peak RSS ≤ 64 MiB",
        show(peak, " MiB"),
        peak.map(|p| p <= 64.0),
    );
    let flat_text = flat
        .iter()
        .map(|(k, a, b)| format!("{k} {a:.1} → {b:.1} MiB"))
        .collect::<Vec<_>>()
        .join(", ");
    // Flat: within 10 % (allocator noise), whatever the size.
    let flat_ok = (!flat.is_empty()).then(|| flat.iter().all(|(_, a, b)| *b <= a * 1.10));
    row(
        "W1m",
        &format!(
            "flat from {} to {} records (within 10 %)",
            plan.w1, plan.w1_big
        ),
        if flat_text.is_empty() {
            "–".into()
        } else {
            flat_text
        },
        flat_ok,
    );

    let w2t = ratio(&res.w2, "snow-typed", "raw-typed");
    row(
        "W2",
        "snow typed ≤ 1.10× raw typed",
        show(w2t, "×"),
        w2t.map(|x| x <= 1.10),
    );
    let w2d = ratio(&res.w2, "snow-dynamic", "raw-value");
    row(
        "W2",
        "snow dynamic ≤ 1.10× raw `Value`",
        show(w2d, "×"),
        w2d.map(|x| x <= 1.10),
    );

    // Throughput is the inverse of time per request.
    let w3t = ratio(&res.w3, "raw-typed", "snow-typed");
    row(
        "W3",
        "snow typed ≥ 0.90× raw typed throughput",
        show(w3t, "×"),
        w3t.map(|x| x >= 0.90),
    );
    let w3d = ratio(&res.w3, "raw-value", "snow-dynamic");
    row(
        "W3",
        "snow dynamic ≥ 0.90× raw `Value` throughput",
        show(w3d, "×"),
        w3d.map(|x| x >= 0.90),
    );
    let w3a = ratio(&res.w3, "aiosnow", "snow-dynamic");
    row(
        "W3",
        "snow ahead of aiosnow",
        show(w3a, "× faster"),
        w3a.map(|x| x > 1.0),
    );

    let w4 = ratio(&res.w4, "snow-one-at-a-time", "snow-concurrent");
    row(
        "W4",
        "8 pages at a time ≥ 6× one at a time",
        show(w4, "×"),
        w4.map(|x| x >= 6.0),
    );

    let all_ok =
        find(&res.w5, "snow-oauth").map(|s| s.samples.iter().all(|x| x.count == plan.w5 as u64));
    let one_refresh =
        (!res.w5_grants.is_empty()).then(|| res.w5_grants.iter().all(|&(r, _)| r == 1));
    let grants = res
        .w5_grants
        .iter()
        .map(|(r, _)| r.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    row(
        "W5",
        "exactly one refresh grant per run; all requests succeed",
        format!("refresh grants per run: {grants}"),
        match (all_ok, one_refresh) {
            (Some(a), Some(b)) => Some(a && b),
            _ => None,
        },
    );
    let _ = writeln!(out);
}
