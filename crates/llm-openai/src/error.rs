//! Pure error classification for the OpenAI wire format: the error-name table of OpenAI-compatible servers,
//! and the error objects that arrive with HTTP 200 (in a whole body, or as a stream chunk), classified through
//! [`llm_core::classify`] so the same failure gets the same kind however it was delivered.

use std::borrow::Cow;

use llm_core::classify::{self, ErrorTable, RateLimitHeaders};
use llm_core::{Error, ErrorKind};
use serde_json::Value;

/// The error names and context-window phrases of OpenAI and of the servers that speak its wire format:
/// OpenRouter and other gateways relay their upstreams' names (Anthropic's `overloaded_error`, …), llama.cpp
/// names `exceed_context_size_error`, vLLM-style servers `bad_request`.
pub const ERRORS: ErrorTable = ErrorTable {
    names: &[
        ("server_error", ErrorKind::Server),
        ("api_error", ErrorKind::Server),
        ("internal_server_error", ErrorKind::Server),
        ("internal_error", ErrorKind::Server),
        ("overloaded_error", ErrorKind::Overloaded),
        ("unavailable_error", ErrorKind::Overloaded),
        ("overloaded", ErrorKind::Overloaded),
        ("service_unavailable", ErrorKind::Overloaded),
        ("rate_limit_error", ErrorKind::RateLimited),
        ("rate_limit_exceeded", ErrorKind::RateLimited),
        ("rate_limited", ErrorKind::RateLimited),
        ("tokens", ErrorKind::RateLimited),
        ("requests", ErrorKind::RateLimited),
        ("insufficient_quota", ErrorKind::QuotaExhausted),
        ("billing_error", ErrorKind::QuotaExhausted),
        ("quota_exceeded", ErrorKind::QuotaExhausted),
        ("authentication_error", ErrorKind::Auth),
        ("invalid_api_key", ErrorKind::Auth),
        ("unauthorized", ErrorKind::Auth),
        ("permission_error", ErrorKind::Permission),
        ("permission_denied", ErrorKind::Permission),
        ("forbidden", ErrorKind::Permission),
        ("not_found_error", ErrorKind::NotFound),
        ("model_not_found", ErrorKind::NotFound),
        ("not_found", ErrorKind::NotFound),
        ("invalid_request_error", ErrorKind::BadRequest),
        ("bad_request", ErrorKind::BadRequest),
        ("invalid_request", ErrorKind::BadRequest),
        ("request_too_large", ErrorKind::PayloadTooLarge),
        ("payload_too_large", ErrorKind::PayloadTooLarge),
        ("timeout_error", ErrorKind::Timeout),
        ("timeout", ErrorKind::Timeout),
        ("context_length_exceeded", ErrorKind::ContextLength),
        // Azure OpenAI's codes.
        ("content_filter", ErrorKind::BadRequest),
        ("DeploymentNotFound", ErrorKind::NotFound),
        ("OperationNotSupported", ErrorKind::BadRequest),
        ("InvalidAuthenticationToken", ErrorKind::Auth),
        ("exceed_context_size_error", ErrorKind::ContextLength),
    ],
    context_phrases: &[
        "prompt is too long",
        "context length",
        "context_length_exceeded",
        "exceeds the available context size",
        "context window",
    ],
    rate_limits: RateLimitHeaders::STANDARD,
};

/// The error an HTTP-200 JSON value carries, if it is one: `{"error":{…}}` (`code` a number or a string) or
/// `{"object":"error",…}` (vLLM-style servers). Classified with [`classify::error_from_stream_detail`]: a
/// numeric code as the status it names, else the code or type name.
pub(crate) fn error_in_value(
    provider: impl Into<Cow<'static, str>>,
    value: &Value,
) -> Option<Error> {
    let detail = classify::detail_from_value(value)?;
    Some(classify::error_from_stream_detail(
        provider, detail, &ERRORS,
    ))
}

/// As [`error_in_value`] for raw JSON text; `None` when the text is not JSON or holds no error.
pub(crate) fn error_in_json(provider: impl Into<Cow<'static, str>>, json: &str) -> Option<Error> {
    let value = serde_json::from_str::<Value>(json).ok()?;
    error_in_value(provider, &value)
}

/// The error for a choice that ended with `finish_reason: "error"` and no error object.
pub(crate) fn finish_reason_error(provider: impl Into<Cow<'static, str>>) -> Error {
    Error::new(
        ErrorKind::Server,
        "generation ended with finish reason `error`",
    )
    .with_provider(provider)
}

/// An `invalid_response` error: the server sent something that is not the wire format.
pub(crate) fn invalid(
    provider: impl Into<Cow<'static, str>>,
    what: impl Into<Cow<'static, str>>,
) -> Error {
    Error::new(ErrorKind::InvalidResponse, what).with_provider(provider)
}

/// The finish reason an OpenAI-compatible server's `finish_reason` names (`stop`, `length`, `tool_calls`,
/// `function_call`, `content_filter`, `error`; llama.cpp's `eos`, …); anything else is kept as
/// [`FinishReason::Other`](llm_core::FinishReason::Other).
pub(crate) fn finish_reason(raw: &str) -> llm_core::FinishReason {
    use llm_core::FinishReason;
    match raw {
        "stop" | "eos" | "end_turn" | "stop_sequence" => FinishReason::Stop,
        "length" | "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_calls" | "function_call" | "tool_use" => FinishReason::ToolCalls,
        "content_filter" | "refusal" => FinishReason::ContentFilter,
        "error" => FinishReason::Error,
        other => FinishReason::Other(other.to_owned()),
    }
}
