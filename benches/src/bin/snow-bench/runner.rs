//! Running contenders: each run is its own process (a `bench-worker` or a Python peer) that
//! reports one JSON line; contenders take turns (A B C A B C ...) so that a change in the
//! machine's load falls on all of them alike.

use std::path::PathBuf;
use std::process::Command;

use crate::Result;

/// What runs a contender.
#[derive(Debug, Clone)]
pub(crate) enum Program {
    /// `bench-worker WORKLOAD CONTENDER ...`.
    Worker(&'static str),
    /// `python PEERS/SCRIPT WORKLOAD ...`.
    Python(&'static str),
}

/// One contender of a workload.
#[derive(Debug, Clone)]
pub(crate) struct Contender {
    /// Short name, used in ratio tables (`snow-typed`, `raw-bytes`, `pysnow`...).
    pub(crate) key: &'static str,
    pub(crate) program: Program,
    /// Arguments of this contender only (sizes differ for the slow peers).
    pub(crate) args: Vec<String>,
    /// Records or requests the run must report.
    pub(crate) expected: u64,
}

impl Contender {
    pub(crate) fn worker(key: &'static str, contender: &'static str, expected: u64) -> Self {
        Self {
            key,
            program: Program::Worker(contender),
            args: Vec::new(),
            expected,
        }
    }

    pub(crate) fn python(key: &'static str, script: &'static str, expected: u64) -> Self {
        Self {
            key,
            program: Program::Python(script),
            args: Vec::new(),
            expected,
        }
    }

    pub(crate) fn arg(mut self, flag: &str, value: impl ToString) -> Self {
        self.args.push(flag.to_owned());
        self.args.push(value.to_string());
        self
    }
}

/// One run's report.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) wall_s: f64,
    pub(crate) count: u64,
    pub(crate) rss_mib: f64,
    pub(crate) first_ms: Option<f64>,
}

impl Sample {
    /// Records or requests per second.
    pub(crate) fn rate(&self) -> f64 {
        self.count as f64 / self.wall_s
    }
}

/// Every timed run of one contender.
#[derive(Debug, Clone)]
pub(crate) struct Series {
    pub(crate) key: &'static str,
    pub(crate) samples: Vec<Sample>,
}

/// Where the programs are.
#[derive(Debug, Clone)]
pub(crate) struct Programs {
    pub(crate) worker: PathBuf,
    /// The virtualenv's python, when the peers are installed.
    pub(crate) python: Option<PathBuf>,
    pub(crate) peers: PathBuf,
}

impl Programs {
    fn command(&self, workload: &str, url: &str, c: &Contender) -> Result<Command> {
        let mut cmd = match &c.program {
            Program::Worker(name) => {
                let mut cmd = Command::new(&self.worker);
                cmd.args([workload, name]);
                cmd
            }
            Program::Python(script) => {
                let python = self
                    .python
                    .as_ref()
                    .ok_or_else(|| format!("{}: the Python peers are not installed", c.key))?;
                let mut cmd = Command::new(python);
                cmd.arg(self.peers.join(script)).arg(workload);
                cmd
            }
        };
        cmd.args(["--url", url]).args(&c.args);
        Ok(cmd)
    }

    /// Runs `c` once (in round `round`, counting the warm-up, which the worker sees as
    /// `SNOW_BENCH_ROUND`) and checks what it reports.
    pub(crate) fn run_once(
        &self,
        workload: &str,
        url: &str,
        c: &Contender,
        round: usize,
    ) -> Result<Sample> {
        let mut cmd = self.command(workload, url, c)?;
        cmd.env("SNOW_BENCH_ROUND", round.to_string());
        let out = cmd.output().map_err(|e| format!("{}: {e}", c.key))?;
        if !out.status.success() {
            return Err(format!(
                "{workload} {}: {} {}",
                c.key,
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let line = stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .ok_or_else(|| format!("{workload} {}: no result line", c.key))?;
        let v: serde_json::Value =
            serde_json::from_str(line).map_err(|e| format!("{workload} {}: {e}", c.key))?;
        let num = |k: &str| v[k].as_f64();
        let count = v["count"].as_u64().unwrap_or(0);
        let check = v["check"].as_u64().unwrap_or(0);
        if count != c.expected || check != count {
            return Err(format!(
                "{workload} {}: {count} records or requests ({check} checked), expected {}",
                c.key, c.expected
            ));
        }
        Ok(Sample {
            wall_s: num("wall_ms").unwrap_or(f64::NAN) / 1000.0,
            count,
            rss_mib: num("peak_rss_kib").unwrap_or(f64::NAN) / 1024.0,
            first_ms: num("first_ms"),
        })
    }

    /// One untimed warm-up run of each contender (when `warm_up`), then `reps` rounds in which
    /// every contender runs once, in turn. `after` sees each timed sample (checks between
    /// runs, like the grants of W5).
    pub(crate) fn rounds(
        &self,
        workload: &str,
        url: &str,
        contenders: &[Contender],
        warm_up: bool,
        reps: usize,
        after: &mut dyn FnMut(&Contender, &Sample) -> Result,
    ) -> Result<Vec<Series>> {
        let mut series: Vec<Series> = contenders
            .iter()
            .map(|c| Series {
                key: c.key,
                samples: Vec::new(),
            })
            .collect();
        let total = reps + usize::from(warm_up);
        for round in 0..total {
            let timed = !warm_up || round > 0;
            for (c, s) in contenders.iter().zip(&mut series) {
                eprintln!(
                    "==> {workload} {} ({} {}/{})",
                    c.key,
                    if timed { "run" } else { "warm-up" },
                    if timed {
                        round + usize::from(!warm_up)
                    } else {
                        0
                    },
                    reps
                );
                let sample = self.run_once(workload, url, c, round)?;
                after(c, &sample)?;
                if timed {
                    s.samples.push(sample);
                }
            }
        }
        Ok(series)
    }
}
