//! The HTTP side of the dev instance: listener, TLS, routing and the APIs.

mod admin;
mod aggregate;
mod attachment;
mod auth;
mod batch;
mod blobs;
mod body;
mod cmdb;
pub(crate) mod config;
mod data_dir;
mod disposition;
pub(crate) mod faults;
mod finish;
mod gzip;
mod import_set;
pub(crate) mod introspect;
mod oauth;
mod params;
mod pipeline;
mod redact;
mod request;
mod respond;
mod router;
mod service;
pub(crate) mod state;
mod table;
mod tls;
mod tokens;
mod wal;

use std::net::SocketAddr;
use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use admin::Admin;
use config::DevConfig;
use state::State;

/// Why an instance could not start or save its state.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Binding the listening socket failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// Generating the certificate or the TLS configuration failed.
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// Reading or writing the data directory failed.
    #[error("data directory {path}: {source}")]
    Data {
        /// The file involved.
        path: std::path::PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// The data directory holds a state file that cannot be loaded.
    #[error("data directory {path}: state file is not valid: {message}")]
    Corrupt {
        /// The file involved.
        path: std::path::PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// An admin call named a user the instance does not have.
    #[error("no such user: {0}")]
    UnknownUser(String),
}

/// A running dev instance. Dropping it stops accepting connections; call
/// [`DevInstance::shutdown`] to also wait for the connections to finish and save the state.
///
/// ```no_run
/// # async fn demo() -> Result<(), snow_devinstance::Error> {
/// use snow_devinstance::{DevConfig, DevInstance};
/// let instance = DevInstance::start(DevConfig { records: 100, ..DevConfig::default() }).await?;
/// println!("serving {}", instance.base_url());
/// instance.shutdown().await?;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DevInstance {
    state: Arc<State>,
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    accept: Option<JoinHandle<()>>,
    saver: Option<JoinHandle<()>>,
}

impl DevInstance {
    /// Seed (or load from `data_dir`) the data, bind the listener and start serving.
    pub async fn start(config: DevConfig) -> Result<DevInstance, Error> {
        let addr = SocketAddr::new(config.bind, config.port);
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| Error::Bind { addr, source })?;
        let tls = if config.tls || config.client_ca_pem.is_some() {
            Some(tls::Tls::generate(config.client_ca_pem.as_deref())?)
        } else {
            None
        };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let base_url = format!("{scheme}://{addr}");
        let (db, blobs, journal) = match &config.data_dir {
            Some(dir) => {
                let opened = data_dir::open(&config, dir)?;
                (opened.db, opened.blobs, Some(opened.journal))
            }
            None => (
                crate::db::Db::new_seeded(config.seed, config.records),
                blobs::Blobs::in_memory(config.max_attachment_total_bytes as u64),
                None,
            ),
        };
        let persist_every = config.persist_every;
        let state = Arc::new(State::new(config, base_url, db, blobs, journal, tls));
        let (stop, stop_rx) = watch::channel(false);
        let accept = tokio::spawn(accept_loop(listener, state.clone(), stop_rx.clone()));
        let saver = state
            .journal
            .is_some()
            .then(|| tokio::spawn(data_dir::compactor(state.clone(), persist_every, stop_rx)));
        Ok(DevInstance {
            state,
            addr,
            stop,
            accept: Some(accept),
            saver,
        })
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.state.base_url
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The PEM of the certificate authority that signed the server certificate, when TLS is on.
    pub fn ca_pem(&self) -> Option<&str> {
        self.state.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// Direct access to counters, request log, faults, tokens and data.
    pub fn admin(&self) -> Admin {
        Admin::new(self.state.clone())
    }

    /// Stop accepting, let open connections finish their current requests (at most a few
    /// seconds), and write a snapshot to the data directory if one is configured.
    pub async fn shutdown(mut self) -> Result<(), Error> {
        let _ = self.stop.send(true);
        if let Some(accept) = self.accept.take() {
            let _ = accept.await;
        }
        if let Some(saver) = self.saver.take() {
            let _ = saver.await;
        }
        if let Some(journal) = &self.state.journal {
            let state = self.state.clone();
            let compacted = tokio::task::spawn_blocking(move || data_dir::compact(&state))
                .await
                .unwrap_or_else(|e| {
                    Err(Error::Data {
                        path: self.state.config.data_dir.clone().unwrap_or_default(),
                        source: std::io::Error::other(e.to_string()),
                    })
                });
            journal.close();
            compacted?;
        }
        Ok(())
    }
}

impl Drop for DevInstance {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .keep_alive(true)
        .max_buf_size(64 * 1024)
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(std::time::Duration::from_secs(30));
    builder.http2().max_concurrent_streams(256);
    loop {
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly and keep serving.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let _ = stream.set_nodelay(true);
        let acceptor = state.tls.as_ref().map(|t| t.acceptor());
        let state = state.clone();
        let svc = hyper::service::service_fn(move |req| service::serve(state.clone(), req));
        match acceptor {
            None => {
                let conn = builder
                    .serve_connection(TokioIo::new(stream), svc)
                    .into_owned();
                let conn = graceful.watch(conn);
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            Some(acceptor) => {
                let builder = builder.clone();
                let watcher = graceful.watcher();
                tokio::spawn(async move {
                    let Ok(Ok(tls_stream)) = tokio::time::timeout(
                        std::time::Duration::from_secs(10),
                        acceptor.accept(stream),
                    )
                    .await
                    else {
                        return;
                    };
                    let conn = builder
                        .serve_connection(TokioIo::new(tls_stream), svc)
                        .into_owned();
                    let _ = watcher.watch(conn).await;
                });
            }
        }
    }
    drop(listener);
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), graceful.shutdown()).await;
}
