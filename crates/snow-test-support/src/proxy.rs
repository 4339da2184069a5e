//! An HTTP CONNECT proxy on 127.0.0.1 for tests: it records every tunnel asked for (target and
//! `Proxy-Authorization`), can require credentials and refuse the first tunnels, then copies
//! bytes both ways. Anything but `CONNECT` gets `405`.
//!
//! ```no_run
//! # async fn example() {
//! use snow_test_support::proxy::ConnectProxy;
//!
//! let proxy = ConnectProxy::start().await;
//! // ... send requests through `proxy.url()` ...
//! assert_eq!(proxy.targets(), ["127.0.0.1:8080"]);
//! # }
//! ```

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// Longest request head the proxy reads before giving up on a client.
const MAX_HEAD: usize = 16 * 1024;

/// One CONNECT: its target (`host:port`) and its `Proxy-Authorization` value, if any.
pub type Tunnel = (String, Option<String>);

/// A running proxy; it stops accepting when dropped.
#[derive(Debug)]
pub struct ConnectProxy {
    addr: SocketAddr,
    tunnels: Arc<Mutex<Vec<Tunnel>>>,
    task: JoinHandle<()>,
}

/// What the proxy demands before it opens a tunnel.
#[derive(Clone, Debug, Default)]
struct Rules {
    /// The exact `Proxy-Authorization` value required (407 otherwise).
    require_auth: Option<String>,
    /// How many of the first tunnels are refused with 503.
    refuse_first: usize,
}

impl ConnectProxy {
    /// A proxy that opens every tunnel, on an ephemeral loopback port.
    pub async fn start() -> ConnectProxy {
        Self::start_with(None, 0).await
    }

    /// A proxy that answers 407 unless `Proxy-Authorization` is exactly `require_auth` (when
    /// given), and 503 to the first `refuse_first` tunnels.
    pub async fn start_with(require_auth: Option<&str>, refuse_first: usize) -> ConnectProxy {
        let rules = Arc::new(Rules {
            require_auth: require_auth.map(str::to_owned),
            refuse_first,
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let tunnels = Arc::new(Mutex::new(Vec::new()));
        let seen = tunnels.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(tunnel(client, seen.clone(), rules.clone()));
            }
        });
        ConnectProxy {
            addr,
            tunnels,
            task,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `snow_transport::Proxy::http`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `host:port` of every `CONNECT` received so far, in order.
    pub fn targets(&self) -> Vec<String> {
        self.connects().into_iter().map(|(t, _)| t).collect()
    }

    /// Target and `Proxy-Authorization` of every `CONNECT` received so far, in order.
    pub fn connects(&self) -> Vec<Tunnel> {
        self.tunnels
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

impl Drop for ConnectProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn tunnel(mut client: TcpStream, tunnels: Arc<Mutex<Vec<Tunnel>>>, rules: Arc<Rules>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if head.len() >= MAX_HEAD {
            return;
        }
        match client.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head);
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (Some("CONNECT"), Some(target)) = (request_line.next(), request_line.next()) else {
        let _ = client
            .write_all(b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    let target = target.to_owned();
    let auth = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, v)| v.trim().to_owned());
    let index = {
        let mut all = tunnels.lock().unwrap_or_else(PoisonError::into_inner);
        all.push((target.clone(), auth.clone()));
        all.len() - 1
    };
    if rules.require_auth.is_some() && auth != rules.require_auth {
        let _ = client
            .write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Basic realm=\"test\"\r\ncontent-length: 0\r\n\r\n",
            )
            .await;
        return;
    }
    if index < rules.refuse_first {
        let _ = client
            .write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    }
    let Ok(mut upstream) = TcpStream::connect(&target).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
            .await;
        return;
    };
    if client
        .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .await
        .is_ok()
    {
        let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
    }
}
