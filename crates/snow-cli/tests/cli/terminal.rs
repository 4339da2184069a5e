//! Under a pseudo-terminal: progress bars drawn on standard error when it is a terminal, and
//! absent when it is piped; the password asked for without echo.

use std::io::Read;
use std::process::Stdio;

use rustix::pty::{OpenptFlags, grantpt, openpt, ptsname, unlockpt};
use snow_devinstance::{DevConfig, FaultKind, FaultRule, Trigger};

use crate::common::{Cmd, Dev, unique_sys_ids};

/// A new pseudo-terminal of 120 × 40: the controlling side and the terminal side.
fn pty() -> (std::os::fd::OwnedFd, std::fs::File) {
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("openpt");
    grantpt(&master).expect("grantpt");
    unlockpt(&master).expect("unlockpt");
    let name = ptsname(&master, Vec::new()).expect("ptsname");
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().expect("pty name"))
        .expect("open the pty");
    rustix::termios::tcsetwinsize(
        &slave,
        rustix::termios::Winsize {
            ws_row: 40,
            ws_col: 120,
            ws_xpixel: 0,
            ws_ypixel: 0,
        },
    )
    .expect("window size");
    (master, slave)
}

/// Runs `cmd` with standard error on a pseudo-terminal; returns what the terminal showed and
/// the exit code.
fn with_stderr_on_a_pty(mut cmd: Cmd) -> (String, i32) {
    let (master, slave) = pty();
    cmd.cmd.stderr(Stdio::from(slave)).stdout(Stdio::null());
    let mut child = cmd.cmd.spawn().expect("spawn");
    drop(cmd); // our copy of the terminal's end
    let reader = std::thread::spawn(move || {
        let mut master = std::fs::File::from(master);
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        // Ends with EIO once the child closed the terminal.
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        seen
    });
    let code = child.wait().expect("wait").code().unwrap_or(-1);
    let seen = reader.join().expect("reader");
    (String::from_utf8_lossy(&seen).into_owned(), code)
}

fn slow_dev() -> Dev {
    Dev::with(DevConfig {
        records: 2000,
        faults: vec![
            FaultRule::new(FaultKind::Latency { millis: 40 }, Trigger::Always)
                .path_prefix("/api/now/table/incident"),
        ],
        ..DevConfig::default()
    })
}

#[test]
fn export_draws_a_bar_on_a_terminal_only() {
    let dev = slow_dev();
    let out = dev.path("x.jsonl");
    let args = [
        "export",
        "incident",
        "--page-size",
        "100",
        "-o",
        out.to_str().unwrap(),
    ];
    let (screen, code) = with_stderr_on_a_pty(dev.snow(&args));
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("incident ["), "no bar: {screen:?}");
    assert!(
        screen.contains("/2,000 records") || screen.contains("/2000 records"),
        "no total: {screen:?}"
    );
    assert!(screen.contains("ETA"), "no ETA: {screen:?}");
    assert!(screen.contains("/s"), "no rate: {screen:?}");
    assert!(
        screen.contains("exported 2,000 incident record(s)"),
        "{screen:?}"
    );
    assert_eq!(
        unique_sys_ids(&std::fs::read_to_string(&out).unwrap()).len(),
        2000
    );

    // Piped: nothing but the data.
    let run = dev
        .snow(&["export", "incident", "--page-size", "100"])
        .run();
    assert_eq!(run.code, 0);
    assert_eq!(run.stderr, "", "stderr when piped: {:?}", run.stderr);
    assert_eq!(unique_sys_ids(&run.stdout).len(), 2000);

    // --no-progress on a terminal: no bar either.
    let (screen, code) = with_stderr_on_a_pty(dev.snow(&[
        "--no-progress",
        "export",
        "incident",
        "--page-size",
        "500",
    ]));
    assert_eq!(code, 0);
    assert!(!screen.contains("ETA"), "{screen:?}");
}

#[test]
fn attachment_transfers_draw_a_byte_bar() {
    let dev = Dev::with(DevConfig {
        records: 5,
        faults: vec![
            FaultRule::new(FaultKind::Latency { millis: 600 }, Trigger::Always)
                .path_prefix("/api/now/attachment/file"),
        ],
        ..DevConfig::default()
    });
    let rec = dev
        .snow(&[
            "table", "list", "incident", "--limit", "1", "--fields", "sys_id", "-F", "jsonl",
        ])
        .run()
        .lines();
    let file = dev.path("big.bin");
    std::fs::write(&file, vec![7u8; 3 * 1024 * 1024]).unwrap();
    let (screen, code) = with_stderr_on_a_pty(dev.snow(&[
        "attachment",
        "upload",
        "incident",
        rec[0]["sys_id"].as_str().unwrap(),
        file.to_str().unwrap(),
    ]));
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("big.bin"), "{screen:?}");
    assert!(screen.contains("MiB"), "no byte counts: {screen:?}");
}

/// A missing password is asked for on the terminal (its controlling terminal, as a shell
/// would give it), and what is typed is not echoed.
#[test]
fn a_missing_password_is_asked_for_without_echo() {
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    let Ok(setsid) = which_setsid() else {
        eprintln!("setsid (util-linux) is not installed; skipping");
        return;
    };
    let dev = Dev::start(5);
    let (master, slave) = pty();
    let snow = dev.snow(&["table", "list", "incident", "--limit", "1", "-F", "jsonl"]);
    // `setsid -c` makes the terminal on standard input the program's controlling terminal.
    let mut cmd = std::process::Command::new(setsid);
    cmd.arg("-c")
        .arg("-w")
        .arg(snow.cmd.get_program())
        .args(snow.cmd.get_args());
    for (k, v) in snow.cmd.get_envs() {
        match v {
            Some(v) => cmd.env(k, v),
            None => cmd.env_remove(k),
        };
    }
    cmd.env_remove("SNOW_PASSWORD")
        .stdin(Stdio::from(slave.try_clone().unwrap()))
        .stderr(Stdio::from(slave))
        .stdout(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn");
    drop(cmd);
    let mut writer = std::fs::File::from(master.try_clone().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    let reader = std::thread::spawn(move || {
        let mut master = std::fs::File::from(master);
        let mut buf = [0u8; 1024];
        while let Ok(n) = master.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    let started = std::time::Instant::now();
    while !String::from_utf8_lossy(&seen.lock().unwrap()).contains("Password for admin") {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(20),
            "no prompt: {:?}",
            String::from_utf8_lossy(&seen.lock().unwrap())
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    writer.write_all(b"admin\n").unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let status = child.wait().unwrap();
    drop(writer);
    let _ = reader.join();
    let screen = String::from_utf8_lossy(&seen.lock().unwrap()).into_owned();
    assert!(status.success(), "{screen:?} {out:?}");
    assert_eq!(out.lines().count(), 1, "{out}");
    let after_prompt = screen.split("Password for admin").nth(1).unwrap_or("");
    assert!(
        !after_prompt.contains("admin"),
        "the password was echoed: {screen:?}"
    );
}

fn which_setsid() -> Result<std::path::PathBuf, ()> {
    ["/usr/bin/setsid", "/bin/setsid"]
        .iter()
        .map(std::path::PathBuf::from)
        .find(|p| p.exists())
        .ok_or(())
}
