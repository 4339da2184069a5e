//! Secret-holding types.
//!
//! Passwords, client secrets, tokens and API keys are held in [`SecretString`]: its `Debug`
//! prints `[REDACTED]`, it has no `Display`, and its memory is zeroed on drop. Read the value
//! only where it is put on the wire, with [`ExposeSecret::expose_secret`].
//!
//! ```
//! use snow_core::secret::{ExposeSecret, SecretString};
//!
//! let password = SecretString::from("hunter2");
//! assert!(!format!("{password:?}").contains("hunter2"));
//! assert_eq!(password.expose_secret(), "hunter2");
//! ```

pub use secrecy::{ExposeSecret, SecretBox, SecretString};

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// The credential values a request carried (header values, key query parameters, and the parts
/// of them a server could quote back: a Basic password, a bearer token), attached by the
/// transport to the response's extensions.
///
/// Whoever turns text from the response into an error message scrubs it with
/// [`redact`](Self::redact), so that a server echoing what it was sent cannot put a credential
/// into an error, a log line or a panic. `Debug` shows only how many values it holds.
///
/// ```
/// use snow_core::secret::{SecretString, SentCredentials};
///
/// let sent = SentCredentials::new(vec![SecretString::from("hunter22")]);
/// assert_eq!(sent.redact("wrong password hunter22"), "wrong password [redacted]");
/// assert!(!format!("{sent:?}").contains("hunter22"));
/// ```
#[derive(Clone, Default)]
pub struct SentCredentials(Arc<[SecretString]>);

impl SentCredentials {
    /// Shortest value redacted: shorter ones would blank out ordinary words of a message.
    pub const MIN_LEN: usize = 4;

    /// The values (shorter than [`MIN_LEN`](Self::MIN_LEN) are dropped; duplicates kept once,
    /// longest first so that a value containing another is redacted whole).
    pub fn new(values: Vec<SecretString>) -> Self {
        let mut values: Vec<SecretString> = values
            .into_iter()
            .filter(|v| v.expose_secret().len() >= Self::MIN_LEN)
            .collect();
        values.sort_by(|a, b| {
            let (a, b) = (a.expose_secret(), b.expose_secret());
            b.len().cmp(&a.len()).then_with(|| a.cmp(b))
        });
        values.dedup_by(|a, b| a.expose_secret() == b.expose_secret());
        Self(values.into())
    }

    /// Whether there is nothing to redact.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `text` with every occurrence of every value replaced by `[redacted]`.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for value in self.0.iter() {
            let value = value.expose_secret();
            if out.contains(value) {
                out = Cow::Owned(out.replace(value, "[redacted]"));
            }
        }
        out
    }
}

impl fmt::Debug for SentCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SentCredentials([REDACTED; {}])", self.0.len())
    }
}
