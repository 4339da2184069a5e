//! The workloads, in order: the instance is started once, each workload runs its contenders,
//! and the report and the chart are written at the end.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::instance::Instance;
use crate::peers::{self, Peers};
use crate::plan::Plan;
use crate::report::{self, find, median};
use crate::runner::{Contender, Programs, Series};
use crate::{Options, Result, chart, targets};

/// Every measurement of a run, for the targets.
#[derive(Debug, Default)]
pub(crate) struct Results {
    pub(crate) w1: Vec<Series>,
    /// W1 at each size of the chart (the main size included): size and series.
    pub(crate) w1_sizes: Vec<(u64, Vec<Series>)>,
    pub(crate) w1_big: Vec<Series>,
    pub(crate) w2: Vec<Series>,
    pub(crate) w2_tls: Vec<Series>,
    pub(crate) w3: Vec<Series>,
    pub(crate) w4: Vec<Series>,
    pub(crate) w5: Vec<Series>,
    /// Refresh and password grants per W5 run.
    pub(crate) w5_grants: Vec<(u64, u64)>,
}

struct Ctx<'a> {
    plan: &'a Plan,
    programs: Programs,
    peers: Peers,
    work: PathBuf,
    out: String,
}

impl Ctx<'_> {
    fn wanted(only: Option<&Vec<String>>, name: &str) -> bool {
        only.is_none_or(|o| o.iter().any(|x| x == name))
    }

    /// The three raw forms and snow's two, each given the same arguments.
    fn rust_contenders(&self, expected: u64, extra: &[(&str, String)]) -> Vec<Contender> {
        let mut v = vec![
            Contender::worker("raw-bytes", "raw-bytes", expected),
            Contender::worker("raw-typed", "raw-typed", expected),
            Contender::worker("raw-value", "raw-value", expected),
            Contender::worker("snow-typed", "snow-typed", expected),
            Contender::worker("snow-dynamic", "snow-dynamic", expected),
        ];
        for c in &mut v {
            for (flag, value) in extra {
                *c = c.clone().arg(flag, value);
            }
        }
        v
    }

    /// The plan's warm-up and timed rounds of `contenders`, with no check between runs.
    fn rounds(&self, workload: &str, url: &str, contenders: &[Contender]) -> Result<Vec<Series>> {
        let plan = self.plan;
        self.programs.rounds(
            workload,
            url,
            contenders,
            plan.warm_up,
            plan.reps,
            &mut |_, _| Ok(()),
        )
    }

    fn section(&mut self, title: &str, unit: &str, series: &[Series]) {
        report::workload_tables(title, unit, series, &mut self.out);
        eprintln!("{}", self.out.rsplit("### ").next().unwrap_or_default());
    }
}

/// Runs the workloads `opts` asks for and prints the report.
pub(crate) fn run_all(opts: &Options) -> Result {
    let plan = if opts.smoke {
        Plan::smoke(opts.reps)
    } else {
        Plan::full(opts.reps)
    };
    let only = opts.only.as_ref();
    let devinstance = opts.bin_dir.join("snow-devinstance");
    let worker = opts.bin_dir.join("bench-worker");
    for bin in [&devinstance, &worker] {
        if !bin.exists() {
            return Err(format!("{} is missing (build it first)", bin.display()));
        }
    }
    let peers = match (&opts.venv, opts.peers) {
        (Some(venv), true) => peers::prepare(venv, opts.install)?,
        _ => Peers::default(),
    };
    let work = std::env::temp_dir().join(format!("snow-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let mut ctx = Ctx {
        plan: &plan,
        programs: Programs {
            worker,
            python: peers.python.clone(),
            peers: Path::new(env!("CARGO_MANIFEST_DIR")).join("peers"),
        },
        peers,
        work: work.clone(),
        out: String::new(),
    };
    let result = run_sections(&mut ctx, &devinstance, only, opts);
    let _ = std::fs::remove_dir_all(&work);
    result
}

fn run_sections(
    ctx: &mut Ctx<'_>,
    devinstance: &Path,
    only: Option<&Vec<String>>,
    opts: &Options,
) -> Result {
    let plan = ctx.plan;
    let load_start = crate::load();
    let _ = writeln!(
        ctx.out,
        "# snow benchmarks{}\n\nmachine: {}; peers: pysnow {}, aiosnow {}\n",
        if plan.smoke { " (smoke)" } else { "" },
        crate::machine(),
        if ctx.peers.pysnow {
            "0.7.17"
        } else {
            "not run"
        },
        if ctx.peers.aiosnow {
            "0.6.0"
        } else {
            "not run"
        },
    );
    eprintln!("==> starting the dev instance ({} incidents)", plan.table);
    let inst = Instance::start(devinstance, plan.table, None)?;
    let _ = writeln!(
        ctx.out,
        "Dev instance: {} incidents, seeded in {:.1} s, its own process on loopback.\n",
        plan.table,
        inst.seed_time.as_secs_f64()
    );
    let ids = ctx.work.join("ids.txt");
    write_ids(ctx, &inst.url, None, plan.ids_needed(), &ids)?;
    let mut res = Results::default();
    if Ctx::wanted(only, "w1") {
        w1(ctx, &inst, &mut res)?;
    }
    if Ctx::wanted(only, "w2") {
        w2(ctx, &inst, &ids, &mut res)?;
    }
    if Ctx::wanted(only, "w3") {
        w3(ctx, &inst, &ids, &mut res)?;
    }
    if Ctx::wanted(only, "w4") {
        w4(ctx, &inst, &mut res)?;
    }
    if Ctx::wanted(only, "w5") {
        w5(ctx, &inst, &ids, &mut res)?;
    }
    if let Some(mib) = inst.peak_rss_mib() {
        let _ = writeln!(ctx.out, "Dev instance peak RSS: {mib:.0} MiB.\n");
    }
    drop(inst);
    if Ctx::wanted(only, "w2") {
        w2_tls(ctx, devinstance, &mut res)?;
    }
    targets::table(&res, plan, &mut ctx.out);
    let _ = writeln!(
        ctx.out,
        "Load average at the start: {load_start}; at the end: {}.",
        crate::load()
    );
    println!("{}", ctx.out);
    if let Some(path) = &opts.report {
        std::fs::write(path, &ctx.out).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    if let Some(path) = &opts.chart
        && !res.w1_sizes.is_empty()
    {
        draw_chart(&res, path)?;
        eprintln!("==> chart written to {}", path.display());
    }
    Ok(())
}

fn write_ids(ctx: &Ctx<'_>, url: &str, ca: Option<&Path>, n: usize, out: &Path) -> Result {
    let mut cmd = std::process::Command::new(&ctx.programs.worker);
    cmd.args(["ids", "--url", url, "--requests", &n.to_string()])
        .arg("--out")
        .arg(out);
    if let Some(ca) = ca {
        cmd.arg("--ca").arg(ca);
    }
    let status = cmd.status().map_err(|e| format!("bench-worker ids: {e}"))?;
    if !status.success() {
        return Err("bench-worker ids failed".into());
    }
    Ok(())
}

fn w1_contenders(ctx: &Ctx<'_>, records: u64) -> Vec<Contender> {
    let page = ctx.plan.page;
    let mut v = ctx.rust_contenders(
        records,
        &[
            ("--records", records.to_string()),
            ("--page-size", page.to_string()),
        ],
    );
    if ctx.peers.pysnow {
        v.push(
            Contender::python("pysnow", "pysnow_bench.py", records)
                .arg("--records", records)
                .arg("--page-size", page),
        );
    }
    v
}

fn w1(ctx: &mut Ctx<'_>, inst: &Instance, res: &mut Results) -> Result {
    let plan = ctx.plan;
    let contenders = w1_contenders(ctx, plan.w1);
    let series = ctx.rounds("w1", &inst.url, &contenders)?;
    ctx.section(
        &format!(
            "W1: stream {} incidents in pages of {} (load {})",
            report::grouped(plan.w1 as f64),
            report::grouped(plan.page as f64),
            crate::load()
        ),
        "records",
        &series,
    );
    res.w1 = series.clone();
    let mut sizes = vec![(plan.w1, series)];
    for &n in &plan.chart_sizes {
        let contenders = w1_contenders(ctx, n);
        let s = ctx.programs.rounds(
            "w1",
            &inst.url,
            &contenders,
            false,
            plan.chart_reps,
            &mut |_, _| Ok(()),
        )?;
        ctx.section(
            &format!(
                "W1 at {} records (for the chart; load {})",
                report::grouped(n as f64),
                crate::load()
            ),
            "records",
            &s,
        );
        sizes.push((n, s));
    }
    sizes.sort_by_key(|(n, _)| *n);
    res.w1_sizes = sizes;

    // Flatness: every record of the table, snow only.
    let big: Vec<Contender> = ["snow-typed", "snow-dynamic"]
        .into_iter()
        .map(|k| {
            Contender::worker(k, k, plan.w1_big)
                .arg("--records", plan.w1_big)
                .arg("--page-size", plan.page)
        })
        .collect();
    let s = ctx
        .programs
        .rounds("w1", &inst.url, &big, false, plan.big_reps, &mut |_, _| {
            Ok(())
        })?;
    ctx.section(
        &format!(
            "W1m: all {} incidents, snow (peak RSS against the {}-record run above; load {})",
            report::grouped(plan.w1_big as f64),
            report::grouped(plan.w1 as f64),
            crate::load()
        ),
        "records",
        &s,
    );
    res.w1_big = s;
    Ok(())
}

fn w2(ctx: &mut Ctx<'_>, inst: &Instance, ids: &Path, res: &mut Results) -> Result {
    let plan = ctx.plan;
    let ids = ids.display().to_string();
    let mut contenders = ctx.rust_contenders(
        plan.w2 as u64,
        &[("--requests", plan.w2.to_string()), ("--ids", ids.clone())],
    );
    if ctx.peers.pysnow {
        contenders.push(
            Contender::python("pysnow", "pysnow_bench.py", plan.w2_pysnow as u64)
                .arg("--requests", plan.w2_pysnow)
                .arg("--ids", &ids),
        );
    }
    let series = ctx.rounds("w2", &inst.url, &contenders)?;
    ctx.section(
        &format!(
            "W2: {} sequential GETs by sys_id, one keep-alive connection (pysnow: {}; load {})",
            report::grouped(plan.w2 as f64),
            report::grouped(plan.w2_pysnow as f64),
            crate::load()
        ),
        "requests",
        &series,
    );
    res.w2 = series;
    Ok(())
}

fn w2_tls(ctx: &mut Ctx<'_>, devinstance: &Path, res: &mut Results) -> Result {
    let plan = ctx.plan;
    eprintln!(
        "==> starting the TLS dev instance ({} incidents)",
        plan.tls_table
    );
    let inst = Instance::start(devinstance, plan.tls_table, Some(&ctx.work))?;
    let ca = inst.ca.clone().ok_or("the TLS instance wrote no CA")?;
    let ids = ctx.work.join("tls-ids.txt");
    write_ids(ctx, &inst.url, Some(&ca), plan.w2, &ids)?;
    let ids = ids.display().to_string();
    let ca = ca.display().to_string();
    let contenders: Vec<Contender> = ["raw-bytes", "raw-typed", "snow-typed", "snow-dynamic"]
        .into_iter()
        .map(|k| {
            Contender::worker(k, k, plan.w2 as u64)
                .arg("--requests", plan.w2)
                .arg("--ids", &ids)
                .arg("--ca", &ca)
        })
        .collect();
    let series = ctx.rounds("w2", &inst.url, &contenders)?;
    ctx.section(
        &format!(
            "W2 over TLS: {} sequential GETs, one connection, one handshake (load {})",
            report::grouped(plan.w2 as f64),
            crate::load()
        ),
        "requests",
        &series,
    );
    res.w2_tls = series;
    Ok(())
}

fn w3(ctx: &mut Ctx<'_>, inst: &Instance, ids: &Path, res: &mut Results) -> Result {
    let plan = ctx.plan;
    let ids = ids.display().to_string();
    let mut contenders = ctx.rust_contenders(
        plan.w3 as u64,
        &[
            ("--requests", plan.w3.to_string()),
            ("--ids", ids.clone()),
            ("--in-flight", plan.in_flight.to_string()),
        ],
    );
    if ctx.peers.aiosnow {
        contenders.push(
            Contender::python("aiosnow", "aiosnow_bench.py", plan.w3_aiosnow as u64)
                .arg("--requests", plan.w3_aiosnow)
                .arg("--ids", &ids)
                .arg("--in-flight", plan.in_flight),
        );
    }
    let series = ctx.rounds("w3", &inst.url, &contenders)?;
    ctx.section(
        &format!(
            "W3: {} GETs by sys_id, {} in flight (aiosnow: {}; load {})",
            report::grouped(plan.w3 as f64),
            plan.in_flight,
            report::grouped(plan.w3_aiosnow as f64),
            crate::load()
        ),
        "requests",
        &series,
    );
    res.w3 = series;
    Ok(())
}

fn w4(ctx: &mut Ctx<'_>, inst: &Instance, res: &mut Results) -> Result {
    let plan = ctx.plan;
    let fault = format!(
        r#"{{"fault":{{"kind":"latency","millis":{}}},"trigger":{{"mode":"always"}},"path_prefix":"/api/now/table/incident"}}"#,
        plan.w4_latency_ms
    );
    inst.admin("POST", "/__dev/faults", Some(&fault))?;
    let records = plan.w4_pages * plan.w4_page;
    // One page at a time (each asked for when needed), sequential as configured by default
    // (the page after next asked for ahead), and several pages at once.
    let contenders: Vec<Contender> = [
        ("snow-one-at-a-time", 1, 0),
        ("snow-sequential", 1, 1),
        ("snow-concurrent", plan.w4_concurrency, 1),
    ]
    .into_iter()
    .map(|(k, c, ahead)| {
        Contender::worker(k, "snow-typed", records)
            .arg("--pages", plan.w4_pages)
            .arg("--page-size", plan.w4_page)
            .arg("--concurrency", c)
            .arg("--ask-ahead", ahead)
    })
    .collect();
    let series = ctx.programs.rounds(
        "w4",
        &inst.url,
        &contenders,
        plan.warm_up,
        plan.reps,
        &mut |_, _| Ok(()),
    );
    inst.admin("DELETE", "/__dev/faults", None)?;
    let series = series?;
    ctx.section(
        &format!(
            "W4: {} pages of {} records, {} ms added to each: one at a time, sequential (asking one ahead) and {} at a time (load {})",
            plan.w4_pages,
            plan.w4_page,
            plan.w4_latency_ms,
            plan.w4_concurrency,
            crate::load()
        ),
        "records",
        &series,
    );
    res.w4 = series;
    Ok(())
}

fn grant(v: &serde_json::Value, kind: &str) -> u64 {
    v[kind].as_u64().unwrap_or(0)
}

fn w5(ctx: &mut Ctx<'_>, inst: &Instance, ids: &Path, res: &mut Results) -> Result {
    let plan = ctx.plan;
    let contenders = vec![
        Contender::worker("snow-oauth", "snow-typed", plan.w5 as u64)
            .arg("--requests", plan.w5)
            .arg("--ids", ids.display()),
    ];
    let mut before = inst.grants()?;
    let mut grants = Vec::new();
    let series = ctx.programs.rounds(
        "w5",
        &inst.url,
        &contenders,
        plan.warm_up,
        plan.reps,
        &mut |_, _| {
            // The clock is not put back between runs: each run moves it further (see the
            // worker), past every token an earlier run was given.
            let after = inst.grants()?;
            let refresh = grant(&after, "refresh_token") - grant(&before, "refresh_token");
            let password = grant(&after, "password") - grant(&before, "password");
            grants.push((refresh, password));
            before = after;
            Ok(())
        },
    );
    inst.admin("PUT", "/__dev/clock", Some(r#"{"skew_secs":0}"#))?;
    let series = series?;
    ctx.section(
        &format!(
            "W5: {} concurrent requests on a token the instance has expired (load {})",
            report::grouped(plan.w5 as f64),
            crate::load()
        ),
        "requests",
        &series,
    );
    let _ = writeln!(
        ctx.out,
        "Grants per run (refresh_token, password): {}\n",
        grants
            .iter()
            .map(|(r, p)| format!("({r}, {p})"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    res.w5 = series;
    res.w5_grants = grants;
    Ok(())
}

fn draw_chart(res: &Results, path: &Path) -> Result {
    let keys = [
        "snow-typed",
        "snow-dynamic",
        "raw-bytes",
        "raw-typed",
        "raw-value",
        "pysnow",
    ];
    let lines: Vec<chart::Line> = keys
        .iter()
        .filter(|k| res.w1_sizes.iter().any(|(_, s)| find(s, k).is_some()))
        .map(|k| chart::Line {
            label: (*k).to_owned(),
            points: res
                .w1_sizes
                .iter()
                .filter_map(|(n, s)| find(s, k).map(|s| (*n as f64, median(&s.walls()))))
                .collect(),
        })
        .collect();
    chart::w1(
        path,
        "W1: streaming incidents in pages of 10,000 (median wall time)",
        &lines,
    )
}
