//! The OpenAI Responses dialect (Open Responses), server side and stateless: a `POST /v1/responses` body
//! read into a [`ChatRequest`], and a [`ChatResponse`] or a stream of [`StreamEvent`]s written back as a
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
//! [`Relay`] to an OpenAI Responses upstream, which runs them; when another provider answers they are left
//! out and named in `x-llmux-removed-tools` (or the request is refused, as the gateway is configured).
//! Accepted and not forwarded: `metadata`, `user`, `safety_identifier`, `prompt_cache_key`,
//! `prompt_cache_retention`, `service_tier`, `client_metadata` (Codex's), `store: false`, `truncation: "disabled"`,
//! `text.verbosity`, `stream_options`. The gateway keeps no responses: `store: true`,
//! `previous_response_id`, `conversation`, `background` and `item_reference` items are a 400 saying so.
//! Anything else is a 400 naming the field.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::http::HeaderMap;
use llmux::{
    ChatRequest, ChatResponse, ContentPart, FinishReason, Message, Reasoning, Relay,
    ResponseFormat, Role, Source, StreamEvent, Tool, ToolCall, ToolChoice, ToolOutput, Usage,
};
use serde_json::{Map, Value, json};

use crate::dialect::{Dialect, Encode, Invalid, Parsed, Reply};
use crate::error::{ApiError, Problem};
use crate::openai::{self, openai_effort};
use crate::wire::{
    self, Quoted, as_array, as_object, as_str, at, bool_field, f64_field, i64_field, present,
    str_field,
};

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

/// The request fields every answer repeats, as the client sent them.
const ECHOED: &[&str] = &[
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "temperature",
    "top_p",
    "max_output_tokens",
    "reasoning",
    "text",
    "metadata",
    "include",
];

/// What the reader takes beyond the fields llm-openai's Responses encoder writes
/// ([`llmux::openai::RESPONSES_FIELDS`]): settings checked here and not forwarded, and what needs a store (refused).
const ALSO_READ: &[&str] = &[
    "stream_options",
    "previous_response_id",
    "conversation",
    "background",
    "metadata",
    "user",
    "safety_identifier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "service_tier",
    "truncation",
    "client_metadata",
];

/// The Responses wire format's name in a [`Relay`]: the one `llm_openai::RESPONSES_WIRE` gives.
pub const RELAY_WIRE: &str = llmux::openai::RESPONSES_WIRE;

/// Tool types a hosted service runs (OpenAI's, or the client's own computer through it): no provider
/// behind the gateway runs them.
const HOSTED: &[&str] = &[
    "web_search",
    "web_search_preview",
    "web_search_preview_2025_03_11",
    "file_search",
    "code_interpreter",
    "image_generation",
    "computer_use_preview",
    "computer_use",
    "mcp",
    "local_shell",
    "shell",
    "apply_patch",
    "tool_search",
];

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

/// Reads a Responses request body.
pub fn parse(body: &[u8]) -> Result<Parsed, Invalid> {
    let map = wire::known_object(body, &[&llmux::openai::RESPONSES_FIELDS, ALSO_READ])?;
    let model = str_field(&map, "model", "")?.to_owned();
    stateless(&map)?;
    let mut request = ChatRequest::for_chain();
    if let Some(instructions) = present(&map, "instructions") {
        let text = as_str(instructions, "instructions")?;
        if !text.is_empty() {
            request.messages.push(Message::new(Role::System, text));
        }
    }
    let mut hosted = Vec::new();
    if let Some(tools) = present(&map, "tools") {
        for (i, t) in as_array(tools, "tools")?.iter().enumerate() {
            tool(t, &format!("tools[{i}]"), &mut request.tools, &mut hosted)?;
        }
    }
    let names = Names::of(present(&map, "tools"));
    match present(&map, "input") {
        None => return Err("`input` is required".to_owned()),
        Some(Value::String(s)) => request.messages.push(Message::new(Role::User, s.clone())),
        Some(v) => {
            let mut calls = CallNames::default();
            for (i, item) in as_array(v, "input")?.iter().enumerate() {
                input_item(
                    item,
                    &format!("input[{i}]"),
                    &names,
                    &mut calls,
                    &mut request.messages,
                )?;
            }
        }
    }
    request.tool_choice = present(&map, "tool_choice")
        .map(|c| tool_choice(c, &names))
        .transpose()?;
    request.parallel_tool_calls = bool_field(&map, "parallel_tool_calls")?;
    let p = &mut request.params;
    p.temperature = f64_field(&map, "temperature")?;
    p.top_p = f64_field(&map, "top_p")?;
    p.max_tokens = i64_field(&map, "max_output_tokens")?;
    if let Some(text) = present(&map, "text") {
        let text = as_object(text, "text")?;
        wire::no_unknown_fields(text, &["format", "verbosity"], "text")?;
        if let Some(v) = present(text, "verbosity") {
            match as_str(v, "text.verbosity")? {
                "low" | "medium" | "high" => {}
                other => {
                    return Err(format!(
                        "`text.verbosity` `{other}` is not supported: low, medium or high"
                    ));
                }
            }
        }
        request.response_format = present(text, "format").map(format).transpose()?;
    }
    if let Some(reasoning) = present(&map, "reasoning") {
        let r = as_object(reasoning, "reasoning")?;
        wire::no_unknown_fields(r, &["effort", "summary", "generate_summary"], "reasoning")?;
        for key in ["summary", "generate_summary"] {
            if let Some(v) = present(r, key) {
                match as_str(v, &at("reasoning", key))? {
                    "auto" | "concise" | "detailed" => {}
                    other => {
                        return Err(format!(
                            "`reasoning.{key}` `{other}` is not supported: auto, concise or detailed"
                        ));
                    }
                }
            }
        }
        request.reasoning = match present(r, "effort") {
            None => None,
            // No reasoning asked for: the provider's default, which for a model that cannot stop
            // reasoning is its least.
            Some(Value::String(e)) if e == "none" => None,
            Some(e) => Some(Reasoning::Effort(openai_effort(as_str(
                e,
                "reasoning.effort",
            )?)?)),
        };
    }
    if let Some(include) = present(&map, "include") {
        for (i, v) in as_array(include, "include")?.iter().enumerate() {
            match as_str(v, &format!("include[{i}]"))? {
                "reasoning.encrypted_content" => {}
                other => {
                    return Err(format!(
                        "`include` `{other}` is not supported by this gateway"
                    ));
                }
            }
        }
    }
    if i64_field(&map, "top_logprobs")?.is_some_and(|n| n > 0) {
        return Err("`top_logprobs` is not supported by this gateway".to_owned());
    }
    if let Some(t) = present(&map, "truncation")
        && as_str(t, "truncation")? != "disabled"
    {
        return Err("`truncation` must be `disabled`: the gateway does not trim inputs".to_owned());
    }
    for key in ["metadata", "stream_options", "client_metadata"] {
        if let Some(v) = present(&map, key) {
            as_object(v, key)?;
        }
    }
    for key in [
        "user",
        "safety_identifier",
        "prompt_cache_key",
        "prompt_cache_retention",
        "service_tier",
    ] {
        if let Some(v) = present(&map, key) {
            as_str(v, key)?;
        }
    }
    let stream = bool_field(&map, "stream")?.unwrap_or(false);
    let mut parsed = Parsed::new(request, model, stream);
    if !hosted.is_empty() {
        let mut relay = Relay::new(RELAY_WIRE);
        relay.tools = hosted;
        parsed.request.relay = Some(relay);
    }
    parsed.echo = ECHOED
        .iter()
        .filter_map(|k| present(&map, k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    Ok(parsed)
}

/// Refuses what needs stored responses.
fn stateless(map: &Map<String, Value>) -> Result<(), Invalid> {
    const NO_STORE: &str =
        "this gateway keeps no responses: send the whole conversation in `input`";
    if bool_field(map, "store")? == Some(true) {
        return Err(format!(
            "`store: true` is not supported: {NO_STORE} with `store: false`"
        ));
    }
    for key in ["previous_response_id", "conversation"] {
        if present(map, key).is_some() {
            return Err(format!("`{key}` is not supported: {NO_STORE}"));
        }
    }
    if bool_field(map, "background")? == Some(true) {
        return Err(format!("`background: true` is not supported: {NO_STORE}"));
    }
    Ok(())
}

/// Tool names by call id, so a result can name the tool it answers.
type CallNames = wire::CallNames;

fn tool(
    value: &Value,
    path: &str,
    out: &mut Vec<Tool>,
    hosted: &mut Vec<Value>,
) -> Result<(), Invalid> {
    let t = as_object(value, path)?;
    match str_field(t, "type", path)? {
        "function" => out.push(function_tool(t, path, None)?),
        "custom" => {
            wire::no_unknown_fields(
                t,
                &["type", "name", "description", "format", "defer_loading"],
                path,
            )?;
            let name = str_field(t, "name", path)?;
            let mut description = present(t, "description")
                .map(|d| as_str(d, &at(path, "description")))
                .transpose()?
                .unwrap_or_default()
                .to_owned();
            if let Some(format) = present(t, "format") {
                let f = as_object(format, &at(path, "format"))?;
                if let Some(definition) = present(f, "definition") {
                    let syntax = present(f, "syntax")
                        .and_then(Value::as_str)
                        .unwrap_or("grammar");
                    let _ = write!(
                        description,
                        "\n\nThe `input` string must follow this {syntax} grammar:\n{}",
                        as_str(definition, &at(path, "format.definition"))?
                    );
                }
            }
            out.push(Tool::new(
                name,
                description,
                json!({"type": "object", "properties": {"input": {"type": "string"}},
                       "required": ["input"], "additionalProperties": false}),
            ));
        }
        "namespace" => {
            wire::no_unknown_fields(t, &["type", "name", "description", "tools"], path)?;
            let ns = str_field(t, "name", path)?;
            let inner_path = at(path, "tools");
            for (i, inner) in as_array(t.get("tools").unwrap_or(&Value::Null), &inner_path)?
                .iter()
                .enumerate()
            {
                let p = format!("{inner_path}[{i}]");
                let inner = as_object(inner, &p)?;
                match str_field(inner, "type", &p)? {
                    "function" => out.push(function_tool(inner, &p, Some(ns))?),
                    other => {
                        return Err(format!(
                            "`{p}.type` `{other}` is not supported in a namespace: function"
                        ));
                    }
                }
            }
        }
        kind if HOSTED.contains(&kind) => hosted.push(value.clone()),
        other => {
            return Err(format!(
                "`{path}.type` `{other}` is not supported by this gateway"
            ));
        }
    }
    Ok(())
}

fn function_tool(
    t: &Map<String, Value>,
    path: &str,
    namespace: Option<&str>,
) -> Result<Tool, Invalid> {
    wire::no_unknown_fields(
        t,
        &[
            "type",
            "name",
            "description",
            "parameters",
            "strict",
            "defer_loading",
        ],
        path,
    )?;
    let name = str_field(t, "name", path)?;
    let mut tool = Tool::new(
        Names::flat(namespace, name),
        "",
        present(t, "parameters")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
    );
    tool.description = present(t, "description")
        .map(|d| as_str(d, &at(path, "description")).map(str::to_owned))
        .transpose()?;
    tool.strict = bool_field(t, "strict")
        .map_err(|_| format!("`{}` must be a boolean", at(path, "strict")))?;
    bool_field(t, "defer_loading")
        .map_err(|_| format!("`{}` must be a boolean", at(path, "defer_loading")))?;
    Ok(tool)
}

fn tool_choice(value: &Value, names: &Names) -> Result<ToolChoice, Invalid> {
    match value {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            other => Err(format!(
                "`tool_choice` `{other}` is not supported: auto, none or required"
            )),
        },
        v => {
            let c = as_object(v, "tool_choice")?;
            match str_field(c, "type", "tool_choice")? {
                "function" | "custom" => {
                    let name = str_field(c, "name", "tool_choice")?;
                    let namespace = present(c, "namespace").and_then(Value::as_str);
                    let flat = Names::flat(namespace, name);
                    if !names.0.contains_key(&flat) {
                        return Err(format!(
                            "`tool_choice` names `{name}`, which is not in `tools`"
                        ));
                    }
                    Ok(ToolChoice::Tool(flat))
                }
                other => Err(format!(
                    "`tool_choice.type` `{other}` is not supported by this gateway"
                )),
            }
        }
    }
}

fn format(value: &Value) -> Result<ResponseFormat, Invalid> {
    let f = as_object(value, "text.format")?;
    match str_field(f, "type", "text.format")? {
        "text" => Ok(ResponseFormat::Text),
        "json_object" => Ok(ResponseFormat::JsonObject),
        "json_schema" => {
            wire::no_unknown_fields(
                f,
                &["type", "name", "schema", "strict", "description"],
                "text.format",
            )?;
            let name = present(f, "name")
                .map(|n| as_str(n, "text.format.name"))
                .transpose()?
                .unwrap_or("output");
            let schema = present(f, "schema")
                .cloned()
                .ok_or("`text.format.schema` is required")?;
            let mut s = ResponseFormat::json_schema(name, schema);
            s.strict = bool_field(f, "strict")?;
            Ok(ResponseFormat::from(s))
        }
        other => Err(format!("`text.format.type` `{other}` is not supported")),
    }
}

/// Appends one input item to `out`. A run of assistant output (text, reasoning, calls) becomes one
/// assistant message, as every provider wants a turn's calls together.
fn input_item(
    value: &Value,
    path: &str,
    names: &Names,
    calls: &mut CallNames,
    out: &mut Vec<Message>,
) -> Result<(), Invalid> {
    let item = as_object(value, path)?;
    let kind = match present(item, "type") {
        Some(t) => as_str(t, &at(path, "type"))?,
        None => "message",
    };
    match kind {
        "message" => {
            let role = match str_field(item, "role", path)? {
                "user" => Role::User,
                "assistant" => Role::Assistant,
                "system" | "developer" => Role::System,
                other => {
                    return Err(format!(
                        "`{path}.role` `{other}` is not supported: user, assistant, system or developer"
                    ));
                }
            };
            let parts = content(item.get("content"), &at(path, "content"), role)?;
            if role == Role::Assistant {
                assistant(out).extend(parts);
            } else {
                let mut m = Message::new(role, "");
                m.content = parts;
                out.push(m);
            }
        }
        "function_call" | "custom_tool_call" => {
            let call_id = str_field(item, "call_id", path)?;
            let name = str_field(item, "name", path)?;
            let namespace = present(item, "namespace")
                .map(|n| as_str(n, &at(path, "namespace")))
                .transpose()?;
            let flat = Names::flat(namespace, name);
            let arguments = if kind == "custom_tool_call" {
                json!({"input": str_field(item, "input", path)?})
            } else {
                let text = str_field(item, "arguments", path)?;
                if text.trim().is_empty() {
                    json!({})
                } else {
                    serde_json::from_str(text)
                        .map_err(|e| format!("`{path}.arguments` is not JSON: {e}"))?
                }
            };
            let _ = names;
            calls.insert(call_id, &flat);
            assistant(out).push(ContentPart::ToolCall(ToolCall::new(
                call_id, flat, arguments,
            )));
        }
        "function_call_output" | "custom_tool_call_output" => {
            let call_id = str_field(item, "call_id", path)?.to_owned();
            let output = match present(item, "output") {
                None => return Err(format!("`{path}.output` is required")),
                Some(Value::String(s)) => ToolOutput::Text(s.clone()),
                Some(v) => {
                    let mut text = String::new();
                    for part in content(Some(v), &at(path, "output"), Role::Tool)? {
                        match part {
                            ContentPart::Text { text: t } => text.push_str(&t),
                            _ => {
                                return Err(format!(
                                    "`{path}.output`: only text is supported in tool outputs"
                                ));
                            }
                        }
                    }
                    ToolOutput::Text(text)
                }
            };
            let mut m = Message::new(Role::Tool, "");
            m.content = vec![ContentPart::ToolResult {
                name: calls.name(&call_id),
                call_id,
                content: output,
                is_error: false,
            }];
            out.push(m);
        }
        "reasoning" => {
            let mut text = String::new();
            if let Some(summary) = present(item, "summary") {
                for (i, s) in as_array(summary, &at(path, "summary"))?.iter().enumerate() {
                    let p = format!("{path}.summary[{i}]");
                    if !text.is_empty() {
                        text.push_str("\n\n");
                    }
                    text.push_str(str_field(as_object(s, &p)?, "text", &p)?);
                }
            }
            let encrypted = present(item, "encrypted_content")
                .map(|e| as_str(e, &at(path, "encrypted_content")))
                .transpose()?;
            let part = match encrypted.and_then(|e| e.strip_prefix(REDACTED)) {
                Some(data) => ContentPart::RedactedReasoning {
                    data: data.to_owned(),
                },
                None => ContentPart::Reasoning {
                    text,
                    signature: encrypted.filter(|e| !e.is_empty()).map(str::to_owned),
                },
            };
            assistant(out).push(part);
        }
        "item_reference" => {
            return Err(format!(
                "`{path}`: item references are not supported: this gateway keeps no responses; send the item itself"
            ));
        }
        other => {
            return Err(format!(
                "`{path}.type` `{other}` is not supported by this gateway"
            ));
        }
    }
    Ok(())
}

/// The assistant message at the end of `out`, started when the last message is another role's.
fn assistant(out: &mut Vec<Message>) -> &mut Vec<ContentPart> {
    if out.last().is_none_or(|m| m.role != Role::Assistant) {
        let mut turn = Message::new(Role::Assistant, "");
        turn.content.clear();
        out.push(turn);
    }
    let last = out.len() - 1;
    &mut out[last].content
}

/// Encrypted reasoning a provider gave without any text (Claude's `redacted_thinking`), marked so that it
/// goes back as such.
const REDACTED: &str = "llmux-redacted:";

/// A message's (or a tool output's) content: a string or parts.
fn content(value: Option<&Value>, path: &str, role: Role) -> Result<Vec<ContentPart>, Invalid> {
    let parts = match value {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::String(s)) => return Ok(vec![ContentPart::text(s.clone())]),
        Some(v) => as_array(v, path)?,
    };
    let mut out = Vec::new();
    for (i, part) in parts.iter().enumerate() {
        let p = format!("{path}[{i}]");
        let m = as_object(part, &p)?;
        let kind = str_field(m, "type", &p)?;
        let media = matches!(role, Role::User | Role::Tool);
        out.push(match kind {
            "input_text" | "output_text" | "text" => ContentPart::text(str_field(m, "text", &p)?),
            "refusal" => ContentPart::text(str_field(m, "refusal", &p)?),
            "input_image" if media => {
                if present(m, "file_id").is_some() {
                    return Err(format!(
                        "`{p}.file_id`: uploaded files are not supported; send `image_url`"
                    ));
                }
                let url = str_field(m, "image_url", &p)?;
                ContentPart::Image {
                    source: wire::source_of_url(url)
                        .map_err(|e| format!("`{p}.image_url`: {e}"))?,
                }
            }
            "input_file" if media => {
                if present(m, "file_id").is_some() {
                    return Err(format!(
                        "`{p}.file_id`: uploaded files are not supported; send `file_data`"
                    ));
                }
                let source = match (present(m, "file_data"), present(m, "file_url")) {
                    (Some(data), _) => {
                        let data = as_str(data, &at(&p, "file_data"))?;
                        if data.starts_with("data:") {
                            wire::source_of_url(data)
                                .map_err(|e| format!("`{p}.file_data`: {e}"))?
                        } else {
                            Source::base64("application/pdf", data)
                        }
                    }
                    (None, Some(url)) => Source::url(as_str(url, &at(&p, "file_url"))?),
                    (None, None) => return Err(format!("`{p}` needs `file_data` or `file_url`")),
                };
                ContentPart::Document {
                    source,
                    name: present(m, "filename")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                }
            }
            other => {
                return Err(format!(
                    "`{p}.type` `{other}` is not supported in a {} item",
                    role.as_str()
                ));
            }
        });
    }
    Ok(out)
}

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

/// An output item being streamed.
#[derive(Debug)]
enum Open {
    Message {
        index: usize,
        id: String,
        text: String,
    },
    Reasoning {
        index: usize,
        id: String,
        text: String,
    },
}

/// A call being streamed, by the chain's call index.
#[derive(Debug)]
struct Call {
    index: usize,
    id: String,
    call_id: String,
    tool: ClientTool,
    arguments: String,
    /// Whether argument pieces were streamed (else the whole arguments go out at completion).
    streamed: bool,
    done: bool,
}

/// Writes the Responses event sequence.
#[derive(Debug)]
pub struct Events {
    reply: Reply,
    echo: Map<String, Value>,
    names: Names,
    encrypted: bool,
    created: u64,
    seq: u64,
    /// The finished items, by output index.
    output: Vec<Value>,
    open: Option<Open>,
    calls: BTreeMap<usize, Call>,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
}

impl Events {
    /// A stream sent as `reply`, answering `parsed`.
    pub fn new(reply: Reply, parsed: &Parsed) -> Events {
        Events {
            names: Names::of(parsed.echo.get("tools")),
            encrypted: wants_encrypted(&parsed.echo),
            echo: parsed.echo.clone(),
            reply,
            created: openai::now(),
            seq: 0,
            output: Vec::new(),
            open: None,
            calls: BTreeMap::new(),
            usage: None,
            finish: None,
        }
    }

    /// One event: `body` gets its `type` and the next `sequence_number`.
    fn emit(&mut self, out: &mut String, kind: &str, mut body: Value) {
        body["type"] = json!(kind);
        body["sequence_number"] = json!(self.seq);
        self.seq += 1;
        wire::sse(out, Some(kind), &body);
    }

    /// A per-token delta event, written as text rather than built as a JSON tree.
    fn delta(
        &mut self,
        out: &mut String,
        kind: &str,
        item_id: &str,
        index: usize,
        fields: &str,
        delta: &str,
    ) {
        let _ = write!(
            out,
            "event: {kind}\ndata: {{\"type\":\"{kind}\",\"sequence_number\":{},\"item_id\":{},\
             \"output_index\":{index}{fields},\"delta\":{}}}\n\n",
            self.seq,
            Quoted(item_id),
            Quoted(delta),
        );
        self.seq += 1;
    }

    /// A new item's output index (its slot filled when it is done).
    fn slot(&mut self) -> usize {
        self.output.push(Value::Null);
        self.output.len() - 1
    }

    fn state(&self, status: &str) -> Value {
        envelope(&self.reply, &self.echo, self.created, status)
    }

    /// Closes the open text or reasoning item.
    fn close(&mut self, out: &mut String) {
        match self.open.take() {
            None => {}
            Some(Open::Message { index, id, text }) => {
                let part =
                    json!({"type": "output_text", "text": text, "annotations": [], "logprobs": []});
                self.emit(
                    out,
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": index,
                    "content_index": 0, "text": text, "logprobs": []}),
                );
                self.emit(
                    out,
                    "response.content_part.done",
                    json!({"item_id": id, "output_index": index,
                    "content_index": 0, "part": part}),
                );
                let item = message_item(&id, &text, "completed");
                self.output[index] = item.clone();
                self.emit(
                    out,
                    "response.output_item.done",
                    json!({"output_index": index, "item": item}),
                );
            }
            Some(Open::Reasoning { index, id, text }) => {
                self.close_reasoning(out, index, &id, &text, None)
            }
        }
    }

    fn close_reasoning(
        &mut self,
        out: &mut String,
        index: usize,
        id: &str,
        text: &str,
        signature: Option<String>,
    ) {
        if !text.is_empty() {
            self.emit(
                out,
                "response.reasoning_summary_text.done",
                json!({"item_id": id,
                "output_index": index, "summary_index": 0, "text": text}),
            );
            self.emit(out, "response.reasoning_summary_part.done", json!({"item_id": id,
                "output_index": index, "summary_index": 0, "part": {"type": "summary_text", "text": text}}));
        }
        let item = reasoning_item(id, text, signature.filter(|_| self.encrypted));
        self.output[index] = item.clone();
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": index, "item": item}),
        );
    }

    fn open_reasoning(&mut self, out: &mut String) {
        if matches!(self.open, Some(Open::Reasoning { .. })) {
            return;
        }
        self.close(out);
        let index = self.slot();
        let id = format!("rs_{}_{index}", self.reply.id);
        self.emit(
            out,
            "response.output_item.added",
            json!({"output_index": index,
            "item": reasoning_item(&id, "", None)}),
        );
        self.open = Some(Open::Reasoning {
            index,
            id,
            text: String::new(),
        });
    }

    fn finish_call(&mut self, out: &mut String, index: usize) {
        let Some(call) = self.calls.get_mut(&index).filter(|c| !c.done) else {
            return;
        };
        call.done = true;
        let (output_index, id, arguments) = (call.index, call.id.clone(), call.arguments.clone());
        let item = call_item(&id, &call.call_id, &call.tool, &arguments, "completed");
        if call.tool.custom {
            let input = item["input"].clone();
            self.emit(
                out,
                "response.custom_tool_call_input.done",
                json!({"item_id": id,
                "output_index": output_index, "input": input}),
            );
        } else {
            self.emit(
                out,
                "response.function_call_arguments.done",
                json!({"item_id": id,
                "output_index": output_index, "arguments": arguments}),
            );
        }
        self.output[output_index] = item.clone();
        self.emit(
            out,
            "response.output_item.done",
            json!({"output_index": output_index, "item": item}),
        );
    }

    fn start_call(&mut self, out: &mut String, index: usize, call_id: &str, name: &str) {
        if self.calls.contains_key(&index) {
            return;
        }
        self.close(out);
        let output_index = self.slot();
        let id = format!("fc_{}_{output_index}", self.reply.id);
        let tool = self.names.client(name);
        let item = call_item(&id, call_id, &tool, "", "in_progress");
        self.emit(
            out,
            "response.output_item.added",
            json!({"output_index": output_index, "item": item}),
        );
        self.calls.insert(
            index,
            Call {
                index: output_index,
                id,
                call_id: call_id.to_owned(),
                tool,
                arguments: String::new(),
                streamed: false,
                done: false,
            },
        );
    }
}

impl Encode for Events {
    fn event(&mut self, event: StreamEvent, out: &mut String) {
        match event {
            StreamEvent::Start(_) => {
                let state = self.state("in_progress");
                self.emit(out, "response.created", json!({"response": state.clone()}));
                self.emit(out, "response.in_progress", json!({"response": state}));
            }
            StreamEvent::TextDelta(text) => {
                if !matches!(self.open, Some(Open::Message { .. })) {
                    self.close(out);
                    let index = self.slot();
                    let id = format!("msg_{}", self.reply.id);
                    let id = if index == 0 {
                        id
                    } else {
                        format!("{id}_{index}")
                    };
                    let mut item = message_item(&id, "", "in_progress");
                    item["content"] = json!([]);
                    self.emit(
                        out,
                        "response.output_item.added",
                        json!({"output_index": index, "item": item}),
                    );
                    self.emit(out, "response.content_part.added", json!({"item_id": id, "output_index": index,
                        "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": [], "logprobs": []}}));
                    self.open = Some(Open::Message {
                        index,
                        id,
                        text: String::new(),
                    });
                }
                let Some(Open::Message {
                    index,
                    id,
                    text: all,
                }) = &mut self.open
                else {
                    return;
                };
                all.push_str(&text);
                let (index, id) = (*index, id.clone());
                self.delta(
                    out,
                    "response.output_text.delta",
                    &id,
                    index,
                    ",\"content_index\":0,\"logprobs\":[]",
                    &text,
                );
            }
            StreamEvent::ReasoningDelta(text) => {
                self.open_reasoning(out);
                let Some(Open::Reasoning {
                    index,
                    id,
                    text: all,
                }) = &mut self.open
                else {
                    return;
                };
                let first = all.is_empty();
                all.push_str(&text);
                let (index, id) = (*index, id.clone());
                if first {
                    self.emit(out, "response.reasoning_summary_part.added", json!({"item_id": id,
                        "output_index": index, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}));
                }
                self.delta(
                    out,
                    "response.reasoning_summary_text.delta",
                    &id,
                    index,
                    ",\"summary_index\":0",
                    &text,
                );
            }
            StreamEvent::ReasoningSignature(signature) => {
                self.open_reasoning(out);
                if let Some(Open::Reasoning { index, id, text }) = self.open.take() {
                    self.close_reasoning(out, index, &id, &text, Some(signature));
                }
            }
            StreamEvent::RedactedReasoning(data) => {
                self.close(out);
                self.open_reasoning(out);
                if let Some(Open::Reasoning { index, id, text }) = self.open.take() {
                    self.close_reasoning(out, index, &id, &text, Some(format!("{REDACTED}{data}")));
                }
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                self.start_call(out, index, &id, &name)
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                let Some(call) = self.calls.get_mut(&index).filter(|c| !c.done) else {
                    return;
                };
                call.streamed = true;
                call.arguments.push_str(&arguments);
                // A custom tool's input is a string inside the arguments' JSON: it goes out whole at the end.
                if call.tool.custom {
                    return;
                }
                let (output_index, id) = (call.index, call.id.clone());
                self.delta(
                    out,
                    "response.function_call_arguments.delta",
                    &id,
                    output_index,
                    "",
                    &arguments,
                );
            }
            StreamEvent::ToolCall { index, call } => {
                self.start_call(out, index, &call.id, &call.name);
                let whole = wire::arguments_text(&call.arguments);
                if let Some(c) = self.calls.get_mut(&index) {
                    let send = !c.streamed && !c.tool.custom;
                    c.arguments = whole.clone();
                    if send {
                        let (output_index, id) = (c.index, c.id.clone());
                        self.delta(
                            out,
                            "response.function_call_arguments.delta",
                            &id,
                            output_index,
                            "",
                            &whole,
                        );
                    }
                }
                self.finish_call(out, index);
            }
            StreamEvent::Usage(u) => self.usage = Some(u),
            StreamEvent::Finish(reason) => self.finish = Some(reason),
            _ => {}
        }
    }

    fn end(&mut self, out: &mut String) {
        self.close(out);
        let open: Vec<usize> = self
            .calls
            .iter()
            .filter(|(_, c)| !c.done)
            .map(|(i, _)| *i)
            .collect();
        for index in open {
            self.finish_call(out, index);
        }
        let (status, incomplete) = ending(self.finish.as_ref());
        let mut state = self.state(status);
        state["incomplete_details"] = incomplete;
        state["output"] = Value::Array(self.output.clone());
        state["usage"] = usage(self.usage.as_ref());
        let kind = if status == "completed" {
            "response.completed"
        } else {
            "response.incomplete"
        };
        self.emit(out, kind, json!({"response": state}));
    }

    fn fail(&mut self, error: &ApiError, out: &mut String) {
        let (kind, code) = RESPONSES.error_type(error.problem);
        let mut state = self.state("failed");
        state["error"] = json!({"code": code.unwrap_or(kind), "message": error.message});
        state["output"] = Value::Array(
            self.output
                .iter()
                .filter(|v| !v.is_null())
                .cloned()
                .collect(),
        );
        if self.usage.is_some() {
            state["usage"] = usage(self.usage.as_ref());
        }
        self.emit(out, "response.failed", json!({"response": state}));
    }
}

#[cfg(test)]
#[path = "responses_tests.rs"]
mod tests;
