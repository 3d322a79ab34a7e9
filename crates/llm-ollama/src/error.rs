//! Pure: Ollama's error bodies to classified [`Error`]s, through [`llm_core::classify`].
//!
//! Ollama reports every error as `{"error":"…"}`: with a status (400, 404 "model 'x' not found", 429, 500,
//! 502), or with HTTP 200 as a line of an NDJSON stream (or as a whole 200 body).
//!
//! | what arrives | kind |
//! | --- | --- |
//! | a status | the shared status table: 400 `bad_request` (`context_length` when the text says so), 404 `not_found`, 429 `rate_limited`, 500/502 `server`, 503 `overloaded`, … |
//! | an `error` line or body after HTTP 200 | `server` (`context_length` when the text says so), as every provider's mid-stream errors |
//!
//! A "model not found" text after HTTP 200 stays `server` on purpose: Ollama resolves and loads the model
//! before it answers 200, so a missing model always arrives as 404 (`not_found`). Matching on message text
//! would make the kind depend on wording llmux does not control; the shared rule keeps one meaning for
//! "the provider failed after promising an answer".

use llm_core::classify::{ErrorTable, RateLimitHeaders};
use llm_core::{Error, ErrorKind, FinishReason, ProviderDetail, classify};
use serde_json::Value;
use std::borrow::Cow;

/// Ollama names no error types (its errors are plain text); the phrases are those of its context-window
/// errors and of the llama.cpp runner under it.
pub const ERRORS: ErrorTable = ErrorTable {
    names: &[
        ("context_length_exceeded", ErrorKind::ContextLength),
        ("exceed_context_size_error", ErrorKind::ContextLength),
    ],
    context_phrases: &[
        "context length",
        "exceeds the available context size",
        "context window",
    ],
    rate_limits: RateLimitHeaders::STANDARD,
};

/// The finish reason of a `done: true` line's `done_reason` (`stop`, `length`, `load`, `unload`; `stop`
/// when absent).
pub(crate) fn finish_reason(done_reason: Option<&str>) -> FinishReason {
    match done_reason {
        None | Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some(other) => FinishReason::Other(other.to_owned()),
    }
}

/// The classified error for the value of an `error` field that arrived with HTTP 200 (a stream line or a
/// whole body): a string (Ollama's shape) or an object (the OpenAI shape, kept for proxies).
pub fn error_from_field(provider: impl Into<Cow<'static, str>>, error: &Value) -> Error {
    let detail = match error {
        Value::String(message) => ProviderDetail::message(message.clone()),
        Value::Object(_) => {
            let wrapped = serde_json::json!({ "error": error });
            classify::detail_from_value(&wrapped).unwrap_or_default()
        }
        other => ProviderDetail::message(other.to_string()),
    };
    classify::error_from_stream_detail(provider, detail, &ERRORS)
}
