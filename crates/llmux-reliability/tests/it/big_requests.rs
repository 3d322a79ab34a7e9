//! Requests of hundreds of thousands of parts or messages: every provider's validation is linear in the
//! request's size, so such a request is answered (refused or sent) at once, and never holds a worker for
//! seconds. Ten times the parts may take ten times as long, with generous slack; a quadratic check takes a
//! hundred.

use std::time::{Duration, Instant};

use llm_core::{
    ChatRequest, ContentPart, Message, Provider as _, Role, Source, Timeouts, ToolCall, ToolOutput,
};
use llmux_reliability::wire::Wire;
use serde_json::json;

/// The request shapes an attacker can inflate.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// One user message of text, images of a type no provider takes, and cache breakpoints in turn.
    MixedParts,
    /// One user message of nothing but cache breakpoints.
    Breakpoints,
    /// `n` user messages in a row (merged into one turn by providers that alternate roles).
    Messages,
    /// An assistant message of `n` tool calls, then `n` tool results.
    ToolCalls,
}

fn request(shape: Shape, n: usize) -> ChatRequest {
    let mut request = ChatRequest::new("m");
    let user = |content: Vec<ContentPart>| {
        let mut m = Message::new(Role::User, "");
        m.content = content;
        m
    };
    match shape {
        Shape::MixedParts => request.messages.push(user(
            (0..n)
                .map(|i| match i % 3 {
                    0 => ContentPart::text("x"),
                    1 => ContentPart::Image {
                        source: Source::base64("text/plain", "AAAA"),
                    },
                    _ => ContentPart::CacheBreakpoint,
                })
                .collect(),
        )),
        Shape::Breakpoints => request
            .messages
            .push(user(vec![ContentPart::CacheBreakpoint; n])),
        Shape::Messages => {
            for _ in 0..n {
                request
                    .messages
                    .push(Message::new(Role::User, "a line of text"));
            }
        }
        Shape::ToolCalls => {
            request.messages.push(Message::new(Role::User, "go"));
            let mut calls = Message::new(Role::Assistant, "");
            calls.content = (0..n)
                .map(|i| ContentPart::ToolCall(ToolCall::new(format!("c{i}"), "f", json!({}))))
                .collect();
            request.messages.push(calls);
            for i in 0..n {
                let mut result = Message::new(Role::Tool, "");
                result.content = vec![ContentPart::ToolResult {
                    call_id: format!("c{i}"),
                    name: String::new(),
                    content: ToolOutput::Text("ok".into()),
                    is_error: false,
                }];
                request.messages.push(result);
            }
        }
    }
    request
}

#[test]
fn validating_a_huge_request_is_linear_for_every_provider() {
    for wire in [
        Wire::OpenAi,
        Wire::Anthropic,
        Wire::Ollama,
        Wire::OpenAiResponses,
        Wire::Gemini,
    ] {
        let provider = wire.provider("http://127.0.0.1:9", "k", Timeouts::default());
        for shape in [
            Shape::MixedParts,
            Shape::Breakpoints,
            Shape::Messages,
            Shape::ToolCalls,
        ] {
            let mut times = Vec::new();
            for n in [20_000, 200_000] {
                let request = request(shape, n);
                let started = Instant::now();
                // Refused or accepted, as each provider decides: only the time counts.
                let _ = provider.validate(&request);
                times.push(started.elapsed());
            }
            println!(
                "{wire:?} {shape:?}: 20k {:?}, 200k {:?}",
                times[0], times[1]
            );
            assert!(
                times[1] < times[0] * 40 + Duration::from_secs(1),
                "{wire:?} {shape:?}: {times:?}"
            );
        }
    }
}
