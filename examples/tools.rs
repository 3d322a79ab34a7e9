//! Tool calling, a whole loop: the model asks for a tool, a local Rust function answers, the model finishes.
//!
//! Uses OpenAI when `OPENAI_API_KEY` is set, a running llama-server when `LLAMA_SERVER_URL` is set, else the
//! local default (a managed llama-server with SmolLM2, installed by `cargo xtask demo`). A model may answer
//! without calling the tool (the 135M local model usually does): the loop then just prints its answer.
//!
//! `cargo run -p llmux --example tools --features full -- "What is the weather in Paris?"`

mod support;

use llmux::{ChatRequest, FinishReason, Message, Provider, Tool, ToolCall, ToolOutput};
use serde_json::{Value, json};

/// The local function the model may call.
fn get_weather(arguments: &Value) -> ToolOutput {
    match arguments["city"].as_str() {
        Some(city) => ToolOutput::Json(json!({"city": city, "temperature_c": 18, "sky": "clear"})),
        None => ToolOutput::Text("error: `city` is required".to_owned()),
    }
}

fn run_tool(call: &ToolCall) -> ToolOutput {
    match call.name.as_str() {
        "get_weather" => get_weather(&call.arguments),
        other => ToolOutput::Text(format!("error: no tool named {other}")),
    }
}

#[tokio::main]
async fn main() -> Result<(), llmux::Error> {
    let prompt = support::prompt("What is the weather in Paris?");
    let picked = support::pick().await?;
    let weather = Tool::new(
        "get_weather",
        "The current weather in a city",
        json!({
            "type": "object",
            "properties": {"city": {"type": "string", "description": "The city, e.g. Paris"}},
            "required": ["city"]
        }),
    );
    let mut request = ChatRequest::new(picked.model.clone())
        .user(prompt)
        .tool(weather)
        .max_tokens(128);
    // A bounded loop: a model that keeps calling tools is stopped after a few turns.
    for turn in 1..=4 {
        let answer = picked.provider.chat(&request).await?;
        if answer.tool_calls.is_empty() {
            println!("{}", answer.text.trim());
            eprintln!("[{} answered after {turn} turn(s)]", answer.provider);
            return Ok(());
        }
        eprintln!(
            "[turn {turn}: {} asked for {} call(s), finish {}]",
            answer.provider,
            answer.tool_calls.len(),
            answer
                .finish_reason
                .as_ref()
                .unwrap_or(&FinishReason::ToolCalls)
        );
        // The whole assistant turn goes back: text, calls, and any reasoning with its signature (Claude
        // requires its signed thinking back when thinking and tools meet).
        request = request.message(answer.to_message());
        for call in &answer.tool_calls {
            let output = run_tool(call);
            eprintln!(
                "[{}({}) -> {}]",
                call.name,
                call.arguments,
                output.to_text()
            );
            request = request.message(Message::tool_result(
                call.id.clone(),
                call.name.clone(),
                output,
            ));
        }
    }
    eprintln!("[stopped: the model was still calling tools after 4 turns]");
    Ok(())
}
