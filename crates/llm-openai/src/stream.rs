//! Pure stream decoding: Chat Completions SSE payloads (`chat.completion.chunk` JSON, `[DONE]`, error
//! objects) to llmux [`StreamEvent`]s, as small state machines that need no IO.
//!
//! [`ChunkDecoder`] takes one SSE `data` payload at a time; [`SseDecoder`] takes raw bytes (it owns an
//! [`SseParser`]) and is what the client and fuzz targets drive.
//!
//! The rules, for every OpenAI-compatible server:
//! - `Start` comes first, emitted with the first chunk (so it carries the model the server reports and the
//!   chunk `id` as response id); an error before any chunk is an `Err` without a `Start`.
//! - A role-only chunk is not content. `delta.content` is text; `delta.reasoning_content` (llama.cpp,
//!   DeepSeek) and `delta.reasoning` (OpenRouter) are reasoning. Only choice 0 is read.
//! - `usage` is read wherever it comes: a separate chunk with `choices: []` or `choices: null`, or the finish
//!   chunk. Unknown fields (llama.cpp's `timings`) are ignored.
//! - The finish reason is held back and emitted as the last event, so `Finish` always ends a good stream,
//!   after any usage. A stream without a finish reason ends without `Finish`.
//! - `[DONE]` ends the stream. If the input ends without `[DONE]` but after a finish reason, the answer is
//!   complete and the stream ends well (some compatible servers omit `[DONE]`); without either it is a
//!   `network` error ("stream ended before [DONE]"), never a silently short answer.
//! - A chunk with an `error` object (`{"error":{…}}`, vLLM's `{"object":"error",…}`, OpenRouter's error
//!   chunk with `finish_reason: "error"`) is the classified error it describes, as if it had come as an HTTP
//!   status; so is an SSE `event: error`. A choice that finishes with `error` and no error object is
//!   `server`.
//! - An undecodable payload or an SSE size-limit error is `invalid_response`.
//! - After an error, nothing more is decoded.

use std::borrow::Cow;
use std::collections::VecDeque;

use llm_core::{Error, ErrorKind, FinishReason, StreamEvent, StreamStart};
use llm_stream::{Limits, SseError, SseEventRef, SseParser};
use serde::Deserialize;
use serde_json::Value;

use crate::error::{error_in_json, finish_reason_error, invalid};
use crate::response::{ResponseMeta, WireUsage};

/// The longest piece of an undecodable payload quoted in an error message.
const SNIPPET: usize = 120;

#[derive(Deserialize)]
struct Chunk<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    model: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    object: Option<Cow<'a, str>>,
    #[serde(default)]
    error: Option<Value>,
    #[serde(borrow, default)]
    choices: Option<Vec<Choice<'a>>>,
    #[serde(default)]
    usage: Option<WireUsage>,
}

#[derive(Deserialize)]
struct Choice<'a> {
    #[serde(default)]
    index: Option<u64>,
    #[serde(borrow, default)]
    delta: Option<Delta<'a>>,
    #[serde(borrow, default)]
    finish_reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Delta<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning_content: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    reasoning: Option<Cow<'a, str>>,
}

/// Where a [`ChunkDecoder`] stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Decoding chunks.
    Open,
    /// `[DONE]` came, or the input ended well: further payloads are ignored.
    Done,
    /// An error was returned: further payloads are ignored.
    Failed,
}

/// Decodes SSE `data` payloads of a Chat Completions stream into [`StreamEvent`]s; see the module docs for
/// the rules.
///
/// ```
/// use llm_core::{FinishReason, StreamEvent};
/// use llm_openai::{ChunkDecoder, ResponseMeta};
///
/// let mut d = ChunkDecoder::new(ResponseMeta::new("openai", "gpt-4o-mini"));
/// d.push(r#"{"id":"c1","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"}}]}"#).unwrap();
/// d.push(r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#).unwrap();
/// d.push("[DONE]").unwrap();
/// let events: Vec<_> = std::iter::from_fn(|| d.next_event()).collect();
/// assert!(matches!(events[0], StreamEvent::Start(_)));
/// assert_eq!(events[1], StreamEvent::TextDelta("Hi".into()));
/// assert_eq!(events[2], StreamEvent::Finish(FinishReason::Stop));
/// assert!(d.is_done());
/// ```
#[derive(Debug)]
pub struct ChunkDecoder {
    meta: ResponseMeta,
    state: State,
    started: bool,
    finish: Option<FinishReason>,
    queue: VecDeque<StreamEvent>,
}

impl ChunkDecoder {
    /// A decoder for one response.
    pub fn new(meta: ResponseMeta) -> Self {
        ChunkDecoder {
            meta,
            state: State::Open,
            started: false,
            finish: None,
            queue: VecDeque::with_capacity(4),
        }
    }

    /// True once `[DONE]` came or the input ended well.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// True once an error was returned.
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// The next decoded event, if one is queued.
    #[must_use]
    pub fn next_event(&mut self) -> Option<StreamEvent> {
        self.queue.pop_front()
    }

    /// Decodes one SSE `data` payload. An `Err` is the classified error the payload carries (or an
    /// `invalid_response` error), after which the decoder ignores further input; events queued before it
    /// are still there to be taken, and come before the error.
    pub fn push(&mut self, data: &str) -> Result<(), Error> {
        if self.state != State::Open {
            return Ok(());
        }
        let data = data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            self.start(None, None);
            self.end_well();
            return Ok(());
        }
        let chunk: Chunk<'_> = match serde_json::from_str(data) {
            Ok(c) => c,
            Err(e) => {
                let shown: String = data.chars().take(SNIPPET).collect();
                let err = invalid(
                    self.meta.provider.clone(),
                    format!("undecodable stream chunk: {shown}"),
                )
                .with_source(e);
                return Err(self.fail(err, None));
            }
        };
        let id = chunk.id.as_deref();
        if chunk.error.is_some() || chunk.object.as_deref() == Some("error") {
            let err = error_in_json(self.meta.provider.clone(), data)
                .unwrap_or_else(|| finish_reason_error(self.meta.provider.clone()));
            return Err(self.fail(err, id));
        }
        self.start(chunk.model.as_deref(), id);
        let choice = chunk
            .choices
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find(|c| c.index.unwrap_or(0) == 0);
        if let Some(choice) = choice {
            if let Some(delta) = &choice.delta {
                let reasoning = delta
                    .reasoning_content
                    .as_deref()
                    .or(delta.reasoning.as_deref());
                if let Some(r) = reasoning.filter(|r| !r.is_empty()) {
                    self.queue
                        .push_back(StreamEvent::ReasoningDelta(r.to_owned()));
                }
                if let Some(t) = delta.content.as_deref().filter(|t| !t.is_empty()) {
                    self.queue.push_back(StreamEvent::TextDelta(t.to_owned()));
                }
            }
            if let Some(reason) = choice.finish_reason.as_deref() {
                let reason = FinishReason::from_provider(reason);
                if reason == FinishReason::Error {
                    let err = finish_reason_error(self.meta.provider.clone());
                    return Err(self.fail(err, id));
                }
                self.finish = Some(reason);
            }
        }
        if let Some(usage) = &chunk.usage {
            self.queue.push_back(StreamEvent::Usage(usage.to_usage()));
        }
        Ok(())
    }

    /// The input ended. `Ok` when the stream is complete (`[DONE]`, or a finish reason without `[DONE]`);
    /// otherwise a `network` error, after which the decoder ignores further input.
    pub fn finish(&mut self) -> Result<(), Error> {
        match self.state {
            State::Done | State::Failed => Ok(()),
            State::Open if self.finish.is_some() => {
                self.end_well();
                Ok(())
            }
            State::Open => {
                let err = Error::new(ErrorKind::Network, "stream ended before [DONE]")
                    .with_provider(self.meta.provider.clone());
                Err(self.fail(err, None))
            }
        }
    }

    /// Ends the stream with `error` (e.g. a transport or size-limit error seen by the caller): the decoder
    /// ignores further input and the error gets this response's request id.
    pub fn fail(&mut self, error: Error, body_id: Option<&str>) -> Error {
        self.state = State::Failed;
        self.meta.attach(error, body_id)
    }

    fn start(&mut self, model: Option<&str>, id: Option<&str>) {
        if self.started {
            return;
        }
        self.started = true;
        let mut start = StreamStart::new(
            self.meta.provider.clone(),
            model.unwrap_or(&self.meta.model),
        );
        // Remembered, so that a later error chunk without an `id` still carries the request id.
        self.meta.request_id = self.meta.request_id_or(id);
        start.request_id = self.meta.request_id.clone();
        start.response_id = id.map(str::to_owned);
        self.queue.push_back(StreamEvent::Start(start));
    }

    fn end_well(&mut self) {
        self.state = State::Done;
        if let Some(reason) = self.finish.take() {
            self.queue.push_back(StreamEvent::Finish(reason));
        }
    }
}

/// Decodes a Chat Completions SSE byte stream: an [`SseParser`] feeding a [`ChunkDecoder`]. Feed bytes in
/// chunks of any size, take items with [`SseDecoder::next_item`] until it returns `None`, call
/// [`SseDecoder::end`] when the input ends and drain again. After an `Err` item it yields nothing more.
///
/// ```
/// use llm_core::StreamEvent;
/// use llm_openai::{ResponseMeta, SseDecoder};
///
/// let mut d = SseDecoder::new(ResponseMeta::new("openai", "gpt-4o-mini"));
/// d.feed(b": keep-alive\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\ndata: [DO");
/// d.feed(b"NE]\n\n");
/// d.end();
/// let items: Vec<_> = std::iter::from_fn(|| d.next_item()).collect();
/// assert_eq!(items[1].as_ref().unwrap(), &StreamEvent::TextDelta("Hi".into()));
/// assert_eq!(items.len(), 2);
/// ```
#[derive(Debug)]
pub struct SseDecoder {
    parser: SseParser,
    chunks: ChunkDecoder,
    ended: bool,
    error: Option<Error>,
}

impl SseDecoder {
    /// A decoder for one response.
    pub fn new(meta: ResponseMeta) -> Self {
        SseDecoder::with_limits(meta, Limits::default())
    }

    /// A decoder whose SSE parser enforces `limits` (default: [`Limits::DEFAULT_MAX`] per line and event).
    pub fn with_limits(meta: ResponseMeta, limits: Limits) -> Self {
        SseDecoder {
            parser: SseParser::with_limits(limits),
            chunks: ChunkDecoder::new(meta),
            ended: false,
            error: None,
        }
    }

    /// Feeds the next bytes of the body (ignored once the stream is done or failed). The events lying
    /// whole in `bytes` are decoded right away from borrowed text, with no owned copy of their data.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.is_terminated() {
            return;
        }
        let mut events = self.parser.feed_ref(bytes);
        while let Some(event) = events.next_event_ref() {
            if let Err(e) = decode_event(&mut self.chunks, event) {
                self.error.get_or_insert(e);
            }
            if self.chunks.is_done() || self.chunks.is_failed() {
                // The rest of the body carries nothing; dropping the cursor queues what is left of the
                // chunk, which `next_item` never reads.
                break;
            }
        }
    }

    /// True once the stream is complete or failed: the rest of the body carries nothing.
    pub fn is_terminated(&self) -> bool {
        self.chunks.is_done() || self.chunks.is_failed()
    }

    /// The input ended: a stream that is not complete becomes a `network` error.
    pub fn end(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        self.drain_parser();
        if self.is_terminated() {
            return;
        }
        // A truncated last event is a network failure unless the answer was already complete, which
        // `ChunkDecoder::finish` decides either way.
        let _truncated = self.parser.finish();
        self.drain_parser();
        if let Err(e) = self.chunks.finish() {
            self.error.get_or_insert(e);
        }
    }

    /// Ends the stream with `error` (a transport failure): unless the stream is already complete or failed,
    /// it becomes the next item, with the request id attached.
    pub fn fail(&mut self, error: Error) {
        if self.is_terminated() {
            return;
        }
        let error = self.chunks.fail(error, None);
        self.error.get_or_insert(error);
    }

    /// The next event or error; `None` when more input is needed or everything was yielded.
    #[must_use]
    pub fn next_item(&mut self) -> Option<Result<StreamEvent, Error>> {
        loop {
            if let Some(event) = self.chunks.next_event() {
                return Some(Ok(event));
            }
            if let Some(e) = self.error.take() {
                return Some(Err(e));
            }
            if self.is_terminated() {
                return None;
            }
            self.step()?;
        }
    }

    /// Parses one SSE event into the chunk decoder; `None` when the parser needs more input.
    fn step(&mut self) -> Option<()> {
        let event = self.parser.next_event_ref()?;
        if let Err(e) = decode_event(&mut self.chunks, event) {
            self.error.get_or_insert(e);
        }
        Some(())
    }

    fn drain_parser(&mut self) {
        while !self.is_terminated() && self.step().is_some() {}
    }
}

/// Decodes one SSE event (or parser error) into `chunks`: an `error` event or a size-limit error fails the
/// stream.
fn decode_event(
    chunks: &mut ChunkDecoder,
    event: Result<SseEventRef<'_>, SseError>,
) -> Result<(), Error> {
    match event {
        Ok(event) if event.event() == "error" => {
            let provider = chunks.meta.provider.clone();
            let err = error_in_json(provider.clone(), event.data()).unwrap_or_else(|| {
                Error::new(ErrorKind::Server, format!("error event: {}", event.data()))
                    .with_provider(provider)
            });
            Err(chunks.fail(err, None))
        }
        Ok(event) => chunks.push(event.data()),
        Err(e) => {
            let err = invalid(chunks.meta.provider.clone(), e.to_string()).with_source(e);
            Err(chunks.fail(err, None))
        }
    }
}

/// Decodes a whole recorded stream given as byte chunks: every event and error in order, as a client would
/// yield them. For tests, fixtures and fuzz targets.
pub fn decode_sse<'a>(
    meta: ResponseMeta,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<Result<StreamEvent, Error>> {
    let mut decoder = SseDecoder::new(meta);
    let mut out = Vec::new();
    for chunk in chunks {
        decoder.feed(chunk);
        out.extend(std::iter::from_fn(|| decoder.next_item()));
    }
    decoder.end();
    out.extend(std::iter::from_fn(|| decoder.next_item()));
    out
}
