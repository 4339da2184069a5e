//! `snow demo`: a guided tour against a dev instance started in this process, on loopback.
//!
//! Basic auth and a query, an OAuth token and its refresh (with the token updater firing),
//! create / update / delete, an attachment round trip, and an export with its progress bar;
//! then a summary. Each step prints the `snow` command that does the same against any
//! instance.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::json;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use snow_client::oauth::{FileTokenStore, OAuth};
use snow_client::transport::Transport;
use snow_client::{Client, Instance, Record};
use snow_devinstance::{DevConfig, DevInstance};

use super::Ctx;
use super::input::RecordOpts;
use crate::exit::CliError;
use crate::export::{self, ExportArgs};
use crate::output::{CellMode, Format, RecordWriter, thousands};

/// `snow demo`.
#[derive(Args)]
pub(crate) struct DemoArgs {
    /// Incidents to seed and export.
    #[arg(long, default_value_t = 100_000)]
    records: usize,
    /// Ranges the export fetches at once.
    #[arg(long, default_value_t = 4)]
    parallel: u32,
    /// Keep the demo's files (token, export) instead of deleting them.
    #[arg(long)]
    keep: bool,
}

/// One finished step, for the summary.
struct Step {
    name: &'static str,
    took: Duration,
    result: String,
}

/// Prints a step's heading.
fn heading(n: usize, text: &str) {
    println!("\n[{n}/6] {text}");
}

/// Prints the equivalent command.
fn command(line: &str) {
    println!("  $ {line}");
}

fn say(line: &str) {
    println!("  {line}");
    let _ = std::io::stdout().flush();
}

/// Runs the demo.
pub(crate) async fn run(_ctx: &Ctx, a: DemoArgs) -> Result<(), CliError> {
    let dir = std::env::temp_dir().join(format!("snow-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(CliError::io(format!("cannot create {}", dir.display())))?;
    let result = tour(&a, &dir).await;
    if !a.keep {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("\nThe demo's files are in {}", dir.display());
    }
    result
}

async fn tour(a: &DemoArgs, dir: &Path) -> Result<(), CliError> {
    println!(
        "snow demo: the snow command against a ServiceNow-compatible instance on this machine."
    );
    let mut steps = Vec::new();

    // 1. The instance.
    heading(
        1,
        &format!(
            "Starting a dev instance with {} incidents on loopback",
            thousands(a.records as u64)
        ),
    );
    let t = Instant::now();
    let dev = DevInstance::start(DevConfig {
        records: a.records,
        ..DevConfig::default()
    })
    .await
    .map_err(|e| CliError::Other(format!("the dev instance could not start: {e}")))?;
    let url = dev.base_url().to_owned();
    command(&format!("snow dev serve --records {}", a.records));
    say(&format!(
        "serving at {url} (users admin/admin, itil/itil; OAuth client snow-dev)"
    ));
    steps.push(Step {
        name: "dev instance",
        took: t.elapsed(),
        result: format!("{} incidents at {url}", thousands(a.records as u64)),
    });

    let outcome = async {
        steps.push(basic_query(&url).await?);
        let (oauth_step, client) = oauth(&dev, &url, dir).await?;
        steps.push(oauth_step);
        let (write_step, sys_id) = writes(&client, &url).await?;
        steps.push(write_step);
        steps.push(attachment(&client, &url, &sys_id, dir).await?);
        command(&format!(
            "snow --url {url} table delete incident {sys_id} --yes"
        ));
        client.table("incident").delete(&sys_id).await?;
        say(&format!("deleted incident {sys_id}"));
        steps.push(export_step(&url, a, dir).await?);
        Ok::<(), CliError>(())
    }
    .await;
    let _ = dev.shutdown().await;
    outcome?;

    println!("\nSummary");
    for s in &steps {
        println!(
            "  {:<18} {:>7.2} s  {}",
            s.name,
            s.took.as_secs_f64(),
            s.result
        );
    }
    println!(
        "\nThe same commands work against a real instance: replace --url {url} with --instance NAME,\n\
         and give your own credentials (SNOW_USER / SNOW_PASSWORD, or snow auth login)."
    );
    Ok(())
}

async fn basic_query(url: &str) -> Result<Step, CliError> {
    heading(2, "Basic auth: five open priority-1 incidents");
    command(&format!(
        "snow --url {url} -u admin table list incident --query 'active=true^priority=1' --fields number,priority,short_description --limit 5"
    ));
    let t = Instant::now();
    let client = Client::basic(url, "admin", "admin")?;
    let mut stream = client
        .table("incident")
        .list()
        .raw_query("active=true^priority=1")
        .fields(["number", "priority", "short_description"])
        .limit(5)
        .stream::<Box<RawValue>>();
    let mut w = RecordWriter::new(
        Indent::stdout(),
        Format::Table,
        Some(vec![
            "number".into(),
            "priority".into(),
            "short_description".into(),
        ]),
        CellMode::Value,
    );
    while let Some(r) = stream.try_next().await? {
        w.write(&r)?;
    }
    let n = w.count();
    w.finish()?;
    Ok(Step {
        name: "basic-auth query",
        took: t.elapsed(),
        result: format!("{n} records"),
    })
}

async fn oauth(dev: &DevInstance, url: &str, dir: &Path) -> Result<(Step, Client), CliError> {
    heading(3, "OAuth: a token with the password grant, then a refresh");
    let token_file = dir.join("token.json");
    command(&format!(
        "snow --url {url} -u admin --client-id snow-dev --client-secret ... auth login"
    ));
    let t = Instant::now();
    let updates = Arc::new(AtomicUsize::new(0));
    let seen = updates.clone();
    let transport = Transport::builder(Instance::from_url(url).map_err(snow_client::Error::from)?)
        .build()
        .map_err(|e| CliError::Client(e.into()))?;
    let auth = OAuth::builder(
        transport.instance(),
        transport.clone(),
        "snow-dev",
        "snow-dev-secret",
    )
    .token_store(FileTokenStore::new(&token_file))
    .token_updater(move |t| {
        let n = seen.fetch_add(1, Ordering::SeqCst) + 1;
        let left = t
            .expires_at()
            .and_then(|e| e.duration_since(std::time::SystemTime::now()).ok())
            .map_or_else(|| "?".to_owned(), |d| format!("{} s", d.as_secs()));
        say(&format!(
            "token updater fired ({n}): a new access token, valid for {left}, saved with mode 0600"
        ));
    })
    .build()
    .map_err(|e| {
        CliError::Client(snow_client::Error::Config(snow_client::ConfigError::OAuth(
            e,
        )))
    })?;
    auth.generate_token("admin", "admin")
        .await
        .map_err(|e| CliError::Client(snow_client::Error::Auth(e.into())))?;
    let client = Client::new(transport.with_auth(auth.clone()));
    let who: Record = client
        .table("sys_user")
        .list()
        .raw_query("sys_id=javascript:gs.getUserID()")
        .fields(["user_name"])
        .first()
        .await?;
    say(&format!(
        "the instance knows the token as {}",
        who.str("user_name").unwrap_or("?")
    ));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(m) = std::fs::metadata(&token_file) {
            say(&format!(
                "token file mode: {:o}",
                m.permissions().mode() & 0o777
            ));
        }
    }
    say("moving the instance's clock an hour ahead: the token is now expired there...");
    dev.admin().set_clock_skew_secs(3600);
    // The next call is answered 401; the authenticator refreshes once and replays it.
    let n = client
        .table("incident")
        .list()
        .limit(1)
        .all::<Record>()
        .await?
        .len();
    dev.admin().set_clock_skew_secs(0);
    let grants = dev.admin().counters();
    say(&format!(
        "...the next call got 401, the token was refreshed and the call replayed ({n} record); token grants: password {}, refresh_token {}",
        grants.grants("password"),
        grants.grants("refresh_token")
    ));
    let fired = updates.load(Ordering::SeqCst);
    Ok((
        Step {
            name: "OAuth + refresh",
            took: t.elapsed(),
            result: format!("token updater fired {fired} times"),
        },
        client,
    ))
}

async fn writes(client: &Client, url: &str) -> Result<(Step, String), CliError> {
    heading(4, "Create and update an incident (over OAuth)");
    command(&format!(
        "snow --url {url} table create incident --set short_description='snow demo: printer on fire'"
    ));
    let t = Instant::now();
    let incidents = client.table("incident");
    let created = incidents
        .create(&json!({"short_description": "snow demo: printer on fire", "urgency": "3"}))
        .await?;
    let sys_id = created.sys_id().unwrap_or_default().to_owned();
    say(&format!(
        "created {} (sys_id {sys_id})",
        created.str("number").unwrap_or("?")
    ));
    command(&format!(
        "snow --url {url} table update incident {sys_id} --set urgency=1"
    ));
    let updated = incidents.update(&sys_id, &json!({"urgency": "1"})).await?;
    say(&format!(
        "urgency is now {}",
        updated.str("urgency").unwrap_or("?")
    ));
    Ok((
        Step {
            name: "create/update",
            took: t.elapsed(),
            result: format!("incident {sys_id}"),
        },
        sys_id,
    ))
}

async fn attachment(
    client: &Client,
    url: &str,
    sys_id: &str,
    dir: &Path,
) -> Result<Step, CliError> {
    heading(
        5,
        "Attachment round trip on it (1 MiB up, down, compared), then delete the incident",
    );
    let file = dir.join("demo.bin");
    // Deterministic bytes, no randomness needed.
    let data: Vec<u8> = (0u32..1024 * 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&file, &data)
        .map_err(CliError::io(format!("cannot write {}", file.display())))?;
    let sent = hex(&Sha256::digest(&data));
    command(&format!(
        "snow --url {url} attachment upload incident {sys_id} demo.bin"
    ));
    let t = Instant::now();
    let attachments = client.attachments();
    let meta =
        super::attachment::upload(&attachments, "incident", sys_id, &file, None, None).await?;
    say(&format!(
        "uploaded {} ({} bytes)",
        meta.file_name, meta.size_bytes
    ));
    command(&format!(
        "snow --url {url} attachment download {} -o demo.bin",
        meta.sys_id
    ));
    let back = attachments.download(&meta.sys_id).await?.bytes().await?;
    let got = hex(&Sha256::digest(&back));
    if got != sent {
        return Err(CliError::Other(
            "the downloaded attachment differs from the uploaded one".into(),
        ));
    }
    say(&format!(
        "downloaded {} bytes; SHA-256 {}… matches",
        back.len(),
        &got[..16]
    ));
    attachments.delete(&meta.sys_id).await?;
    say("attachment deleted");
    Ok(Step {
        name: "attachment",
        took: t.elapsed(),
        result: "1 MiB round trip, hashes match".into(),
    })
}

async fn export_step(url: &str, a: &DemoArgs, dir: &Path) -> Result<Step, CliError> {
    heading(
        6,
        &format!(
            "Export every incident to JSONL, {} sys_id ranges at once (progress on a terminal)",
            a.parallel
        ),
    );
    let output: PathBuf = dir.join("incidents.jsonl");
    command(&format!(
        "snow --url {url} -u admin export incident --parallel {} --output incidents.jsonl",
        a.parallel
    ));
    let client = Client::basic(url, "admin", "admin")?;
    let args = ExportArgs {
        table: "incident".into(),
        query: None,
        opts: RecordOpts::default(),
        output: Some(output.clone()),
        parallel: a.parallel.max(1),
        shard: None,
        page_size: export::DEFAULT_PAGE_SIZE,
        restart: true,
    };
    let s = export::export(&client, &args, Format::Jsonl).await?;
    let secs = s.elapsed.as_secs_f64().max(0.001);
    let rate = thousands((s.records as f64 / secs) as u64);
    say(&format!(
        "{} records, {:.1} MB, in {secs:.2} s ({rate} records/s); after an interruption, the same command resumes",
        thousands(s.records),
        s.bytes as f64 / 1e6,
    ));
    Ok(Step {
        name: "export",
        took: s.elapsed,
        result: format!("{} records, {rate} records/s", thousands(s.records)),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Standard output, indented by two spaces per line (the tables of the tour).
struct Indent {
    out: std::io::Stdout,
    line_start: bool,
}

impl Indent {
    fn stdout() -> Self {
        Self {
            out: std::io::stdout(),
            line_start: true,
        }
    }
}

impl std::io::Write for Indent {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut out = self.out.lock();
        for line in buf.split_inclusive(|b| *b == b'\n') {
            if self.line_start {
                out.write_all(b"  ")?;
            }
            out.write_all(line)?;
            self.line_start = line.ends_with(b"\n");
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}
