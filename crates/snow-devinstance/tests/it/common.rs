//! A plain hyper client for talking to the dev instance over real HTTP.

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Request};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use snow_devinstance::{DevConfig, DevInstance};

/// A response, fully read.
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

impl Reply {
    pub(crate) fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body[..self.body.len().min(500)])
            )
        })
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

pub(crate) fn basic(user: &str, pass: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}"))
    )
}

pub(crate) fn admin() -> String {
    basic("admin", "admin")
}

/// A client bound to one instance.
#[derive(Clone, Debug)]
pub(crate) struct Http {
    pub(crate) base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    pub(crate) fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: Client::builder(TokioExecutor::new()).build_http(),
        }
    }

    pub(crate) fn h2(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            client: Client::builder(TokioExecutor::new())
                .http2_only(true)
                .build_http(),
        }
    }

    /// Send; `Err` when the connection failed or the body was cut.
    pub(crate) async fn try_send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Result<Reply, String> {
        let url = if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.base)
        };
        let mut req = Request::builder().method(method).uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(body.into()))
            .map_err(|e| e.to_string())?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let (parts, body) = resp.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| format!("body: {e:?}"))?
            .to_bytes();
        Ok(Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    }

    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<Bytes>,
    ) -> Reply {
        self.try_send(method, path, headers, body)
            .await
            .unwrap_or_else(|e| panic!("request to {path} failed: {e}"))
    }

    pub(crate) async fn get(&self, path: &str, auth: &str) -> Reply {
        self.send(
            Method::GET,
            path,
            &[("authorization", auth), ("accept", "application/json")],
            Bytes::new(),
        )
        .await
    }

    pub(crate) async fn json(
        &self,
        method: Method,
        path: &str,
        auth: &str,
        body: &serde_json::Value,
    ) -> Reply {
        self.send(
            method,
            path,
            &[
                ("authorization", auth),
                ("accept", "application/json"),
                ("content-type", "application/json"),
            ],
            serde_json::to_vec(body).unwrap_or_default(),
        )
        .await
    }
}

pub(crate) async fn start(records: usize) -> (DevInstance, Http) {
    start_with(DevConfig {
        records,
        ..DevConfig::default()
    })
    .await
}

pub(crate) async fn start_with(config: DevConfig) -> (DevInstance, Http) {
    let instance = DevInstance::start(config).await.expect("instance starts");
    let http = Http::new(instance.base_url());
    (instance, http)
}

/// The `snow-devinstance` binary, killed (SIGKILL) when dropped so a failing test leaves
/// nothing running.
pub(crate) struct Server(pub(crate) std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with `args`; returns it and the URL it printed first.
pub(crate) fn spawn(args: &[&str]) -> (Server, String) {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_snow-devinstance"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("binary starts");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("first line");
    (server, line.trim().to_owned())
}

/// A fresh, empty temporary directory for one test.
pub(crate) fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("snow-devinstance-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}
