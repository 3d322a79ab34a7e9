//! The loop that drives one call, generic over the [`Operation`]: every entry in order (two at a time
//! while hedging a stream, see `hedge`), within the deadline; for each entry, breaker admission,
//! validation, then attempts, asking `decision` what to do after each failure. The loop owns the timers,
//! the spans, the health updates and the record of attempts; it decides nothing itself.

use std::pin::pin;
use std::time::Instant;

use futures_util::future::{Either, select};
use llm_core::{Attempt, Error, ErrorKind};
use tracing::{Instrument, Span};

use crate::call::{Call, LANES};
use crate::chain::Inner;
use crate::decision::{self, Decision, Failed, NoRetry};
use crate::hedge::hedged;
use crate::operation::Operation;
use crate::telemetry;

/// The entry that answered a call.
#[derive(Debug)]
pub(crate) struct Winner<T> {
    /// Its index.
    pub(crate) entry: usize,
    /// Its answer.
    pub(crate) output: T,
    /// The span of the answering attempt, kept open while a stream is read.
    pub(crate) span: Span,
}

/// How one entry ended for one call.
pub(crate) enum LaneEnd<T> {
    /// It answered.
    Won(Winner<T>),
    /// It was skipped or failed with a kind that falls through.
    Next,
    /// It failed with a kind that stops the chain.
    Stop(Error),
}

/// Runs one call of `op` on `chain`: the answering entry, its answer and every attempt; or the error that
/// ended the call, carrying every attempt.
pub(crate) async fn run<O: Operation>(
    chain: &Inner,
    op: &O,
    deadline: Option<Instant>,
) -> Result<(Winner<O::Output>, Vec<Attempt>), Error> {
    let now = chain.clock.now();
    chain.budget.deposit(now);
    let call = Call::new(chain, deadline);
    let outcome = match deadline {
        None => Some(drive(&call, op).await),
        Some(at) => {
            // The driver is dropped at the end of this block, cancelling whatever is in flight.
            let driver = pin!(drive(&call, op));
            let timer = chain.clock.sleep(at.saturating_duration_since(now));
            match select(driver, timer).await {
                Either::Left((result, _)) => Some(result),
                Either::Right(_) => None,
            }
        }
    };
    match outcome {
        Some(Ok(winner)) => Ok((winner, call.take_attempts())),
        Some(Err(e)) => Err(e.with_attempts(call.take_attempts())),
        None => {
            let limit = chain.policy.deadline.unwrap_or_default();
            let error = Error::new(
                ErrorKind::Timeout,
                format!("chain deadline of {limit:?} passed"),
            )
            .with_provider(chain.name.clone());
            let now = chain.clock.now();
            for lane in 0..LANES {
                call.abandon(lane, now, &error);
            }
            Err(error.with_attempts(call.take_attempts()))
        }
    }
}

/// Walks the entries for one call and returns the answering entry, or the error that ends the call.
async fn drive<O: Operation>(call: &Call<'_>, op: &O) -> Result<Winner<O::Output>, Error> {
    let chain = call.chain;
    let n = chain.entries.len();
    match chain.policy.hedge_after {
        Some(after) if op.hedges() && n > 1 => hedged(call, op, after).await,
        _ => {
            for entry in 0..n {
                match run_entry(call, op, 0, entry).await {
                    LaneEnd::Won(winner) => return Ok(winner),
                    LaneEnd::Next => {}
                    LaneEnd::Stop(e) => return Err(e),
                }
            }
            Err(call.exhausted(chain.clock.now()))
        }
    }
}

/// One entry for one call on `lane`: breaker admission, validation, then attempts with retries.
pub(crate) async fn run_entry<O: Operation>(
    call: &Call<'_>,
    op: &O,
    lane: usize,
    index: usize,
) -> LaneEnd<O::Output> {
    let chain = call.chain;
    let clock = &chain.clock;
    let policy = &chain.policy;
    let slot = &chain.entries[index];
    if !op.takes(&slot.entry) {
        return LaneEnd::Next;
    }
    let provider = slot.entry.provider();
    let model = op.model(&slot.entry);
    let mut permit = match slot.health.admit(clock.now()) {
        Ok(p) => Some(p),
        Err(skip) => {
            tracing::debug!(entry = index, provider = provider.name(), model, reason = %skip.describe(clock.now()), "entry skipped");
            call.skipped(index, skip);
            return LaneEnd::Next;
        }
    };
    let request = op.request_for(&slot.entry);
    if let Err(e) = op.validate(&slot.entry, &request) {
        drop(permit);
        tracing::debug!(entry = index, provider = provider.name(), model, error = %e, "entry rejected the request");
        call.rejected(index, &e);
        return if decision::rejection_falls_through(policy) {
            LaneEnd::Next
        } else {
            LaneEnd::Stop(e)
        };
    }
    let mut retry = 0u32;
    loop {
        let permit = match permit.take() {
            Some(p) => p,
            None => match slot.health.admit(clock.now()) {
                Ok(p) => p,
                Err(skip) => {
                    tracing::debug!(entry = index, reason = %skip.describe(clock.now()), "retry skipped");
                    call.skipped(index, skip);
                    return LaneEnd::Next;
                }
            },
        };
        let start = clock.now();
        let span =
            telemetry::attempt_span(index, provider.name(), model, retry, call.next_number());
        call.begin(lane, index, retry, start, &span);
        let result = op
            .send(&slot.entry, &request, start)
            .instrument(span.clone())
            .await;
        let end = clock.now();
        call.end(lane);
        let latency = end.saturating_duration_since(start);
        telemetry::attempt_ended(&span, latency);
        let error = match result {
            Ok(won) => {
                let timing = op.timing(&won, latency);
                telemetry::attempt_succeeded(&span, timing.first_content);
                op.record(&won, &span);
                permit.succeeded(end, timing.whole, timing.first_content);
                call.push_attempt(Attempt::succeeded(
                    index,
                    provider.name(),
                    model,
                    retry,
                    latency,
                ));
                return LaneEnd::Won(Winner {
                    entry: index,
                    output: won,
                    span,
                });
            }
            Err(error) => error,
        };
        let kind = error.kind();
        telemetry::failed(&span, &error);
        permit.failed(end, kind, error.retry_after());
        call.push_attempt(Attempt::failed(
            index,
            provider.name(),
            model,
            retry,
            latency,
            &error,
        ));
        let failed = Failed {
            error: &error,
            entry: index,
            entries: chain.entries.len(),
            retry,
            now: end,
            deadline: call.deadline,
            circuit_open: slot.health.is_blocked(end),
            random: fastrand::f64(),
        };
        let not_retried = match decision::decide(policy, &failed, || chain.budget.try_withdraw(end))
        {
            Decision::Retry(wait) => {
                tracing::debug!(
                    entry = index,
                    retry,
                    wait_ms = wait.as_millis() as u64,
                    "retrying"
                );
                clock.sleep(wait).await;
                retry += 1;
                continue;
            }
            Decision::Stop(why) => {
                log_not_retried(index, why);
                return LaneEnd::Stop(error);
            }
            Decision::FallThrough(why) => {
                log_not_retried(index, why);
                why
            }
        };
        // Unless a later entry fails in its own way, the call ends because of the deadline.
        let error = if not_retried == Some(NoRetry::Deadline) {
            Error::new(
                ErrorKind::Timeout,
                "the chain deadline would pass before the next retry",
            )
            .with_provider(chain.name.clone())
            .with_source(error)
        } else {
            error
        };
        call.set_last_error(error);
        return LaneEnd::Next;
    }
}

fn log_not_retried(entry: usize, why: Option<NoRetry>) {
    if let Some(why) = why {
        tracing::debug!(entry, reason = why.as_str(), "not retrying");
    }
}
