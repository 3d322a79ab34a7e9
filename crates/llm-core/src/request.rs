//! What the caller asks for: a model, ordered messages, typed parameters and explicit provider-specific extras.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::format::{Reasoning, ResponseFormat};
use crate::media::Source;
use crate::tool::{Tool, ToolCall, ToolChoice, ToolOutput};

/// Who wrote a message.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Instructions for the model.
    System,
    /// The person (or program) talking to the model.
    User,
    /// The model's earlier turns.
    Assistant,
    /// The answers of tools the model called ([`ContentPart::ToolResult`] parts).
    Tool,
}

impl Role {
    /// The lowercase name used on the wire by most providers.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// One piece of a message's content: text, an image or a document, a tool call the model made (in an
/// assistant message), what a tool answered (in a [`Role::Tool`] message), the model's own reasoning (kept
/// so it can go back unchanged), or a cache breakpoint. A provider meets a part it cannot send with a
/// `validation` error, never by dropping it, with two documented exceptions that carry no user content:
/// reasoning parts go back only to a provider that takes them (another provider's reasoning is its own
/// scratch, and Claude rejects thinking it did not sign), and a cache breakpoint is a hint that providers
/// which cache prefixes on their own (OpenAI, llama.cpp, Ollama) have no field for.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ContentPart {
    /// Plain text.
    Text {
        /// The text.
        text: String,
    },
    /// A call the model made, as it made it (assistant messages).
    ToolCall(ToolCall),
    /// What a tool answered to the call `call_id` (tool messages).
    ToolResult {
        /// The id of the call this answers.
        call_id: String,
        /// The tool's name, for providers that key results by name (Ollama); empty when unknown.
        #[serde(default, skip_serializing_if = "String::is_empty")]
        name: String,
        /// The answer.
        content: ToolOutput,
        /// Whether the tool failed (the content then says how).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        is_error: bool,
    },
    /// An image (user messages).
    Image {
        /// Its bytes or URL.
        source: Source,
    },
    /// A document, e.g. a PDF (user messages).
    Document {
        /// Its bytes or URL.
        source: Source,
        /// A file name, for providers that show or want one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    /// The model's reasoning, as it gave it (assistant messages). Claude signs its thinking: the
    /// signature must go back unchanged with the text.
    Reasoning {
        /// The reasoning text.
        text: String,
        /// The provider's signature of it (Claude's `signature`), when it gave one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        signature: Option<String>,
    },
    /// Reasoning the provider gave only encrypted (Claude's `redacted_thinking`), to send back unchanged.
    RedactedReasoning {
        /// The opaque data.
        data: String,
    },
    /// Marks everything before it (in this message and earlier) as a prefix to cache, where a provider takes
    /// explicit breakpoints (Claude's `cache_control` on the part before it).
    CacheBreakpoint,
}

impl ContentPart {
    /// A text part.
    pub fn text(text: impl Into<String>) -> Self {
        ContentPart::Text { text: text.into() }
    }

    /// An image from its bytes (base64-encoded here) and media type, e.g. `image/png`.
    pub fn image_bytes(media_type: impl Into<String>, bytes: &[u8]) -> Self {
        ContentPart::Image {
            source: Source::bytes(media_type, bytes),
        }
    }

    /// An image the provider fetches from `url`.
    pub fn image_url(url: impl Into<String>) -> Self {
        ContentPart::Image {
            source: Source::url(url),
        }
    }

    /// A PDF document from its bytes.
    pub fn pdf(bytes: &[u8], name: Option<String>) -> Self {
        ContentPart::Document {
            source: Source::bytes("application/pdf", bytes),
            name,
        }
    }

    /// The part's type as llmux names it in messages (`text`, `image`, `tool_call`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            ContentPart::Text { .. } => "text",
            ContentPart::ToolCall(_) => "tool_call",
            ContentPart::ToolResult { .. } => "tool_result",
            ContentPart::Image { .. } => "image",
            ContentPart::Document { .. } => "document",
            ContentPart::Reasoning { .. } => "reasoning",
            ContentPart::RedactedReasoning { .. } => "redacted_reasoning",
            ContentPart::CacheBreakpoint => "cache_breakpoint",
        }
    }
}

/// One message of the conversation.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Who wrote it.
    pub role: Role,
    /// What it says, in order.
    pub content: Vec<ContentPart>,
}

impl Message {
    /// A message of `role` holding one text part.
    pub fn new(role: Role, text: impl Into<String>) -> Self {
        Message {
            role,
            content: vec![ContentPart::Text { text: text.into() }],
        }
    }

    /// A system message.
    pub fn system(text: impl Into<String>) -> Self {
        Message::new(Role::System, text)
    }

    /// A user message.
    pub fn user(text: impl Into<String>) -> Self {
        Message::new(Role::User, text)
    }

    /// An assistant message.
    pub fn assistant(text: impl Into<String>) -> Self {
        Message::new(Role::Assistant, text)
    }

    /// An assistant message that made `calls` (after `text`, which may be empty).
    pub fn tool_calls(text: impl Into<String>, calls: impl IntoIterator<Item = ToolCall>) -> Self {
        let text = text.into();
        let mut content = Vec::new();
        if !text.is_empty() {
            content.push(ContentPart::Text { text });
        }
        content.extend(calls.into_iter().map(ContentPart::ToolCall));
        Message {
            role: Role::Assistant,
            content,
        }
    }

    /// A tool message answering the call `call_id` of tool `name` with `output`.
    pub fn tool_result(
        call_id: impl Into<String>,
        name: impl Into<String>,
        output: ToolOutput,
    ) -> Self {
        Message {
            role: Role::Tool,
            content: vec![ContentPart::ToolResult {
                call_id: call_id.into(),
                name: name.into(),
                content: output,
                is_error: false,
            }],
        }
    }

    /// The message's text when every part is text (parts joined without separator); `None` when a part is
    /// something a text-only provider cannot send.
    pub fn text(&self) -> Option<String> {
        let mut out = String::new();
        for part in &self.content {
            match part {
                ContentPart::Text { text } => out.push_str(text),
                _ => return None,
            }
        }
        Some(out)
    }

    /// The text parts joined (other parts skipped), and the tool calls, in order.
    pub fn text_and_calls(&self) -> (String, Vec<&ToolCall>) {
        let mut text = String::new();
        let mut calls = Vec::new();
        for part in &self.content {
            match part {
                ContentPart::Text { text: t } => text.push_str(t),
                ContentPart::ToolCall(call) => calls.push(call),
                _ => {}
            }
        }
        (text, calls)
    }
}

/// The typed sampling parameters. `None` (or an empty `stop`) means "not set: the provider's default".
///
/// Which of these a provider supports, and in which range, is its [`ParamTable`](crate::ParamTable).
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Params {
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Top-k sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_k: Option<i64>,
    /// The most tokens to generate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<i64>,
    /// Sequences that end generation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    /// Seed for reproducible sampling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<i64>,
    /// Frequency penalty (OpenAI style, -2..=2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_penalty: Option<f64>,
    /// Presence penalty (OpenAI style, -2..=2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub presence_penalty: Option<f64>,
    /// Repetition penalty (llama.cpp / Ollama style, 1.0 = off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeat_penalty: Option<f64>,
}

impl Params {
    /// Layers `overrides` on top of `self`: every parameter set in `overrides` wins.
    #[must_use]
    pub fn merged_with(&self, overrides: &Params) -> Params {
        Params {
            temperature: overrides.temperature.or(self.temperature),
            top_p: overrides.top_p.or(self.top_p),
            top_k: overrides.top_k.or(self.top_k),
            max_tokens: overrides.max_tokens.or(self.max_tokens),
            stop: if overrides.stop.is_empty() {
                self.stop.clone()
            } else {
                overrides.stop.clone()
            },
            seed: overrides.seed.or(self.seed),
            frequency_penalty: overrides.frequency_penalty.or(self.frequency_penalty),
            presence_penalty: overrides.presence_penalty.or(self.presence_penalty),
            repeat_penalty: overrides.repeat_penalty.or(self.repeat_penalty),
        }
    }
}

/// A chat request: which model, the conversation, parameters, and provider-specific extra fields.
///
/// ```
/// use llm_core::{ChatRequest, Message};
/// let req = ChatRequest::new("gpt-4o-mini")
///     .message(Message::system("Be brief."))
///     .message(Message::user("Hello"))
///     .temperature(0.2)
///     .max_tokens(64);
/// assert_eq!(req.messages.len(), 2);
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    /// The model name, exactly as the provider knows it.
    pub model: String,
    /// The conversation, oldest first.
    pub messages: Vec<Message>,
    /// Typed sampling parameters.
    #[serde(default)]
    pub params: Params,
    /// The tools the model may call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Tool>,
    /// Whether and which tool the model must call (`None`: the provider's default, `auto` with tools).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Whether the model may make several calls in one turn (`None`: the provider's default, yes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// The shape the answer must take (`None`: free text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    /// How much the model reasons first (`None`: the provider's default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    /// Provider-specific fields sent as given, merged into the provider's request body at the top level
    /// (e.g. OpenRouter's `transforms`). A key that collides with a field the provider crate writes itself is a
    /// validation error, never a silent overwrite.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub extra: Map<String, Value>,
    /// What a gateway relays from its client's own request to a provider speaking the client's wire
    /// format, and to no other (see [`Relay`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relay: Option<Relay>,
}

/// Fields and headers of a client's request, in the wire format `wire`, that a gateway could not put in
/// the vocabulary (beta fields, beta flags) and that only a provider speaking that same wire format can
/// take: its codec (the one whose [`Provider::relay_wire`](crate::Provider::relay_wire) is `wire`) sends
/// them as given, every other provider leaves them out. The gateway, which knows from the answer which
/// entry served it, tells its client when they were left out. A field colliding with one the codec writes
/// itself is a `validation` error, as for [`ChatRequest::extra`].
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Relay {
    /// The wire format the fields and headers are written in, as the codec speaking it names it.
    pub wire: String,
    /// Top-level body fields.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub fields: Map<String, Value>,
    /// Headers, by lowercase name (a codec merges a list-valued header, such as beta flags, with its own).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// Tool definitions in the wire's own form that only its servers run (hosted tools such as web
    /// search), appended to the tools the codec writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<Value>,
}

impl Relay {
    /// Nothing yet, for `wire`.
    pub fn new(wire: impl Into<String>) -> Relay {
        Relay {
            wire: wire.into(),
            ..Relay::default()
        }
    }

    /// Whether there is nothing to relay.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.headers.is_empty() && self.tools.is_empty()
    }

    /// The fields and headers for a codec speaking `wire` (`None` for any other).
    pub fn for_wire<'a>(relay: Option<&'a Relay>, wire: &str) -> Option<&'a Relay> {
        relay.filter(|r| r.wire == wire)
    }
}

impl ChatRequest {
    /// An estimate of the request's prompt tokens, for budgets and for pricing what a provider consumed
    /// without reporting it: text (messages, tool calls and results, reasoning, tool definitions) at
    /// [`BYTES_PER_TOKEN`](crate::BYTES_PER_TOKEN) bytes a token, [`TOKENS_PER_ATTACHMENT`](crate::TOKENS_PER_ATTACHMENT)
    /// per image or document, and four tokens of framing per message. Never a reported count.
    pub fn estimated_input_tokens(&self) -> u64 {
        let mut bytes = 0usize;
        let mut tokens = 0u64;
        for message in &self.messages {
            tokens += 4;
            for part in &message.content {
                match part {
                    ContentPart::Text { text } | ContentPart::Reasoning { text, .. } => {
                        bytes += text.len();
                    }
                    ContentPart::ToolCall(call) => {
                        bytes += call.name.len() + json_len(&call.arguments);
                    }
                    ContentPart::ToolResult { content, .. } => {
                        bytes += match content {
                            ToolOutput::Text(text) => text.len(),
                            ToolOutput::Json(value) => json_len(value),
                        };
                    }
                    ContentPart::Image { .. } | ContentPart::Document { .. } => {
                        tokens += crate::cost::TOKENS_PER_ATTACHMENT;
                    }
                    ContentPart::RedactedReasoning { data } => bytes += data.len(),
                    ContentPart::CacheBreakpoint => {}
                }
            }
        }
        for tool in &self.tools {
            bytes += tool.name.len()
                + tool.description.as_ref().map_or(0, String::len)
                + json_len(&tool.parameters);
        }
        tokens + crate::cost::tokens_of_text(bytes)
    }

    /// A request for `model` with no messages yet.
    pub fn new(model: impl Into<String>) -> Self {
        ChatRequest {
            model: model.into(),
            ..ChatRequest::default()
        }
    }

    /// A request with no model, for a fallback chain: each chain entry sends it with its own model.
    ///
    /// ```
    /// use llm_core::ChatRequest;
    /// let req = ChatRequest::for_chain().user("Why is the sky blue?");
    /// assert!(req.model.is_empty());
    /// ```
    pub fn for_chain() -> Self {
        ChatRequest::default()
    }

    /// Appends a message.
    #[must_use]
    pub fn message(mut self, message: Message) -> Self {
        self.messages.push(message);
        self
    }

    /// Appends a system message.
    #[must_use]
    pub fn system(self, text: impl Into<String>) -> Self {
        self.message(Message::system(text))
    }

    /// Appends a user message.
    #[must_use]
    pub fn user(self, text: impl Into<String>) -> Self {
        self.message(Message::user(text))
    }

    /// Appends an assistant message.
    #[must_use]
    pub fn assistant(self, text: impl Into<String>) -> Self {
        self.message(Message::assistant(text))
    }

    /// Replaces all parameters.
    #[must_use]
    pub fn params(mut self, params: Params) -> Self {
        self.params = params;
        self
    }

    /// Sets the temperature.
    #[must_use]
    pub fn temperature(mut self, value: f64) -> Self {
        self.params.temperature = Some(value);
        self
    }

    /// Sets top_p.
    #[must_use]
    pub fn top_p(mut self, value: f64) -> Self {
        self.params.top_p = Some(value);
        self
    }

    /// Sets top_k.
    #[must_use]
    pub fn top_k(mut self, value: i64) -> Self {
        self.params.top_k = Some(value);
        self
    }

    /// Sets the most tokens to generate.
    #[must_use]
    pub fn max_tokens(mut self, value: i64) -> Self {
        self.params.max_tokens = Some(value);
        self
    }

    /// Adds a stop sequence.
    #[must_use]
    pub fn stop(mut self, sequence: impl Into<String>) -> Self {
        self.params.stop.push(sequence.into());
        self
    }

    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, value: i64) -> Self {
        self.params.seed = Some(value);
        self
    }

    /// Sets the frequency penalty.
    #[must_use]
    pub fn frequency_penalty(mut self, value: f64) -> Self {
        self.params.frequency_penalty = Some(value);
        self
    }

    /// Sets the presence penalty.
    #[must_use]
    pub fn presence_penalty(mut self, value: f64) -> Self {
        self.params.presence_penalty = Some(value);
        self
    }

    /// Sets the repetition penalty.
    #[must_use]
    pub fn repeat_penalty(mut self, value: f64) -> Self {
        self.params.repeat_penalty = Some(value);
        self
    }

    /// Offers a tool.
    #[must_use]
    pub fn tool(mut self, tool: Tool) -> Self {
        self.tools.push(tool);
        self
    }

    /// Sets whether and which tool the model must call.
    #[must_use]
    pub fn tool_choice(mut self, choice: ToolChoice) -> Self {
        self.tool_choice = Some(choice);
        self
    }

    /// Allows or forbids several calls in one turn.
    #[must_use]
    pub fn parallel_tool_calls(mut self, on: bool) -> Self {
        self.parallel_tool_calls = Some(on);
        self
    }

    /// Sets the shape the answer must take.
    #[must_use]
    pub fn response_format(mut self, format: impl Into<ResponseFormat>) -> Self {
        self.response_format = Some(format.into());
        self
    }

    /// Sets how much the model reasons first.
    #[must_use]
    pub fn reasoning(mut self, reasoning: Reasoning) -> Self {
        self.reasoning = Some(reasoning);
        self
    }

    /// Adds a provider-specific field.
    #[must_use]
    pub fn extra(mut self, key: impl Into<String>, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }
}

/// The length of `value`'s compact JSON text.
fn json_len(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}
