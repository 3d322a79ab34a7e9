//! The client against wiremock servers shaped like llama-server: the "still loading" path (503 Loading
//! model, then 200), `wait_ready`, error statuses of the native API, mid-stream errors over HTTP, the key,
//! the chat body llm-openai sends for llama.cpp, and connection reuse.

use std::time::{Duration, Instant};

use futures::StreamExt;
use llm_core::{ChatRequest, ErrorKind, FinishReason, Provider, StreamEvent};
use llm_llamacpp::{CompletionEvent, CompletionRequest, LlamaCpp, LlamaCppConfig};
use llmux_e2e::net::{CountingProxy, RawServer};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn loading() -> ResponseTemplate {
    ResponseTemplate::new(503).set_body_json(json!({
        "error": {"code": 503, "message": "Loading model", "type": "unavailable_error"}
    }))
}

fn ok_health() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({"status": "ok"}))
}

fn chat_answer() -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "smollm2",
        "choices": [{"index": 0, "finish_reason": "length",
                     "message": {"role": "assistant", "content": "Hello there"}}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
        "timings": {"prompt_n": 9, "predicted_n": 2}
    }))
}

fn client(base: &str) -> LlamaCpp {
    LlamaCpp::new(LlamaCppConfig::default().base_url(base)).unwrap()
}

fn request() -> ChatRequest {
    ChatRequest::new("smollm2").user("Hi").max_tokens(2)
}

#[tokio::test]
async fn loading_model_is_overloaded_and_wait_ready_waits_it_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(loading())
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/health"))
        .respond_with(ok_health())
        .expect(2)
        .mount(&server)
        .await;
    let llama = client(&server.uri());
    let err = llama.ready().await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert_eq!(err.status(), Some(503));
    assert!(err.is_retryable());
    let detail = err.detail().unwrap();
    assert_eq!(detail.message.as_deref(), Some("Loading model"));
    assert_eq!(detail.error_type.as_deref(), Some("unavailable_error"));
    // One more 503, then 200.
    llama.wait_ready(Duration::from_secs(10)).await.unwrap();
    llama.health().await.unwrap();
}

#[tokio::test]
async fn wait_ready_gives_up_at_its_limit_with_the_last_error() {
    let server = MockServer::start().await;
    Mock::given(path("/health"))
        .respond_with(loading())
        .mount(&server)
        .await;
    let began = Instant::now();
    let err = client(&server.uri())
        .wait_ready(Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(400) && took < Duration::from_secs(5),
        "{took:?}"
    );
}

#[tokio::test]
async fn wait_ready_returns_errors_waiting_cannot_fix_at_once() {
    let server = MockServer::start().await;
    Mock::given(path("/health"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({
            "error": {"code": 401, "message": "Invalid API Key", "type": "authentication_error"}
        })))
        .expect(1)
        .mount(&server)
        .await;
    let err = client(&server.uri())
        .wait_ready(Duration::from_secs(30))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
}

#[tokio::test]
async fn chat_waits_out_a_loading_model_then_sends_again() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(loading())
        .up_to_n_times(1)
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(chat_answer())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/health"))
        .respond_with(ok_health())
        .expect(1)
        .mount(&server)
        .await;
    let answer = client(&server.uri()).chat(&request()).await.unwrap();
    assert_eq!(answer.text, "Hello there");
    assert_eq!(answer.finish_reason, Some(FinishReason::Length));
    assert_eq!(answer.provider, "llamacpp");
}

#[tokio::test]
async fn without_a_load_wait_loading_is_returned_at_once() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(loading())
        .expect(2)
        .mount(&server)
        .await;
    let llama = LlamaCpp::new(
        LlamaCppConfig::default()
            .base_url(server.uri())
            .load_wait(Duration::ZERO),
    )
    .unwrap();
    assert_eq!(
        llama.chat(&request()).await.unwrap_err().kind(),
        ErrorKind::Overloaded
    );
    let err = llama
        .complete(&CompletionRequest::new("x"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
}

#[tokio::test]
async fn native_error_statuses_are_classified() {
    let rows = [
        (
            400,
            "invalid_request_error",
            "Expected 'prompt' to be a string",
            ErrorKind::BadRequest,
        ),
        (
            400,
            "exceed_context_size_error",
            "the request exceeds the available context size",
            ErrorKind::ContextLength,
        ),
        (
            401,
            "authentication_error",
            "Invalid API Key",
            ErrorKind::Auth,
        ),
        (
            404,
            "not_found_error",
            "File Not Found",
            ErrorKind::NotFound,
        ),
        (500, "server_error", "failed to decode", ErrorKind::Server),
    ];
    for (status, kind_name, message, kind) in rows {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/completion"))
            .respond_with(ResponseTemplate::new(status).set_body_json(json!({
                "error": {"code": status, "message": message, "type": kind_name}
            })))
            .expect(2)
            .mount(&server)
            .await;
        let llama = client(&server.uri());
        let whole = llama
            .complete(&CompletionRequest::new("x"))
            .await
            .unwrap_err();
        let streamed = llama
            .complete_stream(&CompletionRequest::new("x"))
            .await
            .err()
            .expect("an error before the stream");
        for err in [whole, streamed] {
            assert_eq!(err.kind(), kind, "{status} {message}: {err}");
            assert_eq!(err.status(), Some(status));
            assert_eq!(
                err.detail().and_then(|d| d.message.as_deref()),
                Some(message)
            );
        }
    }
}

#[tokio::test]
async fn native_stream_over_http_and_its_mid_stream_errors() {
    for (fixture_name, want) in [
        ("completion_stream.sse", None),
        ("completion_error.sse", Some(ErrorKind::Server)),
        ("completion_old_error.sse", Some(ErrorKind::Network)),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/completion"))
            .and(header("connection", "close"))
            .respond_with(
                ResponseTemplate::new(200).set_body_raw(fixture(fixture_name), "text/event-stream"),
            )
            .expect(1)
            .mount(&server)
            .await;
        let mut stream = client(&server.uri())
            .complete_stream(&CompletionRequest::new("x"))
            .await
            .unwrap();
        let mut items = Vec::new();
        while let Some(item) = stream.next().await {
            items.push(item);
        }
        match want {
            None => assert!(
                matches!(items.last(), Some(Ok(CompletionEvent::End(_)))),
                "{items:?}"
            ),
            Some(kind) => {
                let err = items.last().unwrap().as_ref().unwrap_err();
                assert_eq!(err.kind(), kind, "{fixture_name}");
                assert_eq!(err.provider(), Some("llamacpp"));
            }
        }
    }
}

#[tokio::test]
async fn the_key_is_sent_everywhere_and_scrubbed_from_errors() {
    let key = "sk-llama-secret-123";
    let server = MockServer::start().await;
    for p in ["/health", "/props", "/completion", "/v1/chat/completions"] {
        Mock::given(path(p))
            .and(header("authorization", format!("Bearer {key}").as_str()))
            .respond_with(ResponseTemplate::new(401).set_body_json(json!({
                "error": {"code": 401, "message": format!("Invalid API Key {key}"), "type": "authentication_error"}
            })))
            .expect(1)
            .mount(&server)
            .await;
    }
    let llama = LlamaCpp::new(
        LlamaCppConfig::default()
            .base_url(server.uri())
            .api_key(key),
    )
    .unwrap();
    let errors = [
        llama.ready().await.unwrap_err(),
        llama.props().await.unwrap_err(),
        llama
            .complete(&CompletionRequest::new("x"))
            .await
            .unwrap_err(),
        llama.chat(&request()).await.unwrap_err(),
    ];
    for err in errors {
        assert_eq!(err.kind(), ErrorKind::Auth);
        let shown = format!("{err} {err:?}");
        assert!(!shown.contains(key), "{shown}");
    }
    assert!(!format!("{llama:?}").contains(key));
}

#[test]
fn chat_body_for_llama_cpp() {
    let llama = client("http://127.0.0.1:8080");
    let request = ChatRequest::new("smollm2")
        .system("Be brief.")
        .user("Hi")
        .max_tokens(16)
        .top_k(20)
        .repeat_penalty(1.1);
    let body: Value = serde_json::from_slice(
        &llama
            .openai()
            .codec()
            .encoder()
            .encode(&request, true)
            .unwrap(),
    )
    .unwrap();
    insta::assert_json_snapshot!(body);
    assert_eq!(
        llama.openai().codec().chat_url(),
        "http://127.0.0.1:8080/v1/chat/completions"
    );
}

#[test]
fn chat_body_with_tools_for_llama_cpp() {
    use llm_core::{Message, Provider as _, Tool, ToolCall, ToolChoice, ToolOutput};
    let llama = client("http://127.0.0.1:8080");
    let request = ChatRequest::new("smollm2")
        .user("Weather in Paris?")
        .message(Message::tool_calls(
            "",
            [ToolCall::new(
                "call_0",
                "get_weather",
                serde_json::json!({"city": "Paris"}),
            )],
        ))
        .message(Message::tool_result(
            "call_0",
            "get_weather",
            ToolOutput::Text("18 C".into()),
        ))
        .tool(Tool::new(
            "get_weather",
            "Weather in a city",
            serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        ))
        .tool_choice(ToolChoice::Required);
    llama.validate(&request).unwrap();
    let body: Value = serde_json::from_slice(
        &llama
            .openai()
            .codec()
            .encoder()
            .encode(&request, true)
            .unwrap(),
    )
    .unwrap();
    insta::assert_json_snapshot!(body);
    assert_eq!(body["tool_choice"], "required");
}

/// llama-server takes a `tool_choice` naming a function as `auto`: such a choice is refused, not dropped.
#[test]
fn a_named_tool_choice_is_a_validation_error() {
    use llm_core::{ErrorKind, Provider as _, Tool, ToolChoice};
    let llama = client("http://127.0.0.1:8080");
    let request = ChatRequest::new("smollm2")
        .user("Weather in Paris?")
        .tool(Tool::new(
            "get_weather",
            "Weather in a city",
            serde_json::json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        ));
    llama
        .validate(&request.clone().tool_choice(ToolChoice::Required))
        .unwrap();
    let err = llama
        .validate(&request.tool_choice(ToolChoice::Tool("get_weather".into())))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(err.violations()[0].param, "tool_choice");
    assert!(
        err.to_string()
            .contains("cannot be made to call one named tool"),
        "{err}"
    );
}

#[tokio::test]
async fn stream_events_and_a_streaming_request_answered_with_json() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(chat_answer())
        .expect(1)
        .mount(&server)
        .await;
    let mut stream = client(&server.uri()).stream(&request()).await.unwrap();
    let mut events = Vec::new();
    while let Some(event) = stream.next().await {
        events.push(event.unwrap());
    }
    assert!(matches!(events.first(), Some(StreamEvent::Start(_))));
    assert_eq!(
        events.last(),
        Some(&StreamEvent::Finish(FinishReason::Length))
    );
}

#[tokio::test]
async fn twenty_sequential_requests_share_one_connection() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/chat/completions"))
        .respond_with(chat_answer())
        .expect(10)
        .mount(&server)
        .await;
    Mock::given(path("/completion"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "content": " ok", "stop": true, "stop_type": "eos", "tokens_predicted": 1, "tokens_evaluated": 2
        })))
        .expect(5)
        .mount(&server)
        .await;
    Mock::given(path("/props"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(fixture("props.json"), "application/json"),
        )
        .expect(5)
        .mount(&server)
        .await;
    let proxy = CountingProxy::start(*server.address()).await;
    let llama = client(&proxy.base_url());
    for i in 0..20 {
        match i % 4 {
            0 | 2 => drop(llama.chat(&request()).await.unwrap()),
            1 => drop(llama.complete(&CompletionRequest::new("x")).await.unwrap()),
            _ => drop(llama.props().await.unwrap()),
        }
    }
    assert_eq!(proxy.accepted(), 1);
}

/// llama-server closes a kept-alive connection after a stream; the next request on it fails before any
/// response and is sent once more on a fresh connection.
#[tokio::test]
async fn a_connection_closed_by_the_server_is_replaced_once() {
    // Like llama-server after a stream: each connection answers its first request (keep-alive announced),
    // then reads the next one and closes without answering.
    let server = RawServer::start(|mut conn| async move {
        let body = r#"{"status":"ok"}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nkeep-alive: timeout=5, max=100\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        );
        if conn.write(head.as_bytes()).await.is_ok() {
            // The next request on this connection is read and dropped with the connection.
            let _ = conn.next_request().await;
        }
    })
    .await;
    let llama = client(&server.base_url());
    llama.ready().await.unwrap();
    llama.ready().await.unwrap();
    assert_eq!(server.accepted(), 2);
}

#[tokio::test]
async fn a_chat_still_loading_after_the_wait_is_overloaded_and_not_ready_never_timeout() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/chat/completions"))
        .respond_with(loading())
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/health"))
        .respond_with(loading())
        .mount(&server)
        .await;
    let llama = LlamaCpp::new(
        LlamaCppConfig::default()
            .base_url(server.uri())
            .load_wait(Duration::from_millis(300)),
    )
    .unwrap();
    let err = llama.chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded, "{err}");
    assert_eq!(err.status(), Some(503));
    assert!(err.is_not_ready());
    assert!(err.is_retryable());
}

#[tokio::test]
async fn without_load_wait_reports_a_loading_server_at_once() {
    let server = MockServer::start().await;
    Mock::given(path("/v1/chat/completions"))
        .respond_with(loading())
        .expect(2)
        .mount(&server)
        .await;
    // The fail-fast variant never asks /health: it has somewhere else to go.
    Mock::given(path("/health"))
        .respond_with(loading())
        .expect(0)
        .mount(&server)
        .await;
    let llama = client(&server.uri());
    let fast = llama.without_load_wait();
    assert!(fast.config().load_wait.is_zero());
    assert_eq!(llama.config().load_wait, LlamaCppConfig::DEFAULT_LOAD_WAIT);
    let began = Instant::now();
    let err = fast.chat(&request()).await.unwrap_err();
    assert!(
        err.is_not_ready() && err.kind() == ErrorKind::Overloaded,
        "{err}"
    );
    // Through the trait, as a chain asks for it.
    let via_trait = llama
        .without_waiting()
        .expect("llama.cpp can skip the wait");
    let err = via_trait.stream(&request()).await.err().expect("error");
    assert!(err.is_not_ready(), "{err}");
    assert!(began.elapsed() < Duration::from_secs(5));
}
