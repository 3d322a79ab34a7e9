//! End to end against llm-katan's Anthropic endpoint (`POST /v1/messages`), a server nobody on this project
//! wrote, with its failure injection. Katan's known differences from the real API (no `ping`, no mid-stream
//! errors, 503 instead of 529, `anthropic-version` not required) are not asserted as truth here; the wiremock
//! and fixture tests cover the real API's shapes.

use std::time::Duration;

use futures::StreamExt;
use llm_claude::{Claude, ClaudeConfig};
use llm_core::{ChatRequest, ErrorKind, FinishReason, Provider, StreamEvent, Timeouts};
use llmux_e2e::Katan;

fn claude(katan: &Katan) -> Claude {
    Claude::new(ClaudeConfig::new("sk-ant-e2e").base_url(katan.base_url())).expect("config")
}

fn request(prompt: &str) -> ChatRequest {
    ChatRequest::new(Katan::MODEL)
        .system("You are terse.")
        .user(prompt)
        .max_tokens(64)
}

#[tokio::test]
async fn chat_returns_text_usage_and_finish() {
    let katan = Katan::start();
    let answer = claude(&katan)
        .chat(&request("hello katan"))
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", katan.log_tail(20)));
    assert!(answer.text.contains("User: hello katan"), "{}", answer.text);
    assert_eq!(answer.model, Katan::MODEL);
    assert_eq!(answer.provider, "claude");
    assert_eq!(answer.finish_reason, Some(FinishReason::Stop));
    let usage = answer.usage.expect("usage");
    assert!(usage.input_tokens.is_some_and(|n| n > 0), "{usage:?}");
    assert!(usage.output_tokens.is_some_and(|n| n > 0), "{usage:?}");
}

#[tokio::test]
async fn stream_yields_start_text_usage_finish() {
    let katan = Katan::start();
    let mut stream = claude(&katan)
        .stream(&request("stream please"))
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", katan.log_tail(20)));
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.expect("no error"));
    }
    let StreamEvent::Start(start) = &events[0] else {
        panic!("first event {:?}", events[0]);
    };
    assert_eq!(start.model, Katan::MODEL);
    assert!(
        start
            .response_id
            .as_deref()
            .is_some_and(|id| id.starts_with("msg_"))
    );
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert!(text.contains("User: stream please"), "{text}");
    assert!(
        events
            .iter()
            .filter(|e| matches!(e, StreamEvent::TextDelta(_)))
            .count()
            > 1
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, StreamEvent::Usage(u) if u.output_tokens.is_some_and(|n| n > 0)))
    );
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish(FinishReason::Stop))
    );
}

#[tokio::test]
async fn wrong_key_is_auth_and_the_right_key_works() {
    let katan = Katan::builder()
        .args(["--validate-keys", "--api-keys", "anthropic=sk-ant-right"])
        .start();
    let wrong = Claude::new(ClaudeConfig::new("sk-ant-wrong-key").base_url(katan.base_url()))
        .expect("config");
    let err = wrong.chat(&request("x")).await.expect_err("wrong key");
    assert_eq!(err.kind(), ErrorKind::Auth, "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(err.status(), Some(401));
    // Katan echoes the key it got; the error must not.
    assert!(
        !format!("{err} {err:?}").contains("sk-ant-wrong-key"),
        "{err:?}"
    );

    let right =
        Claude::new(ClaudeConfig::new("sk-ant-right").base_url(katan.base_url())).expect("config");
    right.chat(&request("x")).await.expect("right key");
    let err = wrong
        .stream(&request("x"))
        .await
        .map(drop)
        .expect_err("wrong key");
    assert_eq!(err.kind(), ErrorKind::Auth);
}

#[tokio::test]
async fn rate_limit_after_n_requests_is_rate_limited() {
    let katan = Katan::builder().args(["--rate-limit-after", "1"]).start();
    let c = claude(&katan);
    c.chat(&request("first"))
        .await
        .expect("first request passes");
    let err = c.chat(&request("second")).await.expect_err("429");
    assert_eq!(err.kind(), ErrorKind::RateLimited, "{err:?}");
    assert_eq!(err.status(), Some(429));
    assert!(err.is_retryable());
    let err = c
        .stream(&request("third"))
        .await
        .map(drop)
        .expect_err("429");
    assert_eq!(err.kind(), ErrorKind::RateLimited);
}

#[tokio::test]
async fn error_rate_one_is_server() {
    let katan = Katan::builder().args(["--error-rate", "1.0"]).start();
    let c = claude(&katan);
    for streaming in [false, true] {
        let err = if streaming {
            c.stream(&request("x")).await.map(drop).expect_err("500")
        } else {
            c.chat(&request("x")).await.map(drop).expect_err("500")
        };
        assert_eq!(err.kind(), ErrorKind::Server, "{err:?}");
        assert_eq!(err.status(), Some(500));
        assert!(err.is_retryable());
        assert_eq!(
            err.detail().and_then(|d| d.error_type.as_deref()),
            Some("api_error")
        );
    }
}

#[tokio::test]
async fn too_many_inflight_requests_are_overloaded() {
    let katan = Katan::builder()
        .args([
            "--max-inflight",
            "1",
            "--latency-ms",
            "1500",
            "--max-concurrent",
            "4",
        ])
        .start();
    let c = claude(&katan);
    let req = request("crowd");
    let results = futures::future::join_all((0..4).map(|_| c.chat(&req))).await;
    let overloaded: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
    assert!(!overloaded.is_empty(), "no request was turned away");
    assert!(results.iter().any(Result::is_ok), "one request is served");
    for err in overloaded {
        assert_eq!(err.kind(), ErrorKind::Overloaded, "{err:?}");
        assert_eq!(err.status(), Some(503));
        assert!(err.is_retryable());
    }
}

#[tokio::test]
async fn timeout_after_n_requests_is_a_timeout() {
    let katan = Katan::builder().args(["--timeout-after", "1"]).start();
    let c = claude(&katan);
    c.chat(&request("first"))
        .await
        .expect("first request passes");
    let err = c.chat(&request("second")).await.expect_err("504");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_eq!(err.status(), Some(504));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_slow_server_hits_the_client_first_byte_limit() {
    let katan = Katan::builder()
        .args(["--latency-ms", "5000", "--max-concurrent", "4"])
        .start();
    let limits = Timeouts::default().first_byte(Duration::from_millis(300));
    let c = Claude::new(
        ClaudeConfig::new("sk-ant-e2e")
            .base_url(katan.base_url())
            .timeouts(limits),
    )
    .expect("config");
    let started = std::time::Instant::now();
    let err = c.chat(&request("slow")).await.expect_err("timeout");
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
    assert_eq!(err.status(), None, "our limit, not the server's");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_slow_first_token_hits_the_client_limit_when_streaming() {
    let katan = Katan::builder().args(["--ttft-ms", "5000"]).start();
    let limits = Timeouts::default().first_byte(Duration::from_millis(300));
    let c = Claude::new(
        ClaudeConfig::new("sk-ant-e2e")
            .base_url(katan.base_url())
            .timeouts(limits),
    )
    .expect("config");
    let err = match c.stream(&request("slow stream")).await {
        Err(e) => e,
        Ok(stream) => {
            let items: Vec<_> = stream.collect().await;
            items
                .into_iter()
                .find_map(Result::err)
                .expect("the stream fails")
        }
    };
    assert_eq!(err.kind(), ErrorKind::Timeout, "{err:?}");
}

#[tokio::test]
async fn health_lists_models() {
    let katan = Katan::start();
    // Katan serves `/v1/models` from its OpenAI side, which wants a bearer header; a gateway-style extra
    // header provides it (the real API accepts `x-api-key` there).
    let c = Claude::new(
        ClaudeConfig::new("sk-ant-e2e")
            .base_url(katan.base_url())
            .header("authorization", "Bearer katan"),
    )
    .expect("config");
    c.health().await.expect("healthy");
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

#[tokio::test]
async fn streamed_tool_use_arrives_as_tool_call_events_and_an_openai_history_continues_here() {
    let katan = Katan::start();
    let claude = claude(&katan);
    let ask = request("What is the weather in Paris?")
        .tool(weather())
        .tool_choice(llm_core::ToolChoice::Required);
    let events: Vec<_> = claude
        .stream(&ask)
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", katan.log_tail(20)))
        .collect()
        .await;
    let events: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();
    let deltas = events
        .iter()
        .filter(|e| matches!(e, StreamEvent::ToolCallDelta { .. }))
        .count();
    assert!(deltas > 1, "katan streams the input in pieces: {events:?}");
    let call = events
        .iter()
        .find_map(|e| match e {
            StreamEvent::ToolCall { call, .. } => Some(call.clone()),
            _ => None,
        })
        .expect("a finished call");
    assert_eq!(call.name, "get_weather");
    assert!(call.arguments["city"].is_string(), "{:?}", call.arguments);
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish(FinishReason::ToolCalls))
    );

    // A conversation whose call came from an OpenAI-style provider (its id format, a JSON result) goes on
    // here unchanged.
    let openai_call = llm_core::ToolCall::new(
        "call_abc123",
        "get_weather",
        serde_json::json!({"city": "Paris"}),
    );
    let history = request("What is the weather in Paris?")
        .tool(weather())
        .message(llm_core::Message::tool_calls("", [openai_call]))
        .message(llm_core::Message::tool_result(
            "call_abc123",
            "get_weather",
            llm_core::ToolOutput::Json(serde_json::json!({"temp_c": 18})),
        ));
    let answer = claude
        .chat(&history)
        .await
        .unwrap_or_else(|e| panic!("{e:?}\n{}", katan.log_tail(20)));
    assert!(
        !answer.text.is_empty() || !answer.tool_calls.is_empty(),
        "{answer:?}"
    );
}
