//! An HTTP(S) server on 127.0.0.1 that records every request it sees and answers what the test
//! scripts, and a raw TCP server for answers no HTTP library would send.
//!
//! ```no_run
//! # async fn example() {
//! use snow_test_support::server::{reply, serve};
//!
//! // 503 to the first request, 200 after.
//! let server = serve(|_seen, index| async move {
//!     if index == 0 { reply(503, "") } else { reply(200, r#"{"result":[]}"#) }
//! })
//! .await;
//! // ... send requests to `server.url()` ...
//! assert_eq!(server.count(), 2);
//! # }
//! ```

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use http::{HeaderMap, Method, Request, Response, StatusCode, Uri, Version};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use snow_core::Instance;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// Its method.
    pub method: Method,
    /// Its request target.
    pub uri: Uri,
    /// Its HTTP version.
    pub version: Version,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its whole body.
    pub body: Bytes,
}

/// A running recording server; clones share its record.
#[derive(Clone, Debug)]
pub struct RecordingServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Whether it serves HTTPS.
    pub tls: bool,
    seen: Arc<Mutex<Vec<Seen>>>,
    connections: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

impl RecordingServer {
    /// `http://127.0.0.1:PORT`, or `https://` when it serves TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }
    /// Its URL as an instance.
    pub fn instance(&self) -> Instance {
        Instance::from_url(&self.url()).expect("test server URL")
    }
    /// Requests seen so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
    /// How many requests it has seen.
    pub fn count(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
    /// TCP connections accepted so far.
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
    /// TCP connections that have ended.
    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::SeqCst)
    }
    /// The most requests the handler was running at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}

/// What a handler answers.
pub type Reply = Response<Full<Bytes>>;

/// A JSON answer with this status and body.
pub fn reply(status: u16, body: &'static str) -> Reply {
    Response::builder()
        .status(StatusCode::from_u16(status).unwrap())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

/// Serve HTTP on 127.0.0.1; `handler` gets each request and its index (0 = first request).
pub async fn serve<F, Fut>(handler: F) -> RecordingServer
where
    F: Fn(Seen, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    serve_inner(None, handler).await
}

/// Serve HTTP on 127.0.0.1, answering the first request with `first()` and every later one
/// `200 {}`: a failure the client should get past, then success.
pub async fn serve_first_then_ok<F>(first: F) -> RecordingServer
where
    F: Fn() -> Reply + Send + Sync + 'static,
{
    let first = Arc::new(first);
    serve(move |_, i| {
        let answer = if i == 0 { first() } else { reply(200, "{}") };
        std::future::ready(answer)
    })
    .await
}

/// Serve HTTPS (HTTP/1.1 and HTTP/2 by ALPN) on 127.0.0.1.
pub async fn serve_tls<F, Fut>(config: rustls::ServerConfig, handler: F) -> RecordingServer
where
    F: Fn(Seen, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    serve_inner(Some(TlsAcceptor::from(Arc::new(config))), handler).await
}

async fn serve_inner<F, Fut>(tls: Option<TlsAcceptor>, handler: F) -> RecordingServer
where
    F: Fn(Seen, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let server = RecordingServer {
        addr: listener.local_addr().unwrap(),
        tls: tls.is_some(),
        seen: Arc::default(),
        connections: Arc::default(),
        closed: Arc::default(),
        in_flight: Arc::default(),
        max_in_flight: Arc::default(),
    };
    let handler = Arc::new(handler);
    let state = server.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            state.connections.fetch_add(1, Ordering::SeqCst);
            let (tls, handler, state) = (tls.clone(), handler.clone(), state.clone());
            tokio::spawn(async move {
                match tls {
                    Some(acceptor) => {
                        if let Ok(stream) = acceptor.accept(stream).await {
                            serve_conn(stream, handler, state.clone()).await;
                        }
                    }
                    None => serve_conn(stream, handler, state.clone()).await,
                }
                state.closed.fetch_add(1, Ordering::SeqCst);
            });
        }
    });
    server
}

async fn serve_conn<IO, F, Fut>(io: IO, handler: Arc<F>, state: RecordingServer)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    F: Fn(Seen, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (handler, state) = (handler.clone(), state.clone());
        async move {
            let (parts, body) = req.into_parts();
            let body = body
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            let seen = Seen {
                method: parts.method,
                uri: parts.uri,
                version: parts.version,
                headers: parts.headers,
                body,
            };
            let index = {
                let mut all = state.seen.lock().unwrap_or_else(PoisonError::into_inner);
                all.push(seen.clone());
                all.len() - 1
            };
            let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            state.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let resp = handler(seen, index).await;
            state.in_flight.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, Infallible>(resp)
        }
    });
    let _ = auto::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), svc)
        .await;
}

/// A raw TCP server: `handle` gets each accepted stream.
pub async fn raw_server<F, Fut>(handle: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = Arc::new(handle);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(handle(stream));
        }
    });
    addr
}

/// Read a request head (up to the blank line) from a raw stream.
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 64 * 1024 {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    String::from_utf8_lossy(&buf).to_string()
}
