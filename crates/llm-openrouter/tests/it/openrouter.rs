//! OpenRouter through llm-openai's wire code: body with routing options (snapshot), attribution headers,
//! request ids, and errors delivered with HTTP 200 or 402, against local wiremock servers.

use futures::StreamExt;
use llm_core::{ChatRequest, ErrorKind, Provider, StreamEvent};
use llm_openrouter::{
    API_KEY_ENV, DataCollection, MaxPrice, OpenRouter, OpenRouterConfig, ProviderPreferences,
    ProviderSort,
};
use serde_json::json;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn config(server: &MockServer) -> OpenRouterConfig {
    OpenRouterConfig::new("sk-or-test-123456").base_url(format!("{}/api/v1", server.uri()))
}

fn router(server: &MockServer) -> OpenRouter {
    OpenRouter::new(config(server)).unwrap()
}

fn request() -> ChatRequest {
    ChatRequest::new("anthropic/claude-sonnet-4.5")
        .user("Hi")
        .max_tokens(32)
}

fn completion(id: &str) -> serde_json::Value {
    json!({
        "id": id, "provider": "Anthropic", "model": "anthropic/claude-sonnet-4.5", "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    })
}

#[test]
fn body_with_routing_options_and_model_fallbacks() {
    let config = OpenRouterConfig::new("k")
        .models(["openai/gpt-4o-mini", "meta-llama/llama-3.1-8b-instruct"])
        .provider_preferences(
            ProviderPreferences::default()
                .order(["Anthropic", "Amazon Bedrock"])
                .allow_fallbacks(false)
                .require_parameters(true)
                .data_collection(DataCollection::Deny)
                .ignore(["Azure"])
                .quantizations(["fp8"])
                .sort(ProviderSort::Price)
                .max_price(MaxPrice::default().prompt(1.0).completion(2.0)),
        );
    let router = OpenRouter::new(config).unwrap();
    let encoder = router.client().codec().encoder();
    let request = request()
        .top_k(40)
        .extra("transforms", json!(["middle-out"]));
    encoder.validate(&request).unwrap();
    let body: serde_json::Value =
        serde_json::from_slice(&encoder.encode(&request, true).unwrap()).unwrap();
    insta::assert_json_snapshot!(body);
}

#[test]
fn body_with_tools_a_named_choice_and_a_tool_result() {
    use llm_core::{Message, Tool, ToolCall, ToolChoice, ToolOutput};
    let router = OpenRouter::new(OpenRouterConfig::new("k")).unwrap();
    let encoder = router.client().codec().encoder();
    let request = request()
        .message(Message::tool_calls(
            "",
            [ToolCall::new("call_1", "lookup", json!({"q": "rust"}))],
        ))
        .message(Message::tool_result(
            "call_1",
            "lookup",
            ToolOutput::Text("found".into()),
        ))
        .tool(Tool::new(
            "lookup",
            "Search",
            json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}),
        ))
        .tool_choice(ToolChoice::Tool("lookup".into()))
        .parallel_tool_calls(true);
    router.validate(&request).unwrap();
    let body: serde_json::Value =
        serde_json::from_slice(&encoder.encode(&request, true).unwrap()).unwrap();
    insta::assert_json_snapshot!(body);
    assert_eq!(body["tool_choice"]["function"]["name"], "lookup");
    assert_eq!(body["messages"].as_array().map(Vec::len), Some(3));
}

#[test]
fn a_request_extra_colliding_with_configured_routing_is_a_validation_error() {
    let router = OpenRouter::new(OpenRouterConfig::new("k").models(["a/b"])).unwrap();
    let err = router
        .validate(&request().extra("models", json!(["c/d"])))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(err.violations()[0].param, "models");
    // Without configured routing, per-request routing through `extra` is allowed.
    let plain = OpenRouter::new(OpenRouterConfig::new("k")).unwrap();
    plain
        .validate(&request().extra("provider", json!({"order": ["x"]})))
        .unwrap();
}

#[tokio::test]
async fn sends_attribution_headers_and_takes_the_generation_id_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-or-test-123456"))
        .and(header("http-referer", "https://example.com"))
        .and(header("x-title", "llmux tests"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-generation-id", "gen-from-header")
                .set_body_json(completion("gen-in-body")),
        )
        .expect(1)
        .mount(&server)
        .await;
    let router = OpenRouter::new(
        config(&server)
            .referer("https://example.com")
            .title("llmux tests"),
    )
    .unwrap();
    let answer = router.chat(&request()).await.unwrap();
    assert_eq!(answer.request_id.as_deref(), Some("gen-from-header"));
    assert_eq!(answer.provider, "openrouter");
    assert_eq!(answer.text, "Hello");
}

#[tokio::test]
async fn without_a_generation_id_header_the_body_id_is_the_request_id() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("gen-in-body")))
        .expect(1)
        .mount(&server)
        .await;
    let answer = router(&server).chat(&request()).await.unwrap();
    assert_eq!(answer.request_id.as_deref(), Some("gen-in-body"));
}

#[tokio::test]
async fn stream_with_processing_comments_uses_the_body_id() {
    let server = MockServer::start().await;
    let body = concat!(
        ": OPENROUTER PROCESSING\n\n",
        "data: {\"id\":\"gen-s\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Hi\"}}]}\n\n",
        ": OPENROUTER PROCESSING\n\n",
        "data: {\"id\":\"gen-s\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}\n\n",
        "data: [DONE]\n\n",
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .expect(1)
        .mount(&server)
        .await;
    let items: Vec<_> = router(&server)
        .stream(&request())
        .await
        .unwrap()
        .collect()
        .await;
    let events: Vec<StreamEvent> = items.into_iter().map(Result::unwrap).collect();
    let StreamEvent::Start(start) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(start.request_id.as_deref(), Some("gen-s"));
    assert_eq!(events[1], StreamEvent::TextDelta("Hi".into()));
    assert!(matches!(events[2], StreamEvent::Usage(_)));
    assert_eq!(events.len(), 4);
}

#[tokio::test]
async fn errors_with_http_200_are_classified_like_status_errors() {
    let cases = [
        (
            json!({"error": {"code": 429, "message": "Rate limit exceeded", "metadata": {}}}),
            ErrorKind::RateLimited,
        ),
        (
            json!({"error": {"code": 402, "message": "Insufficient credits"}}),
            ErrorKind::QuotaExhausted,
        ),
        (
            json!({"error": {"code": 502, "message": "Provider returned error"}}),
            ErrorKind::Server,
        ),
        (
            json!({"error": {"code": 503, "message": "No instances available"}}),
            ErrorKind::Overloaded,
        ),
        (
            json!({"error": {"code": 408, "message": "Timed out"}}),
            ErrorKind::Timeout,
        ),
        (
            json!({"error": {"code": 401, "message": "No auth credentials found"}}),
            ErrorKind::Auth,
        ),
    ];
    for (body, kind) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_json(&body))
            .expect(1)
            .mount(&server)
            .await;
        let err = router(&server).chat(&request()).await.unwrap_err();
        assert_eq!(err.kind(), kind, "{body}");
        assert_eq!(err.provider(), Some("openrouter"));
        // The same error as an SSE data event mid-stream.
        let server = MockServer::start().await;
        let stream_body = format!(
            ": OPENROUTER PROCESSING\n\ndata: {{\"id\":\"gen-e\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"a\"}}}}]}}\n\ndata: {body}\n\n"
        );
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_raw(stream_body, "text/event-stream"))
            .expect(1)
            .mount(&server)
            .await;
        let items: Vec<_> = router(&server)
            .stream(&request())
            .await
            .unwrap()
            .collect()
            .await;
        let err = items.last().unwrap().as_ref().unwrap_err();
        assert_eq!(err.kind(), kind, "stream {body}");
        assert_eq!(
            err.request_id(),
            Some("gen-e"),
            "the generation id stays on the error"
        );
    }
}

#[tokio::test]
async fn finish_reason_error_with_an_error_object_ends_the_stream_with_it() {
    let server = MockServer::start().await;
    let body = concat!(
        "data: {\"id\":\"gen-f\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
        "data: {\"id\":\"gen-f\",\"model\":\"m\",\"error\":{\"code\":\"server_error\",\"message\":\"Provider disconnected unexpectedly\"},",
        "\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]}\n\n",
    );
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "text/event-stream"))
        .expect(1)
        .mount(&server)
        .await;
    let items: Vec<_> = router(&server)
        .stream(&request())
        .await
        .unwrap()
        .collect()
        .await;
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.message(), "Provider disconnected unexpectedly");
    assert_eq!(items.len(), 3);
}

#[tokio::test]
async fn http_402_is_quota_exhausted() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(402)
                .set_body_json(json!({"error": {"code": 402, "message": "Insufficient credits. Add more using https://openrouter.ai/credits"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = router(&server).chat(&request()).await.unwrap_err();
    assert_eq!(err.kind(), ErrorKind::QuotaExhausted);
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn health_checks_the_key_endpoint() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/key"))
        .and(header("authorization", "Bearer sk-or-test-123456"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": {"label": "x"}})))
        .expect(1)
        .mount(&server)
        .await;
    router(&server).health().await.unwrap();
}

#[test]
fn from_env_names_the_variable_and_defaults_are_openrouters() {
    let err = OpenRouterConfig::from_lookup(|_| None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(err.message().contains(API_KEY_ENV), "{err}");
    let router = OpenRouter::new(OpenRouterConfig::new("sk-or-secret")).unwrap();
    assert_eq!(
        router.client().codec().chat_url(),
        "https://openrouter.ai/api/v1/chat/completions"
    );
    assert_eq!(router.name(), "openrouter");
    assert!(!format!("{router:?}").contains("sk-or-secret"));
}
