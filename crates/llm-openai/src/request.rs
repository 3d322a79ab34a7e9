//! Pure request encoding: a [`ChatRequest`] to a Chat Completions JSON body, and the checks that must pass
//! before one is sent (parameter table, message content, `extra` keys that collide with written fields).

use std::borrow::Cow;

use llm_core::{
    ChatRequest, ContentPart, Error, ErrorKind, Message, ParamTable, Role, ToolChoice, Violation,
};
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::config::{TokenLimit, WireConfig};

/// Every top-level body field this crate writes itself. A [`ChatRequest::extra`] key among these is a
/// `validation` error: typed parameters go through the parameter table, never around it.
pub(crate) const WRITTEN_FIELDS: [&str; 17] = [
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
        for (i, message) in request.messages.iter().enumerate() {
            for part in &message.content {
                let allowed = match part {
                    ContentPart::Text { .. } => message.role != Role::Tool,
                    ContentPart::ToolCall(_) => message.role == Role::Assistant,
                    ContentPart::ToolResult { .. } => message.role != Role::Assistant,
                    _ => false,
                };
                if !allowed {
                    out.push(Violation::new(
                        format!("messages[{i}].content"),
                        "text, tool calls (assistant messages) and tool results (tool or user messages)",
                        format!("a part this provider cannot send in a {} message", message.role.as_str()),
                    ));
                    break;
                }
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
        if request.tool_choice.is_some() && request.tools.is_empty() {
            out.push(Violation::new(
                "tool_choice",
                "tools to choose from",
                "no tools",
            ));
        }
        for key in request.extra.keys() {
            if WRITTEN_FIELDS.contains(&key.as_str()) {
                out.push(Violation::new(
                    key.clone(),
                    "a field llmux does not write itself (use the typed parameter)",
                    "an extra field",
                ));
            } else if self.extras.contains_key(key) {
                out.push(Violation::new(
                    key.clone(),
                    format!("a field the {} configuration does not set", self.provider),
                    "an extra field",
                ));
            }
        }
        out
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
                content: Some(Cow::Owned(content.to_text())),
                tool_calls: Vec::new(),
                tool_call_id: Some(call_id),
            }),
            _ => {}
        }
    }
    if text.is_some() || !calls.is_empty() || message.content.is_empty() {
        out.push(WireMessage {
            role: message.role.as_str(),
            content: match (&text, calls.is_empty()) {
                (None, false) => None,
                _ => Some(text.unwrap_or_default()),
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
    content: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_call_id: Option<&'a str>,
}

impl<'a> WireMessage<'a> {
    fn text(role: &'static str, content: Cow<'a, str>) -> Self {
        WireMessage {
            role,
            content: Some(content),
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
