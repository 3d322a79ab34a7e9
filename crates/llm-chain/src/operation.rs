//! What one attempt does with a provider, as a small trait the run loop is generic over: the loop walks
//! entries, retries and hedges the same way whatever is asked, and each operation only says how to build its
//! request for an entry, how to validate and send it, and what its answer tells the entry's health.
//!
//! Two operations exist: [`Chat`] (a whole answer) and [`Stream`] (a stream read up to its first content). A
//! third (embeddings, say) is one more implementation here, with no new arm anywhere in the loop.

use std::future::Future;
use std::time::{Duration, Instant};

use llm_core::{ChatRequest, ChatResponse, Error, Provider, RateLimit};

use tracing::Span;

use crate::entry::Entry;
use crate::stream::{Opened, open};
use crate::telemetry;

/// What an answer tells the entry's health and the attempt's span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Timing {
    /// The time to the whole answer, when the attempt delivered all of it.
    pub(crate) whole: Option<Duration>,
    /// The time to the first content, when the attempt showed content.
    pub(crate) first_content: Option<Duration>,
}

/// One kind of request the chain can send to its entries.
pub(crate) trait Operation: Sync {
    /// The request sent to one entry.
    type Request: Send + Sync;
    /// A successful attempt's answer.
    type Output: Send;

    /// The operation's name in spans and logs (`chat`, `stream`).
    fn name(&self) -> &'static str;

    /// Whether [`Policy::hedge_after`](crate::Policy::hedge_after) applies.
    fn hedges(&self) -> bool;

    /// The caller's request as `entry` sends it.
    fn request_for(&self, entry: &Entry) -> Self::Request;

    /// Checks the request against the provider's parameter table.
    fn validate(&self, provider: &dyn Provider, request: &Self::Request) -> Result<(), Error>;

    /// Sends one request, started at `start`.
    fn send<'a>(
        &'a self,
        provider: &'a dyn Provider,
        request: &'a Self::Request,
        start: Instant,
    ) -> impl Future<Output = Result<Self::Output, Error>> + Send + 'a;

    /// What the answer, received `latency` after the request started, says about the entry's speed.
    fn timing(&self, output: &Self::Output, latency: Duration) -> Timing;

    /// Records what the answer says about the response (model, usage, finish reason) on `span`.
    fn record(&self, output: &Self::Output, span: &Span);

    /// The tokens the answer used, input and output, counted against a `tpm` budget (`None`: not known
    /// when the attempt ends, as for a stream whose usage comes at its end).
    fn tokens(&self, _output: &Self::Output) -> Option<u64> {
        None
    }

    /// What the provider's rate-limit headers said was left (`None`: not known, as for a stream).
    fn rate_limit(&self, _output: &Self::Output) -> Option<RateLimit> {
        None
    }
}

/// A whole answer: [`Provider::chat`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Chat<'r>(pub(crate) &'r ChatRequest);

impl Operation for Chat<'_> {
    type Request = ChatRequest;
    type Output = ChatResponse;

    fn name(&self) -> &'static str {
        "chat"
    }

    fn hedges(&self) -> bool {
        false
    }

    fn request_for(&self, entry: &Entry) -> ChatRequest {
        entry.request_for(self.0)
    }

    fn validate(&self, provider: &dyn Provider, request: &ChatRequest) -> Result<(), Error> {
        provider.validate(request)
    }

    fn send<'a>(
        &'a self,
        provider: &'a dyn Provider,
        request: &'a ChatRequest,
        _start: Instant,
    ) -> impl Future<Output = Result<ChatResponse, Error>> + Send + 'a {
        provider.chat(request)
    }

    fn timing(&self, _output: &ChatResponse, latency: Duration) -> Timing {
        Timing {
            whole: Some(latency),
            first_content: None,
        }
    }

    fn record(&self, output: &ChatResponse, span: &Span) {
        telemetry::response(span, output);
    }

    fn tokens(&self, output: &ChatResponse) -> Option<u64> {
        output.usage.as_ref().and_then(|u| u.total())
    }

    fn rate_limit(&self, output: &ChatResponse) -> Option<RateLimit> {
        output.rate_limit
    }
}

/// A stream, read up to its first content event so the chain can still fall back: [`Provider::stream`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stream<'r>(pub(crate) &'r ChatRequest);

impl Operation for Stream<'_> {
    type Request = ChatRequest;
    type Output = Opened;

    fn name(&self) -> &'static str {
        "stream"
    }

    fn hedges(&self) -> bool {
        true
    }

    fn request_for(&self, entry: &Entry) -> ChatRequest {
        entry.request_for(self.0)
    }

    fn validate(&self, provider: &dyn Provider, request: &ChatRequest) -> Result<(), Error> {
        provider.validate(request)
    }

    async fn send(
        &self,
        provider: &dyn Provider,
        request: &ChatRequest,
        start: Instant,
    ) -> Result<Opened, Error> {
        open(provider.stream(request).await?, start).await
    }

    fn timing(&self, output: &Opened, latency: Duration) -> Timing {
        Timing {
            whole: output.finished.then_some(latency),
            first_content: output.has_content.then_some(latency),
        }
    }

    /// Nothing yet: the chain's stream records each event on this span as it delivers it, buffered ones
    /// included, so a response is described once.
    fn record(&self, _output: &Opened, _span: &Span) {}
}
