//! Reading a Responses request: its fields, tools (functions, namespaces, free-form, hosted) and input
//! items, into a [`ChatRequest`](llmux::ChatRequest).

use std::fmt::Write as _;

use llmux::{
    ChatRequest, ContentPart, Message, Reasoning, Relay, ResponseFormat, Role, Source, Tool,
    ToolCall, ToolChoice, ToolOutput,
};
use serde_json::{Map, Value, json};

use super::{Names, REDACTED, RELAY_WIRE};
use crate::dialect::{Invalid, Parsed};
use crate::openai::openai_effort;
use crate::wire::{
    self, CallNames, as_array, as_object, as_str, at, bool_field, f64_field, i64_field, present,
    str_field,
};

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

/// Reads a Responses request body.
pub fn parse(body: &[u8]) -> Result<Parsed, Invalid> {
    let mut map = wire::known_object(body, &[&llmux::openai::RESPONSES_FIELDS, ALSO_READ])?;
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
    parsed.echo = std::sync::Arc::new(
        ECHOED
            .iter()
            // The last use of the request's fields: moved, not copied.
            .filter_map(|k| {
                map.remove(*k)
                    .filter(|v| !v.is_null())
                    .map(|v| ((*k).to_owned(), v))
            })
            .collect(),
    );
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
