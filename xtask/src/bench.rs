//! `cargo xtask bench [--quick] [--reps N] [--big N] [--only SECTIONS] [--no-peers]`: the
//! benchmarks of `docs/benchmarks.md`.
//!
//! Everything runs as separate release processes so that each figure belongs to one program:
//! the `snow-devinstance` binary serves, the `load` example of snow-devinstance measures serving
//! speed, the `snow-bench` program of `benches/` runs the side-by-side workloads W1–W5 (snow,
//! the raw hyper floor and the Python peers, see `suite.rs`), the `bench_stream` example of
//! snow streams pages for the export comparison, and the `snow` binary exports (`export.rs`).
//! Results are printed as markdown tables.
//!
//! `--only` takes a comma-separated list of sections: `serving`, `w1`…`w5` (or `suite` for all
//! five), `export`, and `streaming` (the first client-streaming comparison, superseded by W1
//! and run only when named). Without it: serving, W1–W5 and export.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::{Result, cargo, root, run};

mod export;
pub(crate) mod suite;

/// What one run is asked to do.
struct Plan {
    /// Records of the instance serving the 200k comparison (and the serving benchmark).
    small: u64,
    /// Records streamed in the comparison.
    stream: u64,
    /// Records of the instance for the flatness check (every record is streamed).
    big: u64,
    reps: usize,
    /// `--reps` as given, for the suite (which has its own default).
    reps_given: Option<usize>,
    quick: bool,
    peers: bool,
}

/// The sections `--only` names.
const SECTIONS: [&str; 9] = [
    "serving",
    "streaming",
    "suite",
    "w1",
    "w2",
    "w3",
    "w4",
    "w5",
    "export",
];

/// Entry point, with the arguments after `bench`.
pub(crate) fn bench(args: &[String]) -> Result {
    let quick = args.iter().any(|a| a == "--quick");
    let mut only: Option<Vec<String>> = None;
    let mut plan = if quick {
        Plan {
            small: 20_000,
            stream: 20_000,
            big: 50_000,
            reps: 1,
            reps_given: None,
            quick,
            peers: true,
        }
    } else {
        Plan {
            small: 200_000,
            stream: 200_000,
            big: 1_000_000,
            reps: 3,
            reps_given: None,
            quick,
            peers: true,
        }
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<u64> {
            it.next()
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--quick" => {}
            "--no-peers" => plan.peers = false,
            "--reps" => {
                plan.reps = usize::try_from(num("--reps")?.max(1)).unwrap_or(1);
                plan.reps_given = Some(plan.reps);
            }
            "--big" => plan.big = num("--big")?,
            "--only" => {
                let list: Vec<String> = it
                    .next()
                    .ok_or("--only needs a list of sections")?
                    .split(',')
                    .map(|s| s.trim().to_lowercase())
                    .collect();
                if let Some(bad) = list.iter().find(|s| !SECTIONS.contains(&s.as_str())) {
                    return Err(format!(
                        "--only: no section {bad:?} (sections: {})",
                        SECTIONS.join(", ")
                    ));
                }
                only = Some(list);
            }
            other => return Err(format!("bench: unknown argument {other:?}")),
        }
    }
    let named = |section: &str| {
        only.as_ref()
            .is_some_and(|o| o.iter().any(|s| s == section))
    };
    let wanted = |section: &str| only.is_none() || named(section);
    let workloads: Vec<&str> = ["w1", "w2", "w3", "w4", "w5"]
        .into_iter()
        .filter(|w| only.is_none() || named("suite") || named(w))
        .collect();
    let started = Instant::now();
    if wanted("serving") || named("streaming") || wanted("export") {
        run(
            "build (release)",
            cargo().args([
                "build",
                "--release",
                "-p",
                "snow-devinstance",
                "--bin",
                "snow-devinstance",
                "--example",
                "load",
            ]),
        )?;
    }
    if named("streaming") || wanted("export") {
        run(
            "build (release)",
            cargo().args([
                "build",
                "--release",
                "-p",
                "snow-client",
                "--example",
                "bench_stream",
            ]),
        )?;
    }
    if wanted("export") {
        run(
            "build (release)",
            cargo().args(["build", "--release", "-p", "snow-cli", "--bin", "snow"]),
        )?;
    }

    println!("# snow benchmarks{}\n", if quick { " (quick)" } else { "" });
    println!("machine: {}\n", machine());
    if wanted("serving") {
        serving(&plan, quick)?;
    }
    if named("streaming") {
        streaming(&plan)?;
    }
    if !workloads.is_empty() {
        suite::suite(&plan, &workloads)?;
    }
    if wanted("export") {
        export::export(&plan)?;
    }
    eprintln!("\nbench: done in {:.0}s", started.elapsed().as_secs_f64());
    Ok(())
}

fn release_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| root().join("target"), PathBuf::from)
        .join("release")
}

/// Cores, memory and load average, for the record.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_owned()))
        })
        .unwrap_or_else(|| "?".into());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load: Vec<&str> = load.split_whitespace().take(3).collect();
    format!(
        "{cores} cores, {mem} memory, load average {} at start",
        load.join(" ")
    )
}

/// A dev instance binary running in its own process; killed when dropped.
struct Instance {
    child: Child,
    url: String,
    seed_time: Duration,
}

impl Instance {
    fn start(records: u64) -> Result<Self> {
        let started = Instant::now();
        let mut child = Command::new(release_dir().join("snow-devinstance"))
            .args(["--port", "0", "--records", &records.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start snow-devinstance: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or("snow-devinstance has no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let mut inst = Instance {
            child,
            url: String::new(),
            seed_time: Duration::ZERO,
        };
        let line = rx.recv_timeout(Duration::from_secs(600)).map_err(|_| {
            format!("snow-devinstance did not start within 600 s ({records} records)")
        })?;
        inst.url = line.trim().to_owned();
        if !inst.url.starts_with("http") {
            return Err(format!(
                "snow-devinstance printed {line:?} instead of its URL"
            ));
        }
        inst.seed_time = started.elapsed();
        Ok(inst)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a program and returns its standard output; fails with its standard error.
fn output(cmd: &mut Command) -> Result<String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `key=value` pairs of the line starting with `result `.
fn key_values(out: &str) -> Vec<(String, f64)> {
    out.lines()
        .filter_map(|l| l.strip_prefix("result "))
        .flat_map(|l| l.split_whitespace())
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| v.parse().ok().map(|v| (k.to_owned(), v)))
        .collect()
}

/// A number member of a one-line JSON object (flat, as bench_stream prints).
fn json_number(line: &str, key: &str) -> Option<f64> {
    let pat = format!("\"{key}\":");
    let rest = &line[line.find(&pat)? + pat.len()..];
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    rest[..end].trim().parse().ok()
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Median with the spread (min–max) when there are several values.
fn med_spread(v: &[f64], digits: usize) -> String {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    match (s.first(), s.last()) {
        (Some(lo), Some(hi)) if s.len() > 1 => {
            format!("{:.digits$} ({lo:.digits$}–{hi:.digits$})", median(&s))
        }
        _ => format!("{:.digits$}", median(&s)),
    }
}

fn serving(plan: &Plan, quick: bool) -> Result {
    let inst = Instance::start(plan.small)?;
    eprintln!(
        "==> serving: {} records seeded in {:.1}s at {}",
        plan.small,
        inst.seed_time.as_secs_f64(),
        inst.url
    );
    let mut rows: Vec<Vec<(String, f64)>> = Vec::new();
    for i in 0..plan.reps {
        eprintln!("==> serving: load run {}/{}", i + 1, plan.reps);
        let mut cmd = Command::new(release_dir().join("examples/load"));
        cmd.arg(plan.small.to_string()).args(["--url", &inst.url]);
        if quick {
            cmd.arg("--quick");
        }
        rows.push(key_values(&output(&mut cmd)?));
    }
    let col = |k: &str| -> Vec<f64> {
        rows.iter()
            .filter_map(|r| r.iter().find(|(n, _)| n == k).map(|(_, v)| *v))
            .collect()
    };
    println!(
        "## Dev instance serving ({} incidents, load tool: plain hyper client, separate process)\n",
        plan.small
    );
    println!("| measure | median (min–max of {} runs) |", plan.reps);
    println!("|---|---|");
    println!(
        "| single-record GET, 8 keep-alive connections (req/s) | {} |",
        med_spread(&col("get_rps"), 0)
    );
    println!(
        "| 10,000-record pages, sequential (pages/s) | {} |",
        med_spread(&col("pages_per_s"), 2)
    );
    println!(
        "| 10,000-record pages, 2 at a time (pages/s) | {} |",
        med_spread(&col("pages_per_s_2"), 2)
    );
    println!(
        "| ms per 10,000-record page, default order (median) | {} |",
        med_spread(&col("page_ms_median"), 1)
    );
    println!(
        "| ms per 10,000-record page, `ORDERBYsys_id` (median) | {} |",
        med_spread(&col("ordered_page_ms_median"), 1)
    );
    println!(
        "| bytes per 10,000-record page | {} |",
        med_spread(&col("page_bytes"), 0)
    );
    println!();
    Ok(())
}

/// One bench_stream configuration.
struct Config {
    label: &'static str,
    flags: &'static [&'static str],
}

const CONFIGS: [Config; 4] = [
    Config {
        label: "snow `stream::<Record>()`",
        flags: &[],
    },
    Config {
        label: "snow `stream::<Incident>()` (typed)",
        flags: &["--typed"],
    },
    Config {
        label: "raw hyper + serde_json → `Value`",
        flags: &["--raw"],
    },
    Config {
        label: "raw hyper + serde_json → `Incident`",
        flags: &["--raw", "--typed"],
    },
];

/// Wall seconds and peak RSS (MiB) of each run of one configuration.
fn stream_runs(url: &str, records: u64, cfg: &Config, reps: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    let (mut wall, mut rss) = (Vec::new(), Vec::new());
    for i in 0..reps {
        eprintln!(
            "==> streaming {records}: {} run {}/{reps}",
            cfg.label,
            i + 1
        );
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
                .args(cfg.flags),
        )?;
        let line = out
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .unwrap_or_default();
        let got = json_number(line, "records").unwrap_or(0.0);
        if got as u64 != records {
            return Err(format!(
                "{}: streamed {got} records, expected {records}",
                cfg.label
            ));
        }
        wall.push(json_number(line, "wall_ms").unwrap_or(f64::NAN) / 1000.0);
        rss.push(json_number(line, "peak_rss_kib").unwrap_or(f64::NAN) / 1024.0);
    }
    Ok((wall, rss))
}

fn streaming(plan: &Plan) -> Result {
    // The comparison: every configuration, `reps` times, in the same instance.
    let inst = Instance::start(plan.small)?;
    eprintln!(
        "==> streaming: {} records seeded in {:.1}s",
        plan.small,
        inst.seed_time.as_secs_f64()
    );
    let mut results = Vec::new();
    for cfg in &CONFIGS {
        results.push(stream_runs(&inst.url, plan.stream, cfg, plan.reps)?);
    }
    drop(inst);
    println!(
        "## Client streaming: {} incidents in pages of 10,000 (each run its own process; median (min–max) of {})\n",
        plan.stream, plan.reps
    );
    println!("| client | wall s | records/s | peak RSS MiB |");
    println!("|---|---|---|---|");
    for (cfg, (wall, rss)) in CONFIGS.iter().zip(&results) {
        let rate: Vec<f64> = wall.iter().map(|w| plan.stream as f64 / w).collect();
        println!(
            "| {} | {} | {} | {} |",
            cfg.label,
            med_spread(wall, 2),
            med_spread(&rate, 0),
            med_spread(rss, 1)
        );
    }
    let ratio = |a: usize, b: usize| median(&results[a].0) / median(&results[b].0);
    println!();
    println!(
        "- wall time, snow / raw: dynamic records {:.2}×, typed {:.2}× (target ≤ 1.2×)",
        ratio(0, 2),
        ratio(1, 3)
    );
    println!(
        "- snow peak RSS: {:.1} MiB (Record), {:.1} MiB (typed) (target ≤ 64 MiB)",
        median(&results[0].1),
        median(&results[1].1)
    );
    println!();

    // Flatness: all of a much larger table, snow's client only (it is the one with the target).
    let inst = Instance::start(plan.big)?;
    eprintln!(
        "==> streaming: {} records seeded in {:.1}s",
        plan.big,
        inst.seed_time.as_secs_f64()
    );
    println!(
        "## Client peak RSS from {} to {} records (instance of {} seeded in {:.0} s; 1 run each)\n",
        plan.stream,
        plan.big,
        plan.big,
        inst.seed_time.as_secs_f64()
    );
    println!("| client | records | wall s | peak RSS MiB |");
    println!("|---|---|---|---|");
    for (cfg, small) in CONFIGS.iter().zip(&results).take(2) {
        let (wall, rss) = stream_runs(&inst.url, plan.big, cfg, 1)?;
        println!(
            "| {} | {} | {} | {} |",
            cfg.label,
            plan.stream,
            med_spread(&small.0, 2),
            med_spread(&small.1, 1)
        );
        println!(
            "| {} | {} | {} | {} |",
            cfg.label,
            plan.big,
            med_spread(&wall, 2),
            med_spread(&rss, 1)
        );
    }
    println!();
    Ok(())
}
