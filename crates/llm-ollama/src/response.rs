//! Pure: the JSON objects Ollama sends (a whole `/api/chat` answer, or one NDJSON line of a stream) to
//! [`ChatResponse`].
//!
//! Both shapes are the same object: `model`, `message: {role, content, thinking?}`, `done`, and on the final
//! one `done_reason`, `prompt_eval_count` (input tokens; omitted by some versions when the prompt was cached),
//! `eval_count` (output tokens) and durations in nanoseconds.

use std::borrow::Cow;

use llm_core::{ChatResponse, Error, ErrorKind, FinishReason, ToolCall, Usage};
use llm_http::JsonStr;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{error_from_field, finish_reason};

/// One object of `/api/chat`, borrowing its strings from the line when they hold no escapes.
#[derive(Debug, Deserialize)]
pub(crate) struct WireChunk<'a> {
    #[serde(borrow, default)]
    pub(crate) model: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    pub(crate) message: Option<WireMessage<'a>>,
    #[serde(default)]
    pub(crate) done: bool,
    #[serde(borrow, default)]
    pub(crate) done_reason: Option<JsonStr<'a>>,
    #[serde(default)]
    pub(crate) prompt_eval_count: Option<u64>,
    #[serde(default)]
    pub(crate) eval_count: Option<u64>,
    #[serde(default)]
    pub(crate) error: Option<Value>,
}

/// The `message` of a chunk: a piece of the answer (streamed) or all of it.
#[derive(Debug, Deserialize)]
pub(crate) struct WireMessage<'a> {
    #[serde(borrow, default)]
    pub(crate) content: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    pub(crate) thinking: Option<JsonStr<'a>>,
    #[serde(default)]
    pub(crate) tool_calls: Option<Vec<WireCall>>,
}

/// A call as Ollama sends it: whole (never in pieces), arguments an object; with an id from newer servers,
/// none from older ones.
#[derive(Debug, Deserialize)]
pub(crate) struct WireCall {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) function: Option<WireFunction>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct WireFunction {
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) arguments: Option<Value>,
}

impl WireCall {
    /// The call, with the server's id when it sends one (newer Ollama does), else a stable id:
    /// `call_{n}_{hash}` from its position in the answer and a hash of its name and arguments
    /// ([`ToolCall::stable_id`]), so the same answer always gives the same ids and calls of different turns
    /// do not collide. Arguments sent as JSON text (some proxies do) are parsed before hashing; missing
    /// arguments are `{}`.
    pub(crate) fn to_call(&self, n: usize) -> ToolCall {
        let function = self.function.as_ref();
        let name = function.and_then(|f| f.name.clone()).unwrap_or_default();
        let arguments = match function.and_then(|f| f.arguments.clone()) {
            Some(Value::String(text)) => serde_json::from_str(&text).unwrap_or(Value::String(text)),
            Some(value) => value,
            None => Value::Object(serde_json::Map::new()),
        };
        let id = match self.id.as_deref().filter(|id| !id.is_empty()) {
            Some(id) => id.to_owned(),
            None => ToolCall::stable_id("call_", n, &name, &arguments),
        };
        ToolCall::new(id, name, arguments)
    }
}

/// One line of a stream: a [`WireChunk`] without `model`, which the stream does not use (its start event
/// names the requested model), so no line spends time on it.
#[derive(Debug, Deserialize)]
pub(crate) struct WireLine<'a> {
    #[serde(borrow, default)]
    pub(crate) message: Option<WireMessage<'a>>,
    #[serde(default)]
    pub(crate) done: bool,
    #[serde(borrow, default)]
    pub(crate) done_reason: Option<JsonStr<'a>>,
    #[serde(default)]
    pub(crate) prompt_eval_count: Option<u64>,
    #[serde(default)]
    pub(crate) eval_count: Option<u64>,
    #[serde(default)]
    pub(crate) error: Option<Value>,
}

impl WireChunk<'_> {
    /// Usage from the final object's counters, when it has any.
    pub(crate) fn usage(&self) -> Option<Usage> {
        usage(self.prompt_eval_count, self.eval_count)
    }

    /// The finish reason of the final object (`stop` when a version omits `done_reason`).
    pub(crate) fn finish_reason(&self) -> FinishReason {
        finish_reason(self.done_reason.as_deref())
    }
}

impl WireLine<'_> {
    /// Usage from the final line's counters, when it has any.
    pub(crate) fn usage(&self) -> Option<Usage> {
        usage(self.prompt_eval_count, self.eval_count)
    }

    /// The finish reason of the final line (`stop` when a version omits `done_reason`).
    pub(crate) fn finish_reason(&self) -> FinishReason {
        finish_reason(self.done_reason.as_deref())
    }
}

fn usage(input: Option<u64>, output: Option<u64>) -> Option<Usage> {
    match (input, output) {
        (Some(i), Some(o)) => Some(Usage::new(i, o)),
        (None, None) => None,
        (input, output) => {
            let mut usage = Usage::default();
            usage.input_tokens = input;
            usage.output_tokens = output;
            Some(usage)
        }
    }
}

/// Decodes a whole (non-streamed) `/api/chat` answer. An `error` field (HTTP 200) is a classified error; a
/// body that is not the expected JSON, or an answer that says it is not done, is `invalid_response`.
pub fn decode_chat(
    provider: Cow<'static, str>,
    requested_model: &str,
    body: &[u8],
    request_id: Option<String>,
) -> Result<ChatResponse, Error> {
    let invalid = |what: String| {
        Error::new(ErrorKind::InvalidResponse, what)
            .with_provider(provider.clone())
            .with_request_id_opt(request_id.clone())
    };
    let chunk: WireChunk<'_> = serde_json::from_slice(body)
        .map_err(|e| invalid("the chat response is not ollama's json".into()).with_source(e))?;
    if let Some(error) = &chunk.error {
        return Err(error_from_field(provider.clone(), error).with_request_id_opt(request_id));
    }
    if !chunk.done {
        return Err(invalid(
            "the chat response is not complete (done: false)".into(),
        ));
    }
    let tool_calls = chunk
        .message
        .as_ref()
        .and_then(|m| m.tool_calls.as_deref())
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(n, call)| call.to_call(n))
        .collect();
    let (text, reasoning) = match &chunk.message {
        Some(m) => (
            m.content.as_deref().unwrap_or_default().to_owned(),
            m.thinking
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(str::to_owned),
        ),
        None => (String::new(), None),
    };
    let model = chunk.model.as_deref().unwrap_or(requested_model);
    let mut response = ChatResponse::new(provider, model, text);
    response.reasoning = reasoning;
    response.tool_calls = tool_calls;
    response.finish_reason = Some(match chunk.finish_reason() {
        // Ollama says `stop` when it answers with calls.
        FinishReason::Stop if !response.tool_calls.is_empty() => FinishReason::ToolCalls,
        other => other,
    });
    response.usage = chunk.usage();
    response.request_id = request_id;
    Ok(response)
}
