//! Pure error mapping: Anthropic's error responses and mid-stream error events become classified
//! [`Error`]s, through [`llm_core::classify`] so that the same failure means the same kind everywhere.
//!
//! Anthropic answers `{"type":"error","error":{"type","message"}}` with these statuses, mapped as shown:
//!
//! | status | `error.type`            | kind                                         | retried |
//! |--------|-------------------------|----------------------------------------------|---------|
//! | 400    | `invalid_request_error` | `bad_request` (`context_length` when the message says "prompt is too long") | no |
//! | 401    | `authentication_error`  | `auth`                                       | no      |
//! | 402    | `billing_error`         | `quota_exhausted`                            | no      |
//! | 403    | `permission_error`      | `permission`                                 | no      |
//! | 404    | `not_found_error`       | `not_found`                                  | no      |
//! | 413    | `request_too_large`     | `payload_too_large`                          | no      |
//! | 429    | `rate_limit_error`      | `rate_limited` (with `retry-after`)          | yes     |
//! | 500    | `api_error`             | `server`                                     | yes     |
//! | 504    | `timeout_error`         | `timeout`                                    | yes     |
//! | 529    | `overloaded_error`      | `overloaded`                                 | yes     |
//!
//! An `x-should-retry: true|false` header overrides the last column; the `request-id` header is kept as the
//! error's request id. Inside a stream (after HTTP 200) the same object arrives as `event: error` and is
//! classified by its `error.type` ([`classify::kind_for_stream_error`]).

use std::time::SystemTime;

use http::HeaderMap;
use llm_core::classify::{ErrorTable, RateLimitHeaders};
use llm_core::{Error, ErrorKind, FinishReason, ProviderDetail, classify};

/// Anthropic's rate-limit headers: requests and tokens left (else input tokens left).
pub const RATE_LIMITS: RateLimitHeaders = RateLimitHeaders {
    requests: &["anthropic-ratelimit-requests-remaining"],
    tokens: &[
        "anthropic-ratelimit-tokens-remaining",
        "anthropic-ratelimit-input-tokens-remaining",
    ],
};

/// Anthropic's error types (the table above) and the message that means the prompt did not fit.
pub const ERRORS: ErrorTable = ErrorTable {
    names: &[
        ("invalid_request_error", ErrorKind::BadRequest),
        ("authentication_error", ErrorKind::Auth),
        ("billing_error", ErrorKind::QuotaExhausted),
        ("permission_error", ErrorKind::Permission),
        ("not_found_error", ErrorKind::NotFound),
        ("request_too_large", ErrorKind::PayloadTooLarge),
        ("rate_limit_error", ErrorKind::RateLimited),
        ("api_error", ErrorKind::Server),
        ("timeout_error", ErrorKind::Timeout),
        ("overloaded_error", ErrorKind::Overloaded),
    ],
    context_phrases: &["prompt is too long", "context window"],
    rate_limits: RATE_LIMITS,
};

/// The classified error for a non-success HTTP response that arrived at `now` (what the driver produces for
/// every non-2xx status; pure, so the mapping is tested without a server).
pub fn from_response(
    provider: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Error {
    classify::error_from_response(provider.to_owned(), status, headers, body, now, &ERRORS)
}

/// The finish reason a `stop_reason` names: `end_turn` and `stop_sequence` are `stop`, `max_tokens` and
/// `model_context_window_exceeded` are `length`, `tool_use` is `tool_calls`, `refusal` is `content_filter`;
/// anything else (`pause_turn`, …) is kept as [`FinishReason::Other`].
pub fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

/// The classified error for an `error` event's data inside a stream. Data that is not an error object
/// still ends the stream, as a `server` error carrying the raw text (bounded).
pub fn from_stream_data(provider: &str, data: &str) -> Error {
    let detail = serde_json::from_str::<serde_json::Value>(data)
        .ok()
        .as_ref()
        .and_then(classify::detail_from_value)
        .unwrap_or_else(|| {
            let end = data.floor_char_boundary(512);
            ProviderDetail::message(data[..end].trim().to_owned())
        });
    classify::error_from_stream_detail(provider.to_owned(), detail, &ERRORS)
}

/// An `invalid_response` error: the provider sent something this crate cannot decode.
pub(crate) fn invalid(provider: &str, what: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidResponse, what.into()).with_provider(provider.to_owned())
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
