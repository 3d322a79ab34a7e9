//! Clients per wire format and one checked call.
//!
//! [`call`] sends one request, whole or streamed. A streamed answer is read to its end and held to the
//! streaming contract: `Start` first, `Finish` last on success, nothing after an error. A broken contract
//! is a panic, which [`guard::guarded`](crate::guard::guarded) counts, so the suites assert there were none.

use std::sync::Arc;

use futures::StreamExt;
use llm_claude::{Claude, ClaudeConfig};
use llm_core::{Attempt, ChatRequest, Error, Provider, StreamEvent, Timeouts};
use llm_gemini::{Gemini, GeminiConfig};
use llm_ollama::{Ollama, OllamaConfig};
use llm_openai::{OpenAi, OpenAiConfig, OpenAiResponses, ResponsesConfig};

/// A wire format, and so a provider crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    /// OpenAI Chat Completions (`llm-openai`), SSE streams.
    OpenAi,
    /// Anthropic Messages (`llm-claude`), SSE streams.
    Anthropic,
    /// Ollama `/api/chat` (`llm-ollama`), NDJSON streams.
    Ollama,
    /// OpenAI Responses (`llm-openai`'s `Responses` codec), SSE streams of named events.
    OpenAiResponses,
    /// Gemini `generateContent` (`llm-gemini`) in its Vertex AI form (the key as a bearer token, which is
    /// what llm-katan takes), SSE streams of whole responses.
    Gemini,
}

impl Wire {
    /// `openai`, `anthropic`, `ollama`, `openai-responses` or `gemini`.
    pub fn name(self) -> &'static str {
        match self {
            Wire::OpenAi => "openai",
            Wire::OpenAiResponses => "openai-responses",
            Wire::Anthropic => "anthropic",
            Wire::Ollama => "ollama",
            Wire::Gemini => "gemini",
        }
    }

    /// A client for a server at `base` (`http://127.0.0.1:PORT`, no path) with `key` (ignored by Ollama)
    /// and `timeouts`.
    ///
    /// # Panics
    /// When the client cannot be built (a bug in the suite).
    pub fn provider(self, base: &str, key: &str, timeouts: Timeouts) -> Arc<dyn Provider> {
        let built: Result<Arc<dyn Provider>, Error> = match self {
            Wire::OpenAi => OpenAi::new(
                OpenAiConfig::new(key)
                    .base_url(format!("{base}/v1"))
                    .timeouts(timeouts),
            )
            .map(|p| Arc::new(p) as Arc<dyn Provider>),
            Wire::Anthropic => {
                Claude::new(ClaudeConfig::new(key).base_url(base).timeouts(timeouts))
                    .map(|p| Arc::new(p) as Arc<dyn Provider>)
            }
            Wire::Ollama => Ollama::new(OllamaConfig::default().base_url(base).timeouts(timeouts))
                .map(|p| Arc::new(p) as Arc<dyn Provider>),
            Wire::OpenAiResponses => OpenAiResponses::new(ResponsesConfig::new(
                OpenAiConfig::new(key)
                    .name("openai-responses")
                    .base_url(format!("{base}/v1"))
                    .timeouts(timeouts),
            ))
            .map(|p| Arc::new(p) as Arc<dyn Provider>),
            Wire::Gemini => Gemini::new(
                GeminiConfig::vertex("reliability", "us-central1")
                    .base_url(base)
                    .api_key(key)
                    .timeouts(timeouts),
            )
            .map(|p| Arc::new(p) as Arc<dyn Provider>),
        };
        built.unwrap_or_else(|e| panic!("cannot build the {} client: {e}", self.name()))
    }
}

impl Wire {
    /// The content type of this format's streams.
    pub fn stream_content_type(self) -> &'static str {
        match self {
            Wire::OpenAi | Wire::Anthropic | Wire::OpenAiResponses | Wire::Gemini => {
                "text/event-stream"
            }
            Wire::Ollama => "application/x-ndjson",
        }
    }

    /// What a stream sends before its first text (Anthropic's `message_start` and `content_block_start`).
    pub fn stream_prelude(self) -> &'static [u8] {
        match self {
            Wire::OpenAi | Wire::Ollama | Wire::Gemini => b"",
            Wire::Anthropic => concat!(
                "event: message_start\n",
                r#"data: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[],"usage":{"input_tokens":3,"output_tokens":0}}}"#,
                "\n\n",
                "event: content_block_start\n",
                r#"data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}"#,
                "\n\n",
            )
            .as_bytes(),
            Wire::OpenAiResponses => concat!(
                "event: response.created\n",
                r#"data: {"type":"response.created","response":{"id":"resp_1","object":"response","model":"m","status":"in_progress","output":[]}}"#,
                "\n\n",
                "event: response.output_item.added\n",
                r#"data: {"type":"response.output_item.added","output_index":0,"item":{"id":"msg_1","type":"message","role":"assistant","content":[]}}"#,
                "\n\n",
            )
            .as_bytes(),
        }
    }

    /// One streamed text event carrying `text` (JSON-escaped by the caller if needed).
    pub fn stream_delta(self, text: &str) -> Vec<u8> {
        match self {
            Wire::OpenAi => format!(
                "data: {{\"id\":\"c1\",\"model\":\"m\",\"choices\":[{{\"index\":0,\"delta\":{{\"content\":\"{text}\"}}}}]}}\n\n"
            ),
            Wire::Anthropic => format!(
                "event: content_block_delta\ndata: {{\"type\":\"content_block_delta\",\"index\":0,\"delta\":{{\"type\":\"text_delta\",\"text\":\"{text}\"}}}}\n\n"
            ),
            Wire::Ollama => format!(
                "{{\"model\":\"m\",\"message\":{{\"role\":\"assistant\",\"content\":\"{text}\"}},\"done\":false}}\n"
            ),
            Wire::OpenAiResponses => format!(
                "event: response.output_text.delta\ndata: {{\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,\"delta\":\"{text}\"}}\n\n"
            ),
            Wire::Gemini => format!(
                "data: {{\"candidates\":[{{\"content\":{{\"role\":\"model\",\"parts\":[{{\"text\":\"{text}\"}}]}},\"index\":0}}]}}\n\n"
            ),
        }
        .into_bytes()
    }

    /// The events that end a stream well.
    pub fn stream_end(self) -> &'static [u8] {
        match self {
            Wire::OpenAi => concat!(
                r#"data: {"id":"c1","model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#,
                "\n\ndata: [DONE]\n\n"
            )
            .as_bytes(),
            Wire::Anthropic => concat!(
                "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
                "event: message_delta\n",
                r#"data: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":2}}"#,
                "\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"
            )
            .as_bytes(),
            Wire::Ollama => concat!(
                r#"{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","eval_count":2}"#,
                "\n"
            )
            .as_bytes(),
            Wire::OpenAiResponses => concat!(
                "event: response.completed\n",
                r#"data: {"type":"response.completed","response":{"id":"resp_1","object":"response","model":"m","status":"completed","output":[],"usage":{"input_tokens":3,"output_tokens":2,"total_tokens":5}}}"#,
                "\n\n"
            )
            .as_bytes(),
            Wire::Gemini => concat!(
                r#"data: {"candidates":[{"content":{"role":"model","parts":[]},"finishReason":"STOP","index":0}],"#,
                r#""usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":2,"totalTokenCount":5}}"#,
                "\n\n"
            )
            .as_bytes(),
        }
    }

    /// A whole (non-streamed) answer whose text is `text` (raw bytes, placed inside a JSON string).
    pub fn whole_body(self, text: &[u8]) -> Vec<u8> {
        let (before, after): (&str, &str) = match self {
            Wire::OpenAi => (
                r#"{"id":"c1","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":""#,
                r#""},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}"#,
            ),
            Wire::Anthropic => (
                r#"{"id":"msg_1","type":"message","role":"assistant","model":"m","content":[{"type":"text","text":""#,
                r#""}],"stop_reason":"end_turn","usage":{"input_tokens":1,"output_tokens":1}}"#,
            ),
            Wire::Ollama => (
                r#"{"model":"m","message":{"role":"assistant","content":""#,
                r#""},"done":true,"done_reason":"stop","eval_count":1}"#,
            ),
            Wire::OpenAiResponses => (
                r#"{"id":"resp_1","object":"response","model":"m","status":"completed","output":[{"id":"msg_1","type":"message","role":"assistant","content":[{"type":"output_text","annotations":[],"text":""#,
                r#""}]}],"usage":{"input_tokens":1,"output_tokens":1,"total_tokens":2}}"#,
            ),
            Wire::Gemini => (
                r#"{"candidates":[{"content":{"role":"model","parts":[{"text":""#,
                r#""}]},"finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":1,"candidatesTokenCount":1}}"#,
            ),
        };
        [before.as_bytes(), text, after.as_bytes()].concat()
    }

    /// The start of a stream line or event whose payload follows (for a payload the test writes itself):
    /// `data: ` for SSE formats, nothing for NDJSON.
    pub fn payload_prefix(self) -> &'static [u8] {
        match self {
            Wire::OpenAi | Wire::Gemini => b"data: ",
            Wire::Anthropic => b"event: content_block_delta\ndata: ",
            Wire::Ollama => b"",
            Wire::OpenAiResponses => b"event: response.output_text.delta\ndata: ",
        }
    }

    /// What ends one payload: a blank line for SSE, a newline for NDJSON.
    pub fn payload_suffix(self) -> &'static [u8] {
        match self {
            Wire::OpenAi | Wire::Anthropic | Wire::OpenAiResponses | Wire::Gemini => b"\n\n",
            Wire::Ollama => b"\n",
        }
    }
}

/// A small request every wire format accepts.
pub fn request(model: &str) -> ChatRequest {
    ChatRequest::new(model)
        .user("hello reliability")
        .max_tokens(16)
}

/// A successful answer, whole or streamed.
#[derive(Debug, Clone, Default)]
pub struct Answer {
    /// The text (streamed deltas joined).
    pub text: String,
    /// The provider that answered.
    pub provider: String,
    /// The attempts a chain reported (empty for a bare provider).
    pub attempts: Vec<Attempt>,
}

/// Sends `request` to `provider`, streamed when `stream` is true, and reads the answer to its end.
///
/// # Panics
/// When a stream breaks the contract: no `Start` first, an event after an error, or an end without
/// `Finish` and without an error (a silently short answer).
pub async fn call(
    provider: Arc<dyn Provider>,
    request: ChatRequest,
    stream: bool,
) -> Result<Answer, Error> {
    if !stream {
        let r = provider.chat(&request).await?;
        return Ok(Answer {
            text: r.text,
            provider: r.provider,
            attempts: r.attempts,
        });
    }
    let mut events = provider.stream(&request).await?;
    let mut answer = Answer::default();
    match events.next().await {
        Some(Ok(StreamEvent::Start(start))) => {
            answer.provider = start.provider;
            answer.attempts = start.attempts;
        }
        Some(Err(e)) => {
            assert!(events.next().await.is_none(), "an item after an error");
            return Err(e);
        }
        other => panic!("a stream must begin with Start, got {other:?}"),
    }
    let mut finished = false;
    while let Some(item) = events.next().await {
        match item {
            Ok(StreamEvent::TextDelta(t)) => {
                assert!(!finished, "text after Finish");
                answer.text.push_str(&t);
            }
            Ok(StreamEvent::Finish(_)) => finished = true,
            Ok(StreamEvent::Start(_)) => panic!("a second Start"),
            Ok(_) => {}
            Err(e) => {
                assert!(events.next().await.is_none(), "an item after an error");
                return Err(e);
            }
        }
    }
    assert!(
        finished,
        "the stream ended without Finish and without an error"
    );
    Ok(answer)
}
