//! The sans-IO half of the body loop: bytes of a streamed body in, a codec's events out.
//!
//! [`Decoding`] owns the framing parser (llm-stream's SSE or NDJSON parser, on its borrowed path: each frame
//! lying whole in the bytes just fed is lent to the decoder with no copy) and a codec's
//! [`StreamDecoder`](crate::StreamDecoder), and applies the driver's rules once for every codec: error
//! ordering, the end of the stream, delivered-bytes accounting, and framing failures. The async
//! [`EventStream`](crate::EventStream) feeds it from a response body; tests and fuzz targets feed it bytes.

use std::borrow::Cow;
use std::collections::VecDeque;

use llm_core::{Error, ErrorKind};
use llm_stream::{Limits, NdjsonError, NdjsonParser, SseError, SseParser};

use crate::codec::{Delivered, Frame, Framing, StreamDecoder};

// One framer per stream, built once and never moved: boxing the larger parser would only add an
// indirection to every chunk.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Framer {
    Sse(SseParser),
    Ndjson(NdjsonParser),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Frames are decoded.
    Open,
    /// The answer is complete: the rest of the body is ignored.
    Done,
    /// An error was (or is about to be) yielded: nothing more is decoded.
    Failed,
}

/// One streamed answer being decoded: feed it the body's bytes in chunks of any size with
/// [`Decoding::feed`], take items with [`Decoding::next_item`] until it returns `None`, and call
/// [`Decoding::end`] (the body ended) or [`Decoding::fail`] (the body broke), then drain again.
///
/// The rules, the same for every codec:
/// - every event the decoder appended comes before an error, in order (a decoder that must not announce a
///   frame it rejects appends nothing for it);
/// - after an `Err` item nothing more is yielded;
/// - once the decoder says the answer is complete, the rest of the body is ignored (and a failure of the
///   body after that point changes nothing);
/// - an error carries the number of text bytes delivered before it ([`Error::delivered_bytes`]) and, through
///   the decoder, the response's request id.
#[derive(Debug)]
pub struct Decoding<D: StreamDecoder> {
    provider: Cow<'static, str>,
    framer: Framer,
    decoder: D,
    queue: VecDeque<D::Event>,
    error: Option<Error>,
    state: State,
    ended: bool,
    delivered: u64,
}

impl<D: StreamDecoder> Decoding<D> {
    /// Decoding of a `framing` body from `provider` with `decoder` and the default parser limits.
    pub fn new(provider: impl Into<Cow<'static, str>>, framing: Framing, decoder: D) -> Self {
        Decoding::with_limits(provider, framing, decoder, Limits::default())
    }

    /// As [`Decoding::new`], with the parser enforcing `limits` (longest line and event).
    pub fn with_limits(
        provider: impl Into<Cow<'static, str>>,
        framing: Framing,
        decoder: D,
        limits: Limits,
    ) -> Self {
        let framer = match framing {
            Framing::Sse => Framer::Sse(SseParser::with_limits(limits)),
            Framing::Ndjson => Framer::Ndjson(NdjsonParser::with_limits(limits)),
        };
        Decoding {
            provider: provider.into(),
            framer,
            decoder,
            queue: VecDeque::with_capacity(4),
            error: None,
            state: State::Open,
            ended: false,
            delivered: 0,
        }
    }

    /// The codec's decoder (for reading its state, e.g. in tests).
    pub fn decoder(&self) -> &D {
        &self.decoder
    }

    /// Feeds every chunk and then the end of the body, as the driver does for a whole recorded body: every
    /// item in order, and the decoder's final state. For tests, fixtures and fuzz targets.
    pub fn run<'a>(
        mut self,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> (Vec<Result<D::Event, Error>>, D) {
        let mut out = Vec::new();
        for chunk in chunks {
            self.feed(chunk);
            out.extend(std::iter::from_fn(|| self.next_item()));
        }
        self.end();
        out.extend(std::iter::from_fn(|| self.next_item()));
        (out, self.decoder)
    }

    /// The codec's decoder, taken back (e.g. to read what it collected once the stream ended).
    pub fn into_decoder(self) -> D {
        self.decoder
    }

    /// True once the answer is complete or failed: the rest of the body carries nothing.
    pub fn is_terminated(&self) -> bool {
        self.state != State::Open
    }

    /// True once the answer is complete.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Feeds the next bytes of the body (ignored once the stream is terminated). The frames lying whole in
    /// `bytes` are decoded right away from borrowed text.
    pub fn feed(&mut self, bytes: &[u8]) {
        if self.state != State::Open {
            return;
        }
        let mut step = Step {
            provider: &self.provider,
            decoder: &mut self.decoder,
            queue: &mut self.queue,
            error: &mut self.error,
            state: &mut self.state,
            delivered: &mut self.delivered,
        };
        match &mut self.framer {
            Framer::Sse(parser) => {
                let mut events = parser.feed_ref(bytes);
                while let Some(event) = events.next_event_ref() {
                    step.sse(event);
                    if *step.state != State::Open {
                        // Dropping the cursor queues the rest of the chunk, which is never read.
                        break;
                    }
                }
            }
            Framer::Ndjson(parser) => {
                let mut lines = parser.feed_ref(bytes);
                while let Some(line) = lines.next_line_ref() {
                    step.ndjson(line);
                    if *step.state != State::Open {
                        break;
                    }
                }
            }
        }
    }

    /// The body ended: the parser's last frames are decoded, then the decoder decides whether the answer is
    /// complete (a stream cut short is a `network` error, never a short answer).
    pub fn end(&mut self) {
        if self.ended {
            return;
        }
        self.ended = true;
        if self.state != State::Open {
            return;
        }
        let truncated = match &mut self.framer {
            Framer::Sse(parser) => parser.finish().is_err(),
            Framer::Ndjson(parser) => {
                parser.finish();
                false
            }
        };
        self.drain_parser();
        if self.state != State::Open {
            return;
        }
        match self.decoder.end(truncated, &mut self.queue) {
            Ok(()) => self.state = State::Done,
            Err(e) => {
                self.state = State::Failed;
                self.error = Some(e.with_delivered_bytes(self.delivered));
            }
        }
    }

    /// The body broke with `error` (a transport failure or a passed time limit): unless the answer is
    /// already complete or failed, it becomes the next item, with the request id attached.
    pub fn fail(&mut self, error: Error) {
        self.ended = true;
        if self.state != State::Open {
            return;
        }
        self.state = State::Failed;
        let error = self.decoder.attach(error);
        self.error = Some(error.with_delivered_bytes(self.delivered));
    }

    /// The next event or error; `None` when more input is needed, or when everything was yielded.
    #[must_use]
    pub fn next_item(&mut self) -> Option<Result<D::Event, Error>> {
        if let Some(event) = self.queue.pop_front() {
            return Some(Ok(event));
        }
        self.error.take().map(Err)
    }

    /// True when everything was yielded and nothing more can come.
    pub fn is_finished(&self) -> bool {
        self.queue.is_empty() && self.error.is_none() && (self.ended || self.state != State::Open)
    }

    /// Decodes the frames the parser holds (after `finish`).
    fn drain_parser(&mut self) {
        let mut step = Step {
            provider: &self.provider,
            decoder: &mut self.decoder,
            queue: &mut self.queue,
            error: &mut self.error,
            state: &mut self.state,
            delivered: &mut self.delivered,
        };
        match &mut self.framer {
            Framer::Sse(parser) => {
                while *step.state == State::Open {
                    let Some(event) = parser.next_event_ref() else {
                        break;
                    };
                    step.sse(event);
                }
            }
            Framer::Ndjson(parser) => {
                while *step.state == State::Open {
                    let Some(line) = parser.next_line_ref() else {
                        break;
                    };
                    step.ndjson(line);
                }
            }
        }
    }
}

/// The fields one frame's decoding touches, borrowed apart from the parser that lends the frame.
struct Step<'s, D: StreamDecoder> {
    provider: &'s Cow<'static, str>,
    decoder: &'s mut D,
    queue: &'s mut VecDeque<D::Event>,
    error: &'s mut Option<Error>,
    state: &'s mut State,
    delivered: &'s mut u64,
}

impl<D: StreamDecoder> Step<'_, D> {
    fn sse(&mut self, event: Result<llm_stream::SseEventRef<'_>, SseError>) {
        match event {
            Ok(event) => self.frame(Frame::Event {
                event: event.event(),
                data: event.data(),
            }),
            Err(e) => self.framing_error(e.to_string(), e),
        }
    }

    fn ndjson(&mut self, line: Result<llm_stream::NdjsonLineRef<'_>, NdjsonError>) {
        match line {
            Ok(line) => self.frame(Frame::Line(line.as_str())),
            Err(e) => {
                let what = if e.is_too_long() {
                    "a stream line exceeds the size limit"
                } else {
                    "a stream line is not valid utf-8"
                };
                self.framing_error(what.to_owned(), e);
            }
        }
    }

    fn frame(&mut self, frame: Frame<'_>) {
        let before = self.queue.len();
        let result = self.decoder.frame(frame, self.queue);
        for event in self.queue.range(before..) {
            *self.delivered += event.delivered_bytes() as u64;
        }
        match result {
            Ok(()) => {
                if self.decoder.is_done() {
                    *self.state = State::Done;
                }
            }
            Err(e) => {
                *self.state = State::Failed;
                *self.error = Some(e.with_delivered_bytes(*self.delivered));
            }
        }
    }

    fn framing_error(
        &mut self,
        what: String,
        source: impl std::error::Error + Send + Sync + 'static,
    ) {
        let e = Error::new(ErrorKind::InvalidResponse, what)
            .with_provider(self.provider.clone())
            .with_source(source);
        *self.state = State::Failed;
        *self.error = Some(self.decoder.attach(e).with_delivered_bytes(*self.delivered));
    }
}
