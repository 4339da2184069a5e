//! The dev instance under test, in its own process, and the few admin calls the workloads need
//! (faults, the clock, the counters), over a minimal HTTP/1.1 client on loopback.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::Result;

/// A `snow-devinstance` process; killed when dropped.
pub(crate) struct Instance {
    child: Child,
    pub(crate) url: String,
    pub(crate) seed_time: Duration,
    /// The CA certificate to trust (TLS only).
    pub(crate) ca: Option<PathBuf>,
}

impl Instance {
    /// Starts `bin` with `records` incidents; over TLS when `tls_dir` is given (the CA is
    /// written there).
    pub(crate) fn start(bin: &Path, records: u64, tls_dir: Option<&Path>) -> Result<Self> {
        let started = Instant::now();
        let mut cmd = Command::new(bin);
        cmd.args(["--port", "0", "--records", &records.to_string()]);
        let ca = tls_dir.map(|d| d.join("bench-ca.pem"));
        if let Some(ca) = &ca {
            cmd.arg("--tls").arg("--ca-out").arg(ca);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("could not start {}: {e}", bin.display()))?;
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
            ca,
        };
        let line = rx
            .recv_timeout(Duration::from_secs(900))
            .map_err(|_| format!("snow-devinstance did not start ({records} records)"))?;
        inst.url = line.trim().to_owned();
        if !inst.url.starts_with("http") {
            return Err(format!(
                "snow-devinstance printed {line:?} instead of its URL"
            ));
        }
        inst.seed_time = started.elapsed();
        Ok(inst)
    }

    /// Peak RSS of the instance so far, MiB.
    pub(crate) fn peak_rss_mib(&self) -> Option<f64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).ok()?;
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib / 1024.0)
    }

    /// One admin call (as `admin`, plain HTTP only): the answer's body.
    pub(crate) fn admin(&self, method: &str, path: &str, json: Option<&str>) -> Result<String> {
        let hostport = self
            .url
            .strip_prefix("http://")
            .ok_or("admin calls go to the plain-HTTP instance")?
            .trim_end_matches('/');
        let body = json.unwrap_or("");
        let mut s = TcpStream::connect(hostport).map_err(|e| format!("{hostport}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(60)))
            .map_err(|e| e.to_string())?;
        // admin:admin
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: Basic YWRtaW46YWRtaW4=\r\n\
             Accept: application/json\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            body.len()
        )
        .map_err(|e| e.to_string())?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&raw);
        let (head, rest) = text.split_once("\r\n\r\n").ok_or("admin: no answer")?;
        let status = head.split_whitespace().nth(1).unwrap_or("");
        if !status.starts_with('2') {
            return Err(format!("{method} {path}: status {status}"));
        }
        let chunked = head.lines().any(|l| {
            l.to_ascii_lowercase()
                .starts_with("transfer-encoding: chunked")
        });
        Ok(if chunked {
            dechunk(rest)
        } else {
            rest.to_owned()
        })
    }

    /// Token grants of each type so far.
    pub(crate) fn grants(&self) -> Result<serde_json::Value> {
        let text = self.admin("GET", "/__dev/counters", None)?;
        let v: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("counters: {e}"))?;
        Ok(v["result"]["token_grants"].clone())
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
