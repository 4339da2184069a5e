//! From the connection options (flags, environment, profile) to a [`Client`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use secrecy::SecretString;
use snow_client::basic::{ApiKey, BasicAuth};
use snow_client::oauth::{FileTokenStore, OAuth, OAuthAuthenticator};
use snow_client::transport::{Proxy, RetryConfig, TlsConfig, Transport, TransportBuilder};
use snow_client::{Client, Instance};

use crate::cli::{AuthMethod, ConnectArgs};
use crate::config::{self, Profile};
use crate::exit::CliError;
use crate::prompt;

/// The largest CA file read.
const MAX_CA_FILE: u64 = 1024 * 1024;

/// What a command needs from the connection beyond the defaults.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Needs {
    /// Large streamed bodies (attachments): no whole-call time limit and no body cap beyond
    /// what is written to disk.
    pub(crate) transfers: bool,
}

/// The settings after flags, environment and profile are merged.
pub(crate) struct Settings {
    instance: Option<String>,
    url: Option<String>,
    allow_http: bool,
    pub(crate) user: Option<String>,
    password: Option<SecretString>,
    pub(crate) client_id: Option<String>,
    client_secret: Option<SecretString>,
    api_key: Option<SecretString>,
    token_file: Option<PathBuf>,
    auth: Option<AuthMethod>,
    ca_file: Option<PathBuf>,
    insecure: bool,
    proxy: Option<String>,
    timeout: Option<u64>,
    attempts: Option<u32>,
    verbose: bool,
}

impl Settings {
    /// Flags and environment (already merged by clap) over the profile.
    pub(crate) fn resolve(args: &ConnectArgs, verbose: bool) -> Result<Self, CliError> {
        let profile = config::load_profile(args.config.as_deref(), args.profile.as_deref())?
            .unwrap_or_default();
        Ok(Self::merge(args, profile, verbose))
    }

    fn merge(args: &ConnectArgs, p: Profile, verbose: bool) -> Self {
        // Where to connect is one setting: a flag or variable for either replaces the profile's.
        let (instance, url) = if args.instance.is_some() || args.url.is_some() {
            (args.instance.clone(), args.url.clone())
        } else {
            (p.instance, p.url)
        };
        let secret =
            |a: &Option<String>, b: Option<String>| a.clone().or(b).map(SecretString::from);
        Settings {
            instance,
            url,
            allow_http: args.allow_http || p.allow_http,
            user: args.user.clone().or(p.user),
            password: secret(&args.password, p.password),
            client_id: args.client_id.clone().or(p.client_id),
            client_secret: secret(&args.client_secret, p.client_secret),
            api_key: secret(&args.api_key, p.api_key),
            token_file: args
                .token_file
                .clone()
                .or(p.token_file)
                .map(|f| config::expand_home(&f)),
            auth: args.auth.or(p.auth),
            ca_file: args
                .ca_file
                .clone()
                .or(p.ca_file)
                .map(|f| config::expand_home(&f)),
            insecure: args.insecure || p.insecure,
            proxy: args.proxy.clone().or(p.proxy),
            timeout: args.timeout.or(p.timeout),
            attempts: args.attempts.or(p.attempts),
            verbose,
        }
    }

    /// The instance, checked: plain http only to loopback unless allowed.
    pub(crate) fn instance(&self) -> Result<Instance, CliError> {
        let instance = match (&self.instance, &self.url) {
            (Some(_), Some(_)) => {
                return Err(CliError::usage(
                    "both an instance and a URL are given (flags or SNOW_INSTANCE and SNOW_URL); give one",
                ));
            }
            (Some(name), None) => Instance::from_str(name),
            (None, Some(url)) => Instance::from_url(url),
            (None, None) => {
                return Err(CliError::usage(
                    "no instance: give --instance NAME or --url URL (or set SNOW_INSTANCE or SNOW_URL, or use a profile)",
                ));
            }
        }
        .map_err(|e| CliError::usage(format!("the instance is not valid: {e}")))?;
        if !instance.is_tls() && !is_loopback(instance.host()) && !self.allow_http {
            return Err(CliError::usage(format!(
                "refusing plain http:// to {}: credentials would cross the network unencrypted; use https://, or pass --allow-http",
                instance.host()
            )));
        }
        Ok(instance)
    }

    /// The token file for `instance`: the one given, or one per instance in the config
    /// directory.
    pub(crate) fn token_file(&self, instance: &Instance) -> Result<PathBuf, CliError> {
        if let Some(f) = &self.token_file {
            return Ok(f.clone());
        }
        let dir = config::config_dir().ok_or_else(|| {
            CliError::usage("no config directory is known here; give --token-file FILE")
        })?;
        let name: String = instance
            .authority()
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(dir.join("tokens").join(format!("{name}.json")))
    }

    /// Which way to authenticate.
    fn method(&self, instance: &Instance) -> Result<AuthMethod, CliError> {
        if let Some(m) = self.auth {
            return Ok(m);
        }
        if self.api_key.is_some() {
            Ok(AuthMethod::ApiKey)
        } else if self.client_id.is_some() && self.client_secret.is_some() {
            Ok(AuthMethod::Oauth)
        } else if self.user.is_some() {
            Ok(AuthMethod::Basic)
        } else if self.token_file(instance).is_ok_and(|f| f.exists()) {
            Ok(AuthMethod::Oauth)
        } else {
            Err(CliError::Auth(
                "no credentials: set SNOW_USER and SNOW_PASSWORD (or --user), SNOW_API_KEY, or log in with `snow auth login`"
                    .into(),
            ))
        }
    }

    /// The transport settings, without authentication.
    pub(crate) fn transport(
        &self,
        instance: Instance,
        needs: Needs,
    ) -> Result<TransportBuilder, CliError> {
        let mut b = Transport::builder(instance.clone())
            .user_agent(concat!("snow-cli/", env!("CARGO_PKG_VERSION")));
        if let Some(secs) = self.timeout {
            if secs == 0 {
                return Err(CliError::usage("--timeout must be at least 1 second"));
            }
            let d = Duration::from_secs(secs);
            b = b.timeout(d).read_timeout(d);
            if !needs.transfers {
                b = b.total_timeout(d.max(Duration::from_secs(300)));
            }
        }
        if needs.transfers {
            b = b.no_total_timeout().max_response_body(usize::MAX);
        }
        if let Some(n) = self.attempts {
            if n == 0 {
                return Err(CliError::usage("--attempts must be at least 1"));
            }
            b = b.retry(RetryConfig::default().max_attempts(n));
        }
        let mut tls = TlsConfig::default();
        if let Some(path) = &self.ca_file {
            tls = tls.add_ca_pem(read_small(path, MAX_CA_FILE, "the CA file")?);
        }
        if self.insecure {
            eprintln!(
                "snow: WARNING: --insecure: the certificate of {} is NOT verified; anyone on the network path can read and change this traffic, credentials included",
                instance.host()
            );
            tls = tls.danger_accept_invalid_certs();
        }
        b = b.tls(tls);
        if let Some(p) = &self.proxy {
            b = b.proxy(proxy(p)?);
        }
        if self.verbose {
            b = b.layer(crate::verbose::LogLayer);
        }
        Ok(b)
    }

    /// The password for `user`: given, or asked for on a terminal.
    pub(crate) fn password_for(
        &self,
        user: &str,
        instance: &Instance,
    ) -> Result<SecretString, CliError> {
        match &self.password {
            Some(p) => Ok(p.clone()),
            None => prompt::secret(&format!("Password for {user} at {}: ", instance.host()))
                .ok_or_else(|| {
                    CliError::Auth(format!(
                        "no password for {user}: set SNOW_PASSWORD, or run on a terminal to be asked"
                    ))
                }),
        }
    }

    /// The OAuth client id and secret (the secret asked for on a terminal when missing).
    pub(crate) fn oauth_client(&self) -> Result<(String, SecretString), CliError> {
        let id = self.client_id.clone().ok_or_else(|| {
            CliError::Auth("OAuth needs a client id: set SNOW_CLIENT_ID or --client-id".into())
        })?;
        let secret = match &self.client_secret {
            Some(s) => s.clone(),
            None => prompt::secret(&format!("Client secret for {id}: ")).ok_or_else(|| {
                CliError::Auth(
                    "OAuth needs a client secret: set SNOW_CLIENT_SECRET or --client-secret".into(),
                )
            })?,
        };
        Ok((id, secret))
    }

    /// The OAuth client id and secret when both are set; otherwise stand-ins, with which a
    /// stored token is used until it needs renewing (the token endpoint then refuses, and the
    /// error says so). Token revocation needs no client.
    pub(crate) fn oauth_client_or_stand_in(&self) -> (String, SecretString) {
        match (&self.client_id, &self.client_secret) {
            (Some(id), Some(s)) => (id.clone(), s.clone()),
            _ => (String::from("snow-cli"), SecretString::from(String::new())),
        }
    }

    /// An OAuth authenticator over `transport` keeping its token in `token_file` (created
    /// with mode 0600 in a directory private to the user), with the password grant when
    /// `grant` gives a user and password.
    pub(crate) fn oauth(
        &self,
        transport: &Transport,
        token_file: PathBuf,
        client: (String, SecretString),
        grant: Option<(String, SecretString)>,
    ) -> Result<OAuthAuthenticator, CliError> {
        ensure_private_dir(&token_file)?;
        let (id, secret) = client;
        let mut b = OAuth::builder(transport.instance(), transport.clone(), id, secret)
            .token_store(FileTokenStore::new(token_file));
        if let Some((user, password)) = grant {
            b = b.password(user, password);
        }
        b.build().map_err(|e| {
            CliError::Client(snow_client::Error::Config(snow_client::ConfigError::OAuth(
                e,
            )))
        })
    }

    /// The client for the command.
    pub(crate) fn connect(&self, needs: Needs) -> Result<Connection, CliError> {
        let instance = self.instance()?;
        let method = self.method(&instance)?;
        let builder = self.transport(instance.clone(), needs)?;
        let (client, who) = match method {
            AuthMethod::ApiKey => {
                let key = self.api_key.clone().ok_or_else(|| {
                    CliError::Auth("--auth api-key needs an API key: set SNOW_API_KEY".into())
                })?;
                let t = builder.auth(ApiKey::new(key)).build().map_err(client_err)?;
                (Client::new(t), "API key".to_owned())
            }
            AuthMethod::Basic => {
                let user = self.user.clone().ok_or_else(|| {
                    CliError::Auth("Basic auth needs a user: set SNOW_USER or --user".into())
                })?;
                let password = self.password_for(&user, &instance)?;
                let t = builder
                    .auth(BasicAuth::new(user.clone(), password))
                    .build()
                    .map_err(client_err)?;
                (Client::new(t), format!("Basic auth as {user}"))
            }
            AuthMethod::Oauth => {
                let transport = builder.build().map_err(client_err)?;
                let file = self.token_file(&instance)?;
                // The password grant when a password is at hand, or must be asked for because
                // no token is stored yet.
                let grant = match &self.user {
                    Some(user) if self.password.is_some() || !file.exists() => {
                        Some((user.clone(), self.password_for(user, &instance)?))
                    }
                    _ => None,
                };
                let client = self.oauth_client_or_stand_in();
                let auth = self.oauth(&transport, file.clone(), client, grant)?;
                let client = Client::new(transport.with_auth(auth));
                (client, format!("OAuth (token file {})", file.display()))
            }
        };
        Ok(Connection {
            client,
            description: who,
        })
    }
}

/// A connected client and how it authenticates.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) client: Client,
    /// How it authenticates, for `auth status` (no secret).
    pub(crate) description: String,
}

fn client_err(e: snow_client::transport::BuildError) -> CliError {
    CliError::Client(snow_client::Error::from(e))
}

/// Whether `host` is a loopback address or `localhost`.
pub(crate) fn is_loopback(host: &str) -> bool {
    let h = host.trim_start_matches('[').trim_end_matches(']');
    h.eq_ignore_ascii_case("localhost")
        || h.to_ascii_lowercase().ends_with(".localhost")
        || h.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// A proxy URL; credentials in it become Basic proxy credentials and leave the URL.
fn proxy(raw: &str) -> Result<Proxy, CliError> {
    let mut url = url::Url::parse(raw)
        .map_err(|e| CliError::usage(format!("the proxy URL is not valid: {e}")))?;
    let user = percent_encoding::percent_decode_str(url.username())
        .decode_utf8_lossy()
        .into_owned();
    let password = url.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    let _ = url.set_username("");
    let _ = url.set_password(None);
    let proxy = Proxy::http(url.as_str().trim_end_matches('/'));
    Ok(if user.is_empty() {
        proxy
    } else {
        proxy.basic_auth(user, SecretString::from(password.unwrap_or_default()))
    })
}

/// Reads a small file, refusing one larger than `max`.
pub(crate) fn read_small(
    path: &std::path::Path,
    max: u64,
    what: &str,
) -> Result<Vec<u8>, CliError> {
    use std::io::Read;
    let file = std::fs::File::open(path)
        .map_err(|e| CliError::usage(format!("cannot read {what} {}: {e}", path.display())))?;
    let mut buf = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CliError::usage(format!("cannot read {what} {}: {e}", path.display())))?;
    if buf.len() as u64 > max {
        return Err(CliError::usage(format!(
            "{what} {} is larger than {max} bytes",
            path.display()
        )));
    }
    Ok(buf)
}

/// Creates the token file's directory, private to the user.
fn ensure_private_dir(file: &std::path::Path) -> Result<(), CliError> {
    let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if dir.exists() {
        return Ok(());
    }
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(dir)
        .map_err(CliError::io(format!("cannot create {}", dir.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> Settings {
        let args = ConnectArgs {
            url: Some(url.into()),
            ..ConnectArgs::default()
        };
        Settings::merge(&args, Profile::default(), false)
    }

    #[test]
    fn plain_http_only_to_loopback() {
        for ok in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
            "http://127.1.2.3",
            "https://acme.example.com",
        ] {
            assert!(settings(ok).instance().is_ok(), "{ok}");
        }
        let e = settings("http://acme.example.com").instance().unwrap_err();
        assert!(e.to_string().contains("--allow-http"), "{e}");
        let mut s = settings("http://acme.example.com");
        s.allow_http = true;
        assert!(s.instance().is_ok());
    }

    #[test]
    fn flags_win_over_the_profile_and_location_is_one_setting() {
        let args = ConnectArgs {
            instance: Some("acme".into()),
            user: Some("flag-user".into()),
            ..ConnectArgs::default()
        };
        let profile = Profile {
            url: Some("http://127.0.0.1:1".into()),
            user: Some("profile-user".into()),
            timeout: Some(9),
            ..Profile::default()
        };
        let s = Settings::merge(&args, profile, false);
        assert_eq!(s.instance.as_deref(), Some("acme"));
        assert_eq!(s.url, None);
        assert_eq!(s.user.as_deref(), Some("flag-user"));
        assert_eq!(s.timeout, Some(9));
    }

    #[test]
    fn the_method_is_chosen_by_what_is_given() {
        let mut s = settings("http://127.0.0.1:1");
        s.token_file = Some(PathBuf::from("/nonexistent/token.json"));
        let i = s.instance().unwrap();
        assert!(matches!(s.method(&i), Err(CliError::Auth(_))));
        s.user = Some("admin".into());
        assert_eq!(s.method(&i).unwrap(), AuthMethod::Basic);
        s.client_id = Some("id".into());
        s.client_secret = Some(SecretString::from("x"));
        assert_eq!(s.method(&i).unwrap(), AuthMethod::Oauth);
        s.api_key = Some(SecretString::from("k"));
        assert_eq!(s.method(&i).unwrap(), AuthMethod::ApiKey);
    }

    #[test]
    fn proxy_credentials_leave_the_url() {
        let p = proxy("http://svc:p%40ss@proxy.example:3128").unwrap();
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("p@ss") && !shown.contains("p%40ss"),
            "{shown}"
        );
        assert!(proxy("not a url").is_err());
    }

    #[test]
    fn token_files_are_named_after_the_instance() {
        let mut s = settings("http://127.0.0.1:8080");
        if config::config_dir().is_some() {
            let f = s.token_file(&s.instance().unwrap()).unwrap();
            assert!(f.ends_with("tokens/127.0.0.1_8080.json"), "{}", f.display());
        }
        s.token_file = Some(PathBuf::from("/tmp/t.json"));
        assert_eq!(
            s.token_file(&s.instance().unwrap()).unwrap(),
            PathBuf::from("/tmp/t.json")
        );
    }
}
