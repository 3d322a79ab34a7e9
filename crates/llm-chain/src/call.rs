//! The state of one chain call: the attempts made so far, the requests in flight, the entries skipped,
//! violations collected, and the last error; and how the final error is put together from them.

use std::fmt::Write as _;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use llm_core::{Attempt, Cost, Error, ErrorKind, Violation};
use tracing::Span;

use crate::chain::Inner;
use crate::health::{Skip, Skipped};
use crate::telemetry;

/// Lanes a call can run at once: one, or two while hedging.
pub(crate) const LANES: usize = 2;

/// A request that was sent and has not ended yet.
#[derive(Debug, Clone)]
struct Inflight {
    entry: usize,
    target: usize,
    retry: u32,
    start: Instant,
    span: Span,
    /// What the request costs if it is abandoned now (its prompt, estimated; `None`: no price known).
    cancelled: Option<Cost>,
}

#[derive(Debug, Default)]
struct Log {
    attempts: Vec<Attempt>,
    inflight: [Option<Inflight>; LANES],
    /// Entries and targets skipped, and why.
    skipped: Vec<(usize, usize, Skip)>,
    violations: Vec<Violation>,
    last_error: Option<Error>,
    /// Requests sent so far.
    sent: u32,
}

/// One call of the chain.
#[derive(Debug)]
pub(crate) struct Call<'a> {
    pub(crate) chain: &'a Inner,
    pub(crate) deadline: Option<Instant>,
    log: Mutex<Log>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(chain: &'a Inner, deadline: Option<Instant>) -> Self {
        Call {
            chain,
            deadline,
            log: Mutex::new(Log::default()),
        }
    }

    fn log(&self) -> MutexGuard<'_, Log> {
        // Every update is a push or an assignment: a poisoned lock still holds consistent data.
        self.log.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records an ended attempt and tells the observer.
    pub(crate) fn push_attempt(&self, attempt: Attempt) {
        self.chain.observe(&attempt);
        self.log().attempts.push(attempt);
    }

    /// Records the answering attempt of a stream, which the observer hears of when its stream ends (with
    /// its cost and its outcome).
    pub(crate) fn push_answering(&self, attempt: Attempt) {
        self.log().attempts.push(attempt);
    }

    /// The number of the next request this call sends, from 1 (`llmux.attempt`).
    pub(crate) fn next_number(&self) -> u32 {
        let mut log = self.log();
        log.sent += 1;
        log.sent
    }

    /// A request was sent on `lane`; `cancelled` is what it costs if it is abandoned.
    #[allow(clippy::too_many_arguments)] // one record's fields, each named at the one call site
    pub(crate) fn begin(
        &self,
        lane: usize,
        entry: usize,
        target: usize,
        retry: u32,
        start: Instant,
        span: &Span,
        cancelled: Option<Cost>,
    ) {
        if let Some(slot) = self.log().inflight.get_mut(lane) {
            *slot = Some(Inflight {
                entry,
                target,
                retry,
                start,
                span: span.clone(),
                cancelled,
            });
        }
    }

    pub(crate) fn end(&self, lane: usize) {
        if let Some(slot) = self.log().inflight.get_mut(lane) {
            *slot = None;
        }
    }

    /// Records the request in flight on `lane` (if any) as ended by `error`: used when its future is dropped
    /// because another lane won, or the deadline passed. It was sent, so the provider read its prompt: its
    /// cost is the prompt's, estimated.
    pub(crate) fn abandon(&self, lane: usize, now: Instant, error: &Error) {
        let inflight = self.log().inflight.get_mut(lane).and_then(Option::take);
        if let Some(i) = inflight {
            let entry = self.chain.deployed(i.target);
            let mut attempt = Attempt::failed(
                i.entry,
                entry.provider().name(),
                entry.model(),
                i.retry,
                now.saturating_duration_since(i.start),
                error,
            );
            attempt.cost = i.cancelled;
            tracing::debug!(
                entry = i.entry,
                provider = entry.provider().name(),
                outcome = error.kind().as_str(),
                reason = error.message(),
                "attempt abandoned"
            );
            telemetry::attempt_ended(&i.span, now.saturating_duration_since(i.start));
            telemetry::failed(&i.span, error);
            self.push_attempt(attempt);
        }
    }

    /// Target `target` of entry `entry` was passed over without a request; the skip observer hears of it.
    pub(crate) fn skipped(&self, entry: usize, target: usize, skip: Skip) {
        if let Some(observer) = &self.chain.skip_observer {
            let e = self.chain.deployed(target);
            observer(&Skipped {
                entry,
                deployment: self.chain.target(target).deployment(),
                provider: e.provider().name().to_owned(),
                model: e.model().to_owned(),
                reason: skip.reason(),
            });
        }
        self.log().skipped.push((entry, target, skip));
    }

    /// An entry's validation rejected the request: an attempt of kind `validation` and its violations,
    /// each prefixed with `provider[entry].`.
    pub(crate) fn rejected(&self, entry: usize, target: usize, error: &Error) {
        let e = self.chain.deployed(target);
        let provider = e.provider().name();
        self.push_attempt(Attempt::failed(
            entry,
            provider,
            e.model(),
            0,
            Duration::ZERO,
            error,
        ));
        let mut log = self.log();
        if error.violations().is_empty() {
            log.violations.push(Violation::new(
                format!("{provider}[{entry}]"),
                "a request this provider accepts",
                error.message(),
            ));
        }
        for v in error.violations() {
            log.violations.push(Violation::new(
                format!("{provider}[{entry}].{}", v.param),
                v.allowed.clone(),
                v.given.clone(),
            ));
        }
    }

    pub(crate) fn set_last_error(&self, error: Error) {
        self.log().last_error = Some(error);
    }

    pub(crate) fn take_attempts(&self) -> Vec<Attempt> {
        std::mem::take(&mut self.log().attempts)
    }

    /// The error for a call in which no entry answered and none stopped the chain: the last provider error;
    /// else, when every entry tried rejected the request, one `validation` error listing every violation;
    /// else (every entry skipped by its breaker) an `overloaded` error naming each skipped entry.
    pub(crate) fn exhausted(&self, now: Instant) -> Error {
        let mut log = self.log();
        if let Some(e) = log.last_error.take() {
            return e;
        }
        let name = self.chain.name.clone();
        if !log.violations.is_empty() {
            let violations = std::mem::take(&mut log.violations);
            return Error::new(ErrorKind::Validation, "no entry accepts the request")
                .with_provider(name)
                .with_violations(violations);
        }
        let mut message = String::from("every entry was skipped:");
        for (i, (entry, target, skip)) in log.skipped.iter().enumerate() {
            let e = self.chain.deployed(*target);
            let sep = if i == 0 { " " } else { "; " };
            let _ = write!(
                message,
                "{sep}{}[{entry}] {}: {}",
                e.provider().name(),
                e.model(),
                skip.describe(now)
            );
        }
        Error::new(ErrorKind::Overloaded, message).with_provider(name)
    }
}
