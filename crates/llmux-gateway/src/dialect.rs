//! The one seam between the gateway and an API it speaks: [`Dialect`]. The handlers, the stream pump and
//! the error path are written once against it; each API (Chat Completions, Messages, Responses) is one
//! implementation, with its reading, answers, stream events, errors and model list together in its module.

use std::fmt;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode};
use llmux::{ChatRequest, ChatResponse, StreamEvent};
use serde_json::Value;

use crate::error::{ApiError, Problem};

/// A client's request, read into the library's vocabulary.
#[derive(Debug)]
pub struct Parsed {
    /// The request the chain serves (its model empty: each entry sends its own).
    pub request: ChatRequest,
    /// The model name the client sent: it picks a route, and answers name it back when no entry's
    /// model is known.
    pub model: String,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// OpenAI `stream_options.include_usage`.
    pub include_usage: bool,
    /// The client asked for reasoning blocks without their text (Anthropic's `thinking.display:
    /// "omitted"`): signatures and encrypted reasoning still go back, so the next turn can return them.
    pub omit_reasoning: bool,
    /// The request's fields an API repeats in its answers (the Responses API echoes `instructions`,
    /// `tools`, `reasoning`, …), as the client sent them; shared, not copied, with a stream's encoder.
    pub echo: Arc<serde_json::Map<String, Value>>,
}

impl Parsed {
    /// A request with nothing removed and no stream options.
    pub fn new(request: ChatRequest, model: impl Into<String>, stream: bool) -> Parsed {
        Parsed {
            request,
            model: model.into(),
            stream,
            include_usage: false,
            omit_reasoning: false,
            echo: Arc::default(),
        }
    }
}

/// A 400's message.
pub type Invalid = String;

/// What an answer is sent as: its id and the model it names.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The answer's id in the dialect's form (`chatcmpl-…`, `msg_…`, `resp_…`).
    pub id: String,
    /// The model name the answer gives.
    pub model: String,
}

/// One API the gateway speaks.
pub trait Dialect: fmt::Debug + Send + Sync + 'static {
    /// The API's name in metrics (`openai`, `anthropic`, `responses`).
    fn name(&self) -> &'static str;

    /// Reads a request body (`headers` for what the API carries there, e.g. `anthropic-beta`).
    fn read(&self, body: &[u8], headers: &HeaderMap) -> Result<Parsed, Invalid>;

    /// An answer id made of the gateway's counter `n`.
    fn fresh_id(&self, n: u64) -> String;

    /// A whole answer to `parsed`.
    fn whole(&self, answer: &ChatResponse, reply: &Reply, parsed: &Parsed) -> Value;

    /// The encoder of a streamed answer.
    fn stream(&self, reply: Reply, parsed: &Parsed) -> Box<dyn Encode>;

    /// The HTTP status of a problem (the same in every API but for what a dialect overrides).
    fn status(&self, problem: Problem) -> StatusCode {
        problem.status()
    }

    /// The error's `type` (and OpenAI's `code`) in this API.
    fn error_type(&self, problem: Problem) -> (&'static str, Option<&'static str>);

    /// The error body.
    fn error_body(&self, error: &ApiError) -> Value;

    /// The SSE text that ends a stream failing after its first token.
    fn error_event(&self, error: &ApiError) -> String;

    /// `GET /v1/models` in this API's shape.
    fn models(&self, names: &[String]) -> Value;
}

/// Turns stream events into a dialect's SSE text.
pub trait Encode: Send + 'static {
    /// Appends what `event` becomes (possibly nothing).
    fn event(&mut self, event: StreamEvent, out: &mut String);
    /// Appends what ends a stream that finished well.
    fn end(&mut self, out: &mut String);
    /// Appends what ends a stream that failed after its first token: by default the dialect's error event.
    fn fail(&mut self, error: &ApiError, out: &mut String) {
        out.push_str(&error.stream_event());
    }
    /// Appends what tells a client the stream is alive while the provider is silent (an SSE comment unless
    /// the dialect has an event for it).
    fn keepalive(&self, out: &mut String) {
        out.push_str(": keep-alive\n\n");
    }
}
