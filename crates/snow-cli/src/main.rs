//! `snow`: ServiceNow's REST APIs from the terminal.
//!
//! Tables, attachments, OAuth logins, raw API calls, encoded-query checks and resumable,
//! parallel exports, over the snow client crates; a local dev instance and a guided demo.
//! See the crate's README for every command, and `snow --help` for the exit codes.

// The doc comments of the command-line types are the text of `snow --help`, where URLs are
// written plainly.
#![allow(rustdoc::bare_urls)]

mod cli;
mod cmd;
mod config;
mod connect;
mod exit;
mod export;
mod output;
mod progress;
mod prompt;
mod verbose;

use std::process::ExitCode;

use clap::Parser;

use crate::exit::{CliError, Exit};
use crate::output::Format;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let json_errors = cli.global.format == Some(Format::Json);
    if cli.global.no_progress {
        progress::disable();
    }
    let runtime = match runtime_for(&cli.command).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            return report(
                &CliError::Other(format!("cannot start the async runtime: {e}")),
                json_errors,
            );
        }
    };
    let result = runtime.block_on(cmd::run(cli));
    // Background work (connection pools, a dev instance's tasks) must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => report(&e, json_errors),
    }
}

/// The async runtime for a command: one thread for the client commands, a worker pool for
/// those that serve a dev instance in this process (`dev serve`, `demo`).
///
/// One thread is plenty for a client, whose other side is the slow one, and it keeps memory
/// flat: with a worker pool, records allocated on one thread and freed on another made the
/// allocator's per-thread arenas grow with the record count (an export with `--parallel 4`
/// peaked at 45 MiB for 200,000 records and 72 MiB for 1,000,000; on one thread, 37 and 37).
fn runtime_for(command: &cli::Command) -> tokio::runtime::Builder {
    match command {
        cli::Command::Dev(_) | cli::Command::Demo(_) => tokio::runtime::Builder::new_multi_thread(),
        _ => tokio::runtime::Builder::new_current_thread(),
    }
}

/// Prints the error as one line (or a JSON object with `--format json`) on standard error and
/// returns its exit code.
fn report(e: &CliError, json: bool) -> ExitCode {
    let exit = e.exit();
    if exit == Exit::Ok {
        // A closed pipe (`snow ... | head`) is how the reader says it has enough.
        return ExitCode::SUCCESS;
    }
    if json {
        let obj = serde_json::json!({
            "error": {
                "kind": exit.name(),
                "exit_code": exit.code(),
                "message": e.one_line(),
                "status": e.status(),
            }
        });
        eprintln!("{obj}");
    } else {
        eprintln!("snow: error: {}", e.one_line());
    }
    ExitCode::from(exit.code())
}
