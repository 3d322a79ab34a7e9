//! Pure: NDJSON lines of a streamed `/api/chat` answer to [`StreamEvent`]s.
//!
//! [`ChatDecoder`] is a small state machine fed one line at a time (a fuzz target can drive it with an
//! [`NdjsonParser`](llm_stream::NdjsonParser) and arbitrary bytes); [`OllamaStream`] composes it with
//! an [`NdjsonParser`] over any stream of byte chunks, so the consumer's polls drive the connection and no task
//! is spawned.
//!
//! Every line is checked for `error` (Ollama sends a mid-stream failure as a line holding only `error`, with
//! HTTP 200); the stream must end with a `done: true` line, else it is a `network` error.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use llm_core::{ChatResponse, Error, ErrorKind, StreamEvent, StreamStart};
use llm_stream::{NdjsonError, NdjsonLineRef, NdjsonParser, StreamError};
use pin_project_lite::pin_project;
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
    delivered: u64,
}

impl ChatDecoder {
    /// A decoder whose first event will be `start`.
    pub fn new(start: StreamStart) -> Self {
        ChatDecoder {
            provider: Cow::Owned(start.provider.clone()),
            request_id: start.request_id.clone(),
            start: Some(start),
            state: State::Streaming,
            delivered: 0,
        }
    }

    /// True once the terminal `done: true` line was decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Bytes of text delivered so far.
    pub fn delivered_bytes(&self) -> u64 {
        self.delivered
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
                out.push_back(StreamEvent::ReasoningDelta(thinking.into_owned()));
            }
            if let Some(content) = message.content.filter(|c| !c.is_empty()) {
                self.delivered += content.len() as u64;
                out.push_back(StreamEvent::TextDelta(content.into_owned()));
            }
        }
        if chunk.done {
            if let Some(usage) = chunk.usage() {
                out.push_back(StreamEvent::Usage(usage));
            }
            out.push_back(StreamEvent::Finish(chunk.finish_reason()));
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

    /// Turns an error of the byte stream or the line parser into this stream's error.
    pub fn stream_error(&mut self, error: StreamError<Error>) -> Error {
        match error {
            StreamError::Transport(e) => {
                self.state = State::Failed;
                self.decorate(e)
            }
            StreamError::Ndjson(e) => {
                let what = if e.is_too_long() {
                    "a stream line exceeds the size limit"
                } else {
                    "a stream line is not valid utf-8"
                };
                self.fail(ErrorKind::InvalidResponse, what).with_source(e)
            }
            other => self.fail(ErrorKind::InvalidResponse, other.to_string()),
        }
    }

    fn fail(&mut self, kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        self.state = State::Failed;
        let err = Error::new(kind, message).with_provider(self.provider.clone());
        self.decorate(err)
    }

    fn decorate(&self, err: Error) -> Error {
        let err = err.with_delivered_bytes(self.delivered);
        match (&self.request_id, err.request_id()) {
            (Some(id), None) => err.with_request_id(id.clone()),
            _ => err,
        }
    }
}

/// The events a whole (non-streamed) answer stands for, for a streaming request that was answered with
/// plain JSON: start, reasoning, text, usage, finish.
pub fn events_from_response(start: StreamStart, response: ChatResponse) -> Vec<StreamEvent> {
    let mut events = vec![StreamEvent::Start(start)];
    if let Some(reasoning) = response.reasoning.filter(|r| !r.is_empty()) {
        events.push(StreamEvent::ReasoningDelta(reasoning));
    }
    if !response.text.is_empty() {
        events.push(StreamEvent::TextDelta(response.text));
    }
    if let Some(usage) = response.usage {
        events.push(StreamEvent::Usage(usage));
    }
    if let Some(finish) = response.finish_reason {
        events.push(StreamEvent::Finish(finish));
    }
    events
}

pin_project! {
    /// A streamed `/api/chat` answer: `S` (byte chunks) through an [`NdjsonParser`] and [`ChatDecoder`].
    /// Each line lying whole in a chunk is decoded from borrowed text, with no owned copy of it.
    ///
    /// After the terminal line it keeps reading to the end of the body (ignoring anything else), so the
    /// connection can go back to the pool; after an `Err` item it yields `None`.
    #[derive(Debug)]
    pub struct OllamaStream<S> {
        #[pin]
        body: S,
        parser: NdjsonParser,
        body_done: bool,
        decoder: ChatDecoder,
        queue: VecDeque<StreamEvent>,
        // An error to yield once the events queued before it are taken.
        error: Option<Error>,
        finished: bool,
    }
}

impl<S> OllamaStream<S> {
    /// Decodes `body` (the response's byte chunks) as an answer that starts with `start`.
    pub fn new(body: S, start: StreamStart) -> Self {
        let mut decoder = ChatDecoder::new(start);
        let mut queue = VecDeque::with_capacity(4);
        decoder.take_start(&mut queue);
        OllamaStream {
            body,
            parser: NdjsonParser::new(),
            body_done: false,
            decoder,
            queue,
            error: None,
            finished: false,
        }
    }
}

/// Decodes one parsed line (or line error) into `queue`; `Ok(true)` when reading should stop: a line error
/// after the terminal line does not change a complete answer, it only ends the reading. On an error, the
/// events the failing line itself queued are dropped (those of earlier lines stay, to be yielded first).
fn decode_line(
    decoder: &mut ChatDecoder,
    queue: &mut VecDeque<StreamEvent>,
    line: Result<NdjsonLineRef<'_>, NdjsonError>,
) -> Result<bool, Error> {
    let before = queue.len();
    let result = match line {
        Ok(line) => decoder.line(line.as_str(), queue).map(|()| false),
        Err(_) if decoder.is_done() => Ok(true),
        Err(e) => Err(decoder.stream_error(StreamError::Ndjson(e))),
    };
    if result.is_err() {
        queue.truncate(before);
    }
    result
}

impl<S, B> Stream for OllamaStream<S>
where
    S: Stream<Item = Result<B, Error>>,
    B: AsRef<[u8]>,
{
    type Item = Result<StreamEvent, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(event) = this.queue.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if let Some(e) = this.error.take() {
                return Poll::Ready(Some(Err(e)));
            }
            if *this.finished {
                return Poll::Ready(None);
            }
            let result = if *this.body_done {
                // The body ended and the parser's last lines were decoded.
                *this.finished = true;
                this.decoder.end()
            } else {
                match this.body.as_mut().poll_next(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(Ok(chunk))) => {
                        let mut lines = this.parser.feed_ref(chunk.as_ref());
                        let mut result = Ok(());
                        while let Some(line) = lines.next_line_ref() {
                            match decode_line(this.decoder, this.queue, line) {
                                Ok(false) => {}
                                Ok(true) => {
                                    *this.finished = true;
                                    break;
                                }
                                Err(e) => {
                                    result = Err(e);
                                    break;
                                }
                            }
                        }
                        result
                    }
                    // Whatever breaks after the terminal line does not change a complete answer.
                    Poll::Ready(Some(Err(_))) if this.decoder.is_done() => {
                        *this.finished = true;
                        Ok(())
                    }
                    Poll::Ready(Some(Err(e))) => {
                        Err(this.decoder.stream_error(StreamError::Transport(e)))
                    }
                    Poll::Ready(None) => {
                        *this.body_done = true;
                        this.parser.finish();
                        let mut result = Ok(());
                        while let Some(line) = this.parser.next_line_ref() {
                            match decode_line(this.decoder, this.queue, line) {
                                Ok(false) => {}
                                Ok(true) => {
                                    *this.finished = true;
                                    break;
                                }
                                Err(e) => {
                                    result = Err(e);
                                    break;
                                }
                            }
                        }
                        result
                    }
                }
            };
            if let Err(e) = result {
                *this.finished = true;
                *this.error = Some(e);
            }
        }
    }
}
