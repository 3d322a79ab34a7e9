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

use llm_core::{
    ChatRequest, ChatResponse, EmbedRequest, EmbedResponse, Error, ErrorKind, RateLimit,
};

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
}

fn not_an_embedder(entry: &Entry) -> Error {
    Error::new(ErrorKind::Validation, "this entry does not embed")
        .with_provider(entry.provider().name().to_owned())
}
