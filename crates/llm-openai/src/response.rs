//! Pure response decoding: a whole (non-streamed) Chat Completions body to a [`ChatResponse`], and the wire
//! types the stream decoder shares (usage, finish reason).

use std::borrow::Cow;

use llm_core::{ChatResponse, Error, FinishReason, ToolCall, Usage};
use llm_http::JsonStr;
use serde::Deserialize;
use serde_json::Value;

use crate::error::{error_in_json, finish_reason, finish_reason_error, invalid};

/// What the decoders know about a response besides its body: who answers, the model asked for (reported
/// until the server names its own), the request id from the response headers, and whether the body's `id`
/// stands in for a missing request id (OpenRouter).
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResponseMeta {
    /// The provider's name.
    pub provider: Cow<'static, str>,
    /// The model the request named.
    pub model: String,
    /// The request id from the response headers.
    pub request_id: Option<String>,
    /// Use the body's `id` as the request id when `request_id` is `None`.
    pub request_id_from_body: bool,
}

impl ResponseMeta {
    /// Meta for `provider` answering a request for `model`.
    pub fn new(provider: impl Into<Cow<'static, str>>, model: impl Into<String>) -> Self {
        ResponseMeta {
            provider: provider.into(),
            model: model.into(),
            ..ResponseMeta::default()
        }
    }

    /// Sets the request id from the headers.
    #[must_use]
    pub fn request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    /// Sets whether the body's `id` stands in for a missing request id.
    #[must_use]
    pub fn request_id_from_body(mut self, on: bool) -> Self {
        self.request_id_from_body = on;
        self
    }

    /// The request id: the header's, else (when enabled) the body's `id`.
    pub(crate) fn request_id_or(&self, body_id: Option<&str>) -> Option<String> {
        self.request_id.clone().or_else(|| {
            self.request_id_from_body
                .then(|| body_id.map(str::to_owned))
                .flatten()
        })
    }

    /// `error` with this response's provider-independent context (request id) attached.
    pub(crate) fn attach(&self, error: Error, body_id: Option<&str>) -> Error {
        error.with_request_id_opt(self.request_id_or(body_id))
    }
}

/// `usage` as OpenAI-compatible servers send it, in Chat Completions' names or the Responses API's
/// (`input_tokens`, `output_tokens` and their `_details`: the same counts renamed).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireUsage {
    #[serde(alias = "input_tokens")]
    prompt_tokens: Option<u64>,
    #[serde(alias = "output_tokens")]
    completion_tokens: Option<u64>,
    total_tokens: Option<u64>,
    #[serde(alias = "input_tokens_details")]
    prompt_tokens_details: Option<Details>,
    #[serde(alias = "output_tokens_details")]
    completion_tokens_details: Option<Details>,
}

#[derive(Debug, Default, Deserialize)]
struct Details {
    cached_tokens: Option<u64>,
    reasoning_tokens: Option<u64>,
}

impl WireUsage {
    pub(crate) fn to_usage(&self) -> Usage {
        let mut usage = Usage::default();
        usage.input_tokens = self.prompt_tokens;
        usage.output_tokens = self.completion_tokens;
        usage.total_tokens = self.total_tokens;
        usage.cached_input_tokens = self
            .prompt_tokens_details
            .as_ref()
            .and_then(|d| d.cached_tokens);
        usage.reasoning_tokens = self
            .completion_tokens_details
            .as_ref()
            .and_then(|d| d.reasoning_tokens);
        usage
    }
}

#[derive(Deserialize)]
struct WireResponse<'a> {
    #[serde(borrow, default)]
    id: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    model: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    object: Option<JsonStr<'a>>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(borrow, default)]
    choices: Option<Vec<WireChoice<'a>>>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct WireChoice<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(borrow, default)]
    message: Option<WireMessage<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<JsonStr<'a>>,
}

#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(borrow, default)]
    content: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    reasoning_content: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    reasoning: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    refusal: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    tool_calls: Option<Vec<WireCall<'a>>>,
}

#[derive(Deserialize)]
struct WireCall<'a> {
    #[serde(borrow, default)]
    id: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    function: Option<WireCallFunction<'a>>,
}

#[derive(Deserialize)]
pub(crate) struct WireCallFunction<'a> {
    #[serde(borrow, default)]
    pub(crate) name: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    pub(crate) arguments: Option<JsonStr<'a>>,
}

/// The arguments of a finished call: its JSON text parsed (empty or white space means `{}`); text that is
/// not JSON is an `invalid_response` error naming the call, never a silent string.
pub(crate) fn parse_arguments(
    provider: &str,
    id: &str,
    name: &str,
    arguments: &str,
) -> Result<Value, Error> {
    if arguments.trim().is_empty() {
        return Ok(Value::Object(serde_json::Map::new()));
    }
    serde_json::from_str(arguments).map_err(|e| {
        invalid(
            provider.to_owned(),
            format!("tool call `{id}` ({name}) has arguments that are not valid json"),
        )
        .with_source(e)
    })
}

/// Decodes a whole Chat Completions body. An error object in the body (HTTP 200 with `{"error":…}`, as
/// OpenRouter sends) is the classified error it describes; a body that is not a chat completion, or has no
/// choice, is `invalid_response`. Only the first choice (index 0) is read.
pub fn decode_response(body: &[u8], meta: &ResponseMeta) -> Result<ChatResponse, Error> {
    decode(body, meta)
}

fn decode(body: &[u8], meta: &ResponseMeta) -> Result<ChatResponse, Error> {
    let provider = meta.provider.clone();
    let text = std::str::from_utf8(body).map_err(|_| {
        meta.attach(
            invalid(provider.clone(), "response body is not utf-8"),
            None,
        )
    })?;
    let wire: WireResponse<'_> = serde_json::from_str(text).map_err(|e| {
        meta.attach(
            invalid(
                provider.clone(),
                format!("response body is not a chat completion: {e}"),
            )
            .with_source(e),
            None,
        )
    })?;
    let body_id = wire.id.as_deref();
    if wire.error.is_some() || wire.object.as_deref() == Some("error") {
        let err = error_in_json(provider.clone(), text)
            .unwrap_or_else(|| finish_reason_error(provider.clone()));
        return Err(meta.attach(err, body_id));
    }
    let choice = wire
        .choices
        .as_deref()
        .unwrap_or_default()
        .iter()
        .find(|c| c.index.unwrap_or(0) == 0)
        .ok_or_else(|| meta.attach(invalid(provider.clone(), "response has no choice"), body_id))?;
    let finish_reason = choice.finish_reason.as_deref().map(finish_reason);
    if finish_reason == Some(FinishReason::Error) {
        return Err(meta.attach(finish_reason_error(provider), body_id));
    }
    let mut tool_calls = Vec::new();
    let calls = choice
        .message
        .as_ref()
        .and_then(|m| m.tool_calls.as_deref());
    for (index, call) in calls.unwrap_or_default().iter().enumerate() {
        let function = call.function.as_ref();
        let name = function.and_then(|f| f.name.as_deref()).unwrap_or_default();
        let id = call
            .id
            .as_deref()
            .map_or_else(|| format!("call_{index}"), str::to_owned);
        let arguments = function
            .and_then(|f| f.arguments.as_deref())
            .unwrap_or_default();
        let arguments = parse_arguments(&provider, &id, name, arguments)
            .map_err(|e| meta.attach(e, body_id))?;
        tool_calls.push(ToolCall::new(id, name, arguments));
    }
    let (content, reasoning) = match &choice.message {
        Some(m) => (
            m.content.as_deref().or(m.refusal.as_deref()),
            m.reasoning_content.as_deref().or(m.reasoning.as_deref()),
        ),
        None => (None, None),
    };
    let mut response = ChatResponse::new(
        provider,
        wire.model.as_deref().unwrap_or(&meta.model),
        content.unwrap_or_default(),
    );
    response.reasoning = reasoning.filter(|r| !r.is_empty()).map(str::to_owned);
    response.tool_calls = tool_calls;
    response.finish_reason = finish_reason;
    response.usage = wire.usage.as_ref().map(WireUsage::to_usage);
    response.request_id = meta.request_id_or(body_id);
    response.response_id = body_id.map(str::to_owned);
    Ok(response)
}
