//! End-to-end: the client against a real `llama-server` serving SmolLM2-135M-Instruct (provisioned by
//! `cargo xtask peers`). Assertions are about protocol and structure, never about what the model says.

use std::time::Duration;

use futures::StreamExt;
use llm_core::{ChatRequest, FinishReason, Provider, StreamEvent};
use llm_llamacpp::{CompletionEvent, CompletionRequest, LlamaCpp, LlamaCppConfig};
use llmux_e2e::LlamaServer;

fn client(server: &LlamaServer) -> LlamaCpp {
    LlamaCpp::new(LlamaCppConfig::default().base_url(server.base_url())).unwrap()
}

fn request(max_tokens: i64) -> ChatRequest {
    ChatRequest::new("smollm2")
        .user("Write one short sentence about the sea.")
        .max_tokens(max_tokens)
        .temperature(0.0)
}

#[tokio::test]
async fn chat_health_props_and_native_completion() {
    let server = LlamaServer::start();
    let llama = client(&server);

    // Readiness: the harness waited for 200 already, so one probe and a bounded wait both succeed.
    llama.ready().await.unwrap();
    llama.wait_ready(Duration::from_secs(5)).await.unwrap();
    llama.health().await.unwrap();

    let props = llama.props().await.unwrap();
    assert_eq!(props.total_slots, Some(2));
    let model_path = props.model_path.as_deref().unwrap_or_default();
    assert!(model_path.ends_with(".gguf"), "{model_path}");
    assert!(props.context_size().is_some_and(|n| n > 0), "{props:?}");
    assert!(props.default_generation_settings.is_object());

    // Chat, stopped by the token limit.
    let answer = llama.chat(&request(6)).await.unwrap();
    assert!(!answer.text.is_empty());
    assert_eq!(answer.finish_reason, Some(FinishReason::Length));
    let usage = answer.usage.expect("usage");
    assert_eq!(usage.output_tokens, Some(6));
    assert!(usage.input_tokens.is_some_and(|n| n > 0));
    assert_eq!(answer.provider, "llamacpp");

    // Native completion, whole: stop_type limit, usage from tokens_evaluated/tokens_predicted, timings.
    let completion = llama
        .complete(
            &CompletionRequest::new("The sea is")
                .max_tokens(5)
                .temperature(0.0),
        )
        .await
        .unwrap();
    assert!(!completion.text.is_empty());
    assert_eq!(completion.end.stop_type, "limit");
    assert_eq!(completion.end.finish_reason, FinishReason::Length);
    assert_eq!(completion.end.usage.output_tokens, Some(5));
    assert!(completion.end.usage.input_tokens.is_some_and(|n| n > 0));
    let timings = completion.end.timings.clone().expect("timings");
    assert_eq!(timings.predicted_n, Some(5));
    assert!(timings.predicted_ms.is_some_and(|ms| ms > 0.0));
    assert!(timings.predicted_per_second.is_some());
}

#[tokio::test]
async fn chat_stream_and_native_stream() {
    let server = LlamaServer::start();
    let llama = client(&server);

    let mut stream = llama.stream(&request(8)).await.unwrap();
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.unwrap());
    }
    assert!(matches!(&events[0], StreamEvent::Start(s) if s.provider == "llamacpp"));
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert!(!text.is_empty());
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish(FinishReason::Length))
    );
    let usage = events.iter().find_map(|e| match e {
        StreamEvent::Usage(u) => Some(*u),
        _ => None,
    });
    assert_eq!(usage.expect("usage event").output_tokens, Some(8));

    // Native /completion streaming: text pieces, then one End with the counts and timings; no [DONE].
    let mut native = llama
        .complete_stream(
            &CompletionRequest::new("One, two, three,")
                .max_tokens(6)
                .temperature(0.0),
        )
        .await
        .unwrap();
    let mut pieces = 0;
    let mut end = None;
    while let Some(event) = native.next().await {
        match event.unwrap() {
            CompletionEvent::Text(t) => {
                assert!(end.is_none(), "text after the end");
                assert!(!t.is_empty());
                pieces += 1;
            }
            CompletionEvent::End(e) => end = Some(e),
            other => panic!("unexpected event {other:?}"),
        }
    }
    let end = end.expect("an End event");
    assert!(pieces > 0);
    assert_eq!(end.finish_reason, FinishReason::Length);
    assert_eq!(end.usage.output_tokens, Some(6));
    assert!(end.usage.input_tokens.is_some_and(|n| n > 0));
    assert!(end.timings.is_some_and(|t| t.predicted_n == Some(6)));
}
