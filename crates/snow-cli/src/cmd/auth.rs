//! `snow auth login|status|logout`: OAuth tokens kept in a file (mode 0600).

use std::time::{Duration, SystemTime};

use clap::Subcommand;
use serde_json::json;
use snow_client::Record;
use snow_client::oauth::{FileTokenStore, TokenSet, TokenStore};

use super::Ctx;
use crate::connect::Needs;
use crate::exit::CliError;
use crate::output::{CellMode, write_one};

/// The auth commands.
#[derive(Subcommand)]
pub(crate) enum AuthCommand {
    /// Get an OAuth token with the password grant and keep it in the token file (0600); later
    /// commands use and refresh it.
    Login,
    /// How commands authenticate, the stored token's expiry, and a check against the instance.
    Status {
        /// Only show the settings and the stored token; send no request.
        #[arg(long)]
        offline: bool,
    },
    /// Revoke the stored OAuth tokens at the instance and delete the token file.
    Logout,
}

/// Runs an auth command.
pub(crate) async fn run(ctx: &Ctx, cmd: AuthCommand) -> Result<(), CliError> {
    match cmd {
        AuthCommand::Login => login(ctx).await,
        AuthCommand::Status { offline } => status(ctx, offline).await,
        AuthCommand::Logout => logout(ctx).await,
    }
}

async fn login(ctx: &Ctx) -> Result<(), CliError> {
    let settings = ctx.settings()?;
    let instance = settings.instance()?;
    let user = settings
        .user
        .clone()
        .ok_or_else(|| CliError::Auth("auth login needs a user: --user or SNOW_USER".into()))?;
    let client = settings.oauth_client()?;
    let password = settings.password_for(&user, &instance)?;
    let transport = settings
        .transport(instance.clone(), Needs::default())?
        .build()
        .map_err(|e| CliError::Client(e.into()))?;
    let file = settings.token_file(&instance)?;
    let auth = settings.oauth(&transport, file.clone(), client, None)?;
    let token = auth
        .generate_token(&user, password)
        .await
        .map_err(|e| CliError::Client(snow_client::Error::Auth(e.into())))?;
    let summary = json!({
        "instance": instance.base_url(),
        "user": user,
        "token_file": file.display().to_string(),
        "access_token_expires": expiry_text(token.expires_at()),
        "refresh_token": token.refresh_token().is_some(),
    });
    print(ctx, &summary)
}

async fn status(ctx: &Ctx, offline: bool) -> Result<(), CliError> {
    let settings = ctx.settings()?;
    let instance = settings.instance()?;
    let file = settings.token_file(&instance).ok();
    let stored = match &file {
        Some(f) => load(f).await?,
        None => None,
    };
    let mut summary = json!({
        "instance": instance.base_url(),
        "token_file": file.as_ref().map(|f| f.display().to_string()),
        "token_stored": stored.is_some(),
    });
    if let Some(t) = &stored {
        summary["access_token_expires"] = json!(expiry_text(t.expires_at()));
        summary["refresh_token"] = json!(t.refresh_token().is_some());
    }
    if !offline {
        let conn = settings.connect(Needs::default())?;
        summary["auth"] = json!(conn.description);
        // Who the instance says we are: the current user's record.
        let me: Record = conn
            .client
            .table("sys_user")
            .list()
            .raw_query("sys_id=javascript:gs.getUserID()")
            .fields(["user_name"])
            .first()
            .await?;
        summary["logged_in_as"] = json!(me.str("user_name"));
        summary["check"] = json!("ok");
    }
    print(ctx, &summary)
}

async fn logout(ctx: &Ctx) -> Result<(), CliError> {
    let settings = ctx.settings()?;
    let instance = settings.instance()?;
    let file = settings.token_file(&instance)?;
    let Some(token) = load(&file).await? else {
        eprintln!(
            "snow: not logged in to {} (no token in {})",
            instance.base_url(),
            file.display()
        );
        return Ok(());
    };
    let transport = settings
        .transport(instance.clone(), Needs::default())?
        .build()
        .map_err(|e| CliError::Client(e.into()))?;
    // An authenticator holding the stored token only: no store, so nothing is written back.
    let (id, secret) = settings.oauth_client_or_stand_in();
    let auth = snow_client::oauth::OAuth::builder(&instance, transport, id, secret)
        .token(token)
        .build()
        .map_err(|e| {
            CliError::Client(snow_client::Error::Config(snow_client::ConfigError::OAuth(
                e,
            )))
        })?;
    let revoked = auth.revoke().await;
    std::fs::remove_file(&file)
        .map_err(CliError::io(format!("cannot delete {}", file.display())))?;
    match revoked {
        Ok(()) => {
            eprintln!(
                "snow: logged out of {}: tokens revoked, {} deleted",
                instance.base_url(),
                file.display()
            );
            Ok(())
        }
        Err(e) => {
            eprintln!(
                "snow: {} deleted, but the instance did not confirm the revocation",
                file.display()
            );
            Err(CliError::Client(snow_client::Error::Auth(e.into())))
        }
    }
}

async fn load(file: &std::path::Path) -> Result<Option<TokenSet>, CliError> {
    FileTokenStore::new(file).load().await.map_err(|e| {
        CliError::Auth(format!(
            "cannot read the token file {}: {e}",
            file.display()
        ))
    })
}

fn print(ctx: &Ctx, value: &serde_json::Value) -> Result<(), CliError> {
    let raw = serde_json::value::to_raw_value(value).map_err(|e| CliError::Other(e.to_string()))?;
    write_one(
        &mut std::io::stdout().lock(),
        ctx.format(),
        &raw,
        CellMode::Value,
    )
}

/// "in 29 min", "expired 3 min ago", or "unknown".
fn expiry_text(at: Option<SystemTime>) -> String {
    let Some(at) = at else {
        return "unknown".into();
    };
    let now = SystemTime::now();
    match at.duration_since(now) {
        Ok(left) => format!("in {}", human(left)),
        Err(e) => format!("expired {} ago", human(e.duration())),
    }
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=119 => format!("{s} s"),
        120..=7199 => format!("{} min", s / 60),
        7200..=172_799 => format!("{} h", s / 3600),
        _ => format!("{} days", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expiry_reads_well() {
        assert_eq!(expiry_text(None), "unknown");
        let soon = SystemTime::now() + Duration::from_secs(1800);
        assert!(
            expiry_text(Some(soon)).starts_with("in 29 min")
                || expiry_text(Some(soon)).starts_with("in 30 min")
        );
        let past = SystemTime::now() - Duration::from_secs(200);
        assert!(expiry_text(Some(past)).starts_with("expired 3 min"));
        assert_eq!(human(Duration::from_secs(86_400 * 100)), "100 days");
    }
}
