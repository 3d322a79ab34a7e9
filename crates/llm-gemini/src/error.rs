//! Pure error mapping: Google's `google.rpc.Status` errors (HTTP or inside a stream) become classified
//! [`Error`]s through [`llm_core::classify`], and Gemini's finish and block reasons become
//! [`FinishReason`]s.
//!
//! An error body is `{"error":{"code":429,"message":"…","status":"RESOURCE_EXHAUSTED","details":[…]}}`. The
//! detail keeps `code` (the number, as text), `status` as the error type and the message; an `ErrorInfo`
//! detail's `reason` refines the kind where the status says too little (Gemini answers a wrong key with 400
//! `INVALID_ARGUMENT`, reason `API_KEY_INVALID`: that is `auth`). HTTP statuses map as the classify engine
//! says; the `status` names map as below when an error arrives without an HTTP status (mid-stream):
//!
//! | HTTP | `status`              | kind              | retried |
//! |------|-----------------------|-------------------|---------|
//! | 400  | `INVALID_ARGUMENT`, `FAILED_PRECONDITION`, `OUT_OF_RANGE` | `bad_request` (`context_length` when the message says the input token count exceeds the maximum; `auth` for the `API_KEY_INVALID` reason) | no |
//! | 401  | `UNAUTHENTICATED`     | `auth`            | no      |
//! | 403  | `PERMISSION_DENIED`   | `permission`      | no      |
//! | 404  | `NOT_FOUND`           | `not_found`       | no      |
//! | 429  | `RESOURCE_EXHAUSTED`  | `rate_limited` (retry after `RetryInfo.retryDelay`) | yes |
//! | 500  | `INTERNAL`, `UNKNOWN` | `server`          | yes     |
//! | 503  | `UNAVAILABLE`         | `overloaded`      | yes     |
//! | 504  | `DEADLINE_EXCEEDED`   | `timeout`         | yes     |
//!
//! A `RetryInfo` detail's `retryDelay` (`"30s"`, `"1.5s"`) is the retry hint when no `Retry-After` header
//! gives one.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use llm_core::classify::{ErrorTable, RateLimitHeaders};
use llm_core::{Error, ErrorKind, FinishReason, ProviderDetail, classify};
use serde_json::Value;

/// Google's status names (the table above) and the phrases that mean the prompt did not fit.
pub const ERRORS: ErrorTable = ErrorTable {
    names: &[
        ("INVALID_ARGUMENT", ErrorKind::BadRequest),
        ("FAILED_PRECONDITION", ErrorKind::BadRequest),
        ("OUT_OF_RANGE", ErrorKind::BadRequest),
        ("UNAUTHENTICATED", ErrorKind::Auth),
        ("PERMISSION_DENIED", ErrorKind::Permission),
        ("NOT_FOUND", ErrorKind::NotFound),
        ("RESOURCE_EXHAUSTED", ErrorKind::RateLimited),
        ("ABORTED", ErrorKind::Server),
        ("INTERNAL", ErrorKind::Server),
        ("UNKNOWN", ErrorKind::Server),
        ("UNAVAILABLE", ErrorKind::Overloaded),
        ("DEADLINE_EXCEEDED", ErrorKind::Timeout),
        ("CANCELLED", ErrorKind::Server),
    ],
    context_phrases: &[
        "exceeds the maximum number of tokens",
        "input token count",
        "context window",
    ],
    rate_limits: RateLimitHeaders {
        requests: &[],
        tokens: &[],
    },
};

/// The `@type` of a `google.rpc.RetryInfo` detail.
const RETRY_INFO: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// The `@type` of a `google.rpc.ErrorInfo` detail.
const ERROR_INFO: &str = "type.googleapis.com/google.rpc.ErrorInfo";

/// A `google.rpc.Status` read out of a JSON value: the detail for classification, the retry hint of its
/// `RetryInfo` and the `reason` of its `ErrorInfo`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// Code (the number as text), `status` as type, and message.
    pub detail: ProviderDetail,
    /// `RetryInfo.retryDelay`, when present and well formed.
    pub retry_delay: Option<Duration>,
    /// `ErrorInfo.reason` (e.g. `API_KEY_INVALID`), when present.
    pub reason: Option<String>,
}

impl Status {
    /// The status in `value` (`{"error":…}`, see [`Status::from_error`]); `None` when the value holds no
    /// error.
    pub fn from_value(value: &Value) -> Option<Status> {
        Status::from_error(value.as_object()?.get("error")?)
    }

    /// The status an `error` member holds: a status object (`code`, `status`, `message`, `details`) or a
    /// bare message; `None` for anything else (`null`, a number).
    pub fn from_error(error: &Value) -> Option<Status> {
        let inner = match error {
            Value::Object(inner) => inner,
            Value::String(message) => {
                return Some(Status {
                    detail: ProviderDetail::message(message.clone()),
                    ..Status::default()
                });
            }
            _ => return None,
        };
        let text = |key: &str| match inner.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        let mut detail = ProviderDetail::default();
        detail.code = text("code");
        detail.error_type = text("status");
        detail.message = text("message");
        let mut status = Status {
            detail,
            ..Status::default()
        };
        for item in inner
            .get("details")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            match item.get("@type").and_then(Value::as_str) {
                Some(RETRY_INFO) => {
                    status.retry_delay = item
                        .get("retryDelay")
                        .and_then(Value::as_str)
                        .and_then(parse_duration);
                }
                Some(ERROR_INFO) => {
                    status.reason = item
                        .get("reason")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                }
                _ => {}
            }
        }
        Some(status)
    }

    fn refine(&self, error: Error) -> Error {
        if self.reason.as_deref() == Some("API_KEY_INVALID") {
            error.with_kind(ErrorKind::Auth)
        } else {
            error
        }
    }
}

/// A protobuf JSON `Duration` (`"30s"`, `"1.5s"`, `"0.250s"`): seconds with an `s` suffix. `None` for
/// anything else, zero, or more than [`classify::MAX_RETRY_HINT`].
pub fn parse_duration(text: &str) -> Option<Duration> {
    let secs: f64 = text.trim().strip_suffix('s')?.parse().ok()?;
    (secs.is_finite() && secs > 0.0 && secs <= classify::MAX_RETRY_HINT.as_secs_f64())
        .then(|| Duration::from_secs_f64(secs))
}

/// The classified error for a non-success HTTP response that arrived at `now`.
pub fn from_response(
    provider: &str,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Error {
    let parsed = serde_json::from_slice::<Value>(body)
        .ok()
        .as_ref()
        .and_then(Status::from_value);
    let Some(parsed) = parsed else {
        return classify::error_from_response(
            provider.to_owned(),
            status,
            headers,
            body,
            now,
            &ERRORS,
        );
    };
    let hint = classify::retry_after(headers, now).or(parsed.retry_delay);
    let mut kind = classify::kind_for_status(status, &parsed.detail, hint.is_some(), &ERRORS);
    if kind == ErrorKind::Unknown
        && let Some(named) = parsed
            .detail
            .error_type
            .as_deref()
            .and_then(|t| ERRORS.kind_of(t))
    {
        kind = named;
    }
    let message = parsed
        .detail
        .message
        .clone()
        .unwrap_or_else(|| format!("status {status}"));
    let error = Error::new(kind, message)
        .with_provider(provider.to_owned())
        .with_status(status)
        .with_retry_after(hint)
        .with_should_retry(classify::should_retry(headers))
        .with_request_id_opt(classify::request_id(headers))
        .with_detail(parsed.detail.clone());
    parsed.refine(error)
}

/// The classified error for an error object found inside a stream (or in a 200 body): its numeric code
/// decides like a status, else its `status` name through [`ERRORS`]; a `RetryInfo` delay is kept.
pub fn from_status(provider: &str, status: &Status) -> Error {
    let error =
        classify::error_from_stream_detail(provider.to_owned(), status.detail.clone(), &ERRORS)
            .with_retry_after(status.retry_delay);
    status.refine(error)
}

/// The finish reason a candidate's `finishReason` names. `STOP` is `stop` (or `tool_calls` when the answer
/// holds function calls: Gemini says `STOP` for both, see the caller); `MAX_TOKENS` is `length`; every
/// safety, recitation, blocklist, prohibited-content and personal-data reason is `content_filter`;
/// `MALFORMED_FUNCTION_CALL` and the other tool-call failures are `error`; anything else
/// (`FINISH_REASON_UNSPECIFIED`, `OTHER`, `LANGUAGE`, …) is kept as [`FinishReason::Other`].
pub fn finish_reason(raw: &str) -> FinishReason {
    match raw {
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION" => FinishReason::ContentFilter,
        "MALFORMED_FUNCTION_CALL" | "UNEXPECTED_TOOL_CALL" | "TOO_MANY_TOOL_CALLS" => {
            FinishReason::Error
        }
        other => FinishReason::Other(other.to_owned()),
    }
}

/// The finish reason of an answer whose prompt was blocked (`promptFeedback.blockReason`): every block
/// reason (`SAFETY`, `BLOCKLIST`, `PROHIBITED_CONTENT`, `IMAGE_SAFETY`, `OTHER`, …) is `content_filter`,
/// since the prompt was refused and nothing was generated.
pub fn block_reason(raw: &str) -> FinishReason {
    let _ = raw;
    FinishReason::ContentFilter
}

/// An `invalid_response` error: the provider sent something this crate cannot decode.
pub(crate) fn invalid(provider: &str, what: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidResponse, what.into()).with_provider(provider.to_owned())
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;
