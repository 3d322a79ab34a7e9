//! The chain itself: its builder, the `Provider` implementation, and the loop that walks the entries with
//! retries, breakers, the deadline and (for streams) hedging.

use std::fmt;
use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use futures_util::future::{Either, poll_fn, select};
use llm_core::{
    Attempt, ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, Provider, Violation,
};
use tracing::Instrument;
use tracing::field::Empty;

use crate::budget::Budget;
use crate::call::{Call, LANES, Mode};
use crate::clock::{Clock, Sleep, SystemClock};
use crate::entry::Entry;
use crate::health::{EntryHealth, Health};
use crate::policy::Policy;
use crate::stream::{ChainStream, Opened, open};

/// Called right after each attempt ends, with the attempt (e.g. to print it as a JSON line).
pub type AttemptObserver = Arc<dyn Fn(&Attempt) + Send + Sync>;

/// A fallback chain of providers. It implements [`Provider`], so it can be used wherever a provider can,
/// and clones share the same breakers, health and retry budget.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use llm_chain::{Chain, Entry, Policy};
/// use llm_core::{Params, Provider};
///
/// # fn demo(openai: Arc<dyn Provider>, local: Arc<dyn Provider>) -> Result<(), llm_core::Error> {
/// let chain = Chain::builder()
///     .entry(Entry::new(openai, "gpt-4o-mini"))
///     .entry(Entry::new(local, "smollm2").params(Params::default()))
///     .policy(Policy::default().deadline(Duration::from_secs(60)))
///     .build()?;
/// assert_eq!(chain.entries().len(), 2);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Chain {
    inner: Arc<Inner>,
}

/// One entry and its health.
#[derive(Debug)]
pub(crate) struct Slot {
    pub(crate) entry: Entry,
    pub(crate) health: Health,
}

/// What every call of one chain shares.
pub(crate) struct Inner {
    pub(crate) name: String,
    pub(crate) entries: Vec<Slot>,
    pub(crate) policy: Policy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) observer: Option<AttemptObserver>,
    budget: Budget,
}

impl fmt::Debug for Inner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Chain")
            .field("name", &self.name)
            .field("entries", &self.entries)
            .field("policy", &self.policy)
            .field("clock", &self.clock)
            .field("observer", &self.observer.as_ref().map(|_| "set"))
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.fmt(f)
    }
}

/// Builds a [`Chain`].
#[must_use]
pub struct ChainBuilder {
    name: String,
    entries: Vec<Entry>,
    policy: Policy,
    clock: Arc<dyn Clock>,
    observer: Option<AttemptObserver>,
}

impl fmt::Debug for ChainBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChainBuilder")
            .field("name", &self.name)
            .field("entries", &self.entries)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl ChainBuilder {
    /// Appends an entry; entries are tried in the order they were added.
    pub fn entry(mut self, entry: Entry) -> Self {
        self.entries.push(entry);
        self
    }

    /// Sets the policy (default: [`Policy::default`]).
    pub fn policy(mut self, policy: Policy) -> Self {
        self.policy = policy;
        self
    }

    /// Sets the clock (default: [`SystemClock`], which sleeps on tokio's timer).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Sets the observer called right after each attempt ends.
    pub fn on_attempt(mut self, observer: AttemptObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Sets the name the chain reports as a provider (default `chain`).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// Builds the chain; a `validation` error when it has no entry.
    pub fn build(self) -> Result<Chain, Error> {
        if self.entries.is_empty() {
            return Err(Error::validation(
                self.name,
                vec![Violation::new("entries", "at least one entry", "none")],
            ));
        }
        let origin = self.clock.now();
        let entries = self
            .entries
            .into_iter()
            .map(|entry| Slot {
                entry,
                health: Health::new(self.policy.breaker, origin),
            })
            .collect();
        Ok(Chain {
            inner: Arc::new(Inner {
                name: self.name,
                entries,
                budget: Budget::new(self.policy.budget, origin),
                policy: self.policy,
                clock: self.clock,
                observer: self.observer,
            }),
        })
    }
}

/// How one entry ended for one call.
// It is moved once per entry tried and never stored: boxing the answer would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum LaneEnd {
    /// It answered.
    Won(usize, Won),
    /// It was skipped or failed with a kind that falls through.
    Next,
    /// It failed with a kind that stops the chain.
    Stop(Error),
}

/// An answer.
pub(crate) enum Won {
    Chat(ChatResponse),
    Stream(Opened),
}

type Lane<'a> = Pin<Box<dyn Future<Output = LaneEnd> + Send + 'a>>;

impl Chain {
    /// A builder with no entries, the default policy and the system clock.
    pub fn builder() -> ChainBuilder {
        ChainBuilder {
            name: "chain".to_owned(),
            entries: Vec::new(),
            policy: Policy::default(),
            clock: Arc::new(SystemClock),
            observer: None,
        }
    }

    /// The entries, in order.
    pub fn entries(&self) -> impl ExactSizeIterator<Item = &Entry> {
        self.inner.entries.iter().map(|s| &s.entry)
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Each entry's breaker state, failures, last error and success, and latency averages, now.
    pub fn health_snapshot(&self) -> Vec<EntryHealth> {
        let now = self.inner.clock.now();
        self.inner
            .entries
            .iter()
            .enumerate()
            .map(|(i, s)| {
                s.health
                    .snapshot(now, i, s.entry.provider().name(), s.entry.model())
            })
            .collect()
    }

    /// Runs one call: every entry in order (two at a time while hedging), within the deadline.
    async fn run(
        &self,
        request: &ChatRequest,
        mode: Mode,
        deadline: Option<Instant>,
    ) -> Result<(usize, Won, Vec<Attempt>), Error> {
        let inner = &*self.inner;
        let now = inner.clock.now();
        inner.budget.deposit(now);
        let call = Call::new(inner, request, mode, deadline);
        let outcome = match deadline {
            None => Some(drive(&call).await),
            Some(at) => {
                // The driver is dropped at the end of this block, cancelling whatever is in flight.
                let driver = pin!(drive(&call));
                let timer = inner.clock.sleep(at.saturating_duration_since(now));
                match select(driver, timer).await {
                    Either::Left((result, _)) => Some(result),
                    Either::Right(_) => None,
                }
            }
        };
        match outcome {
            Some(Ok((entry, won))) => Ok((entry, won, call.take_attempts())),
            Some(Err(e)) => Err(e.with_attempts(call.take_attempts())),
            None => {
                let limit = inner.policy.deadline.unwrap_or_default();
                let error = Error::new(
                    ErrorKind::Timeout,
                    format!("chain deadline of {limit:?} passed"),
                )
                .with_provider(inner.name.clone());
                let now = inner.clock.now();
                for lane in 0..LANES {
                    call.abandon(lane, now, &error);
                }
                Err(error.with_attempts(call.take_attempts()))
            }
        }
    }
}

/// Walks the entries for one call and returns the answering entry, or the error that ends the call.
async fn drive(call: &Call<'_>) -> Result<(usize, Won), Error> {
    let chain = call.chain;
    let n = chain.entries.len();
    match chain.policy.hedge_after {
        Some(after) if call.mode == Mode::Stream && n > 1 => hedged(call, after).await,
        _ => {
            for entry in 0..n {
                match run_entry(call, 0, entry).await {
                    LaneEnd::Won(i, won) => return Ok((i, won)),
                    LaneEnd::Next => {}
                    LaneEnd::Stop(e) => return Err(e),
                }
            }
            Err(call.exhausted(chain.clock.now()))
        }
    }
}

/// Streams with hedging: entries start in order; while only one runs and it has shown no content for
/// `after`, the next one starts too. The first to show content wins and the other is dropped (its request
/// in flight is recorded as a `cancelled` attempt).
async fn hedged(call: &Call<'_>, after: Duration) -> Result<(usize, Won), Error> {
    let chain = call.chain;
    let clock = &chain.clock;
    let n = chain.entries.len();
    let mut next = 0;
    let mut lanes: [Option<(Lane<'_>, Instant)>; LANES] = [None, None];
    let mut timer: Option<Sleep> = None;
    poll_fn(|cx: &mut Context<'_>| {
        loop {
            let mut progressed = false;
            for i in 0..LANES {
                let Some((lane, _)) = lanes[i].as_mut() else {
                    continue;
                };
                let Poll::Ready(end) = lane.as_mut().poll(cx) else {
                    continue;
                };
                lanes[i] = None;
                progressed = true;
                match end {
                    LaneEnd::Next => {}
                    LaneEnd::Won(entry, won) => {
                        let lost = Error::new(ErrorKind::Cancelled, "lost the hedge race");
                        drop_other(call, &mut lanes, i, &lost);
                        return Poll::Ready(Ok((entry, won)));
                    }
                    LaneEnd::Stop(e) => {
                        let stopped = Error::new(ErrorKind::Cancelled, "the chain stopped");
                        drop_other(call, &mut lanes, i, &stopped);
                        return Poll::Ready(Err(e));
                    }
                }
            }
            let running = lanes.iter().flatten().count();
            if running == 0 && next >= n {
                return Poll::Ready(Err(call.exhausted(clock.now())));
            }
            let start_one = next < n
                && (running == 0
                    || (running == 1
                        && timer
                            .as_mut()
                            .is_some_and(|t| t.as_mut().poll(cx).is_ready())));
            if start_one {
                if let Some(free) = lanes.iter().position(Option::is_none) {
                    let now = clock.now();
                    if running == 1 {
                        tracing::debug!(
                            entry = next,
                            "no content within the hedge delay: starting the next entry too"
                        );
                    }
                    lanes[free] = Some((Box::pin(run_entry(call, free, next)), now));
                    next += 1;
                }
                timer = None;
                progressed = true;
            }
            // Arm the hedge timer while exactly one lane runs and entries remain.
            let mut started = lanes.iter().flatten().map(|(_, s)| *s);
            let only = match (started.next(), started.next()) {
                (Some(s), None) => Some(s),
                _ => None,
            };
            match only {
                Some(s) if next < n && timer.is_none() => {
                    timer = Some(clock.sleep((s + after).saturating_duration_since(clock.now())));
                    progressed = true;
                }
                Some(_) => {}
                None => timer = None,
            }
            if !progressed {
                return Poll::Pending;
            }
        }
    })
    .await
}

/// Drops the lane other than `winner`, recording its request in flight as ended by `why`.
fn drop_other(
    call: &Call<'_>,
    lanes: &mut [Option<(Lane<'_>, Instant)>; LANES],
    winner: usize,
    why: &Error,
) {
    for (i, lane) in lanes.iter_mut().enumerate() {
        if i != winner && lane.take().is_some() {
            call.abandon(i, call.chain.clock.now(), why);
        }
    }
}

/// One entry for one call: breaker admission, validation, then attempts with retries.
async fn run_entry(call: &Call<'_>, lane: usize, index: usize) -> LaneEnd {
    let chain = call.chain;
    let clock = &chain.clock;
    let policy = &chain.policy;
    let slot = &chain.entries[index];
    let provider = slot.entry.provider();
    let model = slot.entry.model();
    let mut permit = match slot.health.admit(clock.now()) {
        Ok(p) => Some(p),
        Err(skip) => {
            tracing::debug!(entry = index, provider = provider.name(), model, reason = %skip.describe(clock.now()), "entry skipped");
            call.skipped(index, skip);
            return LaneEnd::Next;
        }
    };
    let request = slot.entry.request_for(call.request);
    if let Err(e) = provider.validate(&request) {
        drop(permit);
        tracing::debug!(entry = index, provider = provider.name(), model, error = %e, "entry rejected the request");
        call.rejected(index, &e);
        return if policy.fall_through.contains(ErrorKind::Validation) {
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
        let span = tracing::debug_span!(
            "llm_chain.attempt",
            entry = index,
            provider = provider.name(),
            model,
            retry,
            outcome = Empty,
            latency_ms = Empty,
            ttft_ms = Empty,
        );
        call.begin(lane, index, retry, start);
        let result = send(call, provider.as_ref(), &request, start)
            .instrument(span.clone())
            .await;
        let end = clock.now();
        call.end(lane);
        let latency = end.saturating_duration_since(start);
        span.record("latency_ms", latency.as_secs_f64() * 1e3);
        match result {
            Ok(won) => {
                let (whole, ttft) = match &won {
                    Won::Chat(_) => (Some(latency), None),
                    Won::Stream(o) => (
                        o.finished.then_some(latency),
                        o.has_content.then_some(latency),
                    ),
                };
                if let Some(t) = ttft {
                    span.record("ttft_ms", t.as_secs_f64() * 1e3);
                }
                span.record("outcome", "ok");
                permit.succeeded(end, whole, ttft);
                call.push_attempt(Attempt::succeeded(
                    index,
                    provider.name(),
                    model,
                    retry,
                    latency,
                ));
                return LaneEnd::Won(index, won);
            }
            Err(error) => {
                let kind = error.kind();
                span.record("outcome", kind.as_str());
                permit.failed(end, kind, error.retry_after());
                call.push_attempt(Attempt::failed(
                    index,
                    provider.name(),
                    model,
                    retry,
                    latency,
                    &error,
                ));
                if kind == ErrorKind::Cancelled {
                    return LaneEnd::Stop(error);
                }
                let mut deadline_cut = false;
                // Nothing listens where a connection was refused: a later entry answers sooner than a retry.
                let fail_over_now = error.is_connect()
                    && !policy.retry.retry_connect_before_fallback
                    && index + 1 < chain.entries.len();
                if error.is_retryable() && !fail_over_now && retry + 1 < policy.retry.max_attempts {
                    match retry_wait(call, slot, &error, retry, end) {
                        Ok(wait) => {
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
                        Err(why) => {
                            tracing::debug!(entry = index, reason = why.as_str(), "not retrying");
                            deadline_cut = why == NoRetry::Deadline;
                        }
                    }
                }
                if !policy.fall_through.contains(kind) {
                    return LaneEnd::Stop(error);
                }
                // Unless a later entry fails in its own way, the call ends because of the deadline.
                let error = if deadline_cut {
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
    }
}

/// Why a retryable failure was not retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NoRetry {
    HintBeyondCap,
    Deadline,
    CircuitOpen,
    Budget,
}

impl NoRetry {
    fn as_str(self) -> &'static str {
        match self {
            NoRetry::HintBeyondCap => "retry-after is beyond the cap",
            NoRetry::Deadline => "the wait would reach the deadline",
            NoRetry::CircuitOpen => "the circuit opened",
            NoRetry::Budget => "the retry budget is spent",
        }
    }
}

/// How long to wait before retrying `error`, or why not to retry.
fn retry_wait(
    call: &Call<'_>,
    slot: &Slot,
    error: &Error,
    retry: u32,
    now: Instant,
) -> Result<Duration, NoRetry> {
    let policy = &call.chain.policy;
    let wait = match error.retry_after() {
        Some(hint) if hint > policy.retry.max_retry_after => return Err(NoRetry::HintBeyondCap),
        Some(hint) => hint,
        None => policy.retry.backoff_for(retry, fastrand::f64()),
    };
    if call.deadline.is_some_and(|d| now + wait >= d) {
        return Err(NoRetry::Deadline);
    }
    if slot.health.is_blocked(now) {
        return Err(NoRetry::CircuitOpen);
    }
    if !call.chain.budget.try_withdraw(now) {
        return Err(NoRetry::Budget);
    }
    Ok(wait)
}

/// One request to one provider: a whole answer, or a stream read up to its first content.
async fn send(
    call: &Call<'_>,
    provider: &dyn Provider,
    request: &ChatRequest,
    start: Instant,
) -> Result<Won, Error> {
    match call.mode {
        Mode::Chat => provider.chat(request).await.map(Won::Chat),
        Mode::Stream => open(provider.stream(request).await?, start)
            .await
            .map(Won::Stream),
    }
}

fn request_span(chain: &Inner, mode: Mode) -> tracing::Span {
    tracing::info_span!(
        "llm_chain.request",
        chain = chain.name.as_str(),
        mode = mode.as_str(),
        entries = chain.entries.len(),
        outcome = Empty,
        attempts = Empty,
    )
}

fn record_end<T>(span: &tracing::Span, result: &Result<(usize, T, Vec<Attempt>), Error>) {
    match result {
        Ok((_, _, attempts)) => {
            span.record("outcome", "ok");
            span.record("attempts", attempts.len());
        }
        Err(e) => {
            span.record("outcome", e.kind().as_str());
            span.record("attempts", e.attempts().len());
        }
    }
}

#[async_trait]
impl Provider for Chain {
    fn name(&self) -> &str {
        &self.inner.name
    }

    /// `Ok` when at least one entry accepts the request (with its model and overrides); else one
    /// `validation` error listing every entry's violations, prefixed `provider[entry].`.
    fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        let mut violations = Vec::new();
        for (i, slot) in self.inner.entries.iter().enumerate() {
            let name = slot.entry.provider().name();
            match slot
                .entry
                .provider()
                .validate(&slot.entry.request_for(request))
            {
                Ok(()) => return Ok(()),
                Err(e) if e.violations().is_empty() => violations.push(Violation::new(
                    format!("{name}[{i}]"),
                    "a request this provider accepts",
                    e.message(),
                )),
                Err(e) => violations.extend(e.violations().iter().map(|v| {
                    Violation::new(
                        format!("{name}[{i}].{}", v.param),
                        v.allowed.clone(),
                        v.given.clone(),
                    )
                })),
            }
        }
        Err(
            Error::new(ErrorKind::Validation, "no entry accepts the request")
                .with_provider(self.inner.name.clone())
                .with_violations(violations),
        )
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        let span = request_span(&self.inner, Mode::Chat);
        let deadline = self
            .inner
            .policy
            .deadline
            .map(|d| self.inner.clock.now() + d);
        let result = self
            .run(request, Mode::Chat, deadline)
            .instrument(span.clone())
            .await;
        record_end(&span, &result);
        match result? {
            (_, Won::Chat(mut response), attempts) => {
                response.attempts = attempts;
                Ok(response)
            }
            (_, Won::Stream(_), _) => Err(Error::new(
                ErrorKind::Unknown,
                "internal: a chat call produced a stream",
            )),
        }
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let span = request_span(&self.inner, Mode::Stream);
        let deadline = self
            .inner
            .policy
            .deadline
            .map(|d| self.inner.clock.now() + d);
        let result = self
            .run(request, Mode::Stream, deadline)
            .instrument(span.clone())
            .await;
        record_end(&span, &result);
        match result? {
            (entry, Won::Stream(opened), attempts) => Ok(Box::pin(ChainStream::new(
                Arc::clone(&self.inner),
                entry,
                opened,
                attempts,
                deadline,
            ))),
            (_, Won::Chat(_), _) => Err(Error::new(
                ErrorKind::Unknown,
                "internal: a stream call produced a whole answer",
            )),
        }
    }

    /// `Ok` as soon as one entry's provider is healthy; else the last entry's error.
    async fn health(&self) -> Result<(), Error> {
        let mut last = None;
        for slot in &self.inner.entries {
            match slot.entry.provider().health().await {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::new(ErrorKind::Unknown, "the chain has no entries")))
    }
}
