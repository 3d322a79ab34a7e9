//! End-to-end tool calling against a real `llama-server` serving SmolLM2-135M-Instruct with the tool-call
//! chat template of the test harness (`tests/templates/smollm2-tool-calls.jinja`): llama-server parses the
//! model's calls into OpenAI `tool_calls`, whole and streamed, and takes the history of a call and its
//! result back. Assertions are about protocol and structure (a call of the offered tool, arguments of the
//! schema's shape, the finish reason), never about what the model chose.

use futures::StreamExt;
use llm_core::{
    ChatRequest, FinishReason, Message, Provider, StreamEvent, Tool, ToolChoice, ToolOutput,
};
use llm_llamacpp::{LlamaCpp, LlamaCppConfig};
use llmux_e2e::LlamaServer;
use serde_json::{Value, json};

fn client(server: &LlamaServer) -> LlamaCpp {
    LlamaCpp::new(LlamaCppConfig::default().base_url(server.base_url())).unwrap()
}

fn weather() -> Tool {
    Tool::new(
        "get_weather",
        "The weather forecast for a city",
        json!({
            "type": "object",
            "properties": {
                "city": {"type": "string"},
                "days": {"type": "integer", "minimum": 1, "maximum": 7}
            },
            "required": ["city", "days"]
        }),
    )
}

fn asking() -> ChatRequest {
    ChatRequest::new("smollm2")
        .user("What is the weather in Paris for the next 3 days?")
        .tool(weather())
        .tool_choice(ToolChoice::Required)
        .max_tokens(64)
        .temperature(0.0)
}

/// The arguments have the schema's shape: a string city and an integer number of days.
fn check_arguments(arguments: &Value) {
    assert!(arguments["city"].is_string(), "{arguments}");
    assert!(arguments["days"].is_i64(), "{arguments}");
}

#[tokio::test]
async fn a_whole_answer_is_a_tool_call_and_its_result_is_taken_back() {
    let server = LlamaServer::builder().tool_calls().start();
    let llama = client(&server);
    let answer = llama
        .chat(&asking())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log_tail(30)));
    assert_eq!(
        answer.finish_reason,
        Some(FinishReason::ToolCalls),
        "{answer:?}"
    );
    let call = answer.tool_calls.first().expect("a tool call");
    assert_eq!(call.name, "get_weather");
    assert!(!call.id.is_empty());
    check_arguments(&call.arguments);

    // The history goes back: the assistant's call, then its result; the model answers in text.
    let follow_up = ChatRequest::new("smollm2")
        .user("What is the weather in Paris for the next 3 days?")
        .message(answer.to_message())
        .message(Message::tool_result(
            call.id.clone(),
            call.name.clone(),
            ToolOutput::Json(json!({"city": "Paris", "forecast": ["sun", "rain", "sun"]})),
        ))
        .max_tokens(24)
        .temperature(0.0);
    let text = llama
        .chat(&follow_up)
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log_tail(30)));
    assert!(!text.text.is_empty(), "{text:?}");
    assert!(text.tool_calls.is_empty(), "{text:?}");
    assert!(
        matches!(
            text.finish_reason,
            Some(FinishReason::Stop | FinishReason::Length)
        ),
        "{text:?}"
    );
}

#[tokio::test]
async fn a_streamed_tool_call_arrives_in_pieces_then_whole() {
    let server = LlamaServer::builder().tool_calls().start();
    let llama = client(&server);
    let mut stream = llama
        .stream(&asking())
        .await
        .unwrap_or_else(|e| panic!("{e}\n{}", server.log_tail(30)));
    let (mut started, mut pieces, mut calls, mut finish) = (None, String::new(), Vec::new(), None);
    while let Some(event) = stream.next().await {
        match event.unwrap_or_else(|e| panic!("{e}\n{}", server.log_tail(30))) {
            StreamEvent::ToolCallStart { index, id, name } => started = Some((index, id, name)),
            StreamEvent::ToolCallDelta { index, arguments } => {
                assert_eq!(index, 0);
                pieces.push_str(&arguments);
            }
            StreamEvent::ToolCall { index, call } => calls.push((index, call)),
            StreamEvent::Finish(reason) => finish = Some(reason),
            _ => {}
        }
    }
    let (index, id, name) = started.expect("the call's start");
    assert_eq!((index, name.as_str()), (0, "get_weather"));
    assert_eq!(finish, Some(FinishReason::ToolCalls));
    let [(0, call)] = calls.as_slice() else {
        panic!("one complete call: {calls:?}");
    };
    assert_eq!(call.id, id);
    check_arguments(&call.arguments);
    let streamed: Value =
        serde_json::from_str(&pieces).expect("the pieces join into the arguments");
    assert_eq!(streamed, call.arguments);
}
