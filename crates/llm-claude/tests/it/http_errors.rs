//! Every row of Anthropic's error table, over HTTP against a wiremock server on 127.0.0.1, for both
//! `chat` and `stream`; each mock counts that exactly one request was made.

use std::time::Duration;

use llm_claude::{Claude, ClaudeConfig};
use llm_core::{ChatRequest, ErrorKind, Provider};
use llmux_e2e::net::closed_port;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn claude(server: &MockServer) -> Claude {
    Claude::new(ClaudeConfig::new("sk-ant-test-key").base_url(server.uri())).expect("config")
}

fn request() -> ChatRequest {
    ChatRequest::new("claude-sonnet-4-5").user("Hello")
}

fn anthropic_error(error_type: &str, message: &str) -> serde_json::Value {
    json!({"type": "error", "error": {"type": error_type, "message": message}})
}

struct Row {
    status: u16,
    body: ResponseTemplate,
    kind: ErrorKind,
    retryable: bool,
}

fn rows() -> Vec<Row> {
    let json_row = |status: u16, error_type: &str, message: &str, kind, retryable| Row {
        status,
        body: ResponseTemplate::new(status)
            .set_body_json(anthropic_error(error_type, message))
            .insert_header("request-id", format!("req_{status}").as_str()),
        kind,
        retryable,
    };
    vec![
        json_row(
            400,
            "invalid_request_error",
            "messages: roles must alternate",
            ErrorKind::BadRequest,
            false,
        ),
        json_row(
            400,
            "invalid_request_error",
            "prompt is too long: 208310 tokens > 200000 maximum",
            ErrorKind::ContextLength,
            false,
        ),
        json_row(
            401,
            "authentication_error",
            "invalid x-api-key",
            ErrorKind::Auth,
            false,
        ),
        json_row(
            402,
            "billing_error",
            "Your credit balance is too low",
            ErrorKind::QuotaExhausted,
            false,
        ),
        json_row(
            403,
            "permission_error",
            "Your API key does not have permission",
            ErrorKind::Permission,
            false,
        ),
        json_row(
            404,
            "not_found_error",
            "model: claude-nope",
            ErrorKind::NotFound,
            false,
        ),
        Row {
            status: 413,
            body: ResponseTemplate::new(413)
                .set_body_raw(
                    "<html><body>413 Request Entity Too Large</body></html>",
                    "text/html",
                )
                .insert_header("request-id", "req_413"),
            kind: ErrorKind::PayloadTooLarge,
            retryable: false,
        },
        json_row(
            500,
            "api_error",
            "Internal server error",
            ErrorKind::Server,
            true,
        ),
        json_row(
            504,
            "timeout_error",
            "Request timed out",
            ErrorKind::Timeout,
            true,
        ),
        Row {
            status: 529,
            body: ResponseTemplate::new(529)
                .set_body_json(anthropic_error("overloaded_error", "Overloaded"))
                .insert_header("request-id", "req_529")
                .insert_header("x-should-retry", "true"),
            kind: ErrorKind::Overloaded,
            retryable: true,
        },
    ]
}

#[tokio::test]
async fn every_error_row_is_classified_for_chat_and_stream() {
    for (i, row) in rows().into_iter().enumerate() {
        for streaming in [false, true] {
            let server = MockServer::start().await;
            Mock::given(method("POST"))
                .and(path("/v1/messages"))
                .respond_with(row.body.clone())
                .expect(1)
                .mount(&server)
                .await;
            let c = claude(&server);
            let err = if streaming {
                c.stream(&request())
                    .await
                    .map(drop)
                    .expect_err("error status")
            } else {
                c.chat(&request())
                    .await
                    .map(drop)
                    .expect_err("error status")
            };
            let what = format!(
                "row {i} (http {}) streaming={streaming}: {err:?}",
                row.status
            );
            assert_eq!(err.kind(), row.kind, "{what}");
            assert_eq!(err.is_retryable(), row.retryable, "{what}");
            assert_eq!(err.status(), Some(row.status), "{what}");
            let expected_id = format!("req_{}", row.status);
            assert_eq!(err.request_id(), Some(expected_id.as_str()), "{what}");
            assert_eq!(err.provider(), Some("claude"), "{what}");
        }
    }
}

#[tokio::test]
async fn rate_limit_keeps_the_retry_after_hint() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(
            ResponseTemplate::new(429)
                .set_body_json(anthropic_error(
                    "rate_limit_error",
                    "Number of request tokens has exceeded your per-minute rate limit",
                ))
                .insert_header("retry-after", "12")
                .insert_header("request-id", "req_429"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = claude(&server).chat(&request()).await.expect_err("429");
    assert_eq!(err.kind(), ErrorKind::RateLimited);
    assert!(err.is_retryable());
    assert_eq!(err.retry_after(), Some(Duration::from_secs(12)));
    assert_eq!(err.request_id(), Some("req_429"));
    assert_eq!(
        err.detail().and_then(|d| d.error_type.as_deref()),
        Some("rate_limit_error")
    );
}

#[tokio::test]
async fn should_retry_false_overrides_a_retryable_status() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(500)
                .set_body_json(anthropic_error("api_error", "do not retry this"))
                .insert_header("x-should-retry", "false"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = claude(&server).chat(&request()).await.expect_err("500");
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn an_error_body_with_status_200_is_classified() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(anthropic_error("overloaded_error", "Overloaded"))
                .insert_header("request-id", "req_200"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = claude(&server)
        .chat(&request())
        .await
        .expect_err("error body");
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert_eq!(err.request_id(), Some("req_200"));
}

#[tokio::test]
async fn a_key_echoed_by_the_server_is_scrubbed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(anthropic_error(
            "authentication_error",
            "invalid key sk-ant-test-key",
        )))
        .expect(1)
        .mount(&server)
        .await;
    let err = claude(&server).chat(&request()).await.expect_err("401");
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(!err.to_string().contains("sk-ant-test-key"), "{err}");
    assert!(!format!("{err:?}").contains("sk-ant-test-key"), "{err:?}");
}

#[tokio::test]
async fn an_invalid_request_is_never_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let c = claude(&server);
    let bad = ChatRequest::new("m").assistant("I start").temperature(2.0);
    for err in [
        c.chat(&bad).await.map(drop).expect_err("invalid"),
        c.stream(&bad).await.map(drop).expect_err("invalid"),
        c.validate(&bad).expect_err("invalid"),
    ] {
        assert_eq!(err.kind(), ErrorKind::Validation);
        assert_eq!(err.violations().len(), 2, "{err:?}");
    }
}

#[tokio::test]
async fn a_refused_connection_is_a_network_error() {
    let base = format!("http://127.0.0.1:{}", closed_port());
    let c = Claude::new(ClaudeConfig::new("k").base_url(base)).expect("config");
    let err = c.chat(&request()).await.expect_err("refused");
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.is_retryable());
}
