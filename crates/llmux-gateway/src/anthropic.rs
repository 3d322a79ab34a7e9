//! The Anthropic Messages dialect, server side: a `POST /v1/messages` body read into a [`ChatRequest`], and
//! a [`ChatResponse`] or a stream of [`StreamEvent`]s written back as a `message` object or the named event
//! sequence `message_start`, per block `content_block_start`/`content_block_delta`/`content_block_stop`,
//! `message_delta`, `message_stop`; and `POST /v1/messages/count_tokens`.
//!
//! Read: `model`, `system` (text or blocks), `messages` with roles `user`, `assistant` and `system` (a
//! system message anywhere in the conversation stays where it is) and `text`, `image`, `document`,
//! `tool_use`, `tool_result`, `thinking` and `redacted_thinking` blocks (`cache_control` on any block or
//! tool becomes a cache breakpoint), `max_tokens`, `temperature`, `top_p`, `top_k`, `stop_sequences`,
//! `tools` (`defer_loading` and `eager_input_streaming` accepted: every tool is loaded and streamed),
//! `tool_choice`, `thinking` (`display: "omitted"` sends thinking blocks with their signatures and no
//! text), `output_config` (`format`, `effort` of low to max), `stream`. Accepted and not forwarded:
//! `metadata`, `service_tier`. Relayed to an Anthropic upstream as given, with the request's
//! `anthropic-beta` flags: `context_management` (a beta field that tunes how Anthropic's servers trim a
//! long context); when another provider answers, it is left out and named in `x-llmux-removed-fields`.
//! Anything else is a 400 naming the field.
//!
//! Usage as the API defines it: `input_tokens` counts the prompt tokens neither read from nor written to
//! the cache. A stream's `message_start` carries the prompt's count: the provider's when it reports one
//! before the first content (Claude does), else the request's estimate
//! ([`ChatRequest::estimated_input_tokens`]); `message_delta` carries the reported count at the end.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use llmux::ErrorKind;
use llmux::{
    ChatRequest, ChatResponse, ContentPart, Effort, FinishReason, Message, Reasoning, Relay,
    ResponseFormat, Role, Source, StreamEvent, Tool, ToolCall, ToolChoice, ToolOutput, Usage,
};
use serde_json::{Map, Value, json};

use crate::dialect::{Dialect, Encode, Invalid, Parsed, Reply};
use crate::error::{ApiError, Problem};
use crate::handle::{Shared, body_bytes};
use crate::wire::{
    self, CallNames, Quoted, as_array, as_object, as_str, at, bool_field, f64_field, i64_field,
    present, str_field,
};

/// The Messages API.
#[derive(Debug, Clone, Copy)]
pub struct Messages;

/// The one [`Messages`] the gateway's routes name.
pub static MESSAGES: Messages = Messages;

impl Dialect for Messages {
    fn name(&self) -> &'static str {
        "anthropic"
    }

    fn read(&self, body: &[u8], headers: &HeaderMap) -> Result<Parsed, Invalid> {
        let betas = headers
            .get_all("anthropic-beta")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(",");
        read(body, &betas)
    }

    fn fresh_id(&self, n: u64) -> String {
        format!("msg_llmux_{n}")
    }

    fn whole(&self, answer: &ChatResponse, reply: &Reply, parsed: &Parsed) -> Value {
        response(answer, reply, parsed.omit_reasoning)
    }

    fn stream(&self, reply: Reply, parsed: &Parsed) -> Box<dyn Encode> {
        let mut events = Events::new(reply, parsed.request.estimated_input_tokens());
        events.omit_reasoning = parsed.omit_reasoning;
        Box::new(events)
    }

    fn status(&self, problem: Problem) -> StatusCode {
        match problem {
            // Anthropic's own overload status; its SDK retries it.
            Problem::Kind(ErrorKind::Overloaded) => {
                StatusCode::from_u16(529).unwrap_or(StatusCode::SERVICE_UNAVAILABLE)
            }
            p => p.status(),
        }
    }

    fn error_type(&self, problem: Problem) -> (&'static str, Option<&'static str>) {
        let kind = match problem {
            Problem::GatewayKey => "authentication_error",
            Problem::NoRoute => "not_found_error",
            Problem::Forbidden => "permission_error",
            Problem::MediaType | Problem::SlowBody => "invalid_request_error",
            Problem::Kind(kind) => match kind {
                ErrorKind::Validation | ErrorKind::BadRequest | ErrorKind::ContextLength => {
                    "invalid_request_error"
                }
                ErrorKind::PayloadTooLarge => "request_too_large",
                ErrorKind::RateLimited => "rate_limit_error",
                ErrorKind::Overloaded => "overloaded_error",
                ErrorKind::Timeout => "timeout_error",
                _ => "api_error",
            },
        };
        (kind, None)
    }

    fn error_body(&self, e: &ApiError) -> Value {
        json!({"type": "error", "error": {"type": e.kind(), "message": e.message}})
    }

    fn error_event(&self, e: &ApiError) -> String {
        format!("event: error\ndata: {}\n\n", e.body())
    }

    fn models(&self, names: &[String]) -> Value {
        let data: Vec<_> = names
            .iter()
            .map(|n| json!({"type": "model", "id": n, "display_name": n, "created_at": "1970-01-01T00:00:00Z"}))
            .collect();
        json!({"data": data, "has_more": false, "first_id": names.first(), "last_id": names.last()})
    }
}

/// `POST /v1/messages/count_tokens`: `{"input_tokens": N}` for a Messages request (`max_tokens` not
/// needed). N is an estimate ([`ChatRequest::estimated_input_tokens`]: text at four bytes a token, a fixed
/// count per image or document, framing per message), not a provider's tokenizer: the gateway may serve a
/// request from any provider, and each counts differently.
pub async fn count_tokens(
    State(gateway): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (bytes, _permit) = match body_bytes(&gateway, &MESSAGES, &headers, body).await {
        Ok(b) => b,
        Err(response) => return response,
    };
    match parse(&bytes).and_then(|p| gateway.caps.check(&p.request).map(|()| p)) {
        Ok(parsed) => (
            [(header::CONTENT_TYPE, "application/json")],
            json!({"input_tokens": parsed.request.estimated_input_tokens()}).to_string(),
        )
            .into_response(),
        Err(message) => ApiError::invalid(&MESSAGES, message).into_response(),
    }
}

/// What the reader takes beyond the fields llm-claude's encoder writes ([`llmux::claude::WRITTEN_FIELDS`]):
/// settings not forwarded, and beta fields relayed.
const ALSO_READ: &[&str] = &["metadata", "service_tier", "context_management"];

/// The Messages wire format's name in a [`Relay`]: the one llm-claude sends a relay of.
pub const RELAY_WIRE: &str = llmux::claude::WIRE;

/// The keys a tool definition may have (`type` only as `custom`: server tools are refused by name).
const TOOL_KEYS: &[&str] = &[
    "type",
    "name",
    "description",
    "input_schema",
    "cache_control",
    "defer_loading",
    "eager_input_streaming",
    "strict",
];

/// Reads a Messages request body sent without beta flags.
pub fn parse(body: &[u8]) -> Result<Parsed, Invalid> {
    read(body, "")
}

/// Reads a Messages request body sent with the `anthropic-beta` flags `betas` (comma-separated): the flags
/// and the beta-only fields go in the request's [`Relay`], for an Anthropic upstream.
pub fn read(body: &[u8], betas: &str) -> Result<Parsed, Invalid> {
    let map = wire::known_object(body, &[&llmux::claude::WRITTEN_FIELDS, ALSO_READ])?;
    let model = str_field(&map, "model", "")?.to_owned();
    let mut request = ChatRequest::for_chain();
    if let Some(system) = present(&map, "system") {
        let mut message = Message::new(Role::System, "");
        message.content = match system {
            Value::String(s) => vec![ContentPart::text(s.clone())],
            v => {
                let mut parts = Vec::new();
                for (i, block) in as_array(v, "system")?.iter().enumerate() {
                    let path = format!("system[{i}]");
                    let b = as_object(block, &path)?;
                    if str_field(b, "type", &path)? != "text" {
                        return Err(format!("`{path}.type` must be `text`"));
                    }
                    parts.push(ContentPart::text(str_field(b, "text", &path)?));
                    if present(b, "cache_control").is_some() {
                        parts.push(ContentPart::CacheBreakpoint);
                    }
                }
                parts
            }
        };
        request.messages.push(message);
    }
    let Some(messages) = present(&map, "messages") else {
        return Err("`messages` is required".to_owned());
    };
    let mut names = CallNames::default();
    let mut relay = Relay::new(RELAY_WIRE);
    if !betas.trim().is_empty() {
        relay
            .headers
            .push(("anthropic-beta".to_owned(), betas.trim().to_owned()));
    }
    if let Some(cm) = present(&map, "context_management") {
        as_object(cm, "context_management")?;
        relay
            .fields
            .insert("context_management".to_owned(), cm.clone());
    }
    for (i, m) in as_array(messages, "messages")?.iter().enumerate() {
        turn(
            m,
            &format!("messages[{i}]"),
            &mut names,
            &mut request.messages,
        )?;
    }
    let p = &mut request.params;
    p.max_tokens = i64_field(&map, "max_tokens")?;
    p.temperature = f64_field(&map, "temperature")?;
    p.top_p = f64_field(&map, "top_p")?;
    p.top_k = i64_field(&map, "top_k")?;
    if let Some(stops) = present(&map, "stop_sequences") {
        for (i, s) in as_array(stops, "stop_sequences")?.iter().enumerate() {
            p.stop
                .push(as_str(s, &format!("stop_sequences[{i}]"))?.to_owned());
        }
    }
    if let Some(tools) = present(&map, "tools") {
        for (i, t) in as_array(tools, "tools")?.iter().enumerate() {
            request.tools.push(tool(t, &format!("tools[{i}]"))?);
        }
    }
    if let Some(choice) = present(&map, "tool_choice") {
        let c = as_object(choice, "tool_choice")?;
        request.tool_choice = Some(match str_field(c, "type", "tool_choice")? {
            "auto" => ToolChoice::Auto,
            "any" => ToolChoice::Required,
            "none" => ToolChoice::None,
            "tool" => ToolChoice::Tool(str_field(c, "name", "tool_choice")?.to_owned()),
            other => return Err(format!("`tool_choice.type` `{other}` is not supported")),
        });
        if bool_field(c, "disable_parallel_tool_use")? == Some(true) {
            request.parallel_tool_calls = Some(false);
        }
    }
    let config = present(&map, "output_config")
        .map(|c| as_object(c, "output_config"))
        .transpose()?;
    if let Some(config) = config {
        wire::no_unknown_fields(config, &["format", "effort"], "output_config")?;
        if let Some(format) = present(config, "format") {
            let f = as_object(format, "output_config.format")?;
            if str_field(f, "type", "output_config.format")? != "json_schema" {
                return Err("`output_config.format.type` must be `json_schema`".to_owned());
            }
            let schema = present(f, "schema")
                .cloned()
                .ok_or("`output_config.format.schema` is required")?;
            request.response_format = Some(ResponseFormat::from(ResponseFormat::json_schema(
                "output", schema,
            )));
        }
    }
    let effort = match config.and_then(|c| present(c, "effort")) {
        None => None,
        Some(e) => Some(match as_str(e, "output_config.effort")? {
            name @ ("low" | "medium" | "high" | "xhigh" | "max") => {
                Effort::parse(name).ok_or("`output_config.effort` is not a level")?
            }
            other => {
                return Err(format!(
                    "`output_config.effort` `{other}` is not supported: low, medium, high, xhigh or max"
                ));
            }
        }),
    };
    let mut omit_reasoning = false;
    request.reasoning = match present(&map, "thinking") {
        None => effort.map(Reasoning::Effort),
        Some(t) => {
            let t = as_object(t, "thinking")?;
            wire::no_unknown_fields(t, &["type", "budget_tokens", "display"], "thinking")?;
            match present(t, "display")
                .map(|d| as_str(d, "thinking.display"))
                .transpose()?
            {
                None | Some("summarized") => {}
                Some("omitted") => omit_reasoning = true,
                Some(other) => {
                    return Err(format!(
                        "`thinking.display` `{other}` is not supported: summarized or omitted"
                    ));
                }
            }
            match str_field(t, "type", "thinking")? {
                "enabled" => {
                    let budget = i64_field(t, "budget_tokens")?
                        .ok_or("`thinking.budget_tokens` is required")?;
                    Some(Reasoning::Budget(u32::try_from(budget).map_err(|_| {
                        "`thinking.budget_tokens` must be a positive integer".to_owned()
                    })?))
                }
                "adaptive" => Some(Reasoning::Effort(effort.unwrap_or(Effort::Medium))),
                "disabled" => None,
                other => return Err(format!("`thinking.type` `{other}` is not supported")),
            }
        }
    };
    let mut parsed = Parsed::new(request, model, bool_field(&map, "stream")?.unwrap_or(false));
    parsed.request.relay = Some(relay).filter(|r| !r.is_empty());
    parsed.omit_reasoning = omit_reasoning;
    Ok(parsed)
}

/// One client turn: an assistant message, or a user message whose `tool_result` blocks become tool
/// messages (before the rest of the turn, as Anthropic orders them).
fn turn(
    value: &Value,
    path: &str,
    names: &mut CallNames,
    out: &mut Vec<Message>,
) -> Result<(), Invalid> {
    let map = as_object(value, path)?;
    let role = match str_field(map, "role", path)? {
        "user" => Role::User,
        "assistant" => Role::Assistant,
        "system" => Role::System,
        other => {
            return Err(format!(
                "`{path}.role` `{other}` is not supported: user, assistant or system"
            ));
        }
    };
    let content_path = at(path, "content");
    let mut parts = Vec::new();
    match present(map, "content") {
        None => return Err(format!("`{content_path}` is required")),
        Some(Value::String(s)) => parts.push(ContentPart::text(s.clone())),
        Some(v) => {
            for (i, block) in as_array(v, &content_path)?.iter().enumerate() {
                let block_path = format!("{content_path}[{i}]");
                let b = as_object(block, &block_path)?;
                let part = self::block(b, &block_path, role, names)?;
                if let ContentPart::ToolResult { .. } = part {
                    let mut result = Message::new(Role::Tool, "");
                    result.content = vec![part];
                    out.push(result);
                } else {
                    parts.push(part);
                }
                if present(b, "cache_control").is_some() {
                    match parts.is_empty() {
                        // A breakpoint on a tool result: it closes that tool message.
                        true => {
                            if let Some(last) = out.last_mut() {
                                last.content.push(ContentPart::CacheBreakpoint);
                            }
                        }
                        false => parts.push(ContentPart::CacheBreakpoint),
                    }
                }
            }
        }
    }
    if !parts.is_empty() {
        let mut message = Message::new(role, "");
        message.content = parts;
        out.push(message);
    }
    Ok(())
}

fn block(
    b: &Map<String, Value>,
    path: &str,
    role: Role,
    names: &mut CallNames,
) -> Result<ContentPart, Invalid> {
    Ok(match str_field(b, "type", path)? {
        "text" => ContentPart::text(str_field(b, "text", path)?),
        other if role == Role::System => {
            return Err(format!(
                "`{path}.type` `{other}` is not supported in a system message: text only"
            ));
        }
        "image" => ContentPart::Image {
            source: source(b.get("source"), &at(path, "source"))?,
        },
        "document" => ContentPart::Document {
            source: source(b.get("source"), &at(path, "source"))?,
            name: present(b, "title")
                .and_then(Value::as_str)
                .map(str::to_owned),
        },
        "tool_use" if role == Role::Assistant => {
            let id = str_field(b, "id", path)?;
            let name = str_field(b, "name", path)?;
            names.insert(id, name);
            ContentPart::ToolCall(ToolCall::new(
                id,
                name,
                present(b, "input").cloned().unwrap_or_else(|| json!({})),
            ))
        }
        "tool_result" if role == Role::User => {
            let call_id = str_field(b, "tool_use_id", path)?.to_owned();
            let content = match present(b, "content") {
                None => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(v) => {
                    let mut text = String::new();
                    for (i, item) in as_array(v, &at(path, "content"))?.iter().enumerate() {
                        let item_path = format!("{path}.content[{i}]");
                        let item = as_object(item, &item_path)?;
                        if str_field(item, "type", &item_path)? != "text" {
                            return Err(format!(
                                "`{item_path}`: only text is supported in tool results"
                            ));
                        }
                        text.push_str(str_field(item, "text", &item_path)?);
                    }
                    text
                }
            };
            ContentPart::ToolResult {
                name: names.name(&call_id),
                call_id,
                content: ToolOutput::Text(content),
                is_error: bool_field(b, "is_error")?.unwrap_or(false),
            }
        }
        "thinking" if role == Role::Assistant => ContentPart::Reasoning {
            text: str_field(b, "thinking", path)?.to_owned(),
            signature: present(b, "signature")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        },
        "redacted_thinking" if role == Role::Assistant => ContentPart::RedactedReasoning {
            data: str_field(b, "data", path)?.to_owned(),
        },
        other => {
            return Err(format!(
                "`{path}.type` `{other}` is not supported in a {} message",
                role.as_str()
            ));
        }
    })
}

fn source(value: Option<&Value>, path: &str) -> Result<Source, Invalid> {
    let s = as_object(value.unwrap_or(&Value::Null), path)?;
    match str_field(s, "type", path)? {
        "base64" => Ok(Source::base64(
            str_field(s, "media_type", path)?,
            str_field(s, "data", path)?,
        )),
        "url" => Ok(Source::url(str_field(s, "url", path)?)),
        other => Err(format!(
            "`{path}.type` `{other}` is not supported: base64 or url"
        )),
    }
}

fn tool(value: &Value, path: &str) -> Result<Tool, Invalid> {
    let t = as_object(value, path)?;
    if let Some(kind) = present(t, "type").and_then(Value::as_str)
        && kind != "custom"
    {
        return Err(format!(
            "`{path}.type` `{kind}`: server tools are not supported"
        ));
    }
    let mut tool = Tool::new(
        str_field(t, "name", path)?,
        "",
        present(t, "input_schema")
            .cloned()
            .ok_or_else(|| format!("`{path}.input_schema` is required"))?,
    );
    tool.description = present(t, "description")
        .map(|d| as_str(d, &at(path, "description")).map(str::to_owned))
        .transpose()?;
    tool.cache_breakpoint = present(t, "cache_control").is_some();
    wire::no_unknown_fields(t, TOOL_KEYS, path)?;
    for flag in ["defer_loading", "eager_input_streaming"] {
        bool_field(t, flag).map_err(|_| format!("`{}` must be a boolean", at(path, flag)))?;
    }
    tool.strict = bool_field(t, "strict")
        .map_err(|_| format!("`{}` must be a boolean", at(path, "strict")))?;
    Ok(tool)
}

fn stop_reason(reason: Option<&FinishReason>) -> &str {
    match reason {
        None | Some(FinishReason::Stop) => "end_turn",
        Some(FinishReason::Length) => "max_tokens",
        Some(FinishReason::ToolCalls) => "tool_use",
        Some(FinishReason::ContentFilter) => "refusal",
        Some(FinishReason::Other(s))
            if matches!(s.as_str(), "stop_sequence" | "pause_turn" | "refusal") =>
        {
            s
        }
        Some(_) => "end_turn",
    }
}

/// Anthropic's `input_tokens`: the prompt tokens neither read from nor written to the cache (llmux's
/// `input_tokens` counts them all, so both are taken out: a client adds them back).
fn uncached_input(u: &Usage) -> Option<u64> {
    let cached = u.cached_input_tokens.unwrap_or(0);
    let written = u.cache_write_input_tokens.unwrap_or(0);
    u.input_tokens
        .map(|n| n.saturating_sub(cached).saturating_sub(written))
}

fn usage(u: Option<&Usage>) -> Value {
    let mut v = json!({
        "input_tokens": u.and_then(uncached_input).unwrap_or(0),
        "output_tokens": u.and_then(|u| u.output_tokens).unwrap_or(0),
    });
    if let Some(n) = u.and_then(|u| u.cache_write_input_tokens) {
        v["cache_creation_input_tokens"] = json!(n);
    }
    if let Some(n) = u.and_then(|u| u.cached_input_tokens) {
        v["cache_read_input_tokens"] = json!(n);
    }
    v
}

/// A whole answer as a `message` object; with `omit_reasoning`, thinking blocks keep their signatures and
/// lose their text.
pub fn response(r: &ChatResponse, reply: &Reply, omit_reasoning: bool) -> Value {
    let mut content = Vec::new();
    for part in &r.reasoning_parts {
        match part {
            ContentPart::Reasoning { text, signature } => content.push(json!({
                "type": "thinking",
                "thinking": if omit_reasoning { "" } else { text.as_str() },
                "signature": signature.clone().unwrap_or_default(),
            })),
            ContentPart::RedactedReasoning { data } => {
                content.push(json!({"type": "redacted_thinking", "data": data}));
            }
            _ => {}
        }
    }
    if r.reasoning_parts.is_empty()
        && !omit_reasoning
        && let Some(text) = r.reasoning.as_ref().filter(|t| !t.is_empty())
    {
        content.push(json!({"type": "thinking", "thinking": text, "signature": ""}));
    }
    if !r.text.is_empty() || r.tool_calls.is_empty() {
        content.push(json!({"type": "text", "text": r.text}));
    }
    for call in &r.tool_calls {
        content.push(
            json!({"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}),
        );
    }
    json!({
        "id": r.response_id.clone().filter(|i| i.starts_with("msg")).unwrap_or_else(|| reply.id.clone()),
        "type": "message",
        "role": "assistant",
        "model": reply.model,
        "content": content,
        "stop_reason": stop_reason(r.finish_reason.as_ref()),
        "stop_sequence": null,
        "usage": usage(r.usage.as_ref()),
    })
}

/// Which block is open in a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Text,
    Thinking,
    /// A tool call, by its index in the answer.
    Tool(usize),
}

/// Writes the Messages event sequence.
#[derive(Debug)]
pub struct Events {
    id: String,
    model: String,
    /// `message_start` is written at the first event after the start (or the end): by then a provider that
    /// counts the prompt first (Claude) has said so, and the count goes in it.
    started: bool,
    /// The request's estimate of its prompt tokens, for `message_start` when no count came before content.
    estimated_input: u64,
    /// Thinking blocks go out without their text (`thinking.display: "omitted"`).
    omit_reasoning: bool,
    open: Option<Block>,
    /// The index the next block gets.
    next: usize,
    usage: Option<Usage>,
    finish: Option<FinishReason>,
    /// Tool calls whose arguments were streamed in pieces.
    streamed_arguments: Vec<usize>,
    /// Events held back while a tool call's block is open and the call is not complete: Anthropic's
    /// blocks cannot interleave, so another call or text waits for it (providers that stream calls side
    /// by side, or complete them all at the end, would otherwise cut a call's arguments short).
    pending: Vec<StreamEvent>,
}

impl Events {
    /// A stream sent as `reply` (its id unless the provider gives a `msg_` id), its prompt estimated at
    /// `estimated_input` tokens.
    pub fn new(reply: Reply, estimated_input: u64) -> Events {
        Events {
            id: reply.id,
            model: reply.model,
            started: false,
            estimated_input,
            omit_reasoning: false,
            open: None,
            next: 0,
            usage: None,
            finish: None,
            streamed_arguments: Vec::new(),
            pending: Vec::new(),
        }
    }

    fn close(&mut self, out: &mut String) {
        if self.open.take().is_some() {
            wire::sse(
                out,
                Some("content_block_stop"),
                &json!({"type": "content_block_stop", "index": self.next - 1}),
            );
        }
    }

    /// Opens `block` (closing another) with the start block `body`; returns its index.
    fn open(&mut self, block: Block, body: Value, out: &mut String) -> usize {
        if self.open == Some(block) {
            return self.next - 1;
        }
        self.close(out);
        let index = self.next;
        self.next += 1;
        self.open = Some(block);
        wire::sse(
            out,
            Some("content_block_start"),
            &json!({"type": "content_block_start", "index": index, "content_block": body}),
        );
        index
    }

    /// A `content_block_delta` of block `index`. Written as text, not built as a JSON tree: text,
    /// thinking and argument pieces come once per token.
    fn delta(out: &mut String, index: usize, delta: impl std::fmt::Display) {
        use std::fmt::Write as _;
        let _ = write!(
            out,
            "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":{index},\
             \"delta\":{delta}}}\n\n"
        );
    }
}

impl Encode for Events {
    fn event(&mut self, event: StreamEvent, out: &mut String) {
        if !self.started {
            match event {
                StreamEvent::Start(start) => {
                    if let Some(id) = start.response_id.filter(|i| i.starts_with("msg")) {
                        self.id = id;
                    }
                    return;
                }
                // A count before the content belongs in `message_start`.
                StreamEvent::Usage(u) => {
                    self.usage = Some(u);
                    return;
                }
                _ => self.start(out),
            }
        }
        if let Some(Block::Tool(open)) = self.open {
            let same_call = match &event {
                StreamEvent::ToolCallDelta { index, .. } | StreamEvent::ToolCall { index, .. } => {
                    *index == open
                }
                StreamEvent::Usage(_) | StreamEvent::Finish(_) => true,
                _ => false,
            };
            if !same_call {
                self.pending.push(event);
                return;
            }
        }
        let completes = matches!(event, StreamEvent::ToolCall { .. });
        self.encode(event, out);
        if completes {
            for held in std::mem::take(&mut self.pending) {
                self.event(held, out);
            }
        }
    }

    fn end(&mut self, out: &mut String) {
        if !self.started {
            self.start(out);
        }
        // A call left open (no completion came) closes as it is, then what waited for it goes out.
        self.close(out);
        while !self.pending.is_empty() {
            for held in std::mem::take(&mut self.pending) {
                self.event(held, out);
            }
            self.close(out);
        }
        // As the API sends it: the counts so far, cache reads and writes included when known.
        let mut usage = usage(self.usage.as_ref());
        if self.usage.and_then(|u| u.input_tokens).is_none()
            && let Some(map) = usage.as_object_mut()
        {
            map.remove("input_tokens");
        }
        wire::sse(
            out,
            Some("message_delta"),
            &json!({"type": "message_delta",
                    "delta": {"stop_reason": stop_reason(self.finish.as_ref()), "stop_sequence": null},
                    "usage": usage}),
        );
        wire::sse(out, Some("message_stop"), &json!({"type": "message_stop"}));
    }

    fn keepalive(&self, out: &mut String) {
        out.push_str(PING);
    }
}

/// Anthropic's keep-alive event, sent after `message_start` (as the API does) and while a provider is silent.
const PING: &str = "event: ping\ndata: {\"type\": \"ping\"}\n\n";

impl Events {
    /// `message_start`, with the prompt's count (the provider's, else the estimate), then a `ping`.
    fn start(&mut self, out: &mut String) {
        self.started = true;
        let mut usage = match self.usage.as_ref() {
            Some(u) if u.input_tokens.is_some() => usage(Some(u)),
            _ => json!({"input_tokens": self.estimated_input, "output_tokens": 0}),
        };
        usage["output_tokens"] = json!(0);
        wire::sse(
            out,
            Some("message_start"),
            &json!({"type": "message_start", "message": {
                "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                "content": [], "stop_reason": null, "stop_sequence": null,
                "usage": usage,
            }}),
        );
        out.push_str(PING);
    }

    fn encode(&mut self, event: StreamEvent, out: &mut String) {
        match event {
            StreamEvent::TextDelta(text) => {
                let i = self.open(Block::Text, json!({"type": "text", "text": ""}), out);
                Events::delta(
                    out,
                    i,
                    format_args!("{{\"type\":\"text_delta\",\"text\":{}}}", Quoted(&text)),
                );
            }
            StreamEvent::ReasoningDelta(text) => {
                let body = json!({"type": "thinking", "thinking": "", "signature": ""});
                let i = self.open(Block::Thinking, body, out);
                if self.omit_reasoning {
                    return;
                }
                Events::delta(
                    out,
                    i,
                    format_args!(
                        "{{\"type\":\"thinking_delta\",\"thinking\":{}}}",
                        Quoted(&text)
                    ),
                );
            }
            StreamEvent::ReasoningSignature(signature) => {
                let body = json!({"type": "thinking", "thinking": "", "signature": ""});
                let i = self.open(Block::Thinking, body, out);
                Events::delta(
                    out,
                    i,
                    json!({"type": "signature_delta", "signature": signature}),
                );
                // A signature closes its block of thinking.
                self.close(out);
            }
            StreamEvent::RedactedReasoning(data) => {
                self.close(out);
                self.open(
                    Block::Thinking,
                    json!({"type": "redacted_thinking", "data": data}),
                    out,
                );
                self.close(out);
            }
            StreamEvent::ToolCallStart { index, id, name } => {
                let body = json!({"type": "tool_use", "id": id, "name": name, "input": {}});
                self.open(Block::Tool(index), body, out);
            }
            StreamEvent::ToolCallDelta { index, arguments }
                if self.open == Some(Block::Tool(index)) =>
            {
                if !self.streamed_arguments.contains(&index) {
                    self.streamed_arguments.push(index);
                }
                Events::delta(
                    out,
                    self.next - 1,
                    format_args!(
                        "{{\"type\":\"input_json_delta\",\"partial_json\":{}}}",
                        Quoted(&arguments)
                    ),
                );
            }
            StreamEvent::ToolCall { index, call } => {
                let body =
                    json!({"type": "tool_use", "id": call.id, "name": call.name, "input": {}});
                let i = self.open(Block::Tool(index), body, out);
                if !self.streamed_arguments.contains(&index) {
                    let json = wire::arguments_text(&call.arguments);
                    Events::delta(
                        out,
                        i,
                        json!({"type": "input_json_delta", "partial_json": json}),
                    );
                }
                self.close(out);
            }
            StreamEvent::Usage(u) => self.usage = Some(u),
            StreamEvent::Finish(reason) => self.finish = Some(reason),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use llmux::StreamStart;

    fn reply() -> Reply {
        Reply {
            id: "msg_x".into(),
            model: "entry-model".into(),
        }
    }

    #[test]
    fn a_full_request_reads_into_the_vocabulary() {
        let body = json!({
            "model": "claude-anything", "max_tokens": 256,
            "system": [{"type": "text", "text": "be brief", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"}},
                    {"type": "text", "text": "weather?"}
                ]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "hm", "signature": "sig"},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
                ]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "18 C"}]},
                    {"type": "text", "text": "and tomorrow?"}
                ]}
            ],
            "tools": [{"name": "get_weather", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral"}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": true},
            "thinking": {"type": "enabled", "budget_tokens": 2048},
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object"}}},
            "stop_sequences": ["END"], "stream": true
        });
        let parsed = parse(body.to_string().as_bytes()).unwrap();
        let r = &parsed.request;
        let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
        assert_eq!(
            roles,
            [
                Role::System,
                Role::User,
                Role::Assistant,
                Role::Tool,
                Role::User
            ]
        );
        assert_eq!(r.messages[0].content[1], ContentPart::CacheBreakpoint);
        assert!(matches!(&r.messages[2].content[0],
            ContentPart::Reasoning { signature: Some(s), .. } if s == "sig"));
        assert!(matches!(&r.messages[3].content[0],
            ContentPart::ToolResult { name, content: ToolOutput::Text(t), .. } if name == "get_weather" && t == "18 C"));
        assert_eq!(r.params.max_tokens, Some(256));
        assert_eq!(r.tool_choice, Some(ToolChoice::Required));
        assert_eq!(r.parallel_tool_calls, Some(false));
        assert!(r.tools[0].cache_breakpoint);
        assert_eq!(r.reasoning, Some(Reasoning::Budget(2048)));
        assert!(matches!(
            r.response_format,
            Some(ResponseFormat::JsonSchema(_))
        ));
        assert!(parsed.stream);
    }

    #[test]
    fn bad_input_is_a_message_never_a_panic() {
        for body in [
            "[]",
            r#"{"model":"m"}"#,
            r#"{"model":"m","messages":[{"role":"tool","content":"x"}]}"#,
            r#"{"model":"m","messages":[{"role":"system","content":[{"type":"image","source":{"type":"url","url":"u"}}]}]}"#,
            r#"{"model":"m","messages":[],"tools":[{"name":"t","input_schema":{},"surprise":1}]}"#,
            r#"{"model":"m","messages":[],"thinking":{"type":"adaptive","display":"loud"}}"#,
            r#"{"model":"m","messages":[],"output_config":{"effort":"extreme"}}"#,
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"tool_use","id":"a","name":"b"}]}]}"#,
            r#"{"model":"m","messages":[{"role":"user","content":[{"type":"image","source":{"type":"file"}}]}]}"#,
            r#"{"model":"m","messages":[],"thinking":{"type":"enabled","budget_tokens":-1}}"#,
            r#"{"model":"m","messages":[],"tools":[{"type":"web_search_20250305","name":"w"}]}"#,
            r#"{"model":"m","messages":[],"extra":1}"#,
        ] {
            assert!(parse(body.as_bytes()).is_err(), "{body}");
        }
    }

    #[test]
    fn a_claude_code_request_reads_with_its_beta_fields_named() {
        // The shape Claude Code 2.1 sends (trimmed): a system message after the user turn, adaptive
        // thinking with an effort, context management, metadata, tools with loading hints.
        let body = json!({
            "model": "claude-opus-4-8", "max_tokens": 64000, "stream": true,
            "system": [{"type": "text", "text": "x-anthropic-billing-header: cc"},
                       {"type": "text", "text": "You are an agent", "cache_control": {"type": "ephemeral"}}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "say hi", "cache_control": {"type": "ephemeral"}}]},
                {"role": "system", "content": "Available agent types: claude"}
            ],
            "tools": [{"name": "Bash", "description": "run", "input_schema": {"type": "object"},
                       "defer_loading": false, "eager_input_streaming": true, "strict": true}],
            "metadata": {"user_id": "{\"device_id\":\"d\"}"},
            "thinking": {"type": "adaptive", "display": "omitted"},
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "output_config": {"effort": "xhigh"}
        });
        let parsed = parse(body.to_string().as_bytes()).unwrap();
        let roles: Vec<Role> = parsed.request.messages.iter().map(|m| m.role).collect();
        assert_eq!(roles, [Role::System, Role::User, Role::System]);
        assert_eq!(
            parsed.request.messages[2].content,
            [ContentPart::text("Available agent types: claude")]
        );
        let relay = parsed.request.relay.as_ref().expect("a relay");
        assert_eq!(relay.wire, RELAY_WIRE);
        assert_eq!(
            RELAY_WIRE,
            llmux::claude::WIRE,
            "the wire llm-claude sends a relay of"
        );
        assert!(relay.fields.contains_key("context_management"));
        assert!(relay.headers.is_empty(), "no flags were sent");
        let with_flags = read(
            body.to_string().as_bytes(),
            "context-management-2025-06-27,effort-2025-11-24",
        )
        .unwrap();
        assert_eq!(
            with_flags.request.relay.unwrap().headers,
            [(
                "anthropic-beta".to_owned(),
                "context-management-2025-06-27,effort-2025-11-24".to_owned()
            )]
        );
        assert!(parsed.omit_reasoning);
        assert_eq!(
            parsed.request.reasoning,
            Some(Reasoning::Effort(Effort::XHigh))
        );
        assert_eq!(parsed.request.tools[0].strict, Some(true));
        for (name, effort) in [("max", Effort::Max), ("low", Effort::Low)] {
            let mut b = body.clone();
            b["output_config"]["effort"] = json!(name);
            let p = parse(b.to_string().as_bytes()).unwrap();
            assert_eq!(
                p.request.reasoning,
                Some(Reasoning::Effort(effort)),
                "{name}"
            );
        }
    }

    fn events_of(out: &str) -> Vec<Value> {
        out.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect()
    }

    #[test]
    fn message_start_carries_the_prompt_count_and_usage_excludes_the_cache() {
        // A provider that counts the prompt first (Claude): its count, without the cache, in message_start.
        let mut events = Events::new(reply(), 7);
        let mut out = String::new();
        let mut early = Usage::new(36, 1);
        early.cached_input_tokens = Some(30);
        let mut late = Usage::new(36, 5);
        late.cached_input_tokens = Some(30);
        for event in [
            StreamEvent::Start(StreamStart::new("claude", "m")),
            StreamEvent::Usage(early),
            StreamEvent::TextDelta("hi".into()),
            StreamEvent::Usage(late),
            StreamEvent::Finish(FinishReason::Stop),
        ] {
            events.event(event, &mut out);
        }
        events.end(&mut out);
        let data = events_of(&out);
        assert_eq!(data[0]["type"], "message_start");
        assert_eq!(data[0]["message"]["model"], "entry-model");
        assert_eq!(data[0]["message"]["usage"]["input_tokens"], 6, "{out}");
        assert_eq!(data[0]["message"]["usage"]["cache_read_input_tokens"], 30);
        let delta = data.iter().find(|d| d["type"] == "message_delta").unwrap();
        assert_eq!(delta["usage"]["input_tokens"], 6);
        assert_eq!(delta["usage"]["cache_read_input_tokens"], 30);
        assert_eq!(delta["usage"]["output_tokens"], 5);
        // One that counts only at the end: the request's estimate.
        let mut events = Events::new(reply(), 7);
        let mut out = String::new();
        events.event(
            StreamEvent::Start(StreamStart::new("openai", "m")),
            &mut out,
        );
        assert!(
            out.is_empty(),
            "message_start waits for the first event after the start"
        );
        events.event(StreamEvent::TextDelta("hi".into()), &mut out);
        assert_eq!(events_of(&out)[0]["message"]["usage"]["input_tokens"], 7);
    }

    #[test]
    fn omitted_thinking_keeps_its_signature_and_loses_its_text() {
        let mut events = Events::new(reply(), 7);
        events.omit_reasoning = true;
        let mut out = String::new();
        for event in [
            StreamEvent::Start(StreamStart::new("claude", "m")),
            StreamEvent::ReasoningDelta("secret plan".into()),
            StreamEvent::ReasoningSignature("sig".into()),
            StreamEvent::TextDelta("hi".into()),
        ] {
            events.event(event, &mut out);
        }
        events.end(&mut out);
        assert!(!out.contains("secret plan"), "{out}");
        assert!(out.contains("signature_delta"), "{out}");
        let mut answer = ChatResponse::new("claude", "m", "hi");
        answer.reasoning_parts = vec![ContentPart::Reasoning {
            text: "secret plan".into(),
            signature: Some("sig".into()),
        }];
        let body = response(&answer, &reply(), true);
        assert_eq!(body["content"][0]["thinking"], "");
        assert_eq!(body["content"][0]["signature"], "sig");
        assert_eq!(body["model"], "entry-model");
    }

    #[test]
    fn calls_streamed_side_by_side_become_one_whole_block_each() {
        let mut events = Events::new(reply(), 7);
        let mut out = String::new();
        let start = |index: usize, id: &str| StreamEvent::ToolCallStart {
            index,
            id: id.into(),
            name: "f".into(),
        };
        let delta = |index: usize, arguments: &str| StreamEvent::ToolCallDelta {
            index,
            arguments: arguments.into(),
        };
        // OpenAI-style: both calls stream, and both complete only at the end.
        for event in [
            StreamEvent::Start(StreamStart::new("openai", "m")),
            start(0, "a"),
            delta(0, "{\"n\":"),
            start(1, "b"),
            delta(1, "{\"n\":2}"),
            delta(0, "1}"),
            StreamEvent::ToolCall {
                index: 0,
                call: ToolCall::new("a", "f", json!({"n": 1})),
            },
            StreamEvent::ToolCall {
                index: 1,
                call: ToolCall::new("b", "f", json!({"n": 2})),
            },
            StreamEvent::Finish(FinishReason::ToolCalls),
        ] {
            events.event(event, &mut out);
        }
        events.end(&mut out);
        let data: Vec<Value> = out
            .lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).unwrap())
            .collect();
        let starts: Vec<&Value> = data
            .iter()
            .filter(|d| d["type"] == "content_block_start")
            .collect();
        assert_eq!(starts.len(), 2, "{out}");
        assert_eq!(starts[0]["content_block"]["id"], "a");
        assert_eq!(starts[1]["content_block"]["id"], "b");
        let arguments = |i: u64| -> String {
            data.iter()
                .filter(|d| d["type"] == "content_block_delta" && d["index"] == i)
                .filter_map(|d| d["delta"]["partial_json"].as_str())
                .collect()
        };
        assert_eq!(arguments(0), "{\"n\":1}", "{out}");
        assert_eq!(arguments(1), "{\"n\":2}", "{out}");
    }

    #[test]
    fn a_stream_is_the_real_event_sequence() {
        let mut events = Events::new(reply(), 7);
        let mut out = String::new();
        for event in [
            StreamEvent::Start(StreamStart::new("katan", "m")),
            StreamEvent::ReasoningDelta("hm".into()),
            StreamEvent::ReasoningSignature("sig".into()),
            StreamEvent::TextDelta("hi".into()),
            StreamEvent::TextDelta(" there".into()),
            StreamEvent::ToolCallStart {
                index: 0,
                id: "t1".into(),
                name: "f".into(),
            },
            StreamEvent::ToolCallDelta {
                index: 0,
                arguments: "{\"a\":".into(),
            },
            StreamEvent::ToolCallDelta {
                index: 0,
                arguments: "1}".into(),
            },
            StreamEvent::ToolCall {
                index: 0,
                call: ToolCall::new("t1", "f", json!({"a": 1})),
            },
            StreamEvent::Usage(Usage::new(3, 4)),
            StreamEvent::Finish(FinishReason::ToolCalls),
        ] {
            events.event(event, &mut out);
        }
        events.end(&mut out);
        let names: Vec<&str> = out
            .lines()
            .filter_map(|l| l.strip_prefix("event: "))
            .collect();
        assert_eq!(
            names,
            [
                "message_start",
                "ping",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "content_block_start",
                "content_block_delta",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop",
            ]
        );
        assert!(out.contains(r#""stop_reason":"tool_use""#), "{out}");
        assert!(out.contains(r#""index":2"#), "{out}");
    }
}
