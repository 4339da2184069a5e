//! Progress bars on standard error, drawn only when it is a terminal.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Whether `--no-progress` was given.
static DISABLED: AtomicBool = AtomicBool::new(false);

/// Turns progress bars off for this process.
pub(crate) fn disable() {
    DISABLED.store(true, Ordering::Relaxed);
}

/// Whether bars may be drawn: standard error is a terminal and they were not turned off.
pub(crate) fn enabled() -> bool {
    !DISABLED.load(Ordering::Relaxed) && std::io::stderr().is_terminal()
}

/// What a bar counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Records.
    Records,
    /// Bytes.
    Bytes,
}

/// A progress bar, or nothing when bars are not drawn. Cheap to clone; clones share the bar.
#[derive(Clone, Debug)]
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
}

impl Progress {
    /// No bar.
    pub(crate) fn hidden() -> Self {
        Self { bar: None }
    }

    /// A bar for `total` units (a spinner with counts and rate while the total is unknown).
    pub(crate) fn new(label: &str, unit: Unit, total: Option<u64>) -> Self {
        if !enabled() {
            return Self::hidden();
        }
        let bar = ProgressBar::with_draw_target(total, ProgressDrawTarget::stderr_with_hz(8));
        bar.set_style(style(unit, total.is_some()));
        bar.set_prefix(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(250));
        Self { bar: Some(bar) }
    }

    /// Starts from `n` (a resumed export).
    pub(crate) fn set_position(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.set_position(n);
            b.reset_eta();
        }
    }

    /// Counts `n` more.
    pub(crate) fn inc(&self, n: u64) {
        if let Some(b) = &self.bar {
            b.inc(n);
        }
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

fn style(unit: Unit, with_total: bool) -> ProgressStyle {
    let template = match (unit, with_total) {
        (Unit::Records, true) => {
            "{prefix} [{bar:30}] {human_pos}/{human_len} records  {per_sec}  ETA {eta}"
        }
        (Unit::Records, false) => "{spinner} {prefix} {human_pos} records  {per_sec}",
        (Unit::Bytes, true) => {
            "{prefix} [{bar:30}] {bytes}/{total_bytes}  {bytes_per_sec}  ETA {eta}"
        }
        (Unit::Bytes, false) => "{spinner} {prefix} {bytes}  {bytes_per_sec}",
    };
    ProgressStyle::with_template(template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_are_valid() {
        for unit in [Unit::Records, Unit::Bytes] {
            for total in [true, false] {
                let _ = style(unit, total);
            }
        }
        let p = Progress::hidden();
        p.inc(1);
        p.finish();
        assert!(p.bar.is_none());
    }
}
