//! One pooled connection serves many requests: a counting TCP proxy in front of wiremock sees a single
//! accepted connection for 20 sequential requests, streamed and not.

use futures::StreamExt;
use llm_claude::{Claude, ClaudeConfig};
use llm_core::{ChatRequest, Provider, StreamEvent};
use llmux_e2e::net::CountingProxy;
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn twenty_sequential_requests_streamed_and_not_use_one_connection() {
    let server = MockServer::start().await;
    let sse = std::fs::read(format!(
        "{}/tests/fixtures/text.sse",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture");
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .and(body_partial_json(serde_json::json!({"stream": true})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream"))
        .expect(10)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/messages"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "id": "msg_1", "type": "message", "role": "assistant", "model": "m",
            "content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn",
            "usage": {"input_tokens": 1, "output_tokens": 1}
        })))
        .expect(10)
        .mount(&server)
        .await;
    let proxy = CountingProxy::start(*server.address()).await;
    let claude =
        Claude::new(ClaudeConfig::new("sk-ant-k").base_url(proxy.base_url())).expect("config");
    let request = ChatRequest::new("m").user("hi");
    for i in 0..20 {
        if i % 2 == 0 {
            let mut stream = claude.stream(&request).await.expect("stream");
            let mut finished = false;
            while let Some(event) = stream.next().await {
                finished |= matches!(event.expect("event"), StreamEvent::Finish(_));
            }
            assert!(finished, "request {i} finished");
        } else {
            let answer = claude.chat(&request).await.expect("chat");
            assert_eq!(answer.text, "ok");
        }
    }
    assert_eq!(proxy.accepted(), 1, "connections accepted");
}
