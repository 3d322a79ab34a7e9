//! End to end against llm-katan's Gemini / Vertex AI endpoint, a server nobody on this project wrote. Katan
//! takes `Authorization: Bearer` or `?key=` but not `x-goog-api-key`, so these tests speak the Vertex AI
//! form (`/v1/projects/{p}/locations/{l}/publishers/google/models/{m}:generateContent`, a bearer token from
//! a token source), which is the path katan serves for it. Katan's streams carry usage and the finish
//! reason only on the last event and no `modelVersion` before it; the fixtures cover the real API's shapes.

use std::sync::Arc;

use futures::StreamExt;
use llm_core::{ApiKey, ChatRequest, Error, ErrorKind, FinishReason, Provider, StreamEvent, Tool};
use llm_gemini::{Gemini, GeminiConfig, TokenSource};
use llmux_e2e::Katan;
use serde_json::json;

const TOKEN: &str = "ya29.katan-e2e";

#[derive(Debug)]
struct Fixed;

impl TokenSource for Fixed {
    fn token(&self) -> Result<ApiKey, Error> {
        Ok(ApiKey::new(TOKEN))
    }
}

fn katan() -> Katan {
    Katan::builder()
        .args(["--providers", "vertexai"])
        .args([
            "--validate-keys",
            "--api-keys",
            &format!("vertexai={TOKEN}"),
        ])
        .start()
}

fn vertex(katan: &Katan) -> Gemini {
    Gemini::new(
        GeminiConfig::vertex("e2e-project", "us-central1")
            .base_url(katan.base_url())
            .token_source(Arc::new(Fixed)),
    )
    .expect("config")
}

fn request(prompt: &str) -> ChatRequest {
    ChatRequest::new(Katan::MODEL)
        .system("You are terse.")
        .user(prompt)
        .max_tokens(64)
}

#[tokio::test]
async fn chat_through_the_vertex_path_with_a_bearer_token() {
    let katan = katan();
    let answer = vertex(&katan)
        .chat(&request("hello katan"))
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", katan.log_tail(20)));
    assert!(answer.text.contains("hello katan"), "{}", answer.text);
    assert_eq!(answer.provider, "vertex");
    assert_eq!(answer.finish_reason, Some(FinishReason::Stop));
    let usage = answer.usage.expect("usage");
    assert!(usage.input_tokens.is_some_and(|n| n > 0), "{usage:?}");
    assert!(usage.output_tokens.is_some_and(|n| n > 0), "{usage:?}");
}

#[tokio::test]
async fn stream_yields_start_text_usage_finish() {
    let katan = katan();
    let mut stream = vertex(&katan)
        .stream(&request("stream please"))
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", katan.log_tail(20)));
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.unwrap_or_else(|e| panic!("{e:?}\n{}", katan.log_tail(20))));
    }
    assert!(
        matches!(events.first(), Some(StreamEvent::Start(_))),
        "{events:?}"
    );
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert!(text.contains("stream please"), "{text}");
    let deltas = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::TextDelta(_)))
        .count();
    assert!(deltas > 1, "katan streams in small pieces: {events:?}");
    assert!(
        events.iter().any(|e| matches!(e, StreamEvent::Usage(_))),
        "{events:?}"
    );
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish(FinishReason::Stop))
    );
}

#[tokio::test]
async fn a_function_declaration_is_answered_with_a_call() {
    let katan = katan();
    let weather = Tool::new(
        "get_weather",
        "The weather in a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    );
    let answer = vertex(&katan)
        .chat(&request("weather in Paris?").tool(weather))
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", katan.log_tail(20)));
    assert_eq!(answer.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(answer.tool_calls.len(), 1);
    let call = &answer.tool_calls[0];
    assert_eq!(call.name, "get_weather");
    assert_eq!(call.arguments["city"], "test_city");
    assert!(
        call.id
            .starts_with(llm_gemini::response::GENERATED_ID_PREFIX)
    );
}

#[tokio::test]
async fn a_wrong_token_is_auth_and_the_rate_limit_is_retryable() {
    let katan = Katan::builder()
        .args(["--providers", "vertexai"])
        .args(["--validate-keys", "--api-keys", "vertexai=right-token"])
        .start();
    let e = vertex(&katan).chat(&request("hi")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth, "{e:?}");
    assert_eq!(e.status(), Some(401));
    assert_eq!(
        e.detail().and_then(|d| d.error_type.as_deref()),
        Some("UNAUTHENTICATED")
    );

    let limited = Katan::builder()
        .args(["--providers", "vertexai", "--rate-limit-after", "1"])
        .start();
    let client = vertex(&limited);
    client
        .chat(&request("first"))
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let e = client.chat(&request("second")).await.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::RateLimited, "{e:?}");
    assert!(e.is_retryable());
    assert_eq!(
        e.detail().and_then(|d| d.error_type.as_deref()),
        Some("RESOURCE_EXHAUSTED")
    );
}
