//! The command line: global options and the command tree (clap derive).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cmd::{api, attachment, auth, dev, query, table};
use crate::export::ExportArgs;
use crate::output::Format;

const AFTER_HELP: &str = "\
Credentials come from flags, the environment (SNOW_INSTANCE, SNOW_URL, SNOW_USER, SNOW_PASSWORD,
SNOW_CLIENT_ID, SNOW_CLIENT_SECRET, SNOW_API_KEY, SNOW_TOKEN_FILE) or a profile in the config file;
a missing password is asked for without echo when standard input is a terminal.

Try it: snow demo";

/// ServiceNow from the terminal: tables, attachments, OAuth, raw API calls and resumable,
/// parallel exports.
#[derive(Parser)]
#[command(
    name = "snow",
    version,
    about,
    after_help = AFTER_HELP,
    after_long_help = long_after_help(),
    propagate_version = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

fn long_after_help() -> String {
    format!("{AFTER_HELP}\n\n{}", crate::exit::help_table())
}

/// Options every command takes, before or after the command name.
#[derive(Args)]
pub(crate) struct GlobalArgs {
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
    /// Output format: a table on a terminal and JSON when piped, unless set.
    #[arg(long, short = 'F', global = true, value_enum, env = "SNOW_FORMAT")]
    pub(crate) format: Option<Format>,
    /// Log each request (method, path, status, time) to standard error; never credentials.
    #[arg(long, short = 'v', global = true)]
    pub(crate) verbose: bool,
    /// Never draw progress bars (they are drawn only when standard error is a terminal).
    #[arg(long, global = true)]
    pub(crate) no_progress: bool,
}

/// How to reach and log in to the instance. Flags win over the environment, which wins over
/// the profile.
#[derive(Args, Clone, Default)]
pub(crate) struct ConnectArgs {
    /// Instance name (`acme` for https://acme.service-now.com) or host.
    #[arg(
        long,
        global = true,
        env = "SNOW_INSTANCE",
        value_name = "NAME",
        help_heading = "Connection"
    )]
    pub(crate) instance: Option<String>,
    /// Full base URL, e.g. https://acme.service-now.com; plain http only for loopback.
    #[arg(
        long,
        global = true,
        env = "SNOW_URL",
        value_name = "URL",
        conflicts_with = "instance",
        help_heading = "Connection"
    )]
    pub(crate) url: Option<String>,
    /// Allow plain http:// to an address other than loopback (credentials travel unencrypted).
    #[arg(long, global = true, help_heading = "Connection")]
    pub(crate) allow_http: bool,
    /// User name (Basic auth, or the OAuth password grant).
    #[arg(
        long,
        short = 'u',
        global = true,
        env = "SNOW_USER",
        value_name = "USER",
        help_heading = "Connection"
    )]
    pub(crate) user: Option<String>,
    /// Password (prefer SNOW_PASSWORD or the prompt: flags are visible to other local users).
    #[arg(
        long,
        global = true,
        env = "SNOW_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD",
        help_heading = "Connection"
    )]
    pub(crate) password: Option<String>,
    /// OAuth client id (Application Registry); with a client secret, OAuth is used.
    #[arg(
        long,
        global = true,
        env = "SNOW_CLIENT_ID",
        value_name = "ID",
        help_heading = "Connection"
    )]
    pub(crate) client_id: Option<String>,
    /// OAuth client secret.
    #[arg(
        long,
        global = true,
        env = "SNOW_CLIENT_SECRET",
        hide_env_values = true,
        value_name = "SECRET",
        help_heading = "Connection"
    )]
    pub(crate) client_secret: Option<String>,
    /// API key, sent in the x-sn-apikey header.
    #[arg(
        long,
        global = true,
        env = "SNOW_API_KEY",
        hide_env_values = true,
        value_name = "KEY",
        help_heading = "Connection"
    )]
    pub(crate) api_key: Option<String>,
    /// Where the OAuth token is kept (mode 0600); default: one file per instance in the config
    /// directory.
    #[arg(
        long,
        global = true,
        env = "SNOW_TOKEN_FILE",
        value_name = "FILE",
        help_heading = "Connection"
    )]
    pub(crate) token_file: Option<PathBuf>,
    /// How to authenticate; by default the first available of API key, OAuth, Basic.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "SNOW_AUTH",
        help_heading = "Connection"
    )]
    pub(crate) auth: Option<AuthMethod>,
    /// Profile to use from the config file.
    #[arg(
        long,
        short = 'p',
        global = true,
        env = "SNOW_PROFILE",
        value_name = "NAME",
        help_heading = "Connection"
    )]
    pub(crate) profile: Option<String>,
    /// Config file (default: snow/config.toml in the user's config directory).
    #[arg(
        long,
        global = true,
        env = "SNOW_CONFIG",
        value_name = "FILE",
        help_heading = "Connection"
    )]
    pub(crate) config: Option<PathBuf>,
    /// Also trust the CA certificates in this PEM file.
    #[arg(
        long,
        global = true,
        env = "SNOW_CA_FILE",
        value_name = "FILE",
        help_heading = "Connection"
    )]
    pub(crate) ca_file: Option<PathBuf>,
    /// DANGEROUS: do not verify the server's TLS certificate.
    #[arg(long, global = true, help_heading = "Connection")]
    pub(crate) insecure: bool,
    /// HTTP proxy (CONNECT), e.g. http://proxy:3128 or http://user:pass@proxy:3128.
    #[arg(
        long,
        global = true,
        env = "SNOW_PROXY",
        hide_env_values = true,
        value_name = "URL",
        help_heading = "Connection"
    )]
    pub(crate) proxy: Option<String>,
    /// Seconds each request may take (default 60).
    #[arg(
        long,
        global = true,
        env = "SNOW_TIMEOUT",
        value_name = "SECS",
        help_heading = "Connection"
    )]
    pub(crate) timeout: Option<u64>,
    /// Attempts per request on 429, 502-504 and connection failures (default 3; 1 = no retry).
    #[arg(long, global = true, value_name = "N", help_heading = "Connection")]
    pub(crate) attempts: Option<u32>,
}

/// How to authenticate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum AuthMethod {
    /// HTTP Basic with user and password.
    Basic,
    /// OAuth 2: the token from `snow auth login`, or the password grant.
    Oauth,
    /// An API key.
    ApiKey,
}

/// The commands.
#[derive(Subcommand)]
pub(crate) enum Command {
    /// Read and write records of a table.
    #[command(subcommand)]
    Table(table::TableCommand),
    /// Upload, download, list and delete attachments.
    #[command(subcommand)]
    Attachment(attachment::AttachmentCommand),
    /// Log in with OAuth, show the login, log out (revoking the token).
    #[command(subcommand)]
    Auth(auth::AuthCommand),
    /// A raw request to any API path, with any method.
    ///
    /// Example: snow api GET /api/now/stats/incident -q sysparm_count=true
    Api(api::ApiArgs),
    /// Every matching record of a table to JSONL, CSV or JSON: streamed, parallel, resumable.
    Export(ExportArgs),
    /// Encoded queries.
    #[command(subcommand)]
    Query(query::QueryCommand),
    /// The local ServiceNow-compatible instance.
    #[command(subcommand)]
    Dev(dev::DevCommand),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    ///
    /// Example: snow completions bash > ~/.local/share/bash-completion/completions/snow
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// A guided tour against a local dev instance: queries, OAuth, writes, attachments, an export.
    Demo(crate::cmd::demo::DemoArgs),
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_documented_spellings_parse() {
        for line in [
            "snow --url http://127.0.0.1:1 table list incident --query priority=1 --limit 10 --format jsonl",
            "snow --url http://127.0.0.1:1 export incident --format jsonl --output incidents.jsonl",
            "snow export incident --parallel 4 --shard 2/3 -o x.csv",
            "snow table get incident 0123 --url http://localhost:1",
            "snow completions zsh",
            "snow query check active=true",
        ] {
            let args: Vec<&str> = line.split(' ').collect();
            if let Err(e) = Cli::try_parse_from(args) {
                panic!("{line}: {e}");
            }
        }
    }

    #[test]
    fn help_lists_exit_codes_and_hides_secrets() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:"), "{help}");
        assert!(help.contains("rate limited"), "{help}");
    }
}
