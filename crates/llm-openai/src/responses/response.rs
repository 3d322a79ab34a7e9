//! Pure response decoding: a whole (non-streamed) Responses API body to a [`ChatResponse`], and what the
//! stream decoder shares with it: usage, the finish reason of a `completed` or `incomplete` response, the
//! error of a `failed` one, and the reasoning signature.
//!
//! - `output` items are read in order: `message` items give text (`output_text` parts, and a `refusal`
//!   as text, as the Chat Completions codec does), `function_call` items give tool calls (`call_id` as the
//!   id, `arguments` parsed), `reasoning` items give reasoning (their summary texts, joined by a blank
//!   line) and a [`ContentPart::Reasoning`] whose signature keeps the item's `id` and `encrypted_content`
//!   ([`ReasoningSignature`]). Other items (hosted tools) carry nothing llmux models and are skipped.
//! - `status: "completed"` finishes with `tool_calls` when the output called a tool, else `stop`;
//!   `"incomplete"` with the reason in `incomplete_details.reason` (`max_output_tokens` → `length`,
//!   `content_filter`); `"failed"` is the classified `error` it carries.
//! - Usage: `input_tokens`, `output_tokens`, `total_tokens`, `input_tokens_details.cached_tokens`,
//!   `output_tokens_details.reasoning_tokens`.

use llm_core::classify::{self, ErrorTable, RateLimitHeaders};
use llm_core::{
    ChatResponse, ContentPart, Error, ErrorKind, FinishReason, ProviderDetail, ToolCall,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ERRORS, invalid};
use crate::response::{ResponseMeta, WireUsage, parse_arguments};

/// The `error.code`s of a failed response that are not in the Chat Completions table: what was wrong
/// with the prompt or its images (`bad_request`) and a file search that timed out (`timeout`). Other
/// codes (`server_error`, `rate_limit_exceeded`) are classified by [`ERRORS`].
pub const RESPONSE_ERRORS: ErrorTable = ErrorTable {
    names: &[
        ("invalid_prompt", ErrorKind::BadRequest),
        ("vector_store_timeout", ErrorKind::Timeout),
        ("invalid_image", ErrorKind::BadRequest),
        ("invalid_image_format", ErrorKind::BadRequest),
        ("invalid_base64_image", ErrorKind::BadRequest),
        ("invalid_image_url", ErrorKind::BadRequest),
        ("image_too_large", ErrorKind::BadRequest),
        ("image_too_small", ErrorKind::BadRequest),
        ("image_parse_error", ErrorKind::BadRequest),
        ("image_content_policy_violation", ErrorKind::BadRequest),
        ("invalid_image_mode", ErrorKind::BadRequest),
        ("image_file_too_large", ErrorKind::BadRequest),
        ("unsupported_image_media_type", ErrorKind::BadRequest),
        ("empty_image_file", ErrorKind::BadRequest),
        ("failed_to_download_image", ErrorKind::BadRequest),
        ("image_file_not_found", ErrorKind::BadRequest),
    ],
    context_phrases: &[],
    rate_limits: RateLimitHeaders::STANDARD,
};

/// The error a Responses stream's `error` event or a failed response's `error` object describes,
/// classified like a status would be: a code of [`RESPONSE_ERRORS`] first, else the crate's table.
pub(crate) fn classify_error(provider: &str, value: &Value) -> Error {
    let detail = classify::detail_from_value(value)
        // A bare error object (`response.error`): `{code, message}` without a wrapper.
        .or_else(|| value.as_object().map(classify::detail_from_object))
        .unwrap_or_else(|| ProviderDetail::message("response failed"));
    let own = [detail.code.as_deref(), detail.error_type.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|n| RESPONSE_ERRORS.kind_of(n));
    match own {
        Some(kind) => {
            let message = detail
                .message
                .clone()
                .unwrap_or_else(|| "response failed".to_owned());
            Error::new(kind, message)
                .with_provider(provider.to_owned())
                .with_detail(detail)
        }
        None => classify::error_from_stream_detail(provider.to_owned(), detail, &ERRORS),
    }
}

/// What a reasoning item needs to go back in the next turn: its `id` and, when the response was
/// stateless, its `encrypted_content`. Travels as the signature of a [`ContentPart::Reasoning`]
/// (see [`responses`](crate::responses) for why one JSON string holds both).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReasoningSignature {
    /// Always `reasoning`: tells this API's signatures from another provider's.
    #[serde(rename = "type")]
    kind: String,
    /// The item's id (`rs_…`).
    pub id: String,
    /// The item's encrypted reasoning, when asked for (`include: ["reasoning.encrypted_content"]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
}

impl ReasoningSignature {
    /// The signature of item `id` with `encrypted_content`.
    pub fn new(id: impl Into<String>, encrypted_content: Option<String>) -> Self {
        ReasoningSignature {
            kind: "reasoning".to_owned(),
            id: id.into(),
            encrypted_content,
        }
    }

    /// The signature as the string a [`ContentPart::Reasoning`] carries.
    pub fn to_signature(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A signature this codec wrote, read back; `None` for anything else (another provider's).
    pub fn parse(signature: &str) -> Option<Self> {
        let sig: ReasoningSignature = serde_json::from_str(signature).ok()?;
        (sig.kind == "reasoning" && !sig.id.is_empty()).then_some(sig)
    }
}

/// A response object (the whole body, or the `response` of a stream's lifecycle events).
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireResponse {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) model: Option<String>,
    #[serde(default)]
    pub(crate) status: Option<String>,
    #[serde(default)]
    pub(crate) error: Option<Value>,
    #[serde(default)]
    pub(crate) incomplete_details: Option<IncompleteDetails>,
    #[serde(default)]
    pub(crate) output: Option<Vec<WireItem>>,
    #[serde(default)]
    pub(crate) usage: Option<WireUsage>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct IncompleteDetails {
    #[serde(default)]
    pub(crate) reason: Option<String>,
}

/// One output item.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WireItem {
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) call_id: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) arguments: Option<String>,
    #[serde(default)]
    pub(crate) content: Option<Vec<WirePart>>,
    #[serde(default)]
    pub(crate) summary: Option<Vec<WirePart>>,
    #[serde(default)]
    pub(crate) encrypted_content: Option<String>,
}

/// A content part of a message item, or a summary part of a reasoning item.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct WirePart {
    #[serde(rename = "type", default)]
    pub(crate) kind: String,
    #[serde(default)]
    pub(crate) text: Option<String>,
    #[serde(default)]
    pub(crate) refusal: Option<String>,
}

impl WireItem {
    /// The signature of a reasoning item.
    pub(crate) fn signature(&self) -> Option<String> {
        let id = self.id.as_deref().filter(|i| !i.is_empty())?;
        Some(ReasoningSignature::new(id, self.encrypted_content.clone()).to_signature())
    }

    /// The summary of a reasoning item: its texts joined by a blank line.
    pub(crate) fn summary_text(&self) -> String {
        let texts: Vec<&str> = self
            .summary
            .as_deref()
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.text.as_deref())
            .collect();
        texts.join("\n\n")
    }

    /// The text of a message item (`output_text`, or a refusal).
    pub(crate) fn message_text(&self) -> String {
        let mut text = String::new();
        for part in self.content.as_deref().unwrap_or_default() {
            match part.kind.as_str() {
                "output_text" => text.push_str(part.text.as_deref().unwrap_or_default()),
                "refusal" => text.push_str(part.refusal.as_deref().unwrap_or_default()),
                _ => {}
            }
        }
        text
    }

    /// The id of a function call item, the `index`-th call of its response: its `call_id`, else its item
    /// `id`, else one made up from `index`, so that every call has one to answer to.
    pub(crate) fn call_id(&self, index: usize) -> String {
        self.call_id
            .clone()
            .or_else(|| self.id.clone())
            .unwrap_or_else(|| format!("call_{index}"))
    }

    /// A function call item as a call, its arguments parsed.
    pub(crate) fn tool_call(&self, provider: &str, index: usize) -> Result<ToolCall, Error> {
        let id = self.call_id(index);
        let name = self.name.as_deref().unwrap_or_default();
        let arguments = self.arguments.as_deref().unwrap_or_default();
        let arguments = parse_arguments(provider, &id, name, arguments)?;
        Ok(ToolCall::new(id, name, arguments))
    }
}

/// The finish reason of an `incomplete` response's `incomplete_details.reason`.
pub(crate) fn incomplete_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("max_output_tokens") => FinishReason::Length,
        Some("content_filter") => FinishReason::ContentFilter,
        Some(other) => FinishReason::Other(other.to_owned()),
        None => FinishReason::Other("incomplete".to_owned()),
    }
}

/// Decodes a whole Responses API body. A `failed` response is the classified error it carries; a body
/// that is not a response is `invalid_response`; an error object in an HTTP-200 body is its error.
pub fn decode_responses(body: &[u8], meta: &ResponseMeta) -> Result<ChatResponse, Error> {
    let provider = meta.provider.clone();
    let wire: WireResponse = serde_json::from_slice(body).map_err(|e| {
        meta.attach(
            invalid(
                provider.clone(),
                format!("response body is not a response object: {e}"),
            )
            .with_source(e),
            None,
        )
    })?;
    let body_id = wire.id.as_deref();
    let status = wire.status.as_deref();
    if status == Some("failed") || (status.is_none() && wire.error.is_some()) {
        let err = classify_error(&provider, wire.error.as_ref().unwrap_or(&Value::Null));
        return Err(meta.attach(err, body_id));
    }
    let Some(output) = &wire.output else {
        return Err(meta.attach(invalid(provider, "response has no output"), body_id));
    };
    let mut response = ChatResponse::new(
        provider.clone(),
        wire.model.as_deref().unwrap_or(&meta.model),
        "",
    );
    let mut reasoning: Vec<String> = Vec::new();
    for item in output {
        match item.kind.as_str() {
            "message" => response.text.push_str(&item.message_text()),
            "function_call" => {
                let call = item
                    .tool_call(&provider, response.tool_calls.len())
                    .map_err(|e| meta.attach(e, body_id))?;
                response.tool_calls.push(call);
            }
            "reasoning" => {
                let text = item.summary_text();
                if !text.is_empty() {
                    reasoning.push(text.clone());
                }
                if let Some(signature) = item.signature() {
                    response.reasoning_parts.push(ContentPart::Reasoning {
                        text,
                        signature: Some(signature),
                    });
                }
            }
            _ => {}
        }
    }
    response.reasoning = (!reasoning.is_empty()).then(|| reasoning.join("\n\n"));
    response.finish_reason = Some(match status {
        Some("incomplete") => incomplete_reason(
            wire.incomplete_details
                .as_ref()
                .and_then(|d| d.reason.as_deref()),
        ),
        _ if !response.tool_calls.is_empty() => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    });
    response.usage = wire.usage.as_ref().map(WireUsage::to_usage);
    response.request_id = meta.request_id_or(body_id);
    response.response_id = wire.id.clone();
    Ok(response)
}
