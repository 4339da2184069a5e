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
