//! The Responses codec through the real HTTP driver against local wiremock servers: the URL, headers and
//! body sent, whole and streamed answers, error statuses, and a conversation's round trip (reasoning and
//! tool calls of one answer sent back in the next request).

use futures::StreamExt;
use llm_core::{
    ChatRequest, Collector, Effort, ErrorKind, FinishReason, Message, Provider, Reasoning, Tool,
    ToolOutput,
};
use llm_openai::{
    API_KEY_ENV, AzureApi, AzureConfig, OpenAiConfig, OpenAiResponses, ResponsesConfig,
};
use serde_json::{Value, json};
use wiremock::matchers::{body_partial_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/responses/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn sse(body: String) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .insert_header("x-request-id", "req_stream")
        .set_body_raw(body, "text/event-stream; charset=utf-8")
}

fn client(server: &MockServer) -> OpenAiResponses {
    let wire = OpenAiConfig::new("sk-abc")
        .name("openai-responses")
        .base_url(format!("{}/v1/", server.uri()));
    OpenAiResponses::new(ResponsesConfig::new(wire)).unwrap()
}

fn weather() -> Tool {
    Tool::new(
        "get_weather",
        "The weather in a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
}

#[tokio::test]
async fn chat_posts_to_v1_responses_with_the_configured_headers() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(header("authorization", "Bearer sk-abc"))
        .and(header("content-type", "application/json"))
        .and(header("openai-organization", "org-1"))
        .and(header("x-custom", "yes"))
        .and(body_partial_json(json!({
            "model": "gpt-5", "stream": false, "store": false, "max_output_tokens": 32,
            "instructions": "Be brief.",
            "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hi"}]}]
        })))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("x-request-id", "req_abc")
                .set_body_raw(fixture("whole_reasoning_call.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let wire = OpenAiConfig::new("sk-abc")
        .name("openai-responses")
        .base_url(format!("{}/v1/", server.uri()))
        .organization("org-1")
        .header("x-custom", "yes");
    let client = OpenAiResponses::new(ResponsesConfig::new(wire)).unwrap();
    let request = ChatRequest::new("gpt-5")
        .system("Be brief.")
        .user("Hi")
        .max_tokens(32);
    let answer = client.chat(&request).await.unwrap();
    assert_eq!(answer.text, "Let me check.");
    assert_eq!(answer.provider, "openai-responses");
    assert_eq!(answer.request_id.as_deref(), Some("req_abc"));
    assert_eq!(answer.finish_reason, Some(FinishReason::ToolCalls));
    assert_eq!(answer.usage.unwrap().reasoning_tokens, Some(128));
}

#[tokio::test]
async fn stream_decodes_the_named_events_through_the_driver() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(sse(fixture("text.sse")))
        .expect(1)
        .mount(&server)
        .await;
    let stream = client(&server)
        .stream(&ChatRequest::new("gpt-4.1").user("Hi"))
        .await
        .unwrap();
    let items: Vec<_> = stream.collect().await;
    assert_eq!(
        crate::common::transcript(&items),
        [
            "start openai-responses model=gpt-4.1-2025-04-14 req=req_stream resp=resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654",
            "text Hi",
            "text  there, wörld \"quoted\"",
            "text !",
            "usage in=37 out=11 total=48 cached=5",
            "finish stop",
        ]
    );
}

#[tokio::test]
async fn a_streaming_request_answered_with_a_whole_body_is_replayed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("whole_reasoning_call.json"), "application/json"),
        )
        .mount(&server)
        .await;
    let stream = client(&server)
        .stream(&ChatRequest::new("gpt-5").user("Hi"))
        .await
        .unwrap();
    let mut collector = Collector::default();
    for item in stream.collect::<Vec<_>>().await {
        collector.push(item.unwrap());
    }
    let answer = collector.finish();
    assert_eq!(answer.text, "Let me check.");
    assert_eq!(answer.tool_calls.len(), 1);
    assert_eq!(answer.reasoning_parts.len(), 1);
}

#[tokio::test]
async fn error_statuses_are_classified_and_the_key_never_shows() {
    let server = MockServer::start().await;
    let rows: [(u16, Value, ErrorKind); 5] = [
        (
            401,
            json!({"error": {"message": "Incorrect API key provided: sk-abc.", "type": "invalid_request_error", "code": "invalid_api_key"}}),
            ErrorKind::Auth,
        ),
        (
            429,
            json!({"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}}),
            ErrorKind::RateLimited,
        ),
        (
            429,
            json!({"error": {"message": "You exceeded your current quota", "type": "insufficient_quota", "code": "insufficient_quota"}}),
            ErrorKind::QuotaExhausted,
        ),
        (
            400,
            json!({"error": {"message": "Your input exceeds the context window of this model.", "type": "invalid_request_error", "code": "context_length_exceeded"}}),
            ErrorKind::ContextLength,
        ),
        (
            500,
            json!({"error": {"message": "The server had an error", "type": "server_error", "code": null}}),
            ErrorKind::Server,
        ),
    ];
    for (i, (status, body, kind)) in rows.iter().enumerate() {
        server.reset().await;
        let mut template = ResponseTemplate::new(*status)
            .insert_header("x-request-id", format!("req_{i}").as_str())
            .set_body_json(body);
        if *status == 429 {
            template = template.insert_header("retry-after-ms", "1500");
        }
        Mock::given(method("POST"))
            .and(path("/v1/responses"))
            .respond_with(template)
            .expect(2)
            .mount(&server)
            .await;
        let client = client(&server);
        let request = ChatRequest::new("gpt-4.1").user("Hi");
        let whole = client.chat(&request).await.unwrap_err();
        let streamed = match client.stream(&request).await {
            Err(e) => e,
            Ok(_) => panic!("a {status} stream must fail before it starts"),
        };
        for err in [whole, streamed] {
            assert_eq!(err.kind(), *kind, "{status} {body}");
            assert_eq!(err.status(), Some(*status));
            assert_eq!(err.request_id(), Some(format!("req_{i}").as_str()));
            assert!(!format!("{err} {err:?}").contains("sk-abc"), "{err:?}");
            if *kind == ErrorKind::RateLimited {
                assert_eq!(
                    err.retry_after(),
                    Some(std::time::Duration::from_millis(1500))
                );
            }
        }
    }
}

#[tokio::test]
async fn a_failed_event_in_a_stream_is_its_error() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .respond_with(sse(fixture("failed.sse")))
        .mount(&server)
        .await;
    let stream = client(&server)
        .stream(&ChatRequest::new("gpt-4.1").user("Hi"))
        .await
        .unwrap();
    let items: Vec<_> = stream.collect().await;
    let err = items.last().unwrap().as_ref().unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Server);
    assert_eq!(err.request_id(), Some("req_stream"));
}

/// The bodies the server received, in order.
async fn bodies(server: &MockServer) -> Vec<Value> {
    let requests: Vec<Request> = server.received_requests().await.unwrap();
    requests
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// The items the next turn must send: the reasoning item with its encrypted content, then the call, then
/// its output.
fn assert_round_trip(next: &Value, id: &str, encrypted: &str, call_id: &str) {
    let input = next["input"].as_array().unwrap();
    let kinds: Vec<&str> = input.iter().map(|i| i["type"].as_str().unwrap()).collect();
    let reasoning = input
        .iter()
        .find(|i| i["type"] == "reasoning")
        .unwrap_or_else(|| panic!("no reasoning item in {next}"));
    assert_eq!(reasoning["id"], id);
    assert_eq!(reasoning["encrypted_content"], encrypted);
    assert_eq!(reasoning["summary"][0]["type"], "summary_text");
    let at = |kind: &str| kinds.iter().position(|k| *k == kind).unwrap();
    assert!(at("reasoning") < at("function_call"), "{kinds:?}");
    assert!(
        at("function_call") < at("function_call_output"),
        "{kinds:?}"
    );
    let call = &input[at("function_call")];
    assert_eq!(call["call_id"], call_id);
    assert_eq!(call["name"], "get_weather");
    let output = &input[at("function_call_output")];
    assert_eq!(output["call_id"], call_id);
    assert_eq!(output["output"], "18 C");
    assert_eq!(next["store"], false);
}

#[tokio::test]
async fn reasoning_and_calls_of_a_whole_answer_go_back_in_the_next_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("whole_reasoning_call.json"), "application/json"),
        )
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server);
    let first = ChatRequest::new("gpt-5")
        .user("Weather in Paris?")
        .tool(weather())
        .reasoning(Reasoning::Effort(Effort::Medium));
    let answer = client.chat(&first).await.unwrap();
    let call_id = answer.tool_calls[0].id.clone();
    let next = first
        .message(answer.to_message())
        .message(Message::tool_result(
            call_id.clone(),
            "get_weather",
            ToolOutput::Text("18 C".into()),
        ));
    client.chat(&next).await.unwrap();
    let bodies = bodies(&server).await;
    assert_eq!(
        bodies[0]["reasoning"],
        json!({"effort": "medium", "summary": "auto"})
    );
    assert_round_trip(
        &bodies[1],
        "rs_68af4030baa48193b0b43b4c2a176a1a05438e46b5f69a3b",
        "gAAAAABor0A0ynSXOqYsLJVhvu4q4rrFRQ3Bv7i1R3xkXhwm1JqxZJ_yyW2kHYDHdmyxlZ5kVf9a-u9S3ejLS7Qq6xeWQUqfpN4kOPqYRL89EkZE4VBsfmhEhVRu9ZFE0JBQ2cVFQ=",
        &call_id,
    );
    // The assistant's text sits between its reasoning and its call, as the answer gave them.
    let kinds: Vec<&str> = bodies[1]["input"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "message",
            "reasoning",
            "message",
            "function_call",
            "function_call_output"
        ]
    );
}

#[tokio::test]
async fn reasoning_and_calls_of_a_streamed_answer_go_back_in_the_next_request() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/responses"))
        .and(body_partial_json(json!({"stream": true})))
        .respond_with(sse(fixture("reasoning.sse")))
        .expect(2)
        .mount(&server)
        .await;
    let client = client(&server);
    let first = ChatRequest::new("o4-mini")
        .user("Weather in Paris?")
        .tool(weather());
    let mut collector = Collector::default();
    let mut stream = client.stream(&first).await.unwrap();
    while let Some(item) = stream.next().await {
        collector.push(item.unwrap());
    }
    let answer = collector.finish();
    let next = first
        .message(answer.to_message())
        .message(Message::tool_result(
            "call_r1",
            "get_weather",
            ToolOutput::Text("18 C".into()),
        ));
    let items: Vec<_> = client.stream(&next).await.unwrap().collect().await;
    assert!(items.iter().all(Result::is_ok));
    let bodies = bodies(&server).await;
    // The first request set no effort: no `include` (a model that does not reason refuses it); the next
    // sends encrypted reasoning back, so it asks for more.
    assert!(bodies[0].get("include").is_none(), "{}", bodies[0]);
    assert_eq!(bodies[1]["include"], json!(["reasoning.encrypted_content"]));
    assert_round_trip(
        &bodies[1],
        "rs_6820f383d7c08191846711c5df8233bc0ac5ba57aafcbac7",
        "gAAAAABoISQ24OyVRYbkYfukdnMDyIZcwZ8J-9cLHbI1Pn2Uh2rQs_b5dc8c0kHl8U4dHkq7wZz3Oq0x3P4ua8gNi2FbV1uVnM_aMk0RPZ8m4bXRD4fq3_T4c2yQn5WUKu2dc3rXzBfD_k1pSLxmJ6d9H8Q==",
        "call_r1",
    );
    assert_eq!(
        bodies[1]["input"][1]["summary"][0]["text"],
        "**Checking the weather**\n\nThe user wants Paris.\n\nI will call the tool."
    );
}

#[tokio::test]
async fn azure_takes_the_responses_api_on_its_urls_and_key_header() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/openai/v1/responses"))
        .and(header("api-key", "az-key"))
        .and(body_partial_json(json!({"model": "my-deployment"})))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("whole_reasoning_call.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/openai/responses"))
        .and(query_param("api-version", "2025-04-01-preview"))
        .and(header("api-key", "az-key"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_raw(fixture("whole_reasoning_call.json"), "application/json"),
        )
        .expect(1)
        .mount(&server)
        .await;
    let request = ChatRequest::new("my-deployment").user("Hi");
    let v1 = AzureConfig::new(server.uri(), "az-key").api(AzureApi::V1);
    let answer = OpenAiResponses::new(ResponsesConfig::new(v1))
        .unwrap()
        .chat(&request)
        .await
        .unwrap();
    assert_eq!(answer.provider, "azure");
    let dated = AzureConfig::new(server.uri(), "az-key").api_version("2025-04-01-preview");
    OpenAiResponses::new(ResponsesConfig::new(dated))
        .unwrap()
        .chat(&request)
        .await
        .unwrap();
}

#[tokio::test]
async fn health_gets_the_models_list() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v1/models"))
        .and(header("authorization", "Bearer sk-abc"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"data": []})))
        .expect(1)
        .mount(&server)
        .await;
    client(&server).health().await.unwrap();
}

#[tokio::test]
async fn validation_fails_before_anything_is_sent() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .expect(0)
        .mount(&server)
        .await;
    let err = client(&server)
        .chat(&ChatRequest::new("gpt-4.1").user("Hi").stop("END"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
}

#[test]
fn from_env_names_the_missing_variable_and_default_reads_nothing() {
    use llm_http::FromEnv;
    let err = ResponsesConfig::from_lookup(&|_| None).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth);
    assert!(err.message().contains(API_KEY_ENV), "{err}");
    let config = ResponsesConfig::from_lookup(&|n| match n {
        "OPENAI_API_KEY" => Some("sk-env".to_owned()),
        "OPENAI_BASE_URL" => Some("http://127.0.0.1:9/v1/".to_owned()),
        _ => None,
    })
    .unwrap();
    assert!(!format!("{config:?}").contains("sk-env"));
    let codec = llm_openai::Responses::new(&config).unwrap();
    assert_eq!(codec.responses_url(), "http://127.0.0.1:9/v1/responses");
    assert!(format!("{:?}", ResponsesConfig::default()).contains("api_key: None"));
    let client = OpenAiResponses::new(ResponsesConfig::default()).unwrap();
    assert_eq!(client.name(), "openai-responses");
}
