//! The `snow export` benchmark: the command against the library's own streaming of the same
//! records, and its peak memory as the table grows.
//!
//! `snow` runs as its own process; its wall time is measured around the process (start-up,
//! the count request and writing the file included) and its peak RSS is read from
//! `/proc/<pid>/status` (`VmHWM`, a high-water mark) every 10 ms while it runs.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::{Instance, Plan, json_number, med_spread, median, output, release_dir};
use crate::Result;

/// Wall seconds and peak RSS (MiB) of one `snow export` run, after checking the file holds
/// `records` lines.
fn export_run(url: &str, records: u64, parallel: u32, out: &Path) -> Result<(f64, f64)> {
    let _ = std::fs::remove_file(out);
    let started = Instant::now();
    let mut child = Command::new(release_dir().join("snow"))
        .args([
            "--url",
            url,
            "-u",
            "admin",
            "export",
            "incident",
            "--page-size",
            "10000",
        ])
        .args(["--parallel", &parallel.to_string(), "--output"])
        .arg(out)
        .env("SNOW_PASSWORD", "admin")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("could not start snow: {e}"))?;
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Some(s) = child.try_wait().map_err(|e| e.to_string())? {
            break s;
        }
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kib) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_kib = peak_kib.max(kib);
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let wall = started.elapsed().as_secs_f64();
    if !status.success() {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = std::io::Read::read_to_string(&mut e, &mut err);
        }
        return Err(format!("snow export failed: {}", err.trim()));
    }
    let lines = std::fs::read(out)
        .map_err(|e| format!("{}: {e}", out.display()))?
        .iter()
        .filter(|b| **b == b'\n')
        .count() as u64;
    if lines != records {
        return Err(format!(
            "snow export wrote {lines} records, expected {records}"
        ));
    }
    Ok((wall, peak_kib as f64 / 1024.0))
}

/// The library's streaming of `records` records with bench_stream (`flags`): wall seconds.
fn library_run(url: &str, records: u64, flags: &[&str]) -> Result<f64> {
    let out = output(
        Command::new(release_dir().join("examples/bench_stream"))
            .args([
                "--url",
                url,
                "--records",
                &records.to_string(),
                "--page",
                "10000",
            ])
            .args(flags),
    )?;
    let line = out
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_default();
    let got = json_number(line, "records").unwrap_or(0.0) as u64;
    if got != records {
        return Err(format!(
            "bench_stream {flags:?}: {got} records, expected {records}"
        ));
    }
    Ok(json_number(line, "wall_ms").unwrap_or(f64::NAN) / 1000.0)
}

/// Runs the export benchmark and prints its tables.
pub(crate) fn export(plan: &Plan) -> Result {
    let dir = std::env::temp_dir().join(format!("snow-bench-export-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let out = dir.join("incidents.jsonl");
    let result = tables(plan, &out);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tables(plan: &Plan, out: &Path) -> Result {
    let inst = Instance::start(plan.small)?;
    eprintln!(
        "==> export: {} records seeded in {:.1}s",
        plan.small,
        inst.seed_time.as_secs_f64()
    );
    let n = plan.small;
    let baselines: [(&str, &[&str]); 3] = [
        (
            "library `stream::<Box<RawValue>>()` (offset pages)",
            &["--raw-json"],
        ),
        (
            "library `stream::<Box<RawValue>>()` (keyset pages)",
            &["--raw-json", "--keyset"],
        ),
        ("library `stream::<Record>()` (offset pages)", &[]),
    ];
    let mut lib = Vec::new();
    for (label, flags) in baselines {
        let mut walls = Vec::new();
        for i in 0..plan.reps {
            eprintln!("==> export: {label} run {}/{}", i + 1, plan.reps);
            walls.push(library_run(&inst.url, n, flags)?);
        }
        lib.push((label, walls));
    }
    let mut cli = Vec::new();
    for parallel in [1u32, 2, 4] {
        let (mut walls, mut rss) = (Vec::new(), Vec::new());
        for i in 0..plan.reps {
            eprintln!(
                "==> export: snow export --parallel {parallel} run {}/{}",
                i + 1,
                plan.reps
            );
            let (w, r) = export_run(&inst.url, n, parallel, out)?;
            walls.push(w);
            rss.push(r);
        }
        cli.push((parallel, walls, rss));
    }
    drop(inst);
    println!(
        "## `snow export` of {n} incidents to JSONL (pages of 10,000; median (min–max) of {})\n",
        plan.reps
    );
    println!("| what | wall s | records/s | peak RSS MiB |");
    println!("|---|---|---|---|");
    for (label, walls) in &lib {
        let rate: Vec<f64> = walls.iter().map(|w| n as f64 / w).collect();
        println!(
            "| {label} | {} | {} | |",
            med_spread(walls, 2),
            med_spread(&rate, 0)
        );
    }
    for (parallel, walls, rss) in &cli {
        let rate: Vec<f64> = walls.iter().map(|w| n as f64 / w).collect();
        println!(
            "| `snow export --parallel {parallel}` (whole process, file written) | {} | {} | {} |",
            med_spread(walls, 2),
            med_spread(&rate, 0),
            med_spread(rss, 1)
        );
    }
    let p1 = median(&cli[0].1);
    println!();
    println!(
        "- `snow export --parallel 1` / library streaming: {:.2}× the raw-JSON stream (offset), {:.2}× (keyset), {:.2}× the `Record` stream (target ≤ 1.3×)",
        p1 / median(&lib[0].1),
        p1 / median(&lib[1].1),
        p1 / median(&lib[2].1),
    );
    println!();

    // Memory as the table grows.
    let inst = Instance::start(plan.big)?;
    eprintln!(
        "==> export: {} records seeded in {:.1}s",
        plan.big,
        inst.seed_time.as_secs_f64()
    );
    println!(
        "## `snow export` peak RSS from {n} to {} records (1 run at the larger size)\n",
        plan.big
    );
    println!("| parallel | records | wall s | peak RSS MiB |");
    println!("|---|---|---|---|");
    for (parallel, walls, rss) in cli.iter().filter(|c| c.0 != 2) {
        let (w, r) = export_run(&inst.url, plan.big, *parallel, out)?;
        println!(
            "| {parallel} | {n} | {} | {} |",
            med_spread(walls, 2),
            med_spread(rss, 1)
        );
        println!("| {parallel} | {} | {w:.2} | {r:.1} |", plan.big);
    }
    println!();
    Ok(())
}
