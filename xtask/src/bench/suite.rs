//! The side-by-side workloads W1–W5 (`benches/`): snow against the raw hyper floor and the
//! Python peers, run by the `snow-bench` program, which starts the dev instance and every
//! contender as processes of their own. This file builds it and runs it: in release for
//! `cargo xtask bench`, and at smoke size on the debug build for `cargo xtask ci`.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::Plan;
use crate::{Result, cargo, root, run};

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// Builds `snow-bench`, `bench-worker` and `snow-devinstance` with `profile_args`.
fn build(step: &str, profile_args: &[&str]) -> Result {
    run(
        step,
        cargo()
            .args(["build", "--locked"])
            .args(profile_args)
            .args(["-p", "snow-bench", "--bins", "-p", "snow-devinstance"])
            .args(["--bin", "snow-devinstance"]),
    )
}

/// `snow-bench` in `bin_dir`, its virtualenv for the peers under the target directory.
fn command(bin_dir: &Path, peers: bool) -> Command {
    let mut cmd = Command::new(bin_dir.join("snow-bench"));
    cmd.current_dir(root()).arg("--bin-dir").arg(bin_dir);
    if peers {
        cmd.arg("--venv").arg(target_dir().join("bench-venv"));
    } else {
        cmd.arg("--no-peers");
    }
    cmd
}

/// The workloads of `workloads` (`w1`…`w5`), in release; the report and the W1 chart are
/// written under `target/bench/` (copy the chart to `docs/` to publish it).
pub(super) fn suite(plan: &Plan, workloads: &[&str]) -> Result {
    build("build (release)", &["--release"])?;
    let out = target_dir().join("bench");
    std::fs::create_dir_all(&out).map_err(|e| format!("{}: {e}", out.display()))?;
    let mut cmd = command(&target_dir().join("release"), plan.peers);
    cmd.arg("--only").arg(workloads.join(","));
    cmd.arg("--report").arg(out.join("report.md"));
    cmd.arg("--chart").arg(out.join("w1.svg"));
    if plan.quick {
        cmd.arg("--smoke");
    }
    if let Some(reps) = plan.reps_given {
        cmd.args(["--reps", &reps.to_string()]);
    }
    run("workloads W1–W5", &mut cmd)
}

/// CI: every workload once at smoke size, peers included, on the debug build the test step
/// has just made (no ratio means anything there; it must complete).
pub(crate) fn smoke() -> Result {
    build("build bench (debug)", &[])?;
    let mut cmd = command(&target_dir().join("debug"), true);
    cmd.arg("--smoke");
    run("bench smoke (W1–W5, peers)", &mut cmd)
}
