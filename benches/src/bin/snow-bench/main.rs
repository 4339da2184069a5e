//! `snow-bench`: the benchmarks of `docs/benchmarks.md` (run them with `cargo xtask bench`).
//!
//! Starts the release dev instance once, in its own process, on loopback; runs every
//! contender of every workload as its own process (`bench-worker` for snow and the raw hyper
//! floor, the Python peers from a virtualenv), alternating contenders, after a warm-up; prints
//! the results, every ratio and the targets as markdown, and draws the W1 chart.
//!
//! ```text
//! snow-bench [--smoke] [--reps N] [--only w1,w2,w3,w4,w5] [--bin-dir DIR] [--venv DIR]
//!            [--no-install] [--no-peers] [--chart FILE.svg] [--report FILE.md]
//! ```
//!
//! `--smoke` runs every workload at a small size once, without warm-up (CI: it must complete;
//! no ratio means anything at that size). `--no-install` uses the virtualenv as it is (peers
//! missing from it are skipped); `--no-peers` runs no Python.

mod chart;
mod instance;
mod peers;
mod plan;
mod report;
mod runner;
mod targets;
mod workloads;

use std::path::PathBuf;
use std::time::Instant;

type Result<T = ()> = std::result::Result<T, String>;

/// Command-line settings.
#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) smoke: bool,
    pub(crate) reps: Option<usize>,
    pub(crate) only: Option<Vec<String>>,
    pub(crate) bin_dir: PathBuf,
    pub(crate) venv: Option<PathBuf>,
    pub(crate) install: bool,
    pub(crate) peers: bool,
    pub(crate) chart: Option<PathBuf>,
    pub(crate) report: Option<PathBuf>,
}

fn options() -> Result<Options> {
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|p| p.parent().map(PathBuf::from))
        .unwrap_or_default();
    let mut o = Options {
        smoke: false,
        reps: None,
        only: None,
        bin_dir: exe_dir,
        venv: None,
        install: true,
        peers: true,
        chart: None,
        report: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--smoke" => o.smoke = true,
            "--no-install" => o.install = false,
            "--no-peers" => o.peers = false,
            "--reps" => {
                let n: usize = value()?.parse().map_err(|e| format!("--reps: {e}"))?;
                o.reps = Some(n.max(1));
            }
            "--only" => {
                o.only = Some(
                    value()?
                        .split(',')
                        .map(|s| s.trim().to_lowercase())
                        .collect(),
                );
            }
            "--bin-dir" => o.bin_dir = PathBuf::from(value()?),
            "--venv" => o.venv = Some(PathBuf::from(value()?)),
            "--chart" => o.chart = Some(PathBuf::from(value()?)),
            "--report" => o.report = Some(PathBuf::from(value()?)),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(o)
}

/// Cores, memory and load average, for the record.
pub(crate) fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:").map(|v| v.trim().to_owned()))
        })
        .unwrap_or_else(|| "?".into());
    format!("{cores} cores, {mem} memory, load average {}", load())
}

/// The 1, 5 and 15 minute load averages.
pub(crate) fn load() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn main() -> std::process::ExitCode {
    let started = Instant::now();
    let result = options().and_then(|o| workloads::run_all(&o));
    match result {
        Ok(()) => {
            eprintln!(
                "\nsnow-bench: done in {:.0} s",
                started.elapsed().as_secs_f64()
            );
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("snow-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
