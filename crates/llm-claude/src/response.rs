//! Pure response decoding: the bytes of a Messages API answer become a [`ChatResponse`].
//!
//! Text blocks are concatenated in order without separator (the API splits one answer into several text
//! blocks, e.g. around citations); `thinking` blocks likewise become [`ChatResponse::reasoning`], and each
//! `thinking` (with its `signature`) and `redacted_thinking` block is kept in
//! [`ChatResponse::reasoning_parts`] to go back in the next turn; `tool_use` blocks are the tool calls. Usage
//! is normalised by [`UsageCounts::to_usage`].

use std::borrow::Cow;

use llm_core::{ChatResponse, ContentPart, Error, ErrorKind, Usage, classify};

use crate::error::ERRORS;
use llm_http::JsonStr;
use serde::Deserialize;

/// Anthropic's token counters, as they arrive in `message_start`, `message_delta` and whole responses.
/// Every field is optional: a later report replaces only the fields it carries (the counts are cumulative,
/// never summed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct UsageCounts {
    /// Prompt tokens neither written to nor read from the cache.
    #[serde(default)]
    pub input_tokens: Option<u64>,
    /// Generated tokens so far.
    #[serde(default)]
    pub output_tokens: Option<u64>,
    /// Prompt tokens written to the cache.
    #[serde(default)]
    pub cache_creation_input_tokens: Option<u64>,
    /// Prompt tokens read from the cache.
    #[serde(default)]
    pub cache_read_input_tokens: Option<u64>,
    /// The cache writes by how long they are kept (`cache_creation`).
    #[serde(default)]
    pub cache_creation: Option<CacheCreation>,
}

/// Anthropic's `usage.cache_creation`: the cache writes by lifetime, priced apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct CacheCreation {
    /// Prompt tokens written to the 5-minute cache.
    #[serde(default)]
    pub ephemeral_5m_input_tokens: Option<u64>,
    /// Prompt tokens written to the 1-hour cache.
    #[serde(default)]
    pub ephemeral_1h_input_tokens: Option<u64>,
}

impl UsageCounts {
    /// Replaces every field `later` carries (Anthropic's counters are cumulative: the latest is the truth).
    pub fn update(&mut self, later: &UsageCounts) {
        let take = |mine: &mut Option<u64>, theirs: Option<u64>| {
            if theirs.is_some() {
                *mine = theirs;
            }
        };
        take(&mut self.input_tokens, later.input_tokens);
        take(&mut self.output_tokens, later.output_tokens);
        take(
            &mut self.cache_creation_input_tokens,
            later.cache_creation_input_tokens,
        );
        take(
            &mut self.cache_read_input_tokens,
            later.cache_read_input_tokens,
        );
        if later.cache_creation.is_some() {
            self.cache_creation = later.cache_creation;
        }
    }

    /// True when no counter was reported.
    pub fn is_empty(&self) -> bool {
        *self == UsageCounts::default()
    }

    /// The normalised [`Usage`]: `input_tokens` counts the whole prompt (Anthropic's `input_tokens` excludes
    /// cache reads and writes, so both are added: it then means what [`Usage`] says, as other providers'
    /// prompt tokens do); `cached_input_tokens` and `cache_write_input_tokens` are the cache reads and writes,
    /// parts of that, and `cache_write_1h_input_tokens` the part of the writes kept for an hour; the total is
    /// input plus output.
    pub fn to_usage(&self) -> Usage {
        let cache_write = self.cache_creation_input_tokens.unwrap_or(0);
        let cache_read = self.cache_read_input_tokens.unwrap_or(0);
        let input = self
            .input_tokens
            .map(|i| i.saturating_add(cache_write).saturating_add(cache_read));
        let mut usage = Usage::default();
        usage.input_tokens = input;
        usage.output_tokens = self.output_tokens;
        usage.total_tokens = input
            .zip(self.output_tokens)
            .map(|(i, o)| i.saturating_add(o));
        usage.cached_input_tokens = self.cache_read_input_tokens;
        usage.cache_write_input_tokens = self.cache_creation_input_tokens;
        usage.cache_write_1h_input_tokens = self
            .cache_creation
            .and_then(|c| c.ephemeral_1h_input_tokens);
        usage
    }
}

#[derive(Debug, Deserialize)]
struct WireResponse<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    id: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    model: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    content: Option<Vec<Block<'a>>>,
    #[serde(borrow, default)]
    stop_reason: Option<JsonStr<'a>>,
    #[serde(default)]
    usage: Option<UsageCounts>,
}

#[derive(Debug, Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow)]
    kind: Cow<'a, str>,
    #[serde(borrow, default)]
    text: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    thinking: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    signature: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    data: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    id: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    name: Option<JsonStr<'a>>,
    #[serde(default)]
    input: Option<serde_json::Value>,
}

/// Decodes a whole Messages response. `model` is the requested model (used when the body names none);
/// `request_id` comes from the response headers.
///
/// # Errors
/// A body that holds an error object (`{"type":"error","error":{…}}`, even with HTTP 200) is the classified
/// error; a body that is not a Messages response is `invalid_response`.
pub fn decode(
    provider: &str,
    model: &str,
    request_id: Option<String>,
    body: &[u8],
) -> Result<ChatResponse, Error> {
    let parsed = serde_json::from_slice::<WireResponse<'_>>(body);
    let wire = match parsed {
        Ok(wire) if wire.kind.as_deref() != Some("error") => wire,
        other => {
            let err = match classify::detail_from_body(body) {
                Some(detail) => {
                    classify::error_from_stream_detail(provider.to_owned(), detail, &ERRORS)
                }
                None => {
                    let e = Error::new(
                        ErrorKind::InvalidResponse,
                        "the response is not a messages api response",
                    )
                    .with_provider(provider.to_owned());
                    match other {
                        Err(source) => e.with_source(source),
                        Ok(_) => e,
                    }
                }
            };
            return Err(err.with_request_id_opt(request_id));
        }
    };
    let mut text = String::new();
    let mut reasoning: Option<String> = None;
    let mut tool_calls = Vec::new();
    let mut reasoning_parts = Vec::new();
    for block in wire.content.iter().flatten() {
        match block.kind.as_ref() {
            "tool_use" => tool_calls.push(llm_core::ToolCall::new(
                block.id.as_deref().unwrap_or_default(),
                block.name.as_deref().unwrap_or_default(),
                block
                    .input
                    .clone()
                    .unwrap_or_else(|| serde_json::Value::Object(serde_json::Map::new())),
            )),
            "text" => text.push_str(block.text.as_deref().unwrap_or_default()),
            "thinking" => {
                let thinking = block.thinking.as_deref().unwrap_or_default();
                reasoning.get_or_insert_with(String::new).push_str(thinking);
                reasoning_parts.push(ContentPart::Reasoning {
                    text: thinking.to_owned(),
                    signature: block.signature.as_deref().map(str::to_owned),
                });
            }
            "redacted_thinking" => reasoning_parts.push(ContentPart::RedactedReasoning {
                data: block.data.as_deref().unwrap_or_default().to_owned(),
            }),
            _ => {}
        }
    }
    let mut response = ChatResponse::new(
        provider.to_owned(),
        wire.model.as_deref().unwrap_or(model),
        text,
    );
    response.reasoning = reasoning;
    response.reasoning_parts = reasoning_parts;
    response.tool_calls = tool_calls;
    response.finish_reason = wire.stop_reason.as_deref().map(crate::error::finish_reason);
    response.usage = wire.usage.filter(|u| !u.is_empty()).map(|u| u.to_usage());
    response.request_id = request_id;
    response.response_id = wire.id.map(JsonStr::into_owned);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use llm_core::FinishReason;

    use super::*;

    fn ok(body: &str) -> ChatResponse {
        decode("claude", "asked", Some("req_1".into()), body.as_bytes()).expect("decodes")
    }

    #[test]
    fn joins_text_blocks_and_reads_thinking_usage_and_stop_reason() {
        let r = ok(
            r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x",
            "content":[{"type":"thinking","thinking":"hmm","signature":"s"},{"type":"text","text":"Hel"},
            {"type":"tool_use","id":"t","name":"f","input":{}},{"type":"text","text":"lo"}],
            "stop_reason":"max_tokens","stop_sequence":null,
            "usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":30,"cache_creation_input_tokens":2}}"#,
        );
        assert_eq!(r.text, "Hello");
        assert_eq!(r.reasoning.as_deref(), Some("hmm"));
        assert_eq!(r.model, "claude-x");
        assert_eq!(r.finish_reason, Some(FinishReason::Length));
        assert_eq!(r.request_id.as_deref(), Some("req_1"));
        let u = r.usage.expect("usage");
        assert_eq!(u.input_tokens, Some(42));
        assert_eq!(u.cached_input_tokens, Some(30));
        assert_eq!(u.output_tokens, Some(5));
        assert_eq!(u.total(), Some(47));
    }

    #[test]
    fn missing_optional_fields_fall_back() {
        let r = ok(r#"{"type":"message","content":[],"stop_reason":null,"usage":null}"#);
        assert_eq!(r.text, "");
        assert_eq!(r.model, "asked");
        assert_eq!(r.finish_reason, None);
        assert_eq!(r.usage, None);
        assert_eq!(r.reasoning, None);
    }

    #[test]
    fn an_error_body_with_status_200_is_classified() {
        let err = decode(
            "claude",
            "m",
            Some("req_9".into()),
            br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
        )
        .expect_err("error body");
        assert_eq!(err.kind(), ErrorKind::Overloaded);
        assert!(err.is_retryable());
        assert_eq!(err.request_id(), Some("req_9"));
        assert_eq!(err.message(), "Overloaded");
    }

    #[test]
    fn garbage_is_invalid_response() {
        for body in [
            &b"<html>oops</html>"[..],
            b"",
            b"[1,2]",
            br#"{"content":"x"}"#,
        ] {
            let err = decode("claude", "m", None, body).expect_err("garbage");
            assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{body:?}");
        }
    }

    #[test]
    fn usage_updates_replace_and_never_sum() {
        let mut u = UsageCounts {
            input_tokens: Some(7),
            output_tokens: Some(1),
            ..UsageCounts::default()
        };
        u.update(&UsageCounts {
            output_tokens: Some(9),
            ..UsageCounts::default()
        });
        u.update(&UsageCounts {
            output_tokens: Some(12),
            ..UsageCounts::default()
        });
        assert_eq!(u.to_usage(), Usage::new(7, 12));
    }
}
