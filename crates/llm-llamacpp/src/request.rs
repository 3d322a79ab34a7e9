//! Pure: a raw-prompt [`CompletionRequest`] to the JSON body of llama-server's native `POST /completion`.
//!
//! (Chat requests go through `llm-openai`'s encoder for `/v1/chat/completions`.)

use llm_core::{ChatRequest, Error, ErrorKind, Params, Violation};
use serde::Serialize;
use serde_json::{Map, Value};

use crate::config::PARAMS;

/// Body fields this crate writes itself; an `extra` key among them is a `validation` error.
pub const COMPLETION_FIELDS: [&str; 11] = [
    "prompt",
    "stream",
    "n_predict",
    "temperature",
    "top_p",
    "top_k",
    "repeat_penalty",
    "seed",
    "stop",
    "frequency_penalty",
    "presence_penalty",
];

/// A raw prompt completion for llama-server's native `/completion` (no chat template is applied).
///
/// ```
/// use llm_llamacpp::CompletionRequest;
/// let request = CompletionRequest::new("The capital of France is").max_tokens(8).temperature(0.0);
/// assert_eq!(request.params.max_tokens, Some(8));
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CompletionRequest {
    /// The prompt, sent as is.
    pub prompt: String,
    /// Sampling parameters (`max_tokens` is sent as `n_predict`), checked against [`PARAMS`].
    pub params: Params,
    /// Other `/completion` fields (`cache_prompt`, `min_p`, `grammar`, `n_probs`, …), merged at the top level.
    pub extra: Map<String, Value>,
}

impl CompletionRequest {
    /// A request for `prompt` with the server's default parameters.
    pub fn new(prompt: impl Into<String>) -> Self {
        CompletionRequest {
            prompt: prompt.into(),
            ..CompletionRequest::default()
        }
    }

    /// Replaces all parameters.
    #[must_use]
    pub fn params(mut self, params: Params) -> Self {
        self.params = params;
        self
    }

    /// Sets the most tokens to generate (`n_predict`).
    #[must_use]
    pub fn max_tokens(mut self, value: i64) -> Self {
        self.params.max_tokens = Some(value);
        self
    }

    /// Sets the temperature.
    #[must_use]
    pub fn temperature(mut self, value: f64) -> Self {
        self.params.temperature = Some(value);
        self
    }

    /// Sets the seed.
    #[must_use]
    pub fn seed(mut self, value: i64) -> Self {
        self.params.seed = Some(value);
        self
    }

    /// Adds a stop sequence.
    #[must_use]
    pub fn stop(mut self, sequence: impl Into<String>) -> Self {
        self.params.stop.push(sequence.into());
        self
    }

    /// Adds a `/completion` field.
    #[must_use]
    pub fn extra(mut self, key: impl Into<String>, value: Value) -> Self {
        self.extra.insert(key.into(), value);
        self
    }

    /// Every parameter violation ([`PARAMS`] ranges, colliding extras).
    pub fn violations(&self) -> Vec<Violation> {
        // The table checks a chat request; a one-message stand-in carries the same parameters.
        let stand_in = ChatRequest::new("completion")
            .user("")
            .params(self.params.clone());
        let mut out = PARAMS.violations(&stand_in);
        for key in COMPLETION_FIELDS {
            if self.extra.contains_key(key) {
                out.push(Violation::new(
                    format!("extra.{key}"),
                    "a field llm-llamacpp does not write itself",
                    format!("`{key}`"),
                ));
            }
        }
        out
    }
}

#[derive(Serialize)]
struct Body<'a> {
    prompt: &'a str,
    stream: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    n_predict: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_p: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    top_k: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    repeat_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    seed: Option<i64>,
    #[serde(skip_serializing_if = "no_stop")]
    stop: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    frequency_penalty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    presence_penalty: Option<f64>,
    #[serde(flatten)]
    extra: &'a Map<String, Value>,
}

fn no_stop(stop: &&[String]) -> bool {
    stop.is_empty()
}

/// The JSON body of `POST /completion` for `request`; a `validation` error (naming `provider`) lists every
/// violation.
pub fn completion_body(
    provider: &str,
    request: &CompletionRequest,
    stream: bool,
) -> Result<Vec<u8>, Error> {
    let violations = request.violations();
    if !violations.is_empty() {
        return Err(Error::validation(provider.to_owned(), violations));
    }
    let p = &request.params;
    let body = Body {
        prompt: &request.prompt,
        stream,
        n_predict: p.max_tokens,
        temperature: p.temperature,
        top_p: p.top_p,
        top_k: p.top_k,
        repeat_penalty: p.repeat_penalty,
        seed: p.seed,
        stop: &p.stop,
        frequency_penalty: p.frequency_penalty,
        presence_penalty: p.presence_penalty,
        extra: &request.extra,
    };
    serde_json::to_vec(&body).map_err(|e| {
        Error::new(ErrorKind::Validation, "request body cannot be encoded")
            .with_provider(provider.to_owned())
            .with_source(e)
    })
}
