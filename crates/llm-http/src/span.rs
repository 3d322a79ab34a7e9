//! The driver's span for each HTTP call, named after the OpenTelemetry GenAI semantic conventions
//! (`gen_ai.operation.name`, `gen_ai.provider.name`, `gen_ai.request.model`, `gen_ai.response.model`,
//! `gen_ai.usage.input_tokens` / `output_tokens`, `gen_ai.response.finish_reasons`, `error.type`) plus
//! llmux's time to first token (`llmux.ttft_ms`) for streams. Written once here, for every codec.
//!
//! Without a subscriber interested in the `llmux::http` target the span is disabled and recording costs a
//! branch per field.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_core::Stream;
use llm_core::{ChatResponse, Error, StreamEvent, Usage};
use tracing::Span;

/// A span for one call of `operation` on `provider` for `model`.
pub(crate) fn request(operation: &'static str, provider: &str, model: &str) -> Span {
    tracing::info_span!(
        target: "llmux::http",
        "gen_ai.client",
        otel.name = %format_args!("{operation} {model}"),
        otel.kind = "client",
        gen_ai.operation.name = operation,
        gen_ai.provider.name = provider,
        gen_ai.request.model = model,
        gen_ai.response.model = tracing::field::Empty,
        gen_ai.response.id = tracing::field::Empty,
        gen_ai.usage.input_tokens = tracing::field::Empty,
        gen_ai.usage.output_tokens = tracing::field::Empty,
        gen_ai.response.finish_reasons = tracing::field::Empty,
        error.type = tracing::field::Empty,
        llmux.ttft_ms = tracing::field::Empty,
    )
}

fn record_usage(span: &Span, usage: &Usage) {
    if let Some(n) = usage.input_tokens {
        span.record("gen_ai.usage.input_tokens", n);
    }
    if let Some(n) = usage.output_tokens {
        span.record("gen_ai.usage.output_tokens", n);
    }
}

/// Records a whole answer or its error.
pub(crate) fn record_response(span: &Span, result: &Result<ChatResponse, Error>) {
    if span.is_disabled() {
        return;
    }
    match result {
        Ok(response) => {
            span.record("gen_ai.response.model", response.model.as_str());
            if let Some(usage) = &response.usage {
                record_usage(span, usage);
            }
            if let Some(reason) = &response.finish_reason {
                span.record("gen_ai.response.finish_reasons", reason.as_str());
            }
        }
        Err(e) => record_error(span, e),
    }
}

/// Records an error's kind as `error.type`.
pub(crate) fn record_error(span: &Span, error: &Error) {
    span.record("error.type", error.kind().as_str());
}

/// A stream that records its start, first content, usage, finish and error on the call's span.
pub(crate) struct Traced<S> {
    inner: S,
    span: Span,
    started: Instant,
    first_content: bool,
}

impl<S> Traced<S> {
    pub(crate) fn new(inner: S, span: Span, started: Instant) -> Self {
        Traced {
            inner,
            span,
            started,
            first_content: false,
        }
    }

    fn observe(&mut self, item: &Result<StreamEvent, Error>) {
        match item {
            Ok(StreamEvent::Start(start)) => {
                self.span
                    .record("gen_ai.response.model", start.model.as_str());
                if let Some(id) = &start.response_id {
                    self.span.record("gen_ai.response.id", id.as_str());
                }
            }
            Ok(event) if !self.first_content && event.is_content() => {
                self.first_content = true;
                let ms = self.started.elapsed().as_secs_f64() * 1000.0;
                self.span.record("llmux.ttft_ms", ms);
            }
            Ok(StreamEvent::Usage(usage)) => record_usage(&self.span, usage),
            Ok(StreamEvent::Finish(reason)) => {
                self.span
                    .record("gen_ai.response.finish_reasons", reason.as_str());
            }
            Ok(_) => {}
            Err(e) => record_error(&self.span, e),
        }
    }
}

impl<S: Stream<Item = Result<StreamEvent, Error>> + Unpin> Stream for Traced<S> {
    type Item = Result<StreamEvent, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_next(cx);
        if let Poll::Ready(Some(item)) = &polled
            && !this.span.is_disabled()
        {
            this.observe(item);
        }
        polled
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

/// Records an embeddings answer or its error.
pub(crate) fn record_embeddings(span: &Span, result: &Result<llm_core::EmbedResponse, Error>) {
    if span.is_disabled() {
        return;
    }
    match result {
        Ok(response) => {
            span.record("gen_ai.response.model", response.model.as_str());
            if let Some(usage) = &response.usage {
                record_usage(span, usage);
            }
        }
        Err(e) => record_error(span, e),
    }
}
