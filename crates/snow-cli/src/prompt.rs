//! Asking for a secret on the terminal, without echo.

use std::io::IsTerminal;

use secrecy::SecretString;

/// Asks for a secret on the terminal (the prompt and the answer go through `/dev/tty`) when
/// standard input is a terminal; `None` otherwise, or when nothing could be read. The answer
/// is never echoed.
pub(crate) fn secret(prompt: &str) -> Option<SecretString> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    rpassword::prompt_password(prompt)
        .ok()
        .filter(|s| !s.is_empty())
        .map(SecretString::from)
}

/// Asks a yes/no question on a terminal; `true` only for an explicit yes.
pub(crate) fn confirm(question: &str) -> bool {
    use std::io::Write as _;
    let mut err = std::io::stderr();
    let _ = write!(err, "{question} [y/N] ");
    let _ = err.flush();
    let mut line = String::new();
    if std::io::stdin().read_line(&mut line).is_err() {
        return false;
    }
    matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}
