//! Pure request encoding: a [`ChatRequest`] to a Chat Completions JSON body, and the checks that must pass
//! before one is sent (parameter table, message content, `extra` keys that collide with written fields).

use std::borrow::Cow;

use llm_core::{
    ChatRequest, ContentPart, Error, ErrorKind, Message, ParamTable, Reasoning, ResponseFormat,
    Role, Source, ToolChoice, Violation,
};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::config::{Features, TokenLimit, WireConfig};

/// OpenAI's documented limit on the inline images of one request: 50 MB of payload in all (counted here
/// as decoded bytes, so a request this passes may still be refused by the encoded size; never the reverse).
pub const MAX_IMAGE_BYTES: usize = 50 << 20;
/// OpenAI's documented limit on the PDF files of one request: 32 MB in all.
pub const MAX_FILE_BYTES: usize = 32 << 20;

/// Every top-level body field this crate writes itself. A [`ChatRequest::extra`] key among these is a
/// `validation` error: typed parameters go through the parameter table, never around it.
pub const WRITTEN_FIELDS: [&str; 19] = [
    "response_format",
    "reasoning_effort",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "model",
    "messages",
    "stream",
    "stream_options",
    "temperature",
    "top_p",
    "top_k",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "repeat_penalty",
];

/// Turns requests into bodies for one server: the token limit field, whether to ask for stream usage, the
/// configuration's body extras, and the parameter table checked by [`Encoder::validate`].
#[derive(Debug, Clone)]
pub struct Encoder {
    provider: Cow<'static, str>,
    table: ParamTable,
    token_limit: TokenLimit,
    stream_usage: bool,
    features: Features,
    extras: Map<String, Value>,
}

impl Encoder {
    /// An encoder for the server `config` describes.
    pub fn new(config: &dyn WireConfig) -> Self {
        Encoder {
            provider: config.http().name.clone(),
            table: config.param_table(),
            token_limit: config.token_limit(),
            stream_usage: config.stream_usage(),
            features: config.features(),
            extras: config.body_extras(),
        }
    }

    /// The fields the configuration merges into every body.
    pub fn extras(&self) -> &Map<String, Value> {
        &self.extras
    }

    /// Every reason `request` cannot be sent: the parameter table's violations, message content this wire
    /// format cannot carry, and `extra` keys colliding with a field the encoder writes or the configuration's extras.
    pub fn violations(&self, request: &ChatRequest) -> Vec<Violation> {
        let mut out = self.table.violations(request);
        if let Some(Reasoning::Effort(effort)) = request.reasoning {
            out.extend(effort.check(crate::EFFORTS));
        }
        let f = self.features;
        let (mut image_bytes, mut file_bytes) = (0usize, 0usize);
        for (i, message) in request.messages.iter().enumerate() {
            for (j, part) in message.content.iter().enumerate() {
                let user = message.role == Role::User;
                let allowed = match part {
                    ContentPart::Text { .. } => message.role != Role::Tool,
                    ContentPart::ToolCall(_) => message.role == Role::Assistant,
                    ContentPart::ToolResult { .. } => message.role != Role::Assistant,
                    ContentPart::Image { source } => {
                        image_bytes += source.decoded_len().unwrap_or(0);
                        user && f.images
                    }
                    ContentPart::Document { source, .. } => {
                        if f.documents
                            && user
                            && !matches!(source, Source::Base64 { .. } if source.is_pdf())
                        {
                            out.push(Violation::new(
                                format!("messages[{i}].content[{j}]"),
                                "a PDF given as bytes (this API takes no document URLs)",
                                "another document",
                            ));
                        }
                        file_bytes += source.decoded_len().unwrap_or(0);
                        user && f.documents
                    }
                    // Other providers' reasoning, and breakpoints for prefix caching OpenAI does by itself,
                    // have no field here (see `ContentPart`).
                    ContentPart::Reasoning { .. }
                    | ContentPart::RedactedReasoning { .. }
                    | ContentPart::CacheBreakpoint => message.role != Role::Tool,
                    _ => false,
                };
                if !allowed {
                    out.push(Violation::new(
                        format!("messages[{i}].content[{j}]"),
                        self.part_rule(),
                        format!(
                            "a {} part in a {} message",
                            part.kind(),
                            message.role.as_str()
                        ),
                    ));
                }
            }
        }
        common_violations(
            request,
            f,
            &self.provider,
            image_bytes,
            file_bytes,
            &mut out,
        );
        out.extend(request.extra.keys().filter_map(|key| {
            extra_collision(
                key,
                &WRITTEN_FIELDS,
                "parameter",
                &self.extras,
                &self.provider,
            )
        }));
        out
    }

    /// What content parts this server takes, for violation messages.
    fn part_rule(&self) -> String {
        let mut user = vec!["text", "tool results"];
        if self.features.images {
            user.push("images");
        }
        if self.features.documents {
            user.push("PDF documents");
        }
        format!(
            "user messages: {}; assistant messages: text and tool calls; tool messages: tool results",
            user.join(", ")
        )
    }

    /// `Ok` when [`Encoder::violations`] finds nothing, else one `validation` error listing them all.
    pub fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        let violations = self.violations(request);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(self.provider.clone(), violations))
        }
    }

    /// The JSON body for `request` (`stream` selects streaming, which also asks for usage when configured).
    /// Call [`Encoder::validate`] first: this does not check ranges.
    pub fn encode(&self, request: &ChatRequest, stream: bool) -> Result<Vec<u8>, Error> {
        let p = &request.params;
        let (max_tokens, max_completion_tokens) = match self.token_limit {
            TokenLimit::MaxCompletionTokens => (None, p.max_tokens),
            TokenLimit::MaxTokens => (p.max_tokens, None),
        };
        let mut messages = Vec::with_capacity(request.messages.len());
        for m in &request.messages {
            wire_messages(m, &mut messages);
        }
        let tools: Vec<WireTool<'_>> = request
            .tools
            .iter()
            .map(|t| WireTool {
                kind: "function",
                function: WireFunction {
                    name: &t.name,
                    description: t.description.as_deref(),
                    parameters: &t.parameters,
                    strict: t.strict,
                },
            })
            .collect();
        let tool_choice = request.tool_choice.as_ref().map(|c| match c {
            ToolChoice::Auto => serde_json::json!("auto"),
            ToolChoice::None => serde_json::json!("none"),
            ToolChoice::Required => serde_json::json!("required"),
            ToolChoice::Tool(name) => {
                serde_json::json!({"type": "function", "function": {"name": name}})
            }
            _ => serde_json::json!("auto"),
        });
        let response_format = request.response_format.as_ref().and_then(|f| match f {
            ResponseFormat::Text => None,
            ResponseFormat::JsonObject => Some(serde_json::json!({"type": "json_object"})),
            ResponseFormat::JsonSchema(s) => {
                let mut schema = serde_json::json!({"name": s.name, "schema": s.schema});
                if let Some(strict) = s.strict {
                    schema["strict"] = Value::Bool(strict);
                }
                Some(serde_json::json!({"type": "json_schema", "json_schema": schema}))
            }
            _ => None,
        });
        let reasoning_effort = match request.reasoning {
            Some(Reasoning::Effort(e)) => Some(e.as_str()),
            _ => None,
        };
        let body = Body {
            model: &request.model,
            messages,
            temperature: p.temperature,
            top_p: p.top_p,
            top_k: p.top_k,
            max_tokens,
            max_completion_tokens,
            stop: &p.stop,
            seed: p.seed,
            frequency_penalty: p.frequency_penalty,
            presence_penalty: p.presence_penalty,
            repeat_penalty: p.repeat_penalty,
            tools,
            tool_choice,
            parallel_tool_calls: request.parallel_tool_calls,
            response_format,
            reasoning_effort,
            stream,
            stream_options: (stream && self.stream_usage).then_some(StreamOptions {
                include_usage: true,
            }),
            extras: Extras([&self.extras, &request.extra]),
        };
        serde_json::to_vec(&body).map_err(|e| {
            Error::new(ErrorKind::Validation, "request cannot be encoded as json")
                .with_provider(self.provider.clone())
                .with_source(e)
        })
    }
}

/// The wire messages for `message` (validated first): its tool results each as a `role: tool` message (in
/// order, before the rest, as a user turn carrying results from another provider's history puts them),
/// then the message itself with its text and, for the assistant, its tool calls.
fn wire_messages<'a>(message: &'a Message, out: &mut Vec<WireMessage<'a>>) {
    if let [ContentPart::Text { text }] = message.content.as_slice() {
        out.push(WireMessage::text(
            message.role.as_str(),
            Cow::Borrowed(text),
        ));
        return;
    }
    if message
        .content
        .iter()
        .any(|p| matches!(p, ContentPart::Image { .. } | ContentPart::Document { .. }))
    {
        // A user turn with media: a list of parts, in order (results first, as for any user turn).
        let mut parts = Vec::new();
        for part in &message.content {
            match part {
                ContentPart::Text { text } => {
                    parts.push(serde_json::json!({"type": "text", "text": text}));
                }
                ContentPart::Image { source } => {
                    let url = match source {
                        Source::Url { url } => url.clone(),
                        other => other.data_url().unwrap_or_default(),
                    };
                    parts.push(serde_json::json!({"type": "image_url", "image_url": {"url": url}}));
                }
                ContentPart::Document { source, name } => {
                    parts.push(serde_json::json!({"type": "file", "file": {
                        "filename": name.as_deref().unwrap_or("document.pdf"),
                        "file_data": source.data_url().unwrap_or_default(),
                    }}));
                }
                ContentPart::ToolResult {
                    call_id, content, ..
                } => out.push(WireMessage {
                    role: "tool",
                    content: Some(WireContent::Text(Cow::Owned(content.to_text()))),
                    tool_calls: Vec::new(),
                    tool_call_id: Some(call_id),
                }),
                _ => {}
            }
        }
        out.push(WireMessage {
            role: message.role.as_str(),
            content: Some(WireContent::Parts(parts)),
            tool_calls: Vec::new(),
            tool_call_id: None,
        });
        return;
    }
    let mut text: Option<Cow<'a, str>> = None;
    let mut calls = Vec::new();
    for part in &message.content {
        match part {
            ContentPart::Text { text: t } => match &mut text {
                None => text = Some(Cow::Borrowed(t)),
                Some(joined) => joined.to_mut().push_str(t),
            },
            ContentPart::ToolCall(call) => calls.push(WireCall {
                id: &call.id,
                kind: "function",
                function: WireCallFunction {
                    name: &call.name,
                    arguments: call.arguments.to_string(),
                },
            }),
            ContentPart::ToolResult {
                call_id, content, ..
            } => out.push(WireMessage {
                role: "tool",
                content: Some(WireContent::Text(Cow::Owned(content.to_text()))),
                tool_calls: Vec::new(),
                tool_call_id: Some(call_id),
            }),
            _ => {}
        }
    }
    let only_hints = !message.content.is_empty()
        && message.content.iter().all(|p| {
            matches!(
                p,
                ContentPart::Reasoning { .. }
                    | ContentPart::RedactedReasoning { .. }
                    | ContentPart::CacheBreakpoint
            )
        });
    if (text.is_some() || !calls.is_empty() || message.content.is_empty()) || only_hints {
        out.push(WireMessage {
            role: message.role.as_str(),
            content: match (&text, calls.is_empty()) {
                (None, false) => None,
                _ => Some(WireContent::Text(text.unwrap_or_default())),
            },
            tool_calls: calls,
            tool_call_id: None,
        });
    }
}

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_completion_tokens: Option<i64>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repeat_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_choice: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parallel_tool_calls: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    response_format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reasoning_effort: Option<&'static str>,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_options: Option<StreamOptions>,
    #[serde(flatten)]
    extras: Extras<'a>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    /// `null` for an assistant turn that only calls tools.
    content: Option<WireContent<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

/// A message's content: a string, or a list of typed parts (user turns with images or files).
#[derive(Serialize)]
#[serde(untagged)]
enum WireContent<'a> {
    Text(Cow<'a, str>),
    Parts(Vec<Value>),
}

impl<'a> WireMessage<'a> {
    fn text(role: &'static str, content: Cow<'a, str>) -> Self {
        WireMessage {
            role,
            content: Some(WireContent::Text(content)),
            tool_calls: Vec::new(),
            tool_call_id: None,
        }
    }
}

#[derive(Serialize)]
struct WireCall<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireCallFunction<'a>,
}

#[derive(Serialize)]
struct WireCallFunction<'a> {
    name: &'a str,
    /// The arguments as JSON text, as the API takes them.
    arguments: String,
}

#[derive(Serialize)]
struct WireTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireFunction<'a>,
}

#[derive(Serialize)]
struct WireFunction<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    parameters: &'a Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    strict: Option<bool>,
}

#[derive(Serialize)]
struct StreamOptions {
    include_usage: bool,
}

/// The configuration's extras, then the request's, as top-level fields (validation keeps them disjoint).
struct Extras<'a>([&'a Map<String, Value>; 2]);

impl Serialize for Extras<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in self.0.iter().flat_map(|m| m.iter()) {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// The violation of a [`ChatRequest::extra`] `key` that would replace a field the encoder writes
/// (`written`; the caller's `typed` setting is the way to it) or one of the configuration's `extras`, in
/// both OpenAI wire formats.
pub(crate) fn extra_collision(
    key: &str,
    written: &[&str],
    typed: &str,
    extras: &Map<String, Value>,
    provider: &str,
) -> Option<Violation> {
    if written.contains(&key) {
        Some(Violation::new(
            key,
            format!("a field llmux does not write itself (use the typed {typed})"),
            "an extra field",
        ))
    } else if extras.contains_key(key) {
        Some(Violation::new(
            key,
            format!("a field the {provider} configuration does not set"),
            "an extra field",
        ))
    } else {
        None
    }
}

/// What both OpenAI wire formats (Chat Completions and Responses) refuse alike: inline media over the
/// documented totals, a format or reasoning setting the server's [`Features`] lack (and a token budget,
/// which neither API takes), and a tool choice without its tool.
pub(crate) fn common_violations(
    request: &ChatRequest,
    f: Features,
    provider: &str,
    image_bytes: usize,
    file_bytes: usize,
    out: &mut Vec<Violation>,
) {
    if image_bytes > MAX_IMAGE_BYTES {
        out.push(Violation::new(
            "messages",
            format!("at most {MAX_IMAGE_BYTES} bytes of inline images"),
            format!("{image_bytes} bytes"),
        ));
    }
    if file_bytes > MAX_FILE_BYTES {
        out.push(Violation::new(
            "messages",
            format!("at most {MAX_FILE_BYTES} bytes of PDF files"),
            format!("{file_bytes} bytes"),
        ));
    }
    match &request.response_format {
        Some(ResponseFormat::JsonSchema(_)) if !f.json_schema => out.push(Violation::new(
            "response_format",
            format!("no JSON Schema ({} cannot enforce one)", provider),
            "a JSON Schema",
        )),
        Some(ResponseFormat::JsonObject) if !f.json_object => out.push(Violation::new(
            "response_format",
            format!("no JSON mode ({} has none)", provider),
            "json_object",
        )),
        _ => {}
    }
    match request.reasoning {
        Some(Reasoning::Budget(n)) => out.push(Violation::new(
            "reasoning",
            "an effort (low, medium, high): this API takes no thinking budget",
            format!("a budget of {n} tokens"),
        )),
        Some(_) if !f.reasoning_effort => out.push(Violation::new(
            "reasoning",
            format!("no reasoning setting ({} takes none)", provider),
            "an effort",
        )),
        _ => {}
    }
    if let Some(ToolChoice::Tool(name)) = &request.tool_choice {
        if !f.named_tool_choice {
            out.push(Violation::new(
                "tool_choice",
                format!(
                    "auto, none or required ({provider} cannot be made to call one named tool)"
                ),
                format!("`{name}`"),
            ));
        } else if !request.tools.iter().any(|t| &t.name == name) {
            out.push(Violation::new(
                "tool_choice",
                "the name of a tool the request offers",
                format!("`{name}`"),
            ));
        }
    }
    if request.tool_choice.is_some() && request.tools.is_empty() {
        out.push(Violation::new(
            "tool_choice",
            "tools to choose from",
            "no tools",
        ));
    }
}
