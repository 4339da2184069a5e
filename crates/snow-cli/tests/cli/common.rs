//! Running the `snow` binary against a dev instance started by the test.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use snow_devinstance::{Admin, DevConfig, DevInstance};

/// A dev instance on loopback, served by its own runtime while the test runs the binary.
pub(crate) struct Dev {
    rt: tokio::runtime::Runtime,
    instance: Option<DevInstance>,
    pub(crate) url: String,
    /// A private home and config directory for the binary.
    pub(crate) home: tempfile::TempDir,
}

impl Dev {
    /// An instance with `records` incidents.
    pub(crate) fn start(records: usize) -> Self {
        Self::with(DevConfig {
            records,
            ..DevConfig::default()
        })
    }

    /// An instance with this configuration.
    pub(crate) fn with(config: DevConfig) -> Self {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let instance = rt
            .block_on(DevInstance::start(config))
            .expect("dev instance");
        let url = instance.base_url().to_owned();
        Self {
            rt,
            instance: Some(instance),
            url,
            home: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The instance's admin handle (faults, counters, clock).
    pub(crate) fn admin(&self) -> Admin {
        self.instance.as_ref().expect("running").admin()
    }

    /// `snow --url URL ARGS` as admin (SNOW_USER / SNOW_PASSWORD), with a private config
    /// directory and no other SNOW_ variable.
    pub(crate) fn snow(&self, args: &[&str]) -> Cmd {
        let mut c = snow_bare(self.home.path());
        c.cmd.arg("--url").arg(&self.url);
        c.cmd
            .env("SNOW_USER", "admin")
            .env("SNOW_PASSWORD", "admin");
        c.cmd.args(args);
        c
    }

    /// The CA certificate (PEM) of a TLS instance.
    pub(crate) fn admin_ca_pem(&self) -> String {
        self.instance
            .as_ref()
            .and_then(|i| i.ca_pem())
            .expect("a TLS instance")
            .to_owned()
    }

    /// A path in the test's private directory.
    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.home.path().join(name)
    }
}

impl Drop for Dev {
    fn drop(&mut self) {
        if let Some(i) = self.instance.take() {
            let _ = self.rt.block_on(i.shutdown());
        }
    }
}

/// The binary with a private home and config directory and no SNOW_ variable.
pub(crate) fn snow_bare(home: &Path) -> Cmd {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_snow"));
    for (k, _) in std::env::vars() {
        if k.starts_with("SNOW_") {
            cmd.env_remove(k);
        }
    }
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .stdin(Stdio::null());
    Cmd { cmd, stdin: None }
}

/// A command to run.
pub(crate) struct Cmd {
    pub(crate) cmd: Command,
    stdin: Option<Vec<u8>>,
}

/// What a run gave.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// Asserts success, returns standard output.
    pub(crate) fn ok(self) -> String {
        assert_eq!(self.code, 0, "failed: {self:#?}");
        self.stdout
    }

    /// Asserts the exit code, returns standard error.
    pub(crate) fn fails(self, code: i32) -> String {
        assert_eq!(self.code, code, "wrong exit code: {self:#?}");
        self.stderr
    }

    /// The JSON lines of standard output.
    pub(crate) fn lines(&self) -> Vec<serde_json::Value> {
        self.stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect()
    }
}

impl Cmd {
    /// Adds arguments.
    pub(crate) fn args(mut self, args: &[&str]) -> Self {
        self.cmd.args(args);
        self
    }

    /// Sets an environment variable.
    pub(crate) fn env(mut self, k: &str, v: impl AsRef<std::ffi::OsStr>) -> Self {
        self.cmd.env(k, v);
        self
    }

    /// Removes an environment variable.
    pub(crate) fn env_remove(mut self, k: &str) -> Self {
        self.cmd.env_remove(k);
        self
    }

    /// Feeds standard input.
    pub(crate) fn stdin(mut self, data: &[u8]) -> Self {
        self.stdin = Some(data.to_vec());
        self
    }

    /// Runs it to the end.
    pub(crate) fn run(mut self) -> Run {
        self.cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        if self.stdin.is_some() {
            self.cmd.stdin(Stdio::piped());
        }
        let mut child = self.cmd.spawn().expect("spawn snow");
        if let Some(data) = self.stdin.take() {
            let mut i = child.stdin.take().expect("stdin");
            i.write_all(&data).expect("write stdin");
        }
        let Output {
            status,
            stdout,
            stderr,
        } = child.wait_with_output().expect("wait");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

/// The sys_ids of JSONL records, asserting none repeats.
pub(crate) fn unique_sys_ids(jsonl: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    for line in jsonl.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line:.200}"));
        let id = v["sys_id"].as_str().expect("sys_id").to_owned();
        assert!(seen.insert(id.clone()), "sys_id {id} appears twice");
    }
    seen
}

/// The sys_ids the instance holds for `table` matching the encoded `query`.
pub(crate) fn sys_ids_where(dev: &Dev, table: &str, query: &str) -> HashSet<String> {
    dev.admin().read_db(|db| {
        let ctx = snow_devinstance::db::EvalCtx::system();
        db.list(table, query, &ctx, 0, usize::MAX)
            .expect("list")
            .rows
            .iter()
            .map(|r| r.sys_id().to_owned())
            .collect()
    })
}
