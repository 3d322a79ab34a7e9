//! Request bodies exactly as the Chat Completions API defines them (insta snapshots), and the validation that
//! runs before anything is sent.

use llm_core::{ChatRequest, ErrorKind, Message};
use llm_openai::{Encoder, OpenAiConfig, TokenLimit};
use serde_json::{Value, json};

fn body(encoder: &Encoder, request: &ChatRequest, stream: bool) -> Value {
    encoder.validate(request).expect("valid request");
    let bytes = encoder.encode(request, stream).expect("encodes");
    serde_json::from_slice(&bytes).expect("json")
}

fn openai() -> Encoder {
    Encoder::new(&OpenAiConfig::new("sk-test"))
}

fn conversation() -> ChatRequest {
    ChatRequest::new("gpt-4o-mini")
        .message(Message::system("Be brief."))
        .user("Hello")
        .assistant("Hi! How can I help?")
        .user("Say \"ok\"\nplease")
}

#[test]
fn minimal_non_streaming_body() {
    insta::assert_json_snapshot!(body(
        &openai(),
        &ChatRequest::new("gpt-4o").user("Hi"),
        false
    ));
}

#[test]
fn conversation_with_every_openai_parameter() {
    let request = conversation()
        .temperature(0.2)
        .top_p(0.9)
        .max_tokens(64)
        .stop("END")
        .stop("STOP")
        .seed(7)
        .frequency_penalty(0.5)
        .presence_penalty(-0.5);
    insta::assert_json_snapshot!(body(&openai(), &request, false));
}

#[test]
fn streaming_body_asks_for_usage() {
    let request = ChatRequest::new("gpt-4o").user("Hi").max_tokens(16);
    insta::assert_json_snapshot!(body(&openai(), &request, true));
}

#[test]
fn compatible_servers_get_max_tokens_and_top_k() {
    let encoder = Encoder::new(&OpenAiConfig::compatible("vllm", "http://127.0.0.1:1/v1"));
    let request = ChatRequest::new("qwen")
        .user("Hi")
        .max_tokens(16)
        .top_k(40)
        .repeat_penalty(1.1);
    insta::assert_json_snapshot!(body(&encoder, &request, true));
}

#[test]
fn the_token_limit_field_is_configurable() {
    let request = ChatRequest::new("gpt-4o").user("Hi").max_tokens(5);
    let with_max_tokens = Encoder::new(&OpenAiConfig::new("k").token_limit(TokenLimit::MaxTokens));
    let v = body(&with_max_tokens, &request, false);
    assert_eq!(v["max_tokens"], 5);
    assert!(v.get("max_completion_tokens").is_none());
    let v = body(&openai(), &request, false);
    assert_eq!(v["max_completion_tokens"], 5);
    assert!(v.get("max_tokens").is_none());
}

#[test]
fn stream_usage_can_be_turned_off() {
    let encoder = Encoder::new(&OpenAiConfig::compatible("old", "http://x").stream_usage(false));
    let v = body(&encoder, &ChatRequest::new("m").user("Hi"), true);
    assert_eq!(v["stream"], true);
    assert!(v.get("stream_options").is_none());
}

#[test]
fn extra_fields_are_merged_at_the_top_level() {
    let request = ChatRequest::new("gpt-4o")
        .user("Hi")
        .extra("user", json!("user-42"))
        .extra("logit_bias", json!({"50256": -100}))
        .extra("response_format", json!({"type": "json_object"}));
    insta::assert_json_snapshot!(body(&openai(), &request, false));
}

#[test]
fn extra_keys_colliding_with_written_fields_are_listed_in_one_validation_error() {
    let request = ChatRequest::new("gpt-4o")
        .user("Hi")
        .extra("temperature", json!(9))
        .extra("stream", json!(true))
        .extra("user", json!("fine"));
    let err = openai().validate(&request).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    let params: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert_eq!(params, ["stream", "temperature"]);
    // Every top-level field the encoder writes itself.
    for field in [
        "model",
        "messages",
        "stream",
        "stream_options",
        "temperature",
        "top_p",
        "top_k",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "seed",
        "frequency_penalty",
        "presence_penalty",
        "repeat_penalty",
    ] {
        let request = ChatRequest::new("m").user("Hi").extra(field, json!(1));
        assert!(openai().validate(&request).is_err(), "{field}");
    }
}

#[test]
fn openai_rejects_what_its_table_does_not_support_along_with_everything_else() {
    let request = ChatRequest::new("")
        .temperature(3.0)
        .top_k(5)
        .repeat_penalty(1.1)
        .stop("a")
        .stop("b")
        .stop("c")
        .stop("d")
        .stop("e");
    let err = openai().validate(&request).unwrap_err();
    let params: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert_eq!(
        params,
        [
            "model",
            "messages",
            "temperature",
            "top_k",
            "stop",
            "repeat_penalty"
        ]
    );
    assert_eq!(err.provider(), Some("openai"));
}

#[test]
fn compatible_table_is_the_one_for_compatible_servers() {
    let config = OpenAiConfig::compatible("llamacpp", "http://x");
    let encoder = Encoder::new(&config);
    let request = ChatRequest::new("m")
        .user("Hi")
        .top_k(5)
        .repeat_penalty(1.1);
    assert!(encoder.validate(&request).is_ok());
    assert_eq!(
        llm_openai::compatible_params("llamacpp").violations(&request),
        encoder.violations(&request)
    );
}
