//! Spans to the OpenTelemetry GenAI semantic conventions, emitted by the chain once per call
//! (`llm_chain.request`, level INFO) and once per request sent to a provider (`llm_chain.attempt`, level
//! DEBUG, inside the call's span).
//!
//! Both carry `gen_ai.operation.name` (`chat`), `gen_ai.provider.name`, `gen_ai.request.model`,
//! `gen_ai.response.model`, `gen_ai.usage.input_tokens`, `gen_ai.usage.output_tokens`,
//! `gen_ai.response.finish_reasons` and, on failure, `error.type` (the [`ErrorKind`](llm_core::ErrorKind)
//! name, e.g. `rate_limited`, with `otel.status_code` `ERROR`). `otel.name` gives exporters the
//! conventional span name: `chat {model}` for an attempt, and `chat` for the call, since its model is only
//! known once an entry answers (and exporters take the name when the span starts). Attempts are
//! `otel.kind` `client`. On the call's span the provider and models are the answering entry's. llmux
//! adds `llmux.attempt` (the
//! attempt's number within the call, from 1, in the order requests were sent), `llmux.ttft_ms` (streams:
//! the time to the first content, from the attempt's start or the call's), and keeps `entry`, `retry`,
//! `outcome` (`ok` or the kind), `latency_ms`, and on the call `chain`, `mode`, `entries`, `attempts`.
//!
//! A stream's spans stay open until the stream ends or is dropped, so its usage and finish reason are
//! recorded as they arrive. Tracing fields hold no arrays, so `gen_ai.response.finish_reasons` holds the
//! one reason a response has (e.g. `stop`). Nothing is recorded when no subscriber listens.

use std::time::{Duration, Instant};

use llm_core::{ChatResponse, Error, StreamEvent, Usage};
use tracing::Span;
use tracing::field::Empty;

use crate::chain::Inner;

/// `gen_ai.operation.name` for chat completions, streamed or not.
const OPERATION: &str = "chat";

/// The span of one chain call, before any entry was tried.
pub(crate) fn call_span(chain: &Inner, mode: &'static str) -> Span {
    tracing::info_span!(
        "llm_chain.request",
        "otel.name" = OPERATION,
        "gen_ai.operation.name" = OPERATION,
        "gen_ai.provider.name" = Empty,
        "gen_ai.request.model" = Empty,
        "gen_ai.response.model" = Empty,
        "gen_ai.usage.input_tokens" = Empty,
        "gen_ai.usage.output_tokens" = Empty,
        "gen_ai.response.finish_reasons" = Empty,
        "error.type" = Empty,
        "otel.status_code" = Empty,
        "llmux.ttft_ms" = Empty,
        chain = chain.name.as_str(),
        mode,
        entries = int(chain.entries.len()),
        outcome = Empty,
        attempts = Empty,
    )
}

/// The span of one request to entry `entry`'s provider.
pub(crate) fn attempt_span(
    entry: usize,
    provider: &str,
    model: &str,
    retry: u32,
    number: u32,
) -> Span {
    let span = tracing::debug_span!(
        "llm_chain.attempt",
        "otel.name" = Empty,
        "otel.kind" = "client",
        "gen_ai.operation.name" = OPERATION,
        "gen_ai.provider.name" = provider,
        "gen_ai.request.model" = model,
        "gen_ai.response.model" = Empty,
        "gen_ai.usage.input_tokens" = Empty,
        "gen_ai.usage.output_tokens" = Empty,
        "gen_ai.response.finish_reasons" = Empty,
        "error.type" = Empty,
        "otel.status_code" = Empty,
        "llmux.attempt" = i64::from(number),
        "llmux.ttft_ms" = Empty,
        entry = int(entry),
        retry = i64::from(retry),
        outcome = Empty,
        latency_ms = Empty,
    );
    if !span.is_disabled() {
        span.record("otel.name", format!("{OPERATION} {model}"));
    }
    span
}

/// The call answered: who answered, with which model asked, after how many attempts.
pub(crate) fn call_answered(span: &Span, provider: &str, model: &str, attempts: usize) {
    span.record("gen_ai.provider.name", provider);
    span.record("gen_ai.request.model", model);
    span.record("outcome", "ok");
    span.record("attempts", int(attempts));
}

/// The call failed with `error`.
pub(crate) fn call_failed(span: &Span, error: &Error) {
    failed(span, error);
    span.record("attempts", int(error.attempts().len()));
}

/// An attempt ended `latency` after it started.
pub(crate) fn attempt_ended(span: &Span, latency: Duration) {
    span.record("latency_ms", ms(latency));
}

/// An attempt succeeded; `first_content` is its time to first content, for streams that showed some.
pub(crate) fn attempt_succeeded(span: &Span, first_content: Option<Duration>) {
    if let Some(t) = first_content {
        span.record("llmux.ttft_ms", ms(t));
    }
    span.record("outcome", "ok");
}

/// An attempt failed with `error` (before or after its first content, or abandoned); also a streamed
/// call that failed after it answered.
pub(crate) fn failed(span: &Span, error: &Error) {
    span.record("outcome", error.kind().as_str());
    span.record("error.type", error.kind().as_str());
    span.record("otel.status_code", "ERROR");
}

/// The time to first content of a streamed call, from the call's start.
pub(crate) fn call_first_content(span: &Span, started: Instant, now: Instant) {
    span.record("llmux.ttft_ms", ms(now.saturating_duration_since(started)));
}

/// What a whole answer says about the response.
pub(crate) fn response(span: &Span, response: &ChatResponse) {
    if span.is_disabled() {
        return;
    }
    span.record("gen_ai.response.model", response.model.as_str());
    if let Some(usage) = &response.usage {
        tokens(span, usage);
    }
    if let Some(reason) = &response.finish_reason {
        span.record("gen_ai.response.finish_reasons", reason.as_str());
    }
}

/// What an embeddings answer says about the response (model, input tokens).
pub(crate) fn embeddings(span: &Span, response: &llm_core::EmbedResponse) {
    if span.is_disabled() {
        return;
    }
    span.record("gen_ai.response.model", response.model.as_str());
    if let Some(usage) = &response.usage {
        tokens(span, usage);
    }
}

/// What one stream event says about the response (the model on `Start`, token counts, the finish reason).
pub(crate) fn event(span: &Span, event: &StreamEvent) {
    match event {
        StreamEvent::Start(start) => {
            span.record("gen_ai.response.model", start.model.as_str());
        }
        StreamEvent::Usage(usage) => tokens(span, usage),
        StreamEvent::Finish(reason) => {
            span.record("gen_ai.response.finish_reasons", reason.as_str());
        }
        _ => {}
    }
}

fn tokens(span: &Span, usage: &Usage) {
    if let Some(n) = usage.input_tokens {
        span.record("gen_ai.usage.input_tokens", int(n));
    }
    if let Some(n) = usage.output_tokens {
        span.record("gen_ai.usage.output_tokens", int(n));
    }
}

/// Counts as `i64`: tracing-opentelemetry exports `i64` as an integer attribute but `u64` as text.
fn int(n: impl TryInto<i64>) -> i64 {
    n.try_into().unwrap_or(i64::MAX)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
