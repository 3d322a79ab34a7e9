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

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use llmux::{Error, ErrorKind};
use serde_json::Value;

use crate::dialect::Dialect;

/// What went wrong, before a dialect names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A failure of this kind: the chain's, or the gateway's own (a 400 is `validation`, a full gateway
    /// `overloaded`, a key over its minute `rate_limited`, a body too large `payload_too_large`).
    Kind(ErrorKind),
    /// A missing or unknown gateway key (401).
    GatewayKey,
    /// No route for the method and path (404).
    NoRoute,
    /// A request a keyless gateway refuses: from a browser page (`Origin`), or for another host name
    /// (DNS rebinding) (403).
    Forbidden,
    /// A body that is not `application/json` where a keyless gateway requires it (415).
    MediaType,
    /// A request body that did not arrive in time (408): the client's slowness, not a provider's.
    SlowBody,
}

impl Problem {
    /// The status every API uses for it.
    pub fn status(self) -> StatusCode {
        match self {
            Problem::GatewayKey => StatusCode::UNAUTHORIZED,
            Problem::NoRoute => StatusCode::NOT_FOUND,
            Problem::Forbidden => StatusCode::FORBIDDEN,
            Problem::MediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Problem::SlowBody => StatusCode::REQUEST_TIMEOUT,
            Problem::Kind(kind) => match kind {
                ErrorKind::Validation | ErrorKind::BadRequest | ErrorKind::ContextLength => {
                    StatusCode::BAD_REQUEST
                }
                ErrorKind::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
                ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
                ErrorKind::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
                _ => StatusCode::BAD_GATEWAY,
            },
        }
    }

    /// True when an upstream refused the gateway's own configuration (its keys, permissions, models,
    /// billing): retrying cannot help, and the client's credentials are not the problem.
    pub fn is_gateway_configuration(self) -> bool {
        matches!(
            self,
            Problem::Kind(
                ErrorKind::Auth
                    | ErrorKind::Permission
                    | ErrorKind::NotFound
                    | ErrorKind::QuotaExhausted
            )
        )
    }
}

/// A failure ready to be sent: status, dialect, problem, message and wait.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// The API the body is written in.
    pub dialect: &'static dyn Dialect,
    /// What went wrong.
    pub problem: Problem,
    /// What happened, for the client.
    pub message: String,
    /// The wait to send as `retry-after`.
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// `problem` with `message`, its status as `dialect` gives it.
    pub fn new(
        dialect: &'static dyn Dialect,
        problem: Problem,
        message: impl Into<String>,
    ) -> ApiError {
        ApiError {
            status: dialect.status(problem),
            dialect,
            problem,
            message: message.into(),
            retry_after: None,
        }
    }

    /// The client's request is malformed or unsupported (400).
    pub fn invalid(dialect: &'static dyn Dialect, message: impl Into<String>) -> ApiError {
        ApiError::new(dialect, Problem::Kind(ErrorKind::Validation), message)
    }

    /// The request body is larger than the gateway accepts (413).
    pub fn too_large(dialect: &'static dyn Dialect, limit: usize) -> ApiError {
        ApiError::new(
            dialect,
            Problem::Kind(ErrorKind::PayloadTooLarge),
            format!("the request body is larger than {limit} bytes"),
        )
    }

    /// A missing or unknown gateway key (401).
    pub fn unauthorized(dialect: &'static dyn Dialect) -> ApiError {
        ApiError::new(
            dialect,
            Problem::GatewayKey,
            "missing or unknown gateway key (send it as `Authorization: Bearer KEY` or `x-api-key: KEY`)",
        )
    }

    /// No route for this method and path (404).
    pub fn no_route(dialect: &'static dyn Dialect, method: &str, path: &str) -> ApiError {
        ApiError::new(
            dialect,
            Problem::NoRoute,
            format!("no route for {method} {path}"),
        )
    }

    /// A keyless gateway refuses what a browser page could make it do (403).
    pub fn forbidden(dialect: &'static dyn Dialect, message: impl Into<String>) -> ApiError {
        ApiError::new(dialect, Problem::Forbidden, message)
    }

    /// A keyless gateway takes only JSON bodies (415).
    pub fn media_type(dialect: &'static dyn Dialect) -> ApiError {
        ApiError::new(
            dialect,
            Problem::MediaType,
            "send the body as `content-type: application/json` (a gateway without keys takes nothing else, so \
             no web page can post to it)",
        )
    }

    /// Too many streams are open (503, 529 for Anthropic), retry in a second.
    pub fn busy(dialect: &'static dyn Dialect, limit: usize, what: &str) -> ApiError {
        let mut e = ApiError::new(
            dialect,
            Problem::Kind(ErrorKind::Overloaded),
            format!("the gateway already serves {limit} {what}; retry shortly"),
        );
        e.retry_after = Some(Duration::from_secs(1));
        e
    }

    /// The key used up its `--key-rpm` for this minute (429).
    pub fn over_rpm(dialect: &'static dyn Dialect, wait: Duration) -> ApiError {
        let mut e = ApiError::new(
            dialect,
            Problem::Kind(ErrorKind::RateLimited),
            "this gateway key made its requests for this minute; retry later",
        );
        e.retry_after = Some(wait);
        e
    }

    /// The failure `error` of the chain, as the client's dialect tells it.
    pub fn from_error(dialect: &'static dyn Dialect, error: &Error) -> ApiError {
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
            // An upstream's own words (an org id, a fragment of a key, an internal URL) stay in the gateway's
            // log: the client gets who failed, how, and the id that finds the whole message there.
            _ if error.detail().is_some() => {
                let id = correlation_id();
                tracing::warn!(correlation = %id, error = %error, "an upstream refused or failed a request");
                upstream_summary(error, &id)
            }
            _ => error.to_string(),
        };
        let mut e = ApiError::new(dialect, Problem::Kind(kind), message);
        e.retry_after = error.retry_after();
        e
    }

    /// The error's `type` in its dialect.
    pub fn kind(&self) -> &'static str {
        self.dialect.error_type(self.problem).0
    }

    /// The error body in its dialect.
    pub fn body(&self) -> Value {
        self.dialect.error_body(self)
    }

    /// The SSE text that ends a stream failing after its first token.
    pub fn stream_event(&self) -> String {
        self.dialect.error_event(self)
    }
}

/// A fresh id naming one upstream failure in the gateway's log: the process id and a counter.
fn correlation_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!(
        "llmux-{:x}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// What a client is told of an upstream's failure: the provider, the kind and status, the provider's
/// error type and code (names from a fixed vocabulary, never its message), and the correlation id.
fn upstream_summary(error: &Error, id: &str) -> String {
    let mut text = String::new();
    if let Some(p) = error.provider() {
        text.push_str(p);
        text.push_str(": ");
    }
    text.push_str(error.kind().as_str());
    if let Some(status) = error.status() {
        text.push_str(&format!(" (http {status})"));
    }
    let names: Vec<&str> = error
        .detail()
        .into_iter()
        .flat_map(|d| [d.error_type.as_deref(), d.code.as_deref()])
        .flatten()
        .filter(|n| is_name(n))
        .collect();
    if !names.is_empty() {
        text.push_str(&format!(" [{}]", names.join(", ")));
    }
    text.push_str(&format!(
        "; the provider's message is in the gateway's log under {id}"
    ));
    text
}

/// A provider's error type or code that is a plain name (`rate_limit_exceeded`, `429`), not free text
/// that could carry anything.
fn is_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 64
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
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
        if self.problem.is_gateway_configuration() {
            // Retrying cannot fix the gateway's configuration.
            headers.insert("x-should-retry", HeaderValue::from_static("false"));
        }
        (self.status, headers, self.body().to_string()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anthropic::MESSAGES;
    use crate::openai::CHAT_COMPLETIONS;
    use crate::responses::RESPONSES;

    #[test]
    fn every_kind_has_a_status_in_every_dialect() {
        for &kind in ErrorKind::ALL {
            let error = Error::new(kind, "boom").with_provider("openai");
            let expected = match kind {
                ErrorKind::Validation | ErrorKind::BadRequest | ErrorKind::ContextLength => 400,
                ErrorKind::PayloadTooLarge => 413,
                ErrorKind::RateLimited => 429,
                ErrorKind::Overloaded => 503,
                ErrorKind::Timeout => 504,
                _ => 502,
            };
            for dialect in [&CHAT_COMPLETIONS as &'static dyn Dialect, &RESPONSES] {
                let e = ApiError::from_error(dialect, &error);
                assert_eq!(e.status.as_u16(), expected, "{kind} {}", dialect.name());
                assert!(e.body()["error"]["message"].is_string());
                assert!(e.body()["error"]["type"].is_string());
            }
            let anthropic = ApiError::from_error(&MESSAGES, &error);
            let anthropic_expected = if kind == ErrorKind::Overloaded {
                529
            } else {
                expected
            };
            assert_eq!(anthropic.status.as_u16(), anthropic_expected, "{kind}");
            assert_eq!(anthropic.body()["type"], "error");
        }
        assert_eq!(
            ApiError::unauthorized(&CHAT_COMPLETIONS).body()["error"]["code"],
            "invalid_api_key"
        );
        let missing = ApiError::no_route(&MESSAGES, "GET", "/v2");
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.body()["error"]["type"], "not_found_error");
    }

    #[test]
    fn an_upstream_message_is_not_relayed_only_its_names_and_a_correlation_id() {
        let detail = llmux::ProviderDetail::message(
            "org-SECRET123 has no access; see https://internal.example/x (key sk-ab…yz)",
        )
        .with_code("model_not_found")
        .with_type("invalid_request_error");
        let error = Error::new(ErrorKind::NotFound, "org-SECRET123 has no access")
            .with_provider("openai")
            .with_status(404)
            .with_detail(detail);
        let e = ApiError::from_error(&CHAT_COMPLETIONS, &error);
        for secret in ["SECRET123", "internal.example", "sk-ab"] {
            assert!(!e.message.contains(secret), "{}", e.message);
        }
        assert!(
            e.message.starts_with(
                "openai: not_found (http 404) [invalid_request_error, model_not_found]; "
            ),
            "{}",
            e.message
        );
        assert!(
            e.message.contains("gateway's log under llmux-"),
            "{}",
            e.message
        );
        // A free-text `code` is not a name: it is left out too.
        let sneaky = Error::new(ErrorKind::Server, "boom")
            .with_detail(llmux::ProviderDetail::message("x").with_code("see org-SECRET123"));
        assert!(
            !ApiError::from_error(&CHAT_COMPLETIONS, &sneaky)
                .message
                .contains("SECRET")
        );
        // The gateway's own errors keep their words.
        let own = Error::new(
            ErrorKind::Timeout,
            "no response within the first-byte limit of 5s",
        );
        assert!(
            ApiError::from_error(&CHAT_COMPLETIONS, &own)
                .message
                .contains("first-byte limit")
        );
    }

    #[test]
    fn upstream_auth_failures_do_not_relay_the_provider_text_and_waits_become_headers() {
        let error =
            Error::new(ErrorKind::Auth, "expected key sk-secret-upstream").with_provider("openai");
        let e = ApiError::from_error(&CHAT_COMPLETIONS, &error);
        assert!(!e.message.contains("sk-secret"), "{}", e.message);
        assert_eq!(e.status, StatusCode::BAD_GATEWAY);
        let response = e.into_response();
        assert_eq!(response.headers()["x-should-retry"], "false");
        let limited = Error::new(ErrorKind::RateLimited, "slow down")
            .with_retry_after(Some(Duration::from_millis(1500)));
        let response = ApiError::from_error(&MESSAGES, &limited).into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "2");
        assert_eq!(response.headers()["retry-after-ms"], "1500");
        let event = ApiError::from_error(&MESSAGES, &limited).stream_event();
        assert!(event.starts_with("event: error\ndata: {"), "{event}");
    }
}
