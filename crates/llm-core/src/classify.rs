//! Shared classification: HTTP status, headers and body (or an error that arrives inside a stream) to an
//! [`Error`] with the right kind, retry rule, retry hint and provider detail.
//!
//! Every provider crate uses these functions, so the same failure gets the same kind whichever provider sent
//! it. Status first, then the body refines it:
//!
//! | condition | kind |
//! | --- | --- |
//! | 400, 422 | `bad_request`; `context_length` when the body says so |
//! | 401 / 403 / 404 / 413 | `auth` / `permission` / `not_found` / `payload_too_large` |
//! | 402 | `quota_exhausted`; `rate_limited` when it carries a retry hint |
//! | 408, 504 | `timeout` |
//! | 409 | `server` |
//! | 429 | `rate_limited`; `quota_exhausted` for `insufficient_quota` |
//! | 503, 529 | `overloaded` |
//! | other 5xx | `server` |
//! | any other status | `unknown` |

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use serde_json::Value;

use crate::error::{Error, ErrorKind, ProviderDetail};

/// Retry hints longer than this are treated as out of range and ignored.
pub const MAX_RETRY_HINT: Duration = Duration::from_secs(24 * 60 * 60);

/// Response headers that carry a provider's request id, in the order they are looked up.
pub const REQUEST_ID_HEADERS: [&str; 3] = ["x-request-id", "request-id", "x-generation-id"];

/// The longest piece of a non-JSON error body kept as the message.
const BODY_SNIPPET: usize = 512;

/// The kind an HTTP status means before its body is read, per the table in the module docs.
///
/// `detail` refines 400/422 (context length), 429 (insufficient quota); `has_retry_hint` refines 402.
pub fn kind_for_status(status: u16, detail: &ProviderDetail, has_retry_hint: bool) -> ErrorKind {
    match status {
        400 | 422 if says_context_length(detail) => ErrorKind::ContextLength,
        400 | 422 => ErrorKind::BadRequest,
        401 => ErrorKind::Auth,
        402 if has_retry_hint => ErrorKind::RateLimited,
        402 => ErrorKind::QuotaExhausted,
        403 => ErrorKind::Permission,
        404 => ErrorKind::NotFound,
        408 | 504 => ErrorKind::Timeout,
        409 => ErrorKind::Server,
        413 => ErrorKind::PayloadTooLarge,
        429 if says_insufficient_quota(detail) => ErrorKind::QuotaExhausted,
        429 => ErrorKind::RateLimited,
        503 | 529 => ErrorKind::Overloaded,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Unknown,
    }
}

/// The kind an error type or code names, as providers put them in bodies and mid-stream events
/// (`overloaded_error`, `server_error`, `rate_limit_exceeded`, …). `None` when the name is not known.
pub fn kind_for_error_name(name: &str) -> Option<ErrorKind> {
    let kind = match name {
        "overloaded_error" | "unavailable_error" | "overloaded" | "service_unavailable" => {
            ErrorKind::Overloaded
        }
        "server_error" | "api_error" | "internal_server_error" | "internal_error" => {
            ErrorKind::Server
        }
        "rate_limit_error" | "rate_limit_exceeded" | "rate_limited" | "tokens" | "requests" => {
            ErrorKind::RateLimited
        }
        "insufficient_quota" | "billing_error" | "quota_exceeded" => ErrorKind::QuotaExhausted,
        "authentication_error" | "invalid_api_key" | "unauthorized" => ErrorKind::Auth,
        "permission_error" | "permission_denied" | "forbidden" => ErrorKind::Permission,
        "not_found_error" | "model_not_found" | "not_found" => ErrorKind::NotFound,
        "invalid_request_error" | "bad_request" | "invalid_request" => ErrorKind::BadRequest,
        "request_too_large" | "payload_too_large" => ErrorKind::PayloadTooLarge,
        "timeout_error" | "timeout" => ErrorKind::Timeout,
        "context_length_exceeded" | "exceed_context_size_error" => ErrorKind::ContextLength,
        _ => return None,
    };
    Some(kind)
}

/// The kind of an error that arrived inside a stream after HTTP 200, classified like a status would be:
/// a numeric code (OpenRouter's `"code": 429`) goes through [`kind_for_status`]; otherwise the code, then the
/// type, through [`kind_for_error_name`]; a context-length message wins; anything else is `server` (the
/// provider failed after promising an answer).
pub fn kind_for_stream_error(detail: &ProviderDetail) -> ErrorKind {
    if says_context_length(detail) {
        return ErrorKind::ContextLength;
    }
    if let Some(status) = detail
        .code
        .as_deref()
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|s| (400..=599).contains(s))
    {
        return kind_for_status(status, detail, false);
    }
    [detail.code.as_deref(), detail.error_type.as_deref()]
        .into_iter()
        .flatten()
        .find_map(kind_for_error_name)
        .unwrap_or(ErrorKind::Server)
}

fn says_context_length(detail: &ProviderDetail) -> bool {
    let named = [detail.code.as_deref(), detail.error_type.as_deref()]
        .into_iter()
        .flatten()
        .any(|n| n == "context_length_exceeded" || n == "exceed_context_size_error");
    named
        || detail.message.as_deref().is_some_and(|m| {
            let m = m.to_ascii_lowercase();
            m.contains("prompt is too long")
                || m.contains("context length")
                || m.contains("context_length_exceeded")
                || m.contains("exceeds the available context size")
                || m.contains("context window")
        })
}

fn says_insufficient_quota(detail: &ProviderDetail) -> bool {
    [detail.code.as_deref(), detail.error_type.as_deref()]
        .into_iter()
        .flatten()
        .any(|n| n == "insufficient_quota")
}

/// Reads a provider error out of a JSON value, whatever the provider's shape:
/// `{"error":{"message","type","param","code"}}` (OpenAI, OpenRouter, llama.cpp; `code` a string or a number),
/// `{"type":"error","error":{"type","message"}}` (Anthropic), `{"error":"…"}` (Ollama),
/// `{"object":"error","message",…}` (vLLM-style servers). `None` when the value holds no error.
pub fn detail_from_value(value: &Value) -> Option<ProviderDetail> {
    let obj = value.as_object()?;
    match obj.get("error") {
        Some(Value::Object(inner)) => Some(detail_from_object(inner)),
        Some(Value::String(message)) => Some(ProviderDetail::message(message.clone())),
        Some(_) | None => {
            let is_error_object = obj.get("object").and_then(Value::as_str) == Some("error")
                || obj.get("type").and_then(Value::as_str) == Some("error");
            is_error_object.then(|| detail_from_object(obj))
        }
    }
}

fn detail_from_object(obj: &serde_json::Map<String, Value>) -> ProviderDetail {
    let text = |key: &str| -> Option<String> {
        match obj.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let error_type = text("type").filter(|t| t != "error");
    ProviderDetail {
        code: text("code"),
        error_type,
        message: text("message"),
        param: text("param"),
    }
}

/// Reads a provider error out of a response body; `None` when the body is not JSON or holds no error.
pub fn detail_from_body(body: &[u8]) -> Option<ProviderDetail> {
    serde_json::from_slice::<Value>(body)
        .ok()
        .as_ref()
        .and_then(detail_from_value)
}

/// The wait a response asks for: `retry-after-ms` (milliseconds), then `retry-after` as seconds or as an HTTP
/// date (relative to `now`). Non-positive, malformed or out-of-range values (over [`MAX_RETRY_HINT`]) are
/// ignored.
pub fn retry_after(headers: &HeaderMap, now: SystemTime) -> Option<Duration> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    let from_ms = header("retry-after-ms")
        .and_then(|v| v.parse::<f64>().ok())
        .and_then(|ms| positive_secs(ms / 1000.0));
    from_ms.or_else(|| {
        let v = header("retry-after")?;
        match v.parse::<f64>() {
            Ok(secs) => positive_secs(secs),
            Err(_) => {
                let at = httpdate::parse_http_date(v).ok()?;
                at.duration_since(now)
                    .ok()
                    .filter(|d| !d.is_zero() && *d <= MAX_RETRY_HINT)
            }
        }
    })
}

fn positive_secs(secs: f64) -> Option<Duration> {
    (secs.is_finite() && secs > 0.0 && secs <= MAX_RETRY_HINT.as_secs_f64())
        .then(|| Duration::from_secs_f64(secs))
}

/// The `x-should-retry: true|false` override, when present and well formed.
pub fn should_retry(headers: &HeaderMap) -> Option<bool> {
    let v = headers.get("x-should-retry")?.to_str().ok()?.trim();
    if v.eq_ignore_ascii_case("true") {
        Some(true)
    } else if v.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// The provider's request id from the first of [`REQUEST_ID_HEADERS`] present.
pub fn request_id(headers: &HeaderMap) -> Option<String> {
    REQUEST_ID_HEADERS.iter().find_map(|name| {
        headers
            .get(*name)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    })
}

/// The classified error for an HTTP response with a non-success status: kind from the status refined by the
/// body, retry hint, `x-should-retry`, request id and the provider's detail. `now` is the time the response
/// arrived (for HTTP-date retry hints).
pub fn error_from_response(
    provider: impl Into<Cow<'static, str>>,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Error {
    let detail = detail_from_body(body).unwrap_or_default();
    let hint = retry_after(headers, now);
    let kind = kind_for_status(status, &detail, hint.is_some());
    let message = match &detail.message {
        Some(m) => m.clone(),
        None => body_snippet(body).unwrap_or_else(|| {
            http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("error status")
                .to_ascii_lowercase()
        }),
    };
    Error::new(kind, message)
        .with_provider(provider)
        .with_status(status)
        .with_retry_after(hint)
        .with_should_retry(should_retry(headers))
        .with_request_id_opt(request_id(headers))
        .with_detail(detail)
}

/// The classified error for an error object that arrived inside a stream (or in a 200 body), per
/// [`kind_for_stream_error`].
pub fn error_from_stream_detail(
    provider: impl Into<Cow<'static, str>>,
    detail: ProviderDetail,
) -> Error {
    let kind = kind_for_stream_error(&detail);
    let message = detail
        .message
        .clone()
        .unwrap_or_else(|| "error event in stream".to_owned());
    Error::new(kind, message)
        .with_provider(provider)
        .with_detail(detail)
}

fn body_snippet(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(&body[..body.len().min(BODY_SNIPPET)]);
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
#[path = "classify_tests.rs"]
mod tests;
