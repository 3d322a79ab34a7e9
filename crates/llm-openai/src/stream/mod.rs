//! Pure stream decoding: Chat Completions SSE payloads (`chat.completion.chunk` JSON, `[DONE]`, error
//! objects) to llmux [`StreamEvent`]s, as small state machines that need no IO.
//!
//! [`ChunkDecoder`] takes one SSE event at a time (the [`StreamDecoder`] the driver feeds);
//! [`sse_decoding`] wraps it in the driver's byte-level [`Decoding`] for tests and fuzz targets.
//!
//! The rules, for every OpenAI-compatible server:
//! - `Start` comes first, emitted with the first chunk that carries a choice or usage (so it carries the
//!   model the server reports and the chunk `id` as response id; an empty `id` or `model`, as in Azure's
//!   first chunk, is none); an error before any chunk is an `Err` without a `Start`.
//! - A role-only chunk is not content. `delta.content` is text; `delta.reasoning_content` (llama.cpp,
//!   DeepSeek) and `delta.reasoning` (OpenRouter) are reasoning. Only choice 0 is read.
//! - `usage` is read wherever it comes: a separate chunk with `choices: []` or `choices: null`, or the finish
//!   chunk. Unknown fields (llama.cpp's `timings`) are ignored.
//! - The finish reason is held back and emitted as the last event, so `Finish` always ends a good stream,
//!   after any usage. A stream without a finish reason ends without `Finish`.
//! - `[DONE]` ends the stream. If the input ends without `[DONE]` but after a finish reason, the answer is
//!   complete and the stream ends well (some compatible servers omit `[DONE]`); without either it is a
//!   `network` error ("stream ended before [DONE]"), never a silently short answer.
//! - A chunk with an `error` key (`{"error":{…}}`, OpenRouter's error chunk with `finish_reason: "error"`),
//!   or one without choices or usage that is an error object (vLLM's `{"object":"error",…}`), is the
//!   classified error it describes, as if it had come as an HTTP status; so is an SSE `event: error`. A
//!   choice that finishes with `error` and no error object is `server`. A chunk with nothing else in it is
//!   passed over.
//! - An undecodable payload or an SSE size-limit error is `invalid_response`.
//! - After an error, nothing more is decoded.

use std::collections::VecDeque;

use llm_core::{Error, ErrorKind, FinishReason, StreamEvent, StreamStart, ToolCall};
use llm_http::{Decoding, Frame, Framing, StreamDecoder};
use llm_stream::Limits;

use crate::error::{error_in_json, finish_reason, finish_reason_error, invalid};
use crate::response::{ResponseMeta, parse_arguments};

mod chunk;

use chunk::DeltaCall;

/// The longest piece of an undecodable payload quoted in an error message.
const SNIPPET: usize = 120;

/// The `invalid_response` error for a payload that is not the `what` (`chunk`, `event`) a stream carries:
/// its start quoted, the parser's error as the source.
#[cold]
pub(crate) fn undecodable(provider: &str, what: &str, data: &str, e: serde_json::Error) -> Error {
    let shown: String = data.chars().take(SNIPPET).collect();
    invalid(
        provider.to_owned(),
        format!("undecodable stream {what}: {shown}"),
    )
    .with_source(e)
}

/// A tool call being streamed: the wire's `index`, the call's id and name once known, its arguments so far.
#[derive(Debug)]
struct PendingCall {
    wire_index: u64,
    id: Option<String>,
    name: Option<String>,
    arguments: String,
    started: bool,
}

/// The most bytes of tool-call arguments one stream may collect (16 MiB); more is `invalid_response`.
const MAX_ARGUMENT_BYTES: usize = 16 << 20;

/// Counts a `piece` of tool-call arguments into a stream's running `total`: `invalid_response` once the
/// total passes [`MAX_ARGUMENT_BYTES`], so a hostile stream cannot grow a call without bound.
pub(crate) fn count_argument_bytes(
    total: &mut usize,
    piece: &str,
    provider: &str,
) -> Result<(), Error> {
    *total = total.saturating_add(piece.len());
    if *total > MAX_ARGUMENT_BYTES {
        return Err(invalid(
            provider.to_owned(),
            format!("tool call arguments larger than {MAX_ARGUMENT_BYTES} bytes"),
        ));
    }
    Ok(())
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
/// use std::collections::VecDeque;
/// use llm_core::{FinishReason, StreamEvent};
/// use llm_http::StreamDecoder as _;
/// use llm_openai::{ChunkDecoder, ResponseMeta};
///
/// let mut d = ChunkDecoder::new(ResponseMeta::new("openai", "gpt-4o-mini"));
/// let mut events = VecDeque::new();
/// d.push(r#"{"id":"c1","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"Hi"}}]}"#, &mut events).unwrap();
/// d.push(r#"{"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}"#, &mut events).unwrap();
/// d.push("[DONE]", &mut events).unwrap();
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
    calls: Vec<PendingCall>,
    argument_bytes: usize,
}

impl ChunkDecoder {
    /// A decoder for one response.
    pub fn new(meta: ResponseMeta) -> Self {
        ChunkDecoder {
            meta,
            state: State::Open,
            started: false,
            finish: None,
            calls: Vec::new(),
            argument_bytes: 0,
        }
    }

    /// True once an error was returned.
    pub fn is_failed(&self) -> bool {
        self.state == State::Failed
    }

    /// Decodes one SSE `data` payload, appending its events to `out`. An `Err` is the classified error the
    /// payload carries (or an `invalid_response` error), after which the decoder ignores further input.
    pub fn push(&mut self, data: &str, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        if self.state != State::Open {
            return Ok(());
        }
        let data = data.trim();
        if data.is_empty() {
            return Ok(());
        }
        if data == "[DONE]" {
            self.start(None, None, out, out.len());
            return self.end_well(out);
        }
        // The chunk's text and call pieces are appended as it is read (`chunk::read`); what else it said
        // is decided after. A chunk that turns out to be an error, or not a chunk, takes its events back;
        // the stream's `Start` goes before the events of the chunk that starts it.
        let before = out.len();
        let chunk::Read {
            read,
            id,
            model,
            error_key,
            choice,
            finish,
            usage,
            failed,
        } = chunk::read(self, data, out);
        let id = id.as_deref().filter(|i| !i.is_empty());
        if let Some(e) = failed {
            // A call piece that cannot be taken: what came before it in the chunk stands.
            self.start(model.as_deref(), id, out, before);
            return Err(self.fail(e, id));
        }
        if let Err(e) = read {
            out.truncate(before);
            let err = undecodable(&self.meta.provider, "chunk", data, e);
            return Err(self.fail(err, None));
        }
        // An `error` key is an error; so is a chunk without choices or usage that is an error object
        // (vLLM's `{"object":"error",…}`): read again only then, as such chunks are rare.
        if error_key || (!choice && usage.is_none()) {
            out.truncate(before);
            return self.error_chunk(error_key, data, id);
        }
        self.start(model.as_deref().filter(|m| !m.is_empty()), id, out, before);
        if let Some(reason) = finish.as_deref() {
            let reason = finish_reason(reason);
            if reason == FinishReason::Error {
                let err = finish_reason_error(self.meta.provider.clone());
                return Err(self.fail(err, id));
            }
            self.finish = Some(reason);
            // The calls are complete when their choice finishes: each is given with parsed arguments.
            if let Err(e) = self.finish_calls(out) {
                return Err(self.fail(e, id));
            }
        }
        if let Some(usage) = &usage {
            out.push_back(StreamEvent::Usage(usage.to_usage()));
        }
        Ok(())
    }

    /// A chunk with an `error` key (`keyed`), or with neither choices nor usage: the error object it is, or
    /// (with no `error` key and no error object, as Azure's first chunk with only its prompt filter
    /// results) nothing: the stream starts with the next chunk.
    #[cold]
    fn error_chunk(&mut self, keyed: bool, data: &str, id: Option<&str>) -> Result<(), Error> {
        match error_in_json(self.meta.provider.clone(), data) {
            Some(err) => Err(self.fail(err, id)),
            None if keyed => {
                let err = finish_reason_error(self.meta.provider.clone());
                Err(self.fail(err, id))
            }
            None => Ok(()),
        }
    }

    /// The input ended. `Ok` when the stream is complete (`[DONE]`, or a finish reason without `[DONE]`);
    /// otherwise a `network` error, after which the decoder ignores further input.
    pub fn finish(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        match self.state {
            State::Done | State::Failed => Ok(()),
            State::Open if self.finish.is_some() => self.end_well(out),
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

    /// The `Start` event, once, at position `at` of `out` (before the events of the chunk that starts the
    /// stream, which are appended as it is read).
    fn start(
        &mut self,
        model: Option<&str>,
        id: Option<&str>,
        out: &mut VecDeque<StreamEvent>,
        at: usize,
    ) {
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
        out.insert(at, StreamEvent::Start(start));
    }

    fn end_well(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        if let Err(e) = self.finish_calls(out) {
            return Err(self.fail(e, None));
        }
        self.state = State::Done;
        if let Some(reason) = self.finish.take() {
            out.push_back(StreamEvent::Finish(reason));
        }
        Ok(())
    }

    /// One entry of a delta's `tool_calls`: the call at its wire `index` is created or continued; it starts
    /// (`ToolCallStart`) once its name is known, and every piece of arguments after that is a
    /// `ToolCallDelta` (pieces that came before the name are given with the start).
    fn call_delta(
        &mut self,
        call: DeltaCall<'_>,
        out: &mut VecDeque<StreamEvent>,
    ) -> Result<(), Error> {
        let wire_index = call.index.unwrap_or(0);
        let position = match self.calls.iter().position(|c| c.wire_index == wire_index) {
            Some(p) => p,
            None => {
                self.calls.push(PendingCall {
                    wire_index,
                    id: None,
                    name: None,
                    arguments: String::new(),
                    started: false,
                });
                self.calls.len() - 1
            }
        };
        let pending = &mut self.calls[position];
        if let Some(id) = call.id.as_deref().filter(|i| !i.is_empty()) {
            pending.id.get_or_insert_with(|| id.to_owned());
        }
        let (name, piece) = call
            .function
            .map_or((None, None), |f| (f.name, f.arguments));
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            // Some servers repeat the name in later pieces: the first one stands.
            pending.name.get_or_insert_with(|| name.into_owned());
        }
        let piece = piece.unwrap_or_default();
        count_argument_bytes(&mut self.argument_bytes, &piece, &self.meta.provider)?;
        pending.arguments.push_str(&piece);
        if !pending.started && pending.name.is_some() {
            pending.started = true;
            let id = pending
                .id
                .get_or_insert_with(|| format!("call_{position}"))
                .clone();
            out.push_back(StreamEvent::ToolCallStart {
                index: position,
                id,
                name: pending.name.clone().unwrap_or_default(),
            });
            if !pending.arguments.is_empty() {
                out.push_back(StreamEvent::ToolCallDelta {
                    index: position,
                    arguments: pending.arguments.as_str().into(),
                });
            }
        } else if pending.started && !piece.is_empty() {
            out.push_back(StreamEvent::ToolCallDelta {
                index: position,
                arguments: piece.into(),
            });
        }
        Ok(())
    }

    /// Every pending call, complete: started if it was not, then given with its parsed arguments, in order.
    fn finish_calls(&mut self, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        for (index, pending) in std::mem::take(&mut self.calls).into_iter().enumerate() {
            let id = pending.id.unwrap_or_else(|| format!("call_{index}"));
            let name = pending.name.unwrap_or_default();
            if !pending.started {
                out.push_back(StreamEvent::ToolCallStart {
                    index,
                    id: id.clone(),
                    name: name.clone(),
                });
                if !pending.arguments.is_empty() {
                    out.push_back(StreamEvent::ToolCallDelta {
                        index,
                        arguments: pending.arguments.as_str().into(),
                    });
                }
            }
            let arguments = parse_arguments(&self.meta.provider, &id, &name, &pending.arguments)?;
            out.push_back(StreamEvent::ToolCall {
                index,
                call: ToolCall::new(id, name, arguments),
            });
        }
        Ok(())
    }
}

impl StreamDecoder for ChunkDecoder {
    type Event = StreamEvent;

    /// An `error` event is the classified error it carries; any other event's data is a chunk
    /// ([`ChunkDecoder::push`]).
    fn frame(&mut self, frame: Frame<'_>, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        match frame {
            Frame::Event {
                event: "error",
                data,
            } => {
                let provider = self.meta.provider.clone();
                let err = error_in_json(provider.clone(), data).unwrap_or_else(|| {
                    Error::new(ErrorKind::Server, format!("error event: {data}"))
                        .with_provider(provider)
                });
                Err(self.fail(err, None))
            }
            Frame::Event { data, .. } | Frame::Line(data) => self.push(data, out),
        }
    }

    fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// A truncated last event is a network failure unless the answer was already complete, which
    /// [`ChunkDecoder::finish`] decides either way.
    fn end(&mut self, _truncated: bool, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        self.finish(out)
    }

    fn attach(&self, error: Error) -> Error {
        self.meta.attach(error, None)
    }
}

/// The body decoder of one streamed answer: llm-http's [`Decoding`] (the SSE parser and the driver's rules)
/// around a [`ChunkDecoder`], exactly as the driver runs it.
pub fn sse_decoding(meta: ResponseMeta, limits: Limits) -> Decoding<ChunkDecoder> {
    let provider = meta.provider.clone();
    Decoding::with_limits(provider, Framing::Sse, ChunkDecoder::new(meta), limits)
}

/// Decodes a whole recorded stream given as byte chunks: every event and error in order, as a client would
/// yield them. For tests, fixtures and fuzz targets.
pub fn decode_sse<'a>(
    meta: ResponseMeta,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<Result<StreamEvent, Error>> {
    sse_decoding(meta, Limits::default()).run(chunks).0
}
