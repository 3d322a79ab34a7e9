//! Pure: llama-server's native JSON (a `/completion` answer or stream chunk, `/props`) to typed values.

use llm_core::{Error, ErrorKind, FinishReason, Usage};
use llm_http::JsonStr;
use serde::Deserialize;
use serde_json::Value;

use crate::error::error_from_field;

/// How long prompt processing and generation took, as llama-server reports it (`timings`). Every field is
/// optional: versions differ.
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct Timings {
    /// Prompt tokens processed (not served from the cache).
    #[serde(default)]
    pub prompt_n: Option<u64>,
    /// Milliseconds spent on the prompt.
    #[serde(default)]
    pub prompt_ms: Option<f64>,
    /// Prompt tokens per second.
    #[serde(default)]
    pub prompt_per_second: Option<f64>,
    /// Tokens generated.
    #[serde(default)]
    pub predicted_n: Option<u64>,
    /// Milliseconds spent generating.
    #[serde(default)]
    pub predicted_ms: Option<f64>,
    /// Generated tokens per second.
    #[serde(default)]
    pub predicted_per_second: Option<f64>,
    /// Prompt tokens served from the cache.
    #[serde(default)]
    pub cache_n: Option<u64>,
}

/// How a completion ended: the last chunk's (or the whole answer's) summary.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct CompletionEnd {
    /// `stop_type` mapped: `eos`/`word` → stop, `limit` → length, anything else kept as `other`.
    pub finish_reason: FinishReason,
    /// The raw `stop_type` (`none`, `eos`, `limit`, `word`), derived from the older `stopped_*` flags when
    /// a version does not send it.
    pub stop_type: String,
    /// The stop sequence that ended generation, for `stop_type: word`.
    pub stopping_word: Option<String>,
    /// `tokens_evaluated` (input) and `tokens_predicted` (output), else the timings' counts.
    pub usage: Usage,
    /// The server's timings.
    pub timings: Option<Timings>,
    /// Whether the prompt was truncated to fit the context.
    pub truncated: bool,
    /// The model as the server reported it.
    pub model: Option<String>,
}

/// A whole `/completion` answer.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub struct Completion {
    /// The generated text.
    pub text: String,
    /// How it ended, usage and timings.
    pub end: CompletionEnd,
    /// The provider that answered.
    pub provider: String,
    /// The request id from the response headers, when the server sent one.
    pub request_id: Option<String>,
}

/// One event of a streamed `/completion`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq)]
pub enum CompletionEvent {
    /// A piece of generated text.
    Text(String),
    /// The last event of a stream that ended well.
    End(Box<CompletionEnd>),
}

/// The parts of `GET /props` llmux uses; the rest of the server's answer is not kept.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Props {
    /// How many requests the server decodes in parallel (`-np`).
    #[serde(default)]
    pub total_slots: Option<u32>,
    /// The GGUF file the server loaded.
    #[serde(default)]
    pub model_path: Option<String>,
    /// The default sampling settings, as the server sends them (their shape changes between versions).
    #[serde(default)]
    pub default_generation_settings: Value,
    /// The chat template applied by `/v1/chat/completions`.
    #[serde(default)]
    pub chat_template: Option<String>,
    /// The server's build description, when sent.
    #[serde(default)]
    pub build_info: Option<String>,
}

impl Props {
    /// The context size per slot (`default_generation_settings.n_ctx`), when present.
    pub fn context_size(&self) -> Option<u64> {
        self.default_generation_settings.get("n_ctx")?.as_u64()
    }
}

/// One native chunk or answer, borrowing its strings where they hold no escapes.
#[derive(Debug, Deserialize)]
pub(crate) struct WireCompletion<'a> {
    #[serde(borrow, default)]
    pub(crate) content: Option<JsonStr<'a>>,
    #[serde(default)]
    pub(crate) stop: bool,
    #[serde(borrow, default)]
    stop_type: Option<JsonStr<'a>>,
    #[serde(default)]
    stopped_eos: bool,
    #[serde(default)]
    stopped_word: bool,
    #[serde(default)]
    stopped_limit: bool,
    #[serde(borrow, default)]
    stopping_word: Option<JsonStr<'a>>,
    #[serde(default)]
    tokens_predicted: Option<u64>,
    #[serde(default)]
    tokens_evaluated: Option<u64>,
    #[serde(default)]
    truncated: bool,
    #[serde(default)]
    timings: Option<Timings>,
    #[serde(borrow, default)]
    model: Option<JsonStr<'a>>,
    #[serde(default)]
    pub(crate) error: Option<Value>,
}

impl WireCompletion<'_> {
    /// The summary of a chunk whose `stop` is true.
    pub(crate) fn end(&self) -> CompletionEnd {
        let stop_type = match self.stop_type.as_deref() {
            Some(t) => t.to_owned(),
            None if self.stopped_eos => "eos".to_owned(),
            None if self.stopped_word => "word".to_owned(),
            None if self.stopped_limit => "limit".to_owned(),
            None => "none".to_owned(),
        };
        let timings = self.timings.clone();
        let input = self.tokens_evaluated.or_else(|| timings.as_ref()?.prompt_n);
        let output = self
            .tokens_predicted
            .or_else(|| timings.as_ref()?.predicted_n);
        let usage = match (input, output) {
            (Some(i), Some(o)) => Usage::new(i, o),
            (i, o) => {
                let mut usage = Usage::default();
                usage.input_tokens = i;
                usage.output_tokens = o;
                usage
            }
        };
        CompletionEnd {
            finish_reason: stop_reason(&stop_type),
            stop_type,
            stopping_word: self
                .stopping_word
                .as_deref()
                .filter(|w| !w.is_empty())
                .map(str::to_owned),
            usage,
            timings,
            truncated: self.truncated,
            model: self.model.as_deref().map(str::to_owned),
        }
    }
}

fn invalid(provider: &str, what: &'static str, source: serde_json::Error) -> Error {
    Error::new(ErrorKind::InvalidResponse, what)
        .with_provider(provider.to_owned())
        .with_source(source)
}

/// Decodes a whole `/completion` answer; an `error` field (HTTP 200) is a classified error.
pub fn decode_completion(
    provider: &str,
    body: &[u8],
    request_id: Option<String>,
) -> Result<Completion, Error> {
    let wire: WireCompletion<'_> = serde_json::from_slice(body)
        .map_err(|e| invalid(provider, "the completion is not llama-server's json", e))?;
    if let Some(error) = &wire.error {
        return Err(error_from_field(provider.to_owned(), error).with_request_id_opt(request_id));
    }
    Ok(Completion {
        text: wire.content.as_deref().unwrap_or_default().to_owned(),
        end: wire.end(),
        provider: provider.to_owned(),
        request_id,
    })
}

/// Decodes `GET /props`.
pub fn decode_props(provider: &str, body: &[u8]) -> Result<Props, Error> {
    serde_json::from_slice(body)
        .map_err(|e| invalid(provider, "/props is not llama-server's json", e))
}

/// The finish reason of a native completion's `stop_type`: `eos` and `word` (a stop string) are `stop`,
/// `limit` is `length`; anything else is kept as [`FinishReason::Other`].
fn stop_reason(stop_type: &str) -> FinishReason {
    match stop_type {
        "eos" | "word" => FinishReason::Stop,
        "limit" => FinishReason::Length,
        other => FinishReason::Other(other.to_owned()),
    }
}
