//! Images, PDF files, structured output and reasoning effort in Chat Completions bodies (insta snapshots),
//! and what each OpenAI-compatible server refuses in validation instead of dropping.

use llm_core::{
    ChatRequest, ContentPart, Effort, ErrorKind, Message, Reasoning, ResponseFormat, Source,
};
use llm_openai::{Encoder, Features, MAX_FILE_BYTES, OpenAiConfig};
use serde_json::{Value, json};

fn encoder(config: OpenAiConfig) -> Encoder {
    Encoder::new(&config)
}

fn body(encoder: &Encoder, request: &ChatRequest) -> Value {
    encoder.validate(request).expect("valid");
    serde_json::from_slice(&encoder.encode(request, false).unwrap()).unwrap()
}

fn params(encoder: &Encoder, request: &ChatRequest) -> Vec<String> {
    let err = encoder.validate(request).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    err.violations().iter().map(|v| v.param.clone()).collect()
}

fn media_turn() -> Message {
    let mut turn = Message::user("What is in the picture and the paper?");
    turn.content.push(ContentPart::image_bytes(
        "image/png",
        &[0x89, b'P', b'N', b'G'],
    ));
    turn.content
        .push(ContentPart::image_url("https://example.com/cat.jpg"));
    turn.content
        .push(ContentPart::pdf(b"%PDF-1.7", Some("paper.pdf".into())));
    turn.content.push(ContentPart::CacheBreakpoint);
    turn
}

#[test]
fn images_files_a_strict_schema_and_an_effort_are_written_as_the_api_takes_them() {
    let schema = json!({"type": "object", "properties": {"animal": {"type": "string"}},
                        "required": ["animal"], "additionalProperties": false});
    let request = ChatRequest::new("gpt-4o")
        .message(media_turn())
        .response_format(ResponseFormat::json_schema("answer", schema).strict(true))
        .reasoning(Reasoning::Effort(Effort::High));
    let got = body(&encoder(OpenAiConfig::new("k")), &request);
    insta::assert_json_snapshot!(got);
    assert_eq!(
        got["messages"][0]["content"][1],
        json!({"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw=="}})
    );
    assert_eq!(got["response_format"]["json_schema"]["strict"], json!(true));
    assert_eq!(got["reasoning_effort"], "high");
    let object = request.clone().response_format(ResponseFormat::JsonObject);
    assert_eq!(
        body(&encoder(OpenAiConfig::new("k")), &object)["response_format"],
        json!({"type": "json_object"})
    );
}

#[test]
fn reasoning_from_another_provider_is_not_sent_and_a_budget_is_refused() {
    let mut answer = Message::assistant("It is 4.");
    answer.content.insert(
        0,
        ContentPart::Reasoning {
            text: "2 + 2".into(),
            signature: Some("sig".into()),
        },
    );
    let request = ChatRequest::new("gpt-4o")
        .user("2 + 2?")
        .message(answer)
        .user("And 3 + 3?");
    let openai = encoder(OpenAiConfig::new("k"));
    assert_eq!(
        body(&openai, &request)["messages"][1],
        json!({"role": "assistant", "content": "It is 4."})
    );
    let budget = request.clone().reasoning(Reasoning::Budget(4096));
    assert_eq!(params(&openai, &budget), ["reasoning"]);
}

#[test]
fn each_server_refuses_what_it_cannot_take() {
    let request = ChatRequest::new("m")
        .message(media_turn())
        .response_format(ResponseFormat::json_schema("s", json!({"type": "object"})))
        .reasoning(Reasoning::Effort(Effort::Low));
    let llama = encoder(
        OpenAiConfig::compatible("llamacpp", "http://127.0.0.1:8080/v1")
            .features(Features::OPENAI.documents(false).reasoning_effort(false)),
    );
    assert_eq!(
        params(&llama, &request),
        ["messages[0].content[3]", "reasoning"]
    );
    let text_only = encoder(
        OpenAiConfig::compatible("plain", "http://127.0.0.1:9/v1").features(Features::TEXT),
    );
    assert_eq!(
        params(&text_only, &request),
        [
            "messages[0].content[1]",
            "messages[0].content[2]",
            "messages[0].content[3]",
            "response_format",
            "reasoning"
        ]
    );
    // Media only in user turns; documents only as PDF bytes.
    let mut wrong = Message::assistant("look");
    wrong
        .content
        .push(ContentPart::image_url("https://example.com/a.png"));
    let mut url_doc = Message::user("read");
    url_doc.content.push(ContentPart::Document {
        source: Source::url("https://example.com/a.pdf"),
        name: None,
    });
    let bad = ChatRequest::new("m")
        .user("hi")
        .message(wrong)
        .message(url_doc);
    let openai = encoder(OpenAiConfig::new("k"));
    assert_eq!(
        params(&openai, &bad),
        ["messages[1].content[1]", "messages[2].content[1]"]
    );
}

#[test]
fn the_documented_file_size_limit_is_checked_before_sending() {
    let mut turn = Message::user("read");
    turn.content.push(ContentPart::Document {
        source: Source::base64("application/pdf", "A".repeat((MAX_FILE_BYTES / 3 + 1) * 4)),
        name: None,
    });
    let request = ChatRequest::new("gpt-4o").message(turn);
    assert_eq!(
        params(&encoder(OpenAiConfig::new("k")), &request),
        ["messages"]
    );
}
