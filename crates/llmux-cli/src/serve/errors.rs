//! Failures in the dialect the client speaks: the HTTP status for each [`ErrorKind`], the error body of
//! each API, `retry-after`, and the error event that ends a stream which fails after its first token.
//!
//! The status says whose problem it is. The client's own mistakes keep their 4xx (`validation`,
//! `bad_request`, `context_length` 400, `payload_too_large` 413). What the upstream providers refused
//! because of the gateway's own configuration (their keys, permissions, models, billing: `auth`,
//! `permission`, `not_found`, `quota_exhausted`) is 502: the client's credentials are fine and a 401 would
//! tell its SDK the opposite; the message says what happened without the provider's text, which may
//! quote the gateway's upstream key. Load is passed on so clients back off: `rate_limited` 429,
//! `overloaded` 503 (529 in the Anthropic dialect, as Anthropic sends it), both with `retry-after` when a
//! provider gave a wait. `timeout` is 504; `server`, `network`, `invalid_response` and anything else 502.
//! The gateway's own key check answers 401.

use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use llmux::{Error, ErrorKind};
use serde_json::{Value, json};

/// Which API a request came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// OpenAI Chat Completions.
    OpenAi,
    /// Anthropic Messages.
    Anthropic,
}

impl Dialect {
    /// `openai` or `anthropic`, as the metrics label it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Dialect::OpenAi => "openai",
            Dialect::Anthropic => "anthropic",
        }
    }
}

/// A failure ready to be sent: status, dialect, type, message and wait.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The dialect of the body.
    pub dialect: Dialect,
    /// The error's type in that dialect (`invalid_request_error`, `rate_limit_error`, …).
    pub kind: &'static str,
    /// OpenAI's `code` (e.g. `context_length_exceeded`), when there is one.
    pub code: Option<&'static str>,
    /// What happened.
    pub message: String,
    /// The wait to send as `retry-after`.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// The client's request is malformed or unsupported (400).
    pub fn invalid(dialect: Dialect, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            dialect,
            kind: "invalid_request_error",
            code: None,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The request body is larger than the gateway accepts (413).
    pub fn too_large(dialect: Dialect, limit: usize) -> ApiError {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            dialect,
            kind: match dialect {
                Dialect::OpenAi => "invalid_request_error",
                Dialect::Anthropic => "request_too_large",
            },
            code: None,
            message: format!("the request body is larger than {limit} bytes"),
            retry_after: None,
        }
    }

    /// A missing or unknown gateway key (401).
    pub fn unauthorized(dialect: Dialect) -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            dialect,
            kind: "authentication_error",
            code: match dialect {
                Dialect::OpenAi => Some("invalid_api_key"),
                Dialect::Anthropic => None,
            },
            message: "missing or unknown gateway key (send it as `Authorization: Bearer KEY` or `x-api-key: KEY`)".to_owned(),
            retry_after: None,
        }
    }

    /// Too many streams are open (503, 529 for Anthropic), retry in a second.
    pub fn busy(dialect: Dialect, limit: usize, what: &str) -> ApiError {
        let mut e = ApiError::from_kind(
            dialect,
            ErrorKind::Overloaded,
            format!("the gateway already serves {limit} {what}; retry shortly"),
        );
        e.retry_after = Some(Duration::from_secs(1));
        e
    }

    /// The key used up its `--key-rpm` for this minute (429).
    pub fn over_rpm(dialect: Dialect, wait: Duration) -> ApiError {
        let mut e = ApiError::from_kind(
            dialect,
            ErrorKind::RateLimited,
            "this gateway key made its requests for this minute; retry later".to_owned(),
        );
        e.retry_after = Some(wait);
        e
    }

    /// The failure `error` of the chain, as the client's dialect tells it.
    pub fn from_error(dialect: Dialect, error: &Error) -> ApiError {
        let kind = error.kind();
        let message = match kind {
            // The provider's text may quote what it was sent (katan prints the expected key): never relay it.
            ErrorKind::Auth | ErrorKind::Permission => format!(
                "the upstream provider{} rejected the gateway's credentials ({}); the gateway's configuration needs fixing",
                error
                    .provider()
                    .map(|p| format!(" {p}"))
                    .unwrap_or_default(),
                kind.as_str()
            ),
            ErrorKind::Validation if !error.violations().is_empty() => {
                let list: Vec<String> =
                    error.violations().iter().map(ToString::to_string).collect();
                format!("{error}: {}", list.join("; "))
            }
            _ => error.to_string(),
        };
        let mut e = ApiError::from_kind(dialect, kind, message);
        e.retry_after = error.retry_after();
        e
    }

    fn from_kind(dialect: Dialect, kind: ErrorKind, message: String) -> ApiError {
        let anthropic = dialect == Dialect::Anthropic;
        let (status, openai_type, anthropic_type, code) = match kind {
            ErrorKind::Validation | ErrorKind::BadRequest => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_request_error",
                None,
            ),
            ErrorKind::ContextLength => (
                StatusCode::BAD_REQUEST,
                "invalid_request_error",
                "invalid_request_error",
                Some("context_length_exceeded"),
            ),
            ErrorKind::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request_error",
                "request_too_large",
                None,
            ),
            ErrorKind::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_error",
                "rate_limit_error",
                Some("rate_limit_exceeded"),
            ),
            ErrorKind::Overloaded if anthropic => (
                // Anthropic's own overload status; its SDK retries it.
                StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE),
                "server_error",
                "overloaded_error",
                None,
            ),
            ErrorKind::Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "server_error",
                "overloaded_error",
                Some("overloaded"),
            ),
            ErrorKind::Timeout => (
                StatusCode::GATEWAY_TIMEOUT,
                "timeout_error",
                "timeout_error",
                None,
            ),
            ErrorKind::Auth
            | ErrorKind::Permission
            | ErrorKind::NotFound
            | ErrorKind::QuotaExhausted => (
                StatusCode::BAD_GATEWAY,
                "upstream_error",
                "api_error",
                Some("upstream_rejected_gateway"),
            ),
            _ => (StatusCode::BAD_GATEWAY, "server_error", "api_error", None),
        };
        ApiError {
            status,
            dialect,
            kind: if anthropic {
                anthropic_type
            } else {
                openai_type
            },
            code: if anthropic { None } else { code },
            message,
            retry_after: None,
        }
    }

    /// The error body in the dialect.
    pub fn body(&self) -> Value {
        match self.dialect {
            Dialect::OpenAi => json!({"error": {
                "message": self.message,
                "type": self.kind,
                "param": null,
                "code": self.code,
            }}),
            Dialect::Anthropic => json!({
                "type": "error",
                "error": {"type": self.kind, "message": self.message},
            }),
        }
    }

    /// The SSE event that ends a stream failing after its first token: OpenAI's `data: {"error":…}` (no
    /// `[DONE]` follows), Anthropic's `event: error`.
    pub fn stream_event(&self) -> String {
        match self.dialect {
            Dialect::OpenAi => format!("data: {}\n\n", self.body()),
            Dialect::Anthropic => format!("event: error\ndata: {}\n\n", self.body()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(wait) = self.retry_after {
            // Whole seconds, rounded up: `retry-after` takes no fractions.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
            headers.insert(
                "retry-after-ms",
                HeaderValue::from(u64::try_from(wait.as_millis()).unwrap_or(u64::MAX)),
            );
        }
        if self.status == StatusCode::BAD_GATEWAY && self.code == Some("upstream_rejected_gateway")
        {
            // Retrying cannot fix the gateway's configuration.
            headers.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        (self.status, headers, self.body().to_string()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_status_in_both_dialects() {
        for &kind in ErrorKind::ALL {
            let error = Error::new(kind, "boom").with_provider("openai");
            let openai = ApiError::from_error(Dialect::OpenAi, &error);
            let anthropic = ApiError::from_error(Dialect::Anthropic, &error);
            let expected = match kind {
                ErrorKind::Validation | ErrorKind::BadRequest | ErrorKind::ContextLength => 400,
                ErrorKind::PayloadTooLarge => 413,
                ErrorKind::RateLimited => 429,
                ErrorKind::Overloaded => 503,
                ErrorKind::Timeout => 504,
                _ => 502,
            };
            assert_eq!(openai.status.as_u16(), expected, "{kind}");
            let anthropic_expected = if kind == ErrorKind::Overloaded {
                529
            } else {
                expected
            };
            assert_eq!(anthropic.status.as_u16(), anthropic_expected, "{kind}");
            assert_eq!(anthropic.body()["type"], "error");
            assert!(openai.body()["error"]["message"].is_string());
        }
    }

    #[test]
    fn upstream_auth_failures_do_not_relay_the_provider_text_and_waits_become_headers() {
        let error =
            Error::new(ErrorKind::Auth, "expected key sk-secret-upstream").with_provider("openai");
        let e = ApiError::from_error(Dialect::OpenAi, &error);
        assert!(!e.message.contains("sk-secret"), "{}", e.message);
        assert_eq!(e.status, StatusCode::BAD_GATEWAY);
        let limited = Error::new(ErrorKind::RateLimited, "slow down")
            .with_retry_after(Some(Duration::from_millis(1500)));
        let response = ApiError::from_error(Dialect::Anthropic, &limited).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(response.headers()["retry-after-ms"], "1500");
        let event = ApiError::from_error(Dialect::Anthropic, &limited).stream_event();
        assert!(event.starts_with("event: error\ndata: {"), "{event}");
    }
}
