//! `cargo xtask <command>`: project automation for snow, with no dependencies beyond std.
//!
//! - `ci`: everything CI checks, in the order a failure is cheapest to find: formatting, the
//!   dependency rules and `rust-version` (from `cargo metadata`), lints of the whole workspace
//!   and of every feature set a user can pick, the docs, the whole test suite (unit,
//!   integration, end-to-end, doc tests), the peer check that runs pysnow against the dev
//!   instance, a smoke run of every benchmark workload, and packaging with verification. It prints each step's time and the total.
//! - `demo`: the main job, `snow demo` (release build): a dev instance started in process and
//!   the `snow` command's tour against it.
//! - `peer`: only the pysnow peer check.
//! - `rules`: only the dependency rules and the `rust-version` check.
//! - `package`: only packaging with verification (see `package.rs`).
//! - `bench [--quick] [--only SECTIONS]`: the benchmarks of `docs/benchmarks.md` (see `bench.rs`).

mod bench;
mod json;
mod metadata;
mod package;
mod rules;

use metadata::Workspace;
use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Mutex;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("demo") => demo(),
        Some("peer") => peer(false),
        Some("rules") => Workspace::load().and_then(|ws| dependency_rules(&ws)),
        Some("package") => Workspace::load().and_then(|ws| package::package(&ws)),
        Some("bench") => bench::bench(&args[1..]),
        Some("soak") => soak(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <ci|demo|peer|rules|package|bench|soak>");
            eprintln!(
                "  ci    formatting, dependency rules, clippy (every feature set), docs, every test,"
            );
            eprintln!("        the pysnow peer check, the benchmark smoke run, packaging");
            eprintln!("  demo  the main job: `snow demo` against an instance started in process");
            eprintln!("  peer  run pysnow 0.7.17 against a fresh dev instance");
            eprintln!("  rules only the dependency rules and the rust-version check");
            eprintln!("  package  only packaging with verification, and the license files");
            eprintln!(
                "  bench [--quick] [--reps N] [--big N] [--no-peers] [--only serving,w1,..,w5,suite,export,streaming]"
            );
            eprintln!(
                "  soak [--minutes N]  the fault soak (32 workers, 5 % faults, ledger check) for N minutes"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn root() -> PathBuf {
    // xtask/ sits directly under the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

fn cargo() -> Command {
    let mut c = Command::new(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(root());
    c
}

/// Each finished step: its name, wall-clock seconds and, where the system tells, CPU seconds.
static STEPS: Mutex<Vec<(String, f64, Option<f64>)>> = Mutex::new(Vec::new());

/// CPU seconds used so far by the child processes this one has waited for (Linux only).
/// On a shared machine this says more about a step's cost than its wall-clock time.
fn children_cpu_secs() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces; the
    // children's user and system times are fields 16 and 17, in clock ticks (100 a second).
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields.get(13)?.parse::<u64>().ok()? + fields.get(14)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Run a step, echoing its duration and recording it for the summary.
fn timed<T>(step: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let start = Instant::now();
    let cpu_start = children_cpu_secs();
    let result = f();
    let secs = start.elapsed().as_secs_f64();
    let cpu = children_cpu_secs()
        .zip(cpu_start)
        .map(|(end, start)| end - start);
    eprintln!(
        "<== {step}: {} in {secs:.1}s",
        if result.is_ok() { "ok" } else { "FAILED" },
    );
    if let Ok(mut steps) = STEPS.lock() {
        steps.push((step.to_owned(), secs, cpu));
    }
    result
}

/// Run a command as a step, echoing it and its duration; fail if it fails.
fn run(step: &str, cmd: &mut Command) -> Result {
    eprintln!("\n==> {step}: {cmd:?}");
    timed(step, || {
        let status = cmd
            .status()
            .map_err(|e| format!("{step}: could not start: {e}"))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("{step} failed ({status})"))
        }
    })
}

fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Every check, then each step's time and the total, whether the checks passed or not.
fn ci() -> Result {
    let start = Instant::now();
    let result = ci_steps();
    eprintln!("\nci: step times");
    for (step, secs, cpu) in STEPS.lock().map(|s| s.clone()).unwrap_or_default() {
        match cpu {
            Some(cpu) => eprintln!("  {secs:7.1}s  (CPU {cpu:7.1}s)  {step}"),
            None => eprintln!("  {secs:7.1}s  {step}"),
        }
    }
    let total = start.elapsed().as_secs_f64();
    match &result {
        Ok(()) => eprintln!("\nci: all checks passed in {total:.0}s"),
        Err(_) => eprintln!("\nci: FAILED after {total:.0}s"),
    }
    result
}

fn ci_steps() -> Result {
    run("format", cargo().args(["fmt", "--all", "--", "--check"]))?;
    eprintln!("\n==> dependency rules and rust-version, from cargo metadata");
    let ws = timed("dependency rules", || {
        let ws = Workspace::load()?;
        dependency_rules(&ws)?;
        Ok(ws)
    })?;
    run(
        "clippy",
        cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--all-features",
            "--locked",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    // Every feature set a user can pick builds and lints on its own. The libraries only:
    // tests and examples are built with all features by the test step.
    for (package, features) in rules::feature_combinations(&ws) {
        run(
            &format!("clippy {package} {}", features.join(" ")),
            cargo()
                .args(["clippy", "--locked", "-p", &package])
                .args(&features)
                .args(["--", "-D", "warnings"]),
        )?;
    }
    run(
        "docs",
        cargo()
            .args([
                "doc",
                "--workspace",
                "--no-deps",
                "--all-features",
                "--locked",
            ])
            .env("RUSTDOCFLAGS", "-D warnings"),
    )?;
    if has_nextest() {
        run(
            "tests",
            cargo().args([
                "nextest",
                "run",
                "--workspace",
                "--all-features",
                "--locked",
                "--no-fail-fast",
            ]),
        )?;
    } else {
        run(
            "tests",
            cargo().args([
                "test",
                "--workspace",
                "--all-features",
                "--locked",
                "--lib",
                "--bins",
                "--tests",
                "--examples",
            ]),
        )?;
    }
    run(
        "doc tests",
        cargo().args(["test", "--workspace", "--all-features", "--locked", "--doc"]),
    )?;
    // Right after the tests, whose build of the dev instance binary it reuses.
    peer(true)?;
    // Every benchmark workload once at a small size (it must complete; no ratio is judged).
    bench::suite::smoke()?;
    package::package(&ws)
}

/// The layering rules of `docs/architecture.md` and the truth of `rust-version`.
fn dependency_rules(ws: &Workspace) -> Result {
    let failures: Vec<String> = [
        rules::layering(ws),
        rules::rust_version(ws),
        rules::licenses(ws),
    ]
    .into_iter()
    .filter_map(std::result::Result::err)
    .collect();
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures.join("\n"))
    }
}

fn peer(reuse_binary: bool) -> Result {
    let script = root().join("crates/snow-devinstance/tests/peer/run.sh");
    if !script.exists() {
        return Err("crates/snow-devinstance/tests/peer/run.sh is missing".into());
    }
    let mut cmd = Command::new("bash");
    cmd.arg(script).current_dir(root());
    // The test step has just built the dev instance binary (its own tests run it); reuse it
    // rather than building it again with another feature set.
    let target = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target"));
    let bin = target.join("debug").join("snow-devinstance");
    if reuse_binary && bin.exists() {
        cmd.env("SNOW_DEVINSTANCE_BIN", bin);
    }
    run("pysnow peer check", &mut cmd)
}

fn demo() -> Result {
    run(
        "demo",
        cargo().args([
            "run",
            "--release",
            "--locked",
            "-p",
            "snow-cli",
            "--",
            "demo",
        ]),
    )
}

/// The fault soak of `tests/tests/e2e/soak.rs`, run for `--minutes N` (default 10) in a release
/// build, its progress lines shown.
fn soak(args: &[String]) -> Result {
    let minutes: u64 = match args {
        [] => 10,
        [flag, n] if flag == "--minutes" => n
            .parse()
            .map_err(|_| format!("--minutes takes a whole number, not {n:?}"))?,
        _ => return Err("usage: cargo xtask soak [--minutes N]".into()),
    };
    run(
        "soak",
        cargo()
            .args([
                "test",
                "--release",
                "--locked",
                "-p",
                "snow-tests",
                "--test",
                "e2e",
                "--",
                "soak::",
                "--nocapture",
            ])
            .env("SNOW_SOAK_SECONDS", (minutes * 60).to_string()),
    )
}
