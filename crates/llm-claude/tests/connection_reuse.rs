//! One pooled connection serves many requests: a counting TCP proxy in front of wiremock sees a single
//! accepted connection for 20 sequential requests, streamed and not.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::StreamExt;
use llm_claude::{Claude, ClaudeConfig};
use llm_core::{ChatRequest, Provider, StreamEvent};
use tokio::net::{TcpListener, TcpStream};
use wiremock::matchers::{body_partial_json, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// Forwards every accepted connection to `upstream` and counts the accepted connections.
async fn counting_proxy(upstream: std::net::SocketAddr) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                    // Ends when either side closes; errors just end the connection.
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
            });
        }
    });
    (format!("http://{addr}"), accepted)
}

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
    let (base, accepted) = counting_proxy(*server.address()).await;
    let claude = Claude::new(ClaudeConfig::new("sk-ant-k").base_url(base)).expect("config");
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
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "connections accepted");
}
