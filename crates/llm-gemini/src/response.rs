//! Pure response decoding: a `GenerateContentResponse` (a whole answer, or one chunk of a stream) becomes
//! llmux [`StreamEvent`]s through one decoding state, so a whole answer and a streamed one decode alike; a whole
//! answer is those events collected into a [`ChatResponse`].
//!
//! - Parts of the first candidate, in order: `text` is text; `text` with `thought: true` is reasoning;
//!   `functionCall` is a tool call (Gemini sends each call whole). Other parts (`executableCode`,
//!   `inlineData` answers, …) carry nothing llm-core models and are skipped.
//! - Calls: Gemini gives calls no ids (newer models may: a `functionCall.id` is kept). Each call without
//!   one gets a stable id, [`call_id`]: `gcall_{n}_{hash}`, its position in the answer and a hash of its name
//!   and arguments, so the same answer gets the same ids streamed or whole. Ids of that form are never
//!   sent back (Gemini did not choose them); a tool result is matched to its function name through the call
//!   with its id earlier in the history.
//! - Thought signatures (`thoughtSignature`, opaque, to be sent back in the next turn where they came) are
//!   [`StreamEvent::ReasoningSignature`]s and so reasoning parts of the answer. Gemini signs a thought part,
//!   the first `functionCall` of a step, or a text part; the reasoning part says which, so the request
//!   side puts it back on the same part (see [`Anchor`]).
//! - `usageMetadata`: `promptTokenCount` is input, `candidatesTokenCount` plus `thoughtsTokenCount` is
//!   output (as other providers count reasoning inside output), `thoughtsTokenCount` is reasoning,
//!   `cachedContentTokenCount` cached input; `totalTokenCount` as reported. The latest report wins.
//! - `finishReason` per [`error::finish_reason`] (`STOP` with function calls is `tool_calls`);
//!   `promptFeedback.blockReason` (no candidates) is `content_filter`.

use std::collections::VecDeque;

use llm_core::{
    ChatResponse, Collector, Error, FinishReason, Fragment, StreamEvent, StreamStart, ToolCall,
    Usage,
};
use llm_http::JsonStr;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{self, Status};

/// The prefix of the ids this crate gives calls Gemini sent without one.
pub const GENERATED_ID_PREFIX: &str = "gcall_";

/// Where a thought signature was in Gemini's answer, written into the signature text of its reasoning part
/// as `{anchor}#{signature}` (Gemini's signatures are base64, which has no `#`): `thought#…`, `call={id}#…`
/// or `text#…`. The anchor also marks the signature as Gemini's: another provider's signature (Claude's
/// plain base64, the Responses API's JSON) parses as none and is never sent to Gemini, and Claude sends
/// back none of these.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor<'a> {
    /// On the thought part it arrived with.
    Thought(&'a str),
    /// On the `functionCall` part of the call with this id.
    Call {
        /// The call's id.
        id: &'a str,
        /// The signature.
        signature: &'a str,
    },
    /// On a (non-thought) text part.
    Text(&'a str),
}

impl<'a> Anchor<'a> {
    /// Reads a reasoning part's signature text; `None` when it is not one of Gemini's.
    pub fn parse(text: &'a str) -> Option<Anchor<'a>> {
        match text.split_once('#')? {
            ("thought", signature) => Some(Anchor::Thought(signature)),
            ("text", signature) => Some(Anchor::Text(signature)),
            (anchor, signature) => anchor
                .strip_prefix("call=")
                .map(|id| Anchor::Call { id, signature }),
        }
    }

    /// The signature text of a reasoning part for this anchor.
    pub fn to_text(&self) -> String {
        match self {
            Anchor::Thought(signature) => format!("thought#{signature}"),
            Anchor::Call { id, signature } => format!("call={id}#{signature}"),
            Anchor::Text(signature) => format!("text#{signature}"),
        }
    }
}

/// The stable id of the `n`th call of an answer, named `name` with `arguments`:
/// [`ToolCall::stable_id`] with [`GENERATED_ID_PREFIX`].
pub fn call_id(n: usize, name: &str, arguments: &Value) -> String {
    ToolCall::stable_id(GENERATED_ID_PREFIX, n, name, arguments)
}

/// One `GenerateContentResponse`, as much of it as llmux reads, its strings borrowed from the payload (a
/// text piece is copied once, into its event), or the `error` it carries instead.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Chunk<'a> {
    #[serde(borrow, default)]
    candidates: Vec<Candidate<'a>>,
    #[serde(borrow, default)]
    prompt_feedback: Option<PromptFeedback<'a>>,
    #[serde(default)]
    usage_metadata: Option<UsageMetadata>,
    #[serde(borrow, default)]
    model_version: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    response_id: Option<JsonStr<'a>>,
    #[serde(default)]
    error: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate<'a> {
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<JsonStr<'a>>,
    #[serde(default)]
    index: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
struct Content<'a> {
    #[serde(borrow, default)]
    parts: Vec<Part<'a>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Part<'a> {
    #[serde(borrow, default)]
    text: Option<JsonStr<'a>>,
    #[serde(default)]
    thought: bool,
    #[serde(borrow, default)]
    thought_signature: Option<JsonStr<'a>>,
    #[serde(borrow, default)]
    function_call: Option<FunctionCall<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct FunctionCall<'a> {
    #[serde(borrow, default)]
    id: Option<JsonStr<'a>>,
    #[serde(borrow)]
    name: JsonStr<'a>,
    #[serde(default)]
    args: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback<'a> {
    #[serde(borrow, default)]
    block_reason: Option<JsonStr<'a>>,
}

/// Gemini's `usageMetadata` counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    /// Prompt tokens (cached ones included).
    #[serde(default)]
    pub prompt_token_count: Option<u64>,
    /// Generated answer tokens (thoughts excluded).
    #[serde(default)]
    pub candidates_token_count: Option<u64>,
    /// Prompt tokens served from the cache.
    #[serde(default)]
    pub cached_content_token_count: Option<u64>,
    /// Thinking tokens.
    #[serde(default)]
    pub thoughts_token_count: Option<u64>,
    /// The total as reported.
    #[serde(default)]
    pub total_token_count: Option<u64>,
}

impl UsageMetadata {
    /// The normalised [`Usage`] (see the module docs).
    pub fn to_usage(&self) -> Usage {
        let mut usage = Usage::default();
        usage.input_tokens = self.prompt_token_count;
        usage.output_tokens = match (self.candidates_token_count, self.thoughts_token_count) {
            (None, None) => None,
            (c, t) => Some(c.unwrap_or(0).saturating_add(t.unwrap_or(0))),
        };
        usage.total_tokens = self.total_token_count.or_else(|| {
            usage
                .input_tokens
                .zip(usage.output_tokens)
                .map(|(i, o)| i.saturating_add(o))
        });
        usage.cached_input_tokens = self.cached_content_token_count;
        usage.reasoning_tokens = self.thoughts_token_count;
        usage
    }
}

/// The decoding state of one answer: chunks in ([`Turn::chunk`]), events out; [`Turn::finish`] gives the
/// held-back usage and finish reason once the answer is over.
#[derive(Debug, Clone)]
pub(crate) struct Turn {
    provider: String,
    model: String,
    request_id: Option<String>,
    started: bool,
    calls: usize,
    finish: Option<FinishReason>,
    usage: Option<UsageMetadata>,
    complete: bool,
}

impl Turn {
    pub(crate) fn new(provider: &str, model: &str, request_id: Option<String>) -> Self {
        Turn {
            provider: provider.to_owned(),
            model: model.to_owned(),
            request_id,
            started: false,
            calls: 0,
            finish: None,
            usage: None,
            complete: false,
        }
    }

    pub(crate) fn provider(&self) -> &str {
        &self.provider
    }

    pub(crate) fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }

    /// Decodes one JSON payload (a whole body or one SSE event's data).
    ///
    /// # Errors
    /// The classified error the payload carries (`{"error":{…}}`), or `invalid_response`.
    pub(crate) fn payload(
        &mut self,
        data: &str,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), Error> {
        let chunk: Chunk<'_> = match serde_json::from_str(data) {
            Ok(chunk) => chunk,
            Err(e) => {
                // An error object stands even when the rest of the payload is not a chunk (read again
                // only on this path).
                let value = serde_json::from_str::<Value>(data).ok();
                if let Some(status) = value.as_ref().and_then(Status::from_value) {
                    return Err(self.attach(error::from_status(&self.provider, &status)));
                }
                return Err(
                    error::invalid(&self.provider, "undecodable generateContent response")
                        .with_source(e),
                );
            }
        };
        if let Some(status) = chunk.error.as_ref().and_then(Status::from_error) {
            return Err(self.attach(error::from_status(&self.provider, &status)));
        }
        self.chunk(chunk, out);
        Ok(())
    }

    /// True once usage arrived with or after a finish (or block) reason: nothing later changes the answer.
    pub(crate) fn is_complete(&self) -> bool {
        self.complete
    }

    pub(crate) fn attach(&self, error: Error) -> Error {
        error.with_request_id_opt(self.request_id.clone())
    }

    fn chunk(&mut self, chunk: Chunk<'_>, out: &mut VecDeque<StreamEvent>) {
        if !self.started {
            self.started = true;
            let model = chunk
                .model_version
                .map_or_else(|| self.model.clone(), JsonStr::into_owned);
            let mut start = StreamStart::new(self.provider.clone(), model);
            start.request_id = self.request_id.clone();
            start.response_id = chunk.response_id.map(JsonStr::into_owned);
            out.push_back(StreamEvent::Start(start));
        }
        let has_usage = chunk.usage_metadata.is_some();
        if let Some(usage) = chunk.usage_metadata {
            self.usage = Some(usage);
        }
        if let Some(reason) = chunk.prompt_feedback.and_then(|f| f.block_reason) {
            self.finish = Some(error::block_reason(&reason));
        }
        if let Some(candidate) = chunk
            .candidates
            .into_iter()
            .find(|c| c.index.unwrap_or(0) == 0)
        {
            for part in candidate.content.map(|c| c.parts).unwrap_or_default() {
                self.part(part, out);
            }
            if let Some(reason) = candidate.finish_reason {
                self.finish = Some(error::finish_reason(&reason));
            }
        }
        // Usage reported before the finish reason may still grow; only a report with or after it is final.
        self.complete |= has_usage && self.finish.is_some();
    }

    fn part(&mut self, part: Part<'_>, out: &mut VecDeque<StreamEvent>) {
        if let Some(call) = part.function_call {
            let arguments = match call.args {
                Some(Value::Null) | None => Value::Object(Map::new()),
                Some(args) => args,
            };
            let index = self.calls;
            self.calls += 1;
            let id = call.id.filter(|id| !id.is_empty()).map_or_else(
                || call_id(index, &call.name, &arguments),
                JsonStr::into_owned,
            );
            let name = call.name.into_owned();
            out.push_back(StreamEvent::ToolCallStart {
                index,
                id: id.clone(),
                name: name.clone(),
            });
            if let Some(signature) = part.thought_signature.filter(|s| !s.is_empty()) {
                out.push_back(StreamEvent::ToolCall {
                    index,
                    call: ToolCall::new(id.clone(), name, arguments),
                });
                let anchor = Anchor::Call {
                    id: &id,
                    signature: &signature,
                };
                out.push_back(StreamEvent::ReasoningSignature(anchor.to_text()));
            } else {
                out.push_back(StreamEvent::ToolCall {
                    index,
                    call: ToolCall::new(id, name, arguments),
                });
            }
            return;
        }
        let signature = part.thought_signature.filter(|s| !s.is_empty());
        if part.thought {
            push_text(out, part.text, StreamEvent::ReasoningDelta);
            if let Some(signature) = signature {
                out.push_back(StreamEvent::ReasoningSignature(
                    Anchor::Thought(&signature).to_text(),
                ));
            }
        } else {
            push_text(out, part.text, StreamEvent::TextDelta);
            if let Some(signature) = signature {
                out.push_back(StreamEvent::ReasoningSignature(
                    Anchor::Text(&signature).to_text(),
                ));
            }
        }
    }

    /// The answer is over: the latest usage, then the finish reason (`tool_calls` for a `STOP` answer
    /// that holds calls). `None` when no finish or block reason arrived (a cut stream).
    pub(crate) fn finish(&mut self, out: &mut VecDeque<StreamEvent>) -> Option<()> {
        let reason = self.finish.take()?;
        if let Some(usage) = self.usage.take() {
            out.push_back(StreamEvent::Usage(usage.to_usage()));
        }
        let reason = if reason == FinishReason::Stop && self.calls > 0 {
            FinishReason::ToolCalls
        } else {
            reason
        };
        out.push_back(StreamEvent::Finish(reason));
        Some(())
    }
}

/// Gives a non-empty piece of text as its event: the fragment is made straight from the payload's slice
/// (or takes the unescaped string), with no `String` in between.
fn push_text(
    out: &mut VecDeque<StreamEvent>,
    text: Option<JsonStr<'_>>,
    event: fn(Fragment) -> StreamEvent,
) {
    if let Some(text) = text.filter(|t| !t.is_empty()) {
        out.push_back(event(text.into()));
    }
}

/// Decodes a whole `generateContent` answer to a request for `model`.
///
/// # Errors
/// The classified error a 200 body carries, or `invalid_response` (not JSON, or no finish reason).
pub fn decode(
    provider: &str,
    model: &str,
    request_id: Option<String>,
    body: &[u8],
) -> Result<ChatResponse, Error> {
    let mut turn = Turn::new(provider, model, request_id);
    let text = std::str::from_utf8(body).map_err(|e| {
        turn.attach(
            error::invalid(provider, "generateContent response is not utf-8").with_source(e),
        )
    })?;
    let mut events = VecDeque::new();
    turn.payload(text, &mut events)?;
    if turn.finish(&mut events).is_none() {
        return Err(turn.attach(error::invalid(
            provider,
            "generateContent response has no candidate with a finish reason",
        )));
    }
    let mut collector = Collector::default();
    for event in events {
        collector.push(event);
    }
    Ok(collector.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_round_trip_and_other_providers_signatures_are_none() {
        for anchor in [
            Anchor::Thought("c2ln"),
            Anchor::Call {
                id: "gcall_0_abc",
                signature: "c2ln+/=",
            },
            Anchor::Text("dGV4dA=="),
        ] {
            assert_eq!(Anchor::parse(&anchor.to_text()), Some(anchor));
        }
        // Another provider's signature is none of Gemini's.
        assert_eq!(Anchor::parse("c2lnbmVkIGJ5IENsYXVkZQ=="), None);
        assert_eq!(Anchor::parse(r#"{"type":"reasoning","id":"rs_1"}"#), None);
    }

    #[test]
    fn call_ids_are_stable_and_differ_by_call() {
        let a = call_id(0, "get_weather", &serde_json::json!({"city": "Paris"}));
        assert_eq!(
            a,
            call_id(0, "get_weather", &serde_json::json!({"city": "Paris"}))
        );
        assert_ne!(
            a,
            call_id(0, "get_weather", &serde_json::json!({"city": "Rome"}))
        );
        assert_ne!(
            a,
            call_id(1, "get_weather", &serde_json::json!({"city": "Paris"}))
        );
        assert!(a.starts_with(GENERATED_ID_PREFIX));
    }

    #[test]
    fn usage_counts_thoughts_as_output_and_keeps_the_cache() {
        let u = UsageMetadata {
            prompt_token_count: Some(100),
            candidates_token_count: Some(20),
            cached_content_token_count: Some(64),
            thoughts_token_count: Some(30),
            total_token_count: Some(150),
        }
        .to_usage();
        assert_eq!(u.input_tokens, Some(100));
        assert_eq!(u.output_tokens, Some(50));
        assert_eq!(u.total_tokens, Some(150));
        assert_eq!(u.cached_input_tokens, Some(64));
        assert_eq!(u.reasoning_tokens, Some(30));
    }

    #[test]
    fn a_whole_answer_with_a_signed_call_and_a_blocked_prompt() {
        let body = br#"{"candidates":[{"content":{"role":"model","parts":[
            {"text":"Thinking about weather.","thought":true},
            {"functionCall":{"name":"get_weather","args":{"city":"Paris"}},"thoughtSignature":"U0lHMQ=="}]},
            "finishReason":"STOP","index":0}],
            "usageMetadata":{"promptTokenCount":10,"candidatesTokenCount":5,"thoughtsTokenCount":7,"totalTokenCount":22},
            "modelVersion":"gemini-2.5-flash","responseId":"resp-1"}"#;
        let r = decode("gemini", "asked", Some("req".into()), body).unwrap();
        assert_eq!(r.finish_reason, Some(FinishReason::ToolCalls));
        assert_eq!(r.model, "gemini-2.5-flash");
        assert_eq!(r.response_id.as_deref(), Some("resp-1"));
        assert_eq!(r.tool_calls.len(), 1);
        let id = r.tool_calls[0].id.clone();
        assert_eq!(
            r.reasoning_parts,
            [llm_core::ContentPart::Reasoning {
                text: "Thinking about weather.".into(),
                signature: Some(format!("call={id}#U0lHMQ==")),
            }]
        );
        assert_eq!(r.usage.unwrap().output_tokens, Some(12));

        let blocked = br#"{"promptFeedback":{"blockReason":"SAFETY"},"usageMetadata":{"promptTokenCount":4}}"#;
        let r = decode("gemini", "m", None, blocked).unwrap();
        assert_eq!(r.finish_reason, Some(FinishReason::ContentFilter));
        assert!(r.text.is_empty());
        let none = decode("gemini", "m", None, b"{}").unwrap_err();
        assert_eq!(none.kind(), llm_core::ErrorKind::InvalidResponse);
    }
}
