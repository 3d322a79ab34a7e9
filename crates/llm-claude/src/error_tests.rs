//! Every row of Anthropic's error table through the shared classification.

use std::time::SystemTime;

use http::{HeaderMap, HeaderValue};
use llm_core::ErrorKind;

use super::*;

fn anthropic(error_type: &str, message: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "type": "error",
        "error": {"type": error_type, "message": message}
    }))
    .expect("json")
}

fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.insert(*k, HeaderValue::from_static(v));
    }
    h
}

#[test]
fn every_status_row_maps_to_its_kind_and_retry_rule() {
    let rows: [(u16, &str, &str, ErrorKind, bool); 12] = [
        (
            400,
            "invalid_request_error",
            "max_tokens: field required",
            ErrorKind::BadRequest,
            false,
        ),
        (
            400,
            "invalid_request_error",
            "prompt is too long: 210000 tokens > 200000 maximum",
            ErrorKind::ContextLength,
            false,
        ),
        (
            401,
            "authentication_error",
            "invalid x-api-key",
            ErrorKind::Auth,
            false,
        ),
        (
            402,
            "billing_error",
            "credit balance too low",
            ErrorKind::QuotaExhausted,
            false,
        ),
        (
            403,
            "permission_error",
            "not allowed",
            ErrorKind::Permission,
            false,
        ),
        (
            404,
            "not_found_error",
            "model: claude-nope",
            ErrorKind::NotFound,
            false,
        ),
        (
            413,
            "request_too_large",
            "Request exceeds the maximum size",
            ErrorKind::PayloadTooLarge,
            false,
        ),
        (
            429,
            "rate_limit_error",
            "Number of requests has exceeded",
            ErrorKind::RateLimited,
            true,
        ),
        (
            500,
            "api_error",
            "Internal server error",
            ErrorKind::Server,
            true,
        ),
        (
            504,
            "timeout_error",
            "Request timed out",
            ErrorKind::Timeout,
            true,
        ),
        (
            529,
            "overloaded_error",
            "Overloaded",
            ErrorKind::Overloaded,
            true,
        ),
        (
            503,
            "overloaded_error",
            "Overloaded",
            ErrorKind::Overloaded,
            true,
        ),
    ];
    let h = headers(&[("request-id", "req_011")]);
    for (status, error_type, message, kind, retryable) in rows {
        let err = from_response(
            "claude",
            status,
            &h,
            &anthropic(error_type, message),
            SystemTime::now(),
        );
        assert_eq!(err.kind(), kind, "{status} {message}");
        assert_eq!(err.is_retryable(), retryable, "{status}");
        assert_eq!(err.status(), Some(status));
        assert_eq!(err.request_id(), Some("req_011"));
        assert_eq!(err.provider(), Some("claude"));
        let detail = err.detail().expect("detail");
        assert_eq!(detail.error_type.as_deref(), Some(error_type));
        assert_eq!(detail.message.as_deref(), Some(message));
    }
}

#[test]
fn retry_after_and_should_retry_headers_are_honoured() {
    let err = from_response(
        "claude",
        429,
        &headers(&[("retry-after", "7")]),
        &anthropic("rate_limit_error", "slow down"),
        SystemTime::now(),
    );
    assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(7)));

    let err = from_response(
        "claude",
        529,
        &headers(&[("x-should-retry", "true")]),
        &anthropic("overloaded_error", "Overloaded"),
        SystemTime::now(),
    );
    assert!(err.is_retryable());
    let err = from_response(
        "claude",
        500,
        &headers(&[("x-should-retry", "false")]),
        &anthropic("api_error", "no"),
        SystemTime::now(),
    );
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(!err.is_retryable());
}

#[test]
fn an_html_413_keeps_a_snippet_as_message() {
    let body = b"<html><body><h1>413 Request Entity Too Large</h1></body></html>";
    let err = from_response("claude", 413, &HeaderMap::new(), body, SystemTime::now());
    assert_eq!(err.kind(), ErrorKind::PayloadTooLarge);
    assert!(
        err.message().contains("413 Request Entity Too Large"),
        "{}",
        err.message()
    );
    assert!(err.detail().is_none());
}

#[test]
fn stream_error_events_are_classified_by_type() {
    let cases = [
        ("overloaded_error", ErrorKind::Overloaded, true),
        ("api_error", ErrorKind::Server, true),
        ("rate_limit_error", ErrorKind::RateLimited, true),
        ("invalid_request_error", ErrorKind::BadRequest, false),
        ("something_new", ErrorKind::Server, true),
    ];
    for (error_type, kind, retryable) in cases {
        let data = String::from_utf8(anthropic(error_type, "m")).expect("utf8");
        let err = from_stream_data("claude", &data);
        assert_eq!(err.kind(), kind, "{error_type}");
        assert_eq!(err.is_retryable(), retryable, "{error_type}");
        assert_eq!(err.status(), None);
    }
}

#[test]
fn undecodable_stream_error_data_is_still_an_error_with_bounded_text() {
    let long = "é".repeat(1000);
    let err = from_stream_data("claude", &long);
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(err.message().len() <= 512);
}

#[test]
fn anthropics_rate_limit_headers_say_what_is_left() {
    let h = headers(&[
        ("anthropic-ratelimit-requests-remaining", "7"),
        ("anthropic-ratelimit-input-tokens-remaining", "1200"),
    ]);
    let left = classify::rate_limit(&h, &RATE_LIMITS).expect("present");
    assert_eq!(
        (left.remaining_requests, left.remaining_tokens),
        (Some(7), Some(1200))
    );
    let e = classify::error_from_response("claude", 429, &h, b"{}", SystemTime::now(), &ERRORS);
    assert_eq!(e.rate_limit(), Some(left));
}
