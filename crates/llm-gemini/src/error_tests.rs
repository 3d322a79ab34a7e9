//! The error table: statuses and `google.rpc.Status` bodies as Gemini documents them.

use std::time::{Duration, SystemTime};

use http::HeaderMap;
use llm_core::{ErrorKind, FinishReason};

use super::*;

fn status_body(code: u16, status: &str, message: &str, details: &str) -> Vec<u8> {
    format!(
        r#"{{"error":{{"code":{code},"message":"{message}","status":"{status}","details":[{details}]}}}}"#
    )
    .into_bytes()
}

fn classify(code: u16, body: &[u8]) -> Error {
    from_response(
        "gemini",
        code,
        &HeaderMap::new(),
        body,
        SystemTime::UNIX_EPOCH,
    )
}

#[test]
fn resource_exhausted_is_a_rate_limit_retried_after_its_retry_info() {
    let body = status_body(
        429,
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota.",
        r#"{"@type":"type.googleapis.com/google.rpc.QuotaFailure","violations":[{"quotaMetric":"generativelanguage.googleapis.com/generate_content_free_tier_requests"}]},
           {"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}"#,
    );
    let e = classify(429, &body);
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert!(e.is_retryable());
    assert_eq!(e.retry_after(), Some(Duration::from_secs(30)));
    assert_eq!(e.status(), Some(429));
    let d = e.detail().unwrap();
    assert_eq!(d.code.as_deref(), Some("429"));
    assert_eq!(d.error_type.as_deref(), Some("RESOURCE_EXHAUSTED"));
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", "7".parse().unwrap());
    let e = from_response("gemini", 429, &headers, &body, SystemTime::UNIX_EPOCH);
    assert_eq!(
        e.retry_after(),
        Some(Duration::from_secs(7)),
        "the header wins"
    );
}

#[test]
fn every_status_of_the_table() {
    for (code, status, kind, retryable) in [
        (400, "INVALID_ARGUMENT", ErrorKind::BadRequest, false),
        (400, "FAILED_PRECONDITION", ErrorKind::BadRequest, false),
        (401, "UNAUTHENTICATED", ErrorKind::Auth, false),
        (403, "PERMISSION_DENIED", ErrorKind::Permission, false),
        (404, "NOT_FOUND", ErrorKind::NotFound, false),
        (500, "INTERNAL", ErrorKind::Server, true),
        (503, "UNAVAILABLE", ErrorKind::Overloaded, true),
        (504, "DEADLINE_EXCEEDED", ErrorKind::Timeout, true),
        (499, "CANCELLED", ErrorKind::Server, true),
    ] {
        let e = classify(code, &status_body(code, status, "m", ""));
        assert_eq!(
            (e.kind(), e.is_retryable()),
            (kind, retryable),
            "{code} {status}"
        );
        assert_eq!(e.message(), "m");
        let mid = from_status(
            "gemini",
            &Status::from_value(&serde_json::json!({"error": {"status": status, "message": "m"}}))
                .unwrap(),
        );
        assert_eq!(mid.kind(), kind, "mid-stream {status}");
    }
}

#[test]
fn a_wrong_key_and_a_too_long_prompt() {
    let bad_key = status_body(
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
        r#"{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"API_KEY_INVALID","domain":"googleapis.com"}"#,
    );
    assert_eq!(classify(400, &bad_key).kind(), ErrorKind::Auth);
    let long = status_body(
        400,
        "INVALID_ARGUMENT",
        "The input token count (1234567) exceeds the maximum number of tokens allowed (1048576).",
        "",
    );
    assert_eq!(classify(400, &long).kind(), ErrorKind::ContextLength);
    let html = classify(502, b"<html>Bad Gateway</html>");
    assert_eq!(html.kind(), ErrorKind::Server);
}

#[test]
fn retry_delays_parse_as_protobuf_durations() {
    assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
    assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
    for bad in ["", "s", "0s", "-1s", "30", "1e9s", "NaNs"] {
        assert_eq!(parse_duration(bad), None, "{bad}");
    }
}

#[test]
fn finish_reasons() {
    assert_eq!(finish_reason("STOP"), FinishReason::Stop);
    assert_eq!(finish_reason("MAX_TOKENS"), FinishReason::Length);
    for filtered in [
        "SAFETY",
        "RECITATION",
        "BLOCKLIST",
        "PROHIBITED_CONTENT",
        "SPII",
        "IMAGE_SAFETY",
    ] {
        assert_eq!(
            finish_reason(filtered),
            FinishReason::ContentFilter,
            "{filtered}"
        );
    }
    assert_eq!(
        finish_reason("MALFORMED_FUNCTION_CALL"),
        FinishReason::Error
    );
    assert_eq!(finish_reason("OTHER"), FinishReason::Other("OTHER".into()));
    assert_eq!(
        block_reason("PROHIBITED_CONTENT"),
        FinishReason::ContentFilter
    );
}
