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
use crate::response::RateLimit;

/// Retry hints longer than this are treated as out of range and ignored.
pub const MAX_RETRY_HINT: Duration = Duration::from_secs(24 * 60 * 60);

/// Response headers that carry a provider's request id, in the order they are looked up.
pub const REQUEST_ID_HEADERS: &[&str] = &["x-request-id", "request-id", "x-generation-id"];

/// The longest piece of a non-JSON error body kept as the message.
const BODY_SNIPPET: usize = 512;

/// A provider's own error vocabulary, which the classification algorithm reads: the error type and code
/// names it puts in bodies and mid-stream events, and the message phrases that mean the prompt did not fit
/// the context window. Each provider crate declares its table; this crate names no provider.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ErrorTable {
    /// Error type or code names and the kind each means (e.g. `("overloaded_error", Overloaded)`).
    pub names: &'static [(&'static str, ErrorKind)],
    /// Lowercase phrases of a message that say the context window was exceeded.
    pub context_phrases: &'static [&'static str],
    /// The headers that say how much of the provider's rate budget is left.
    pub rate_limits: RateLimitHeaders,
}

/// The names of the headers that say how much of a provider's rate budget is left, each list tried in
/// order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// Requests left.
    pub requests: &'static [&'static str],
    /// Tokens left.
    pub tokens: &'static [&'static str],
}

impl RateLimitHeaders {
    /// The de facto standard of OpenAI-compatible servers: `x-ratelimit-remaining-requests` and
    /// `x-ratelimit-remaining-tokens`.
    pub const STANDARD: RateLimitHeaders = RateLimitHeaders {
        requests: &["x-ratelimit-remaining-requests"],
        tokens: &["x-ratelimit-remaining-tokens"],
    };
}

impl ErrorTable {
    /// No names and no phrases: statuses alone decide.
    pub const EMPTY: ErrorTable = ErrorTable {
        names: &[],
        context_phrases: &[],
        rate_limits: RateLimitHeaders::STANDARD,
    };

    /// The kind `name` means in this table, if it is listed.
    pub fn kind_of(&self, name: &str) -> Option<ErrorKind> {
        self.names
            .iter()
            .find_map(|(n, kind)| (*n == name).then_some(*kind))
    }

    fn names_in(detail: &ProviderDetail) -> impl Iterator<Item = &str> {
        [detail.code.as_deref(), detail.error_type.as_deref()]
            .into_iter()
            .flatten()
    }

    fn says(&self, detail: &ProviderDetail, kind: ErrorKind) -> bool {
        Self::names_in(detail).any(|n| self.kind_of(n) == Some(kind))
    }

    fn says_context_length(&self, detail: &ProviderDetail) -> bool {
        self.says(detail, ErrorKind::ContextLength)
            || detail.message.as_deref().is_some_and(|m| {
                let m = m.to_ascii_lowercase();
                self.context_phrases.iter().any(|p| m.contains(p))
            })
    }
}

/// The kind an HTTP status means, refined by the body's names and phrases from `table`, per the table in
/// the module docs.
///
/// `detail` refines 400/422 (context length), 429 (exhausted quota); `has_retry_hint` refines 402.
pub fn kind_for_status(
    status: u16,
    detail: &ProviderDetail,
    has_retry_hint: bool,
    table: &ErrorTable,
) -> ErrorKind {
    match status {
        400 | 422 if table.says_context_length(detail) => ErrorKind::ContextLength,
        400 | 422 => ErrorKind::BadRequest,
        401 => ErrorKind::Auth,
        402 if has_retry_hint => ErrorKind::RateLimited,
        402 => ErrorKind::QuotaExhausted,
        403 => ErrorKind::Permission,
        404 => ErrorKind::NotFound,
        408 | 504 => ErrorKind::Timeout,
        409 => ErrorKind::Server,
        413 => ErrorKind::PayloadTooLarge,
        429 if table.says(detail, ErrorKind::QuotaExhausted) => ErrorKind::QuotaExhausted,
        429 => ErrorKind::RateLimited,
        503 | 529 => ErrorKind::Overloaded,
        500..=599 => ErrorKind::Server,
        _ => ErrorKind::Unknown,
    }
}

/// The kind of an error that arrived inside a stream after HTTP 200, classified like a status would be:
/// a numeric code (`"code": 429`) goes through [`kind_for_status`]; otherwise the code, then the type,
/// through `table`; a context-length message wins; anything else is `server` (the provider failed after
/// promising an answer).
pub fn kind_for_stream_error(detail: &ProviderDetail, table: &ErrorTable) -> ErrorKind {
    if table.says_context_length(detail) {
        return ErrorKind::ContextLength;
    }
    if let Some(status) = detail
        .code
        .as_deref()
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|s| (400..=599).contains(s))
    {
        return kind_for_status(status, detail, false, table);
    }
    ErrorTable::names_in(detail)
        .find_map(|n| table.kind_of(n))
        .unwrap_or(ErrorKind::Server)
}

/// Reads an error out of a JSON value in any of the common shapes: `{"error":{"message","type","param",
/// "code"}}` (`code` a string or a number), `{"type":"error","error":{"type","message"}}`, `{"error":"…"}`,
/// `{"object":"error","message",…}`. `None` when the value holds no error.
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

/// Reads a bare error object, the inner value of the shapes [`detail_from_value`] takes: `message`,
/// `type` (unless it is just `"error"`), `param` and `code` (a string or a number).
pub fn detail_from_object(obj: &serde_json::Map<String, Value>) -> ProviderDetail {
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

/// What a response's rate-limit headers (named by `names`, e.g. [`RateLimitHeaders::STANDARD`]) say is
/// left. `None` when none is present or parses.
pub fn rate_limit(headers: &HeaderMap, names: &RateLimitHeaders) -> Option<RateLimit> {
    let number = |names: &[&str]| {
        names.iter().find_map(|name| {
            headers
                .get(*name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        })
    };
    let limit = RateLimit {
        remaining_requests: number(names.requests),
        remaining_tokens: number(names.tokens),
    };
    (limit != RateLimit::default()).then_some(limit)
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
    table: &ErrorTable,
) -> Error {
    let detail = detail_from_body(body).unwrap_or_default();
    let hint = retry_after(headers, now);
    let kind = kind_for_status(status, &detail, hint.is_some(), table);
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
        .with_rate_limit(rate_limit(headers, &table.rate_limits))
        .with_should_retry(should_retry(headers))
        .with_request_id_opt(request_id(headers))
        .with_detail(detail)
}

/// The classified error for an error object that arrived inside a stream (or in a 200 body), per
/// [`kind_for_stream_error`] with `table`.
pub fn error_from_stream_detail(
    provider: impl Into<Cow<'static, str>>,
    detail: ProviderDetail,
    table: &ErrorTable,
) -> Error {
    let kind = kind_for_stream_error(&detail, table);
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
