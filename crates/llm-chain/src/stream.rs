//! Streaming: an attempt is read up to its first content event (so the chain can still fall back), then
//! the chain's stream replays what was read and polls the provider's stream directly, without a task.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_util::StreamExt;
use llm_core::{Attempt, ChatStream, Error, ErrorKind, RateLimit, StreamEvent, StreamStart};

use tracing::Span;

use crate::chain::Inner;
use crate::clock::Sleep;
use crate::fleet::Report;
use crate::policy::counts_for_health;
use crate::run::Winner;
use crate::telemetry;

/// A provider stream read up to its first content event (or to its end, when it had none).
pub(crate) struct Opened {
    inner: ChatStream,
    buffered: VecDeque<StreamEvent>,
    /// The provider's stream has ended: it must not be polled again.
    pub(crate) finished: bool,
    /// A content event is among the buffered ones.
    pub(crate) has_content: bool,
    started: Instant,
}

impl Opened {
    /// What the provider's rate-limit headers said was left, as its `Start` event carries it.
    pub(crate) fn rate_limit(&self) -> Option<RateLimit> {
        self.buffered.iter().find_map(|e| match e {
            StreamEvent::Start(start) => start.rate_limit.as_deref().copied(),
            _ => None,
        })
    }
}

/// Reads `inner` until its first content event. An error before it is the attempt's error (the chain may
/// fall back); the events read so far are kept to be replayed by the winner only.
pub(crate) async fn open(mut inner: ChatStream, started: Instant) -> Result<Opened, Error> {
    let mut buffered = VecDeque::new();
    loop {
        match inner.next().await {
            Some(Ok(event)) => {
                let content = event.is_content();
                buffered.push_back(event);
                if content {
                    return Ok(Opened {
                        inner,
                        buffered,
                        finished: false,
                        has_content: true,
                        started,
                    });
                }
            }
            Some(Err(e)) => return Err(e),
            None => {
                return Ok(Opened {
                    inner,
                    buffered,
                    finished: true,
                    has_content: false,
                    started,
                });
            }
        }
    }
}

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
        } = winner;
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
        }
    }

    /// Gives up the spans (they close once the caller drops them).
    fn close_spans(&mut self) -> [Span; 2] {
        std::mem::replace(&mut self.spans, [Span::none(), Span::none()])
    }

    /// Counts the bytes delivered and records what the event says about the response.
    fn count(&mut self, event: &StreamEvent) {
        match event {
            StreamEvent::TextDelta(t) | StreamEvent::ReasoningDelta(t) => {
                self.delivered += t.len() as u64;
            }
            StreamEvent::Usage(usage) => self.spend(usage.total()),
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
        if let Some(a) = self
            .attempts
            .iter_mut()
            .rev()
            .find(|a| a.entry == entry && a.outcome.is_none())
        {
            a.outcome = Some(error.kind());
            a.status = error.status();
            a.retry_after = error.retry_after();
            a.latency = now.saturating_duration_since(self.started);
            a.message = Some(error.to_string());
        }
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

impl Stream for ChainStream {
    type Item = Result<StreamEvent, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(event) = this.buffered.pop_front() {
            this.count(&event);
            return Poll::Ready(Some(Ok(event)));
        }
        if this.done || this.inner_done {
            this.done = true;
            this.close_spans();
            return Poll::Ready(None);
        }
        match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(event))) => {
                this.count(&event);
                Poll::Ready(Some(Ok(event)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(this.fail(e, true)))),
            Poll::Ready(None) => {
                this.done = true;
                let latency = this
                    .chain
                    .clock
                    .now()
                    .saturating_duration_since(this.started);
                this.chain
                    .target(this.target)
                    .health
                    .stream_completed(latency);
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
