//! `snow export`: formats, parallel ranges, shards, and resuming after SIGKILL.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use snow_devinstance::{DevConfig, FaultKind, FaultRule, Trigger};

use crate::common::{Dev, sys_ids_where, unique_sys_ids};

#[test]
fn the_documented_spelling_exports_every_record_once() {
    let dev = Dev::start(1200);
    let out = dev.path("incidents.jsonl");
    let o = out.to_str().unwrap();
    dev.snow(&[
        "export",
        "incident",
        "--format",
        "jsonl",
        "--output",
        o,
        "--page-size",
        "250",
    ])
    .run()
    .ok();
    let ids = unique_sys_ids(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(ids, sys_ids_where(&dev, "incident", ""));
    assert!(
        !dev.path("incidents.jsonl.checkpoint").exists(),
        "checkpoint left behind"
    );
}

#[test]
fn parallel_ranges_and_a_query_give_the_same_records() {
    let dev = Dev::start(1500);
    let expected = sys_ids_where(&dev, "incident", "active=true^NQpriority=1");
    for parallel in ["1", "4"] {
        let out = dev.path(&format!("p{parallel}.jsonl"));
        dev.snow(&[
            "export",
            "incident",
            "--query",
            "active=true^NQpriority=1",
            "--parallel",
            parallel,
            "--page-size",
            "100",
            "-o",
            out.to_str().unwrap(),
        ])
        .run()
        .ok();
        let ids = unique_sys_ids(&std::fs::read_to_string(&out).unwrap());
        assert_eq!(ids, expected, "--parallel {parallel}");
    }
}

#[test]
fn shards_are_disjoint_and_complete() {
    let dev = Dev::start(1000);
    let mut all = HashSet::new();
    for k in 1..=3 {
        let shard = format!("{k}/3");
        let run = dev
            .snow(&[
                "export",
                "incident",
                "--shard",
                &shard,
                "--parallel",
                "2",
                "--fields",
                "sys_id,number",
            ])
            .run();
        assert_eq!(run.code, 0, "{run:#?}");
        let ids = unique_sys_ids(&run.stdout);
        assert!(!ids.is_empty(), "shard {shard} is empty");
        for id in ids {
            assert!(all.insert(id.clone()), "{id} in two shards");
        }
    }
    assert_eq!(all, sys_ids_where(&dev, "incident", ""));
}

#[test]
fn csv_and_json_outputs() {
    let dev = Dev::start(120);
    let csv = dev.path("x.csv");
    dev.snow(&[
        "export",
        "incident",
        "--fields",
        "number,priority,caller_id",
        "-o",
        csv.to_str().unwrap(),
    ])
    .run()
    .ok();
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "number,priority,caller_id");
    assert_eq!(lines.len(), 121);
    // A reference field is its sys_id, not the {link, value} object.
    let caller = lines[1].split(',').nth(2).unwrap();
    assert!(caller.is_empty() || caller.len() == 32, "{}", lines[1]);

    let json = dev.path("x.json");
    dev.snow(&[
        "export",
        "incident",
        "--parallel",
        "3",
        "-o",
        json.to_str().unwrap(),
    ])
    .run()
    .ok();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 120);
}

#[test]
fn an_existing_file_needs_restart() {
    let dev = Dev::start(20);
    let out = dev.path("done.jsonl");
    let o = out.to_str().unwrap();
    dev.snow(&["export", "incident", "-o", o]).run().ok();
    let err = dev.snow(&["export", "incident", "-o", o]).run().fails(2);
    assert!(err.contains("--restart"), "{err}");
    dev.snow(&["export", "incident", "-o", o, "--restart"])
        .run()
        .ok();
    assert_eq!(
        unique_sys_ids(&std::fs::read_to_string(&out).unwrap()).len(),
        20
    );
    // An order other than sys_id is refused with a reason.
    let err = dev
        .snow(&["export", "incident", "--query", "ORDERBYnumber"])
        .run()
        .fails(2);
    assert!(err.contains("sys_id"), "{err}");
}

/// The export is killed with SIGKILL half way, then the same command finishes it: every
/// matching sys_id is in the file exactly once.
#[test]
fn killed_half_way_then_resumed() {
    let dev = Dev::with(DevConfig {
        records: 3000,
        // Slow pages, so that the kill lands in the middle.
        faults: vec![
            FaultRule::new(FaultKind::Latency { millis: 60 }, Trigger::Always)
                .path_prefix("/api/now/table/incident"),
        ],
        ..DevConfig::default()
    });
    let out = dev.path("incidents.jsonl");
    let cp = dev.path("incidents.jsonl.checkpoint");
    let args = [
        "export",
        "incident",
        "--query",
        "active=true",
        "--format",
        "jsonl",
        "--output",
        out.to_str().unwrap(),
        "--parallel",
        "3",
        "--page-size",
        "20",
    ];
    let expected = sys_ids_where(&dev, "incident", "active=true");
    assert!(expected.len() > 1000, "{}", expected.len());

    let mut child = dev.snow(&args).cmd.spawn().unwrap();
    let started = Instant::now();
    loop {
        let written = std::fs::read(&cp)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["records"].as_u64())
            .unwrap_or(0);
        if written >= expected.len() as u64 / 3 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the export did not progress"
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the export ended before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    assert!(cp.exists(), "no checkpoint after the kill");
    let partial = std::fs::read_to_string(&out).unwrap();
    assert!(
        partial.lines().count() < expected.len(),
        "the kill came too late"
    );

    dev.admin().clear_faults();
    let run = dev.snow(&args).run();
    assert_eq!(run.code, 0, "{run:#?}");
    let ids = unique_sys_ids(&std::fs::read_to_string(&out).unwrap());
    assert_eq!(ids, expected);
    assert!(!cp.exists());
}

/// Another run's checkpoint with other settings is not mixed in.
#[test]
fn a_checkpoint_of_another_export_is_refused() {
    let dev = Dev::with(DevConfig {
        records: 800,
        faults: vec![
            FaultRule::new(
                FaultKind::ServerError { status: 500 },
                Trigger::EveryNth { n: 4 },
            )
            .path_prefix("/api/now/table/incident"),
        ],
        ..DevConfig::default()
    });
    let out = dev.path("e.jsonl");
    let o = out.to_str().unwrap();
    // Fails part way (the fourth request), leaving a checkpoint.
    dev.snow(&[
        "export",
        "incident",
        "-o",
        o,
        "--page-size",
        "100",
        "--attempts",
        "1",
    ])
    .run()
    .fails(8);
    assert!(dev.path("e.jsonl.checkpoint").exists());
    let err = dev
        .snow(&["export", "incident", "-o", o, "--query", "active=true"])
        .run()
        .fails(2);
    assert!(err.contains("--query"), "{err}");
    dev.admin().clear_faults();
    dev.snow(&["export", "incident", "-o", o]).run().ok();
    assert_eq!(
        unique_sys_ids(&std::fs::read_to_string(&out).unwrap()),
        sys_ids_where(&dev, "incident", "")
    );
}

/// Ctrl-c (SIGINT) saves the checkpoint, exits 130 and says how to resume.
#[test]
fn interrupted_with_ctrl_c_then_resumed() {
    let dev = Dev::with(DevConfig {
        records: 1500,
        faults: vec![
            FaultRule::new(FaultKind::Latency { millis: 50 }, Trigger::Always)
                .path_prefix("/api/now/table/incident"),
        ],
        ..DevConfig::default()
    });
    let out = dev.path("i.jsonl");
    let cp = dev.path("i.jsonl.checkpoint");
    let args = [
        "export",
        "incident",
        "--page-size",
        "25",
        "-o",
        out.to_str().unwrap(),
    ];
    let child = dev
        .snow(&args)
        .cmd
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::read(&cp)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .is_none_or(|v| v["records"].as_u64().unwrap_or(0) == 0)
    {
        assert!(started.elapsed() < Duration::from_secs(60), "no progress");
        std::thread::sleep(Duration::from_millis(20));
    }
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let done = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(130), "{err}");
    assert!(
        err.contains("run the same command again to resume"),
        "{err}"
    );
    assert!(cp.exists());
    dev.admin().clear_faults();
    dev.snow(&args).run().ok();
    assert_eq!(
        unique_sys_ids(&std::fs::read_to_string(&out).unwrap()),
        sys_ids_where(&dev, "incident", "")
    );
}
