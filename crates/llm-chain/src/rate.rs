//! Rate budgets per target: requests and tokens per minute (`rpm`, `tpm`). The in-process window here is
//! the whole budget without a store, and the fallback when the store cannot answer; with a store the
//! fleet-wide count is the store's (a Lua script over Redis, see `redis`).

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::spend::UsdLimits;
use crate::window::Window;

/// The length of a rate window.
pub(crate) const MINUTE: Duration = Duration::from_secs(60);

const REQUESTS: usize = 0;
const TOKENS: usize = 1;

/// The fleet's answer when a target with a rate budget is about to be sent a request.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rate {
    /// There was room; the request is counted.
    Admitted,
    /// The budget is spent; room frees up in this long.
    Denied(Duration),
}

/// A target's budgets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Limits {
    /// Requests per minute.
    pub(crate) rpm: Option<u64>,
    /// Tokens (input and output) per minute.
    pub(crate) tpm: Option<u64>,
    /// The longest the chain waits for room instead of skipping the target (`None`: skip at once).
    pub(crate) wait: Option<Duration>,
    /// Dollars per minute, hour and day.
    pub(crate) usd: UsdLimits,
}

impl Limits {
    /// Whether a request or token budget is set.
    pub(crate) fn any(&self) -> bool {
        self.rpm.is_some() || self.tpm.is_some()
    }
}

#[derive(Debug)]
struct State {
    window: Window,
    /// The provider said it is out of budget until then.
    hold: Option<Instant>,
}

/// The in-process rate window of one target.
#[derive(Debug)]
pub(crate) struct LocalRate {
    state: Mutex<State>,
}

impl LocalRate {
    pub(crate) fn new(origin: Instant) -> Self {
        LocalRate {
            state: Mutex::new(State {
                window: Window::new(origin, MINUTE),
                hold: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a counter change or one assignment: a poisoned lock holds consistent data.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether `limits` leave room for one more request at `now`; counts it when they do (`enforce`), or
    /// only counts it (the fleet admitted it; the local window stays warm for a fallback).
    pub(crate) fn acquire(&self, now: Instant, limits: &Limits, enforce: bool) -> Rate {
        let mut state = self.lock();
        if enforce {
            if let Some(until) = state.hold {
                if now < until {
                    return Rate::Denied(until - now);
                }
                state.hold = None;
            }
            let [requests, tokens] = state.window.sums(now);
            let spent = limits.rpm.is_some_and(|rpm| requests >= rpm)
                || limits.tpm.is_some_and(|tpm| tokens >= tpm);
            if spent {
                return Rate::Denied(state.window.slot());
            }
        }
        state.window.add(now, REQUESTS);
        Rate::Admitted
    }

    /// An answer used `tokens`.
    pub(crate) fn tokens(&self, now: Instant, tokens: u64) {
        self.lock().window.add_n(now, TOKENS, tokens);
    }

    /// The provider said it is out of budget for `wait`.
    pub(crate) fn exhausted(&self, now: Instant, wait: Duration) {
        let mut state = self.lock();
        let until = now + wait;
        if state.hold.is_none_or(|h| h < until) {
            state.hold = Some(until);
        }
    }

    /// The provider said only `requests` / `tokens` are left: counts the difference as used, so this
    /// window never allows more than the provider will take.
    pub(crate) fn remaining(
        &self,
        now: Instant,
        limits: &Limits,
        requests: Option<u64>,
        tokens: Option<u64>,
    ) {
        let mut state = self.lock();
        let [used_requests, used_tokens] = state.window.sums(now);
        for (which, limit, used, left) in [
            (REQUESTS, limits.rpm, used_requests, requests),
            (TOKENS, limits.tpm, used_tokens, tokens),
        ] {
            if let (Some(limit), Some(left)) = (limit, left) {
                let ours = limit.saturating_sub(used);
                if left < ours {
                    state.window.add_n(now, which, ours - left);
                }
            }
        }
    }

    /// Requests and tokens left in the window at `now` under `limits` (`u64::MAX` for an unset limit), for
    /// the `most budget left` strategy.
    pub(crate) fn left(&self, now: Instant, limits: &Limits) -> (u64, u64) {
        let [requests, tokens] = self.lock().window.sums(now);
        (
            limits.rpm.map_or(u64::MAX, |l| l.saturating_sub(requests)),
            limits.tpm.map_or(u64::MAX, |l| l.saturating_sub(tokens)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_tokens_per_minute_are_bounded_and_slide_out() {
        let t0 = Instant::now();
        let r = LocalRate::new(t0);
        let limits = Limits {
            rpm: Some(3),
            tpm: Some(100),
            ..Limits::default()
        };
        for _ in 0..3 {
            assert_eq!(r.acquire(t0, &limits, true), Rate::Admitted);
        }
        assert!(matches!(r.acquire(t0, &limits, true), Rate::Denied(_)));
        let later = t0 + Duration::from_secs(61);
        assert_eq!(r.acquire(later, &limits, true), Rate::Admitted);
        r.tokens(later, 100);
        assert!(matches!(r.acquire(later, &limits, true), Rate::Denied(_)));
        assert_eq!(r.left(later, &limits), (2, 0));
    }

    #[test]
    fn the_providers_remaining_count_lowers_the_budget() {
        let t0 = Instant::now();
        let r = LocalRate::new(t0);
        let limits = Limits {
            rpm: Some(100),
            tpm: Some(1000),
            ..Limits::default()
        };
        assert_eq!(r.acquire(t0, &limits, true), Rate::Admitted);
        r.remaining(t0, &limits, Some(2), Some(5000));
        assert_eq!(
            r.left(t0, &limits),
            (2, 1000),
            "a higher remaining changes nothing"
        );
        assert_eq!(r.acquire(t0, &limits, true), Rate::Admitted);
        assert_eq!(r.acquire(t0, &limits, true), Rate::Admitted);
        assert!(matches!(r.acquire(t0, &limits, true), Rate::Denied(_)));
    }

    #[test]
    fn a_provider_hold_denies_until_it_ends() {
        let t0 = Instant::now();
        let r = LocalRate::new(t0);
        let limits = Limits {
            rpm: Some(100),
            ..Limits::default()
        };
        r.exhausted(t0, Duration::from_secs(5));
        assert_eq!(
            r.acquire(t0, &limits, true),
            Rate::Denied(Duration::from_secs(5))
        );
        assert_eq!(
            r.acquire(t0 + Duration::from_secs(5), &limits, true),
            Rate::Admitted
        );
    }
}
