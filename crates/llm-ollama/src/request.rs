//! Pure: a [`ChatRequest`] to the JSON body of `POST /api/chat`.
//!
//! Typed parameters go into `options` (`max_tokens` as `num_predict`); the request's `extra` fields are
//! merged at the top level, except an `extra["options"]` object, whose keys are merged into `options` (that
//! is how `num_ctx`, `mirostat` and Ollama's other runner options are set). A key that collides with a field
//! this crate writes is a `validation` error, never a silent overwrite.
//!
//! Images go in a message's `images` (base64 only: Ollama fetches no URLs); a JSON Schema format is `format`
//! (the schema object), JSON mode `format: "json"`; a reasoning effort is `think` (`"low"`, `"medium"`,
//! `"high"`); reasoning parts of an assistant turn go back as its `thinking`. Documents, image URLs and
//! thinking budgets have no Ollama field: `validation` errors.

use std::borrow::Cow;

use llm_core::{
    CallNames, ChatRequest, ContentPart, Effort, Error, ErrorKind, Reasoning, ResponseFormat, Role,
    Source, ToolChoice, Violation,
};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::{KeepAlive, OllamaConfig};

/// Top-level fields this crate writes itself.
const OWN_FIELDS: [&str; 7] = [
    "model",
    "messages",
    "stream",
    "keep_alive",
    "tools",
    "format",
    "think",
];

#[derive(Serialize)]
struct Body<'a> {
    model: &'a str,
    messages: Vec<WireMessage<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tools: Vec<WireTool<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    format: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    think: Option<&'static str>,
    stream: bool,
    #[serde(skip_serializing_if = "Options::is_empty")]
    options: Options<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    keep_alive: Option<KeepAlive>,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

#[derive(Serialize)]
struct WireMessage<'a> {
    role: &'static str,
    content: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thinking: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    images: Vec<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tool_calls: Vec<WireCall<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tool_name: Option<&'a str>,
}

#[derive(Serialize)]
struct WireCall<'a> {
    function: WireCallFunction<'a>,
}

#[derive(Serialize)]
struct WireCallFunction<'a> {
    name: &'a str,
    /// An object, as Ollama takes and gives arguments.
    arguments: &'a Value,
}

#[derive(Serialize)]
struct WireTool<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    function: WireToolFunction<'a>,
}

#[derive(Serialize)]
struct WireToolFunction<'a> {
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    parameters: &'a Value,
}

#[derive(Serialize, Default)]
struct Options<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    num_predict: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repeat_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "no_stop")]
    stop: &'a [String],
    #[serde(flatten)]
    extra: Map<String, Value>,
}

fn no_stop(stop: &&[String]) -> bool {
    stop.is_empty()
}

impl Options<'_> {
    fn is_empty(&self) -> bool {
        self.temperature.is_none()
            && self.top_p.is_none()
            && self.top_k.is_none()
            && self.num_predict.is_none()
            && self.repeat_penalty.is_none()
            && self.seed.is_none()
            && self.stop.is_empty()
            && self.extra.is_empty()
    }

    /// The option keys this crate sets for this request.
    fn set_keys(&self) -> Vec<&'static str> {
        [
            ("temperature", self.temperature.is_some()),
            ("top_p", self.top_p.is_some()),
            ("top_k", self.top_k.is_some()),
            ("num_predict", self.num_predict.is_some()),
            ("repeat_penalty", self.repeat_penalty.is_some()),
            ("seed", self.seed.is_some()),
            ("stop", !self.stop.is_empty()),
        ]
        .into_iter()
        .filter_map(|(k, set)| set.then_some(k))
        .collect()
    }
}

/// What Ollama's tool calling cannot express: a tool choice other than `auto`, the parallel-calls
/// setting, a strict flag. Rejected, never dropped.
fn tool_violations(request: &ChatRequest) -> Vec<Violation> {
    let mut out = Vec::new();
    match &request.tool_choice {
        None | Some(ToolChoice::Auto) => {}
        Some(_) => out.push(Violation::new(
            "tool_choice",
            "auto (ollama takes no tool choice)",
            "another choice",
        )),
    }
    if request.parallel_tool_calls.is_some() {
        out.push(Violation::new(
            "parallel_tool_calls",
            "not set (ollama has no such setting)",
            "a setting",
        ));
    }
    for (i, tool) in request.tools.iter().enumerate() {
        if tool.strict == Some(true) {
            out.push(Violation::new(
                format!("tools[{i}].strict"),
                "no strict flag",
                "true",
            ));
        }
    }
    out
}

/// The JSON body of `POST /api/chat` for `request`, streamed or not.
///
/// Does not check parameter ranges (that is [`PARAMS`](crate::PARAMS), run by the
/// client first); it does reject what it cannot express: a content part that is not text, and `extra` keys
/// that collide with the fields it writes.
pub fn chat_body(
    config: &OllamaConfig,
    request: &ChatRequest,
    stream: bool,
) -> Result<Vec<u8>, Error> {
    let mut violations = tool_violations(request);
    let mut messages = Vec::with_capacity(request.messages.len());
    // Ollama keys a tool's answer by the tool's name: a result from another provider's history that
    // carries only the call id gets the name of the call it answers.
    let names = CallNames::of(&request.messages);
    let name_of = |call_id: &str| names.name(call_id);
    for (i, message) in request.messages.iter().enumerate() {
        let mut text: Option<&str> = None;
        let mut texts = 0;
        let mut calls = Vec::new();
        let mut images = Vec::new();
        let mut thinking: Option<Cow<'_, str>> = None;
        let mut bad = None;
        for part in &message.content {
            match part {
                ContentPart::Image {
                    source: Source::Base64 { data, .. },
                } if message.role == Role::User => images.push(data.as_str()),
                ContentPart::Reasoning { text: t, .. } if message.role == Role::Assistant => {
                    match &mut thinking {
                        None => thinking = Some(Cow::Borrowed(t)),
                        Some(joined) => joined.to_mut().push_str(t),
                    }
                }
                // Claude's encrypted reasoning has no meaning here, and Ollama caches prefixes itself.
                ContentPart::RedactedReasoning { .. } if message.role == Role::Assistant => {}
                ContentPart::CacheBreakpoint => {}
                ContentPart::Text { text: t } if message.role != Role::Tool => {
                    texts += 1;
                    text = Some(t);
                }
                ContentPart::ToolCall(call) if message.role == Role::Assistant => {
                    calls.push(WireCall {
                        function: WireCallFunction {
                            name: &call.name,
                            arguments: &call.arguments,
                        },
                    });
                }
                ContentPart::ToolResult {
                    call_id,
                    name,
                    content,
                    ..
                } if matches!(message.role, Role::User | Role::Tool) => {
                    let tool_name = if name.is_empty() {
                        name_of(call_id)
                    } else {
                        Some(name.as_str())
                    };
                    messages.push(WireMessage {
                        role: "tool",
                        content: Cow::Owned(content.to_text()),
                        thinking: None,
                        images: Vec::new(),
                        tool_calls: Vec::new(),
                        tool_name,
                    });
                }
                other => {
                    bad = Some(format!(
                        "a {} part ollama cannot take in a {} message{}",
                        other.kind(),
                        message.role.as_str(),
                        if matches!(other, ContentPart::Image { .. }) {
                            " (images must be bytes: ollama fetches no URLs)"
                        } else {
                            ""
                        }
                    ))
                }
            }
        }
        if texts > 1 {
            bad = Some(format!("{} parts", message.content.len()));
        }
        if let Some(given) = bad {
            violations.push(Violation::new(
                format!("messages[{i}].content"),
                "one text part (ollama takes one string per message), images as bytes (user), \
                 tool calls and reasoning (assistant), tool results",
                given,
            ));
            continue;
        }
        if message.role == Role::Tool {
            continue;
        }
        if text.is_some()
            || !calls.is_empty()
            || !images.is_empty()
            || thinking.is_some()
            || message.content.is_empty()
        {
            messages.push(WireMessage {
                role: message.role.as_str(),
                content: Cow::Borrowed(text.unwrap_or_default()),
                thinking,
                images,
                tool_calls: calls,
                tool_name: None,
            });
        }
    }
    let tools = request
        .tools
        .iter()
        .map(|t| WireTool {
            kind: "function",
            function: WireToolFunction {
                name: &t.name,
                description: t.description.as_deref(),
                parameters: &t.parameters,
            },
        })
        .collect();
    let p = &request.params;
    let mut options = Options {
        temperature: p.temperature,
        top_p: p.top_p,
        top_k: p.top_k,
        num_predict: p.max_tokens,
        repeat_penalty: p.repeat_penalty,
        seed: p.seed,
        stop: &p.stop,
        extra: Map::new(),
    };
    let mut extra = request.extra.clone();
    match extra.remove("options") {
        None => {}
        Some(Value::Object(more)) => {
            let taken = options.set_keys();
            for (key, value) in more {
                if taken.contains(&key.as_str()) {
                    violations.push(Violation::new(
                        format!("extra.options.{key}"),
                        "a key not set from the typed parameters",
                        format!("`{key}`, already set from the request's parameters"),
                    ));
                } else {
                    options.extra.insert(key, value);
                }
            }
        }
        Some(other) => violations.push(Violation::new(
            "extra.options",
            "a JSON object of ollama runner options",
            other.to_string(),
        )),
    }
    for key in OWN_FIELDS {
        if extra.contains_key(key) {
            violations.push(Violation::new(
                format!("extra.{key}"),
                "a field llm-ollama does not write itself",
                format!("`{key}`"),
            ));
        }
    }
    let format = match &request.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(ResponseFormat::JsonObject) => Some(Value::from("json")),
        Some(ResponseFormat::JsonSchema(schema)) => Some(schema.schema.clone()),
        Some(_) => None,
    };
    let think = match request.reasoning {
        None => None,
        Some(Reasoning::Effort(effort)) => {
            violations.extend(effort.check(&[Effort::Low, Effort::Medium, Effort::High]));
            Some(effort.as_str())
        }
        Some(_) => {
            violations.push(Violation::new(
                "reasoning",
                "an effort (ollama's `think` takes no token budget)",
                "a budget",
            ));
            None
        }
    };
    if !violations.is_empty() {
        return Err(Error::validation(config.http.name.clone(), violations));
    }
    let body = Body {
        model: &request.model,
        messages,
        tools,
        format,
        think,
        stream,
        options,
        keep_alive: config.keep_alive,
        extra,
    };
    serde_json::to_vec(&body).map_err(|e| {
        Error::new(ErrorKind::Validation, "request body cannot be encoded")
            .with_provider(config.http.name.clone())
            .with_source(e)
    })
}
