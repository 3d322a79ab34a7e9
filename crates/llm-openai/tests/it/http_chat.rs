//! Chat, streaming and health through the client against local wiremock servers: what is sent (URL,
//! headers, body) and how every answer shape comes back.

use futures::StreamExt;
use llm_core::{ChatRequest, ErrorKind, FinishReason, Provider, Timeouts};
use llm_openai::{API_KEY_ENV, OpenAi, OpenAiConfig};
use serde_json::json;
use wiremock::matchers::{body_partial_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sse(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("x-request-id", "req_stream")
        .set_body_raw(body, "text/event-stream; charset=utf-8")
}

fn completion() -> serde_json::Value {
    json!({
        "id": "chatcmpl-9", "object": "chat.completion", "created": 1, "model": "gpt-4o-2024-08-06",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello there", "refusal": null},
                     "logprobs": null, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10,
                  "prompt_tokens_details": {"cached_tokens": 0},
                  "completion_tokens_details": {"reasoning_tokens": 0}}
    })
}

fn openai(server: &MockServer) -> OpenAi {
    OpenAi::new(OpenAiConfig::new("sk-abc").base_url(format!("{}/v1/", server.uri()))).unwrap()
}

async fn collect(client: &impl Provider, request: &ChatRequest) -> Vec<String> {
    let stream = client.stream(request).await.expect("stream starts");
    let items: Vec<_> = stream.collect().await;
    crate::common::transcript(&items)
}

#[tokio::test]
async fn chat_sends_the_documented_request_and_decodes_the_answer() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-abc"))
        .and(header("content-type", "application/json"))
        .and(header("openai-organization", "org-1"))
        .and(header("openai-project", "proj-1"))
        .and(header("x-custom", "yes"))
        .and(body_partial_json(json!({
            "model": "gpt-4o", "stream": false, "max_completion_tokens": 10,
            "messages": [{"role": "user", "content": "Hi"}]
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-request-id", "req_abc")
                .set_body_json(completion()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let config = OpenAiConfig::new("sk-abc")
        .base_url(format!("{}/v1/", server.uri()))
        .organization("org-1")
        .project("proj-1")
        .header("x-custom", "yes");
    let client = OpenAi::new(config).unwrap();
    let answer = client
        .chat(&ChatRequest::new("gpt-4o").user("Hi").max_tokens(10))
        .await
        .unwrap();
    assert_eq!(answer.text, "Hello there");
    assert_eq!(answer.model, "gpt-4o-2024-08-06");
    assert_eq!(answer.provider, "openai");
    assert_eq!(answer.finish_reason, Some(FinishReason::Stop));
    assert_eq!(answer.request_id.as_deref(), Some("req_abc"));
    let usage = answer.usage.unwrap();
    assert_eq!(
        (usage.input_tokens, usage.output_tokens, usage.total_tokens),
        (Some(8), Some(2), Some(10))
    );
}

#[tokio::test]
async fn a_body_that_is_not_a_completion_is_invalid_response() {
    for body in [
        "not json at all",
        r#"{"id":"x","choices":[]}"#,
        r#"{"choices":"nope"}"#,
    ] {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(200).set_body_string(body))
            .expect(1)
            .mount(&server)
            .await;
        let err = openai(&server)
            .chat(&ChatRequest::new("m").user("Hi"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{body}");
    }
}

#[tokio::test]
async fn streaming_sends_stream_options_and_decodes_every_shape() {
    let cases: [(&str, &[&str]); 4] = [
        (
            "openai_usage_chunk.sse",
            &[
                "start openai model=gpt-4o-mini-2024-07-18 req=req_stream resp=chatcmpl-1",
                "text Hello",
                "text  wörld \"quoted\"",
                "usage in=9 out=3 total=12 cached=2",
                "finish stop",
            ],
        ),
        (
            "usage_choices_null.sse",
            &[
                "start openai model=qwen req=req_stream resp=cmpl-v",
                "text Hi",
                "usage in=5 out=1 total=6 cached=-",
                "finish stop",
            ],
        ),
        (
            "midstream_error.sse",
            &[
                "start openai model=gpt-4o req=req_stream resp=chatcmpl-2",
                "text Par",
                "error server",
            ],
        ),
        (
            "ended_without_done.sse",
            &[
                "start openai model=gpt-4o req=req_stream resp=chatcmpl-4",
                "text Half an ans",
                "error network",
            ],
        ),
    ];
    for (name, expected) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/chat/completions"))
            .and(header("accept", "text/event-stream"))
            .and(body_partial_json(
                json!({"stream": true, "stream_options": {"include_usage": true}}),
            ))
            .respond_with(sse(fixture(name)))
            .expect(1)
            .mount(&server)
            .await;
        let got = collect(&openai(&server), &ChatRequest::new("gpt-4o").user("Hi")).await;
        assert_eq!(got, expected, "{name}");
    }
}

#[tokio::test]
async fn a_midstream_error_carries_the_request_id_and_ends_the_stream() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(sse(fixture("midstream_rate_limit.sse")))
        .expect(1)
        .mount(&server)
        .await;
    let mut stream = openai(&server)
        .stream(&ChatRequest::new("gpt-4o").user("Hi"))
        .await
        .unwrap();
    let mut error = None;
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            error = Some(e);
            break;
        }
    }
    let error = error.expect("an error item");
    assert_eq!(error.kind(), ErrorKind::RateLimited);
    assert_eq!(error.request_id(), Some("req_stream"));
    assert!(stream.next().await.is_none(), "nothing after the error");
}

#[tokio::test]
async fn a_json_answer_to_a_streaming_request_is_decoded_whole() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-request-id", "req_json")
                .set_body_json(completion()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let got = collect(&openai(&server), &ChatRequest::new("gpt-4o").user("Hi")).await;
    assert_eq!(
        got,
        [
            "start openai model=gpt-4o-2024-08-06 req=req_json resp=chatcmpl-9",
            "text Hello there",
            "usage in=8 out=2 total=10 cached=0",
            "finish stop",
        ]
    );
}

#[tokio::test]
async fn an_undecodable_non_sse_answer_to_a_streaming_request_is_invalid_response() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw("<html>captive portal</html>", "text/html"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let err = openai(&server)
        .stream(&ChatRequest::new("gpt-4o").user("Hi"))
        .await
        .err()
        .expect("error");
    assert_eq!(err.kind(), ErrorKind::InvalidResponse);
}

#[tokio::test]
async fn an_idle_stream_times_out() {
    // wiremock sends the whole body after one delay, so the idle limit is exercised through the first-byte
    // path of the body: the headers come at once, the body never does within the limit.
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            sse(fixture("openai_usage_chunk.sse")).set_delay(std::time::Duration::from_secs(5)),
        )
        .expect(1)
        .mount(&server)
        .await;
    let client = OpenAi::new(
        OpenAiConfig::new("k")
            .base_url(format!("{}/v1", server.uri()))
            .timeouts(Timeouts::default().first_byte(std::time::Duration::from_millis(200))),
    )
    .unwrap();
    let err = client
        .stream(&ChatRequest::new("gpt-4o").user("Hi"))
        .await
        .err()
        .expect("timeout");
    assert_eq!(err.kind(), ErrorKind::Timeout);
}

#[tokio::test]
async fn health_gets_models_with_the_key() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("authorization", "Bearer sk-abc"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"object": "list", "data": []})),
        )
        .expect(1)
        .mount(&server)
        .await;
    openai(&server).health().await.unwrap();

    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(json!({"error": {"message": "bad key", "code": "invalid_api_key"}})),
        )
        .expect(1)
        .mount(&server)
        .await;
    assert_eq!(
        openai(&server).health().await.unwrap_err().kind(),
        ErrorKind::Auth
    );
}

#[tokio::test]
async fn a_compatible_server_without_key_gets_no_authorization_and_max_tokens() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"max_tokens": 3})))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion()))
        .expect(1)
        .mount(&server)
        .await;
    let client = OpenAi::new(OpenAiConfig::compatible(
        "local",
        format!("{}/v1", server.uri()),
    ))
    .unwrap();
    assert_eq!(client.name(), "local");
    client
        .chat(&ChatRequest::new("m").user("Hi").max_tokens(3))
        .await
        .unwrap();
    let received = server.received_requests().await.unwrap();
    assert!(received[0].headers.get("authorization").is_none());
}

#[tokio::test]
async fn a_caller_supplied_client_is_used() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(header("user-agent", "llmux-test-agent"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion()))
        .expect(1)
        .mount(&server)
        .await;
    let http = reqwest::Client::builder()
        .user_agent("llmux-test-agent")
        .build()
        .unwrap();
    let client = OpenAi::new(
        OpenAiConfig::new("k")
            .base_url(format!("{}/v1", server.uri()))
            .http_client(http),
    )
    .unwrap();
    client
        .chat(&ChatRequest::new("m").user("Hi"))
        .await
        .unwrap();
}

#[test]
fn from_env_names_the_missing_variable_and_default_reads_nothing() {
    let err = OpenAiConfig::from_lookup(|_| None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(err.message().contains(API_KEY_ENV), "{err}");
    let err = OpenAiConfig::from_lookup(|_| Some("  ".to_owned())).unwrap_err();
    assert!(err.message().contains("empty"), "{err}");
    let config =
        OpenAiConfig::from_lookup(|n| (n == API_KEY_ENV).then(|| "sk-env".to_owned())).unwrap();
    let shown = format!("{config:?}");
    assert!(!shown.contains("sk-env"), "{shown}");
    assert!(format!("{:?}", OpenAiConfig::default()).contains("api_key: None"));
}

#[test]
fn an_invalid_header_is_a_validation_error_naming_it() {
    let err = OpenAi::new(OpenAiConfig::new("k").header("bad header", "v")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert!(err.message().contains("bad header"), "{err}");
}

#[test]
fn clients_are_cheap_to_clone_and_share() {
    let client = OpenAi::new(OpenAiConfig::new("k")).unwrap();
    let clone = client.clone();
    assert_eq!(
        clone.codec().chat_url(),
        "https://api.openai.com/v1/chat/completions"
    );
    fn shareable<T: Send + Sync + Clone + 'static>(_: &T) {}
    shareable(&clone);
    let as_object: std::sync::Arc<dyn Provider> = std::sync::Arc::new(client);
    assert_eq!(as_object.name(), "openai");
}
