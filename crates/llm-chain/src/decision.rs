//! The chain's decision after an attempt failed, apart from the loop that drives attempts (as tower keeps
//! its retry `Policy` apart from the `Retry` service): retry the same entry after a wait, fall through to the
//! next entry, or stop the call. It is a plain function of the [`Policy`], the [`Error`] and what the call has
//! done so far ([`Failed`]), so every rule is tested here without a runtime, a clock or a provider.
//!
//! The only state the decision touches is the shared retry budget, and only as its very last step: it is
//! passed in as a closure that withdraws one retry, so a retry denied for any other reason costs no budget.

use std::time::{Duration, Instant};

use llm_core::{Error, ErrorKind};

use crate::policy::Policy;

/// What the chain does next, after one attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Wait this long, then send the request to the same entry again.
    Retry(Duration),
    /// Move on to the next entry. `Some` when the error was retryable but not retried, and why.
    FallThrough(Option<NoRetry>),
    /// End the call with this error. `Some` when the error was retryable but not retried, and why.
    Stop(Option<NoRetry>),
}

/// Why a retryable failure was not retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NoRetry {
    /// The provider asked for a wait (`retry-after`) longer than [`RetryPolicy::max_retry_after`](crate::RetryPolicy::max_retry_after).
    HintBeyondCap,
    /// The wait would reach the call's deadline.
    Deadline,
    /// The entry's circuit is open (or its probe is running) after this failure.
    CircuitOpen,
    /// The chain's retry budget is spent.
    Budget,
}

impl NoRetry {
    /// A short description, for logs.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            NoRetry::HintBeyondCap => "retry-after is beyond the cap",
            NoRetry::Deadline => "the wait would reach the deadline",
            NoRetry::CircuitOpen => "the circuit opened",
            NoRetry::Budget => "the retry budget is spent",
        }
    }
}

/// What the call knows when an attempt has failed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Failed<'a> {
    /// The attempt's error.
    pub(crate) error: &'a Error,
    /// The entry the attempt went to.
    pub(crate) entry: usize,
    /// How many entries the chain has.
    pub(crate) entries: usize,
    /// The attempt's retry number on this entry (0 for the first request).
    pub(crate) retry: u32,
    /// When the attempt ended.
    pub(crate) now: Instant,
    /// The call's deadline, if any.
    pub(crate) deadline: Option<Instant>,
    /// Whether the entry's breaker blocks requests now that this failure is counted.
    pub(crate) circuit_open: bool,
    /// A random number in `[0, 1]` for the backoff's jitter.
    pub(crate) random: f64,
}

/// Whether the call moves on to the next entry when an entry's parameter table rejected the request before
/// it was sent (else it stops). Never a retry: the same request would be rejected again.
pub(crate) fn rejection_falls_through(policy: &Policy) -> bool {
    policy.fall_through.contains(ErrorKind::Validation)
}

/// The decision after the failed attempt `failed`. `withdraw` takes one retry from the chain's budget and
/// says whether there was one; it is called only when everything else allows the retry.
///
/// - `cancelled` stops the call at once.
/// - A retryable error ([`Error::is_retryable`]) is retried while the entry has attempts left, unless the
///   connection could not be established and a later entry can answer instead (see
///   [`RetryPolicy::retry_connect_before_fallback`](crate::RetryPolicy::retry_connect_before_fallback)). The
///   wait is the provider's `retry-after`, else the exponential backoff with jitter. The retry is denied when
///   the hint exceeds the cap, the wait would reach the deadline, the circuit is open, or the budget is spent,
///   in that order.
/// - Otherwise the call falls through when the policy's [`FallThrough`](crate::FallThrough) contains the
///   error's kind, and stops when it does not.
pub(crate) fn decide(
    policy: &Policy,
    failed: &Failed<'_>,
    withdraw: impl FnOnce() -> bool,
) -> Decision {
    let error = failed.error;
    let kind = error.kind();
    if kind == ErrorKind::Cancelled {
        return Decision::Stop(None);
    }
    // Nothing listens where a connection was refused, and a server still loading its model answers no
    // sooner for a retry: a later entry answers sooner.
    let nobody_there = error.is_connect() && !policy.retry.retry_connect_before_fallback;
    let fail_over_now = (nobody_there || error.is_not_ready()) && failed.entry + 1 < failed.entries;
    let mut not_retried = None;
    if error.is_retryable() && !fail_over_now && failed.retry + 1 < policy.retry.max_attempts {
        match retry_wait(policy, failed, withdraw) {
            Ok(wait) => return Decision::Retry(wait),
            Err(why) => not_retried = Some(why),
        }
    }
    if policy.fall_through.contains(kind) {
        Decision::FallThrough(not_retried)
    } else {
        Decision::Stop(not_retried)
    }
}

/// How long to wait before retrying, or why not to retry.
fn retry_wait(
    policy: &Policy,
    failed: &Failed<'_>,
    withdraw: impl FnOnce() -> bool,
) -> Result<Duration, NoRetry> {
    let wait = match failed.error.retry_after() {
        Some(hint) if hint > policy.retry.max_retry_after => return Err(NoRetry::HintBeyondCap),
        Some(hint) => hint,
        None => policy.retry.backoff_for(failed.retry, failed.random),
    };
    if failed.deadline.is_some_and(|d| failed.now + wait >= d) {
        return Err(NoRetry::Deadline);
    }
    if failed.circuit_open {
        return Err(NoRetry::CircuitOpen);
    }
    if !withdraw() {
        return Err(NoRetry::Budget);
    }
    Ok(wait)
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::policy::{FallThrough, RetryPolicy};

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    /// No jitter, so backoffs are exact: 0.5 s, 1 s, 2 s, …
    fn policy() -> Policy {
        Policy::default().retry(RetryPolicy::default().jitter(0.0))
    }

    /// A first attempt on entry 0 of 2, with no deadline and the circuit closed.
    fn failed(error: &Error, now: Instant) -> Failed<'_> {
        Failed {
            error,
            entry: 0,
            entries: 2,
            retry: 0,
            now,
            deadline: None,
            circuit_open: false,
            random: 0.0,
        }
    }

    fn err(kind: ErrorKind) -> Error {
        Error::new(kind, "test")
    }

    #[test]
    fn a_retryable_failure_is_retried_after_the_backoff() {
        let now = Instant::now();
        let e = err(ErrorKind::Server);
        assert_eq!(
            decide(&policy(), &failed(&e, now), || true),
            Decision::Retry(Duration::from_millis(500))
        );
        let second = Failed {
            retry: 1,
            ..failed(&e, now)
        };
        assert_eq!(
            decide(&policy(), &second, || true),
            Decision::Retry(secs(1))
        );
    }

    #[test]
    fn jitter_takes_off_up_to_its_fraction() {
        let now = Instant::now();
        let e = err(ErrorKind::Server);
        let jittered = Policy::default();
        let f = Failed {
            random: 1.0,
            ..failed(&e, now)
        };
        assert_eq!(
            decide(&jittered, &f, || true),
            Decision::Retry(Duration::from_millis(375))
        );
    }

    #[test]
    fn retry_after_is_the_wait_up_to_the_cap() {
        let now = Instant::now();
        let hinted = err(ErrorKind::RateLimited).with_retry_after(Some(secs(7)));
        assert_eq!(
            decide(&policy(), &failed(&hinted, now), || true),
            Decision::Retry(secs(7))
        );
        let beyond = err(ErrorKind::RateLimited).with_retry_after(Some(secs(61)));
        assert_eq!(
            decide(&policy(), &failed(&beyond, now), || panic!(
                "no budget asked"
            )),
            Decision::FallThrough(Some(NoRetry::HintBeyondCap))
        );
    }

    #[test]
    fn the_last_attempt_of_an_entry_falls_through_without_asking_the_budget() {
        let now = Instant::now();
        let e = err(ErrorKind::Overloaded);
        let last = Failed {
            retry: 2,
            ..failed(&e, now)
        };
        assert_eq!(
            decide(&policy(), &last, || panic!("no budget asked")),
            Decision::FallThrough(None)
        );
    }

    #[test]
    fn a_wait_that_reaches_the_deadline_is_not_slept() {
        let now = Instant::now();
        let e = err(ErrorKind::Server).with_retry_after(Some(secs(5)));
        let tight = Failed {
            deadline: Some(now + secs(5)),
            ..failed(&e, now)
        };
        assert_eq!(
            decide(&policy(), &tight, || panic!("no budget asked")),
            Decision::FallThrough(Some(NoRetry::Deadline))
        );
        let roomy = Failed {
            deadline: Some(now + secs(6)),
            ..failed(&e, now)
        };
        assert_eq!(decide(&policy(), &roomy, || true), Decision::Retry(secs(5)));
    }

    #[test]
    fn an_open_circuit_and_a_spent_budget_deny_the_retry_in_that_order() {
        let now = Instant::now();
        let e = err(ErrorKind::Server);
        let open = Failed {
            circuit_open: true,
            ..failed(&e, now)
        };
        assert_eq!(
            decide(&policy(), &open, || panic!("no budget asked")),
            Decision::FallThrough(Some(NoRetry::CircuitOpen))
        );
        let asked = Cell::new(0);
        let spent = decide(&policy(), &failed(&e, now), || {
            asked.set(asked.get() + 1);
            false
        });
        assert_eq!(spent, Decision::FallThrough(Some(NoRetry::Budget)));
        assert_eq!(asked.get(), 1);
    }

    #[test]
    fn a_refused_connection_fails_over_unless_it_is_the_last_entry_or_the_policy_says_retry() {
        let now = Instant::now();
        let e = err(ErrorKind::Network).with_connect_failed(true);
        assert_eq!(
            decide(&policy(), &failed(&e, now), || panic!("no budget asked")),
            Decision::FallThrough(None)
        );
        let last = Failed {
            entry: 1,
            ..failed(&e, now)
        };
        assert_eq!(
            decide(&policy(), &last, || true),
            Decision::Retry(Duration::from_millis(500))
        );
        let patient = policy().retry(
            RetryPolicy::default()
                .jitter(0.0)
                .retry_connect_before_fallback(true),
        );
        assert_eq!(
            decide(&patient, &failed(&e, now), || true),
            Decision::Retry(Duration::from_millis(500))
        );
    }

    #[test]
    fn a_server_not_ready_yet_fails_over_at_once_and_keeps_its_kind_unless_it_is_the_last_entry() {
        let now = Instant::now();
        let e = err(ErrorKind::Overloaded)
            .with_status(503)
            .with_not_ready(true);
        assert_eq!(
            decide(&policy(), &failed(&e, now), || panic!("no budget asked")),
            Decision::FallThrough(None)
        );
        // Even a policy that retries refused connections first moves on: waiting is the last entry's job.
        let patient = policy().retry(
            RetryPolicy::default()
                .jitter(0.0)
                .retry_connect_before_fallback(true),
        );
        assert_eq!(
            decide(&patient, &failed(&e, now), || panic!("no budget asked")),
            Decision::FallThrough(None)
        );
        let last = Failed {
            entry: 1,
            ..failed(&e, now)
        };
        assert_eq!(
            decide(&policy(), &last, || true),
            Decision::Retry(Duration::from_millis(500))
        );
        // A plain overloaded error is retried on the same entry first, as before.
        let busy = err(ErrorKind::Overloaded).with_status(503);
        assert_eq!(
            decide(&policy(), &failed(&busy, now), || true),
            Decision::Retry(Duration::from_millis(500))
        );
    }

    #[test]
    fn should_retry_false_is_not_retried() {
        let now = Instant::now();
        let e = err(ErrorKind::Server).with_should_retry(Some(false));
        assert_eq!(
            decide(&policy(), &failed(&e, now), || panic!("no budget asked")),
            Decision::FallThrough(None)
        );
    }

    #[test]
    fn cancelled_stops_at_once() {
        let now = Instant::now();
        let e = Error::cancelled();
        let everything = policy().fall_through(FallThrough::default().with(ErrorKind::Cancelled));
        assert_eq!(
            decide(&everything, &failed(&e, now), || panic!("no budget asked")),
            Decision::Stop(None)
        );
    }

    #[test]
    fn kinds_outside_fall_through_stop_the_call() {
        let now = Instant::now();
        for &kind in ErrorKind::ALL {
            if kind == ErrorKind::Cancelled {
                continue;
            }
            let e = err(kind).with_should_retry(Some(false));
            let expected = if policy().fall_through.contains(kind) {
                Decision::FallThrough(None)
            } else {
                Decision::Stop(None)
            };
            assert_eq!(
                decide(&policy(), &failed(&e, now), || true),
                expected,
                "{kind}"
            );
        }
        let strict = policy().fall_through(FallThrough::default().without(ErrorKind::Server));
        let e = err(ErrorKind::Server);
        let last = Failed {
            retry: 2,
            ..failed(&e, now)
        };
        assert_eq!(decide(&strict, &last, || true), Decision::Stop(None));
    }

    #[test]
    fn a_rejected_request_falls_through_only_when_validation_does() {
        assert!(rejection_falls_through(&policy()));
        let strict = policy().fall_through(FallThrough::default().without(ErrorKind::Validation));
        assert!(!rejection_falls_through(&strict));
    }
}
