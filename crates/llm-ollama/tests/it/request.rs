//! Snapshots of the `/api/chat` bodies this crate sends, and the requests it refuses to build.

use std::time::Duration;

use llm_core::{ChatRequest, ErrorKind, Provider};
use llm_ollama::{KeepAlive, Ollama, OllamaConfig, chat_body};
use serde_json::{Value, json};

fn body(config: &OllamaConfig, request: &ChatRequest, stream: bool) -> Value {
    serde_json::from_slice(&chat_body(config, request, stream).unwrap()).unwrap()
}

#[test]
fn minimal_request() {
    let request = ChatRequest::new("llama3.2").user("Why is the sky blue?");
    insta::assert_json_snapshot!(body(&OllamaConfig::default(), &request, false));
}

#[test]
fn every_parameter_goes_into_options() {
    let request = ChatRequest::new("llama3.2")
        .system("Be brief.")
        .user("Hi")
        .assistant("Hello!")
        .user("Count to three")
        .temperature(0.7)
        .top_p(0.9)
        .top_k(40)
        .max_tokens(64)
        .repeat_penalty(1.1)
        .seed(42)
        .stop("\n\n")
        .stop("User:");
    insta::assert_json_snapshot!(body(&OllamaConfig::default(), &request, true));
}

#[test]
fn keep_alive_and_extras() {
    let config = OllamaConfig::default().keep_alive(KeepAlive::For(Duration::from_secs(600)));
    let request = ChatRequest::new("llama3.2")
        .user("Hi")
        .temperature(0.0)
        .response_format(llm_core::ResponseFormat::JsonObject)
        .extra("options", json!({"num_ctx": 8192, "mirostat": 0}));
    insta::assert_json_snapshot!(body(&config, &request, true));
    let forever = OllamaConfig::default().keep_alive(KeepAlive::Forever);
    assert_eq!(body(&forever, &request, false)["keep_alive"], json!(-1));
}

#[test]
fn colliding_extras_are_validation_errors_naming_each_key() {
    let request = ChatRequest::new("llama3.2")
        .user("Hi")
        .temperature(0.5)
        .extra("stream", json!(false))
        .extra("model", json!("other"))
        .extra("options", json!({"temperature": 1.0, "num_ctx": 4096}));
    let err = chat_body(&OllamaConfig::default(), &request, true).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    let params: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert_eq!(
        params,
        ["extra.options.temperature", "extra.model", "extra.stream"]
    );
    let not_object = ChatRequest::new("m").user("x").extra("options", json!([1]));
    let err = chat_body(&OllamaConfig::default(), &not_object, true).unwrap_err();
    assert_eq!(err.violations()[0].param, "extra.options");
}

#[test]
fn validate_uses_the_ollama_table() {
    let ollama = Ollama::new(OllamaConfig::default().name("local-ollama")).unwrap();
    let request = ChatRequest::new("llama3.2")
        .user("Hi")
        .frequency_penalty(0.5)
        .top_p(1.5);
    let err = ollama.validate(&request).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(err.provider(), Some("local-ollama"));
    let params: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert_eq!(params, ["top_p", "frequency_penalty"]);
    assert!(
        ollama
            .validate(&ChatRequest::new("llama3.2").user("Hi").top_k(5))
            .is_ok()
    );
}

#[test]
fn tools_calls_and_results_are_written_as_ollama_expects() {
    use llm_core::{ContentPart, Message, Tool, ToolCall, ToolChoice, ToolOutput};
    let weather = Tool::new("get_weather", "Weather", json!({"type": "object"}));
    // A history from an OpenAI-style provider: call ids, a result that names only the call.
    let call = ToolCall::new("call_abc", "get_weather", json!({"city": "Paris"}));
    let mut result = Message::tool_result("call_abc", "", ToolOutput::Json(json!({"temp": 18})));
    if let ContentPart::ToolResult { name, .. } = &mut result.content[0] {
        assert!(name.is_empty());
    }
    let req = ChatRequest::new("llama3.2")
        .user("Weather in Paris?")
        .message(Message::tool_calls("", [call]))
        .message(result)
        .tool(weather.clone())
        .tool_choice(ToolChoice::Auto);
    let body: Value =
        serde_json::from_slice(&chat_body(&OllamaConfig::default(), &req, false).unwrap()).unwrap();
    insta::assert_json_snapshot!("tools_whole_body", body);
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {"name": "get_weather", "description": "Weather",
                 "parameters": {"type": "object"}}}])
    );
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "",
             "tool_calls": [{"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
            {"role": "tool", "content": "{\"temp\":18}", "tool_name": "get_weather"}
        ])
    );
    // What Ollama cannot express is rejected, never dropped.
    let req = ChatRequest::new("llama3.2")
        .user("hi")
        .tool(weather.strict(true))
        .tool_choice(ToolChoice::Required)
        .parallel_tool_calls(false);
    let err = chat_body(&OllamaConfig::default(), &req, false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    let params: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert_eq!(
        params,
        ["tool_choice", "parallel_tool_calls", "tools[0].strict"]
    );
}

#[test]
fn images_a_schema_an_effort_and_reasoning_go_where_ollama_takes_them() {
    use llm_core::{ContentPart, Effort, Message, Reasoning, ResponseFormat};
    let mut turn = Message::user("What is this?");
    turn.content
        .push(ContentPart::image_bytes("image/png", &[1, 2, 3]));
    let mut earlier = Message::assistant("A cat.");
    earlier.content.insert(
        0,
        ContentPart::Reasoning {
            text: "Whiskers.".into(),
            signature: None,
        },
    );
    let request = ChatRequest::new("llava")
        .message(turn)
        .message(earlier)
        .user("Sure?")
        .response_format(ResponseFormat::json_schema(
            "answer",
            json!({"type": "object", "properties": {"sure": {"type": "boolean"}}}),
        ))
        .reasoning(Reasoning::Effort(Effort::High));
    let got = body(&OllamaConfig::default(), &request, false);
    insta::assert_json_snapshot!(got);
    assert_eq!(got["messages"][0]["images"], json!(["AQID"]));
    assert_eq!(got["messages"][1]["thinking"], "Whiskers.");
    assert_eq!(got["format"]["properties"]["sure"]["type"], "boolean");
    assert_eq!(got["think"], "high");
}

#[test]
fn image_urls_documents_and_budgets_are_refused() {
    use llm_core::{ContentPart, Message, Reasoning};
    let mut turn = Message::user("Look");
    turn.content
        .push(ContentPart::image_url("https://example.com/a.png"));
    let mut paper = Message::user("Read");
    paper.content.push(ContentPart::pdf(b"%PDF", None));
    let request = ChatRequest::new("llava")
        .message(turn)
        .message(Message::assistant("ok"))
        .message(paper)
        .reasoning(Reasoning::Budget(1000));
    let err = chat_body(&OllamaConfig::default(), &request, false).unwrap_err();
    let params: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert_eq!(
        params,
        ["messages[0].content", "messages[2].content", "reasoning"]
    );
    assert!(
        err.violations()[0].given.contains("fetches no URLs"),
        "{err}"
    );
}
