//! Responses API request bodies exactly as the API defines them (insta snapshots), and the validation that
//! runs before anything is sent.

use llm_core::{
    ChatRequest, ContentPart, Effort, ErrorKind, Message, Reasoning, ResponseFormat, Role, Tool,
    ToolCall, ToolChoice, ToolOutput,
};
use llm_openai::responses::response::ReasoningSignature;
use llm_openai::{Responses, ResponsesConfig, ResponsesEncoder};
use serde_json::{Value, json};

fn codec(store: bool) -> Responses {
    Responses::new(&ResponsesConfig::openai("sk-test").store(store)).unwrap()
}

fn encoder() -> ResponsesEncoder {
    codec(false).encoder().clone()
}

fn body(encoder: &ResponsesEncoder, request: &ChatRequest, stream: bool) -> Value {
    encoder.validate(request).expect("valid request");
    let bytes = encoder.encode(request, stream).expect("encodes");
    serde_json::from_slice(&bytes).expect("json")
}

fn weather() -> Tool {
    Tool::new(
        "get_weather",
        "The weather in a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
}

#[test]
fn messages_become_instructions_and_message_items() {
    let request = ChatRequest::new("gpt-4.1")
        .system("Be brief.")
        .user("Hello")
        .assistant("Hi! How can I help?")
        .message(Message::system("Answer in English."))
        .user("Say \"ok\"\nplease")
        .temperature(0.2)
        .top_p(0.9)
        .max_tokens(64);
    insta::assert_json_snapshot!(body(&encoder(), &request, false));
}

#[test]
fn streaming_body() {
    let request = ChatRequest::new("gpt-4.1").user("Hi");
    insta::assert_json_snapshot!(body(&encoder(), &request, true));
}

#[test]
fn tools_and_tool_choice() {
    let request = ChatRequest::new("gpt-4.1")
        .user("Weather in Paris?")
        .tool(weather().strict(true))
        .tool(Tool::new("get_time", "The time", json!({"type": "object"})))
        .tool_choice(ToolChoice::Tool("get_weather".into()))
        .parallel_tool_calls(false);
    insta::assert_json_snapshot!(body(&encoder(), &request, false));
    for (choice, wire) in [
        (ToolChoice::Auto, json!("auto")),
        (ToolChoice::None, json!("none")),
        (ToolChoice::Required, json!("required")),
    ] {
        let request = ChatRequest::new("m")
            .user("x")
            .tool(weather())
            .tool_choice(choice);
        assert_eq!(body(&encoder(), &request, false)["tool_choice"], wire);
    }
}

#[test]
fn tool_calls_and_results_are_function_call_items() {
    let request = ChatRequest::new("gpt-4.1")
        .user("Weather in Paris and Rome?")
        .tool(weather())
        .message(Message::tool_calls(
            "Checking.",
            [
                ToolCall::new("call_1", "get_weather", json!({"city": "Paris"})),
                ToolCall::new("call_2", "get_weather", json!({"city": "Rome"})),
            ],
        ))
        .message(Message::tool_result(
            "call_1",
            "get_weather",
            ToolOutput::Text("18 C".into()),
        ))
        .message(Message::tool_result(
            "call_2",
            "get_weather",
            ToolOutput::Json(json!({"temp": 24})),
        ))
        .user("Thanks");
    insta::assert_json_snapshot!(body(&encoder(), &request, false));
}

#[test]
fn images_and_files_are_input_parts() {
    let mut user = Message::user("What is in these?");
    user.content
        .push(ContentPart::image_url("https://example.com/cat.png"));
    user.content
        .push(ContentPart::image_bytes("image/png", b"\x89PNG"));
    user.content
        .push(ContentPart::pdf(b"%PDF-1.7", Some("report.pdf".into())));
    user.content.push(ContentPart::Document {
        source: llm_core::Source::url("https://example.com/paper.pdf"),
        name: None,
    });
    let request = ChatRequest::new("gpt-4.1").message(user);
    insta::assert_json_snapshot!(body(&encoder(), &request, false));
}

#[test]
fn structured_output_is_text_format() {
    let schema = json!({"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"], "additionalProperties": false});
    let request = ChatRequest::new("gpt-4.1")
        .user("Pick a number")
        .response_format(ResponseFormat::json_schema("pick", schema).strict(true));
    insta::assert_json_snapshot!(body(&encoder(), &request, false));
    let request = ChatRequest::new("gpt-4.1")
        .user("JSON please")
        .response_format(ResponseFormat::JsonObject);
    assert_eq!(
        body(&encoder(), &request, false)["text"],
        json!({"format": {"type": "json_object"}})
    );
    let request = ChatRequest::new("gpt-4.1")
        .user("Text")
        .response_format(ResponseFormat::Text);
    assert!(body(&encoder(), &request, false).get("text").is_none());
}

#[test]
fn reasoning_effort_and_reasoning_items_going_back() {
    let signature = ReasoningSignature::new("rs_1", Some("gAAAAABenc==".into())).to_signature();
    let mut assistant = Message::tool_calls(
        "",
        [ToolCall::new(
            "call_1",
            "get_weather",
            json!({"city": "Paris"}),
        )],
    );
    assistant.content.insert(
        0,
        ContentPart::Reasoning {
            text: "**Weather**\n\nLook it up.".into(),
            signature: Some(signature),
        },
    );
    // Another provider's reasoning (Claude's base64 signature, or none) has nothing to refer to here.
    assistant.content.insert(
        1,
        ContentPart::Reasoning {
            text: "claude thinking".into(),
            signature: Some("EqQBCkYIBxgCKkBh".into()),
        },
    );
    assistant.content.insert(
        2,
        ContentPart::Reasoning {
            text: "unsigned".into(),
            signature: None,
        },
    );
    let request = ChatRequest::new("o4-mini")
        .user("Weather in Paris?")
        .tool(weather())
        .reasoning(Reasoning::Effort(Effort::High))
        .message(assistant)
        .message(Message::tool_result(
            "call_1",
            "get_weather",
            ToolOutput::Text("18 C".into()),
        ));
    insta::assert_json_snapshot!(body(&encoder(), &request, false));
}

#[test]
fn stored_responses_send_reasoning_by_id_and_continue_a_previous_response() {
    let stored = codec(true).encoder().clone();
    let signature = ReasoningSignature::new("rs_9", None).to_signature();
    let mut assistant = Message::assistant("Done.");
    assistant.content.insert(
        0,
        ContentPart::Reasoning {
            text: String::new(),
            signature: Some(signature.clone()),
        },
    );
    assert_eq!(assistant.role, Role::Assistant);
    let request = ChatRequest::new("o4-mini")
        .message(assistant.clone())
        .user("And then?")
        .extra("previous_response_id", json!("resp_abc123"));
    insta::assert_json_snapshot!(body(&stored, &request, false));
    // Stateless, an item without encrypted content cannot be found by the server: it is not sent.
    let request = ChatRequest::new("o4-mini")
        .message(assistant.clone())
        .user("And then?");
    let items = body(&encoder(), &request, false)["input"].clone();
    assert_eq!(items.as_array().unwrap().len(), 2, "{items}");
    assert_eq!(items[0]["role"], "assistant");
    // A reasoning item alone (a turn cut before any output) is refused by the API: not sent.
    let mut alone = Message::assistant("");
    alone.content = vec![assistant.content[0].clone()];
    let request = ChatRequest::new("o4-mini").message(alone).user("And then?");
    let items = body(&stored, &request, false)["input"].clone();
    assert_eq!(items.as_array().unwrap().len(), 1, "{items}");
    assert_eq!(items[0]["role"], "user");
}

#[test]
fn encrypted_reasoning_is_asked_for_only_where_a_model_reasons_or_as_configured() {
    let include = |encoder: &ResponsesEncoder, request: &ChatRequest| {
        body(encoder, request, false).get("include").cloned()
    };
    let asked = Some(json!(["reasoning.encrypted_content"]));
    let plain = ChatRequest::new("gpt-4o-mini").user("Hi");
    // OpenAI refuses the `include` for models that do not reason: a plain request does not send it.
    assert_eq!(include(&encoder(), &plain), None);
    let effort = plain.clone().reasoning(Reasoning::Effort(Effort::Low));
    assert_eq!(include(&encoder(), &effort), asked);
    let mut turn = Message::assistant("Hello.");
    turn.content.insert(
        0,
        ContentPart::Reasoning {
            text: String::new(),
            signature: Some(ReasoningSignature::new("rs_1", Some("enc".into())).to_signature()),
        },
    );
    let history = ChatRequest::new("o4-mini")
        .user("Hi")
        .message(turn)
        .user("Again");
    assert_eq!(include(&encoder(), &history), asked);
    let always = Responses::new(&ResponsesConfig::openai("k").encrypted_reasoning(Some(true)))
        .unwrap()
        .encoder()
        .clone();
    assert_eq!(include(&always, &plain), asked);
    let never = Responses::new(&ResponsesConfig::openai("k").encrypted_reasoning(Some(false)))
        .unwrap()
        .encoder()
        .clone();
    assert_eq!(include(&never, &effort), None);
    // Stored responses keep their reasoning server-side: nothing to ask for.
    assert_eq!(include(codec(true).encoder(), &effort), None);
}

#[test]
fn settings_the_api_lacks_are_validation_errors() {
    let request = ChatRequest::new("gpt-4.1")
        .user("Hi")
        .stop("END")
        .seed(7)
        .frequency_penalty(0.5)
        .top_k(5)
        .max_tokens(8)
        .reasoning(Reasoning::Budget(2048))
        .extra("store", json!(true))
        .extra("previous_response_id", json!(42));
    let err = encoder().validate(&request).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    let fields: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    for field in [
        "stop",
        "seed",
        "frequency_penalty",
        "top_k",
        "max_tokens",
        "reasoning",
        "store",
        "previous_response_id",
    ] {
        assert!(fields.contains(&field), "{field} missing from {fields:?}");
    }
    assert_eq!(err.provider(), Some("openai-responses"));
}

#[test]
fn parts_in_the_wrong_place_are_validation_errors() {
    let mut system = Message::system("x");
    system
        .content
        .push(ContentPart::image_url("https://example.com/a.png"));
    let mut assistant = Message::assistant("y");
    assistant
        .content
        .push(ContentPart::image_url("https://example.com/b.png"));
    let mut user = Message::user("z");
    user.content.push(ContentPart::Document {
        source: llm_core::Source::bytes("text/plain", b"hi"),
        name: None,
    });
    let request = ChatRequest::new("m")
        .message(system)
        .message(assistant)
        .message(user)
        .tool_choice(ToolChoice::Tool("nothing".into()));
    let err = encoder().validate(&request).unwrap_err();
    let fields: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert_eq!(
        fields,
        [
            "messages[0].content[1]",
            "messages[1].content[1]",
            "messages[2].content[1]",
            "tool_choice",
            "tool_choice"
        ]
    );
}

#[test]
fn a_relay_of_this_wire_appends_hosted_tools_and_one_of_another_is_left_out() {
    let mut relay = llm_core::Relay::new(llm_openai::RESPONSES_WIRE);
    relay
        .tools
        .push(json!({"type": "web_search", "external_web_access": false}));
    let mut request = ChatRequest::new("gpt-5").user("news?").tool(weather());
    request.relay = Some(relay.clone());
    let sent = body(&encoder(), &request, false);
    let kinds: Vec<&str> = sent["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["function", "web_search"]);
    // Alone, the hosted tool is the whole list.
    let mut only = ChatRequest::new("gpt-5").user("news?");
    only.relay = Some(relay.clone());
    assert_eq!(
        body(&encoder(), &only, false)["tools"][0]["type"],
        "web_search"
    );
    // Another wire format's relay is not this codec's to send.
    let mut foreign = relay.clone();
    foreign.wire = "anthropic.messages".into();
    only.relay = Some(foreign);
    assert!(body(&encoder(), &only, false).get("tools").is_none());
    // A header, or a field the encoder writes, is refused by name.
    relay.headers.push(("anthropic-beta".into(), "x".into()));
    relay.fields.insert("store".into(), json!(true));
    only.relay = Some(relay);
    let err = encoder().validate(&only).unwrap_err();
    let params: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert_eq!(params, ["relay.store", "relay.headers.anthropic-beta"]);
}
