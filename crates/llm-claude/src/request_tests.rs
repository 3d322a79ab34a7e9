//! Request mapping: snapshots of the bodies and every validation rule.

use llm_core::{ChatRequest, ErrorKind, Message};
use serde_json::{Value, json};

use super::*;

fn body_json(request: &ChatRequest, stream: bool) -> Value {
    let bytes = body("claude", request, 4096, stream).expect("valid request");
    serde_json::from_slice(&bytes).expect("json")
}

fn violation_params(request: &ChatRequest) -> Vec<String> {
    violations(request).into_iter().map(|v| v.param).collect()
}

#[test]
fn minimal_body_gets_the_default_max_tokens() {
    let req = ChatRequest::new("claude-sonnet-4-5").user("Hello");
    insta::assert_json_snapshot!(body_json(&req, false));
}

#[test]
fn full_body_maps_every_parameter() {
    let req = ChatRequest::new("claude-sonnet-4-5")
        .system("Be brief.")
        .user("Hello")
        .assistant("Hi!")
        .user("Tell me a joke")
        .temperature(0.5)
        .top_p(0.9)
        .top_k(40)
        .max_tokens(256)
        .stop("END")
        .stop("\n\nHuman:")
        .extra("metadata", json!({"user_id": "u-1"}));
    insta::assert_json_snapshot!(body_json(&req, true));
}

#[test]
fn system_messages_are_hoisted_and_joined_with_a_blank_line() {
    let req = ChatRequest::new("m")
        .system("First rule.")
        .user("Hi")
        .system("Second rule.");
    insta::assert_json_snapshot!(body_json(&req, false));
}

#[test]
fn consecutive_same_role_messages_are_merged() {
    let req = ChatRequest::new("m")
        .user("one")
        .user("two")
        .assistant("three")
        .assistant("four")
        .user("five");
    insta::assert_json_snapshot!(body_json(&req, false));
}

#[test]
fn a_trailing_assistant_message_is_sent_as_a_prefill() {
    let req = ChatRequest::new("m").user("Say yes").assistant("Y");
    let v = body_json(&req, false);
    assert_eq!(
        v["messages"][1],
        json!({"role": "assistant", "content": "Y"})
    );
}

#[test]
fn multi_part_text_is_concatenated() {
    let mut msg = Message::user("a");
    msg.content.push(ContentPart::Text { text: "b".into() });
    let req = ChatRequest::new("m").message(msg);
    assert_eq!(body_json(&req, false)["messages"][0]["content"], "ab");
}

#[test]
fn stream_flag_is_only_written_when_streaming() {
    let req = ChatRequest::new("m").user("x");
    assert_eq!(body_json(&req, true)["stream"], json!(true));
    assert!(body_json(&req, false).get("stream").is_none());
}

#[test]
fn only_messages_api_fields_are_written() {
    let req = ChatRequest::new("m")
        .system("s")
        .user("x")
        .temperature(1.0)
        .top_p(0.5)
        .top_k(3)
        .max_tokens(9)
        .stop("z");
    let v = body_json(&req, true);
    let keys: Vec<&str> = v
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    for key in keys {
        assert!(RESERVED_FIELDS.contains(&key), "unexpected field {key}");
    }
}

#[test]
fn a_conversation_starting_with_the_assistant_is_rejected() {
    let req = ChatRequest::new("m")
        .system("s")
        .assistant("Hello")
        .user("Hi");
    let err = body("claude", &req, 4096, false).expect_err("invalid");
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(err.violations()[0].param, "messages");
}

#[test]
fn system_only_and_empty_conversations_are_rejected() {
    assert_eq!(
        violation_params(&ChatRequest::new("m").system("s")),
        ["messages"]
    );
    assert_eq!(violation_params(&ChatRequest::new("m")), ["messages"]);
}

#[test]
fn claude_ranges_are_enforced_and_all_violations_reported() {
    let req = ChatRequest::new("")
        .user("x")
        .temperature(1.5)
        .top_p(f64::NAN)
        .top_k(0)
        .max_tokens(0)
        .seed(1)
        .frequency_penalty(0.1);
    let mut params = violation_params(&req);
    params.sort();
    assert_eq!(
        params,
        [
            "frequency_penalty",
            "max_tokens",
            "model",
            "seed",
            "temperature",
            "top_k",
            "top_p"
        ]
    );
}

#[test]
fn extra_may_not_collide_with_written_fields() {
    for key in RESERVED_FIELDS {
        let req = ChatRequest::new("m").user("x").extra(key, json!(1));
        assert_eq!(violation_params(&req), [format!("extra.{key}")], "{key}");
    }
    let ok = ChatRequest::new("m")
        .user("x")
        .extra("metadata", json!({"user_id": "u1"}));
    assert!(violations(&ok).is_empty());
}

#[test]
fn headers_carry_key_version_betas_and_extras() {
    let config = ClaudeConfig::new("sk-ant-k")
        .beta("a-1")
        .beta("b-2")
        .header("x-gateway", "yes");
    let h = headers(&config).expect("valid");
    assert_eq!(h["x-api-key"], "sk-ant-k");
    assert!(h["x-api-key"].is_sensitive());
    assert_eq!(h["anthropic-version"], "2023-06-01");
    assert_eq!(h["anthropic-beta"], "a-1,b-2");
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["x-gateway"], "yes");

    let plain = headers(&ClaudeConfig::default().api_version("2099-01-01")).expect("valid");
    assert!(plain.get("x-api-key").is_none());
    assert!(plain.get("anthropic-beta").is_none());
    assert_eq!(plain["anthropic-version"], "2099-01-01");
}

#[test]
fn headers_reject_invalid_and_reserved_names_without_showing_the_key() {
    let config = ClaudeConfig::new("bad\nkey")
        .header("X-Api-Key", "other")
        .header("bad header", "v");
    let err = headers(&config).expect_err("invalid");
    assert_eq!(err.kind(), ErrorKind::Validation);
    let params: Vec<_> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert_eq!(
        params,
        [
            "headers.x-api-key",
            "headers.X-Api-Key",
            "headers.bad header"
        ]
    );
    assert!(!format!("{err:?}").contains("bad\nkey"));
}

#[test]
fn tools_calls_and_results_are_written_as_the_messages_api_expects() {
    use llm_core::{ContentPart, Message, Tool, ToolCall, ToolChoice, ToolOutput};
    use serde_json::json;
    let weather = Tool::new("get_weather", "Weather", json!({"type": "object"}));
    let call = ToolCall::new("toolu_1", "get_weather", json!({"city": "Paris"}));
    // A user turn written OpenAI-style after the results: text first in the message, results first on the wire.
    let mut follow = Message::user("Thanks. And Rome?");
    follow.content.push(ContentPart::ToolResult {
        call_id: "toolu_2".into(),
        name: String::new(),
        content: ToolOutput::Text("late".into()),
        is_error: true,
    });
    let req = ChatRequest::new("claude-sonnet-4-5")
        .user("Weather in Paris?")
        .message(Message::tool_calls("Checking.", [call]))
        .message(Message::tool_result(
            "toolu_1",
            "get_weather",
            ToolOutput::Json(json!({"temp": 18})),
        ))
        .message(follow)
        .tool(weather)
        .tool_choice(ToolChoice::Required)
        .parallel_tool_calls(false);
    assert!(violations(&req).is_empty(), "{:?}", violations(&req));
    let wire: serde_json::Value =
        serde_json::from_slice(&body("claude", &req, 1024, false).unwrap()).unwrap();
    insta::assert_json_snapshot!("tools_whole_body", wire);
    assert_eq!(
        wire["tools"],
        json!([{"name": "get_weather", "description": "Weather", "input_schema": {"type": "object"}}])
    );
    assert_eq!(
        wire["tool_choice"],
        json!({"type": "any", "disable_parallel_tool_use": true})
    );
    assert_eq!(
        wire["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "{\"temp\":18}"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "late", "is_error": true},
                {"type": "text", "text": "Thanks. And Rome?"}
            ]}
        ])
    );
    let named = req
        .clone()
        .tool_choice(ToolChoice::Tool("get_weather".into()))
        .parallel_tool_calls(true);
    let wire: serde_json::Value =
        serde_json::from_slice(&body("claude", &named, 1024, false).unwrap()).unwrap();
    assert_eq!(
        wire["tool_choice"],
        json!({"type": "tool", "name": "get_weather"})
    );
    // What the Messages API cannot take is rejected, never dropped.
    let strict = ChatRequest::new("m")
        .user("hi")
        .tool(Tool::new("t", "d", json!({"type": "object"})).strict(true))
        .tool_choice(ToolChoice::Tool("other".into()));
    let params: Vec<String> = violations(&strict).into_iter().map(|v| v.param).collect();
    assert_eq!(params, ["tools[0].strict", "tool_choice"]);
}

#[test]
fn images_documents_schema_effort_and_cache_breakpoints_are_written_as_the_messages_api_expects() {
    use llm_core::{ContentPart, Effort, Reasoning, ResponseFormat, Tool};
    let mut system = Message::system("You read papers.");
    system.content.push(ContentPart::CacheBreakpoint);
    let mut turn = Message::user("Summarise both.");
    turn.content
        .push(ContentPart::image_bytes("image/png", &[1, 2, 3]));
    turn.content
        .push(ContentPart::image_url("https://example.com/fig.png"));
    turn.content
        .push(ContentPart::pdf(b"%PDF-1.7", Some("paper.pdf".into())));
    turn.content.push(ContentPart::CacheBreakpoint);
    let req = ChatRequest::new("claude-sonnet-4-5")
        .message(system)
        .message(turn)
        .tool(Tool::new("lookup", "Search", json!({"type": "object"})).cache_breakpoint())
        .response_format(ResponseFormat::json_schema(
            "summary",
            json!({"type": "object", "properties": {"summary": {"type": "string"}}}),
        ))
        .reasoning(Reasoning::Effort(Effort::Medium));
    assert!(violations(&req).is_empty(), "{:?}", violations(&req));
    let wire = body_json(&req, false);
    insta::assert_json_snapshot!(wire);
    assert_eq!(
        wire["system"],
        json!([{"type": "text", "text": "You read papers.", "cache_control": {"type": "ephemeral"}}])
    );
    assert_eq!(
        wire["messages"][0]["content"][3],
        json!({"type": "document", "title": "paper.pdf", "cache_control": {"type": "ephemeral"},
               "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0xLjc="}})
    );
    assert_eq!(
        wire["tools"][0]["cache_control"],
        json!({"type": "ephemeral"})
    );
    assert_eq!(wire["thinking"], json!({"type": "adaptive"}));
    assert_eq!(wire["output_config"]["effort"], "medium");
    assert_eq!(wire["output_config"]["format"]["type"], "json_schema");
}

#[test]
fn what_the_messages_api_refuses_is_rejected_before_sending() {
    use llm_core::{ContentPart, Reasoning, ResponseFormat, Source};
    let mut gif = Message::user("look");
    gif.content.push(ContentPart::Image {
        source: Source::base64("image/tiff", "AAAA"),
    });
    gif.content.push(ContentPart::Image {
        source: Source::base64("image/png", "A".repeat(MAX_IMAGE_BASE64 + 4)),
    });
    let mut lonely = Message::user("x");
    lonely.content.insert(0, ContentPart::CacheBreakpoint);
    let req = ChatRequest::new("m")
        .message(gif)
        .message(Message::assistant("ok"))
        .message(lonely)
        .response_format(ResponseFormat::JsonObject)
        .reasoning(Reasoning::Budget(512))
        .temperature(0.5)
        .max_tokens(256);
    assert_eq!(
        violation_params(&req),
        [
            "messages[0].content[1]",
            "messages[0].content[2]",
            "messages[2].content[0]",
            "response_format",
            "reasoning",
            "reasoning",
            "temperature"
        ]
    );
    // A budget at or above the default max_tokens is refused when the body is written.
    let big = ChatRequest::new("m")
        .user("x")
        .reasoning(Reasoning::Budget(2048));
    let err = body("claude", &big, 1024, false).unwrap_err();
    assert_eq!(err.violations()[0].param, "reasoning");
    assert!(body("claude", &big, 4096, false).is_ok());
}

#[test]
fn only_anthropics_own_signed_thinking_goes_back() {
    use llm_core::{ContentPart, Message};
    let reasoning = |text: &str, signature: Option<&str>| ContentPart::Reasoning {
        text: text.into(),
        signature: signature.map(str::to_owned),
    };
    let mut assistant = Message::assistant("");
    assistant.content = vec![
        reasoning("gemini's", Some("thought#Q2lRQlZLaGM=")),
        reasoning(
            "responses'",
            Some(r#"{"type":"reasoning","id":"rs_1","encrypted_content":"gAAA"}"#),
        ),
        reasoning("unsigned", None),
        reasoning("claude's", Some("ErUBCkYIBhgCIkA+/9zQ==")),
        ContentPart::Text {
            text: "Answer.".into(),
        },
    ];
    let request = ChatRequest::new("claude-sonnet-4-5")
        .user("Question?")
        .message(assistant)
        .user("And?");
    let body = body_json(&request, false);
    let blocks = body["messages"][1]["content"].as_array().expect("blocks");
    assert_eq!(
        blocks,
        &[
            serde_json::json!({"type": "thinking", "thinking": "claude's", "signature": "ErUBCkYIBhgCIkA+/9zQ=="}),
            serde_json::json!({"type": "text", "text": "Answer."}),
        ],
        "{body}"
    );
}

#[test]
fn a_relay_of_this_wire_is_sent_and_one_of_another_is_not() {
    let mut relay = Relay::new(crate::WIRE);
    relay.fields.insert(
        "context_management".into(),
        json!({"edits": [{"type": "clear_thinking_20251015"}]}),
    );
    relay
        .headers
        .push(("anthropic-beta".into(), "b-2, ctx-1".into()));
    let mut req = ChatRequest::new("claude-x").user("hi");
    req.relay = Some(relay.clone());
    assert!(violations(&req).is_empty());
    let sent = body_json(&req, false);
    assert_eq!(
        sent["context_management"]["edits"][0]["type"],
        "clear_thinking_20251015"
    );
    assert_eq!(
        beta_flags(&["a-1".to_owned(), "b-2".to_owned()], &req),
        ["a-1", "b-2", "ctx-1"],
        "the relayed flags join the configured ones, each once"
    );
    // Another wire format's relay is not this crate's to send.
    let mut foreign = relay.clone();
    foreign.wire = "some.other.wire".into();
    req.relay = Some(foreign);
    assert!(body_json(&req, false).get("context_management").is_none());
    assert_eq!(beta_flags(&[], &req), Vec::<String>::new());
    // A relayed field this crate writes, or another header, is refused by name.
    let mut clash = relay;
    clash.fields.insert("max_tokens".into(), json!(5));
    clash.headers.push(("x-api-key".into(), "k".into()));
    req.relay = Some(clash);
    assert_eq!(
        violation_params(&req),
        ["relay.max_tokens", "relay.headers.x-api-key"]
    );
}
