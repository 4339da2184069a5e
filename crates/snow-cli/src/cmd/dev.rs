//! `snow dev serve`: the local ServiceNow-compatible instance.

use std::io::Write as _;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use snow_devinstance::{DevConfig, DevInstance};

use crate::exit::CliError;

/// The dev commands.
#[derive(Subcommand)]
pub(crate) enum DevCommand {
    /// Run the dev instance until ctrl-c; its URL is the first line of standard output.
    Serve(ServeArgs),
}

/// `snow dev serve`.
#[derive(Args)]
pub(crate) struct ServeArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Incidents to seed (other tables in proportion).
    #[arg(long, default_value_t = 1000)]
    records: usize,
    /// Seed of the deterministic data generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Serve HTTPS with a certificate made at start (see --ca-out).
    #[arg(long)]
    tls: bool,
    /// Write the CA certificate clients must trust (PEM) here; with --tls.
    #[arg(long, value_name = "FILE", requires = "tls")]
    ca_out: Option<PathBuf>,
    /// Keep the data in this directory (every acknowledged write survives a crash).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
}

/// Runs a dev command.
pub(crate) async fn run(cmd: DevCommand) -> Result<(), CliError> {
    let DevCommand::Serve(a) = cmd;
    let config = DevConfig {
        port: a.port,
        records: a.records,
        seed: a.seed,
        tls: a.tls,
        data_dir: a.data,
        ..DevConfig::default()
    };
    let instance = DevInstance::start(config)
        .await
        .map_err(|e| CliError::Other(format!("the dev instance could not start: {e}")))?;
    if let (Some(path), Some(pem)) = (&a.ca_out, instance.ca_pem()) {
        std::fs::write(path, pem)
            .map_err(CliError::io(format!("cannot write {}", path.display())))?;
    }
    {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{}", instance.base_url());
        let _ = out.flush();
    }
    eprintln!(
        "snow: dev instance at {} with {} incidents; users admin/admin, itil/itil, reader/reader; \
         OAuth client snow-dev/snow-dev-secret; ctrl-c stops it",
        instance.base_url(),
        a.records
    );
    wait_for_stop().await;
    eprintln!("snow: stopping the dev instance");
    instance
        .shutdown()
        .await
        .map_err(|e| CliError::Other(format!("the dev instance did not stop cleanly: {e}")))
}

/// Completes on ctrl-c or SIGTERM.
pub(crate) async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
