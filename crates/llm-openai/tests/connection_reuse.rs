//! One pooled connection serves many requests: a counting TCP proxy in front of wiremock shows that 20
//! sequential requests, streaming and not, use one connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use llm_core::{ChatRequest, Provider, StreamEvent};
use llm_openai::{OpenAi, OpenAiConfig};
use serde_json::json;
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::{body_partial_json, method};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Forwards every accepted connection to `target` and counts the connections accepted.
async fn counting_proxy(target: std::net::SocketAddr) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(target).await {
                    // The copy ends when either side closes; its result does not matter to the count.
                    let _copied = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("http://{address}"), accepted)
}

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
    let (proxy, accepted) = counting_proxy(*server.address()).await;
    let client = OpenAi::new(OpenAiConfig::new("k").base_url(format!("{proxy}/v1"))).unwrap();
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
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
