//! Per-entry health and circuit breaking: closed → open → half-open → closed, driven by outcomes and the
//! time passed in, plus the averages and timestamps a health snapshot reports.

use std::fmt;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use llm_core::ErrorKind;

use crate::policy::{BreakerPolicy, counts_for_health};
use crate::window::Window;

/// The weight of the newest sample in the latency averages.
const EWMA_ALPHA: f64 = 0.3;

const SUCCESSES: usize = 0;
const FAILURES: usize = 1;

/// Where an entry's circuit breaker stands.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Requests flow.
    Closed,
    /// Requests are not sent until `until`; the entry is skipped.
    Open {
        /// When one probe will be let through.
        until: Instant,
    },
    /// The cooldown is over: the next request is a probe; while it runs, other calls skip the entry.
    HalfOpen {
        /// Whether the probe is running now.
        probing: bool,
    },
}

impl BreakerState {
    /// `closed`, `open` or `half_open`.
    pub fn as_str(&self) -> &'static str {
        match self {
            BreakerState::Closed => "closed",
            BreakerState::Open { .. } => "open",
            BreakerState::HalfOpen { .. } => "half_open",
        }
    }
}

/// One entry's health, as [`Chain::health_snapshot`](crate::Chain::health_snapshot) reports it.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct EntryHealth {
    /// The entry's position in the chain, from 0.
    pub entry: usize,
    /// The provider's name.
    pub provider: String,
    /// The entry's model.
    pub model: String,
    /// The circuit breaker's state.
    pub state: BreakerState,
    /// Provider failures since the last success.
    pub consecutive_failures: u32,
    /// The kind of the last failure the provider returned (any kind, even those that do not count for
    /// the breaker).
    pub last_error: Option<ErrorKind>,
    /// When that failure ended.
    pub last_error_at: Option<Instant>,
    /// When the last success ended (for streams: when the first content arrived).
    pub last_success_at: Option<Instant>,
    /// Average time for a whole answer (a `chat` response, or a stream to its end), newest weighted 0.3.
    pub latency: Option<Duration>,
    /// Average time from sending a stream request to its first content, newest weighted 0.3.
    pub ttft: Option<Duration>,
    /// The deployment's position in the entry's group, when the entry is a group (one row per deployment).
    pub deployment: Option<usize>,
}

/// Why an entry was skipped without a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Skip {
    /// The circuit is open until then.
    Open(Instant),
    /// The half-open probe is running (in this process or, with a shared store, in another).
    ProbeInFlight,
    /// The target's rate budget is spent; room frees up in this long.
    RateBudget(Duration),
    /// The target's dollar budget has no room for the request's worst case; room may free up in this long.
    CostBudget(Duration),
}

/// Why an entry (or one deployment of it) was passed over without a request.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipReason {
    /// Its circuit breaker is open.
    BreakerOpen,
    /// Its breaker is half-open and the one probe is in flight (in this process or another).
    ProbeInFlight,
    /// Its requests- or tokens-per-minute budget is spent.
    RateBudget,
    /// Its dollar budget (per minute, hour or day) has no room for the request's worst case.
    CostBudget,
}

impl SkipReason {
    /// `breaker_open`, `probe_in_flight`, `rate_budget` or `cost_budget`: the `reason` of the CLI's `skip`
    /// line.
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::BreakerOpen => "breaker_open",
            SkipReason::ProbeInFlight => "probe_in_flight",
            SkipReason::RateBudget => "rate_budget",
            SkipReason::CostBudget => "cost_budget",
        }
    }
}

/// An entry (or one deployment of a group) passed over without a request, as a skip observer sees it
/// ([`ChainBuilder::on_skip`](crate::ChainBuilder::on_skip)).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// The entry's position in the chain, from 0.
    pub entry: usize,
    /// The deployment's position in the entry's group, when the entry is a group.
    pub deployment: Option<usize>,
    /// The provider's name.
    pub provider: String,
    /// The model.
    pub model: String,
    /// Why.
    pub reason: SkipReason,
}

impl Skip {
    /// The public reason.
    pub(crate) fn reason(self) -> SkipReason {
        match self {
            Skip::Open(_) => SkipReason::BreakerOpen,
            Skip::ProbeInFlight => SkipReason::ProbeInFlight,
            Skip::RateBudget(_) => SkipReason::RateBudget,
            Skip::CostBudget(_) => SkipReason::CostBudget,
        }
    }

    pub(crate) fn describe(self, now: Instant) -> SkipDisplay {
        SkipDisplay(self, now)
    }
}

/// A [`Skip`] ready to print, relative to a time.
pub(crate) struct SkipDisplay(Skip, Instant);

impl fmt::Display for SkipDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Skip::Open(until) => write!(
                f,
                "circuit open for another {:.1}s",
                until.saturating_duration_since(self.1).as_secs_f64()
            ),
            Skip::ProbeInFlight => f.write_str("circuit half-open, probe in flight"),
            Skip::RateBudget(wait) => write!(
                f,
                "rate budget spent for another {:.1}s",
                wait.as_secs_f64()
            ),
            Skip::CostBudget(wait) => write!(
                f,
                "dollar budget has no room for the request, for up to another {:.1}s",
                wait.as_secs_f64()
            ),
        }
    }
}

#[derive(Debug)]
struct State {
    breaker: BreakerState,
    consecutive_failures: u32,
    window: Window,
    last_error: Option<(ErrorKind, Instant)>,
    last_success_at: Option<Instant>,
    latency: Option<Duration>,
    ttft: Option<Duration>,
}

/// One entry's health and breaker, shared by every call of the chain.
#[derive(Debug)]
pub(crate) struct Health {
    policy: BreakerPolicy,
    state: Mutex<State>,
}

/// The right to send one request to an entry. A probe permit that is dropped without an outcome (the call
/// was cancelled, or the request failed validation) gives the probe back, so the breaker does not stay
/// half-open with a probe that never reports.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    health: &'a Health,
    probe: bool,
}

fn ewma(old: Option<Duration>, sample: Duration) -> Duration {
    match old {
        None => sample,
        Some(old) => old.mul_f64(1.0 - EWMA_ALPHA) + sample.mul_f64(EWMA_ALPHA),
    }
}

impl Health {
    pub(crate) fn new(policy: BreakerPolicy, origin: Instant) -> Self {
        Health {
            policy,
            state: Mutex::new(State {
                breaker: BreakerState::Closed,
                consecutive_failures: 0,
                window: Window::new(origin, policy.window),
                last_error: None,
                last_success_at: None,
                latency: None,
                ttft: None,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update below is a handful of field assignments with no panicking call in between.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the breaker for a permit at `now`: no allocation, no await.
    pub(crate) fn admit(&self, now: Instant) -> Result<Permit<'_>, Skip> {
        if !self.policy.enabled {
            return Ok(Permit {
                health: self,
                probe: false,
            });
        }
        let mut state = self.lock();
        let probe = match state.breaker {
            BreakerState::Closed => false,
            BreakerState::Open { until } if now < until => return Err(Skip::Open(until)),
            BreakerState::HalfOpen { probing: true } => return Err(Skip::ProbeInFlight),
            BreakerState::Open { .. } | BreakerState::HalfOpen { probing: false } => {
                state.breaker = BreakerState::HalfOpen { probing: true };
                true
            }
        };
        Ok(Permit {
            health: self,
            probe,
        })
    }

    /// Whether the breaker is open (or its probe is running) at `now`, without taking a permit.
    pub(crate) fn is_blocked(&self, now: Instant) -> bool {
        self.policy.enabled
            && match self.lock().breaker {
                BreakerState::Closed | BreakerState::HalfOpen { probing: false } => false,
                BreakerState::Open { until } => now < until,
                BreakerState::HalfOpen { probing: true } => true,
            }
    }

    /// A success at `now`: `latency` for a whole answer, `ttft` for a stream's first content.
    fn success(&self, state: &mut State, now: Instant) {
        state.consecutive_failures = 0;
        state.last_success_at = Some(now);
        state.window.add(now, SUCCESSES);
        if matches!(state.breaker, BreakerState::HalfOpen { .. }) {
            state.breaker = BreakerState::Closed;
            state.window.clear();
        }
    }

    fn failure(
        &self,
        state: &mut State,
        now: Instant,
        kind: ErrorKind,
        retry_after: Option<Duration>,
        probe: bool,
    ) {
        state.last_error = Some((kind, now));
        if !counts_for_health(kind) {
            if probe {
                state.breaker = BreakerState::HalfOpen { probing: false };
            }
            return;
        }
        state.consecutive_failures = state.consecutive_failures.saturating_add(1);
        state.window.add(now, FAILURES);
        if !self.policy.enabled {
            return;
        }
        let [ok, failed] = state.window.sums(now);
        let total = ok + failed;
        let trips = state.consecutive_failures >= self.policy.consecutive_failures
            || (total >= u64::from(self.policy.min_requests)
                && failed as f64 >= self.policy.failure_ratio * total as f64);
        let reopen = probe || matches!(state.breaker, BreakerState::HalfOpen { .. });
        if reopen || (trips && state.breaker == BreakerState::Closed) {
            let hint = retry_after.unwrap_or(Duration::ZERO);
            let cooldown = self.policy.cooldown.max(hint.min(self.policy.max_cooldown));
            state.breaker = BreakerState::Open {
                until: now + cooldown,
            };
            tracing::warn!(
                cooldown_ms = cooldown.as_millis() as u64,
                consecutive_failures = state.consecutive_failures,
                last_kind = kind.as_str(),
                "circuit opened"
            );
        }
    }

    /// The fleet says the breaker is open for `remaining` more, from `now`.
    pub(crate) fn fleet_opened(&self, now: Instant, remaining: Duration) {
        if !self.policy.enabled {
            return;
        }
        let until = now + remaining;
        let mut state = self.lock();
        match state.breaker {
            BreakerState::Open { until: mine } if mine >= until => {}
            _ => state.breaker = BreakerState::Open { until },
        }
    }

    /// How long this breaker stays open from `now` (`None`: it is not open).
    pub(crate) fn open_for(&self, now: Instant) -> Option<Duration> {
        match self.lock().breaker {
            BreakerState::Open { until } if until > now => Some(until - now),
            _ => None,
        }
    }

    /// The fleet says the breaker is closed.
    pub(crate) fn fleet_closed(&self) {
        let mut state = self.lock();
        if state.breaker != BreakerState::Closed {
            state.breaker = BreakerState::Closed;
            state.consecutive_failures = 0;
            state.window.clear();
        }
    }

    /// The average time to first content (streams), else to a whole answer, for `lowest latency`.
    pub(crate) fn speed(&self) -> Option<Duration> {
        let state = self.lock();
        state.ttft.or(state.latency)
    }

    /// A stream that had started failed afterwards (no permit is held by then).
    pub(crate) fn stream_failed(
        &self,
        now: Instant,
        kind: ErrorKind,
        retry_after: Option<Duration>,
    ) {
        let mut state = self.lock();
        self.failure(&mut state, now, kind, retry_after, false);
    }

    /// A stream that had started ended well after `latency`.
    pub(crate) fn stream_completed(&self, latency: Duration) {
        let mut state = self.lock();
        state.latency = Some(ewma(state.latency, latency));
    }

    /// A snapshot at `now`.
    pub(crate) fn snapshot(
        &self,
        now: Instant,
        entry: usize,
        provider: &str,
        model: &str,
    ) -> EntryHealth {
        let state = self.lock();
        let breaker = match state.breaker {
            BreakerState::Open { until } if now >= until => {
                BreakerState::HalfOpen { probing: false }
            }
            other => other,
        };
        EntryHealth {
            entry,
            provider: provider.to_owned(),
            model: model.to_owned(),
            state: breaker,
            consecutive_failures: state.consecutive_failures,
            last_error: state.last_error.map(|(k, _)| k),
            last_error_at: state.last_error.map(|(_, t)| t),
            last_success_at: state.last_success_at,
            latency: state.latency,
            ttft: state.ttft,
            deployment: None,
        }
    }
}

impl Permit<'_> {
    /// Whether this permit is the half-open probe.
    pub(crate) fn is_probe(&self) -> bool {
        self.probe
    }

    /// The fleet's breaker is closed: this is an ordinary request, and the local breaker closes too.
    pub(crate) fn fleet_closed(&mut self) {
        self.probe = false;
        self.health.fleet_closed();
    }

    /// The request succeeded at `now`. `latency` is set for a whole answer, `ttft` for a stream's first
    /// content.
    pub(crate) fn succeeded(
        mut self,
        now: Instant,
        latency: Option<Duration>,
        ttft: Option<Duration>,
    ) {
        let health = self.health;
        let mut state = health.lock();
        health.success(&mut state, now);
        if let Some(l) = latency {
            state.latency = Some(ewma(state.latency, l));
        }
        if let Some(t) = ttft {
            state.ttft = Some(ewma(state.ttft, t));
        }
        self.probe = false;
    }

    /// The request failed at `now` with `kind`.
    pub(crate) fn failed(mut self, now: Instant, kind: ErrorKind, retry_after: Option<Duration>) {
        let health = self.health;
        let mut state = health.lock();
        health.failure(&mut state, now, kind, retry_after, self.probe);
        self.probe = false;
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        if self.probe {
            let mut state = self.health.lock();
            if state.breaker == (BreakerState::HalfOpen { probing: true }) {
                state.breaker = BreakerState::HalfOpen { probing: false };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn opens_after_consecutive_failures_and_probe_closes() {
        let t0 = Instant::now();
        let h = Health::new(
            BreakerPolicy::default()
                .consecutive_failures(2)
                .cooldown(secs(10), secs(60)),
            t0,
        );
        h.admit(t0).unwrap().failed(t0, ErrorKind::Server, None);
        assert!(h.admit(t0).is_ok());
        h.admit(t0).unwrap().failed(t0, ErrorKind::Server, None);
        assert_eq!(h.admit(t0).unwrap_err(), Skip::Open(t0 + secs(10)));
        let t1 = t0 + secs(10);
        let probe = h.admit(t1).unwrap();
        assert_eq!(h.admit(t1).unwrap_err(), Skip::ProbeInFlight);
        probe.succeeded(t1, Some(secs(1)), None);
        assert!(h.admit(t1).is_ok());
        assert_eq!(h.snapshot(t1, 0, "p", "m").state, BreakerState::Closed);
    }

    #[test]
    fn dropped_probe_is_given_back() {
        let t0 = Instant::now();
        let h = Health::new(BreakerPolicy::default().consecutive_failures(1), t0);
        h.admit(t0).unwrap().failed(t0, ErrorKind::Timeout, None);
        let t1 = t0 + secs(30);
        drop(h.admit(t1).unwrap());
        assert!(h.admit(t1).is_ok(), "a new probe may go");
    }

    #[test]
    fn caller_mistakes_never_trip() {
        let t0 = Instant::now();
        let h = Health::new(BreakerPolicy::default().consecutive_failures(1), t0);
        for kind in [
            ErrorKind::BadRequest,
            ErrorKind::Validation,
            ErrorKind::ContextLength,
            ErrorKind::Cancelled,
        ] {
            h.admit(t0).unwrap().failed(t0, kind, None);
        }
        assert!(h.admit(t0).is_ok());
        assert_eq!(h.snapshot(t0, 0, "p", "m").consecutive_failures, 0);
    }
}
