//! The OpenAI Chat Completions dialect, server side: a `POST /v1/chat/completions` body read into a
//! [`ChatRequest`], and a [`ChatResponse`] or a stream of [`StreamEvent`]s written back as
//! `chat.completion` JSON or `chat.completion.chunk` SSE ending in `data: [DONE]`.
//!
//! Read: `model`, `messages` (`system`/`developer`, `user` with `text`, `image_url` and `file` parts,
//! `assistant` with `content`, `tool_calls` and `reasoning_content`, `tool`), `temperature`, `top_p`,
//! `top_k`, `max_tokens`/`max_completion_tokens`, `stop`, `seed`, `frequency_penalty`, `presence_penalty`,
//! `repeat_penalty`, `tools`, `tool_choice`, `parallel_tool_calls`, `response_format`, `reasoning_effort`,
//! `stream`, `stream_options`. Accepted and not forwarded: `user`, `metadata`, `store`, `service_tier`,
//! `n: 1`, `logprobs: false`. Anything else is a 400 naming the field, never silently dropped.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::http::HeaderMap;
use llmux::ErrorKind;
use llmux::{
    ChatRequest, ChatResponse, ContentPart, Effort, FinishReason, Message, Reasoning,
    ResponseFormat, Role, StreamEvent, Tool, ToolCall, ToolChoice, ToolOutput, Usage,
};
use serde_json::{Map, Value, json};

use crate::dialect::{Dialect, Encode, Invalid, Parsed, Reply};
use crate::error::{ApiError, Problem};
use crate::wire::{
    self, CallNames, Quoted, as_array, as_object, as_str, at, bool_field, f64_field, i64_field,
    present, str_field,
};

/// The Chat Completions API.
#[derive(Debug, Clone, Copy)]
pub struct ChatCompletions;

/// The one [`ChatCompletions`] the gateway's routes name.
pub static CHAT_COMPLETIONS: ChatCompletions = ChatCompletions;

impl Dialect for ChatCompletions {
    fn name(&self) -> &'static str {
        "openai"
    }

    fn read(&self, body: &[u8], _headers: &HeaderMap) -> Result<Parsed, Invalid> {
        parse(body)
    }

    fn fresh_id(&self, n: u64) -> String {
        format!("chatcmpl-llmux-{n}")
    }

    fn whole(&self, answer: &ChatResponse, reply: &Reply, _parsed: &Parsed) -> Value {
        response(answer, reply)
    }

    fn stream(&self, reply: Reply, parsed: &Parsed) -> Box<dyn Encode> {
        Box::new(Chunks::new(reply, parsed.include_usage))
    }

    fn error_type(&self, problem: Problem) -> (&'static str, Option<&'static str>) {
        error_type(problem)
    }

    fn error_body(&self, e: &ApiError) -> Value {
        error_body(e)
    }

    fn error_event(&self, e: &ApiError) -> String {
        // No `[DONE]` follows: the stream ends with the error.
        format!("data: {}\n\n", e.body())
    }

    fn models(&self, names: &[String]) -> Value {
        let data: Vec<_> = names
            .iter()
            .map(|n| json!({"id": n, "object": "model", "created": 0, "owned_by": "llmux"}))
            .collect();
        json!({"object": "list", "data": data})
    }
}

/// An error's `type` and `code` in OpenAI's APIs (Chat Completions and Responses share them).
pub(crate) fn error_type(problem: Problem) -> (&'static str, Option<&'static str>) {
    match problem {
        Problem::GatewayKey => ("authentication_error", Some("invalid_api_key")),
        Problem::NoRoute | Problem::MediaType | Problem::SlowBody => {
            ("invalid_request_error", None)
        }
        Problem::Forbidden => ("permission_error", None),
        Problem::Kind(kind) => match kind {
            ErrorKind::Validation | ErrorKind::BadRequest | ErrorKind::PayloadTooLarge => {
                ("invalid_request_error", None)
            }
            ErrorKind::ContextLength => ("invalid_request_error", Some("context_length_exceeded")),
            ErrorKind::RateLimited => ("rate_limit_error", Some("rate_limit_exceeded")),
            ErrorKind::Overloaded => ("server_error", Some("overloaded")),
            ErrorKind::Timeout => ("timeout_error", None),
            _ if problem.is_gateway_configuration() => {
                ("upstream_error", Some("upstream_rejected_gateway"))
            }
            _ => ("server_error", None),
        },
    }
}

/// OpenAI's error body: `{"error": {message, type, param, code}}`.
pub(crate) fn error_body(e: &ApiError) -> Value {
    let (kind, code) = e.dialect.error_type(e.problem);
    json!({"error": {"message": e.message, "type": kind, "param": null, "code": code}})
}

/// What the reader takes beyond the fields llm-openai's encoder writes ([`llmux::openai::CHAT_FIELDS`]):
/// settings checked here and not forwarded.
const ALSO_READ: &[&str] = &["n", "logprobs", "user", "metadata", "store", "service_tier"];

/// Reads a Chat Completions request body.
pub fn parse(body: &[u8]) -> Result<Parsed, Invalid> {
    let map = wire::known_object(body, &[&llmux::openai::CHAT_FIELDS, ALSO_READ])?;
    let model = str_field(&map, "model", "")?.to_owned();
    if i64_field(&map, "n")?.is_some_and(|n| n != 1) {
        return Err("`n` must be 1: the gateway returns one choice".to_owned());
    }
    if bool_field(&map, "logprobs")? == Some(true) {
        return Err("`logprobs` is not supported by this gateway".to_owned());
    }
    let mut request = ChatRequest::for_chain();
    let Some(messages) = present(&map, "messages") else {
        return Err("`messages` is required".to_owned());
    };
    let mut names = CallNames::default();
    for (i, m) in as_array(messages, "messages")?.iter().enumerate() {
        request
            .messages
            .push(message(m, &format!("messages[{i}]"), &mut names)?);
    }
    let p = &mut request.params;
    p.temperature = f64_field(&map, "temperature")?;
    p.top_p = f64_field(&map, "top_p")?;
    p.top_k = i64_field(&map, "top_k")?;
    p.max_tokens = match i64_field(&map, "max_completion_tokens")? {
        Some(n) => Some(n),
        None => i64_field(&map, "max_tokens")?,
    };
    p.seed = i64_field(&map, "seed")?;
    p.frequency_penalty = f64_field(&map, "frequency_penalty")?;
    p.presence_penalty = f64_field(&map, "presence_penalty")?;
    p.repeat_penalty = f64_field(&map, "repeat_penalty")?;
    p.stop = match present(&map, "stop") {
        None => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(v) => as_array(v, "stop")?
            .iter()
            .enumerate()
            .map(|(i, s)| as_str(s, &format!("stop[{i}]")).map(str::to_owned))
            .collect::<Result<_, _>>()?,
    };
    if let Some(tools) = present(&map, "tools") {
        for (i, t) in as_array(tools, "tools")?.iter().enumerate() {
            request.tools.push(tool(t, &format!("tools[{i}]"))?);
        }
    }
    request.tool_choice = present(&map, "tool_choice").map(tool_choice).transpose()?;
    request.parallel_tool_calls = bool_field(&map, "parallel_tool_calls")?;
    request.response_format = present(&map, "response_format")
        .map(response_format)
        .transpose()?;
    request.reasoning = match present(&map, "reasoning_effort") {
        None => None,
        Some(v) => Some(Reasoning::Effort(openai_effort(as_str(
            v,
            "reasoning_effort",
        )?)?)),
    };
    let stream = bool_field(&map, "stream")?.unwrap_or(false);
    let include_usage = match present(&map, "stream_options") {
        Some(o) => bool_field(as_object(o, "stream_options")?, "include_usage")?.unwrap_or(false),
        None => false,
    };
    let mut parsed = Parsed::new(request, model, stream);
    parsed.include_usage = include_usage;
    Ok(parsed)
}

fn message(value: &Value, path: &str, names: &mut CallNames) -> Result<Message, Invalid> {
    let map = as_object(value, path)?;
    let role = str_field(map, "role", path)?;
    let content = present(map, "content");
    let mut parts = Vec::new();
    let role = match role {
        "system" | "developer" => {
            parts = text_parts(content, &at(path, "content"))?;
            Role::System
        }
        "user" => {
            parts = user_parts(content, &at(path, "content"))?;
            Role::User
        }
        "assistant" => {
            if let Some(r) = present(map, "reasoning_content") {
                parts.push(ContentPart::Reasoning {
                    text: as_str(r, &at(path, "reasoning_content"))?.to_owned(),
                    signature: None,
                });
            }
            parts.extend(text_parts(content, &at(path, "content"))?);
            if let Some(calls) = present(map, "tool_calls") {
                let calls_path = at(path, "tool_calls");
                for (i, c) in as_array(calls, &calls_path)?.iter().enumerate() {
                    let call = tool_call(c, &format!("{calls_path}[{i}]"))?;
                    names.insert(&call.id, &call.name);
                    parts.push(ContentPart::ToolCall(call));
                }
            }
            Role::Assistant
        }
        "tool" => {
            let call_id = str_field(map, "tool_call_id", path)?.to_owned();
            let text: String = text_parts(content, &at(path, "content"))?
                .into_iter()
                .filter_map(|p| match p {
                    ContentPart::Text { text } => Some(text),
                    _ => None,
                })
                .collect();
            parts.push(ContentPart::ToolResult {
                name: names.name(&call_id),
                call_id,
                content: ToolOutput::Text(text),
                is_error: false,
            });
            Role::Tool
        }
        other => return Err(format!("`{path}.role` `{other}` is not supported")),
    };
    let mut message = Message::new(role, "");
    message.content = parts;
    Ok(message)
}

/// Content that may only be text: a string, or `text` (and `refusal`) parts.
fn text_parts(content: Option<&Value>, path: &str) -> Result<Vec<ContentPart>, Invalid> {
    match content {
        None => Ok(Vec::new()),
        Some(Value::String(s)) if s.is_empty() => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![ContentPart::text(s.clone())]),
        Some(v) => as_array(v, path)?
            .iter()
            .enumerate()
            .map(|(i, part)| {
                let part_path = format!("{path}[{i}]");
                let map = as_object(part, &part_path)?;
                match str_field(map, "type", &part_path)? {
                    "text" => Ok(ContentPart::text(str_field(map, "text", &part_path)?)),
                    "refusal" => Ok(ContentPart::text(str_field(map, "refusal", &part_path)?)),
                    other => Err(format!(
                        "`{part_path}.type` `{other}` is not supported here (text only)"
                    )),
                }
            })
            .collect(),
    }
}

fn user_parts(content: Option<&Value>, path: &str) -> Result<Vec<ContentPart>, Invalid> {
    let Some(Value::Array(items)) = content else {
        return text_parts(content, path);
    };
    let mut parts = Vec::new();
    for (i, part) in items.iter().enumerate() {
        let part_path = format!("{path}[{i}]");
        let map = as_object(part, &part_path)?;
        parts.push(match str_field(map, "type", &part_path)? {
            "text" => ContentPart::text(str_field(map, "text", &part_path)?),
            "image_url" => {
                let image_path = at(&part_path, "image_url");
                let image = match map.get("image_url") {
                    Some(Value::String(url)) => url.as_str(),
                    Some(v) => str_field(as_object(v, &image_path)?, "url", &image_path)?,
                    None => return Err(format!("`{image_path}` is required")),
                };
                ContentPart::Image {
                    source: wire::source_of_url(image)
                        .map_err(|e| format!("`{image_path}`: {e}"))?,
                }
            }
            "file" => {
                let file_path = at(&part_path, "file");
                let file = as_object(map.get("file").unwrap_or(&Value::Null), &file_path)?;
                let Some(data) = present(file, "file_data") else {
                    return Err(format!(
                        "`{file_path}`: only inline `file_data` is supported (no `file_id`)"
                    ));
                };
                let data = as_str(data, &at(&file_path, "file_data"))?;
                let source = if data.starts_with("data:") {
                    wire::source_of_url(data).map_err(|e| format!("`{file_path}`: {e}"))?
                } else {
                    llmux::Source::base64("application/pdf", data)
                };
                ContentPart::Document {
                    source,
                    name: present(file, "filename")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                }
            }
            other => return Err(format!("`{part_path}.type` `{other}` is not supported")),
        });
    }
    Ok(parts)
}

fn tool_call(value: &Value, path: &str) -> Result<ToolCall, Invalid> {
    let map = as_object(value, path)?;
    let id = str_field(map, "id", path)?;
    let function_path = at(path, "function");
    let function = as_object(map.get("function").unwrap_or(&Value::Null), &function_path)?;
    let name = str_field(function, "name", &function_path)?;
    let arguments = match present(function, "arguments") {
        None => json!({}),
        Some(Value::String(s)) if s.trim().is_empty() => json!({}),
        Some(Value::String(s)) => serde_json::from_str(s)
            .map_err(|e| format!("`{function_path}.arguments` is not JSON text: {e}"))?,
        Some(v) => v.clone(),
    };
    Ok(ToolCall::new(id, name, arguments))
}

fn tool(value: &Value, path: &str) -> Result<Tool, Invalid> {
    let map = as_object(value, path)?;
    let kind = present(map, "type")
        .and_then(Value::as_str)
        .unwrap_or("function");
    if kind != "function" {
        return Err(format!(
            "`{path}.type` `{kind}` is not supported (function only)"
        ));
    }
    let function_path = at(path, "function");
    let f = as_object(map.get("function").unwrap_or(&Value::Null), &function_path)?;
    let mut tool = Tool::new(
        str_field(f, "name", &function_path)?,
        "",
        present(f, "parameters")
            .cloned()
            .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
    );
    tool.description = present(f, "description")
        .map(|d| as_str(d, &at(&function_path, "description")).map(str::to_owned))
        .transpose()?;
    tool.strict = bool_field(f, "strict")?;
    Ok(tool)
}

fn tool_choice(value: &Value) -> Result<ToolChoice, Invalid> {
    match value {
        Value::String(s) => match s.as_str() {
            "auto" => Ok(ToolChoice::Auto),
            "none" => Ok(ToolChoice::None),
            "required" => Ok(ToolChoice::Required),
            other => Err(format!("`tool_choice` `{other}` is not supported")),
        },
        v => {
            let f = as_object(v, "tool_choice")?
                .get("function")
                .ok_or("`tool_choice.function` is required")?;
            let f = as_object(f, "tool_choice.function")?;
            Ok(ToolChoice::Tool(
                str_field(f, "name", "tool_choice.function")?.to_owned(),
            ))
        }
    }
}

fn response_format(value: &Value) -> Result<ResponseFormat, Invalid> {
    let map = as_object(value, "response_format")?;
    match str_field(map, "type", "response_format")? {
        "text" => Ok(ResponseFormat::Text),
        "json_object" => Ok(ResponseFormat::JsonObject),
        "json_schema" => {
            let path = "response_format.json_schema";
            let s = as_object(map.get("json_schema").unwrap_or(&Value::Null), path)?;
            let name = present(s, "name")
                .and_then(Value::as_str)
                .unwrap_or("answer");
            let schema = present(s, "schema")
                .cloned()
                .ok_or_else(|| format!("`{path}.schema` is required"))?;
            let mut format = ResponseFormat::json_schema(name, schema);
            format.strict = bool_field(s, "strict")?;
            Ok(format.into())
        }
        other => Err(format!("`response_format.type` `{other}` is not supported")),
    }
}

/// An effort as OpenAI's APIs name it: minimal, low, medium, high or xhigh.
pub(crate) fn openai_effort(name: &str) -> Result<Effort, Invalid> {
    Effort::parse(name)
        .filter(|e| *e != Effort::Max)
        .ok_or_else(|| {
            format!(
                "reasoning effort `{name}` is not supported: minimal, low, medium, high or xhigh"
            )
        })
}

/// Seconds since the epoch, for `created`.
pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn finish(reason: &FinishReason) -> Value {
    match reason {
        FinishReason::Other(s) => json!(s),
        r => json!(r.as_str()),
    }
}

pub(crate) fn usage(u: &Usage) -> Value {
    let mut v = json!({
        "prompt_tokens": u.input_tokens.unwrap_or(0),
        "completion_tokens": u.output_tokens.unwrap_or(0),
        "total_tokens": u.total().unwrap_or(0),
    });
    if let Some(n) = u.cached_input_tokens {
        v["prompt_tokens_details"] = json!({"cached_tokens": n});
    }
    if let Some(n) = u.reasoning_tokens {
        v["completion_tokens_details"] = json!({"reasoning_tokens": n});
    }
    v
}

fn call_json(index: usize, call: &ToolCall) -> Value {
    json!({
        "index": index,
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": wire::arguments_text(&call.arguments)},
    })
}

/// A whole answer as a `chat.completion` object.
pub fn response(r: &ChatResponse, reply: &Reply) -> Value {
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    let content = if r.text.is_empty() && !r.tool_calls.is_empty() {
        Value::Null
    } else {
        json!(r.text)
    };
    message.insert("content".into(), content);
    if let Some(reasoning) = r.reasoning.as_ref().filter(|t| !t.is_empty()) {
        message.insert("reasoning_content".into(), json!(reasoning));
    }
    if !r.tool_calls.is_empty() {
        let calls: Vec<Value> = r
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let mut v = call_json(i, c);
                if let Some(o) = v.as_object_mut() {
                    o.remove("index");
                }
                v
            })
            .collect();
        message.insert("tool_calls".into(), Value::Array(calls));
    }
    let mut body = json!({
        "id": r.response_id.clone().filter(|i| i.starts_with("chatcmpl")).unwrap_or_else(|| reply.id.clone()),
        "object": "chat.completion",
        "created": now(),
        "model": reply.model,
        "choices": [{
            "index": 0,
            "message": message,
            "finish_reason": r.finish_reason.as_ref().map_or(json!("stop"), finish),
            "logprobs": null,
        }],
    });
    if let Some(u) = &r.usage {
        body["usage"] = usage(u);
    }
    body
}

/// Writes `chat.completion.chunk`s.
#[derive(Debug)]
pub struct Chunks {
    id: String,
    created: u64,
    model: String,
    include_usage: bool,
    usage: Option<Usage>,
    /// Per call index: whether argument pieces were streamed (else the whole arguments go at the end).
    streamed_arguments: Vec<bool>,
    started: Vec<bool>,
}

impl Chunks {
    /// A stream sent as `reply`, with the usage chunk when `include_usage`.
    pub fn new(reply: Reply, include_usage: bool) -> Chunks {
        Chunks {
            id: reply.id,
            created: now(),
            model: reply.model,
            include_usage,
            usage: None,
            streamed_arguments: Vec::new(),
            started: Vec::new(),
        }
    }

    /// One chunk: the fixed head (id, created, model), written as text once per token rather than built
    /// as a JSON tree, then `delta` and `finish`.
    fn chunk(&self, out: &mut String, delta: impl std::fmt::Display, finish: Value) {
        use std::fmt::Write as _;
        let _ = write!(
            out,
            "data: {{\"id\":{},\"object\":\"chat.completion.chunk\",\"created\":{},\"model\":{},\
             \"choices\":[{{\"index\":0,\"delta\":{delta},\"finish_reason\":{finish},\"logprobs\":null}}]}}\n\n",
            Quoted(&self.id),
            self.created,
            Quoted(&self.model),
        );
    }

    fn mark(flags: &mut Vec<bool>, index: usize) -> bool {
        if flags.len() <= index {
            flags.resize(index + 1, false);
        }
        std::mem::replace(&mut flags[index], true)
    }
}

impl Encode for Chunks {
    fn event(&mut self, event: StreamEvent, out: &mut String) {
        match event {
            StreamEvent::Start(start) => {
                if let Some(id) = start.response_id.filter(|i| i.starts_with("chatcmpl")) {
                    self.id = id;
                }
                self.chunk(
                    out,
                    json!({"role": "assistant", "content": ""}),
                    Value::Null,
                );
            }
            StreamEvent::TextDelta(text) => {
                self.chunk(
                    out,
                    format_args!("{{\"content\":{}}}", Quoted(&text)),
                    Value::Null,
                );
            }
            StreamEvent::ReasoningDelta(text) => {
                self.chunk(
                    out,
                    format_args!("{{\"reasoning_content\":{}}}", Quoted(&text)),
                    Value::Null,
                );
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                Chunks::mark(&mut self.started, index);
                let call = json!({"index": index, "id": id, "type": "function",
                                  "function": {"name": name, "arguments": ""}});
                self.chunk(out, json!({"tool_calls": [call]}), Value::Null);
            }
            StreamEvent::ToolCallDelta { index, arguments } => {
                Chunks::mark(&mut self.streamed_arguments, index);
                self.chunk(
                    out,
                    format_args!(
                        "{{\"tool_calls\":[{{\"index\":{index},\"function\":{{\"arguments\":{}}}}}]}}",
                        Quoted(&arguments)
                    ),
                    Value::Null,
                );
            }
            StreamEvent::ToolCall { index, call } => {
                let started = Chunks::mark(&mut self.started, index);
                if Chunks::mark(&mut self.streamed_arguments, index) {
                    return;
                }
                let piece = if started {
                    json!({"index": index, "function": {"arguments": wire::arguments_text(&call.arguments)}})
                } else {
                    call_json(index, &call)
                };
                self.chunk(out, json!({"tool_calls": [piece]}), Value::Null);
            }
            StreamEvent::Usage(u) => self.usage = Some(u),
            StreamEvent::Finish(reason) => self.chunk(out, json!({}), finish(&reason)),
            // Signatures and encrypted reasoning have no field in this dialect.
            _ => {}
        }
    }

    fn end(&mut self, out: &mut String) {
        if self.include_usage {
            let usage = self.usage.as_ref().map_or(Value::Null, usage);
            wire::sse(
                out,
                None,
                &json!({
                    "id": self.id,
                    "object": "chat.completion.chunk",
                    "created": self.created,
                    "model": self.model,
                    "choices": [],
                    "usage": usage,
                }),
            );
        }
        out.push_str("data: [DONE]\n\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux::{Source, StreamStart};

    #[test]
    fn a_full_request_reads_into_the_vocabulary() {
        let body = json!({
            "model": "anything",
            "messages": [
                {"role": "developer", "content": "be brief"},
                {"role": "user", "content": [
                    {"type": "text", "text": "what is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBO"}}
                ]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "18 C"}
            ],
            "max_completion_tokens": 64, "stop": "END", "temperature": 0.5,
            "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
            "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
            "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}, "strict": true}},
            "reasoning_effort": "low",
            "stream": true, "stream_options": {"include_usage": true}
        });
        let parsed = parse(body.to_string().as_bytes()).unwrap();
        let r = &parsed.request;
        assert!(parsed.stream && parsed.include_usage);
        assert_eq!(r.messages.len(), 4);
        assert_eq!(r.messages[0].role, Role::System);
        assert_eq!(
            r.messages[1].content[1],
            ContentPart::Image {
                source: Source::base64("image/png", "iVBO")
            }
        );
        assert!(
            matches!(&r.messages[2].content[0], ContentPart::ToolCall(c) if c.arguments["city"] == "Paris")
        );
        assert!(matches!(&r.messages[3].content[0],
            ContentPart::ToolResult { call_id, name, .. } if call_id == "call_1" && name == "get_weather"));
        assert_eq!(r.params.max_tokens, Some(64));
        assert_eq!(r.params.stop, ["END"]);
        assert_eq!(r.tool_choice, Some(ToolChoice::Tool("get_weather".into())));
        assert!(
            matches!(&r.response_format, Some(ResponseFormat::JsonSchema(s)) if s.strict == Some(true))
        );
        assert_eq!(r.reasoning, Some(Reasoning::Effort(Effort::Low)));
    }

    #[test]
    fn bad_input_is_a_message_never_a_panic() {
        for body in [
            "",
            "null",
            "{}",
            r#"{"model":"m"}"#,
            r#"{"model":"m","messages":{}}"#,
            r#"{"model":"m","messages":[{"role":"wizard","content":"x"}]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"input_audio"}]}]}"#,
            r#"{"model":"m","messages":[],"n":3}"#,
            r#"{"model":"m","messages":[],"frobnicate":true}"#,
            r#"{"model":"m","messages":[],"temperature":"hot"}"#,
            r#"{"model":"m","messages":[{"role":"assistant","tool_calls":[{"id":"c","function":{"name":"f","arguments":"{"}}]}]}"#,
        ] {
            assert!(parse(body.as_bytes()).is_err(), "{body}");
        }
    }

    #[test]
    fn a_stream_is_chunks_then_usage_then_done() {
        let mut chunks = Chunks::new(
            Reply {
                id: "chatcmpl-x".into(),
                model: "entry-model".into(),
            },
            true,
        );
        let mut out = String::new();
        let call = ToolCall::new("c1", "f", json!({"a": 1}));
        for event in [
            StreamEvent::Start(StreamStart::new("katan", "m")),
            StreamEvent::TextDelta("hi".into()),
            StreamEvent::ToolCallStart {
                index: 0,
                id: "c1".into(),
                name: "f".into(),
            },
            StreamEvent::ToolCall { index: 0, call },
            StreamEvent::Usage(Usage::new(3, 4)),
            StreamEvent::Finish(FinishReason::ToolCalls),
        ] {
            chunks.event(event, &mut out);
        }
        chunks.end(&mut out);
        let data: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .collect();
        assert_eq!(data.last(), Some(&"[DONE]"));
        let values: Vec<Value> = data[..data.len() - 1]
            .iter()
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        assert_eq!(values[1]["choices"][0]["delta"]["content"], "hi");
        assert_eq!(
            values[3]["choices"][0]["delta"]["tool_calls"][0]["function"]["arguments"],
            r#"{"a":1}"#
        );
        assert_eq!(values[4]["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(values[5]["choices"], json!([]));
        assert_eq!(values[5]["usage"]["total_tokens"], 7);
    }
}
