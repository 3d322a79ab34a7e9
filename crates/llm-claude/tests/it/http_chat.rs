//! Successful exchanges over HTTP against wiremock on 127.0.0.1: what is sent (path, headers, body) and
//! how chat, stream and health answers are read, including mid-stream errors.

use futures::StreamExt;
use llm_claude::{Claude, ClaudeConfig};
use llm_core::{ChatRequest, Error, ErrorKind, FinishReason, Provider, StreamEvent};
use serde_json::json;
use wiremock::matchers::{body_json, header, header_exists, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn config(server: &MockServer) -> ClaudeConfig {
    // A trailing slash on the base URL is tolerated.
    ClaudeConfig::new("sk-ant-test-key").base_url(format!("{}/", server.uri()))
}

fn message_json() -> serde_json::Value {
    json!({
        "id": "msg_01X", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "Hello there"}],
        "stop_reason": "end_turn", "stop_sequence": null,
        "usage": {"input_tokens": 11, "output_tokens": 3}
    })
}

async fn collect(stream: llm_core::ChatStream) -> Vec<Result<StreamEvent, Error>> {
    stream.collect().await
}

#[tokio::test]
async fn chat_sends_the_documented_headers_and_body_and_reads_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", "sk-ant-test-key"))
        .and(header("anthropic-version", "2023-06-01"))
        // (wiremock's `header` matcher splits values on commas: compare the raw header instead)
        .and(|req: &Request| {
            req.headers
                .get("anthropic-beta")
                .is_some_and(|v| v == "beta-a,beta-b")
        })
        .and(header("content-type", "application/json"))
        .and(header("x-gateway", "on"))
        .and(body_json(json!({
            "model": "claude-sonnet-4-5",
            "system": "Be brief.",
            "messages": [{"role": "user", "content": "Hi"}],
            "max_tokens": 4096
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(message_json())
                .insert_header("request-id", "req_chat"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = Claude::new(
        config(&server)
            .beta("beta-a")
            .beta("beta-b")
            .header("x-gateway", "on"),
    )
    .expect("config");
    let r = c
        .chat(
            &ChatRequest::new("claude-sonnet-4-5")
                .system("Be brief.")
                .user("Hi"),
        )
        .await
        .expect("chat");
    assert_eq!(r.text, "Hello there");
    assert_eq!(r.model, "claude-sonnet-4-5-20250929");
    assert_eq!(r.provider, "claude");
    assert_eq!(r.finish_reason, Some(FinishReason::Stop));
    assert_eq!(r.request_id.as_deref(), Some("req_chat"));
    let usage = r.usage.expect("usage");
    assert_eq!(
        (usage.input_tokens, usage.output_tokens),
        (Some(11), Some(3))
    );
}

#[tokio::test]
async fn the_api_version_is_configurable_and_no_key_sends_no_key_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("anthropic-version", "2099-01-01"))
        .respond_with(move |req: &Request| {
            assert!(!req.headers.contains_key("x-api-key"));
            assert!(!req.headers.contains_key("anthropic-beta"));
            ResponseTemplate::new(200).set_body_json(message_json())
        })
        .expect(1)
        .mount(&server)
        .await;
    let c = Claude::new(
        ClaudeConfig::default()
            .base_url(server.uri())
            .api_version("2099-01-01"),
    )
    .expect("config");
    c.chat(&ChatRequest::new("m").user("x"))
        .await
        .expect("chat");
}

#[tokio::test]
async fn stream_decodes_the_sse_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(header("x-api-key", "sk-ant-test-key"))
        .and(header("anthropic-version", "2023-06-01"))
        .respond_with(move |req: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&req.body).expect("json body");
            assert_eq!(body["stream"], json!(true));
            ResponseTemplate::new(200)
                .set_body_raw(fixture("ping.sse"), "text/event-stream")
                .insert_header("request-id", "req_stream")
        })
        .expect(1)
        .mount(&server)
        .await;
    let c = Claude::new(config(&server)).expect("config");
    let items = collect(
        c.stream(&ChatRequest::new("m").user("x"))
            .await
            .expect("stream"),
    )
    .await;
    let events: Vec<StreamEvent> = items.into_iter().map(|i| i.expect("no error")).collect();
    let StreamEvent::Start(start) = &events[0] else {
        panic!("first event {:?}", events[0]);
    };
    assert_eq!(start.request_id.as_deref(), Some("req_stream"));
    assert_eq!(start.response_id.as_deref(), Some("msg_01Ping"));
    assert_eq!(start.model, "claude-haiku-4-5");
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(text, "Hi there");
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish(FinishReason::Stop))
    );
}

#[tokio::test]
async fn a_mid_stream_overloaded_error_is_classified_and_ends_the_stream() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("overloaded.sse"), "text/event-stream")
                .insert_header("request-id", "req_mid"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = Claude::new(config(&server)).expect("config");
    let mut stream = c
        .stream(&ChatRequest::new("m").user("x"))
        .await
        .expect("stream");
    let mut items = Vec::new();
    while let Some(item) = stream.next().await {
        items.push(item);
    }
    assert!(stream.next().await.is_none(), "nothing after the error");
    let err = items
        .pop()
        .expect("items")
        .expect_err("last item is the error");
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert!(err.is_retryable());
    assert_eq!(err.request_id(), Some("req_mid"));
    assert_eq!(err.delivered_bytes(), Some(7));
    assert!(items.iter().all(Result::is_ok));
    assert!(matches!(items.last(), Some(Ok(StreamEvent::TextDelta(t))) if t == "Partial"));
}

#[tokio::test]
async fn a_truncated_http_stream_is_a_network_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("truncated.sse"), "text/event-stream"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = Claude::new(config(&server)).expect("config");
    let items = collect(
        c.stream(&ChatRequest::new("m").user("x"))
            .await
            .expect("stream"),
    )
    .await;
    let err = items.last().expect("items").as_ref().expect_err("error");
    assert_eq!(err.kind(), ErrorKind::Network);
    assert!(
        !items
            .iter()
            .any(|i| matches!(i, Ok(StreamEvent::Finish(_))))
    );
}

#[tokio::test]
async fn a_json_answer_to_a_stream_request_is_replayed_as_events() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(message_json())
                .insert_header("request-id", "req_json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let c = Claude::new(config(&server)).expect("config");
    let items = collect(
        c.stream(&ChatRequest::new("m").user("x"))
            .await
            .expect("stream"),
    )
    .await;
    let events: Vec<StreamEvent> = items.into_iter().map(|i| i.expect("ok")).collect();
    assert!(
        matches!(&events[0], StreamEvent::Start(s) if s.request_id.as_deref() == Some("req_json"))
    );
    assert_eq!(events[1], StreamEvent::TextDelta("Hello there".into()));
    assert!(matches!(events[2], StreamEvent::Usage(_)));
    assert_eq!(events[3], StreamEvent::Finish(FinishReason::Stop));
}

#[tokio::test]
async fn an_undecodable_non_sse_answer_to_a_stream_request_is_invalid_response() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>hello</html>", "text/html"))
        .expect(1)
        .mount(&server)
        .await;
    let c = Claude::new(config(&server)).expect("config");
    let err = c
        .stream(&ChatRequest::new("m").user("x"))
        .await
        .map(drop)
        .expect_err("html");
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
}

#[tokio::test]
async fn health_lists_models_with_the_same_headers() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("x-api-key", "sk-ant-test-key"))
        .and(header_exists("anthropic-version"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"data": [], "has_more": false})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Claude::new(config(&server))
        .expect("config")
        .health()
        .await
        .expect("healthy");
}

#[tokio::test]
async fn health_reports_a_rejected_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = Claude::new(config(&server))
        .expect("config")
        .health()
        .await
        .expect_err("401");
    assert_eq!(err.kind(), ErrorKind::Auth);
}

#[tokio::test]
async fn a_mid_stream_error_never_carries_the_key() {
    let server = MockServer::start().await;
    let data = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"bad key sk-ant-test-key\"}}\n\n";
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(data, "text/event-stream"))
        .expect(1)
        .mount(&server)
        .await;
    let c = Claude::new(config(&server)).expect("config");
    let items = collect(
        c.stream(&ChatRequest::new("m").user("x"))
            .await
            .expect("stream"),
    )
    .await;
    let err = items[0].as_ref().expect_err("error");
    assert_eq!(err.kind(), ErrorKind::Server);
    assert!(!err.to_string().contains("sk-ant-test-key"), "{err}");
    assert!(!format!("{err:?}").contains("sk-ant-test-key"));
}
