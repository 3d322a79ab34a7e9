//! Table-driven tests of the shared classification: one row per case.

// Table rows are tuples written inline so each case reads as one line; naming their types would hide that.
#![allow(clippy::type_complexity)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

/// The names and phrases of every provider crate's table together, so one table of rows exercises the
/// algorithm on all of them (each provider crate tests its own table end to end).
const TEST: ErrorTable = ErrorTable {
    names: &[
        ("overloaded_error", ErrorKind::Overloaded),
        ("unavailable_error", ErrorKind::Overloaded),
        ("overloaded", ErrorKind::Overloaded),
        ("service_unavailable", ErrorKind::Overloaded),
        ("server_error", ErrorKind::Server),
        ("api_error", ErrorKind::Server),
        ("internal_server_error", ErrorKind::Server),
        ("internal_error", ErrorKind::Server),
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

#[test]
fn an_empty_table_leaves_statuses_alone_and_stream_errors_server() {
    let body = br#"{"error":{"type":"overloaded_error","code":"context_length_exceeded"}}"#;
    let e = error_from_response("t", 400, &HeaderMap::new(), body, now(), &ErrorTable::EMPTY);
    assert_eq!(e.kind(), ErrorKind::BadRequest);
    let d = detail_from_body(body).unwrap();
    assert_eq!(
        kind_for_stream_error(&d, &ErrorTable::EMPTY),
        ErrorKind::Server
    );
    assert_eq!(kind_for_stream_error(&d, &TEST), ErrorKind::ContextLength);
}

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

#[test]
fn status_and_body_table() {
    use ErrorKind::*;
    // (status, headers, body, expected kind, expected retryable)
    let rows: &[(u16, &[(&str, &str)], &str, ErrorKind, bool)] = &[
        (
            400,
            &[],
            r#"{"error":{"message":"bad","type":"invalid_request_error"}}"#,
            BadRequest,
            false,
        ),
        (422, &[], "unprocessable", BadRequest, false),
        (
            400,
            &[],
            r#"{"error":{"message":"This model's maximum context length is 8192 tokens","type":"invalid_request_error","code":"context_length_exceeded"}}"#,
            ContextLength,
            false,
        ),
        (
            400,
            &[],
            r#"{"error":{"code":400,"message":"the request exceeds the available context size","type":"exceed_context_size_error"}}"#,
            ContextLength,
            false,
        ),
        (
            400,
            &[],
            r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 210000 tokens > 200000 maximum"}}"#,
            ContextLength,
            false,
        ),
        (
            401,
            &[],
            r#"{"error":{"message":"Incorrect API key","type":"invalid_request_error","code":"invalid_api_key"}}"#,
            Auth,
            false,
        ),
        (401, &[], "<html>401</html>", Auth, false),
        (
            402,
            &[],
            r#"{"error":{"code":402,"message":"Insufficient credits"}}"#,
            QuotaExhausted,
            false,
        ),
        (
            402,
            &[("retry-after", "3")],
            r#"{"error":{"code":402,"message":"in-flight budget"}}"#,
            RateLimited,
            true,
        ),
        (
            403,
            &[],
            r#"{"type":"error","error":{"type":"permission_error","message":"no"}}"#,
            Permission,
            false,
        ),
        (
            404,
            &[],
            r#"{"error":{"message":"The model `x` does not exist","code":"model_not_found"}}"#,
            NotFound,
            false,
        ),
        (
            404,
            &[],
            r#"{"error":"model 'x' not found"}"#,
            NotFound,
            false,
        ),
        (408, &[], "", Timeout, true),
        (409, &[], "", Server, true),
        (413, &[], "<html>too large</html>", PayloadTooLarge, false),
        (
            429,
            &[],
            r#"{"error":{"message":"Rate limit reached","type":"requests","code":"rate_limit_exceeded"}}"#,
            RateLimited,
            true,
        ),
        (
            429,
            &[],
            r#"{"error":{"message":"You exceeded your current quota","type":"insufficient_quota","code":"insufficient_quota"}}"#,
            QuotaExhausted,
            false,
        ),
        (
            429,
            &[("retry-after", "2")],
            r#"{"error":{"message":"quota","code":"insufficient_quota"}}"#,
            QuotaExhausted,
            false,
        ),
        (
            500,
            &[],
            r#"{"type":"error","error":{"type":"api_error","message":"Internal"}}"#,
            Server,
            true,
        ),
        (502, &[], "bad gateway", Server, true),
        (
            503,
            &[],
            r#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#,
            Overloaded,
            true,
        ),
        (
            504,
            &[],
            r#"{"type":"error","error":{"type":"timeout_error","message":"timeout"}}"#,
            Timeout,
            true,
        ),
        (
            529,
            &[("x-should-retry", "true")],
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            Overloaded,
            true,
        ),
        (500, &[("x-should-retry", "false")], "", Server, false),
        (400, &[("x-should-retry", "true")], "", BadRequest, true),
        (418, &[], "teapot", Unknown, false),
        (302, &[], "", Unknown, false),
    ];
    for (i, (status, hdrs, body, kind, retryable)) in rows.iter().enumerate() {
        let e = error_from_response(
            "test",
            *status,
            &headers(hdrs),
            body.as_bytes(),
            now(),
            &TEST,
        );
        assert_eq!(e.kind(), *kind, "row {i}: status {status} body {body}");
        assert_eq!(e.is_retryable(), *retryable, "row {i}: status {status}");
        assert_eq!(e.status(), Some(*status), "row {i}");
        assert_eq!(e.provider(), Some("test"), "row {i}");
    }
}

#[test]
fn provider_detail_is_kept_for_every_shape() {
    let rows: &[(&str, Option<&str>, Option<&str>, Option<&str>, Option<&str>)] = &[
        // body, code, type, message, param
        (
            r#"{"error":{"message":"m","type":"t","param":"p","code":"c"}}"#,
            Some("c"),
            Some("t"),
            Some("m"),
            Some("p"),
        ),
        (
            r#"{"error":{"message":"m","code":402,"metadata":{}}}"#,
            Some("402"),
            None,
            Some("m"),
            None,
        ),
        (
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            None,
            Some("overloaded_error"),
            Some("Overloaded"),
            None,
        ),
        (r#"{"error":"boom"}"#, None, None, Some("boom"), None),
        (
            r#"{"object":"error","message":"vllm says no","type":"BadRequestError","code":400}"#,
            Some("400"),
            Some("BadRequestError"),
            Some("vllm says no"),
            None,
        ),
    ];
    for (body, code, ty, msg, param) in rows {
        let d = detail_from_body(body.as_bytes()).expect(body);
        assert_eq!(d.code.as_deref(), *code, "{body}");
        assert_eq!(d.error_type.as_deref(), *ty, "{body}");
        assert_eq!(d.message.as_deref(), *msg, "{body}");
        assert_eq!(d.param.as_deref(), *param, "{body}");
    }
    assert!(detail_from_body(b"not json").is_none());
    assert!(detail_from_body(br#"{"choices":[]}"#).is_none());
}

#[test]
fn message_falls_back_to_body_text_then_reason() {
    let e = error_from_response(
        "t",
        502,
        &HeaderMap::new(),
        b"<html>bad gateway</html>",
        now(),
        &TEST,
    );
    assert_eq!(e.message(), "<html>bad gateway</html>");
    let e = error_from_response("t", 503, &HeaderMap::new(), b"", now(), &TEST);
    assert_eq!(e.message(), "service unavailable");
    let big = vec![b'x'; 10_000];
    let e = error_from_response("t", 500, &HeaderMap::new(), &big, now(), &TEST);
    assert_eq!(e.message().len(), 512);
}

#[test]
fn stream_error_table() {
    use ErrorKind::*;
    let rows: &[(&str, ErrorKind)] = &[
        (
            r#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            Overloaded,
        ),
        (
            r#"{"error":{"message":"boom","type":"server_error"}}"#,
            Server,
        ),
        (
            r#"{"error":{"code":"429","message":"Rate limit exceeded"}}"#,
            RateLimited,
        ),
        (
            r#"{"error":{"code":502,"message":"Provider returned error"}}"#,
            Server,
        ),
        (
            r#"{"error":{"code":503,"message":"No instances available"}}"#,
            Overloaded,
        ),
        (
            r#"{"error":{"code":"rate_limit_exceeded","message":"x"}}"#,
            RateLimited,
        ),
        (
            r#"{"object":"error","message":"oops","type":"InternalServerError"}"#,
            Server,
        ),
        (r#"{"error":"an ollama failure"}"#, Server),
        (
            r#"{"error":{"code":400,"message":"context","type":"exceed_context_size_error"}}"#,
            ContextLength,
        ),
        (
            r#"{"error":{"type":"insufficient_quota","message":"q"}}"#,
            QuotaExhausted,
        ),
        (
            r#"{"error":{"type":"authentication_error","message":"k"}}"#,
            Auth,
        ),
    ];
    for (body, kind) in rows {
        let d = detail_from_body(body.as_bytes()).expect(body);
        let e = error_from_stream_detail("t", d, &TEST);
        assert_eq!(e.kind(), *kind, "{body}");
        assert_eq!(e.status(), None);
    }
}

#[test]
fn retry_after_table() {
    let date = httpdate::fmt_http_date(now() + Duration::from_secs(30));
    let past = httpdate::fmt_http_date(now() - Duration::from_secs(30));
    let rows: &[(&[(&str, &str)], Option<Duration>)] = &[
        (
            &[("retry-after-ms", "1500")],
            Some(Duration::from_millis(1500)),
        ),
        (
            &[("retry-after-ms", "250.5")],
            Some(Duration::from_micros(250_500)),
        ),
        (
            &[("retry-after-ms", "100"), ("retry-after", "9")],
            Some(Duration::from_millis(100)),
        ),
        (
            &[("retry-after-ms", "-5"), ("retry-after", "9")],
            Some(Duration::from_secs(9)),
        ),
        (
            &[("retry-after-ms", "abc"), ("retry-after", "2")],
            Some(Duration::from_secs(2)),
        ),
        (&[("retry-after", "7")], Some(Duration::from_secs(7))),
        (&[("retry-after", " 7 ")], Some(Duration::from_secs(7))),
        (&[("retry-after", &date)], Some(Duration::from_secs(30))),
        (&[("retry-after", &past)], None),
        (&[("retry-after", "0")], None),
        (&[("retry-after", "-1")], None),
        (&[("retry-after", "NaN")], None),
        (&[("retry-after", "inf")], None),
        (&[("retry-after", "soon")], None),
        (&[("retry-after", "99999999999999999999")], None),
        (&[("retry-after", "86401")], None),
        (&[], None),
    ];
    for (hdrs, expected) in rows {
        assert_eq!(retry_after(&headers(hdrs), now()), *expected, "{hdrs:?}");
    }
}

#[test]
fn malformed_retry_hint_never_hides_the_real_error() {
    let e = error_from_response(
        "t",
        429,
        &headers(&[("retry-after", "garbage")]),
        br#"{"error":{"message":"slow"}}"#,
        now(),
        &TEST,
    );
    assert_eq!(e.kind(), ErrorKind::RateLimited);
    assert_eq!(e.retry_after(), None);
    assert_eq!(e.message(), "slow");
}

#[test]
fn should_retry_and_request_id_headers() {
    assert_eq!(
        should_retry(&headers(&[("x-should-retry", "TRUE")])),
        Some(true)
    );
    assert_eq!(
        should_retry(&headers(&[("x-should-retry", "false")])),
        Some(false)
    );
    assert_eq!(should_retry(&headers(&[("x-should-retry", "maybe")])), None);
    let rows: &[(&[(&str, &str)], Option<&str>)] = &[
        (&[("x-request-id", "req_1")], Some("req_1")),
        (&[("request-id", "req_2")], Some("req_2")),
        (&[("x-generation-id", "gen-3")], Some("gen-3")),
        (&[("request-id", "a"), ("x-request-id", "b")], Some("b")),
        (&[], None),
    ];
    for (hdrs, expected) in rows {
        assert_eq!(request_id(&headers(hdrs)).as_deref(), *expected);
    }
    let e = error_from_response(
        "t",
        500,
        &headers(&[("request-id", "req_9")]),
        b"",
        now(),
        &TEST,
    );
    assert_eq!(e.request_id(), Some("req_9"));
}

#[test]
fn rate_limit_headers_are_read_by_the_names_a_table_gives() {
    let standard = headers(&[
        ("x-ratelimit-remaining-requests", "59"),
        ("x-ratelimit-remaining-tokens", " 149984 "),
    ]);
    let got = rate_limit(&standard, &RateLimitHeaders::STANDARD).expect("present");
    assert_eq!(
        (got.remaining_requests, got.remaining_tokens),
        (Some(59), Some(149984))
    );
    let own = RateLimitHeaders {
        requests: &["x-own-requests-left"],
        tokens: &["x-own-tokens-left", "x-own-input-tokens-left"],
    };
    let theirs = headers(&[
        ("x-own-requests-left", "3"),
        ("x-own-input-tokens-left", "1000"),
    ]);
    let got = rate_limit(&theirs, &own).expect("present");
    assert_eq!(
        (got.remaining_requests, got.remaining_tokens),
        (Some(3), Some(1000))
    );
    let bad = headers(&[("x-ratelimit-remaining-requests", "lots")]);
    assert_eq!(rate_limit(&bad, &RateLimitHeaders::STANDARD), None);
    assert_eq!(rate_limit(&headers(&[]), &RateLimitHeaders::STANDARD), None);
    let e = error_from_response("p", 429, &standard, b"{}", now(), &ErrorTable::EMPTY);
    assert_eq!(e.rate_limit().and_then(|r| r.remaining_requests), Some(59));
}
