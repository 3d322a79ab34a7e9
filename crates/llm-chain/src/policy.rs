//! What the chain does when an attempt fails: retry rules, the retry budget, which kinds fall through to
//! the next entry, the circuit breaker's thresholds, the overall deadline and hedging.

use std::time::Duration;

use llm_core::ErrorKind;

/// Everything that decides the chain's behaviour, with defaults that follow the official SDKs.
///
/// ```
/// use std::time::Duration;
/// use llm_chain::{FallThrough, Policy, RetryPolicy};
/// use llm_core::ErrorKind;
///
/// let policy = Policy::default()
///     .retry(RetryPolicy::default().max_attempts(2))
///     .fall_through(FallThrough::default().with(ErrorKind::ContextLength))
///     .deadline(Duration::from_secs(30))
///     .hedge_after(Duration::from_secs(2));
/// assert_eq!(policy.retry.max_attempts, 2);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// Retries within one entry.
    pub retry: RetryPolicy,
    /// The bound on extra load from retries, shared by every call of one chain.
    pub budget: RetryBudget,
    /// Which failures move on to the next entry.
    pub fall_through: FallThrough,
    /// When an entry's circuit opens and closes.
    pub breaker: BreakerPolicy,
    /// The most time one chain call (a `chat`, or a `stream` until its last event) may take. `None`: no limit
    /// beyond each provider's own timeouts.
    pub deadline: Option<Duration>,
    /// Streams only: when an entry has produced no content this long after it was started, the next entry is
    /// started as well and whichever produces content first wins. `None` (the default): no hedging.
    pub hedge_after: Option<Duration>,
}

impl Policy {
    /// Sets the retry rules.
    #[must_use]
    pub fn retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets the retry budget.
    #[must_use]
    pub fn budget(mut self, budget: RetryBudget) -> Self {
        self.budget = budget;
        self
    }

    /// Sets which kinds fall through.
    #[must_use]
    pub fn fall_through(mut self, fall_through: FallThrough) -> Self {
        self.fall_through = fall_through;
        self
    }

    /// Sets the circuit breaker's thresholds.
    #[must_use]
    pub fn breaker(mut self, breaker: BreakerPolicy) -> Self {
        self.breaker = breaker;
        self
    }

    /// Sets the overall deadline of one chain call.
    #[must_use]
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Turns hedging on for streams: start the next entry too when no content came within `after`.
    #[must_use]
    pub fn hedge_after(mut self, after: Duration) -> Self {
        self.hedge_after = Some(after);
        self
    }
}

/// Retries within one entry, for errors whose [`is_retryable`](llm_core::Error::is_retryable) is true.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per entry, the first included (default 3: two retries, as the official SDKs). At least 1.
    pub max_attempts: u32,
    /// The first backoff (default 0.5 s); it doubles with every retry.
    pub initial_backoff: Duration,
    /// The longest backoff (default 8 s).
    pub max_backoff: Duration,
    /// The largest fraction taken off a backoff at random (default 0.25), so clients spread out.
    pub jitter: f64,
    /// The longest provider-requested wait (`retry-after`) the chain honours (default 60 s). A longer one
    /// is not slept: the chain moves on to the next entry.
    pub max_retry_after: Duration,
    /// Whether a connection that could not be established ([`Error::is_connect`](llm_core::Error::is_connect):
    /// refused, unreachable) is retried on the same entry when a later entry could answer instead (default
    /// false: the chain moves on at once, since nothing listens there now; the last entry still retries it).
    pub retry_connect_before_fallback: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(8),
            jitter: 0.25,
            max_retry_after: Duration::from_secs(60),
            retry_connect_before_fallback: false,
        }
    }
}

impl RetryPolicy {
    /// No retries: one attempt per entry.
    pub fn none() -> Self {
        RetryPolicy::default().max_attempts(1)
    }

    /// Sets the attempts per entry (0 is taken as 1).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// Sets the first and the longest backoff.
    #[must_use]
    pub fn backoff(mut self, initial: Duration, max: Duration) -> Self {
        self.initial_backoff = initial;
        self.max_backoff = max.max(initial);
        self
    }

    /// Sets the jitter fraction, clamped to 0..=1 (NaN is taken as 0).
    #[must_use]
    pub fn jitter(mut self, jitter: f64) -> Self {
        self.jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        self
    }

    /// Sets the longest `retry-after` honoured.
    #[must_use]
    pub fn max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }

    /// Sets whether a failed connection is retried on the same entry before later entries are tried.
    #[must_use]
    pub fn retry_connect_before_fallback(mut self, retry: bool) -> Self {
        self.retry_connect_before_fallback = retry;
        self
    }

    /// The backoff before retry number `retry + 1`: `min(initial * 2^retry, max)` reduced by
    /// `jitter * random`, where `random` is in `0..1`.
    pub fn backoff_for(&self, retry: u32, random: f64) -> Duration {
        let doubled = self
            .initial_backoff
            .saturating_mul(2u32.saturating_pow(retry.min(31)));
        let base = doubled.min(self.max_backoff);
        let cut = (self.jitter * random.clamp(0.0, 1.0)).clamp(0.0, 1.0);
        base.mul_f64(1.0 - cut)
    }
}

/// A bound on the extra load retries cause, shared by every call of one chain: over a sliding `window`,
/// retries may be at most `min_retries + ratio * calls`. When the budget is spent, a failing entry is not
/// retried; the chain falls through at once.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryBudget {
    /// Retries allowed per chain call over the window (default 0.2: retries add at most 20 % load).
    pub ratio: f64,
    /// Retries always allowed per window, so a quiet chain can still retry (default 10).
    pub min_retries: u32,
    /// The sliding window (default 10 s).
    pub window: Duration,
}

impl Default for RetryBudget {
    fn default() -> Self {
        RetryBudget {
            ratio: 0.2,
            min_retries: 10,
            window: Duration::from_secs(10),
        }
    }
}

impl RetryBudget {
    /// A budget that never runs out.
    pub fn unlimited() -> Self {
        RetryBudget {
            ratio: f64::INFINITY,
            min_retries: u32::MAX,
            window: Duration::from_secs(10),
        }
    }

    /// Sets the ratio of retries to calls (negative or NaN is taken as 0).
    #[must_use]
    pub fn ratio(mut self, ratio: f64) -> Self {
        self.ratio = if ratio.is_nan() { 0.0 } else { ratio.max(0.0) };
        self
    }

    /// Sets the retries always allowed per window.
    #[must_use]
    pub fn min_retries(mut self, n: u32) -> Self {
        self.min_retries = n;
        self
    }

    /// Sets the window (at least 1 ms).
    #[must_use]
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window.max(Duration::from_millis(1));
        self
    }
}

/// The set of error kinds after which the chain moves on to its next entry; any other kind stops the chain
/// and is returned at once. `cancelled` is never in the set: it always stops everything.
///
/// The default set: the retryable kinds (`rate_limited`, `overloaded`, `server`, `timeout`, `network`), the
/// kinds that are about one provider rather than the request (`auth`, `permission`, `not_found`,
/// `quota_exhausted`, `invalid_response`, `unknown`) and `validation` (another entry may accept what this
/// one's table rejects). Not in it: `bad_request` and `payload_too_large` (the request itself is wrong, every
/// entry would refuse it) and `context_length` (add it when a later entry has a larger window).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FallThrough {
    bits: u64,
}

impl Default for FallThrough {
    fn default() -> Self {
        [
            ErrorKind::RateLimited,
            ErrorKind::Overloaded,
            ErrorKind::Server,
            ErrorKind::Timeout,
            ErrorKind::Network,
            ErrorKind::Auth,
            ErrorKind::Permission,
            ErrorKind::NotFound,
            ErrorKind::QuotaExhausted,
            ErrorKind::InvalidResponse,
            ErrorKind::Unknown,
            ErrorKind::Validation,
        ]
        .into_iter()
        .fold(FallThrough::none(), FallThrough::with)
    }
}

fn bit(kind: ErrorKind) -> u64 {
    ErrorKind::ALL
        .iter()
        .position(|k| *k == kind)
        .and_then(|i| u32::try_from(i).ok())
        .and_then(|i| 1u64.checked_shl(i))
        .unwrap_or(0)
}

impl FallThrough {
    /// The empty set: every failure stops the chain.
    pub const fn none() -> Self {
        FallThrough { bits: 0 }
    }

    /// Adds `kind` (adding `cancelled` has no effect).
    #[must_use]
    pub fn with(mut self, kind: ErrorKind) -> Self {
        if kind != ErrorKind::Cancelled {
            self.bits |= bit(kind);
        }
        self
    }

    /// Removes `kind`.
    #[must_use]
    pub fn without(mut self, kind: ErrorKind) -> Self {
        self.bits &= !bit(kind);
        self
    }

    /// Whether a failure of `kind` moves on to the next entry.
    pub fn contains(&self, kind: ErrorKind) -> bool {
        kind != ErrorKind::Cancelled && self.bits & bit(kind) != 0
    }
}

/// When an entry's circuit breaker opens, and for how long.
///
/// Only failures that say something about the provider count: `server`, `overloaded`, `timeout`,
/// `network`, `auth` and `rate_limited`. The caller's own mistakes (`bad_request`, `validation`,
/// `context_length`, …) and `cancelled` neither count as failures nor as successes.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BreakerPolicy {
    /// Whether breakers are used at all (default true).
    pub enabled: bool,
    /// Opens after this many provider failures in a row (default 5).
    pub consecutive_failures: u32,
    /// Opens when provider failures make up at least this share of the outcomes in the window (default
    /// 0.5)…
    pub failure_ratio: f64,
    /// …once the window holds at least this many outcomes (default 10).
    pub min_requests: u32,
    /// The sliding window for the ratio (default 60 s).
    pub window: Duration,
    /// How long the circuit stays open before one probe is let through (default 30 s). A provider's
    /// `retry-after` lengthens it, up to `max_cooldown`.
    pub cooldown: Duration,
    /// The longest cooldown a provider's `retry-after` can ask for (default 10 min).
    pub max_cooldown: Duration,
}

impl Default for BreakerPolicy {
    fn default() -> Self {
        BreakerPolicy {
            enabled: true,
            consecutive_failures: 5,
            failure_ratio: 0.5,
            min_requests: 10,
            window: Duration::from_secs(60),
            cooldown: Duration::from_secs(30),
            max_cooldown: Duration::from_secs(600),
        }
    }
}

impl BreakerPolicy {
    /// Breakers off: every entry is always tried.
    pub fn disabled() -> Self {
        BreakerPolicy {
            enabled: false,
            ..BreakerPolicy::default()
        }
    }

    /// Sets the consecutive failures that open the circuit (0 is taken as 1).
    #[must_use]
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.consecutive_failures = n.max(1);
        self
    }

    /// Sets the failure ratio (clamped to 0..=1, NaN is taken as 1) and the outcomes the window must hold
    /// before the ratio counts.
    #[must_use]
    pub fn failure_ratio(mut self, ratio: f64, min_requests: u32) -> Self {
        self.failure_ratio = if ratio.is_nan() {
            1.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        self.min_requests = min_requests.max(1);
        self
    }

    /// Sets the ratio window (at least 1 ms).
    #[must_use]
    pub fn window(mut self, window: Duration) -> Self {
        self.window = window.max(Duration::from_millis(1));
        self
    }

    /// Sets the cooldown and its cap.
    #[must_use]
    pub fn cooldown(mut self, cooldown: Duration, max: Duration) -> Self {
        self.cooldown = cooldown;
        self.max_cooldown = max.max(cooldown);
        self
    }
}

/// Whether a failure of `kind` says something about the provider's health (and so counts for its breaker).
pub fn counts_for_health(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::Server
            | ErrorKind::Overloaded
            | ErrorKind::Timeout
            | ErrorKind::Network
            | ErrorKind::Auth
            | ErrorKind::RateLimited
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_cap_and_jitter_cuts_at_most_a_quarter() {
        let p = RetryPolicy::default();
        let ms = |d: Duration| d.as_millis();
        assert_eq!(ms(p.backoff_for(0, 0.0)), 500);
        assert_eq!(ms(p.backoff_for(1, 0.0)), 1000);
        assert_eq!(ms(p.backoff_for(4, 0.0)), 8000);
        assert_eq!(ms(p.backoff_for(40, 0.0)), 8000);
        assert_eq!(ms(p.backoff_for(0, 1.0)), 375);
        assert_eq!(ms(p.backoff_for(4, 0.5)), 7000);
    }

    #[test]
    fn fall_through_defaults() {
        let f = FallThrough::default();
        for &kind in ErrorKind::ALL {
            let expected = !matches!(
                kind,
                ErrorKind::BadRequest
                    | ErrorKind::PayloadTooLarge
                    | ErrorKind::ContextLength
                    | ErrorKind::Cancelled
            );
            assert_eq!(f.contains(kind), expected, "{kind}");
        }
        assert!(
            f.with(ErrorKind::ContextLength)
                .contains(ErrorKind::ContextLength)
        );
        assert!(!f.with(ErrorKind::Cancelled).contains(ErrorKind::Cancelled));
        assert!(!f.without(ErrorKind::Auth).contains(ErrorKind::Auth));
    }

    #[test]
    fn health_kinds_are_exactly_six() {
        let n = ErrorKind::ALL
            .iter()
            .filter(|k| counts_for_health(**k))
            .count();
        assert_eq!(n, 6);
        assert!(!counts_for_health(ErrorKind::BadRequest));
        assert!(!counts_for_health(ErrorKind::Cancelled));
    }
}
