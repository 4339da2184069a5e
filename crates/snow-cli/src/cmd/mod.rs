//! The commands, one module per command group, and what they share.

pub(crate) mod api;
pub(crate) mod attachment;
pub(crate) mod auth;
pub(crate) mod demo;
pub(crate) mod dev;
pub(crate) mod input;
pub(crate) mod query;
pub(crate) mod table;

use clap::CommandFactory;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::connect::{Connection, Needs, Settings};
use crate::exit::CliError;
use crate::output::Format;

/// What every command gets: the global options.
pub(crate) struct Ctx {
    pub(crate) global: GlobalArgs,
}

impl Ctx {
    /// The connection settings (flags, environment, profile).
    pub(crate) fn settings(&self) -> Result<Settings, CliError> {
        Settings::resolve(&self.global.connect, self.global.verbose)
    }

    /// A connected client.
    pub(crate) fn connect(&self, needs: Needs) -> Result<Connection, CliError> {
        self.settings()?.connect(needs)
    }

    /// The output format: asked for, or a table on a terminal and JSON when piped.
    pub(crate) fn format(&self) -> Format {
        Format::or_default(self.global.format)
    }
}

/// Runs the command.
pub(crate) async fn run(cli: Cli) -> Result<(), CliError> {
    let ctx = Ctx { global: cli.global };
    match cli.command {
        Command::Table(c) => table::run(&ctx, c).await,
        Command::Attachment(c) => attachment::run(&ctx, c).await,
        Command::Auth(c) => auth::run(&ctx, c).await,
        Command::Api(a) => api::run(&ctx, a).await,
        Command::Export(a) => crate::export::run(&ctx, a).await,
        Command::Query(c) => query::run(&ctx, c),
        Command::Dev(c) => dev::run(c).await,
        Command::Completions { shell } => {
            let mut cmd = Cli::command();
            clap_complete::generate(shell, &mut cmd, "snow", &mut std::io::stdout());
            Ok(())
        }
        Command::Demo(a) => demo::run(&ctx, a).await,
    }
}
