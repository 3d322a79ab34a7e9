//! One pooled connection serves many requests: a counting TCP proxy in front of wiremock shows that 20
//! sequential requests, streaming and not, use one connection.

use futures::StreamExt;
use llm_core::{ChatRequest, Provider, StreamEvent};
use llm_openai::{OpenAi, OpenAiConfig};
use llmux_e2e::net::CountingProxy;
use serde_json::json;
use wiremock::matchers::{body_partial_json, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[tokio::test]
async fn twenty_sequential_requests_streaming_and_not_use_one_connection() {
    let server = MockServer::start().await;
    let completion = json!({
        "id": "c", "model": "gpt-4o",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}]
    });
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"stream": false})))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion))
        .expect(10)
        .mount(&server)
        .await;
    let stream_body = concat!(
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"}}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n",
        "data: [DONE]\n\n",
    );
    Mock::given(method("POST"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(ResponseTemplate::new(200).set_body_raw(stream_body, "text/event-stream"))
        .expect(10)
        .mount(&server)
        .await;
    let proxy = CountingProxy::start(*server.address()).await;
    let client =
        OpenAi::new(OpenAiConfig::new("k").base_url(format!("{}/v1", proxy.base_url()))).unwrap();
    let request = ChatRequest::new("gpt-4o").user("Hi");
    for i in 0..20 {
        if i % 2 == 0 {
            assert_eq!(client.chat(&request).await.unwrap().text, "ok");
        } else {
            let events: Vec<_> = client.stream(&request).await.unwrap().collect().await;
            assert!(
                events
                    .iter()
                    .any(|e| matches!(e, Ok(StreamEvent::Finish(_)))),
                "{events:?}"
            );
        }
    }
    assert_eq!(proxy.accepted(), 1);
}
