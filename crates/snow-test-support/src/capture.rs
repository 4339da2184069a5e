//! A capture of everything logged through `tracing`, and the check that a text holds no
//! secret.

use std::sync::{Arc, Mutex, PoisonError};

/// Everything written by a `tracing` subscriber at TRACE level, kept for the test to read.
#[derive(Clone, Debug, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(b);
        Ok(b.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    /// Runs `f` with a TRACE-level subscriber writing here (on this thread: run the async code
    /// on a current-thread runtime inside `f` so that every task logs here), and returns what
    /// `f` returned; [`text`](Self::text) then holds the log.
    pub fn run<R>(&self, f: impl FnOnce() -> R) -> R {
        let _guard = self.install();
        f()
    }

    /// Makes a TRACE-level subscriber writing here the default on this thread until the guard
    /// is dropped.
    pub fn install(&self) -> tracing::subscriber::DefaultGuard {
        let writer = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    /// All that was written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

/// Panics if `text` holds one of `secrets`, or the first 12 characters of one (a secret cut
/// short still leaks). The panic message shows the offending lines with the secret masked, so
/// the failure leaks nothing either. Secrets must be longer than 12 characters, so that a
/// match means something.
pub fn assert_no_secret(text: &str, secrets: &[String]) {
    for secret in secrets {
        assert!(secret.len() > 12, "a secret too short to search for");
        let prefix = &secret[..12];
        let leaks: Vec<String> = text
            .lines()
            .filter(|line| line.contains(prefix))
            .map(|line| {
                line.replace(secret.as_str(), "<SECRET>")
                    .replace(prefix, "<SECRET…>")
            })
            .collect();
        assert!(
            leaks.is_empty(),
            "a secret leaked in:\n{}",
            leaks.join("\n")
        );
    }
}
