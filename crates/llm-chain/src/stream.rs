//! Streaming: an attempt is read up to its first content event (so the chain can still fall back), then
//! the chain's stream replays what was read and polls the provider's stream directly, without a task.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use llm_core::{
    Attempt, ChatStream, Cost, Error, ErrorKind, StreamEvent, StreamStart, Usage, Usd, sum_known,
};

use tracing::Span;

use crate::chain::Inner;
use crate::clock::Sleep;
use crate::fleet::Report;
use crate::meter::{Held, Meter};
use crate::operation::Opened;
use crate::policy::counts_for_health;
use crate::target::Winner;
use crate::telemetry;

/// The stream a chain returns: the answering entry's events, starting with its `Start` (carrying every
/// attempt), never mixed with another attempt's output.
pub(crate) struct ChainStream {
    chain: Arc<Inner>,
    /// The call's span and the answering attempt's, open until the stream ends or is dropped.
    spans: [Span; 2],
    entry: usize,
    /// The target (the entry, or a deployment of its group) that answered.
    target: usize,
    inner: ChatStream,
    buffered: VecDeque<StreamEvent>,
    inner_done: bool,
    done: bool,
    delivered: u64,
    /// The tokens counted against the target's budget so far: a stream's usage may come more than once,
    /// each time the total so far (Claude's `message_start`, then `message_delta`).
    spent: u64,
    attempts: Vec<Attempt>,
    started: Instant,
    deadline: Option<(Sleep, Duration)>,
    /// What the answering attempt is charged at.
    meter: Meter,
    /// Its dollar reservation, settled when the stream ends, fails or is dropped.
    reserved: Option<Held>,
    /// The cost of every attempt before the answering one (`None`: one of them is unknown).
    prior: Option<Cost>,
    /// The latest usage the provider reported.
    usage: Option<Usage>,
    /// The answering attempt's position in `attempts`.
    answering: Option<usize>,
    /// Whether the answering attempt was priced and the observer told of it.
    observed: bool,
    /// Bytes of tool-call arguments delivered: with `delivered` (text and reasoning), the output an
    /// estimate counts when the usage never came.
    argument_bytes: u64,
}

impl ChainStream {
    pub(crate) fn new(
        chain: Arc<Inner>,
        winner: Winner<Opened>,
        attempts: Vec<Attempt>,
        deadline: Option<Instant>,
        call_span: Span,
    ) -> Self {
        let Winner {
            entry,
            target,
            output: opened,
            span,
            meter,
            reserved,
        } = winner;
        // Every attempt but the answering one (the last of its entry that succeeded) is already priced.
        let answering = attempts
            .iter()
            .rposition(|a| a.entry == entry && a.outcome.is_none());
        let prior = sum_known(
            attempts
                .iter()
                .enumerate()
                .filter(|(i, _)| Some(*i) != answering)
                .map(|(_, a)| a.cost),
        );
        let Opened {
            inner,
            mut buffered,
            finished,
            started,
            ..
        } = opened;
        match buffered.front_mut() {
            Some(StreamEvent::Start(start)) => start.attempts.clone_from(&attempts),
            _ => {
                let e = chain.deployed(target);
                let mut start = StreamStart::new(e.provider().name(), e.model());
                start.attempts.clone_from(&attempts);
                buffered.push_front(StreamEvent::Start(start));
            }
        }
        let deadline = deadline.zip(chain.policy.deadline).map(|(at, limit)| {
            let left = at.saturating_duration_since(chain.clock.now());
            (chain.clock.sleep(left), limit)
        });
        ChainStream {
            chain,
            spans: [call_span, span],
            entry,
            target,
            inner,
            buffered,
            inner_done: finished,
            done: false,
            delivered: 0,
            spent: 0,
            attempts,
            started,
            deadline,
            meter,
            reserved,
            prior,
            usage: None,
            answering,
            observed: false,
            argument_bytes: 0,
        }
    }

    /// The answering attempt's record.
    fn answering(&mut self) -> Option<&mut Attempt> {
        self.answering.and_then(|i| self.attempts.get_mut(i))
    }

    /// The answering attempt ended having cost `cost`: its record says so, its reservation is settled, and
    /// the observer hears of it now (a streamed attempt ends with its stream).
    fn charge(&mut self, cost: Option<Cost>) {
        if self.observed {
            return;
        }
        self.observed = true;
        if let Some(a) = self.answering() {
            a.cost = cost;
        }
        if let Some(held) = self.reserved.take() {
            self.chain
                .settle_spend(held, cost.map_or(Usd::ZERO, |c| c.usd));
        }
        if let Some(a) = self.answering.and_then(|i| self.attempts.get(i)) {
            self.chain.observe(a);
        }
    }

    /// What the answering attempt has cost so far, estimated unless its usage came and the stream is whole.
    fn cost_so_far(&self, whole: bool) -> Option<Cost> {
        match (&self.usage, whole) {
            (Some(u), true) => self.meter.cost(u),
            (usage, _) => self
                .meter
                .partial(usage.as_ref(), self.delivered + self.argument_bytes),
        }
    }

    /// A usage event as the caller sees it: the provider's counts, and the whole call's cost so far.
    fn priced(&mut self, mut usage: Usage) -> Usage {
        self.usage = Some(usage);
        let own = self.meter.cost(&usage);
        usage.cost = self.prior.zip(own).map(|(p, o)| p + o);
        usage
    }

    /// Gives up the spans (they close once the caller drops them).
    fn close_spans(&mut self) -> [Span; 2] {
        std::mem::replace(&mut self.spans, [Span::none(), Span::none()])
    }

    /// Counts the bytes delivered, prices a usage event, and records what the event says about the
    /// response.
    fn count(&mut self, event: &mut StreamEvent) {
        match event {
            StreamEvent::TextDelta(t) | StreamEvent::ReasoningDelta(t) => {
                self.delivered += t.len() as u64;
            }
            StreamEvent::ToolCallDelta { arguments, .. } => {
                self.argument_bytes += arguments.len() as u64;
            }
            StreamEvent::Usage(usage) => {
                self.spend(usage.total());
                *usage = self.priced(*usage);
            }
            _ => {}
        }
        if !matches!(
            event,
            StreamEvent::TextDelta(_) | StreamEvent::ReasoningDelta(_)
        ) {
            for span in &self.spans {
                telemetry::event(span, event);
            }
        }
    }

    /// A streamed answer's tokens, counted against the answering target's `tpm` as a whole answer's are
    /// (in process and, with a store, fleet-wide). Usage is a running total, the latest the truth: only
    /// what it grew by since the last one is counted.
    fn spend(&mut self, total: Option<u64>) {
        let Some(total) = total else { return };
        let n = total.saturating_sub(self.spent);
        self.spent = self.spent.max(total);
        if n > 0 {
            self.chain.spend(self.target, self.chain.clock.now(), n);
        }
    }

    /// Ends the stream with `error`: marks the answering attempt as failed, tells the entry's health when the
    /// failure is the provider's, and attaches the delivered byte count and the attempts.
    fn fail(&mut self, error: Error, provider_failure: bool) -> Error {
        self.done = true;
        let now = self.chain.clock.now();
        if provider_failure {
            self.chain.target(self.target).health.stream_failed(
                now,
                error.kind(),
                error.retry_after(),
            );
            if let Some(store) = &self.chain.store {
                store.report(
                    self.target,
                    Report::Failure {
                        counts: counts_for_health(error.kind()),
                        probe: false,
                        retry_after: error.retry_after(),
                    },
                );
            }
        }
        let entry = self.entry;
        let started = self.started;
        if let Some(a) = self.answering() {
            a.outcome = Some(error.kind());
            a.status = error.status();
            a.retry_after = error.retry_after();
            a.latency = now.saturating_duration_since(started);
            a.message = Some(error.to_string());
        }
        // Cut after content: what it consumed is estimated (never silently 0).
        let cost = self.cost_so_far(false);
        self.charge(cost);
        tracing::debug!(
            entry,
            outcome = error.kind().as_str(),
            delivered_bytes = self.delivered,
            "stream failed after its first content"
        );
        for span in self.close_spans() {
            telemetry::failed(&span, &error);
        }
        error
            .with_delivered_bytes(self.delivered)
            .with_attempts(std::mem::take(&mut self.attempts))
    }
}

impl ChainStream {
    /// Prices the whole answer once its provider's stream ended; the usage event to give the caller when
    /// the provider never sent one and the estimate is known.
    fn finish_cost(&mut self) -> Option<StreamEvent> {
        if self.observed {
            return None;
        }
        let cost = self.cost_so_far(true);
        self.charge(cost);
        if self.usage.is_some() {
            return None;
        }
        let own = cost?;
        let mut usage = Usage::default();
        usage.cost = self.prior.map(|p| p + own);
        self.usage = Some(usage);
        Some(StreamEvent::Usage(usage))
    }
}

impl Drop for ChainStream {
    /// A stream dropped before its end settles its reservation at what it delivered, estimated, and the
    /// observer hears of its attempt.
    fn drop(&mut self) {
        if !self.observed {
            let cost = self.cost_so_far(false);
            self.charge(cost);
        }
    }
}

impl Stream for ChainStream {
    type Item = Result<StreamEvent, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(mut event) = this.buffered.pop_front() {
            this.count(&mut event);
            return Poll::Ready(Some(Ok(event)));
        }
        if this.inner_done && !this.done && !this.observed {
            // The provider's stream ended: price the answer once, and when it never said what it used,
            // tell the caller the estimate in a last usage event.
            if let Some(event) = this.finish_cost() {
                return Poll::Ready(Some(Ok(event)));
            }
        }
        if this.done || this.inner_done {
            this.done = true;
            this.close_spans();
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(mut event))) => {
                this.count(&mut event);
                Poll::Ready(Some(Ok(event)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(this.fail(e, true)))),
            Poll::Ready(None) => {
                this.inner_done = true;
                let latency = this
                    .chain
                    .clock
                    .now()
                    .saturating_duration_since(this.started);
                this.chain
                    .target(this.target)
                    .health
                    .stream_completed(latency);
                if let Some(event) = this.finish_cost() {
                    // The spans close on the next poll, which ends the stream.
                    return Poll::Ready(Some(Ok(event)));
                }
                this.done = true;
                // The response is complete: its spans close now, not when the stream is dropped.
                this.close_spans();
                Poll::Ready(None)
            }
            Poll::Pending => {
                if let Some((timer, limit)) = this.deadline.as_mut()
                    && timer.as_mut().poll(cx).is_ready()
                {
                    let provider = this.chain.deployed(this.target).provider().name();
                    let e = Error::new(
                        ErrorKind::Timeout,
                        format!("chain deadline of {limit:?} passed mid-stream"),
                    )
                    .with_provider(provider.to_owned());
                    return Poll::Ready(Some(Err(this.fail(e, false))));
                }
                Poll::Pending
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            (self.buffered.len(), None)
        }
    }
}
