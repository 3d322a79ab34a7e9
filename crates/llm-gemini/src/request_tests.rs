//! Request mapping: snapshots of the bodies and every validation rule.

use llm_core::{
    ChatRequest, ContentPart, Effort, Message, Reasoning, ResponseFormat, Tool, ToolCall,
    ToolChoice, ToolOutput,
};
use serde_json::{Value, json};

use super::*;
use crate::response::call_id;

fn body_json(request: &ChatRequest) -> Value {
    assert_eq!(violations(request), [], "{request:?}");
    let bytes = body("gemini", request).expect("valid request");
    serde_json::from_slice(&bytes).expect("json")
}

fn with_parts(mut message: Message, content: Vec<ContentPart>) -> Message {
    message.content = content;
    message
}

fn violation_params(request: &ChatRequest) -> Vec<String> {
    violations(request).into_iter().map(|v| v.param).collect()
}

fn weather() -> Tool {
    Tool::new(
        "get_weather",
        "The weather in a city",
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
    )
}

#[test]
fn minimal_body() {
    insta::assert_json_snapshot!(body_json(
        &ChatRequest::new("gemini-2.5-flash").user("Hello")
    ));
}

#[test]
fn full_body_maps_every_parameter_and_merges_roles() {
    let req = ChatRequest::new("gemini-2.5-flash")
        .system("Be brief.")
        .system("Answer in French.")
        .user("Hello")
        .user("again")
        .assistant("Bonjour !")
        .user("A joke?")
        .temperature(1.5)
        .top_p(0.9)
        .top_k(40)
        .max_tokens(256)
        .stop("END")
        .seed(42)
        .presence_penalty(0.5)
        .frequency_penalty(-0.5)
        .response_format(ResponseFormat::json_schema(
            "joke",
            json!({"type": "object", "properties": {"joke": {"type": "string"}}}),
        ))
        .reasoning(Reasoning::Budget(1024))
        .extra(
            "safetySettings",
            json!([{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}]),
        );
    insta::assert_json_snapshot!(body_json(&req));
}

#[test]
fn tools_calls_results_images_and_signatures() {
    let args = json!({"city": "Paris"});
    let id = call_id(0, "get_weather", &args);
    let mut user = Message::user("What is in this picture, and the weather in Paris?");
    user.content
        .push(ContentPart::image_bytes("image/png", b"\x89PNG"));
    user.content
        .push(ContentPart::pdf(b"%PDF-1.7", Some("a.pdf".into())));
    let assistant = with_parts(
        Message::assistant(""),
        vec![
            ContentPart::Reasoning {
                text: "I should call the weather tool.".into(),
                signature: Some(format!("call={id}#U0lHLWNhbGw=")),
            },
            ContentPart::ToolCall(ToolCall::new(id.clone(), "get_weather", args)),
            ContentPart::ToolCall(ToolCall::new(
                "server-id-7",
                "get_weather",
                json!({"city": "Rome"}),
            )),
        ],
    );
    let signed_text = with_parts(
        Message::assistant(""),
        vec![
            ContentPart::Reasoning {
                text: "Summarise.".into(),
                signature: Some("thought#U0lHLXRob3VnaHQ=".into()),
            },
            ContentPart::Reasoning {
                text: String::new(),
                signature: Some("text#U0lHLXRleHQ=".into()),
            },
            ContentPart::Reasoning {
                text: "someone else's unsigned thought".into(),
                signature: None,
            },
            ContentPart::RedactedReasoning {
                data: "claude's".into(),
            },
            ContentPart::text("Paris: 18 C, Rome: 21 C."),
        ],
    );
    let req = ChatRequest::new("gemini-2.5-pro")
        .message(user)
        .message(assistant)
        .message(Message::tool_result(
            &id,
            "",
            ToolOutput::Json(json!({"temp": 18})),
        ))
        .message(Message::tool_result(
            "server-id-7",
            "get_weather",
            ToolOutput::Text("21 C".into()),
        ))
        .message(signed_text)
        .user("Thanks")
        .tool(weather())
        .tool_choice(ToolChoice::Tool("get_weather".into()))
        .reasoning(Reasoning::Effort(Effort::High));
    insta::assert_json_snapshot!(body_json(&req));
}

#[test]
fn a_signature_of_an_empty_thought_goes_back_on_it() {
    let req = ChatRequest::new("m").user("hi").message(with_parts(
        Message::assistant(""),
        vec![
            ContentPart::Reasoning {
                text: String::new(),
                signature: Some("thought#U0lH".into()),
            },
            ContentPart::text("Hello"),
        ],
    ));
    assert_eq!(
        body_json(&req)["contents"][1]["parts"],
        json!([{"text": "", "thought": true, "thoughtSignature": "U0lH"}, {"text": "Hello"}])
    );
}

#[test]
fn another_providers_reasoning_is_not_sent_to_gemini() {
    let req = ChatRequest::new("m").user("hi").message(with_parts(
        Message::assistant(""),
        vec![
            ContentPart::Reasoning {
                text: "claude's".into(),
                signature: Some("ErUBCkYIBhgCIkA+/9zQ==".into()),
            },
            ContentPart::Reasoning {
                text: "responses'".into(),
                signature: Some(r#"{"type":"reasoning","id":"rs_1"}"#.into()),
            },
            ContentPart::text("Hello"),
        ],
    ));
    assert_eq!(
        body_json(&req)["contents"][1]["parts"],
        json!([{"text": "Hello"}])
    );
}

#[test]
fn a_failed_tool_and_tool_choices() {
    let mut result =
        Message::tool_result("c1", "get_weather", ToolOutput::Text("no such city".into()));
    if let ContentPart::ToolResult { is_error, .. } = &mut result.content[0] {
        *is_error = true;
    }
    let req = ChatRequest::new("m")
        .user("hi")
        .message(Message::tool_calls(
            "",
            [ToolCall::new("c1", "get_weather", json!({}))],
        ))
        .message(result)
        .tool(weather());
    let body = body_json(&req.clone().tool_choice(ToolChoice::None));
    assert_eq!(
        body["contents"][2]["parts"][0]["functionResponse"],
        json!({"id": "c1", "name": "get_weather", "response": {"error": "no such city"}})
    );
    assert_eq!(
        body["toolConfig"],
        json!({"functionCallingConfig": {"mode": "NONE"}})
    );
    let body = body_json(&req.clone().tool_choice(ToolChoice::Required));
    assert_eq!(body["toolConfig"]["functionCallingConfig"]["mode"], "ANY");
    let body = body_json(&req.response_format(ResponseFormat::JsonObject));
    assert_eq!(
        body["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
}

#[test]
fn what_gemini_cannot_take_is_a_violation() {
    let base = || ChatRequest::new("m").user("hi");
    assert_eq!(
        violation_params(&ChatRequest::new("m").system("s")),
        ["messages"]
    );
    assert_eq!(
        violation_params(&base().message(Message::user("x")).message(with_parts(
            Message::user(""),
            vec![ContentPart::image_url("https://example.com/cat.png")]
        ))),
        ["messages[2].content[0]"]
    );
    assert_eq!(
        violation_params(&base().message(with_parts(
            Message::user(""),
            vec![ContentPart::Image {
                source: Source::bytes("application/pdf", b"x")
            }]
        ))),
        ["messages[1].content[0]"]
    );
    assert_eq!(
        violation_params(&base().message(Message::tool_result(
            "nope",
            "",
            ToolOutput::Text("x".into())
        ))),
        ["messages[1].content[0]"]
    );
    let mut strict = weather();
    strict.strict = Some(true);
    assert_eq!(violation_params(&base().tool(strict)), ["tools[0].strict"]);
    assert_eq!(
        violation_params(&base().parallel_tool_calls(false)),
        ["parallel_tool_calls"]
    );
    assert_eq!(
        violation_params(&base().tool_choice(ToolChoice::Tool("x".into()))),
        ["tool_choice"]
    );
    assert_eq!(
        violation_params(&base().extra("contents", json!([]))),
        ["extra.contents"]
    );
    let six = (0..6).fold(base(), |r, i| r.stop(format!("s{i}")));
    assert_eq!(violation_params(&six), ["stop"]);
    assert_eq!(
        violation_params(&base().repeat_penalty(1.1)),
        ["repeat_penalty"]
    );
    assert_eq!(
        violation_params(
            &base()
                .message(Message::tool_calls(
                    "",
                    [ToolCall::new("c", "t", json!({}))]
                ))
                .message(with_parts(
                    Message::user(""),
                    vec![ContentPart::ToolCall(ToolCall::new("d", "t", json!({})))]
                ))
        ),
        ["messages[2].content[0]"]
    );
}
