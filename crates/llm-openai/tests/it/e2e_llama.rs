//! End to end against llama.cpp's `llama-server` with a real model (SmolLM2-135M) on its OpenAI-compatible
//! `/v1/chat/completions`. Assertions are about protocol and structure, never about what the model says.

use futures::StreamExt;
use llm_core::{ChatRequest, FinishReason, Provider, StreamEvent};
use llm_openai::{OpenAi, OpenAiConfig};
use llmux_e2e::LlamaServer;

fn client(server: &LlamaServer) -> OpenAi {
    let config = OpenAiConfig::compatible("llamacpp", format!("{}/v1", server.base_url()))
        .health_url(format!("{}/health", server.base_url()));
    OpenAi::new(config).unwrap()
}

fn request(max_tokens: i64) -> ChatRequest {
    ChatRequest::new("smollm2")
        .system("You are a helpful assistant.")
        .user("Write a long story about a dragon.")
        .max_tokens(max_tokens)
        .temperature(0.0)
        .seed(1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_respects_max_tokens_with_finish_reason_length_and_reports_usage() {
    let server = LlamaServer::start();
    let llama = client(&server);
    llama.health().await.unwrap();
    let answer = llama.chat(&request(5)).await.unwrap();
    assert!(!answer.text.is_empty());
    assert_eq!(answer.finish_reason, Some(FinishReason::Length));
    let usage = answer.usage.expect("usage");
    assert_eq!(usage.output_tokens, Some(5));
    assert!(usage.input_tokens.unwrap_or(0) > 0);
    assert_eq!(answer.provider, "llamacpp");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_delivers_text_usage_and_length_finish() {
    let server = LlamaServer::start();
    let llama = client(&server);
    let items: Vec<_> = llama.stream(&request(6)).await.unwrap().collect().await;
    let events: Vec<StreamEvent> = items.into_iter().map(Result::unwrap).collect();
    assert!(matches!(&events[0], StreamEvent::Start(s) if s.provider == "llamacpp"));
    let deltas = events.iter().filter(|e| e.is_content()).count();
    assert!((1..=6).contains(&deltas), "{events:?}");
    let usage = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::Usage(u) => Some(*u),
            _ => None,
        })
        .expect("usage event");
    assert_eq!(usage.output_tokens, Some(6));
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish(FinishReason::Length))
    );
}
