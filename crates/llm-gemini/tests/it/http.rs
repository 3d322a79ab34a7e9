//! Exchanges over HTTP against wiremock on 127.0.0.1: the exact URLs and headers of the Gemini API and of
//! Vertex AI (key in `x-goog-api-key`, never in the query; a bearer token asked per request), whole and
//! streamed answers through the real driver, errors as Google sends them, embeddings in batches.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::StreamExt;
use llm_core::{
    ApiKey, ChatRequest, Collector, EmbedRequest, Embedder, Error, ErrorKind, FinishReason,
    Provider, StreamEvent, Tool,
};
use llm_gemini::{Gemini, GeminiConfig, TokenSource};
use serde_json::json;
use wiremock::matchers::{
    body_partial_json, header, method, path, query_param, query_param_is_missing,
};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

const KEY: &str = "AIza-test-key-0123";

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn gemini(server: &MockServer) -> Gemini {
    Gemini::new(GeminiConfig::new(KEY).base_url(format!("{}/", server.uri()))).unwrap()
}

fn answer() -> serde_json::Value {
    json!({
        "candidates": [{"content": {"role": "model", "parts": [{"text": "Hello there"}]},
                        "finishReason": "STOP", "index": 0}],
        "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "totalTokenCount": 7},
        "modelVersion": "gemini-2.5-flash", "responseId": "resp-1"
    })
}

fn sse(name: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_raw(fixture(name), "text/event-stream")
}

fn no_key_in_query(req: &Request) -> bool {
    !req.url.as_str().contains(KEY) && req.url.query_pairs().all(|(k, _)| k != "key")
}

#[tokio::test]
async fn chat_sends_the_key_header_to_the_model_url_and_reads_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-2.5-flash:generateContent"))
        .and(header("x-goog-api-key", KEY))
        .and(header("content-type", "application/json"))
        .and(query_param_is_missing("key"))
        .and(no_key_in_query)
        .and(|req: &Request| !req.headers.contains_key("authorization"))
        .and(body_partial_json(json!({
            "contents": [{"role": "user", "parts": [{"text": "Hi"}]}],
            "systemInstruction": {"parts": [{"text": "Be brief."}]},
            "generationConfig": {"maxOutputTokens": 64}
        })))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer()))
        .expect(1)
        .mount(&server)
        .await;
    let request = ChatRequest::new("gemini-2.5-flash")
        .system("Be brief.")
        .user("Hi")
        .max_tokens(64);
    let r = gemini(&server).chat(&request).await.unwrap();
    assert_eq!(r.text, "Hello there");
    assert_eq!(r.finish_reason, Some(FinishReason::Stop));
    assert_eq!(r.usage.unwrap().total_tokens, Some(7));
    assert_eq!(r.provider, "gemini");
    assert_eq!(r.response_id.as_deref(), Some("resp-1"));
}

#[tokio::test]
async fn stream_asks_for_sse_and_reads_every_fixture_through_the_driver() {
    let server = MockServer::start().await;
    for (model, name) in [
        ("text", "text.sse"),
        ("thinking", "thinking.sse"),
        ("calls", "thinking_function_calls.sse"),
        ("safety", "safety.sse"),
    ] {
        Mock::given(method("POST"))
            .and(path(format!(
                "/v1beta/models/{model}:streamGenerateContent"
            )))
            .and(query_param("alt", "sse"))
            .and(query_param_is_missing("key"))
            .and(header("x-goog-api-key", KEY))
            .respond_with(sse(name))
            .expect(1)
            .mount(&server)
            .await;
    }
    let client = gemini(&server);
    let collect = |model: &'static str| {
        let client = client.clone();
        async move {
            let mut stream = client
                .stream(&ChatRequest::new(model).user("Hi"))
                .await
                .unwrap();
            let mut c = Collector::default();
            while let Some(event) = stream.next().await {
                c.push(event.unwrap());
            }
            c.finish()
        }
    };
    let text = collect("text").await;
    assert_eq!(text.text, "Hello, wörld \"quoted\" é!");
    assert_eq!(text.finish_reason, Some(FinishReason::Stop));
    let thinking = collect("thinking").await;
    assert_eq!(thinking.usage.unwrap().reasoning_tokens, Some(45));
    assert_eq!(thinking.usage.unwrap().cached_input_tokens, Some(96));
    assert!(thinking.reasoning.unwrap().contains("That is 4."));
    let calls = collect("calls").await;
    assert_eq!(calls.tool_calls.len(), 2);
    assert_eq!(calls.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(
        collect("safety").await.finish_reason,
        Some(FinishReason::ContentFilter)
    );
}

#[tokio::test]
async fn a_mid_stream_error_ends_the_stream_classified() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse("error_mid_stream.sse"))
        .mount(&server)
        .await;
    let stream = gemini(&server)
        .stream(&ChatRequest::new("m").user("Hi"))
        .await
        .unwrap();
    let items: Vec<Result<StreamEvent, Error>> = stream.collect().await;
    assert!(matches!(&items[1], Ok(StreamEvent::TextDelta(t)) if t == "Once upon"));
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded);
    assert_eq!(err.provider(), Some("gemini"));
}

#[derive(Debug, Default)]
struct Tokens(AtomicUsize);

impl TokenSource for Tokens {
    fn token(&self) -> Result<ApiKey, Error> {
        let n = self.0.fetch_add(1, Ordering::SeqCst);
        Ok(ApiKey::new(format!("ya29.token-{n}")))
    }
}

#[tokio::test]
async fn vertex_posts_to_the_project_path_with_a_fresh_bearer_each_time() {
    let server = MockServer::start().await;
    let prefix =
        "/v1/projects/my-proj/locations/us-central1/publishers/google/models/gemini-2.5-pro";
    Mock::given(method("POST"))
        .and(path(format!("{prefix}:generateContent")))
        .and(header("authorization", "Bearer ya29.token-0"))
        .and(|req: &Request| !req.headers.contains_key("x-goog-api-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer()))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path(format!("{prefix}:streamGenerateContent")))
        .and(query_param("alt", "sse"))
        .and(header("authorization", "Bearer ya29.token-1"))
        .respond_with(sse("text.sse"))
        .expect(1)
        .mount(&server)
        .await;
    let tokens = Arc::new(Tokens::default());
    let vertex = Gemini::new(
        GeminiConfig::vertex("my-proj", "us-central1")
            .base_url(server.uri())
            .token_source(tokens.clone()),
    )
    .unwrap();
    let request = ChatRequest::new("gemini-2.5-pro").user("Hi");
    let r = vertex.chat(&request).await.unwrap();
    assert_eq!(r.provider, "vertex");
    let items: Vec<_> = vertex.stream(&request).await.unwrap().collect().await;
    assert!(items.iter().all(Result::is_ok), "{items:?}");
    assert_eq!(tokens.0.load(Ordering::SeqCst), 2);
}

#[derive(Debug)]
struct NoToken;

impl TokenSource for NoToken {
    fn token(&self) -> Result<ApiKey, Error> {
        Err(Error::new(
            ErrorKind::Auth,
            "token expired and could not be refreshed",
        ))
    }
}

#[tokio::test]
async fn a_token_source_failure_fails_the_request_before_sending() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let vertex = Gemini::new(
        GeminiConfig::vertex("p", "l")
            .base_url(server.uri())
            .token_source(Arc::new(NoToken)),
    )
    .unwrap();
    let e = vertex
        .chat(&ChatRequest::new("m").user("Hi"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert_eq!(e.provider(), Some("vertex"));
}

fn status(code: u16, name: &str, message: &str, details: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(code).set_body_json(json!({
        "error": {"code": code, "message": message, "status": name, "details": details}
    }))
}

#[tokio::test]
async fn errors_are_classified_from_the_status_and_retry_info() {
    let server = MockServer::start().await;
    let cases = [
        (
            "ratelimited",
            status(
                429,
                "RESOURCE_EXHAUSTED",
                "Quota exceeded.",
                json!([{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1.5s"}]),
            ),
            ErrorKind::RateLimited,
        ),
        (
            "unavailable",
            status(503, "UNAVAILABLE", "The model is overloaded.", json!([])),
            ErrorKind::Overloaded,
        ),
        (
            "invalid",
            status(
                400,
                "INVALID_ARGUMENT",
                "Invalid value at 'contents'.",
                json!([]),
            ),
            ErrorKind::BadRequest,
        ),
        (
            "denied",
            status(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers.",
                json!([]),
            ),
            ErrorKind::Permission,
        ),
        (
            "long",
            status(
                400,
                "INVALID_ARGUMENT",
                "The input token count (2000000) exceeds the maximum number of tokens allowed (1048576).",
                json!([]),
            ),
            ErrorKind::ContextLength,
        ),
        (
            "missing",
            status(
                404,
                "NOT_FOUND",
                "models/missing is not found for API version v1beta.",
                json!([]),
            ),
            ErrorKind::NotFound,
        ),
    ];
    let mut expected = Vec::new();
    for (model, response, kind) in cases {
        Mock::given(method("POST"))
            .and(path(format!("/v1beta/models/{model}:generateContent")))
            .respond_with(response)
            .mount(&server)
            .await;
        expected.push((model, kind));
    }
    let client = gemini(&server);
    for (model, kind) in expected {
        let e = client
            .chat(&ChatRequest::new(model).user("Hi"))
            .await
            .unwrap_err();
        assert_eq!(e.kind(), kind, "{model}: {e}");
        assert_eq!(e.provider(), Some("gemini"));
        if model == "ratelimited" {
            assert_eq!(e.retry_after(), Some(Duration::from_millis(1500)));
            assert!(e.is_retryable());
        }
    }
}

#[tokio::test]
async fn an_error_echoing_the_key_is_scrubbed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(status(400, "INVALID_ARGUMENT", &format!("API key not valid: {KEY}"),
            json!([{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}])))
        .mount(&server)
        .await;
    let e = gemini(&server)
        .chat(&ChatRequest::new("m").user("Hi"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(!format!("{e} {e:?}").contains(KEY), "{e:?}");
}

#[tokio::test]
async fn a_tool_call_answer_and_health() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_partial_json(
            json!({"tools": [{"functionDeclarations": [{"name": "get_weather"}]}]}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "candidates": [{"content": {"role": "model", "parts": [
                {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}]},
                "finishReason": "STOP", "index": 0}]
        })))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v1beta/models"))
        .and(header("x-goog-api-key", KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"models": []})))
        .expect(1)
        .mount(&server)
        .await;
    let client = gemini(&server);
    let request = ChatRequest::new("m")
        .user("Weather in Paris?")
        .tool(Tool::new(
            "get_weather",
            "weather",
            json!({"type": "object", "properties": {"city": {"type": "string"}}}),
        ));
    let r = client.chat(&request).await.unwrap();
    assert_eq!(r.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(r.tool_calls[0].arguments, json!({"city": "Paris"}));
    client.health().await.unwrap();
}

#[tokio::test]
async fn embeddings_go_in_batches_of_one_hundred() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(
            "/v1beta/models/gemini-embedding-001:batchEmbedContents",
        ))
        .and(header("x-goog-api-key", KEY))
        .respond_with(|req: &Request| {
            let body: serde_json::Value = serde_json::from_slice(&req.body).unwrap();
            let n = body["requests"].as_array().unwrap().len();
            let embeddings: Vec<_> = (0..n).map(|i| json!({"values": [i as f32, 1.0]})).collect();
            ResponseTemplate::new(200).set_body_json(json!({"embeddings": embeddings}))
        })
        .expect(2)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-embedding-001:embedContent"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"embedding": {"values": [0.5, 0.5]}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = gemini(&server);
    let inputs: Vec<String> = (0..150).map(|i| format!("text {i}")).collect();
    let answer = client
        .embed(&EmbedRequest::new("gemini-embedding-001", inputs))
        .await
        .unwrap();
    assert_eq!(answer.vectors.len(), 150);
    assert_eq!(
        answer.vectors[100],
        [0.0, 1.0],
        "the second batch starts again at 0"
    );
    let one = client
        .embed(&EmbedRequest::new("gemini-embedding-001", ["x"]))
        .await
        .unwrap();
    assert_eq!(one.vectors, [vec![0.5, 0.5]]);
}
