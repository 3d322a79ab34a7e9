//! Pure request encoding: a [`ChatRequest`] to a Responses API JSON body, and the checks that must pass
//! before one is sent.
//!
//! The mapping:
//! - system messages (text only) are joined, in order, into `instructions`;
//! - a user turn is a `message` item whose content is `input_text`, `input_image` (a URL or a data URL;
//!   `detail: "auto"`) and `input_file` (a PDF as `file_data`, or a `file_url`) parts; its tool results come
//!   first, each a `function_call_output` item (`call_id`, `output` as text);
//! - an assistant turn is, in order: its reasoning items (this API's own, see the module docs of
//!   [`responses`](crate::responses)), a `message` item with its text, and a `function_call` item per tool
//!   call (`call_id`, `name`, `arguments` as JSON text). Reasoning that is not this API's (another
//!   provider's, or unsigned), an item that has no encrypted content while storage is off (the server
//!   could not find it), and an item in a turn with neither text nor calls (the API refuses a reasoning
//!   item without the output that follows it) is not sent; cache breakpoints have no field
//!   (OpenAI caches prefixes by itself). Both carry no caller content;
//! - tools are flat `{"type":"function","name","description","parameters","strict"}`; `tool_choice` is
//!   `auto`/`none`/`required` or `{"type":"function","name"}`;
//! - structured output is `text.format` (`json_schema` with `name`, `schema`, `strict`; `json_object`);
//! - reasoning is `reasoning: {"effort", "summary": "auto"}`; a token budget is a `validation` error;
//! - `store` is the configuration's (false by default). A stateless request asks for
//!   `include: ["reasoning.encrypted_content"]` when it sets a reasoning effort or its history holds an
//!   encrypted reasoning item (so it talks to a reasoning model: OpenAI refuses the `include` for others,
//!   "Encrypted content is not supported with this model"), or always or never as
//!   [`ResponsesEncoder::encrypted_reasoning`] says;
//! - `max_output_tokens`, `temperature`, `top_p`; the parameter table rejects the rest;
//! - [`ChatRequest::extra`] keys are merged at the top level (`previous_response_id` among them, which
//!   must be a string); a key this encoder writes is a `validation` error.

use std::borrow::Cow;

use llm_core::{
    ChatRequest, ContentPart, Error, ErrorKind, Message, ParamTable, Reasoning, Relay,
    ResponseFormat, Role, Source, ToolChoice, Violation,
};
use serde_json::{Map, Value, json};

use crate::config::Features;
use crate::request::{common_violations, extra_collision};
use crate::responses::response::ReasoningSignature;

/// Every top-level body field this encoder writes itself. A [`ChatRequest::extra`] key among these is a
/// `validation` error: typed settings go through their types, never around them.
pub const WRITTEN_FIELDS: [&str; 15] = [
    "model",
    "input",
    "instructions",
    "stream",
    "store",
    "include",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "text",
    "reasoning",
    "max_output_tokens",
    "temperature",
    "top_p",
    "top_logprobs",
];

/// The extra that continues a stored response.
const PREVIOUS_RESPONSE_ID: &str = "previous_response_id";

/// Turns requests into Responses API bodies for one server: its parameter table, what it takes beyond
/// text, whether responses are stored, and the configuration's body extras.
#[derive(Debug, Clone)]
pub struct ResponsesEncoder {
    provider: Cow<'static, str>,
    table: ParamTable,
    features: Features,
    store: bool,
    encrypted_reasoning: Option<bool>,
    extras: Map<String, Value>,
}

impl ResponsesEncoder {
    /// An encoder for `provider` with parameter table `table`, taking what `features` allows, storing
    /// responses when `store`.
    pub fn new(
        provider: impl Into<Cow<'static, str>>,
        table: ParamTable,
        features: Features,
        store: bool,
    ) -> Self {
        ResponsesEncoder {
            provider: provider.into(),
            table,
            features,
            store,
            encrypted_reasoning: None,
            extras: Map::new(),
        }
    }

    /// Whether a stateless request asks for encrypted reasoning: `Some(true)` always, `Some(false)` never,
    /// `None` (the default) when the request sets a reasoning effort or sends back an encrypted reasoning
    /// item (non-reasoning models refuse the `include`).
    #[must_use]
    pub fn encrypted_reasoning(mut self, on: Option<bool>) -> Self {
        self.encrypted_reasoning = on;
        self
    }

    /// Whether the body for `request` asks for `include: ["reasoning.encrypted_content"]`.
    pub fn asks_for_encrypted_reasoning(&self, request: &ChatRequest) -> bool {
        if self.store {
            return false;
        }
        self.encrypted_reasoning.unwrap_or_else(|| {
            request.reasoning.is_some()
                || request.messages.iter().any(|m| {
                    m.role == Role::Assistant
                        && m.content.iter().any(|p| match p {
                            ContentPart::Reasoning {
                                signature: Some(s), ..
                            } => ReasoningSignature::parse(s)
                                .is_some_and(|sig| sig.encrypted_content.is_some()),
                            _ => false,
                        })
                })
        })
    }

    /// Sets fields merged into every body at the top level (a configuration's extras).
    #[must_use]
    pub fn with_extras(mut self, extras: Map<String, Value>) -> Self {
        self.extras = extras;
        self
    }

    /// Whether responses are stored (`store`).
    pub fn stores(&self) -> bool {
        self.store
    }

    /// Every reason `request` cannot be sent: the parameter table's violations, content this API cannot
    /// carry, a reasoning budget, a format the server does not take, and `extra` keys that collide with a
    /// written field.
    pub fn violations(&self, request: &ChatRequest) -> Vec<Violation> {
        let mut out = self.table.violations(request);
        if let Some(Reasoning::Effort(effort)) = request.reasoning {
            out.extend(effort.check(crate::EFFORTS));
        }
        let f = self.features;
        let (mut image_bytes, mut file_bytes) = (0usize, 0usize);
        for (i, message) in request.messages.iter().enumerate() {
            for (j, part) in message.content.iter().enumerate() {
                let role = message.role;
                let allowed = match part {
                    ContentPart::Text { .. } => role != Role::Tool,
                    ContentPart::ToolCall(_) => role == Role::Assistant,
                    ContentPart::ToolResult { .. } => matches!(role, Role::User | Role::Tool),
                    ContentPart::Image { source } => {
                        image_bytes += source.decoded_len().unwrap_or(0);
                        role == Role::User && f.images
                    }
                    ContentPart::Document { source, .. } => {
                        if f.documents
                            && role == Role::User
                            && matches!(source, Source::Base64 { .. })
                            && !source.is_pdf()
                        {
                            out.push(Violation::new(
                                format!("messages[{i}].content[{j}]"),
                                "a PDF (as bytes or a URL)",
                                "another document",
                            ));
                        }
                        file_bytes += source.decoded_len().unwrap_or(0);
                        role == Role::User && f.documents
                    }
                    ContentPart::Reasoning { .. } | ContentPart::RedactedReasoning { .. } => {
                        role == Role::Assistant
                    }
                    ContentPart::CacheBreakpoint => true,
                    _ => false,
                };
                if !allowed {
                    out.push(Violation::new(
                        format!("messages[{i}].content[{j}]"),
                        "system messages: text; user messages: text, images, PDF documents, tool \
                         results; assistant messages: text, tool calls, reasoning; tool messages: \
                         tool results",
                        format!("a {} part in a {} message", part.kind(), role.as_str()),
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
        if let Some(relay) = Relay::for_wire(request.relay.as_ref(), super::RESPONSES_WIRE) {
            for key in relay.fields.keys() {
                if WRITTEN_FIELDS.contains(&key.as_str()) || request.extra.contains_key(key) {
                    out.push(Violation::new(
                        format!("relay.{key}"),
                        "a field neither this encoder nor `extra` writes",
                        format!("`{key}`"),
                    ));
                }
            }
            for (name, _) in &relay.headers {
                out.push(Violation::new(
                    format!("relay.headers.{name}"),
                    "no header (the Responses API takes none from a relay)",
                    format!("`{name}`"),
                ));
            }
        }
        for (key, value) in &request.extra {
            if let Some(v) = extra_collision(
                key,
                &WRITTEN_FIELDS,
                "setting",
                &self.extras,
                &self.provider,
            ) {
                out.push(v);
            } else if key == PREVIOUS_RESPONSE_ID && !value.is_string() {
                out.push(Violation::new(
                    key.clone(),
                    "the id of a stored response, as a string",
                    value.to_string(),
                ));
            }
        }
        out
    }

    /// `Ok` when [`ResponsesEncoder::violations`] finds nothing, else one `validation` error listing them
    /// all.
    pub fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        let violations = self.violations(request);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(self.provider.clone(), violations))
        }
    }

    /// The JSON body for `request` (`stream` asks for a streamed answer). Call
    /// [`ResponsesEncoder::validate`] first: this does not check ranges.
    pub fn encode(&self, request: &ChatRequest, stream: bool) -> Result<Vec<u8>, Error> {
        serde_json::to_vec(&self.body(request, stream)).map_err(|e| {
            Error::new(ErrorKind::Validation, "request cannot be encoded as json")
                .with_provider(self.provider.clone())
                .with_source(e)
        })
    }

    /// The body for `request` as a JSON value.
    pub fn body(&self, request: &ChatRequest, stream: bool) -> Value {
        let mut body = Map::new();
        body.insert("model".into(), json!(request.model));
        let mut instructions: Vec<&str> = Vec::new();
        let mut input = Vec::new();
        for message in &request.messages {
            if message.role == Role::System {
                instructions.extend(message.content.iter().filter_map(|p| match p {
                    ContentPart::Text { text } => Some(text.as_str()),
                    _ => None,
                }));
                continue;
            }
            self.items(message, &mut input);
        }
        if !instructions.is_empty() {
            body.insert("instructions".into(), json!(instructions.join("\n\n")));
        }
        body.insert("input".into(), Value::Array(input));
        let p = &request.params;
        if let Some(n) = p.max_tokens {
            body.insert("max_output_tokens".into(), json!(n));
        }
        if let Some(t) = p.temperature {
            body.insert("temperature".into(), json!(t));
        }
        if let Some(t) = p.top_p {
            body.insert("top_p".into(), json!(t));
        }
        if !request.tools.is_empty() {
            let tools: Vec<Value> = request
                .tools
                .iter()
                .map(|t| {
                    let mut tool = json!({"type": "function", "name": t.name});
                    if let Some(d) = &t.description {
                        tool["description"] = json!(d);
                    }
                    tool["parameters"] = t.parameters.clone();
                    if let Some(strict) = t.strict {
                        tool["strict"] = json!(strict);
                    }
                    tool
                })
                .collect();
            body.insert("tools".into(), Value::Array(tools));
        }
        let relay = Relay::for_wire(request.relay.as_ref(), super::RESPONSES_WIRE);
        if let Some(relay) = relay.filter(|r| !r.tools.is_empty()) {
            let tools = body.entry("tools").or_insert_with(|| json!([]));
            if let Value::Array(tools) = tools {
                tools.extend(relay.tools.iter().cloned());
            }
        }
        if let Some(choice) = &request.tool_choice {
            let choice = match choice {
                ToolChoice::None => json!("none"),
                ToolChoice::Required => json!("required"),
                ToolChoice::Tool(name) => json!({"type": "function", "name": name}),
                _ => json!("auto"),
            };
            body.insert("tool_choice".into(), choice);
        }
        if let Some(parallel) = request.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), json!(parallel));
        }
        let format = match &request.response_format {
            Some(ResponseFormat::JsonObject) => Some(json!({"type": "json_object"})),
            Some(ResponseFormat::JsonSchema(s)) => {
                let mut format = json!({"type": "json_schema", "name": s.name, "schema": s.schema});
                if let Some(strict) = s.strict {
                    format["strict"] = json!(strict);
                }
                Some(format)
            }
            _ => None,
        };
        if let Some(format) = format {
            body.insert("text".into(), json!({ "format": format }));
        }
        if let Some(Reasoning::Effort(effort)) = request.reasoning {
            body.insert(
                "reasoning".into(),
                json!({"effort": effort.as_str(), "summary": "auto"}),
            );
        }
        body.insert("store".into(), json!(self.store));
        if self.asks_for_encrypted_reasoning(request) {
            body.insert("include".into(), json!(["reasoning.encrypted_content"]));
        }
        body.insert("stream".into(), json!(stream));
        for (k, v) in self.extras.iter().chain(request.extra.iter()) {
            body.insert(k.clone(), v.clone());
        }
        for (k, v) in relay.iter().flat_map(|r| &r.fields) {
            body.insert(k.clone(), v.clone());
        }
        Value::Object(body)
    }

    /// The input items of one (non-system) message, appended to `out`.
    fn items(&self, message: &Message, out: &mut Vec<Value>) {
        // Tool results first: they answer the calls of the turn before.
        for part in &message.content {
            if let ContentPart::ToolResult {
                call_id, content, ..
            } = part
            {
                out.push(json!({
                    "type": "function_call_output",
                    "call_id": call_id,
                    "output": content.to_text(),
                }));
            }
        }
        match message.role {
            Role::Assistant => self.assistant_items(message, out),
            Role::User => {
                let mut parts = Vec::new();
                for part in &message.content {
                    match part {
                        ContentPart::Text { text } => {
                            parts.push(json!({"type": "input_text", "text": text}));
                        }
                        ContentPart::Image { source } => {
                            let url = match source {
                                Source::Url { url } => url.clone(),
                                other => other.data_url().unwrap_or_default(),
                            };
                            parts.push(
                                json!({"type": "input_image", "image_url": url, "detail": "auto"}),
                            );
                        }
                        ContentPart::Document { source, name } => {
                            let mut file = json!({"type": "input_file"});
                            match source {
                                Source::Url { url } => file["file_url"] = json!(url),
                                other => {
                                    file["filename"] =
                                        json!(name.as_deref().unwrap_or("document.pdf"));
                                    file["file_data"] = json!(other.data_url().unwrap_or_default());
                                }
                            }
                            parts.push(file);
                        }
                        _ => {}
                    }
                }
                let only_results = !message.content.is_empty()
                    && message.content.iter().all(|p| {
                        matches!(
                            p,
                            ContentPart::ToolResult { .. } | ContentPart::CacheBreakpoint
                        )
                    });
                if !only_results {
                    out.push(json!({"type": "message", "role": "user", "content": parts}));
                }
            }
            _ => {}
        }
    }

    /// An assistant turn: reasoning items, then its text as a message, then its calls. A reasoning item
    /// must be followed by the output it led to (the API refuses it alone), so a turn with neither text nor
    /// calls sends none.
    fn assistant_items(&self, message: &Message, out: &mut Vec<Value>) {
        let followed = message.content.iter().any(|p| match p {
            ContentPart::Text { text } => !text.is_empty(),
            ContentPart::ToolCall(_) => true,
            _ => false,
        });
        let mut text = String::new();
        for part in &message.content {
            match part {
                ContentPart::Reasoning {
                    text: summary,
                    signature: Some(signature),
                } if followed => {
                    let Some(sig) = ReasoningSignature::parse(signature) else {
                        continue;
                    };
                    if sig.encrypted_content.is_none() && !self.store {
                        continue;
                    }
                    let summary: Vec<Value> = if summary.is_empty() {
                        Vec::new()
                    } else {
                        vec![json!({"type": "summary_text", "text": summary})]
                    };
                    let mut item = json!({"type": "reasoning", "id": sig.id, "summary": summary});
                    if let Some(enc) = sig.encrypted_content {
                        item["encrypted_content"] = json!(enc);
                    }
                    out.push(item);
                }
                ContentPart::Text { text: t } => text.push_str(t),
                _ => {}
            }
        }
        if !text.is_empty() {
            out.push(json!({"type": "message", "role": "assistant", "content": text}));
        }
        for part in &message.content {
            if let ContentPart::ToolCall(call) = part {
                out.push(json!({
                    "type": "function_call",
                    "call_id": call.id,
                    "name": call.name,
                    "arguments": call.arguments.to_string(),
                }));
            }
        }
    }
}
