//! The OpenAI Responses dialect (Open Responses), server side and stateless: a `POST /v1/responses` body
//! read into a [`ChatRequest`](llmux::ChatRequest), and a [`ChatResponse`] or a stream of [`StreamEvent`](llmux::StreamEvent)s written back as a
//! `response` object or the named event sequence (`response.created`, `response.in_progress`, per item
//! `response.output_item.added` … `response.output_item.done`, `response.completed`), each event with a
//! rising `sequence_number`. A stream that fails after its first token ends with `response.failed`.
//!
//! Read: `model`, `instructions`, `input` as a string or items (messages of any role with `input_text`,
//! `input_image`, `input_file`, `output_text` and `refusal` parts; `function_call`,
//! `function_call_output`, `custom_tool_call`, `custom_tool_call_output` and `reasoning` items), `tools`
//! (`function`; `namespace`, a group of function tools, served as functions named `NAMESPACE__NAME` and
//! answered with the call's `namespace` and `name`; `custom`, a free-form tool, served as a function taking
//! one string `input` and answered as a `custom_tool_call`), `tool_choice`, `parallel_tool_calls`,
//! `text.format` (`text`, `json_object`, `json_schema`), `reasoning.effort` and `reasoning.summary`,
//! `max_output_tokens`, `temperature`, `top_p`, `stream`, `include` (`reasoning.encrypted_content`: a
//! reasoning item carries the provider's signature as `encrypted_content`, which a later request hands
//! back). Hosted tools (`web_search`, `file_search`, `code_interpreter`, …) travel in the request's
//! [`Relay`](llmux::Relay) to an OpenAI Responses upstream, which runs them; when another provider answers they are left
//! out and named in `x-llmux-removed-tools` (or the request is refused, as the gateway is configured).
//! Accepted and not forwarded: `metadata`, `user`, `safety_identifier`, `prompt_cache_key`,
//! `prompt_cache_retention`, `service_tier`, `client_metadata` (Codex's), `store: false`, `truncation: "disabled"`,
//! `text.verbosity`, `stream_options`. The gateway keeps no responses: `store: true`,
//! `previous_response_id`, `conversation`, `background` and `item_reference` items are a 400 saying so.
//! Anything else is a 400 naming the field.

mod events;
mod read;

use axum::http::HeaderMap;
use llmux::{ChatResponse, ContentPart, FinishReason, Usage};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

use crate::dialect::{Dialect, Encode, Invalid, Parsed, Reply};
use crate::error::{ApiError, Problem};
use crate::openai;
use crate::wire;

pub use events::Events;
pub use read::parse;

/// The Responses API.
#[derive(Debug, Clone, Copy)]
pub struct Responses;

/// The one [`Responses`] the gateway's routes name.
pub static RESPONSES: Responses = Responses;

impl Dialect for Responses {
    fn name(&self) -> &'static str {
        "responses"
    }

    fn read(&self, body: &[u8], _headers: &HeaderMap) -> Result<Parsed, Invalid> {
        parse(body)
    }

    fn fresh_id(&self, n: u64) -> String {
        format!("resp_llmux_{n}")
    }

    fn whole(&self, answer: &ChatResponse, reply: &Reply, parsed: &Parsed) -> Value {
        response(answer, reply, parsed)
    }

    fn stream(&self, reply: Reply, parsed: &Parsed) -> Box<dyn Encode> {
        Box::new(Events::new(reply, parsed))
    }

    fn error_type(&self, problem: Problem) -> (&'static str, Option<&'static str>) {
        openai::error_type(problem)
    }

    fn error_body(&self, e: &ApiError) -> Value {
        openai::error_body(e)
    }

    fn error_event(&self, e: &ApiError) -> String {
        let (kind, code) = self.error_type(e.problem);
        let data = json!({"type": "error", "code": code.unwrap_or(kind), "message": e.message,
                          "param": null, "sequence_number": 0});
        format!("event: error\ndata: {data}\n\n")
    }

    fn models(&self, names: &[String]) -> Value {
        openai::CHAT_COMPLETIONS.models(names)
    }
}

/// The Responses wire format's name in a [`Relay`](llmux::Relay): the one `llm_openai::RESPONSES_WIRE` gives.
pub const RELAY_WIRE: &str = llmux::openai::RESPONSES_WIRE;
/// What a tool the provider sees is to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ClientTool {
    namespace: Option<String>,
    name: String,
    /// A free-form (`custom`) tool: its one argument is the string `input`.
    custom: bool,
}

/// The client's tools by the name the provider sees.
#[derive(Debug, Default)]
struct Names(BTreeMap<String, ClientTool>);

impl Names {
    /// The name the provider sees for `name` in `namespace`.
    fn flat(namespace: Option<&str>, name: &str) -> String {
        match namespace {
            Some(ns) => format!("{ns}__{name}"),
            None => name.to_owned(),
        }
    }

    /// The tools of a request's `tools` array (no checks: [`parse`] made them).
    fn of(tools: Option<&Value>) -> Names {
        let mut names = Names::default();
        let mut add = |t: &Map<String, Value>, namespace: Option<&str>| {
            let Some(name) = t.get("name").and_then(Value::as_str) else {
                return;
            };
            let custom = t.get("type").and_then(Value::as_str) == Some("custom");
            names.0.insert(
                Names::flat(namespace, name),
                ClientTool {
                    namespace: namespace.map(str::to_owned),
                    name: name.to_owned(),
                    custom,
                },
            );
        };
        for t in tools.and_then(Value::as_array).into_iter().flatten() {
            let Some(t) = t.as_object() else { continue };
            match t.get("type").and_then(Value::as_str) {
                Some("namespace") => {
                    let ns = t.get("name").and_then(Value::as_str);
                    for inner in t
                        .get("tools")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(inner) = inner.as_object() {
                            add(inner, ns);
                        }
                    }
                }
                Some("function" | "custom") => add(t, None),
                _ => {}
            }
        }
        names
    }

    /// What the provider's call of `flat` is to the client (a plain function when unknown).
    fn client(&self, flat: &str) -> ClientTool {
        self.0.get(flat).cloned().unwrap_or_else(|| ClientTool {
            namespace: None,
            name: flat.to_owned(),
            custom: false,
        })
    }
}

/// Encrypted reasoning a provider gave without any text (Claude's `redacted_thinking`), marked so that it
/// goes back as such.
const REDACTED: &str = "llmux-redacted:";

/// Responses usage: `input_tokens` is the whole prompt, cached reads included and counted again in
/// `input_tokens_details.cached_tokens`.
fn usage(u: Option<&Usage>) -> Value {
    let input = u.and_then(|u| u.input_tokens).unwrap_or(0);
    let output = u.and_then(|u| u.output_tokens).unwrap_or(0);
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": u.and_then(|u| u.cached_input_tokens).unwrap_or(0)},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": u.and_then(|u| u.reasoning_tokens).unwrap_or(0)},
        "total_tokens": u.and_then(Usage::total).unwrap_or(input + output),
    })
}

/// The `response` object around `output`, with the request's echoed fields.
fn envelope(reply: &Reply, echo: &Map<String, Value>, created: u64, status: &str) -> Value {
    let get = |k: &str, default: Value| echo.get(k).cloned().unwrap_or(default);
    json!({
        "id": reply.id,
        "object": "response",
        "created_at": created,
        "status": status,
        "background": false,
        "error": null,
        "incomplete_details": null,
        "instructions": get("instructions", Value::Null),
        "max_output_tokens": get("max_output_tokens", Value::Null),
        "metadata": get("metadata", json!({})),
        "model": reply.model,
        "output": [],
        "parallel_tool_calls": get("parallel_tool_calls", json!(true)),
        "previous_response_id": null,
        "reasoning": get("reasoning", json!({"effort": null, "summary": null})),
        "store": false,
        "temperature": get("temperature", Value::Null),
        "text": get("text", json!({"format": {"type": "text"}})),
        "tool_choice": get("tool_choice", json!("auto")),
        "tools": get("tools", json!([])),
        "top_p": get("top_p", Value::Null),
        "truncation": "disabled",
        "usage": null,
    })
}

/// The status an answer ended with, and why it is incomplete.
fn ending(finish: Option<&FinishReason>) -> (&'static str, Value) {
    match finish {
        Some(FinishReason::Length) => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some(FinishReason::ContentFilter) => ("incomplete", json!({"reason": "content_filter"})),
        _ => ("completed", Value::Null),
    }
}

fn wants_encrypted(echo: &Map<String, Value>) -> bool {
    echo.get("include")
        .and_then(Value::as_array)
        .is_some_and(|i| i.iter().any(|v| v == "reasoning.encrypted_content"))
}

/// A reasoning output item.
fn reasoning_item(id: &str, text: &str, encrypted: Option<String>) -> Value {
    let summary = if text.is_empty() {
        json!([])
    } else {
        json!([{"type": "summary_text", "text": text}])
    };
    let mut item = json!({"type": "reasoning", "id": id, "summary": summary});
    if let Some(e) = encrypted {
        item["encrypted_content"] = json!(e);
    }
    item
}

fn message_item(id: &str, text: &str, status: &str) -> Value {
    json!({"type": "message", "id": id, "status": status, "role": "assistant",
           "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]})
}

/// A call output item: a `function_call` (with its `namespace` when it has one) or a `custom_tool_call`.
fn call_item(id: &str, call_id: &str, tool: &ClientTool, arguments: &str, status: &str) -> Value {
    if tool.custom {
        let input = serde_json::from_str::<Value>(arguments)
            .ok()
            .and_then(|v| v.get("input").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or_default();
        return json!({"type": "custom_tool_call", "id": id, "call_id": call_id, "name": tool.name,
                      "input": input, "status": status});
    }
    let mut item = json!({"type": "function_call", "id": id, "call_id": call_id, "name": tool.name,
                          "arguments": arguments, "status": status});
    if let Some(ns) = &tool.namespace {
        item["namespace"] = json!(ns);
    }
    item
}

/// A whole answer as a `response` object.
pub fn response(r: &ChatResponse, reply: &Reply, parsed: &Parsed) -> Value {
    let names = Names::of(parsed.echo.get("tools"));
    let encrypted = wants_encrypted(&parsed.echo);
    let mut output = Vec::new();
    for (i, part) in r.reasoning_parts.iter().enumerate() {
        let id = format!("rs_{}_{i}", reply.id);
        match part {
            ContentPart::Reasoning { text, signature } => output.push(reasoning_item(
                &id,
                text,
                signature.clone().filter(|_| encrypted),
            )),
            ContentPart::RedactedReasoning { data } => output.push(reasoning_item(
                &id,
                "",
                encrypted.then(|| format!("{REDACTED}{data}")),
            )),
            _ => {}
        }
    }
    if r.reasoning_parts.is_empty()
        && let Some(text) = r.reasoning.as_ref().filter(|t| !t.is_empty())
    {
        output.push(reasoning_item(&format!("rs_{}_0", reply.id), text, None));
    }
    if !r.text.is_empty() || r.tool_calls.is_empty() {
        output.push(message_item(
            &format!("msg_{}", reply.id),
            &r.text,
            "completed",
        ));
    }
    for (i, call) in r.tool_calls.iter().enumerate() {
        let tool = names.client(&call.name);
        output.push(call_item(
            &format!("fc_{}_{i}", reply.id),
            &call.id,
            &tool,
            &wire::arguments_text(&call.arguments),
            "completed",
        ));
    }
    let (status, incomplete) = ending(r.finish_reason.as_ref());
    let mut body = envelope(reply, &parsed.echo, openai::now(), status);
    body["incomplete_details"] = incomplete;
    body["output"] = Value::Array(output);
    body["usage"] = usage(r.usage.as_ref());
    body
}

#[cfg(test)]
mod tests;
