//! End to end against llm-katan (a real OpenAI-wire server with failure injection), one instance per test.
//! katan's quirks (usage on the finish chunk, no Retry-After, 503 for overload) are not asserted as truth:
//! only kinds and structure are.

use std::time::Duration;

use futures::StreamExt;
use llm_core::{ChatRequest, ErrorKind, Provider, StreamEvent, Timeouts};
use llm_openai::{OpenAi, OpenAiConfig};
use llmux_e2e::Katan;

const KEY: &str = "sk-katan-e2e-key";

fn client(katan: &Katan, timeouts: Timeouts) -> OpenAi {
    OpenAi::new(
        OpenAiConfig::new(KEY)
            .base_url(format!("{}/v1", katan.base_url()))
            .timeouts(timeouts),
    )
    .unwrap()
}

fn request() -> ChatRequest {
    ChatRequest::new(Katan::MODEL)
        .user("Hello katan")
        .max_tokens(8)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_stream_and_health() {
    let katan = Katan::start();
    let openai = client(&katan, Timeouts::default());
    openai.health().await.unwrap();
    let answer = openai.chat(&request()).await.unwrap();
    assert!(!answer.text.is_empty());
    assert_eq!(answer.provider, "openai");
    assert!(answer.finish_reason.is_some());
    assert!(answer.usage.is_some());

    let events: Vec<_> = openai.stream(&request()).await.unwrap().collect().await;
    let events: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();
    assert!(matches!(&events[0], StreamEvent::Start(s) if s.provider == "openai"));
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert!(!text.is_empty());
    assert!(events.iter().any(|e| matches!(e, StreamEvent::Usage(_))));
    assert!(
        matches!(events.last(), Some(StreamEvent::Finish(_))),
        "{events:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_key_is_auth_and_the_key_is_not_leaked() {
    let katan = Katan::builder()
        .args(["--validate-keys", "--api-keys"])
        .arg(format!("openai={KEY}"))
        .start();
    let good = client(&katan, Timeouts::default());
    good.chat(&request()).await.unwrap();
    let wrong = OpenAi::new(
        OpenAiConfig::new("sk-wrong-key-000000").base_url(format!("{}/v1", katan.base_url())),
    )
    .unwrap();
    let err = wrong.chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err:?}");
    assert!(!format!("{err:?}").contains("sk-wrong-key-000000"));
    let err = wrong.stream(&request()).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Auth);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_after_n_requests_is_rate_limited() {
    let katan = Katan::builder().args(["--rate-limit-after", "1"]).start();
    let openai = client(&katan, Timeouts::default());
    openai.chat(&request()).await.unwrap();
    let err = openai.chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err:?}");
    assert!(err.is_retryable());
    let err = openai.stream(&request()).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::RateLimited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_rate_one_is_server() {
    let katan = Katan::builder().args(["--error-rate", "1.0"]).start();
    let openai = client(&katan, Timeouts::default());
    let err = openai.chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server, "{err:?}");
    assert_eq!(err.status(), Some(500));
    let err = openai.stream(&request()).await.err().unwrap();
    assert_eq!(err.kind(), ErrorKind::Server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_inflight_exceeded_is_overloaded() {
    // Requests are held by the latency so that they overlap; more of them than the limit run at once.
    let katan = Katan::builder()
        .args([
            "--max-inflight",
            "1",
            "--max-concurrent",
            "8",
            "--latency-ms",
            "400",
        ])
        .start();
    let openai = client(&katan, Timeouts::default());
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let openai = openai.clone();
            tokio::spawn(async move { openai.chat(&request()).await })
        })
        .collect();
    let mut kinds = Vec::new();
    for call in calls {
        kinds.push(call.await.unwrap().err().map(|e| e.kind()));
    }
    assert!(kinds.contains(&None), "one request is served: {kinds:?}");
    assert!(kinds.contains(&Some(ErrorKind::Overloaded)), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_after_n_requests_is_timeout() {
    let katan = Katan::builder().args(["--timeout-after", "1"]).start();
    let openai = client(&katan, Timeouts::default());
    openai.chat(&request()).await.unwrap();
    let err = openai.chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_eq!(err.status(), Some(504));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latency_beyond_a_short_client_limit_is_timeout() {
    let katan = Katan::builder().args(["--latency-ms", "3000"]).start();
    let openai = client(
        &katan,
        Timeouts::default().first_byte(Duration::from_millis(300)),
    );
    let err = openai.chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert!(err.status().is_none(), "our own limit, not the server's");
}

fn weather() -> llm_core::Tool {
    llm_core::Tool::new(
        "get_weather",
        "The current weather in a city",
        serde_json::json!({
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"]
        }),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tool_calls_whole_and_streamed_then_the_result_goes_back() {
    let katan = Katan::start();
    let openai = client(&katan, Timeouts::default());
    let ask = ChatRequest::new(Katan::MODEL)
        .user("What is the weather in Paris?")
        .tool(weather())
        .tool_choice(llm_core::ToolChoice::Required);
    let answer = openai.chat(&ask).await.unwrap();
    assert_eq!(
        answer.finish_reason,
        Some(llm_core::FinishReason::ToolCalls)
    );
    assert_eq!(answer.tool_calls.len(), 1, "{answer:?}");
    let call = &answer.tool_calls[0];
    assert_eq!(call.name, "get_weather");
    assert!(!call.id.is_empty());
    // katan derives the arguments from the schema: a string field becomes a test value.
    assert!(call.arguments["city"].is_string(), "{:?}", call.arguments);

    // katan answers a streaming request with tools as plain JSON (its quirk): the driver replays it.
    let events: Vec<_> = openai.stream(&ask).await.unwrap().collect().await;
    let events: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();
    let streamed: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::ToolCall { call, .. } => Some(call.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(streamed.len(), 1);
    assert_eq!(streamed[0].name, "get_weather");
    assert!(
        events
            .iter()
            .any(|e| matches!(e, StreamEvent::ToolCallStart { .. }))
    );

    // The conversation continues with the call and its result.
    let follow_up = ChatRequest::new(Katan::MODEL)
        .user("What is the weather in Paris?")
        .tool(weather())
        .message(llm_core::Message::tool_calls("", [call.clone()]))
        .message(llm_core::Message::tool_result(
            call.id.clone(),
            "get_weather",
            llm_core::ToolOutput::Text("18 C and sunny".into()),
        ));
    let done = openai.chat(&follow_up).await.unwrap();
    assert!(
        !done.text.is_empty() || !done.tool_calls.is_empty(),
        "{done:?}"
    );
}
