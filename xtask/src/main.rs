//! `cargo xtask <command>`: project automation for snow, with no dependencies beyond std.
//!
//! - `ci`: everything CI checks, in the order a failure is cheapest to find: formatting, lints,
//!   the whole test suite (unit, integration, end-to-end, doc tests), the dependency rules,
//!   packaging, and the peer check that runs pysnow against the dev instance.
//! - `demo`: the main job until the `snow` command exists: start a dev instance and run the
//!   quick-start example against it.
//! - `peer`: only the pysnow peer check.
//! - `bench [--quick]`: the benchmarks of `docs/benchmarks.md` (see `bench.rs`).

mod bench;

use std::env;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("ci") => ci(),
        Some("demo") => demo(),
        Some("peer") => peer(false),
        Some("bench") => bench::bench(&args[1..]),
        _ => {
            eprintln!("usage: cargo xtask <ci|demo|peer|bench>");
            eprintln!(
                "  ci    formatting, clippy, every test, dependency rules, packaging, the pysnow peer check"
            );
            eprintln!("  demo  start a dev instance and run the quick-start example against it");
            eprintln!("  peer  run pysnow 0.7.17 against a fresh dev instance");
            eprintln!(
                "  bench [--quick] [--reps N] [--big N]  serving and client-streaming benchmarks"
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

/// Run a command, echoing it and its duration; fail if it fails.
fn run(step: &str, cmd: &mut Command) -> Result {
    eprintln!("\n==> {step}: {cmd:?}");
    let start = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("{step}: could not start: {e}"))?;
    eprintln!(
        "<== {step}: {} in {:.1}s",
        if status.success() { "ok" } else { "FAILED" },
        start.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn has_nextest() -> bool {
    cargo()
        .args(["nextest", "--version"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn ci() -> Result {
    let start = Instant::now();
    run("format", cargo().args(["fmt", "--all", "--", "--check"]))?;
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
    deny_dependency("reqwest")?;
    deny_dependency("openssl-sys")?;
    snow_core_is_http_free()?;
    run(
        "package",
        cargo().args([
            "package",
            "--workspace",
            "--locked",
            "--no-verify",
            "--allow-dirty",
            "--quiet",
        ]),
    )?;
    peer(true)?;
    eprintln!(
        "\nci: all checks passed in {:.0}s",
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `cargo tree -i NAME` must find nothing in the workspace.
fn deny_dependency(name: &str) -> Result {
    let out = cargo()
        .args([
            "tree",
            "--workspace",
            "--all-features",
            "--locked",
            "-e",
            "normal,build,dev",
            "-i",
            name,
        ])
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if out.status.success() && !stdout.trim().is_empty() {
        return Err(format!("{name} is in the dependency tree:\n{stdout}"));
    }
    eprintln!("==> dependency rule: no {name} anywhere: ok");
    Ok(())
}

/// snow-core must stay free of hyper, tower and tokio (tokio is allowed only for its own tests).
fn snow_core_is_http_free() -> Result {
    let out = cargo()
        .args([
            "tree",
            "-p",
            "snow-core",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .output()
        .map_err(|e| format!("cargo tree: {e}"))?;
    let tree = String::from_utf8_lossy(&out.stdout);
    for banned in ["hyper ", "tower ", "tokio "] {
        if tree.lines().any(|l| l.starts_with(banned)) {
            return Err(format!("snow-core depends on {}", banned.trim()));
        }
    }
    eprintln!("==> dependency rule: snow-core has no hyper, tower or tokio: ok");
    Ok(())
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
            "--locked",
            "-p",
            "snow-client",
            "--example",
            "quickstart",
        ]),
    )
}
