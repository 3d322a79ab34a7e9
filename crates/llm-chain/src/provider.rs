//! The chain as a [`Provider`]: `validate` asks every entry, `chat` and `stream` run the loop with their
//! operation inside one span per call, and `health` asks the entries in order.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use llm_core::{
    Attempt, ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, Provider, Violation,
};
use tracing::Instrument;
use tracing::field::Empty;

use crate::chain::{Chain, Inner};
use crate::operation::{Chat, Operation, Stream};
use crate::run::run;
use crate::stream::ChainStream;

impl Chain {
    /// When a call starting now must end, if the policy sets a deadline.
    fn deadline(&self) -> Option<Instant> {
        self.inner
            .policy
            .deadline
            .map(|d| self.inner.clock.now() + d)
    }

    /// Runs one call of `op` inside its span.
    async fn call<O: Operation>(
        &self,
        op: &O,
        deadline: Option<Instant>,
    ) -> Result<(usize, O::Output, Vec<Attempt>), Error> {
        let span = request_span(&self.inner, op.name());
        let result = run(&self.inner, op, deadline)
            .instrument(span.clone())
            .await;
        record_end(&span, &result);
        result
    }
}

fn request_span(chain: &Inner, mode: &'static str) -> tracing::Span {
    tracing::info_span!(
        "llm_chain.request",
        chain = chain.name.as_str(),
        mode,
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
        let (_, mut response, attempts) = self.call(&Chat(request), self.deadline()).await?;
        response.attempts = attempts;
        Ok(response)
    }

    async fn stream(&self, request: &ChatRequest) -> Result<ChatStream, Error> {
        let deadline = self.deadline();
        let (entry, opened, attempts) = self.call(&Stream(request), deadline).await?;
        Ok(Box::pin(ChainStream::new(
            Arc::clone(&self.inner),
            entry,
            opened,
            attempts,
            deadline,
        )))
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
