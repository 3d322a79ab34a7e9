//! One entry for one call, and within it one target (the entry, or a deployment of its group): admission
//! (breaker, the fleet's probe lease, rate and dollar budgets), validation once, then attempts with
//! retries, asking `decision` what to do after each failure. Every attempt's outcome is settled in one place
//! ([`settle`]): the breaker, the rate window, the store's reports, the probe lease, the dollar reservation
//! and the attempt's record with its cost. The loop owns the timers and spans; it decides nothing itself.

use std::time::{Duration, Instant};

use llm_core::{Attempt, Cost, Error, ErrorKind, RateLimit, Usd};
use tracing::{Instrument, Span};

use crate::call::Call;
use crate::chain::Inner;
use crate::decision::{self, Decision, Failed, NoRetry};
use crate::fleet::{Answer, Probe, Rate, Report, StateStore};
use crate::health::{Permit, Skip};
use crate::meter::{Estimate, Held, Meter, Reserved};
use crate::operation::{Operation, Timing};
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
    /// What the answering attempt is charged at.
    pub(crate) meter: Meter,
    /// Its dollar reservation, when its target has a dollar budget and the answer is still being read (a
    /// stream): whoever reads the rest settles it.
    pub(crate) reserved: Option<Held>,
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

/// What admission to a target grants one attempt: the breaker's permit, the fleet's probe lease when this
/// attempt is the fleet's probe, and the dollar reservation when the target has a dollar budget.
struct Admission<'c> {
    permit: Permit<'c>,
    lease: Option<Lease<'c>>,
    reserved: Option<Reserved<'c>>,
}

impl<'c> Admission<'c> {
    /// Whether the attempt is the breaker's half-open probe (in process or fleet-wide).
    fn probe(&self) -> bool {
        self.permit.is_probe() || self.lease.is_some()
    }

    /// Adds room for `meter`'s worst case in target `t`'s dollar budgets; a skip drops the whole admission
    /// (the permit and the lease are given back).
    async fn reserve(mut self, chain: &'c Inner, t: usize, meter: &Meter) -> Result<Self, Skip> {
        self.reserved = chain.reserve_spend(t, meter).await?;
        Ok(self)
    }
}

/// Admission to target `t`: its breaker (in-process view); when this would be the half-open probe and the
/// chain has a store, the fleet's probe lease; then its rate budget (fleet-wide with a store). The dollar
/// reservation is taken after (see [`Admission::reserve`]): it needs the request.
async fn admit(chain: &Inner, t: usize) -> Result<Admission<'_>, Skip> {
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
    Ok(Admission {
        permit,
        lease,
        reserved: None,
    })
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

/// How one attempt ended, as far as the bookkeeping is concerned.
enum Outcome<'a> {
    /// It answered.
    Won {
        timing: Timing,
        /// Tokens it used, for a `tpm` budget (`None`: counted later, as a stream's are).
        tokens: Option<u64>,
        /// What the provider's rate-limit headers said was left.
        left: Option<RateLimit>,
        /// What it cost (`None`: unknown, or for a stream not known until it ends).
        cost: Option<Cost>,
        /// A stream still being read keeps its reservation: it is settled when the stream ends.
        keep_reservation: bool,
    },
    /// It failed before it answered: it consumed nothing.
    Failed(&'a Error),
}

/// Everything one attempt's outcome changes: the breaker (through the permit), the rate window and the
/// store's reports, the fleet's probe lease, the dollar reservation; returns the attempt's record, and the
/// reservation handed on when a stream keeps reading.
fn settle(
    chain: &Inner,
    t: usize,
    admission: Admission<'_>,
    end: Instant,
    outcome: &Outcome<'_>,
) -> (Option<Cost>, Option<Held>) {
    let target = chain.target(t);
    let probe = admission.probe();
    let Admission {
        permit,
        lease,
        reserved,
    } = admission;
    let (left, report, exhausted, cost) = match outcome {
        Outcome::Won {
            timing,
            tokens,
            left,
            cost,
            ..
        } => {
            permit.succeeded(end, timing.whole, timing.first_content);
            if let Some(n) = tokens {
                chain.spend(t, end, *n);
            }
            (*left, Report::Success { probe }, None, *cost)
        }
        Outcome::Failed(error) => {
            let kind = error.kind();
            permit.failed(end, kind, error.retry_after());
            let exhausted = error
                .retry_after()
                .filter(|_| kind == ErrorKind::RateLimited && target.limits.any());
            if let Some(wait) = exhausted {
                target.rate.exhausted(end, wait);
            }
            let report = Report::Failure {
                counts: counts_for_health(kind),
                probe,
                retry_after: error.retry_after(),
            };
            (error.rate_limit(), report, exhausted, Some(Cost::ZERO))
        }
    };
    let left = left.filter(|_| target.limits.any());
    if let Some(l) = left {
        let (requests, tokens) = (l.remaining_requests, l.remaining_tokens);
        target.rate.remaining(end, &target.limits, requests, tokens);
    }
    if let Some(store) = &chain.store {
        store.report(t, report);
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
    let keep = matches!(
        outcome,
        Outcome::Won {
            keep_reservation: true,
            ..
        }
    );
    let held = match reserved {
        Some(r) if keep => Some(r.keep()),
        Some(r) => {
            r.settle(cost.map_or(Usd::ZERO, |c| c.usd));
            None
        }
        None => None,
    };
    (cost, held)
}

/// One target for one call on `lane`: validation, then admission and attempts with retries.
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
        Ok(a) => Some(a),
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
    let meter = Meter {
        price: op.price(deployed),
        // Estimates serve only to price what was not reported: none without a price.
        estimate: if op.price(deployed).is_some() {
            op.estimate(&request)
        } else {
            Estimate::default()
        },
    };
    let mut retry = 0u32;
    loop {
        let admission = match admitted.take() {
            Some(a) => Ok(a),
            None => admit(chain, t).await,
        };
        let admission = match admission {
            Ok(a) => a.reserve(chain, t, &meter).await,
            Err(skip) => Err(skip),
        };
        let admission = match admission {
            Ok(a) => a,
            Err(skip) => {
                tracing::debug!(entry = index, retry, reason = %skip.describe(clock.now()), "entry skipped");
                call.skipped(index, t, skip);
                return LaneEnd::Next;
            }
        };
        let start = clock.now();
        let span =
            telemetry::attempt_span(index, provider.name(), model, retry, call.next_number());
        call.begin(lane, index, t, retry, start, &span, meter.sent());
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
                let reads_on = op.reads_on(&won);
                let outcome = Outcome::Won {
                    timing,
                    tokens: op.tokens(&won),
                    left: op.rate_limit(&won),
                    cost: op.cost(&won, &meter),
                    keep_reservation: reads_on,
                };
                let (cost, reserved) = settle(chain, t, admission, end, &outcome);
                let mut attempt = Attempt::succeeded(index, provider.name(), model, retry, latency);
                attempt.cost = cost;
                if reads_on {
                    call.push_answering(attempt);
                } else {
                    call.push_attempt(attempt);
                }
                return LaneEnd::Won(Winner {
                    entry: index,
                    target: t,
                    output: won,
                    span,
                    meter,
                    reserved,
                });
            }
            Err(error) => error,
        };
        telemetry::failed(&span, &error);
        settle(chain, t, admission, end, &Outcome::Failed(&error));
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
