//! Pure request mapping: a [`ChatRequest`] becomes the Messages API's headers and JSON body.
//!
//! The mapping, as documented on [`Claude`](crate::Claude):
//! - every system message (wherever it stands) goes to the top-level `system` field, several joined with a
//!   blank line (`"\n\n"`) in their order;
//! - consecutive messages of the same role are merged into one, their texts joined with `"\n\n"` (the API
//!   wants user and assistant turns to alternate);
//! - the first non-system message must be the user's: a conversation that starts with the assistant is a
//!   `validation` error (llmux never invents a user turn the caller did not write);
//! - `max_tokens` is always sent: the request's, else the configured default;
//! - `stop` becomes `stop_sequences`; temperature, top_p and top_k are sent as given (checked against
//!   [`PARAMS`](crate::PARAMS) first); nothing else is written, so no field the Messages API does not define is sent;
//! - [`ChatRequest::extra`] is merged at the top level; a key this crate writes itself is a `validation`
//!   error, whether or not this request sets it;
//! - images become `image` blocks and PDFs `document` blocks (base64 or URL sources), checked against the
//!   API's limits ([`MAX_IMAGE_BASE64`], [`MAX_REQUEST_MEDIA`]) before sending;
//! - reasoning parts go back as `thinking` blocks with their signature and `redacted_thinking` blocks,
//!   first in their assistant turn; reasoning without a signature (another provider's) is not sent, since
//!   the API rejects thinking it did not sign;
//! - a cache breakpoint puts `cache_control: {"type": "ephemeral"}` on the block before it (a system
//!   message with one is sent as `system` blocks); a tool marked with one gets it too;
//! - a JSON Schema format is `output_config.format`; a reasoning budget is `thinking: {"type": "enabled",
//!   "budget_tokens"}` (at least 1024, below `max_tokens`), an effort `thinking: {"type": "adaptive"}` with
//!   `output_config.effort`; with thinking on, `temperature` and `top_k` are refused as the API refuses them.

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, HeaderValue};
use llm_core::{
    ChatRequest, ContentPart, Effort, Error, Reasoning, Relay, ResponseFormat, Role, Source,
    ToolChoice, Violation,
};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::ClaudeConfig;

/// The top-level body fields this crate writes; [`ChatRequest::extra`] may not use them.
pub const RESERVED_FIELDS: [&str; 13] = [
    "thinking",
    "output_config",
    "tools",
    "tool_choice",
    "model",
    "messages",
    "system",
    "max_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop_sequences",
    "stream",
];

/// Headers this crate writes; configured extra headers may not replace them.
const RESERVED_HEADERS: [&str; 4] = [
    "x-api-key",
    "anthropic-version",
    "anthropic-beta",
    "content-type",
];

/// The separator between merged texts (system messages, consecutive same-role messages).
pub const JOIN: &str = "\n\n";

/// The longest base64 text of one image the Messages API takes (5 MB).
pub const MAX_IMAGE_BASE64: usize = 5 << 20;
/// The most base64 text of images and documents one request may carry: the API's 32 MB request limit.
pub const MAX_REQUEST_MEDIA: usize = 32 << 20;
/// The smallest thinking budget the API takes.
pub const MIN_THINKING_BUDGET: u32 = 1024;

/// The image media types the Messages API takes.
const IMAGE_TYPES: [&str; 4] = ["image/jpeg", "image/png", "image/gif", "image/webp"];

#[derive(Debug, Serialize)]
struct Body<'a> {
    model: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<WireContent<'a>>,
    messages: Vec<WireMessage<'a>>,
    max_tokens: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<i64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop_sequences: &'a [String],
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Value>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    output_config: Map<String, Value>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    stream: bool,
    #[serde(flatten)]
    extra: Cow<'a, Map<String, Value>>,
}

#[derive(Debug, Serialize)]
struct WireTool<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    input_schema: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<Ephemeral>,
}

/// `cache_control: {"type": "ephemeral"}`.
#[derive(Debug, Clone, Copy, Serialize)]
struct Ephemeral {
    #[serde(rename = "type")]
    kind: &'static str,
}

const EPHEMERAL: Ephemeral = Ephemeral { kind: "ephemeral" };

#[derive(Debug, Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: WireContent<'a>,
}

/// A turn's content: a string when it is text only (as every text-only request was always sent), blocks
/// when it carries tool use or tool results.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum WireContent<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Block<'a>>),
}

/// A content block and its cache breakpoint.
#[derive(Debug, Serialize)]
struct Block<'a> {
    #[serde(flatten)]
    block: WireBlock<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cache_control: Option<Ephemeral>,
}

impl<'a> From<WireBlock<'a>> for Block<'a> {
    fn from(block: WireBlock<'a>) -> Self {
        Block {
            block,
            cache_control: None,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireSource<'a> {
    Base64 { media_type: &'a str, data: &'a str },
    Url { url: &'a str },
}

impl<'a> WireSource<'a> {
    fn of(source: &'a Source) -> Self {
        match source {
            Source::Url { url } => WireSource::Url { url },
            Source::Base64 { media_type, data } => WireSource::Base64 { media_type, data },
            // `Source` is non-exhaustive; validation refuses kinds this crate does not know.
            _ => WireSource::Url { url: "" },
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum WireBlock<'a> {
    Text {
        text: Cow<'a, str>,
    },
    Image {
        source: WireSource<'a>,
    },
    Document {
        source: WireSource<'a>,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<&'a str>,
    },
    Thinking {
        thinking: &'a str,
        signature: &'a str,
    },
    RedactedThinking {
        data: &'a str,
    },
    ToolUse {
        id: &'a str,
        name: &'a str,
        input: &'a Value,
    },
    ToolResult {
        tool_use_id: &'a str,
        content: String,
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
}

impl<'a> WireContent<'a> {
    fn into_blocks(self) -> Vec<Block<'a>> {
        match self {
            WireContent::Text(text) if text.is_empty() => Vec::new(),
            WireContent::Text(text) => vec![WireBlock::Text { text }.into()],
            WireContent::Blocks(blocks) => blocks,
        }
    }
}

/// The blocks of one message: tool results first (the API wants them before any text of a user turn), then
/// every other part in order (reasoning first in an assistant turn is the order answers come in). A cache
/// breakpoint marks the block before it.
fn blocks_of(parts: &[ContentPart]) -> Vec<Block<'_>> {
    let mut results: Vec<Block<'_>> = Vec::new();
    let mut rest: Vec<Block<'_>> = Vec::new();
    let mut last_was_result = false;
    for part in parts {
        let block = match part {
            ContentPart::Text { text } => WireBlock::Text {
                text: Cow::Borrowed(text),
            },
            ContentPart::ToolCall(call) => WireBlock::ToolUse {
                id: &call.id,
                name: &call.name,
                input: &call.arguments,
            },
            ContentPart::ToolResult {
                call_id,
                content,
                is_error,
                ..
            } => {
                results.push(
                    WireBlock::ToolResult {
                        tool_use_id: call_id,
                        content: content.to_text(),
                        is_error: *is_error,
                    }
                    .into(),
                );
                last_was_result = true;
                continue;
            }
            ContentPart::Image { source } => WireBlock::Image {
                source: WireSource::of(source),
            },
            ContentPart::Document { source, name } => WireBlock::Document {
                source: WireSource::of(source),
                title: name.as_deref(),
            },
            ContentPart::Reasoning {
                text,
                signature: Some(signature),
            } if own_signature(signature) => WireBlock::Thinking {
                thinking: text,
                signature,
            },
            ContentPart::RedactedReasoning { data } => WireBlock::RedactedThinking { data },
            ContentPart::CacheBreakpoint => {
                let before = if last_was_result {
                    results.last_mut()
                } else {
                    rest.last_mut()
                };
                if let Some(block) = before {
                    block.cache_control = Some(EPHEMERAL);
                }
                continue;
            }
            // Unsigned reasoning, or reasoning another provider signed, is not sent back; see the module docs.
            _ => continue,
        };
        rest.push(block.into());
        last_was_result = false;
    }
    results.extend(rest);
    results
}

/// Whether `signature` is Anthropic's: its signatures are plain base64. Other providers' signatures are
/// not (Gemini's carry an anchor and `#`, the Responses API's are JSON) and Anthropic refuses them, so
/// their reasoning is not sent back, as unsigned reasoning is not.
fn own_signature(signature: &str) -> bool {
    !signature.is_empty()
        && signature
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
}

/// Whether a message can go as a plain string: text parts only.
fn text_only(parts: &[ContentPart]) -> bool {
    parts.iter().all(|p| matches!(p, ContentPart::Text { .. }))
}

/// Every problem with `request` for the Messages API: the [`PARAMS`](crate::PARAMS) table's, plus the
/// conversation's shape (a user turn first, text-only content) and `extra` keys that collide with
/// [`RESERVED_FIELDS`].
pub fn violations(request: &ChatRequest) -> Vec<Violation> {
    let mut out = crate::PARAMS.violations(request);
    if let Some(Reasoning::Effort(effort)) = request.reasoning {
        out.extend(effort.check(&[
            Effort::Low,
            Effort::Medium,
            Effort::High,
            Effort::XHigh,
            Effort::Max,
        ]));
    }
    let mut first_turn = None;
    let mut media = 0usize;
    for (i, message) in request.messages.iter().enumerate() {
        if message.role != Role::System && first_turn.is_none() {
            first_turn = Some(message.role);
        }
        let user = matches!(message.role, Role::User | Role::Tool);
        let allowed = |p: &ContentPart| match p {
            ContentPart::Text { .. } => message.role != Role::Tool,
            ContentPart::ToolCall(_) => message.role == Role::Assistant,
            ContentPart::ToolResult { .. } => user,
            ContentPart::Image { .. } | ContentPart::Document { .. } => message.role == Role::User,
            ContentPart::Reasoning { .. } | ContentPart::RedactedReasoning { .. } => {
                message.role == Role::Assistant
            }
            ContentPart::CacheBreakpoint => true,
            _ => false,
        };
        // Whether a part a cache breakpoint can mark came earlier in this message (kept as the loop goes:
        // looking back from every breakpoint made a message of breakpoints quadratic).
        let mut markable_before = false;
        for (j, part) in message.content.iter().enumerate() {
            let markable = !matches!(
                part,
                ContentPart::CacheBreakpoint
                    | ContentPart::Reasoning {
                        signature: None,
                        ..
                    }
            ) && !matches!(
                part,
                ContentPart::Reasoning { signature: Some(sig), .. } if !own_signature(sig)
            );
            let breakpoint_alone = matches!(part, ContentPart::CacheBreakpoint) && !markable_before;
            markable_before |= markable;
            let at = format!("messages[{i}].content[{j}]");
            if !allowed(part) {
                out.push(Violation::new(
                    at,
                    "user messages: text, images, PDF documents, tool results; assistant messages: \
                     text, tool use, reasoning",
                    format!(
                        "a {} part in a {} message",
                        part.kind(),
                        message.role.as_str()
                    ),
                ));
                continue;
            }
            media_violations(part, at, &mut media, &mut out);
            if breakpoint_alone {
                out.push(Violation::new(
                    at_owned(i, j),
                    "a cache breakpoint after a part it can mark",
                    "a breakpoint with nothing before it in its message",
                ));
            }
        }
    }
    if media > MAX_REQUEST_MEDIA {
        out.push(Violation::new(
            "messages",
            format!("at most {MAX_REQUEST_MEDIA} bytes of base64 images and documents (the API's request limit)"),
            format!("{media} bytes"),
        ));
    }
    format_and_reasoning_violations(request, &mut out);
    for (i, tool) in request.tools.iter().enumerate() {
        if tool.strict == Some(true) {
            out.push(Violation::new(
                format!("tools[{i}].strict"),
                "no strict flag (the Messages API takes none)",
                "true",
            ));
        }
    }
    if let Some(ToolChoice::Tool(name)) = &request.tool_choice
        && !request.tools.iter().any(|t| &t.name == name)
    {
        out.push(Violation::new(
            "tool_choice",
            "the name of a tool the request offers",
            format!("`{name}`"),
        ));
    }
    if (request.tool_choice.is_some() || request.parallel_tool_calls.is_some())
        && request.tools.is_empty()
    {
        out.push(Violation::new(
            "tool_choice",
            "tools to choose from",
            "no tools",
        ));
    }
    match first_turn {
        Some(Role::User | Role::Tool) => {}
        Some(role) => out.push(Violation::new(
            "messages",
            "a user message before the first assistant message",
            format!("a conversation starting with a {} message", role.as_str()),
        )),
        None if request.messages.is_empty() => {} // already reported by the table
        None => out.push(Violation::new(
            "messages",
            "at least one user message besides the system messages",
            "system messages only",
        )),
    }
    for key in request.extra.keys() {
        if RESERVED_FIELDS.contains(&key.as_str()) {
            out.push(Violation::new(
                format!("extra.{key}"),
                "a field llm-claude does not write itself",
                format!("`{key}`"),
            ));
        }
    }
    if let Some(relay) = Relay::for_wire(request.relay.as_ref(), crate::WIRE) {
        for key in relay.fields.keys() {
            if RESERVED_FIELDS.contains(&key.as_str()) || request.extra.contains_key(key) {
                out.push(Violation::new(
                    format!("relay.{key}"),
                    "a field neither llm-claude nor `extra` writes",
                    format!("`{key}`"),
                ));
            }
        }
        for (name, _) in &relay.headers {
            if !name.eq_ignore_ascii_case("anthropic-beta") {
                out.push(Violation::new(
                    format!("relay.headers.{name}"),
                    "only `anthropic-beta` (its flags join the configured ones)",
                    format!("`{name}`"),
                ));
            }
        }
    }
    out
}

/// The `anthropic-beta` flags to send: the configured ones, then those a [`Relay`] of this wire format
/// carries, each once.
pub fn beta_flags(configured: &[String], request: &ChatRequest) -> Vec<String> {
    let mut flags: Vec<String> = configured.to_vec();
    let relayed = Relay::for_wire(request.relay.as_ref(), crate::WIRE)
        .into_iter()
        .flat_map(|r| &r.headers)
        .filter(|(name, _)| name.eq_ignore_ascii_case("anthropic-beta"))
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .filter(|f| !f.is_empty());
    for flag in relayed {
        if !flags.iter().any(|f| f == flag) {
            flags.push(flag.to_owned());
        }
    }
    flags
}

fn at_owned(i: usize, j: usize) -> String {
    format!("messages[{i}].content[{j}]")
}

/// The checks of one image or document: its media type, its source, its size (added to `media`).
fn media_violations(part: &ContentPart, at: String, media: &mut usize, out: &mut Vec<Violation>) {
    let (source, image) = match part {
        ContentPart::Image { source } => (source, true),
        ContentPart::Document { source, .. } => (source, false),
        _ => return,
    };
    match source {
        Source::Base64 { media_type, data } => {
            *media += data.len();
            if image && !IMAGE_TYPES.contains(&media_type.as_str()) {
                out.push(Violation::new(
                    at,
                    "an image/jpeg, image/png, image/gif or image/webp image",
                    format!("`{media_type}`"),
                ));
            } else if image && data.len() > MAX_IMAGE_BASE64 {
                out.push(Violation::new(
                    at,
                    format!("an image of at most {MAX_IMAGE_BASE64} bytes of base64"),
                    format!("{} bytes", data.len()),
                ));
            } else if !image && media_type != "application/pdf" {
                out.push(Violation::new(
                    at,
                    "an application/pdf document",
                    format!("`{media_type}`"),
                ));
            }
        }
        Source::Url { url } if url.is_empty() => {
            out.push(Violation::new(at, "a URL", "an empty URL"));
        }
        Source::Url { .. } => {}
        _ => out.push(Violation::new(at, "bytes or a URL", "another source")),
    }
}

/// The checks of the response format and the reasoning setting.
fn format_and_reasoning_violations(request: &ChatRequest, out: &mut Vec<Violation>) {
    if let Some(ResponseFormat::JsonObject) = request.response_format {
        out.push(Violation::new(
            "response_format",
            "a JSON Schema (the Messages API has no schema-less JSON mode)",
            "json_object",
        ));
    }
    let Some(reasoning) = request.reasoning else {
        return;
    };
    if let Reasoning::Budget(budget) = reasoning {
        if budget < MIN_THINKING_BUDGET {
            out.push(Violation::new(
                "reasoning",
                format!("a thinking budget of at least {MIN_THINKING_BUDGET} tokens"),
                format!("{budget}"),
            ));
        }
        if let Some(max) = request.params.max_tokens
            && i64::from(budget) >= max
        {
            out.push(Violation::new(
                "reasoning",
                format!("a thinking budget below max_tokens ({max})"),
                format!("{budget}"),
            ));
        }
    }
    for (set, name) in [
        (request.params.temperature.is_some(), "temperature"),
        (request.params.top_k.is_some(), "top_k"),
    ] {
        if set {
            out.push(Violation::new(
                name,
                "not set while thinking is on (the Messages API refuses it)",
                "a value",
            ));
        }
    }
}

/// Checks `request` and writes its JSON body. `stream` adds `"stream": true`; `default_max_tokens` is used
/// when the request sets no `max_tokens`.
///
/// # Errors
/// A `validation` error listing every problem [`violations`] finds.
pub fn body(
    provider: &str,
    request: &ChatRequest,
    default_max_tokens: u32,
    stream: bool,
) -> Result<Vec<u8>, Error> {
    let violations = violations(request);
    if !violations.is_empty() {
        return Err(Error::validation(provider.to_owned(), violations));
    }
    let mut system: Option<Cow<'_, str>> = None;
    // With a cache breakpoint in any system message, `system` goes as blocks: one per system message.
    let system_blocks = request
        .messages
        .iter()
        .any(|m| m.role == Role::System && !text_only(&m.content));
    let mut system_list: Vec<Block<'_>> = Vec::new();
    let mut messages: Vec<WireMessage<'_>> = Vec::with_capacity(request.messages.len());
    for message in &request.messages {
        if message.role == Role::System {
            if system_blocks {
                let text = text_of(&message.content);
                if !text.is_empty() {
                    system_list.push(WireBlock::Text { text }.into());
                }
                if message
                    .content
                    .iter()
                    .any(|p| matches!(p, ContentPart::CacheBreakpoint))
                    && let Some(last) = system_list.last_mut()
                {
                    last.cache_control = Some(EPHEMERAL);
                }
            } else {
                system = Some(join(system, text_of(&message.content)));
            }
            continue;
        }
        let content = if text_only(&message.content) {
            WireContent::Text(text_of(&message.content))
        } else {
            WireContent::Blocks(blocks_of(&message.content))
        };
        // Tool results travel in user turns.
        let role = match message.role {
            Role::Tool => "user",
            other => other.as_str(),
        };
        match messages.last_mut() {
            Some(last) if last.role == role => {
                let before =
                    std::mem::replace(&mut last.content, WireContent::Text(Cow::Borrowed("")));
                last.content = match (before, content) {
                    (WireContent::Text(a), WireContent::Text(b)) => {
                        WireContent::Text(join(Some(a), b))
                    }
                    (a, b) => {
                        let mut blocks = a.into_blocks();
                        blocks.extend(b.into_blocks());
                        // Results first in a user turn, whichever message brought them.
                        blocks.sort_by_key(|b| !matches!(b.block, WireBlock::ToolResult { .. }));
                        WireContent::Blocks(blocks)
                    }
                };
            }
            _ => messages.push(WireMessage { role, content }),
        }
    }
    let tools = request
        .tools
        .iter()
        .map(|t| WireTool {
            name: &t.name,
            description: t.description.as_deref(),
            input_schema: &t.parameters,
            cache_control: t.cache_breakpoint.then_some(EPHEMERAL),
        })
        .collect();
    let no_parallel = request.parallel_tool_calls == Some(false);
    let tool_choice = match (&request.tool_choice, no_parallel) {
        (None, false) => None,
        (None | Some(ToolChoice::Auto), _) => Some(serde_json::json!({"type": "auto"})),
        (Some(ToolChoice::None), _) => Some(serde_json::json!({"type": "none"})),
        (Some(ToolChoice::Required), _) => Some(serde_json::json!({"type": "any"})),
        (Some(ToolChoice::Tool(name)), _) => {
            Some(serde_json::json!({"type": "tool", "name": name}))
        }
        (Some(_), _) => Some(serde_json::json!({"type": "auto"})),
    }
    .map(|mut choice| {
        if no_parallel && choice["type"] != "none" {
            choice["disable_parallel_tool_use"] = Value::Bool(true);
        }
        choice
    });
    let params = &request.params;
    let max_tokens = params
        .max_tokens
        .and_then(|m| u64::try_from(m).ok())
        .unwrap_or(u64::from(default_max_tokens));
    if let Some(Reasoning::Budget(budget)) = request.reasoning
        && u64::from(budget) >= max_tokens
    {
        return Err(Error::validation(
            provider.to_owned(),
            vec![Violation::new(
                "reasoning",
                format!("a thinking budget below max_tokens ({max_tokens}, the default here)"),
                format!("{budget}"),
            )],
        ));
    }
    let mut output_config = Map::new();
    if let Some(ResponseFormat::JsonSchema(schema)) = &request.response_format {
        output_config.insert(
            "format".into(),
            serde_json::json!({"type": "json_schema", "schema": schema.schema}),
        );
    }
    let thinking = match request.reasoning {
        Some(Reasoning::Budget(budget)) => {
            Some(serde_json::json!({"type": "enabled", "budget_tokens": budget}))
        }
        Some(Reasoning::Effort(effort)) => {
            output_config.insert("effort".into(), Value::from(effort.as_str()));
            Some(serde_json::json!({"type": "adaptive"}))
        }
        _ => None,
    };
    let system = if system_blocks {
        (!system_list.is_empty()).then_some(WireContent::Blocks(system_list))
    } else {
        system.map(WireContent::Text)
    };
    let body = Body {
        model: &request.model,
        system,
        messages,
        max_tokens,
        temperature: params.temperature,
        top_p: params.top_p,
        top_k: params.top_k,
        stop_sequences: &params.stop,
        tools,
        tool_choice,
        thinking,
        output_config,
        stream,
        extra: match Relay::for_wire(request.relay.as_ref(), crate::WIRE) {
            Some(relay) if !relay.fields.is_empty() => {
                let mut all = request.extra.clone();
                all.extend(relay.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
                Cow::Owned(all)
            }
            _ => Cow::Borrowed(&request.extra),
        },
    };
    serde_json::to_vec(&body).map_err(|e| {
        Error::new(
            llm_core::ErrorKind::BadRequest,
            "could not encode the request",
        )
        .with_provider(provider.to_owned())
        .with_source(e)
    })
}

/// The text of a message: its text parts joined without separator (borrowed when there is one part).
fn text_of(parts: &[ContentPart]) -> Cow<'_, str> {
    let mut texts = parts.iter().filter_map(|p| match p {
        ContentPart::Text { text } => Some(text.as_str()),
        _ => None,
    });
    match (texts.next(), texts.next()) {
        (None, _) => Cow::Borrowed(""),
        (Some(one), None) => Cow::Borrowed(one),
        (Some(a), Some(b)) => {
            let mut s = String::from(a);
            s.push_str(b);
            texts.for_each(|t| s.push_str(t));
            Cow::Owned(s)
        }
    }
}

fn join<'a>(before: Option<Cow<'a, str>>, next: Cow<'a, str>) -> Cow<'a, str> {
    match before {
        None => next,
        Some(before) => {
            let mut s = before.into_owned();
            s.push_str(JOIN);
            s.push_str(&next);
            Cow::Owned(s)
        }
    }
}

/// The headers every request carries: `x-api-key` (when a key is configured), `anthropic-version`,
/// `anthropic-beta` (when flags are configured), `content-type: application/json`, then the extra headers.
///
/// # Errors
/// A `validation` error when a configured header name or value is not valid HTTP, or an extra header would
/// replace one of the headers above.
pub fn headers(config: &ClaudeConfig) -> Result<HeaderMap, Error> {
    let mut violations = Vec::new();
    let mut map = HeaderMap::new();
    if let Some(key) = &config.http.api_key {
        let shown = "a key that is not a valid header value";
        insert(&mut map, "x-api-key", key.expose(), shown, &mut violations);
    }
    let version = config.api_version.as_str();
    insert(
        &mut map,
        "anthropic-version",
        version,
        version,
        &mut violations,
    );
    if !config.betas.is_empty() {
        let joined = config.betas.join(",");
        insert(
            &mut map,
            "anthropic-beta",
            &joined,
            &joined,
            &mut violations,
        );
    }
    let json = "application/json";
    insert(&mut map, "content-type", json, json, &mut violations);
    for (name, value) in &config.http.headers {
        if RESERVED_HEADERS
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name))
        {
            violations.push(Violation::new(
                format!("headers.{name}"),
                "a header llm-claude does not write itself (use the dedicated setting)",
                format!("`{name}`"),
            ));
        } else {
            insert(&mut map, name, value, value, &mut violations);
        }
    }
    if violations.is_empty() {
        Ok(map)
    } else {
        Err(Error::validation(config.http.name.clone(), violations))
    }
}

fn insert(
    map: &mut HeaderMap,
    name: &str,
    value: &str,
    shown: &str,
    violations: &mut Vec<Violation>,
) {
    match (
        HeaderName::from_bytes(name.as_bytes()),
        HeaderValue::from_str(value),
    ) {
        (Ok(n), Ok(mut v)) => {
            if n == "x-api-key" {
                v.set_sensitive(true);
            }
            map.append(n, v);
        }
        _ => violations.push(Violation::new(
            format!("headers.{name}"),
            "a valid http header name and value",
            shown.to_owned(),
        )),
    }
}

#[cfg(test)]
#[path = "request_tests.rs"]
mod tests;
