//! Tool calling: the tools a request offers ([`Tool`]), how the model may use them ([`ToolChoice`]), the
//! calls it makes ([`ToolCall`]) and what a tool answered ([`ToolOutput`]).
//!
//! Calls and results are message content ([`ContentPart::ToolCall`](crate::ContentPart::ToolCall),
//! [`ContentPart::ToolResult`](crate::ContentPart::ToolResult)), so a conversation carries them in order and
//! any provider can be given a history another provider started.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A tool the model may call: a name, what it does, and its parameters as a JSON Schema object.
///
/// ```
/// use llm_core::Tool;
/// use serde_json::json;
/// let weather = Tool::new(
///     "get_weather",
///     "The current weather in a city",
///     json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}),
/// );
/// assert_eq!(weather.name, "get_weather");
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tool {
    /// The name the model calls it by.
    pub name: String,
    /// What it does, for the model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Its parameters: a JSON Schema object.
    pub parameters: Value,
    /// Whether the provider must hold the arguments to the schema exactly, where it can (OpenAI `strict`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
    /// Caches the tool list up to and including this tool, where a provider takes explicit breakpoints
    /// (Claude's `cache_control`); see [`ContentPart::CacheBreakpoint`](crate::ContentPart::CacheBreakpoint).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cache_breakpoint: bool,
}

impl Tool {
    /// A tool named `name` that does `description`, taking `parameters` (a JSON Schema object).
    pub fn new(name: impl Into<String>, description: impl Into<String>, parameters: Value) -> Self {
        Tool {
            name: name.into(),
            description: Some(description.into()),
            parameters,
            strict: None,
            cache_breakpoint: false,
        }
    }

    /// Marks the tool list up to this tool as a prefix to cache.
    #[must_use]
    pub fn cache_breakpoint(mut self) -> Self {
        self.cache_breakpoint = true;
        self
    }

    /// Asks the provider to hold the arguments to the schema exactly.
    #[must_use]
    pub fn strict(mut self, strict: bool) -> Self {
        self.strict = Some(strict);
        self
    }
}

/// Whether and which tool the model must call.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolChoice {
    /// The model decides (the providers' default when tools are given).
    Auto,
    /// The model must not call a tool.
    None,
    /// The model must call at least one tool.
    Required,
    /// The model must call this tool.
    Tool(String),
}

impl ToolChoice {
    /// `auto`, `none`, `required`, or any other text as the name of the one tool to call.
    pub fn parse(text: &str) -> ToolChoice {
        match text {
            "auto" => ToolChoice::Auto,
            "none" => ToolChoice::None,
            "required" => ToolChoice::Required,
            name => ToolChoice::Tool(name.to_owned()),
        }
    }
}

/// One call the model made: its id (a provider that gives calls none gets a stable one from llmux), the
/// tool's name and the arguments as JSON.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The call's id, which the tool's result refers to.
    pub id: String,
    /// The tool called.
    pub name: String,
    /// The arguments: a JSON value (an object for every provider today; `{}` when the model sent none).
    pub arguments: Value,
}

impl ToolCall {
    /// A call `id` of `name` with `arguments`.
    pub fn new(id: impl Into<String>, name: impl Into<String>, arguments: Value) -> Self {
        ToolCall {
            id: id.into(),
            name: name.into(),
            arguments,
        }
    }

    /// A stable id for the `n`th call of an answer (counting from 0), named `name` with `arguments`, for
    /// providers that give calls no id (Ollama, Gemini): `{prefix}{n}_{hash}`, where `hash` is the 32-bit
    /// FNV-1a of `name`, a zero byte, and the compact JSON of `arguments` (as [`Value`]'s `Display` writes
    /// it), as 8 lowercase hex digits.
    ///
    /// The id must be a function of the answer alone: a whole answer and the same answer streamed get the
    /// same ids, and so does a replay, so a history that carries the calls and their results still matches
    /// each result to its call. The position keeps two identical calls in one answer apart; the hash keeps
    /// calls of different turns apart. FNV-1a needs no dependency and never changes between Rust versions
    /// (unlike `std`'s `DefaultHasher`). The `prefix` marks whose ids they are (a provider may recognise and
    /// drop its own made-up ids before sending a history back).
    ///
    /// ```
    /// use llm_core::ToolCall;
    /// use serde_json::json;
    /// let id = ToolCall::stable_id("call_", 0, "get_weather", &json!({"city": "Paris"}));
    /// assert_eq!(id, "call_0_784715fa");
    /// ```
    pub fn stable_id(prefix: &str, n: usize, name: &str, arguments: &Value) -> String {
        let mut hash: u32 = 0x811c_9dc5;
        for byte in name
            .bytes()
            .chain([0])
            .chain(arguments.to_string().into_bytes())
        {
            hash ^= u32::from(byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        format!("{prefix}{n}_{hash:08x}")
    }
}

/// What a tool answered.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ToolOutput {
    /// Text.
    Text(String),
    /// A JSON value (sent as its JSON text to providers that take text only).
    Json(Value),
}

impl ToolOutput {
    /// The output as text: the text itself, or the JSON value's compact JSON.
    pub fn to_text(&self) -> String {
        match self {
            ToolOutput::Text(text) => text.clone(),
            ToolOutput::Json(value) => value.to_string(),
        }
    }
}

/// The tool names of the calls a conversation made, by call id, for providers that key a tool's result by
/// the tool's name while the history may carry only the call id (a result from another provider's
/// history). Filled as the messages are walked ([`CallNames::add`]), or from a whole conversation
/// ([`CallNames::of`]); the latest call of an id wins. One map, never a search of the history per result,
/// which made a history of many calls quadratic.
#[derive(Debug, Default)]
pub struct CallNames<'a>(std::collections::HashMap<&'a str, &'a str>);

impl<'a> CallNames<'a> {
    /// The calls of every message of `messages`.
    pub fn of(messages: &'a [crate::Message]) -> Self {
        let mut names = CallNames::default();
        for message in messages {
            names.add(message);
        }
        names
    }

    /// Adds the calls `message` makes.
    pub fn add(&mut self, message: &'a crate::Message) {
        for part in &message.content {
            if let crate::ContentPart::ToolCall(call) = part {
                self.0.insert(call.id.as_str(), call.name.as_str());
            }
        }
    }

    /// The tool name of the call `call_id`.
    pub fn name(&self, call_id: &str) -> Option<&'a str> {
        self.0.get(call_id).copied()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn choices_parse_and_outputs_become_text() {
        assert_eq!(ToolChoice::parse("auto"), ToolChoice::Auto);
        assert_eq!(ToolChoice::parse("none"), ToolChoice::None);
        assert_eq!(ToolChoice::parse("required"), ToolChoice::Required);
        assert_eq!(
            ToolChoice::parse("get_weather"),
            ToolChoice::Tool("get_weather".into())
        );
        assert_eq!(ToolOutput::Text("18 C".into()).to_text(), "18 C");
        assert_eq!(
            ToolOutput::Json(json!({"temp": 18})).to_text(),
            r#"{"temp":18}"#
        );
    }

    #[test]
    fn stable_ids_depend_on_prefix_position_name_and_arguments() {
        let paris = json!({"city": "Paris"});
        let id = ToolCall::stable_id("call_", 0, "get_weather", &paris);
        // Pinned: ids already in stored histories must keep matching.
        assert_eq!(id, "call_0_784715fa");
        assert_eq!(id, ToolCall::stable_id("call_", 0, "get_weather", &paris));
        assert_eq!(
            ToolCall::stable_id("gcall_", 0, "get_weather", &paris),
            "gcall_0_784715fa"
        );
        assert_eq!(
            ToolCall::stable_id("call_", 3, "get_weather", &json!({})),
            "call_3_a6e9ee48"
        );
        for other in [
            ToolCall::stable_id("call_", 1, "get_weather", &paris),
            ToolCall::stable_id("call_", 0, "get_time", &paris),
            ToolCall::stable_id("call_", 0, "get_weather", &json!({"city": "Rome"})),
        ] {
            assert_ne!(id, other);
        }
    }
}
