//! The loop that drives one call, generic over the [`Operation`]: every entry in order (two at a time
//! while hedging a stream, see `hedge`), within the deadline; for each entry, breaker admission,
//! validation, then attempts, asking `decision` what to do after each failure. The loop owns the timers,
//! the spans, the health updates and the record of attempts; it decides nothing itself.

use std::pin::pin;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::future::{Either, select};
use llm_core::{Attempt, Error, ErrorKind};
use tracing::{Instrument, Span};

use crate::call::{Call, LANES};
use crate::chain::Inner;
use crate::decision::{self, Decision, Failed, NoRetry};
use crate::fleet::{Answer, Probe, Rate, Report, StateStore};
use crate::health::{Permit, Skip};
use crate::hedge::hedged;
use crate::operation::Operation;
use crate::policy::counts_for_health;
use crate::{strategy, telemetry};

/// The entry that answered a call.
#[derive(Debug)]
pub(crate) struct Winner<T> {
    /// Its index.
    pub(crate) entry: usize,
    /// The target (the entry, or the deployment of its group) that answered.
    pub(crate) target: usize,
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
    if !chain.synced.load(Ordering::Relaxed)
        && let Some(store) = &chain.store
    {
        // Once per chain: a process that starts later reads the fleet's state before its first call
        // (within the store's bounded wait).
        store.ready().await;
        chain.synced.store(true, Ordering::Relaxed);
    }
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

/// One entry for one call on `lane`: its target, or a group's deployments in the order its strategy gives,
/// each until one answers or stops the call.
pub(crate) async fn run_entry<O: Operation>(
    call: &Call<'_>,
    op: &O,
    lane: usize,
    index: usize,
) -> LaneEnd<O::Output> {
    let slot = &call.chain.entries[index];
    if slot.targets.len() == 1 {
        return run_target(call, op, lane, index, slot.targets.start).await;
    }
    for t in strategy::order(call.chain, slot, fastrand::f64()) {
        match run_target(call, op, lane, index, t).await {
            LaneEnd::Next => {}
            end => return end,
        }
    }
    LaneEnd::Next
}

/// The fleet's probe lease this process holds for a target; dropped without an outcome (the call was
/// cancelled, the request rejected), it is given back.
struct Lease<'a> {
    store: &'a dyn StateStore,
    target: usize,
    armed: bool,
}

impl Lease<'_> {
    /// The outcome was reported: the store ends the lease with it.
    fn ended(mut self) {
        self.armed = false;
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.store.report(self.target, Report::ProbeReleased);
        }
    }
}

/// Admission to target `t`: its breaker (in-process view); when this would be the half-open probe and the
/// chain has a store, the fleet's probe lease; then its rate budget (fleet-wide with a store).
async fn admit<'c>(chain: &'c Inner, t: usize) -> Result<(Permit<'c>, Option<Lease<'c>>), Skip> {
    let target = chain.target(t);
    let mut permit = target.health.admit(chain.clock.now())?;
    let mut lease = None;
    if permit.is_probe()
        && let Some(store) = &chain.store
    {
        match store.acquire_probe(t).await {
            Answer::Shared(Probe::Granted) => {
                lease = Some(Lease {
                    store: store.as_ref(),
                    target: t,
                    armed: true,
                });
            }
            Answer::Shared(Probe::Closed) => permit.fleet_closed(),
            Answer::Shared(Probe::InFlight) => return Err(Skip::ProbeInFlight),
            Answer::Shared(Probe::Open(left)) => {
                drop(permit);
                let now = chain.clock.now();
                target.health.fleet_opened(now, left);
                return Err(Skip::Open(now + left));
            }
            _ => {}
        }
    }
    if target.limits.any() {
        rate_budget(chain, t).await?;
    }
    Ok((permit, lease))
}

/// Room in target `t`'s rate budget: the store's answer when it has one, else the in-process window;
/// waited for up to the target's `wait_for_budget`.
async fn rate_budget(chain: &Inner, t: usize) -> Result<(), Skip> {
    let target = chain.target(t);
    let mut waited = Duration::ZERO;
    loop {
        let answer = match &chain.store {
            Some(store) => store.acquire_rate(t).await,
            None => Answer::Local,
        };
        let now = chain.clock.now();
        let rate = match answer {
            Answer::Shared(Rate::Admitted) => target.rate.acquire(now, &target.limits, false),
            Answer::Shared(denied) => denied,
            _ => target.rate.acquire(now, &target.limits, true),
        };
        let wait = match rate {
            Rate::Denied(wait) => wait,
            _ => return Ok(()),
        };
        match target.limits.wait {
            Some(max) if waited + wait <= max => {
                tracing::debug!(
                    target = target.id(),
                    wait_ms = wait.as_millis() as u64,
                    "waiting for rate budget"
                );
                chain.clock.sleep(wait).await;
                waited += wait;
            }
            _ => return Err(Skip::RateBudget(wait)),
        }
    }
}

/// One target for one call on `lane`: admission, validation, then attempts with retries.
async fn run_target<O: Operation>(
    call: &Call<'_>,
    op: &O,
    lane: usize,
    index: usize,
    t: usize,
) -> LaneEnd<O::Output> {
    let chain = call.chain;
    let clock = &chain.clock;
    let policy = &chain.policy;
    let target = chain.target(t);
    let deployed = &chain.deployed[t];
    if !op.takes(&deployed.entry) {
        return LaneEnd::Next;
    }
    let provider = deployed.entry.provider();
    let model = op.model(&deployed.entry);
    let mut admitted = match admit(chain, t).await {
        Ok(p) => Some(p),
        Err(skip) => {
            tracing::debug!(entry = index, provider = provider.name(), model, reason = %skip.describe(clock.now()), "entry skipped");
            call.skipped(index, t, skip);
            return LaneEnd::Next;
        }
    };
    let request = op.request_for(&deployed.entry);
    if let Err(e) = op.validate(&deployed.entry, &request) {
        drop(admitted);
        tracing::debug!(entry = index, provider = provider.name(), model, error = %e, "entry rejected the request");
        call.rejected(index, t, &e);
        return if decision::rejection_falls_through(policy) {
            LaneEnd::Next
        } else {
            LaneEnd::Stop(e)
        };
    }
    let mut retry = 0u32;
    loop {
        let (permit, lease) = match admitted.take() {
            Some(p) => p,
            None => match admit(chain, t).await {
                Ok(p) => p,
                Err(skip) => {
                    tracing::debug!(entry = index, reason = %skip.describe(clock.now()), "retry skipped");
                    call.skipped(index, t, skip);
                    return LaneEnd::Next;
                }
            },
        };
        let probe = permit.is_probe() || lease.is_some();
        let start = clock.now();
        let span =
            telemetry::attempt_span(index, provider.name(), model, retry, call.next_number());
        call.begin(lane, index, t, retry, start, &span);
        let result = {
            let _inflight = deployed.enter();
            op.send(&deployed.entry, &request, start)
                .instrument(span.clone())
                .await
        };
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
                if let Some(n) = op.tokens(&won) {
                    chain.spend(t, end, n);
                }
                let left = op.rate_limit(&won).filter(|_| target.limits.any());
                if let Some(l) = left {
                    let (requests, tokens) = (l.remaining_requests, l.remaining_tokens);
                    target.rate.remaining(end, &target.limits, requests, tokens);
                }
                if let Some(store) = &chain.store {
                    store.report(t, Report::Success { probe });
                    if let Some(l) = left {
                        store.report(
                            t,
                            Report::Remaining {
                                requests: l.remaining_requests,
                                tokens: l.remaining_tokens,
                            },
                        );
                    }
                }
                if let Some(lease) = lease {
                    lease.ended();
                }
                call.push_attempt(Attempt::succeeded(
                    index,
                    provider.name(),
                    model,
                    retry,
                    latency,
                ));
                return LaneEnd::Won(Winner {
                    entry: index,
                    target: t,
                    output: won,
                    span,
                });
            }
            Err(error) => error,
        };
        let kind = error.kind();
        telemetry::failed(&span, &error);
        permit.failed(end, kind, error.retry_after());
        let exhausted = error
            .retry_after()
            .filter(|_| kind == ErrorKind::RateLimited && target.limits.any());
        if let Some(wait) = exhausted {
            target.rate.exhausted(end, wait);
        }
        let left = error.rate_limit().filter(|_| target.limits.any());
        if let Some(l) = left {
            let (requests, tokens) = (l.remaining_requests, l.remaining_tokens);
            target.rate.remaining(end, &target.limits, requests, tokens);
        }
        if let Some(store) = &chain.store {
            store.report(
                t,
                Report::Failure {
                    counts: counts_for_health(kind),
                    probe,
                    retry_after: error.retry_after(),
                },
            );
            if let Some(wait) = exhausted {
                store.report(t, Report::Exhausted(wait));
            }
            if let Some(l) = left {
                store.report(
                    t,
                    Report::Remaining {
                        requests: l.remaining_requests,
                        tokens: l.remaining_tokens,
                    },
                );
            }
        }
        if let Some(lease) = lease {
            lease.ended();
        }
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
            circuit_open: target.health.is_blocked(end),
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
