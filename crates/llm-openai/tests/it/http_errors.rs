//! Every HTTP error row of the OpenAI wire format against a local wiremock server, classified through
//! llm-core: kind, status, retry hint, `x-should-retry`, request id and the provider's own detail.

use std::time::Duration;

use llm_core::{ChatRequest, ErrorKind, Provider};
use llm_openai::{OpenAi, OpenAiConfig};
use llmux_e2e::net::closed_port;
use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn error_body(message: &str, kind: &str, code: Option<&str>) -> serde_json::Value {
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

struct Row {
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: serde_json::Value,
    kind: ErrorKind,
    retryable: bool,
    retry_after: Option<Duration>,
}

fn rows() -> Vec<Row> {
    let row = |status, body, kind, retryable| Row {
        status,
        headers: &[],
        body,
        kind,
        retryable,
        retry_after: None,
    };
    vec![
        row(
            400,
            error_body(
                "Invalid value for 'temperature'",
                "invalid_request_error",
                None,
            ),
            ErrorKind::BadRequest,
            false,
        ),
        row(
            400,
            error_body(
                "This model's maximum context length is 128000 tokens.",
                "invalid_request_error",
                Some("context_length_exceeded"),
            ),
            ErrorKind::ContextLength,
            false,
        ),
        row(
            401,
            error_body(
                "Incorrect API key provided: sk-te****st.",
                "invalid_request_error",
                Some("invalid_api_key"),
            ),
            ErrorKind::Auth,
            false,
        ),
        row(
            403,
            error_body(
                "Country, region, or territory not supported",
                "request_forbidden",
                Some("unsupported_country_region_territory"),
            ),
            ErrorKind::Permission,
            false,
        ),
        row(
            404,
            error_body(
                "The model `gpt-9` does not exist",
                "invalid_request_error",
                Some("model_not_found"),
            ),
            ErrorKind::NotFound,
            false,
        ),
        row(
            408,
            json!({"error": {"message": "Request timed out"}}),
            ErrorKind::Timeout,
            true,
        ),
        row(
            409,
            error_body("Conflict", "server_error", None),
            ErrorKind::Server,
            true,
        ),
        row(
            413,
            error_body("Request too large", "invalid_request_error", None),
            ErrorKind::PayloadTooLarge,
            false,
        ),
        row(
            422,
            error_body("Unprocessable", "invalid_request_error", None),
            ErrorKind::BadRequest,
            false,
        ),
        Row {
            status: 429,
            headers: &[("retry-after-ms", "1500"), ("retry-after", "30")],
            body: error_body(
                "Rate limit reached for requests",
                "requests",
                Some("rate_limit_exceeded"),
            ),
            kind: ErrorKind::RateLimited,
            retryable: true,
            retry_after: Some(Duration::from_millis(1500)),
        },
        Row {
            status: 429,
            headers: &[("retry-after", "7")],
            body: error_body(
                "Rate limit reached",
                "requests",
                Some("rate_limit_exceeded"),
            ),
            kind: ErrorKind::RateLimited,
            retryable: true,
            retry_after: Some(Duration::from_secs(7)),
        },
        row(
            429,
            error_body(
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                Some("insufficient_quota"),
            ),
            ErrorKind::QuotaExhausted,
            false,
        ),
        row(
            500,
            error_body(
                "The server had an error while processing your request.",
                "server_error",
                None,
            ),
            ErrorKind::Server,
            true,
        ),
        row(
            502,
            json!({"error": {"message": "Bad gateway"}}),
            ErrorKind::Server,
            true,
        ),
        row(
            503,
            error_body(
                "The engine is currently overloaded, please try again later.",
                "server_error",
                None,
            ),
            ErrorKind::Overloaded,
            true,
        ),
        row(
            504,
            error_body("Gateway timeout", "server_error", None),
            ErrorKind::Timeout,
            true,
        ),
        Row {
            status: 500,
            headers: &[("x-should-retry", "false")],
            body: error_body("Do not retry this", "server_error", None),
            kind: ErrorKind::Server,
            retryable: false,
            retry_after: None,
        },
        Row {
            status: 400,
            headers: &[("x-should-retry", "true")],
            body: error_body("Retry this one", "invalid_request_error", None),
            kind: ErrorKind::BadRequest,
            retryable: true,
            retry_after: None,
        },
    ]
}

fn client(server: &MockServer) -> OpenAi {
    OpenAi::new(OpenAiConfig::new("sk-test-key-123456").base_url(format!("{}/v1", server.uri())))
        .expect("client")
}

#[tokio::test]
async fn every_error_row_is_classified_for_chat_and_stream() {
    for (i, row) in rows().into_iter().enumerate() {
        for streaming in [false, true] {
            let server = MockServer::start().await;
            let mut response = ResponseTemplate::new(row.status)
                .insert_header("x-request-id", format!("req_{i}").as_str())
                .set_body_json(&row.body);
            for (name, value) in row.headers {
                response = response.insert_header(*name, *value);
            }
            Mock::given(method("POST"))
                .and(path("/v1/chat/completions"))
                .respond_with(response)
                .expect(1)
                .mount(&server)
                .await;
            let request = ChatRequest::new("gpt-4o").user("Hi");
            let openai = client(&server);
            let err = if streaming {
                openai.stream(&request).await.err()
            } else {
                openai.chat(&request).await.err()
            }
            .unwrap_or_else(|| panic!("row {i} should fail"));
            let what = format!("row {i} (http {}, stream {streaming}): {err:?}", row.status);
            assert_eq!(err.kind(), row.kind, "{what}");
            assert_eq!(err.status(), Some(row.status), "{what}");
            assert_eq!(err.is_retryable(), row.retryable, "{what}");
            assert_eq!(err.retry_after(), row.retry_after, "{what}");
            assert_eq!(
                err.request_id(),
                Some(format!("req_{i}").as_str()),
                "{what}"
            );
            assert_eq!(err.provider(), Some("openai"), "{what}");
            let detail = err.detail().expect("detail");
            assert_eq!(
                detail.message.as_deref(),
                row.body["error"]["message"].as_str(),
                "{what}"
            );
            assert_eq!(
                detail.code.as_deref(),
                row.body["error"]["code"].as_str(),
                "{what}"
            );
        }
    }
}

#[tokio::test]
async fn a_key_echoed_by_the_server_never_reaches_the_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(401).set_body_json(error_body(
            "Incorrect API key provided: sk-test-key-123456.",
            "invalid_request_error",
            Some("invalid_api_key"),
        )))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .chat(&ChatRequest::new("gpt-4o").user("Hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("sk-test-key-123456"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[tokio::test]
async fn a_non_json_error_body_keeps_its_text() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(502).set_body_string("<html>bad gateway</html>"))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server)
        .chat(&ChatRequest::new("gpt-4o").user("Hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(err.message().contains("bad gateway"), "{err}");
}

#[tokio::test]
async fn http_200_with_an_error_body_is_classified_like_a_status() {
    let cases = [
        (
            error_body("overloaded", "server_error", Some("overloaded")),
            ErrorKind::Overloaded,
        ),
        (
            json!({"error": {"code": 402, "message": "Insufficient credits"}}),
            ErrorKind::QuotaExhausted,
        ),
        (
            json!({"error": {"code": 429, "message": "Rate limited upstream"}}),
            ErrorKind::RateLimited,
        ),
        (
            json!({"object": "error", "message": "bad things", "type": "BadRequestError", "code": 400}),
            ErrorKind::BadRequest,
        ),
    ];
    for (body, kind) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(
                ResponseTemplate::new(200)
                    .insert_header("x-request-id", "req_200")
                    .set_body_json(&body),
            )
            .expect(2)
            .mount(&server)
            .await;
        let request = ChatRequest::new("gpt-4o").user("Hi");
        let err = client(&server).chat(&request).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{body}");
        assert_eq!(err.request_id(), Some("req_200"));
        // A streaming request answered with a JSON error body gets the same error.
        let err = client(&server).stream(&request).await.err().expect("error");
        assert_eq!(err.kind(), kind, "stream {body}");
    }
}

#[tokio::test]
async fn connection_refused_is_network() {
    let port = closed_port();
    let openai =
        OpenAi::new(OpenAiConfig::new("k").base_url(format!("http://127.0.0.1:{port}/v1")))
            .unwrap();
    let err = openai
        .chat(&ChatRequest::new("m").user("Hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(err.is_retryable());
}

#[tokio::test]
async fn no_first_byte_within_the_limit_is_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .expect(1)
        .mount(&server)
        .await;
    let timeouts = llm_core::Timeouts::default().first_byte(Duration::from_millis(200));
    let openai = OpenAi::new(
        OpenAiConfig::new("k")
            .base_url(format!("{}/v1", server.uri()))
            .timeouts(timeouts),
    )
    .unwrap();
    let err = openai
        .chat(&ChatRequest::new("m").user("Hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn validation_fails_before_anything_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let request = ChatRequest::new("gpt-4o").user("Hi").temperature(5.0);
    let err = client(&server).chat(&request).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    let err = client(&server).stream(&request).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Validation);
}
