//! What one attempt does with a provider, as a small trait the run loop is generic over: the loop walks
//! entries, retries and hedges the same way whatever is asked, and each operation only says how to build its
//! request for an entry, how to validate and send it, and what its answer tells the entry's health.
//!
//! Three operations exist: [`Chat`] (a whole answer), [`Stream`] (a stream read up to its first content)
//! and [`Embed`] (embeddings, from the entries of the chain's vector space, of the width the space has
//! shown).

use std::future::Future;
use std::time::{Duration, Instant};

use std::sync::atomic::{AtomicUsize, Ordering};

use std::collections::VecDeque;

use futures_util::StreamExt;
use llm_core::{
    ChatRequest, ChatResponse, ChatStream, Cost, EmbedRequest, EmbedResponse, Error, ErrorKind,
    Price, RateLimit, StreamEvent,
};

use tracing::Span;

use crate::chain::Deployed;
use crate::entry::Entry;
use crate::meter::{DEFAULT_RESERVED_OUTPUT_TOKENS, Estimate, Meter};
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

    /// Whether `entry` takes part in this operation at all (default: every entry does). An entry that does
    /// not is passed over without an attempt.
    fn takes(&self, entry: &Entry) -> bool {
        let _ = entry;
        true
    }

    /// The model `entry` is asked for (in spans and attempts).
    fn model<'e>(&self, entry: &'e Entry) -> &'e str {
        entry.model()
    }

    /// The caller's request as `entry` sends it.
    fn request_for(&self, entry: &Entry) -> Self::Request;

    /// Checks the request against the entry's parameter table.
    fn validate(&self, entry: &Entry, request: &Self::Request) -> Result<(), Error>;

    /// Sends one request to `entry`, started at `start`.
    fn send<'a>(
        &'a self,
        entry: &'a Entry,
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

    /// What the provider's rate-limit headers said was left (`None`: not known).
    fn rate_limit(&self, _output: &Self::Output) -> Option<RateLimit> {
        None
    }

    /// What the request weighs, for estimates: its prompt's tokens and its output bound.
    fn estimate(&self, request: &Self::Request) -> Estimate;

    /// What `deployed`'s tokens cost for this operation (default: its chat model's price).
    fn price(&self, deployed: &Deployed) -> Option<Price> {
        deployed.chat_price
    }

    /// What the answer cost at `meter` (`None`: unknown, or not known when the attempt ends, as for a
    /// stream whose usage comes at its end).
    fn cost(&self, output: &Self::Output, meter: &Meter) -> Option<Cost>;

    /// Whether the answer is still being read after the attempt ends (a stream): its dollar reservation is
    /// then settled by whoever reads the rest.
    fn reads_on(&self, _output: &Self::Output) -> bool {
        false
    }
}

/// A chat request's weight: its prompt's estimate and its `max_tokens` (with the entry's defaults already
/// under it), else [`DEFAULT_RESERVED_OUTPUT_TOKENS`].
fn chat_estimate(request: &ChatRequest) -> Estimate {
    Estimate {
        input_tokens: request.estimated_input_tokens(),
        max_output_tokens: request
            .params
            .max_tokens
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(DEFAULT_RESERVED_OUTPUT_TOKENS),
    }
}

/// The output bytes of a whole answer: its text, reasoning and tool calls' arguments.
fn output_bytes(response: &ChatResponse) -> u64 {
    let calls: usize = response
        .tool_calls
        .iter()
        .map(|c| c.name.len() + c.arguments.to_string().len())
        .sum();
    (response.text.len() + response.reasoning.as_ref().map_or(0, String::len) + calls) as u64
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

    fn validate(&self, entry: &Entry, request: &ChatRequest) -> Result<(), Error> {
        entry.provider().validate(request)
    }

    fn send<'a>(
        &'a self,
        entry: &'a Entry,
        request: &'a ChatRequest,
        _start: Instant,
    ) -> impl Future<Output = Result<ChatResponse, Error>> + Send + 'a {
        entry.provider().chat(request)
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

    fn estimate(&self, request: &ChatRequest) -> Estimate {
        chat_estimate(request)
    }

    /// Priced from the reported usage; an answer that reported none is estimated from its size.
    fn cost(&self, output: &ChatResponse, meter: &Meter) -> Option<Cost> {
        output
            .usage
            .as_ref()
            .and_then(|u| meter.cost(u))
            .or_else(|| meter.partial(output.usage.as_ref(), output_bytes(output)))
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

    fn validate(&self, entry: &Entry, request: &ChatRequest) -> Result<(), Error> {
        entry.provider().validate(request)
    }

    async fn send(
        &self,
        entry: &Entry,
        request: &ChatRequest,
        start: Instant,
    ) -> Result<Opened, Error> {
        open(entry.provider().stream(request).await?, start).await
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

    /// The response's rate-limit headers, which came before its first event. (Its tokens come at its end:
    /// the chain's stream counts them then.)
    fn rate_limit(&self, output: &Opened) -> Option<RateLimit> {
        output.rate_limit()
    }

    fn estimate(&self, request: &ChatRequest) -> Estimate {
        chat_estimate(request)
    }

    /// Not known yet: the chain's stream prices the attempt when it ends.
    fn cost(&self, _output: &Opened, _meter: &Meter) -> Option<Cost> {
        None
    }

    fn reads_on(&self, _output: &Opened) -> bool {
        true
    }
}

/// Embeddings from the entries of the chain's vector space: [`Embedder::embed`](llm_core::Embedder::embed).
///
/// The width of the first vector the space answered without asked-for dimensions fixes the width of every
/// later answer (with dimensions, the asked-for width is the width): an answer of another width is an
/// `invalid_response` attempt, never returned, so a fallback entry that is not really the same model
/// cannot mix its vectors into an index built from another's.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Embed<'r> {
    pub(crate) request: &'r EmbedRequest,
    /// The chain's vector space.
    pub(crate) space: &'r str,
    /// The width the space has shown (0 until it has answered).
    pub(crate) width: &'r AtomicUsize,
}

impl Operation for Embed<'_> {
    type Request = EmbedRequest;
    type Output = EmbedResponse;

    fn name(&self) -> &'static str {
        "embeddings"
    }

    fn hedges(&self) -> bool {
        false
    }

    fn takes(&self, entry: &Entry) -> bool {
        entry.vector_space() == Some(self.space)
    }

    fn model<'e>(&self, entry: &'e Entry) -> &'e str {
        entry.embed_model().unwrap_or_default()
    }

    fn request_for(&self, entry: &Entry) -> EmbedRequest {
        self.request
            .with_model(entry.embed_model().unwrap_or(&self.request.model))
    }

    fn validate(&self, entry: &Entry, request: &EmbedRequest) -> Result<(), Error> {
        match entry.embedder() {
            Some(embedder) => embedder.validate_embed(request),
            None => Err(not_an_embedder(entry)),
        }
    }

    async fn send(
        &self,
        entry: &Entry,
        request: &EmbedRequest,
        _start: Instant,
    ) -> Result<EmbedResponse, Error> {
        let embedder = entry.embedder().ok_or_else(|| not_an_embedder(entry))?;
        let answer = embedder.embed(request).await?;
        let expected = match request.dimensions {
            Some(d) => Some(d as usize),
            None => match self.width.load(Ordering::Acquire) {
                0 => None,
                known => Some(known),
            },
        };
        answer.check_width(expected).map_err(|e| {
            Error::new(
                ErrorKind::InvalidResponse,
                format!(
                    "{} answered vectors of another width than space `{}`",
                    entry.provider().name(),
                    self.space
                ),
            )
            .with_provider(entry.provider().name().to_owned())
            .with_request_id_opt(answer.request_id.clone())
            .with_source(e)
        })?;
        if request.dimensions.is_none()
            && let Some(width) = answer.dims()
        {
            // The first answer fixes the width; a concurrent call of another width loses here and is an
            // error on its next answer, never silently accepted.
            let _ = self
                .width
                .compare_exchange(0, width, Ordering::AcqRel, Ordering::Acquire);
            let fixed = self.width.load(Ordering::Acquire);
            if fixed != width {
                return Err(Error::new(
                    ErrorKind::InvalidResponse,
                    format!(
                        "{} answered {width}-wide vectors where space `{}` is {fixed} wide",
                        entry.provider().name(),
                        self.space
                    ),
                )
                .with_provider(entry.provider().name().to_owned()));
            }
        }
        Ok(answer)
    }

    fn timing(&self, _output: &EmbedResponse, latency: Duration) -> Timing {
        Timing {
            whole: Some(latency),
            first_content: None,
        }
    }

    fn record(&self, output: &EmbedResponse, span: &Span) {
        telemetry::embeddings(span, output);
    }

    fn price(&self, deployed: &Deployed) -> Option<Price> {
        deployed.embed_price
    }

    fn estimate(&self, request: &EmbedRequest) -> Estimate {
        Estimate {
            input_tokens: request.estimated_input_tokens(),
            max_output_tokens: 0,
        }
    }

    /// Priced from the reported usage (the sum of its batches'), else estimated from the inputs.
    fn cost(&self, output: &EmbedResponse, meter: &Meter) -> Option<Cost> {
        output
            .usage
            .as_ref()
            .and_then(|u| meter.cost(u))
            .or_else(|| meter.partial(output.usage.as_ref(), 0))
    }
}

fn not_an_embedder(entry: &Entry) -> Error {
    Error::new(ErrorKind::Validation, "this entry does not embed")
        .with_provider(entry.provider().name().to_owned())
}

/// A provider stream read up to its first content event (or to its end, when it had none).
pub(crate) struct Opened {
    pub(crate) inner: ChatStream,
    pub(crate) buffered: VecDeque<StreamEvent>,
    /// The provider's stream has ended: it must not be polled again.
    pub(crate) finished: bool,
    /// A content event is among the buffered ones.
    pub(crate) has_content: bool,
    pub(crate) started: Instant,
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
