//! Injected faults and rate limits: which requests they hit and what they do.

use std::collections::HashMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What an injected fault does to a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FaultKind {
    /// `429` without rate-limit headers, as when the API_INT semaphore queue is full.
    Semaphore,
    /// `202` with an empty body: the session-synchronisation rejection.
    SessionRejected,
    /// `200 text/html` with the hibernation page, on every path.
    Hibernate,
    /// A list answers `200` with about half its rows followed by an `error` member;
    /// any other request answers `500` "Transaction cancelled".
    TransactionCancelled,
    /// The request is served normally after a pause.
    Latency {
        /// Added delay in milliseconds.
        millis: u64,
    },
    /// The connection is closed without any response.
    ConnectionReset,
    /// The response announces its full length but the connection closes halfway through the body.
    TruncatedBody,
    /// A `5xx` with ServiceNow's error envelope.
    ServerError {
        /// The status code (500..=599).
        status: u16,
    },
}

/// Which requests a fault hits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Trigger {
    /// Every matching request.
    Always,
    /// The n-th, 2n-th, ... matching request.
    EveryNth {
        /// n (at least 1).
        n: u64,
    },
    /// A share of matching requests, drawn with the instance's deterministic dice.
    Fraction {
        /// Share between 0.0 and 1.0.
        p: f64,
    },
    /// The next n matching requests (counted from when the rule is set), then none.
    Next {
        /// How many.
        n: u64,
    },
}

/// One fault: what it does, which requests it hits, and an optional filter on path and user.
///
/// ```
/// use snow_devinstance::{FaultKind, FaultRule, Trigger};
/// let rule = FaultRule::new(FaultKind::Semaphore, Trigger::EveryNth { n: 3 }).path_prefix("/api/now/table");
/// assert_eq!(rule.path_prefix.as_deref(), Some("/api/now/table"));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRule {
    /// What happens.
    pub fault: FaultKind,
    /// When it happens.
    pub trigger: Trigger,
    /// Only requests whose path starts with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Only requests authenticated as this user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

impl FaultRule {
    /// A fault hitting every path and user as `trigger` says.
    pub fn new(fault: FaultKind, trigger: Trigger) -> Self {
        Self {
            fault,
            trigger,
            path_prefix: None,
            user: None,
        }
    }

    /// Restrict the fault to paths starting with `prefix`.
    pub fn path_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.path_prefix = Some(prefix.into());
        self
    }

    /// Restrict the fault to one user.
    pub fn user(mut self, user: impl Into<String>) -> Self {
        self.user = Some(user.into());
        self
    }
}

/// A ServiceNow rate-limit rule: `limit` requests per window for one user (or all users).
///
/// Windows are fixed, aligned on multiples of `window_secs` since the UNIX epoch. Every
/// response to a request the rule applies to carries `X-RateLimit-Limit`, `X-RateLimit-Reset`
/// (the UNIX second the window ends) and `X-RateLimit-Rule` (`rule_sys_id`); past the limit
/// the answer is 429 with `Retry-After`. A user's own rule wins over an all-users rule.
///
/// ```
/// use snow_devinstance::RateLimitRule;
/// let hourly = RateLimitRule::per_hour(Some("itil"), 100);
/// assert_eq!(hourly.window_secs, 3600);
/// let fast: RateLimitRule = "itil:60/10".parse().unwrap();
/// assert_eq!((fast.user.as_deref(), fast.limit, fast.window_secs), (Some("itil"), 60, 10));
/// let everyone: RateLimitRule = "500".parse().unwrap();
/// assert_eq!((everyone.user, everyone.window_secs), (None, 3600));
/// assert_eq!(fast.rule_sys_id.len(), 32);
/// assert_ne!(fast.rule_sys_id, everyone.rule_sys_id);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateLimitRule {
    /// The user the rule applies to; `None` for all users.
    #[serde(default)]
    pub user: Option<String>,
    /// Requests allowed per window.
    pub limit: u64,
    /// Window length in seconds (ServiceNow counts per hour).
    #[serde(default = "default_window")]
    pub window_secs: u64,
    /// The rule's `sys_id`, sent in `X-RateLimit-Rule`. Left empty (or out of the JSON), one
    /// is derived from the user, limit and window.
    #[serde(default)]
    pub rule_sys_id: String,
}

fn default_window() -> u64 {
    3600
}

impl RateLimitRule {
    /// `limit` requests per `window_secs` seconds for `user` (or everybody).
    pub fn new(user: Option<&str>, limit: u64, window_secs: u64) -> Self {
        let mut rule = Self {
            user: user.map(str::to_owned),
            limit,
            window_secs,
            rule_sys_id: String::new(),
        };
        rule.rule_sys_id = rule.derived_sys_id();
        rule
    }

    /// `limit` requests per hour for `user` (or everybody).
    pub fn per_hour(user: Option<&str>, limit: u64) -> Self {
        Self::new(user, limit, default_window())
    }

    /// A sys_id that is the same for the same user, limit and window.
    fn derived_sys_id(&self) -> String {
        let text = format!(
            "rate-limit-rule\0{}\0{}\0{}",
            self.user.as_deref().unwrap_or("*"),
            self.limit,
            self.window_secs
        );
        Sha256::digest(text.as_bytes())
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// The rule with its sys_id filled in when it was left empty.
    fn with_sys_id(mut self) -> Self {
        if self.rule_sys_id.is_empty() {
            self.rule_sys_id = self.derived_sys_id();
        }
        self
    }
}

/// Why a rate-limit rule written as text (`[USER:]LIMIT[/WINDOW_SECS]`) could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RateLimitSpecError {
    /// The user part before `:` is empty.
    #[error("rate limit {0:?}: the user before ':' is empty")]
    User(String),
    /// The limit is not a whole number.
    #[error("rate limit {0:?}: the limit must be a whole number of requests")]
    Limit(String),
    /// The window after `/` is not a positive whole number of seconds.
    #[error("rate limit {0:?}: the window after '/' must be a positive whole number of seconds")]
    Window(String),
}

impl std::str::FromStr for RateLimitRule {
    type Err = RateLimitSpecError;

    /// `itil:60/10` (60 requests per 10 s for `itil`), `itil:100` (per hour), `500/60`
    /// (every user).
    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let (user, rest) = match spec.rsplit_once(':') {
            Some((u, _)) if u.trim().is_empty() => {
                return Err(RateLimitSpecError::User(spec.to_owned()));
            }
            Some((u, r)) => (Some(u.trim()), r),
            None => (None, spec),
        };
        let (limit, window) = match rest.split_once('/') {
            Some((l, w)) => (l, Some(w)),
            None => (rest, None),
        };
        let limit = limit
            .trim()
            .parse::<u64>()
            .map_err(|_| RateLimitSpecError::Limit(spec.to_owned()))?;
        let window = match window {
            None => default_window(),
            Some(w) => w
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|w| *w > 0)
                .ok_or_else(|| RateLimitSpecError::Window(spec.to_owned()))?,
        };
        Ok(Self::new(user, limit, window))
    }
}

/// Deterministic dice (splitmix64), so a fraction trigger hits the same requests on every run.
#[derive(Debug, Clone)]
pub(crate) struct Dice(u64);

impl Dice {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub(crate) fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The live fault table: rules with their hit counters, and rate-limit windows.
#[derive(Debug)]
pub(crate) struct Faults {
    rules: Vec<(FaultRule, u64)>,
    pub(crate) rate_limits: Vec<RateLimitRule>,
    windows: HashMap<(usize, String), (u64, u64)>,
    dice: Dice,
}

/// What the rate limiter decided for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RateDecision {
    pub(crate) limit: u64,
    pub(crate) reset_unix: u64,
    pub(crate) rule_sys_id: String,
    pub(crate) retry_after: Option<u64>,
}

impl Faults {
    pub(crate) fn new(seed: u64, rules: Vec<FaultRule>, rate_limits: Vec<RateLimitRule>) -> Self {
        Self {
            rules: rules.into_iter().map(|r| (r, 0)).collect(),
            rate_limits: rate_limits
                .into_iter()
                .map(RateLimitRule::with_sys_id)
                .collect(),
            windows: HashMap::new(),
            dice: Dice::new(seed),
        }
    }

    pub(crate) fn rules(&self) -> Vec<FaultRule> {
        self.rules.iter().map(|(r, _)| r.clone()).collect()
    }

    pub(crate) fn set_rules(&mut self, rules: Vec<FaultRule>) {
        self.rules = rules.into_iter().map(|r| (r, 0)).collect();
    }

    pub(crate) fn add_rule(&mut self, rule: FaultRule) {
        self.rules.push((rule, 0));
    }

    pub(crate) fn set_rate_limits(&mut self, rules: Vec<RateLimitRule>) {
        self.rate_limits = rules.into_iter().map(RateLimitRule::with_sys_id).collect();
        self.windows.clear();
    }

    pub(crate) fn add_rate_limit(&mut self, rule: RateLimitRule) {
        self.rate_limits.push(rule.with_sys_id());
    }

    /// Whether any rule puts the instance into hibernation for this path.
    pub(crate) fn hibernating(&self, path: &str) -> bool {
        self.rules.iter().any(|(r, _)| {
            r.fault == FaultKind::Hibernate
                && r.trigger == Trigger::Always
                && r.path_prefix.as_deref().is_none_or(|p| path.starts_with(p))
        })
    }

    /// The faults that hit this request, in rule order.
    pub(crate) fn roll(&mut self, path: &str, user: Option<&str>) -> Vec<FaultKind> {
        let mut hits = Vec::new();
        for (rule, count) in &mut self.rules {
            if rule
                .path_prefix
                .as_deref()
                .is_some_and(|p| !path.starts_with(p))
            {
                continue;
            }
            if let Some(u) = &rule.user
                && user != Some(u.as_str())
            {
                continue;
            }
            *count += 1;
            let hit = match rule.trigger {
                Trigger::Always => true,
                Trigger::EveryNth { n } => *count % n.max(1) == 0,
                Trigger::Fraction { p } => self.dice.next_f64() < p,
                Trigger::Next { n } => *count <= n,
            };
            if hit {
                hits.push(rule.fault.clone());
            }
        }
        hits
    }

    /// Count one request against the rate-limit rule that applies to `user` (the user's own
    /// rule wins over an all-users rule).
    pub(crate) fn rate_limit(&mut self, user: &str, now_unix: u64) -> Option<RateDecision> {
        let idx = self
            .rate_limits
            .iter()
            .position(|r| r.user.as_deref() == Some(user))
            .or_else(|| self.rate_limits.iter().position(|r| r.user.is_none()))?;
        let rule = &self.rate_limits[idx];
        let window = rule.window_secs.max(1);
        let start = now_unix - now_unix % window;
        let entry = self
            .windows
            .entry((idx, user.to_owned()))
            .or_insert((start, 0));
        if entry.0 != start {
            *entry = (start, 0);
        }
        entry.1 += 1;
        let reset = start + window;
        Some(RateDecision {
            limit: rule.limit,
            reset_unix: reset,
            rule_sys_id: rule.rule_sys_id.clone(),
            retry_after: (entry.1 > rule.limit).then(|| reset.saturating_sub(now_unix).max(1)),
        })
    }
}

/// Added latency for a set of hits.
pub(crate) fn latency(hits: &[FaultKind]) -> Option<Duration> {
    let total: u64 = hits
        .iter()
        .filter_map(|h| match h {
            FaultKind::Latency { millis } => Some(*millis),
            _ => None,
        })
        .fold(0u64, u64::saturating_add);
    (total > 0).then(|| Duration::from_millis(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_nth_hits_only_multiples() {
        let mut f = Faults::new(
            1,
            vec![FaultRule::new(
                FaultKind::Semaphore,
                Trigger::EveryNth { n: 3 },
            )],
            vec![],
        );
        let hits: Vec<bool> = (0..6).map(|_| !f.roll("/x", None).is_empty()).collect();
        assert_eq!(hits, [false, false, true, false, false, true]);
    }

    #[test]
    fn fraction_is_deterministic_and_roughly_right() {
        let run = || {
            let mut f = Faults::new(
                7,
                vec![FaultRule::new(
                    FaultKind::Semaphore,
                    Trigger::Fraction { p: 0.25 },
                )],
                vec![],
            );
            (0..1000).filter(|_| !f.roll("/x", None).is_empty()).count()
        };
        let a = run();
        assert_eq!(a, run());
        assert!((150..350).contains(&a), "{a}");
    }

    #[test]
    fn next_n_hits_the_next_requests_only() {
        let mut f = Faults::new(
            1,
            vec![FaultRule::new(FaultKind::Semaphore, Trigger::Next { n: 2 })],
            vec![],
        );
        let hits: Vec<bool> = (0..5).map(|_| !f.roll("/x", None).is_empty()).collect();
        assert_eq!(hits, [true, true, false, false, false]);
    }

    #[test]
    fn rate_limit_specs() {
        let r: RateLimitRule = " itil : 60 / 10 ".parse().expect("spec");
        assert_eq!(r, RateLimitRule::new(Some("itil"), 60, 10));
        assert_eq!(
            "7".parse::<RateLimitRule>().expect("spec"),
            RateLimitRule::per_hour(None, 7)
        );
        for bad in [
            "", ":5", "itil:", "itil:x", "itil:5/0", "itil:5/", "5/-1", "-5",
        ] {
            assert!(bad.parse::<RateLimitRule>().is_err(), "{bad:?}");
        }
        let mut f = Faults::new(1, vec![], vec![]);
        f.set_rate_limits(vec![RateLimitRule {
            user: None,
            limit: 1,
            window_secs: 60,
            rule_sys_id: String::new(),
        }]);
        assert_eq!(
            f.rate_limits[0].rule_sys_id,
            RateLimitRule::new(None, 1, 60).rule_sys_id
        );
    }

    #[test]
    fn user_rule_beats_all_users_rule() {
        let mut f = Faults::new(
            1,
            vec![],
            vec![
                RateLimitRule::per_hour(None, 100),
                RateLimitRule::per_hour(Some("itil"), 1),
            ],
        );
        assert_eq!(
            f.rate_limit("itil", 7200).map(|d| d.retry_after),
            Some(None)
        );
        let second = f.rate_limit("itil", 7201).expect("rule applies");
        assert_eq!(second.limit, 1);
        assert_eq!(second.reset_unix, 10800);
        assert_eq!(second.retry_after, Some(3599));
        assert_eq!(f.rate_limit("admin", 7201).map(|d| d.limit), Some(100));
    }
}
