//! The profile file: named connection settings in TOML.
//!
//! ```toml
//! default_profile = "dev"
//!
//! [profiles.dev]
//! url = "http://127.0.0.1:8080"
//! user = "admin"
//!
//! [profiles.prod]
//! instance = "acme"
//! client_id = "3e57..."
//! token_file = "~/.config/snow/acme.token.json"
//! ca_file = "/etc/ssl/company-ca.pem"
//! proxy = "http://proxy.corp.example:3128"
//! timeout = 120
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::cli::AuthMethod;
use crate::exit::CliError;

/// The largest config file read.
const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// The config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ConfigFile {
    /// The profile used when none is named.
    #[serde(default)]
    pub(crate) default_profile: Option<String>,
    /// Profiles by name.
    #[serde(default)]
    pub(crate) profiles: BTreeMap<String, Profile>,
}

/// One profile: any connection setting. Secrets may be kept here (the file should then be
/// readable by its owner only; a warning says so otherwise), but the environment or the
/// prompt is better.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Profile {
    pub(crate) instance: Option<String>,
    pub(crate) url: Option<String>,
    #[serde(default)]
    pub(crate) allow_http: bool,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<String>,
    pub(crate) api_key: Option<String>,
    pub(crate) token_file: Option<PathBuf>,
    pub(crate) auth: Option<AuthMethod>,
    pub(crate) ca_file: Option<PathBuf>,
    #[serde(default)]
    pub(crate) insecure: bool,
    pub(crate) proxy: Option<String>,
    pub(crate) timeout: Option<u64>,
    pub(crate) attempts: Option<u32>,
}

impl std::fmt::Debug for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |s: &Option<String>| s.as_ref().map(|_| "[REDACTED]");
        f.debug_struct("Profile")
            .field("instance", &self.instance)
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &secret(&self.password))
            .field("client_id", &self.client_id)
            .field("client_secret", &secret(&self.client_secret))
            .field("api_key", &secret(&self.api_key))
            .field("token_file", &self.token_file)
            .finish_non_exhaustive()
    }
}

impl Profile {
    fn has_secret(&self) -> bool {
        self.password.is_some() || self.client_secret.is_some() || self.api_key.is_some()
    }
}

/// The user's home directory.
pub(crate) fn home_dir() -> Option<PathBuf> {
    let var = if cfg!(windows) { "USERPROFILE" } else { "HOME" };
    std::env::var_os(var)
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// The user's config directory: `$XDG_CONFIG_HOME` or `~/.config` on Linux and other Unixes,
/// `~/Library/Application Support` on macOS, `%APPDATA%` on Windows.
fn user_config_dir() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    if cfg!(windows) {
        return std::env::var_os("APPDATA").and_then(absolute);
    }
    if cfg!(target_os = "macos") {
        return home_dir().map(|h| h.join("Library/Application Support"));
    }
    std::env::var_os("XDG_CONFIG_HOME")
        .and_then(absolute)
        .or_else(|| home_dir().map(|h| h.join(".config")))
}

/// snow's directory in the user's config directory (`~/.config/snow` on Linux).
pub(crate) fn config_dir() -> Option<PathBuf> {
    user_config_dir().map(|d| d.join("snow"))
}

/// The default config file path.
pub(crate) fn default_path() -> Option<PathBuf> {
    config_dir().map(|d| d.join("config.toml"))
}

/// Expands a leading `~/`.
pub(crate) fn expand_home(p: &Path) -> PathBuf {
    match (p.strip_prefix("~"), home_dir()) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => p.to_owned(),
    }
}

/// Loads the profile to use: the one named (an error if it does not exist), else the file's
/// default profile, else none. A missing file is no profile, unless a profile was named.
pub(crate) fn load_profile(
    explicit_file: Option<&Path>,
    name: Option<&str>,
) -> Result<Option<Profile>, CliError> {
    let path = match explicit_file {
        Some(p) => Some(expand_home(p)),
        None => default_path(),
    };
    let file = match &path {
        Some(p) => read(p, explicit_file.is_some())?,
        None => None,
    };
    let Some((file, path)) = file.zip(path) else {
        return match name {
            Some(n) => Err(CliError::usage(format!(
                "no profile {n:?}: there is no config file{}",
                default_path()
                    .map(|p| format!(" (looked for {})", p.display()))
                    .unwrap_or_default()
            ))),
            None => Ok(None),
        };
    };
    let mut profiles = file.profiles;
    let wanted = name.map(str::to_owned).or(file.default_profile.clone());
    let Some(wanted) = wanted else {
        return Ok(None);
    };
    match profiles.remove(&wanted) {
        Some(p) => {
            if p.has_secret() {
                warn_if_readable_by_others(&path);
            }
            Ok(Some(p))
        }
        None => Err(CliError::usage(format!(
            "no profile {wanted:?} in {}{}",
            path.display(),
            if profiles.is_empty() {
                String::new()
            } else {
                format!(
                    " (it has: {})",
                    profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                )
            }
        ))),
    }
}

fn read(path: &Path, must_exist: bool) -> Result<Option<ConfigFile>, CliError> {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => return Ok(None),
        Err(e) => {
            return Err(CliError::Usage(format!(
                "cannot read the config file {}: {e}",
                path.display()
            )));
        }
    };
    if meta.len() > MAX_CONFIG_BYTES {
        return Err(CliError::Usage(format!(
            "the config file {} is larger than {MAX_CONFIG_BYTES} bytes",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        CliError::Usage(format!(
            "cannot read the config file {}: {e}",
            path.display()
        ))
    })?;
    parse(&text)
        .map(Some)
        .map_err(|e| CliError::Usage(format!("the config file {}: {e}", path.display())))
}

/// Parses the file's text. Errors name the line, never a value (which could be a secret).
pub(crate) fn parse(text: &str) -> Result<ConfigFile, String> {
    toml::from_str(text).map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let line = text[..s.start.min(text.len())].matches('\n').count() + 1;
                format!(" at line {line}")
            })
            .unwrap_or_default();
        format!("{}{at}", e.message())
    })
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            eprintln!(
                "snow: warning: {} holds secrets and can be read by other users; run: chmod 600 {}",
                path.display(),
                path.display()
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_path: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_parse() {
        let f = parse(
            r#"
default_profile = "dev"
[profiles.dev]
url = "http://127.0.0.1:8080"
user = "admin"
password = "pw-s3cret"
auth = "basic"
timeout = 30
[profiles.prod]
instance = "acme"
auth = "api-key"
"#,
        )
        .unwrap();
        assert_eq!(f.default_profile.as_deref(), Some("dev"));
        let dev = &f.profiles["dev"];
        assert_eq!(dev.url.as_deref(), Some("http://127.0.0.1:8080"));
        assert_eq!(dev.auth, Some(AuthMethod::Basic));
        assert_eq!(f.profiles["prod"].auth, Some(AuthMethod::ApiKey));
        assert!(!format!("{dev:?}").contains("pw-s3cret"), "{dev:?}");
    }

    #[test]
    fn errors_name_the_line_not_the_value() {
        let e = parse("[profiles.x]\npassword = \"s3cret\"\nbogus = \"s3cret\"\n").unwrap_err();
        assert!(e.contains("line 3"), "{e}");
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn a_named_profile_must_exist() {
        let dir = std::env::temp_dir().join(format!("snow-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(&path, "[profiles.a]\nuser = \"x\"\n").unwrap();
        let e = load_profile(Some(&path), Some("b")).unwrap_err();
        assert!(e.to_string().contains("it has: a"), "{e}");
        assert!(load_profile(Some(&path), Some("a")).unwrap().is_some());
        assert!(load_profile(Some(&path), None).unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
