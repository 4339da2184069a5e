//! Keeping tokens across runs: the [`TokenStore`] trait and [`FileTokenStore`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use snow_core::BoxError;

use crate::TokenSet;

/// Where an authenticator keeps its token between runs.
///
/// [`load`](Self::load) is called once, the first time a token is needed, before any grant;
/// [`save`](Self::save) is called with every new token set once it is in the authenticator's
/// cache (after a password grant, a refresh, a client-credentials or JWT-bearer grant, or
/// [`set_token`](crate::OAuthAuthenticator::set_token)). Saves are serialised: a save never runs
/// concurrently with another save of the same authenticator.
///
/// A failing `save` does not fail the request that caused the refresh (the token is good); it is
/// logged at `ERROR` level without the token.
///
/// ```
/// use std::sync::Mutex;
/// use snow_core::{async_trait, BoxError};
/// use snow_oauth::{TokenSet, TokenStore};
///
/// /// Keeps the token in memory (a real store would use a keyring or a database).
/// #[derive(Debug, Default)]
/// struct Memory(Mutex<Option<TokenSet>>);
///
/// #[async_trait]
/// impl TokenStore for Memory {
///     async fn load(&self) -> Result<Option<TokenSet>, BoxError> {
///         Ok(self.0.lock().map_err(|_| "poisoned")?.clone())
///     }
///     async fn save(&self, token: &TokenSet) -> Result<(), BoxError> {
///         *self.0.lock().map_err(|_| "poisoned")? = Some(token.clone());
///         Ok(())
///     }
/// }
/// ```
#[async_trait]
pub trait TokenStore: Send + Sync + fmt::Debug + 'static {
    /// The stored token set, or `None` if nothing is stored yet.
    async fn load(&self) -> Result<Option<TokenSet>, BoxError>;

    /// Replace the stored token set.
    async fn save(&self, token: &TokenSet) -> Result<(), BoxError>;
}

/// Stores the token set as JSON in one file.
///
/// Writes are atomic: the JSON goes to a temporary file in the same directory, created with
/// permissions `0600` on Unix, synced, then renamed over the target, so a reader (or a crash)
/// never sees half a token. A missing file loads as `None`. Files larger than 64 KiB are refused
/// rather than read. Parse errors name the line and column, never the content.
///
/// ```no_run
/// use snow_oauth::{FileTokenStore, TokenSet, TokenStore};
/// # async fn f() -> Result<(), snow_core::BoxError> {
/// let store = FileTokenStore::new("/var/lib/myapp/snow-token.json");
/// store.save(&TokenSet::new("access")).await?;
/// assert!(store.load().await?.is_some());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct FileTokenStore {
    path: PathBuf,
}

/// The largest token file [`FileTokenStore`] reads.
const MAX_FILE: u64 = 64 * 1024;

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl FileTokenStore {
    /// A store writing to `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        FileTokenStore { path: path.into() }
    }

    /// The file the token is written to.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn temp_path(&self) -> PathBuf {
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "token".to_owned());
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        self.path
            .with_file_name(format!(".{name}.{}.{n}.tmp", std::process::id()))
    }
}

#[async_trait]
impl TokenStore for FileTokenStore {
    async fn load(&self) -> Result<Option<TokenSet>, BoxError> {
        let meta = match tokio::fs::metadata(&self.path).await {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if meta.len() > MAX_FILE {
            return Err(format!(
                "the token file is {} bytes, more than the {MAX_FILE} bytes a token set can take",
                meta.len()
            )
            .into());
        }
        let bytes = match tokio::fs::read(&self.path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        if bytes.len() as u64 > MAX_FILE {
            return Err("the token file grew past the size limit while being read".into());
        }
        serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            // serde_json messages can quote a value (a token): say only where and what kind.
            format!(
                "the token file is not a token set ({:?} error at line {}, column {})",
                e.classify(),
                e.line(),
                e.column()
            )
            .into()
        })
    }

    async fn save(&self, token: &TokenSet) -> Result<(), BoxError> {
        let json = serde_json::to_vec_pretty(token)
            .map_err(|e| format!("cannot serialise the token set ({:?})", e.classify()))?;
        let temp = self.temp_path();
        let result = write_new(&temp, &json).await;
        let result = match result {
            Ok(()) => tokio::fs::rename(&temp, &self.path).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(e.into());
        }
        Ok(())
    }
}

async fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    // Create the file first, so it has its final permissions before it holds a token.
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    options.mode(0o600);
    drop(options.open(path).await?);
    tokio::fs::write(path, bytes).await?;
    tokio::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .await?
        .sync_all()
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn temp_dir(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "snow-oauth-store-{tag}-{}-{}",
            std::process::id(),
            TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[tokio::test]
    async fn round_trip_atomic_and_private() {
        let dir = temp_dir("rt");
        let store = FileTokenStore::new(dir.join("token.json"));
        assert!(store.load().await.unwrap().is_none());
        let t = TokenSet::new("AT1")
            .with_refresh_token("RT1")
            .with_expires_at(UNIX_EPOCH + Duration::from_secs(2_000_000_000));
        store.save(&t).await.unwrap();
        store.save(&TokenSet::new("AT2")).await.unwrap();
        let back = store.load().await.unwrap().unwrap();
        assert_eq!(back.access_token_str(), "AT2");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(store.path())
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Only the token file is left: no temporary files.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("token.json")]);
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// A token file that someone made readable by others is private again after a save: the
    /// new content is written to a fresh `0600` file renamed over it.
    #[cfg(unix)]
    #[tokio::test]
    async fn saving_over_a_readable_file_leaves_it_private() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = temp_dir("mode");
        let path = dir.join("token.json");
        std::fs::write(&path, "{}").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        FileTokenStore::new(&path)
            .save(&TokenSet::new("AT"))
            .await
            .unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn bad_files_are_refused_without_echoing_content() {
        let dir = temp_dir("bad");
        let path = dir.join("token.json");
        std::fs::write(
            &path,
            r#"{"access_token": 12345678, "refresh_token": "SECRETRT"}"#,
        )
        .unwrap();
        let err = FileTokenStore::new(&path)
            .load()
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("line 1"), "{err}");
        assert!(
            !err.contains("12345678") && !err.contains("SECRETRT"),
            "{err}"
        );

        std::fs::write(&path, vec![b' '; (MAX_FILE + 1) as usize]).unwrap();
        let err = FileTokenStore::new(&path)
            .load()
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("bytes"), "{err}");

        // Saving into a missing directory fails cleanly and leaves nothing behind.
        let store = FileTokenStore::new(dir.join("missing").join("token.json"));
        assert!(store.save(&TokenSet::new("x")).await.is_err());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
