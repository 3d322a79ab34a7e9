//! Pure: NDJSON lines of a streamed `/api/chat` answer to [`StreamEvent`]s.
//!
//! [`ChatDecoder`] is a small state machine fed one line at a time: llm-http's driver feeds it from the
//! response body, and [`decode_chunks`] drives it over recorded bytes exactly as the driver does (tests and
//! fuzz targets).
//!
//! Every line is checked for `error` (Ollama sends a mid-stream failure as a line holding only `error`, with
//! HTTP 200); the stream must end with a `done: true` line, else it is a `network` error.

use std::borrow::Cow;
use std::collections::VecDeque;

use llm_core::{Error, ErrorKind, FinishReason, StreamEvent, StreamStart};
use llm_http::{Decoding, Frame, Framing, StreamDecoder};
use serde_json::error::Category;

use crate::error::error_from_field;
use crate::response::WireLine;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Lines are expected.
    Streaming,
    /// The last line was cut inside its JSON: a network cut if the input ends now, garbage if more follows.
    CutLine,
    /// The `done: true` line arrived.
    Done,
    /// An error was reported; nothing more is decoded.
    Failed,
}

/// The state machine of one streamed answer. Feed it lines with [`ChatDecoder::line`] and tell it the input
/// ended with [`ChatDecoder::end`]; it has queued [`StreamEvent::Start`] from the moment it is built.
///
/// ```
/// use std::collections::VecDeque;
/// use llm_core::{StreamEvent, StreamStart};
/// use llm_ollama::ChatDecoder;
///
/// let mut decoder = ChatDecoder::new(StreamStart::new("ollama", "llama3.2"));
/// let mut events = VecDeque::new();
/// decoder.line(r#"{"message":{"role":"assistant","content":"Hi"},"done":false}"#, &mut events).unwrap();
/// decoder.line(r#"{"message":{"content":""},"done":true,"done_reason":"stop","eval_count":1}"#, &mut events).unwrap();
/// decoder.end().unwrap();
/// assert!(matches!(events.pop_front(), Some(StreamEvent::Start(_))));
/// assert_eq!(events.pop_front(), Some(StreamEvent::TextDelta("Hi".into())));
/// ```
#[derive(Debug)]
pub struct ChatDecoder {
    provider: Cow<'static, str>,
    request_id: Option<String>,
    start: Option<StreamStart>,
    state: State,
    calls: usize,
}

impl ChatDecoder {
    /// A decoder whose first event will be `start`.
    pub fn new(start: StreamStart) -> Self {
        ChatDecoder {
            provider: Cow::Owned(start.provider.clone()),
            request_id: start.request_id.clone(),
            start: Some(start),
            state: State::Streaming,
            calls: 0,
        }
    }

    /// True once the terminal `done: true` line was decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    fn take_start(&mut self, out: &mut VecDeque<StreamEvent>) {
        if let Some(start) = self.start.take() {
            out.push_back(StreamEvent::Start(start));
        }
    }

    /// Decodes one NDJSON line, appending its events to `out` (the start event first). Lines after the
    /// terminal one are ignored. An `error` line is the classified error; a line that is not the expected
    /// JSON is `invalid_response`. After an error the decoder stays failed.
    pub fn line(&mut self, line: &str, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        self.take_start(out);
        match self.state {
            State::Done | State::Failed => return Ok(()),
            State::CutLine => {
                return Err(self.fail(ErrorKind::InvalidResponse, "a stream line is cut short"));
            }
            State::Streaming => {}
        }
        let mut chunk: WireLine<'_> = match serde_json::from_str(line) {
            Ok(chunk) => chunk,
            Err(e) if e.classify() == Category::Eof => {
                // Only the last line can legitimately be cut (the connection broke); decide at the next step.
                self.state = State::CutLine;
                return Ok(());
            }
            Err(e) => {
                return Err(self
                    .fail(
                        ErrorKind::InvalidResponse,
                        "a stream line is not ollama's json",
                    )
                    .with_source(e));
            }
        };
        if let Some(error) = &chunk.error {
            self.state = State::Failed;
            let err = error_from_field(self.provider.clone(), error);
            return Err(self.decorate(err));
        }
        if let Some(message) = chunk.message.take() {
            if let Some(thinking) = message.thinking.filter(|t| !t.is_empty()) {
                out.push_back(StreamEvent::ReasoningDelta(thinking.into()));
            }
            if let Some(content) = message.content.filter(|c| !c.is_empty()) {
                out.push_back(StreamEvent::TextDelta(content.into()));
            }
            // Ollama sends each call whole: it starts, delivers its arguments and ends in one line.
            for wire in message.tool_calls.iter().flatten() {
                let index = self.calls;
                self.calls += 1;
                let call = wire.to_call(index);
                out.push_back(StreamEvent::ToolCallStart {
                    index,
                    id: call.id.clone(),
                    name: call.name.clone(),
                });
                out.push_back(StreamEvent::ToolCallDelta {
                    index,
                    arguments: call.arguments.to_string().into(),
                });
                out.push_back(StreamEvent::ToolCall { index, call });
            }
        }
        if chunk.done {
            if let Some(usage) = chunk.usage() {
                out.push_back(StreamEvent::Usage(usage));
            }
            let reason = match chunk.finish_reason() {
                FinishReason::Stop if self.calls > 0 => FinishReason::ToolCalls,
                other => other,
            };
            out.push_back(StreamEvent::Finish(reason));
            self.state = State::Done;
        }
        Ok(())
    }

    /// The input ended: `Ok` after the terminal line, else the `network` error of a stream cut short.
    pub fn end(&mut self) -> Result<(), Error> {
        match self.state {
            State::Done => Ok(()),
            State::Failed => Err(self.fail(ErrorKind::Network, "stream already failed")),
            State::Streaming | State::CutLine => Err(self.fail(
                ErrorKind::Network,
                "stream ended before the final `done: true` line",
            )),
        }
    }

    fn fail(&mut self, kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        self.state = State::Failed;
        let err = Error::new(kind, message).with_provider(self.provider.clone());
        self.decorate(err)
    }

    fn decorate(&self, err: Error) -> Error {
        match (&self.request_id, err.request_id()) {
            (Some(id), None) => err.with_request_id(id.clone()),
            _ => err,
        }
    }
}

impl StreamDecoder for ChatDecoder {
    type Event = StreamEvent;

    fn frame(&mut self, frame: Frame<'_>, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        match frame {
            Frame::Line(line) | Frame::Event { data: line, .. } => self.line(line, out),
        }
    }

    fn is_done(&self) -> bool {
        ChatDecoder::is_done(self)
    }

    /// The start comes first even when no line came.
    fn end(&mut self, _truncated: bool, out: &mut VecDeque<StreamEvent>) -> Result<(), Error> {
        self.take_start(out);
        ChatDecoder::end(self)
    }

    fn attach(&self, error: Error) -> Error {
        self.decorate(error)
    }
}

/// Decodes a recorded `/api/chat` stream given as byte chunks exactly as the driver does (llm-http's
/// [`Decoding`] around a [`ChatDecoder`] that starts with `start`): every event and error in order. For
/// tests, fixtures and fuzz targets.
pub fn decode_chunks<'a>(
    start: StreamStart,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<Result<StreamEvent, Error>> {
    let mut decoding = Decoding::new(
        start.provider.clone(),
        Framing::Ndjson,
        ChatDecoder::new(start),
    );
    let mut out = Vec::new();
    for chunk in chunks {
        decoding.feed(chunk);
        out.extend(std::iter::from_fn(|| decoding.next_item()));
    }
    decoding.end();
    out.extend(std::iter::from_fn(|| decoding.next_item()));
    out
}
