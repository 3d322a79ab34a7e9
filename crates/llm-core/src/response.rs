//! What comes back: a whole response, or the events of a stream.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::attempt::Attempt;
use crate::cost::Cost;
use crate::fragment::Fragment;
use crate::request::{ContentPart, Message, Role};
use crate::tool::ToolCall;

/// Why generation ended.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum FinishReason {
    /// The model finished, or hit a stop sequence.
    Stop,
    /// The token limit was reached.
    Length,
    /// The model wants tools called.
    ToolCalls,
    /// A content filter stopped the output.
    ContentFilter,
    /// The provider reported an error while generating.
    Error,
    /// A reason not listed above, kept as the provider sent it.
    Other(String),
}

impl FinishReason {
    /// The normalised name: one of `stop`, `length`, `tool_calls`, `content_filter`, `error`, `other`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Error => "error",
            FinishReason::Other(_) => "other",
        }
    }
}

impl fmt::Display for FinishReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Token counts, as far as the provider reports them, and what they cost when they were priced.
///
/// Each count means the same whatever the provider; each provider crate maps its own wire counts to these
/// (and tests the mapping), so a cost is computed one way ([`Price::cost`](crate::Price::cost)):
/// - `input_tokens`: every prompt token, cached or not: cache reads and cache writes are parts of it
///   (OpenAI's `prompt_tokens` and Gemini's `promptTokenCount` already count them; Anthropic's
///   `input_tokens` does not, and its codec adds `cache_read_input_tokens` and
///   `cache_creation_input_tokens`).
/// - `output_tokens`: every generated token, hidden reasoning included (Gemini's `thoughtsTokenCount` is
///   added to its `candidatesTokenCount`).
/// - `cached_input_tokens`, `cache_write_input_tokens`: the parts of the input read from and written to the
///   provider's prompt cache; `cache_write_1h_input_tokens`: the part of the writes kept for an hour
///   (Anthropic's 1-hour cache).
/// - `reasoning_tokens`: the part of the output spent on reasoning.
/// - `total_tokens`: as reported, else input + output.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Prompt tokens, cached ones included.
    pub input_tokens: Option<u64>,
    /// Generated tokens, reasoning included.
    pub output_tokens: Option<u64>,
    /// Total tokens as reported; see [`Usage::total`] for a computed fallback.
    pub total_tokens: Option<u64>,
    /// Prompt tokens read from the provider's cache (OpenAI `cached_tokens`, Claude
    /// `cache_read_input_tokens`), a part of `input_tokens`.
    pub cached_input_tokens: Option<u64>,
    /// Prompt tokens written to the provider's cache (Claude `cache_creation_input_tokens`), a part of
    /// `input_tokens`.
    pub cache_write_input_tokens: Option<u64>,
    /// The part of `cache_write_input_tokens` written for an hour (Claude
    /// `cache_creation.ephemeral_1h_input_tokens`), priced apart where it costs more.
    #[serde(default)]
    pub cache_write_1h_input_tokens: Option<u64>,
    /// Tokens spent on hidden reasoning, a part of `output_tokens`.
    pub reasoning_tokens: Option<u64>,
    /// What the tokens cost, when they were priced: for a provider called directly, this answer's cost at
    /// the provider's own price; through a chain, the whole call's cost so far, every attempt included.
    /// `None`: not priced (no price is known for the model).
    #[serde(default)]
    pub cost: Option<Cost>,
}

impl Usage {
    /// Usage with input and output counts; the total is their sum.
    pub fn new(input_tokens: u64, output_tokens: u64) -> Self {
        Usage {
            input_tokens: Some(input_tokens),
            output_tokens: Some(output_tokens),
            total_tokens: Some(input_tokens + output_tokens),
            ..Usage::default()
        }
    }

    /// The reported total, else input + output when both are known.
    pub fn total(&self) -> Option<u64> {
        self.total_tokens
            .or_else(|| Some(self.input_tokens? + self.output_tokens?))
    }
}

/// The counts of two answers added, as the batches of one embeddings call are (a cost is unknown when
/// either is).
impl std::ops::Add for Usage {
    type Output = Usage;

    fn add(self, other: Usage) -> Usage {
        let sum = |x: Option<u64>, y: Option<u64>| match (x, y) {
            (Some(x), Some(y)) => Some(x.saturating_add(y)),
            (x, y) => x.or(y),
        };
        Usage {
            input_tokens: sum(self.input_tokens, other.input_tokens),
            output_tokens: sum(self.output_tokens, other.output_tokens),
            total_tokens: sum(self.total_tokens, other.total_tokens),
            cached_input_tokens: sum(self.cached_input_tokens, other.cached_input_tokens),
            cache_write_input_tokens: sum(
                self.cache_write_input_tokens,
                other.cache_write_input_tokens,
            ),
            cache_write_1h_input_tokens: sum(
                self.cache_write_1h_input_tokens,
                other.cache_write_1h_input_tokens,
            ),
            reasoning_tokens: sum(self.reasoning_tokens, other.reasoning_tokens),
            cost: self.cost.zip(other.cost).map(|(a, b)| a + b),
        }
    }
}

/// What a provider's rate-limit headers said was left of its budget (e.g. `x-ratelimit-remaining-*`), read
/// by [`classify::rate_limit`](crate::classify::rate_limit) with the provider's header names.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests left in the provider's current window.
    pub remaining_requests: Option<u64>,
    /// Tokens left in the provider's current window.
    pub remaining_tokens: Option<u64>,
}

/// A whole (non-streamed) answer.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChatResponse {
    /// The generated text.
    pub text: String,
    /// The tools the model called, in order (their finish reason is [`FinishReason::ToolCalls`]).
    pub tool_calls: Vec<ToolCall>,
    /// Hidden reasoning text, when the provider returns it (all of it, joined).
    pub reasoning: Option<String>,
    /// The reasoning as the provider gave it, block by block, with signatures
    /// ([`ContentPart::Reasoning`], [`ContentPart::RedactedReasoning`]): what must go back in the next turn
    /// ([`ChatResponse::to_message`]).
    pub reasoning_parts: Vec<ContentPart>,
    /// The model as the provider reported it.
    pub model: String,
    /// Why generation ended.
    pub finish_reason: Option<FinishReason>,
    /// Token counts.
    pub usage: Option<Usage>,
    /// The provider that answered.
    pub provider: String,
    /// The provider's request id.
    pub request_id: Option<String>,
    /// The provider's id for this response (e.g. `chatcmpl-…`, `msg_…`), when it sends one.
    pub response_id: Option<String>,
    /// The attempts made before and including the answering one (filled by a fallback chain; empty when a
    /// provider is called directly).
    pub attempts: Vec<Attempt>,
    /// What the provider's rate-limit headers said was left, when it sent them (HTTP providers).
    pub rate_limit: Option<RateLimit>,
}

impl ChatResponse {
    /// What the answer cost ([`Usage::cost`]): through a chain, the whole call, every attempt included;
    /// `None` when it was not priced.
    pub fn cost(&self) -> Option<Cost> {
        self.usage.and_then(|u| u.cost)
    }

    /// A response with text, model and provider set and everything else empty.
    pub fn new(
        provider: impl Into<String>,
        model: impl Into<String>,
        text: impl Into<String>,
    ) -> Self {
        ChatResponse {
            text: text.into(),
            model: model.into(),
            provider: provider.into(),
            ..ChatResponse::default()
        }
    }

    /// This answer as the assistant turn of the next request: its reasoning parts (signatures kept), its
    /// text, its tool calls, in that order.
    ///
    /// ```
    /// use llm_core::{ChatResponse, ContentPart, Role};
    /// let mut answer = ChatResponse::new("claude", "m", "Done.");
    /// answer.reasoning_parts.push(ContentPart::Reasoning { text: "hm".into(), signature: Some("sig".into()) });
    /// let turn = answer.to_message();
    /// assert_eq!(turn.role, Role::Assistant);
    /// assert_eq!(turn.content[0].kind(), "reasoning");
    /// assert_eq!(turn.content[1], ContentPart::text("Done."));
    /// ```
    pub fn to_message(&self) -> Message {
        let mut content = self.reasoning_parts.clone();
        if !self.text.is_empty() {
            content.push(ContentPart::text(self.text.clone()));
        }
        content.extend(self.tool_calls.iter().cloned().map(ContentPart::ToolCall));
        Message {
            role: Role::Assistant,
            content,
        }
    }

    /// The events a stream would have produced for this answer, for a streaming request answered with a
    /// whole body: `Start` (with the request and response ids and the attempts), then reasoning (block by
    /// block with signatures when the parts are known) and text when not empty, tool calls, usage and the
    /// finish reason when known.
    pub fn into_events(self) -> Vec<StreamEvent> {
        let mut start = StreamStart::new(self.provider, self.model);
        start.request_id = self.request_id;
        start.response_id = self.response_id;
        start.attempts = self.attempts;
        start.rate_limit = self.rate_limit.map(Box::new);
        let mut events = vec![StreamEvent::Start(start)];
        if self.reasoning_parts.is_empty()
            && let Some(reasoning) = self.reasoning.filter(|r| !r.is_empty())
        {
            events.push(StreamEvent::ReasoningDelta(reasoning.into()));
        }
        for part in self.reasoning_parts {
            match part {
                ContentPart::Reasoning { text, signature } => {
                    if !text.is_empty() {
                        events.push(StreamEvent::ReasoningDelta(text.into()));
                    }
                    if let Some(signature) = signature {
                        events.push(StreamEvent::ReasoningSignature(signature));
                    }
                }
                ContentPart::RedactedReasoning { data } => {
                    events.push(StreamEvent::RedactedReasoning(data));
                }
                _ => {}
            }
        }
        if !self.text.is_empty() {
            events.push(StreamEvent::TextDelta(self.text.into()));
        }
        for (index, call) in self.tool_calls.into_iter().enumerate() {
            events.push(StreamEvent::ToolCallStart {
                index,
                id: call.id.clone(),
                name: call.name.clone(),
            });
            events.push(StreamEvent::ToolCall { index, call });
        }
        if let Some(usage) = self.usage {
            events.push(StreamEvent::Usage(usage));
        }
        if let Some(reason) = self.finish_reason {
            events.push(StreamEvent::Finish(reason));
        }
        events
    }
}

/// The first event of every stream: who is answering.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamStart {
    /// The provider that answers.
    pub provider: String,
    /// The model as the provider reported it (or as requested, until the provider says).
    pub model: String,
    /// The provider's request id.
    pub request_id: Option<String>,
    /// The provider's id for this response (e.g. `chatcmpl-…`, `msg_…`), when it sends one.
    pub response_id: Option<String>,
    /// Attempts made before this stream started (filled by a fallback chain).
    pub attempts: Vec<Attempt>,
    /// What the provider's rate-limit headers said was left, when it sent them (filled by the HTTP driver
    /// from the response's headers, as [`ChatResponse::rate_limit`] is for a whole answer). Boxed: it comes
    /// once per stream, and every [`StreamEvent`] is as large as its largest variant.
    pub rate_limit: Option<Box<RateLimit>>,
}

impl StreamStart {
    /// A start event for `provider` and `model`.
    pub fn new(provider: impl Into<String>, model: impl Into<String>) -> Self {
        StreamStart {
            provider: provider.into(),
            model: model.into(),
            ..StreamStart::default()
        }
    }
}

/// One event of a streamed answer. Every stream begins with [`StreamEvent::Start`] and, when it ends well,
/// has emitted [`StreamEvent::Finish`]; a stream that fails yields an `Err` item and then ends.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// The answer started.
    Start(StreamStart),
    /// A piece of the generated text.
    TextDelta(Fragment),
    /// A piece of hidden reasoning text.
    ReasoningDelta(Fragment),
    /// The signature of the reasoning streamed since the previous signature (Claude's `signature_delta`s,
    /// assembled): it goes back with that text in the next turn.
    ReasoningSignature(String),
    /// A block of reasoning the provider gave only encrypted (Claude's `redacted_thinking`).
    RedactedReasoning(String),
    /// The model started the call `index` (0, 1, … in the order the calls are made) of tool `name`.
    ToolCallStart {
        /// The call's position in this answer.
        index: usize,
        /// The call's id.
        id: String,
        /// The tool called.
        name: String,
    },
    /// A piece of the arguments of call `index`, as streamed (JSON text split anywhere).
    ToolCallDelta {
        /// The call's position in this answer.
        index: usize,
        /// The next piece of the arguments' JSON text.
        arguments: Fragment,
    },
    /// Call `index` is complete, with its arguments parsed.
    ToolCall {
        /// The call's position in this answer.
        index: usize,
        /// The call.
        call: ToolCall,
    },
    /// Token counts (may come more than once; the latest is the truth).
    Usage(Usage),
    /// Why generation ended.
    Finish(FinishReason),
}

impl StreamEvent {
    /// True for events that carry generated output (text, reasoning, a tool call starting): after the first
    /// one, a fallback chain may no longer switch providers.
    pub fn is_content(&self) -> bool {
        match self {
            StreamEvent::TextDelta(t) | StreamEvent::ReasoningDelta(t) => !t.is_empty(),
            StreamEvent::RedactedReasoning(_) => true,
            StreamEvent::ToolCallStart { .. } | StreamEvent::ToolCall { .. } => true,
            _ => false,
        }
    }
}

/// Builds a [`ChatResponse`] from stream events, as they come: text and reasoning joined, reasoning blocks
/// kept with their signatures, finished tool calls in order, the latest usage, the finish reason.
///
/// ```
/// use llm_core::{Collector, FinishReason, StreamEvent, StreamStart};
/// let mut collector = Collector::default();
/// for event in [
///     StreamEvent::Start(StreamStart::new("claude", "m")),
///     StreamEvent::ReasoningDelta("Let me ".into()),
///     StreamEvent::ReasoningDelta("see.".into()),
///     StreamEvent::ReasoningSignature("sig".into()),
///     StreamEvent::TextDelta("42".into()),
///     StreamEvent::Finish(FinishReason::Stop),
/// ] {
///     collector.push(event);
/// }
/// let answer = collector.finish();
/// assert_eq!(answer.text, "42");
/// assert_eq!(answer.reasoning.as_deref(), Some("Let me see."));
/// assert_eq!(answer.to_message().content.len(), 2);
/// ```
#[derive(Debug, Default)]
pub struct Collector {
    response: ChatResponse,
    /// Reasoning text since the last signature or redacted block.
    open_reasoning: String,
}

impl Collector {
    /// Takes one event.
    pub fn push(&mut self, event: StreamEvent) {
        let r = &mut self.response;
        match event {
            StreamEvent::Start(start) => {
                r.provider = start.provider;
                r.model = start.model;
                r.request_id = start.request_id;
                r.response_id = start.response_id;
                r.attempts = start.attempts;
            }
            StreamEvent::TextDelta(text) => r.text.push_str(&text),
            StreamEvent::ReasoningDelta(text) => {
                r.reasoning.get_or_insert_with(String::new).push_str(&text);
                self.open_reasoning.push_str(&text);
            }
            StreamEvent::ReasoningSignature(signature) => {
                r.reasoning_parts.push(ContentPart::Reasoning {
                    text: std::mem::take(&mut self.open_reasoning),
                    signature: Some(signature),
                });
            }
            StreamEvent::RedactedReasoning(data) => {
                self.close_reasoning();
                self.response
                    .reasoning_parts
                    .push(ContentPart::RedactedReasoning { data });
            }
            StreamEvent::ToolCall { call, .. } => r.tool_calls.push(call),
            StreamEvent::Usage(usage) => r.usage = Some(usage),
            StreamEvent::Finish(reason) => r.finish_reason = Some(reason),
            StreamEvent::ToolCallStart { .. } | StreamEvent::ToolCallDelta { .. } => {}
        }
    }

    /// Reasoning text without a signature so far becomes a part of its own (providers that do not sign).
    fn close_reasoning(&mut self) {
        if !self.open_reasoning.is_empty() {
            self.response.reasoning_parts.push(ContentPart::Reasoning {
                text: std::mem::take(&mut self.open_reasoning),
                signature: None,
            });
        }
    }

    /// The answer so far.
    pub fn finish(mut self) -> ChatResponse {
        // Unsigned reasoning is kept as text only when nothing was signed: a provider that signs nothing
        // needs no parts back, and `reasoning` already holds the text.
        if !self.response.reasoning_parts.is_empty() {
            self.close_reasoning();
        }
        self.response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn into_events_replays_in_stream_order_and_skips_empty_parts() {
        let mut r = ChatResponse::new("p", "m", "hi");
        r.reasoning = Some("think".into());
        r.usage = Some(Usage::new(1, 2));
        r.finish_reason = Some(FinishReason::Stop);
        r.request_id = Some("req".into());
        r.response_id = Some("resp".into());
        let events = r.into_events();
        assert!(matches!(&events[0], StreamEvent::Start(s)
            if s.request_id.as_deref() == Some("req") && s.response_id.as_deref() == Some("resp")));
        assert_eq!(events[1], StreamEvent::ReasoningDelta("think".into()));
        assert_eq!(events[2], StreamEvent::TextDelta("hi".into()));
        assert_eq!(events[3], StreamEvent::Usage(Usage::new(1, 2)));
        assert_eq!(events[4], StreamEvent::Finish(FinishReason::Stop));
        let start = StreamEvent::ToolCallStart {
            index: 0,
            id: "c".into(),
            name: "t".into(),
        };
        assert!(
            start.is_content(),
            "a tool call is content: no fallback after it"
        );
        let delta = StreamEvent::ToolCallDelta {
            index: 0,
            arguments: Fragment::default(),
        };
        assert!(!delta.is_content());
        let mut empty = ChatResponse::new("p", "m", "");
        empty.reasoning = Some(String::new());
        assert_eq!(empty.into_events().len(), 1);
    }
}
