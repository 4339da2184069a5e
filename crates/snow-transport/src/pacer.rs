//! Pacing: per-rule state built from the instance's `X-RateLimit-*` headers, shared by every
//! clone of a transport and every request in flight through it, and the token bucket that
//! spreads a rule's budget until its window resets.
//!
//! The bucket is governor's GCRA on tokio's clock (so tests can pause time); governor cannot
//! change a bucket's rate, so each window gets a new bucket sized from the budget left at its
//! first answer. Waiters under one rule queue on a fair async lock, so they are served in
//! arrival order and only the first of them polls the bucket.

use std::collections::HashMap;
use std::fmt;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

use crate::error::TransportError;
use crate::rate_limit::{Pacing, RateLimitConfig};
use crate::throttle::{RateLimitInfo, Throttle};

/// Routes remembered (method and path template to rule); past it the map starts again.
const MAX_ROUTES: usize = 1024;
/// Rules remembered; answers naming a rule past it are not paced.
const MAX_RULES: usize = 256;

/// tokio's clock for governor: paused in tests like every other timer of the transport.
#[derive(Debug, Clone, Copy)]
struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    type Instant = Nanos;

    fn now(&self) -> Nanos {
        Nanos::from(Instant::now().saturating_duration_since(self.origin))
    }
}

type Bucket = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<Nanos>>;

/// The pacing state of one transport (and its clones).
pub(crate) struct Pacer {
    config: RateLimitConfig,
    clock: TokioClock,
    maps: Mutex<Maps>,
    /// Requests in flight on routes no rule answered for yet: they may count against the
    /// next window any rule starts.
    untracked: Arc<AtomicU64>,
    /// Whether any answer has tied a route to a rule yet: until then no request is paced, and
    /// requests need no route key before they are sent.
    routes_known: AtomicBool,
}

#[derive(Default)]
struct Maps {
    /// Which rule answered for a route.
    routes: HashMap<String, Arc<Rule>>,
    /// Rules by `X-RateLimit-Rule` ("" when the instance named none).
    rules: HashMap<String, Arc<Rule>>,
}

/// One rate-limit rule as the transport has seen it.
struct Rule {
    id: Option<String>,
    /// Requests admitted under this rule and not answered yet.
    in_flight: Arc<AtomicU64>,
    /// Waiters take turns, in arrival order.
    turn: tokio::sync::Mutex<()>,
    window: Mutex<Window>,
}

/// The rule's current window.
#[derive(Default)]
struct Window {
    limit: u64,
    /// `X-RateLimit-Reset`, UNIX seconds (0: no window seen yet).
    reset: u64,
    /// The reset on tokio's clock.
    reset_at: Option<Instant>,
    /// Requests that may still be sent in this window: the limit, less the first answer and
    /// the requests in flight when it came, less those admitted since.
    budget: u64,
    /// The budget left at the window's first answer, spread until the reset.
    bucket: Option<Bucket>,
    /// After the rule's `429`: nothing goes before this.
    blocked_until: Option<Instant>,
}

impl Window {
    /// When the next request may go, or `None` if now (taking a token from the bucket and
    /// one request from the budget).
    fn next_slot(&mut self, now: Instant, clock: &TokioClock) -> Option<Instant> {
        if let Some(until) = self.blocked_until.filter(|u| *u > now) {
            return Some(until);
        }
        let reset_at = self.reset_at.filter(|r| *r > now)?;
        if self.budget == 0 {
            return Some(reset_at);
        }
        if let Some(bucket) = self.bucket.as_ref()
            && let Err(not_until) = bucket.check()
        {
            return Some((now + not_until.wait_time_from(clock.now())).min(reset_at));
        }
        self.budget -= 1;
        None
    }
}

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pacer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A request admitted under a rule (or under none): counted in flight until dropped.
pub(crate) struct Ticket {
    in_flight: Option<Arc<AtomicU64>>,
    /// How long the request waited for its turn.
    pub(crate) waited: Duration,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(n) = &self.in_flight {
            n.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn in_flight(counter: &Arc<AtomicU64>, waited: Duration) -> Ticket {
    counter.fetch_add(1, Ordering::Relaxed);
    Ticket {
        in_flight: Some(counter.clone()),
        waited,
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Pacer {
    pub(crate) fn new(config: RateLimitConfig) -> Self {
        Self {
            config,
            clock: TokioClock {
                origin: Instant::now(),
            },
            maps: Mutex::new(Maps::default()),
            untracked: Arc::default(),
            routes_known: AtomicBool::new(false),
        }
    }

    /// Whether any route is tied to a rule yet; until one is, [`untracked`](Self::untracked)
    /// admits every request as [`admit`](Self::admit) would.
    pub(crate) fn routes_known(&self) -> bool {
        self.routes_known.load(Ordering::Relaxed)
    }

    /// Admit a request on a route no rule answered for: at once, counted in flight.
    pub(crate) fn untracked(&self) -> Ticket {
        in_flight(&self.untracked, Duration::ZERO)
    }

    /// Wait until a request on `route` may go, given that it already waited `already_waited`
    /// for rate limits. Fails with [`TransportError::RateLimited`] at once when its turn would come
    /// after the cap on waiting.
    pub(crate) async fn admit(
        &self,
        route: &str,
        already_waited: Duration,
    ) -> Result<Ticket, TransportError> {
        let rule = lock(&self.maps).routes.get(route).cloned();
        let Some(rule) = rule else {
            return Ok(self.untracked());
        };
        if self.config.pacing == Pacing::Off {
            return Ok(in_flight(&rule.in_flight, Duration::ZERO));
        }
        let start = Instant::now();
        let left = self.config.max_wait.saturating_sub(already_waited);
        let deadline = start.checked_add(left);
        // Whether the request had to wait at all (for its turn or for a slot).
        let mut waited = false;
        let turn = match rule.turn.try_lock() {
            Ok(turn) => turn,
            Err(_) => {
                waited = true;
                match deadline {
                    Some(deadline) => {
                        match tokio::time::timeout_at(deadline, rule.turn.lock()).await {
                            Ok(turn) => turn,
                            Err(_) => return Err(self.refusal(&rule, None)),
                        }
                    }
                    None => rule.turn.lock().await,
                }
            }
        };
        loop {
            let now = Instant::now();
            let slot = lock(&rule.window).next_slot(now, &self.clock);
            let Some(at) = slot else { break };
            if deadline.is_some_and(|d| at > d) {
                return Err(self.refusal(&rule, Some(at - now)));
            }
            waited = true;
            tokio::time::sleep_until(at).await;
        }
        drop(turn);
        let waited = if waited {
            start.elapsed()
        } else {
            Duration::ZERO
        };
        Ok(in_flight(&rule.in_flight, waited))
    }

    /// The error for a request whose turn would come after the cap.
    fn refusal(&self, rule: &Rule, wait: Option<Duration>) -> TransportError {
        let w = lock(&rule.window);
        TransportError::RateLimited {
            rule: rule.id.clone(),
            limit: (w.limit > 0).then_some(w.limit),
            reset: (w.reset > 0)
                .then(|| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(w.reset)))
                .flatten(),
            retry_after: wait,
            max_wait: self.config.max_wait,
        }
    }

    /// Learn from an answer on `route`: its rate-limit headers and whether it was the rule's
    /// `429` (then nothing under the rule goes before `retry_after` or the reset).
    pub(crate) fn observe(
        &self,
        route: &str,
        info: &RateLimitInfo,
        throttle: Option<&Throttle>,
        retry_after: Option<Duration>,
    ) {
        let Some(rule) = self.rule(route, info) else {
            return;
        };
        let now = Instant::now();
        let mut w = lock(&rule.window);
        if let (Some(limit), Some(reset)) = (info.limit, info.reset)
            && (reset > w.reset || (reset == w.reset && limit != w.limit))
        {
            // The first answer of a new window (or a changed rule): a new bucket.
            // Requests in flight may be counted in this window: under this rule, and
            // on routes no rule answered for yet (this answer may be the first).
            let reset_at = info.reset_in().and_then(|d| now.checked_add(d));
            let in_flight =
                rule.in_flight.load(Ordering::Relaxed) + self.untracked.load(Ordering::Relaxed);
            let remaining = limit.saturating_sub(1).saturating_sub(in_flight);
            *w = Window {
                limit,
                reset,
                reset_at,
                budget: remaining,
                bucket: None,
                blocked_until: None,
            };
            if let Some(at) = reset_at
                && remaining > 0
            {
                w.bucket = self.bucket(remaining, at.saturating_duration_since(now));
            }
        }
        if matches!(throttle, Some(Throttle::RateLimit(_))) {
            let by_retry_after = retry_after.and_then(|d| now.checked_add(d));
            let until = match (by_retry_after, w.reset_at.filter(|r| *r > now)) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            w.blocked_until = until.max(w.blocked_until);
        }
    }

    /// The rule an answer names, remembered for its route.
    fn rule(&self, route: &str, info: &RateLimitInfo) -> Option<Arc<Rule>> {
        let mut maps = lock(&self.maps);
        let key = info.rule.clone().unwrap_or_default();
        let rule = match maps.rules.get(&key) {
            Some(rule) => rule.clone(),
            None if maps.rules.len() >= MAX_RULES => return None,
            None => {
                let rule = Arc::new(Rule {
                    id: info.rule.clone(),
                    in_flight: Arc::default(),
                    turn: tokio::sync::Mutex::new(()),
                    window: Mutex::new(Window::default()),
                });
                maps.rules.insert(key, rule.clone());
                rule
            }
        };
        let known = maps
            .routes
            .get(route)
            .is_some_and(|r| Arc::ptr_eq(r, &rule));
        if !known {
            if maps.routes.len() >= MAX_ROUTES {
                maps.routes.clear();
            }
            maps.routes.insert(route.to_owned(), rule.clone());
            self.routes_known.store(true, Ordering::Relaxed);
        }
        Some(rule)
    }

    /// A bucket spending `remaining` requests over `time_left`: half at once, the rest evenly
    /// (or at the floor rate, if that is faster).
    fn bucket(&self, remaining: u64, time_left: Duration) -> Option<Bucket> {
        if time_left.is_zero() {
            return None;
        }
        let burst = (remaining / 2).max(1);
        let spread = remaining - burst;
        let mut period = if spread == 0 {
            time_left
        } else {
            time_left / u32::try_from(spread).unwrap_or(u32::MAX)
        };
        if let Some(floor) = self.config.pacing.floor_period() {
            period = period.min(floor);
        }
        let burst = NonZeroU32::new(u32::try_from(burst).unwrap_or(u32::MAX))?;
        let quota = Quota::with_period(period)?.allow_burst(burst);
        Some(RateLimiter::direct_with_clock(quota, self.clock))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(limit: u64, reset: u64, date: u64) -> RateLimitInfo {
        RateLimitInfo {
            rule: Some("rule1".into()),
            limit: Some(limit),
            reset: Some(reset),
            date: Some(date),
        }
    }

    const ROUTE: &str = "GET /api/now/table/incident";

    #[tokio::test(start_paused = true)]
    async fn a_route_without_a_rule_is_not_paced() {
        let pacer = Pacer::new(RateLimitConfig::default());
        let t = pacer.admit(ROUTE, Duration::ZERO).await.unwrap();
        assert_eq!(t.waited, Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn half_the_budget_goes_at_once_and_the_rest_is_spread_until_the_reset() {
        let pacer = Pacer::new(RateLimitConfig::default());
        // 11 allowed per 10 s, one answer seen: 10 left, 5 at once, 5 over 10 s.
        pacer.observe(ROUTE, &info(11, 1010, 1000), None, None);
        let start = Instant::now();
        let mut at = Vec::new();
        for _ in 0..10 {
            pacer.admit(ROUTE, Duration::ZERO).await.unwrap();
            at.push(start.elapsed().as_millis());
        }
        assert_eq!(&at[..5], &[0, 0, 0, 0, 0], "{at:?}");
        assert_eq!(&at[5..], &[2000, 4000, 6000, 8000, 10000], "{at:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_spent_budget_waits_for_the_reset_or_fails_past_the_cap() {
        let pacer = Pacer::new(RateLimitConfig::default().max_wait(Duration::from_secs(5)));
        pacer.observe(ROUTE, &info(1, 1030, 1000), None, None);
        let err = pacer.admit(ROUTE, Duration::ZERO).await.err().unwrap();
        match err {
            TransportError::RateLimited {
                rule,
                limit,
                reset,
                retry_after,
                max_wait,
            } => {
                assert_eq!(rule.as_deref(), Some("rule1"));
                assert_eq!(limit, Some(1));
                assert_eq!(
                    reset,
                    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(1030))
                );
                assert_eq!(retry_after, Some(Duration::from_secs(30)));
                assert_eq!(max_wait, Duration::from_secs(5));
            }
            other => panic!("{other:?}"),
        }
        // Within the cap, the request waits for the reset.
        let pacer = Pacer::new(RateLimitConfig::default());
        pacer.observe(ROUTE, &info(1, 1030, 1000), None, None);
        let t = pacer.admit(ROUTE, Duration::ZERO).await.unwrap();
        assert_eq!(t.waited, Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_rule_429_blocks_the_rule_until_its_reset() {
        let pacer = Pacer::new(RateLimitConfig::default());
        let limited = info(100, 1020, 1000);
        pacer.observe(ROUTE, &limited, None, None);
        pacer.observe(
            ROUTE,
            &limited,
            Some(&Throttle::RateLimit(limited.clone())),
            Some(Duration::from_secs(3)),
        );
        let t = pacer.admit(ROUTE, Duration::ZERO).await.unwrap();
        assert_eq!(t.waited, Duration::from_secs(20));
    }

    #[tokio::test(start_paused = true)]
    async fn off_never_waits_and_a_floor_keeps_a_minimum_rate() {
        let pacer = Pacer::new(RateLimitConfig::default().pacing(Pacing::Off));
        pacer.observe(ROUTE, &info(1, 1030, 1000), None, None);
        let t = pacer.admit(ROUTE, Duration::ZERO).await.unwrap();
        assert_eq!(t.waited, Duration::ZERO);

        let pacer = Pacer::new(RateLimitConfig::default().pacing(Pacing::Floor {
            requests: 1,
            per: Duration::from_secs(1),
        }));
        // 3 left over 100 s: 1 at once, then 1 a second instead of 1 per 50 s.
        pacer.observe(ROUTE, &info(4, 1100, 1000), None, None);
        let start = Instant::now();
        for _ in 0..3 {
            pacer.admit(ROUTE, Duration::ZERO).await.unwrap();
        }
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn requests_in_flight_count_against_a_new_window() {
        let pacer = Pacer::new(RateLimitConfig::default().max_wait(Duration::from_secs(1)));
        pacer.observe(ROUTE, &info(10, 1010, 1000), None, None);
        let tickets: Vec<Ticket> = {
            let mut v = Vec::new();
            for _ in 0..4 {
                v.push(pacer.admit(ROUTE, Duration::ZERO).await.unwrap());
            }
            v
        };
        // A new window whose limit is 5: one answer and four in flight spend it.
        pacer.observe(ROUTE, &info(5, 1020, 1010), None, None);
        assert!(pacer.admit(ROUTE, Duration::ZERO).await.is_err());
        drop(tickets);
    }

    #[tokio::test(start_paused = true)]
    async fn requests_sent_before_any_rule_answered_count_against_its_first_window() {
        // A floor fast enough that only the budget binds.
        let pacer = Pacer::new(
            RateLimitConfig::default()
                .max_wait(Duration::from_secs(1))
                .pacing(Pacing::Floor {
                    requests: 1000,
                    per: Duration::from_secs(1),
                }),
        );
        let mut first = Vec::new();
        for _ in 0..4 {
            first.push(pacer.admit(ROUTE, Duration::ZERO).await.unwrap());
        }
        // The first answer: 6 allowed, itself and the other three in flight leave 2.
        drop(first.pop());
        pacer.observe(ROUTE, &info(6, 1100, 1000), None, None);
        for _ in 0..2 {
            pacer.admit(ROUTE, Duration::ZERO).await.unwrap();
        }
        let err = pacer.admit(ROUTE, Duration::ZERO).await.err().unwrap();
        assert!(matches!(err, TransportError::RateLimited { .. }), "{err:?}");
    }
}
