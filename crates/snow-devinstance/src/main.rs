//! `snow-devinstance`: run a local ServiceNow-compatible instance until killed.
//!
//! The first line of standard output is the base URL (`http://127.0.0.1:PORT`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use snow_devinstance::{DevConfig, DevInstance, RateLimitRule};

/// A local ServiceNow-compatible instance for developing and testing integrations offline.
#[derive(Debug, Parser)]
#[command(name = "snow-devinstance", version, about)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Incident records to seed (other tables proportionally).
    #[arg(long, default_value_t = 1000)]
    records: usize,
    /// Seed of the deterministic data generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Serve HTTPS with a freshly generated certificate.
    #[arg(long)]
    tls: bool,
    /// Require TLS client certificates issued by the CA(s) in this PEM file (mutual TLS;
    /// implies --tls).
    #[arg(long, value_name = "FILE")]
    client_ca: Option<PathBuf>,
    /// Write the CA certificate (PEM) that clients should trust to this file (with --tls).
    #[arg(long, value_name = "FILE")]
    ca_out: Option<PathBuf>,
    /// Keep the state in this directory: every acknowledged write is on disk (logged and
    /// synced) before it is answered; a snapshot is written at start and shutdown.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Write a snapshot every this many seconds (with --data; without it, every five minutes
    /// when anything was written).
    #[arg(long, value_name = "SECS")]
    persist_every: Option<u64>,
    /// Access-token lifetime in seconds.
    #[arg(long, default_value_t = 1800, value_name = "SECS")]
    access_token_ttl: u64,
    /// Refresh-token lifetime in seconds.
    #[arg(long, default_value_t = 8_640_000, value_name = "SECS")]
    refresh_token_ttl: u64,
    /// Most attachment bytes stored in all (in memory, or on disk with --data).
    #[arg(long, default_value_t = 256 * 1024 * 1024, value_name = "BYTES")]
    max_attachment_total_bytes: usize,
    /// Revoking an access token at /oauth_revoke_token.do also revokes its refresh token.
    #[arg(long)]
    revoke_refresh_with_access: bool,
    /// A rate-limit rule, `[USER:]LIMIT[/WINDOW_SECS]`: `itil:60/10` allows itil 60 requests
    /// per 10-second window, `500` every user 500 per hour. Repeatable; a user's own rule
    /// wins over an all-users one.
    #[arg(long = "rate-limit", value_name = "SPEC")]
    rate_limits: Vec<RateLimitRule>,
    /// PEM public key (RSA or EC) that JWT-bearer assertions must be signed with.
    #[arg(long, value_name = "FILE")]
    jwt_public_key: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let mut config = DevConfig {
        port: args.port,
        records: args.records,
        seed: args.seed,
        tls: args.tls,
        data_dir: args.data,
        persist_every: args.persist_every.map(Duration::from_secs),
        access_token_ttl: Duration::from_secs(args.access_token_ttl),
        refresh_token_ttl: Duration::from_secs(args.refresh_token_ttl),
        max_attachment_total_bytes: args.max_attachment_total_bytes,
        rate_limits: args.rate_limits,
        ..DevConfig::default()
    };
    config.oauth.revoke_refresh_with_access = args.revoke_refresh_with_access;
    if let Some(path) = &args.client_ca {
        match std::fs::read_to_string(path) {
            Ok(pem) => config.client_ca_pem = Some(pem),
            Err(e) => {
                eprintln!("snow-devinstance: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    if let Some(path) = &args.jwt_public_key {
        match std::fs::read_to_string(path) {
            Ok(pem) => config.oauth.jwt_public_key_pem = Some(pem),
            Err(e) => {
                eprintln!("snow-devinstance: cannot read {}: {e}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    // Listen for SIGTERM before announcing the URL, so a caller that stops the instance right
    // away still gets a clean, saving shutdown.
    let stop = shutdown_signal();
    let instance = match DevInstance::start(config).await {
        Ok(i) => i,
        Err(e) => {
            eprintln!("snow-devinstance: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let (Some(path), Some(pem)) = (&args.ca_out, instance.ca_pem())
        && let Err(e) = std::fs::write(path, pem)
    {
        eprintln!("snow-devinstance: cannot write {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", instance.base_url());
        let _ = out.flush();
    }
    stop.await;
    eprintln!("snow-devinstance: shutting down");
    match instance.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("snow-devinstance: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Registers the handlers now; the returned future completes on SIGTERM or ctrl-c.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::spawn(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    async move {
        #[cfg(unix)]
        if let Some(mut term) = term {
            tokio::select! {
                _ = term.recv() => {}
                _ = ctrl_c => {}
            }
            return;
        }
        let _ = ctrl_c.await;
    }
}
