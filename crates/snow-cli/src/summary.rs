//! The one-line summary at the end of long commands: requests, retries and the time spent
//! waiting for rate limits, from the transport's own counters ([`Stats`]).

use std::io::IsTerminal;
use std::time::Duration;

use snow_client::transport::{RetryReason, Stats};

/// When a command's summary is worth a line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum When {
    /// Never: a short command.
    Never,
    /// After any request (export, import, batch).
    Always,
    /// When the command made more than one request, or retried or waited (a list of many
    /// pages).
    Busy,
}

/// Whether the summary is shown at all: with `--verbose`, or when standard error is a
/// terminal. Standard output is never used.
pub(crate) fn shown(verbose: bool) -> bool {
    verbose || std::io::stderr().is_terminal()
}

/// The summary line for `stats` (the counters of every connection the command made), or
/// `None` when `when` says it is not worth one.
pub(crate) fn line(stats: &[Stats], when: When) -> Option<String> {
    let total = sum(stats);
    let busy = total.requests > 1 || total.retries.total() > 0 || !total.waited().is_zero();
    let wanted = match when {
        When::Never => false,
        When::Always => total.requests > 0,
        When::Busy => busy,
    };
    wanted.then(|| describe(&total))
}

/// `snow: 57 requests, 4 retries (3 rate_limited, 1 semaphore), 3 rate-limit 429s, waited
/// 12.5 s for rate limits (pacing 10.0 s over 12 requests, before retries 2.5 s)`.
fn describe(s: &Stats) -> String {
    let mut out = format!(
        "snow: {} request{}",
        s.requests,
        if s.requests == 1 { "" } else { "s" }
    );
    let retries = s.retries.total();
    out.push_str(&format!(
        ", {retries} retr{}",
        if retries == 1 { "y" } else { "ies" }
    ));
    let reasons: Vec<String> = RetryReason::ALL
        .iter()
        .filter(|r| s.retries.get(**r) > 0)
        .map(|r| format!("{} {}", s.retries.get(*r), r.as_str()))
        .collect();
    if !reasons.is_empty() {
        out.push_str(&format!(" ({})", reasons.join(", ")));
    }
    let throttled = s.rate_limit_429s + s.semaphore_429s;
    if throttled > 0 {
        out.push_str(&format!(
            ", {throttled} 429s ({} rate limit, {} semaphore)",
            s.rate_limit_429s, s.semaphore_429s
        ));
    }
    if s.session_rejections > 0 {
        out.push_str(&format!(", {} busy-session 202s", s.session_rejections));
    }
    out.push_str(&format!(", waited {}", secs(s.waited())));
    if !s.waited().is_zero() {
        out.push_str(&format!(
            " for rate limits and retries (pacing {} over {} request{}, before retries {})",
            secs(s.waited_pacing),
            s.paced,
            if s.paced == 1 { "" } else { "s" },
            secs(s.waited_retrying)
        ));
    }
    out
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The counters of several connections added up.
fn sum(stats: &[Stats]) -> Stats {
    let mut t = Stats::default();
    for s in stats {
        t.requests += s.requests;
        t.attempts += s.attempts;
        t.retries.rate_limited += s.retries.rate_limited;
        t.retries.semaphore += s.retries.semaphore;
        t.retries.session_rejected += s.retries.session_rejected;
        t.retries.server_error += s.retries.server_error;
        t.retries.timeout += s.retries.timeout;
        t.retries.connection += s.retries.connection;
        t.retries.other += s.retries.other;
        t.rate_limit_429s += s.rate_limit_429s;
        t.semaphore_429s += s.semaphore_429s;
        t.session_rejections += s.session_rejections;
        t.paced += s.paced;
        t.waited_pacing += s.waited_pacing;
        t.waited_retrying += s.waited_retrying;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(requests: u64) -> Stats {
        let mut s = Stats::default();
        s.requests = requests;
        s
    }

    #[test]
    fn short_commands_get_no_line() {
        assert_eq!(line(&[stats(1)], When::Busy), None);
        assert_eq!(line(&[stats(5)], When::Never), None);
        assert_eq!(line(&[stats(0)], When::Always), None);
        assert!(line(&[stats(2)], When::Busy).is_some());
        assert!(line(&[stats(1)], When::Always).is_some());
    }

    #[test]
    fn a_line_without_waits_is_short() {
        assert_eq!(
            line(&[stats(1)], When::Always).unwrap(),
            "snow: 1 request, 0 retries, waited 0.0 s"
        );
    }

    #[test]
    fn the_line_names_retries_and_waits() {
        let mut s = stats(10);
        s.retries.rate_limited = 2;
        s.retries.semaphore = 1;
        s.rate_limit_429s = 2;
        s.semaphore_429s = 1;
        s.paced = 4;
        s.waited_pacing = Duration::from_millis(1500);
        s.waited_retrying = Duration::from_millis(2000);
        let l = line(&[s, stats(2)], When::Always).unwrap();
        assert_eq!(
            l,
            "snow: 12 requests, 3 retries (2 rate_limited, 1 semaphore), 3 429s (2 rate limit, 1 semaphore), waited 3.5 s for rate limits and retries (pacing 1.5 s over 4 requests, before retries 2.0 s)"
        );
        assert!(!l.contains('\n'));
    }
}
