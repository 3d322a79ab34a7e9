//! One pooled connection serves many requests: a counting TCP proxy in front of wiremock sees a single
//! accepted connection for 20 sequential requests, streamed and not (a Gemini stream has no terminator,
//! so this also shows a finished stream's body is read to its end and the connection handed back).

use futures::StreamExt;
use llm_core::{ChatRequest, Provider, StreamEvent};
use llm_gemini::{Gemini, GeminiConfig};
use llmux_e2e::net::CountingProxy;
use wiremock::matchers::{method, path};
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
        .and(path("/v1beta/models/m:streamGenerateContent"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(sse, "text/event-stream"))
        .expect(10)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1beta/models/m:generateContent"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": "ok"}]},
                            "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 1, "candidatesTokenCount": 1}
        })))
        .expect(10)
        .mount(&server)
        .await;
    let proxy = CountingProxy::start(*server.address()).await;
    let gemini =
        Gemini::new(GeminiConfig::new("AIza-k").base_url(proxy.base_url())).expect("config");
    let request = ChatRequest::new("m").user("hi");
    for i in 0..20 {
        if i % 2 == 0 {
            let mut stream = gemini.stream(&request).await.expect("stream");
            let mut finished = false;
            while let Some(event) = stream.next().await {
                finished |= matches!(event.expect("event"), StreamEvent::Finish(_));
            }
            assert!(finished, "request {i} finished");
        } else {
            let answer = gemini.chat(&request).await.expect("chat");
            assert_eq!(answer.text, "ok");
        }
    }
    assert_eq!(proxy.accepted(), 1, "connections accepted");
}
