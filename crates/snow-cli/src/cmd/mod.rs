//! The commands, one module per command group, and what they share.

pub(crate) mod api;
pub(crate) mod attachment;
pub(crate) mod auth;
pub(crate) mod batch;
pub(crate) mod cmdb;
pub(crate) mod demo;
pub(crate) mod dev;
pub(crate) mod import;
pub(crate) mod input;
pub(crate) mod query;
pub(crate) mod rows;
pub(crate) mod stats;
pub(crate) mod table;

use std::sync::Mutex;

use clap::CommandFactory;
use snow_client::Client;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::connect::{Connection, Needs, Settings};
use crate::exit::CliError;
use crate::output::Format;
use crate::summary;

/// What every command gets: the global options, and the clients it connected (whose
/// counters make the summary of long commands).
pub(crate) struct Ctx {
    pub(crate) global: GlobalArgs,
    clients: Mutex<Vec<Client>>,
}

impl Ctx {
    /// The connection settings (flags, environment, profile).
    pub(crate) fn settings(&self) -> Result<Settings, CliError> {
        Settings::resolve(&self.global.connect, self.global.verbose)
    }

    /// A connected client.
    pub(crate) fn connect(&self, needs: Needs) -> Result<Connection, CliError> {
        let conn = self.settings()?.connect(needs)?;
        self.clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(conn.client.clone());
        Ok(conn)
    }

    /// Prints the summary line of requests, retries and waits when the command is a long
    /// one and the line is wanted (`--verbose`, or standard error is a terminal).
    fn summarize(&self, when: summary::When) {
        if !summary::shown(self.global.verbose) {
            return;
        }
        let stats: Vec<_> = self
            .clients
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(Client::stats)
            .collect();
        if let Some(line) = summary::line(&stats, when) {
            eprintln!("{line}");
        }
    }

    /// The output format: asked for, or a table on a terminal and JSON when piped.
    pub(crate) fn format(&self) -> Format {
        Format::or_default(self.global.format)
    }
}

/// Runs the command.
pub(crate) async fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = Ctx {
        global: cli.global,
        clients: Mutex::new(Vec::new()),
    };
    let when = summary_when(&cli.command);
    let result = dispatch(&ctx, cli.command).await;
    // After the output and before any error line: the requests behind both.
    ctx.summarize(when);
    result
}

/// Which commands end with a summary line.
fn summary_when(command: &Command) -> summary::When {
    match command {
        Command::Export(_) | Command::Import(_) | Command::Batch(_) => summary::When::Always,
        Command::Table(table::TableCommand::List(_))
        | Command::Cmdb(cmdb::CmdbCommand::List(_)) => summary::When::Busy,
        _ => summary::When::Never,
    }
}

async fn dispatch(ctx: &Ctx, command: Command) -> Result<(), CliError> {
    match command {
        Command::Table(c) => table::run(ctx, c).await,
        Command::Attachment(c) => attachment::run(ctx, c).await,
        Command::Auth(c) => auth::run(ctx, c).await,
        Command::Api(a) => api::run(ctx, a).await,
        Command::Export(a) => crate::export::run(ctx, a).await,
        Command::Stats(a) => stats::run(ctx, a).await,
        Command::Import(a) => import::run(ctx, a).await,
        Command::Batch(a) => batch::run(ctx, a).await,
        Command::Cmdb(c) => cmdb::run(ctx, c).await,
        Command::Query(c) => query::run(ctx, c),
        Command::Dev(c) => dev::run(c).await,
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "snow", &mut std::io::stdout());
            Ok(())
        }
        Command::Demo(a) => demo::run(ctx, a).await,
    }
}
