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
        .extra("service_tier", json!("default"));
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

#[test]
fn tools_choices_calls_and_results_are_written_as_chat_completions_expects() {
    use llm_core::{ContentPart, Message, Role, Tool, ToolCall, ToolChoice, ToolOutput};
    let weather = Tool::new(
        "get_weather",
        "Weather in a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}}),
    )
    .strict(true);
    let call = ToolCall::new("call_A", "get_weather", json!({"city": "Paris"}));
    // A user turn carrying a result first and text after (as another provider's history has it).
    let mut mixed = Message::user("and now?");
    mixed.content.insert(
        0,
        ContentPart::ToolResult {
            call_id: "call_B".into(),
            name: String::new(),
            content: ToolOutput::Json(json!({"temp": 18})),
            is_error: false,
        },
    );
    let request = ChatRequest::new("gpt-4o")
        .user("Weather in Paris?")
        .message(Message::tool_calls("", [call]))
        .message(Message::tool_result(
            "call_A",
            "get_weather",
            ToolOutput::Text("18 C".into()),
        ))
        .message(mixed)
        .tool(weather)
        .tool_choice(ToolChoice::Tool("get_weather".into()))
        .parallel_tool_calls(false);
    openai().validate(&request).expect("valid");
    let got = body(&openai(), &request, false);
    insta::assert_json_snapshot!("tools_whole_body", got);
    insta::assert_json_snapshot!("tools_whole_body_streamed", body(&openai(), &request, true));
    assert_eq!(
        got["tools"],
        json!([{"type": "function", "function": {
            "name": "get_weather", "description": "Weather in a city",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            "strict": true
        }}])
    );
    assert_eq!(
        got["tool_choice"],
        json!({"type": "function", "function": {"name": "get_weather"}})
    );
    assert_eq!(got["parallel_tool_calls"], json!(false));
    assert_eq!(
        got["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_A", "type": "function",
                 "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
            ]},
            {"role": "tool", "content": "18 C", "tool_call_id": "call_A"},
            {"role": "tool", "content": "{\"temp\":18}", "tool_call_id": "call_B"},
            {"role": "user", "content": "and now?"}
        ])
    );
    for choice in ["auto", "none", "required"] {
        let r = request.clone().tool_choice(ToolChoice::parse(choice));
        assert_eq!(body(&openai(), &r, false)["tool_choice"], json!(choice));
    }

    // What cannot be sent is rejected, never dropped.
    let mut wrong = Message::user("hi");
    wrong
        .content
        .push(ContentPart::ToolCall(ToolCall::new("c", "t", json!({}))));
    let bad = ChatRequest::new("gpt-4o")
        .message(wrong)
        .message(Message::new(Role::Tool, "text in a tool message"))
        .tool(Tool::new("a", "b", json!({"type": "object"})))
        .tool_choice(ToolChoice::Tool("missing".into()));
    let err = openai().validate(&bad).unwrap_err();
    let params: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert_eq!(
        params,
        [
            "messages[0].content[1]",
            "messages[1].content[0]",
            "tool_choice"
        ]
    );
}
