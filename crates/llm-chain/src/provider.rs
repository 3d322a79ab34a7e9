//! The chain as a [`Provider`]: `validate` asks every entry, `chat` and `stream` run the loop with their
//! operation inside one span per call (see `telemetry`), and `health` asks the entries in order.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use llm_core::{
    Attempt, ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, Provider, Usage, Violation,
};
use tracing::{Instrument, Span};

use crate::chain::Chain;
use crate::operation::{Chat, Operation, Stream};
use crate::run::run;
use crate::stream::ChainStream;
use crate::target::Winner;
use crate::telemetry;

impl Chain {
    /// When a call starting now must end, if the policy sets a deadline.
    pub(crate) fn deadline(&self) -> Option<Instant> {
        self.inner
            .policy
            .deadline
            .map(|d| self.inner.clock.now() + d)
    }

    /// Runs one call of `op` inside `span`, and records how it ended there.
    pub(crate) async fn call<O: Operation>(
        &self,
        op: &O,
        span: &Span,
        deadline: Option<Instant>,
    ) -> Result<(Winner<O::Output>, Vec<Attempt>), Error> {
        let result = run(&self.inner, op, deadline)
            .instrument(span.clone())
            .await;
        match &result {
            Ok((winner, attempts)) => {
                let entry = self.inner.deployed(winner.target);
                telemetry::call_answered(
                    span,
                    entry.provider().name(),
                    op.model(entry),
                    attempts.len(),
                );
            }
            Err(e) => telemetry::call_failed(span, e),
        }
        result
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
        let op = Chat(request);
        let span = telemetry::call_span(&self.inner, op.name());
        let (winner, attempts) = self.call(&op, &span, self.deadline()).await?;
        let mut response = winner.output;
        telemetry::response(&span, &response);
        response.usage = with_total(response.usage, &attempts);
        response.attempts = attempts;
        Ok(response)
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let op = Stream(request);
        let span = telemetry::call_span(&self.inner, op.name());
        let started = self.inner.clock.now();
        let deadline = self.deadline();
        let (winner, attempts) = self.call(&op, &span, deadline).await?;
        if winner.output.has_content {
            telemetry::call_first_content(&span, started, self.inner.clock.now());
        }
        Ok(Box::pin(ChainStream::new(
            Arc::clone(&self.inner),
            winner,
            attempts,
            deadline,
            span,
        )))
    }

    /// `Ok` as soon as one entry's provider is healthy; else the last entry's error.
    async fn health(&self) -> Result<(), Error> {
        let mut last = None;
        for deployed in &self.inner.deployed {
            match deployed.entry.provider().health().await {
                Ok(()) => return Ok(()),
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::new(ErrorKind::Unknown, "the chain has no entries")))
    }
}

/// An answer's usage with the whole call's cost: the sum of every attempt's (`None` when one is unknown). A
/// call priced without reported usage gets a usage of no counts that carries the estimate.
pub(crate) fn with_total(usage: Option<Usage>, attempts: &[Attempt]) -> Option<Usage> {
    let total = Attempt::total_cost(attempts);
    match usage {
        Some(mut u) => {
            u.cost = total;
            Some(u)
        }
        None => total.map(|cost| {
            let mut u = Usage::default();
            u.cost = Some(cost);
            u
        }),
    }
}
