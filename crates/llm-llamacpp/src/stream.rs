//! Pure: the SSE stream of a native `/completion` to [`CompletionEvent`]s.
//!
//! llama-server sends `data: {json}` chunks with `content` and `stop`, and no `[DONE]`: the stream ends
//! with the chunk whose `stop` is true, which carries `stop_type`, `timings` and the token counts.
//! [`CompletionDecoder`] is the state machine (fed one SSE `data` payload at a time), driven by llm-http's
//! driver like every chat stream; [`decode_chunks`] drives it over recorded bytes the same way.

use std::borrow::Cow;
use std::collections::VecDeque;

use llm_core::{Error, ErrorKind};
use llm_http::{Decoding, Delivered, Frame, Framing, StreamDecoder};

use crate::error::error_from_field;
use crate::response::{CompletionEvent, WireCompletion};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Streaming,
    Done,
    Failed,
}

/// The state machine of one streamed completion.
///
/// ```
/// use std::collections::VecDeque;
/// use llm_llamacpp::{CompletionDecoder, CompletionEvent};
///
/// let mut decoder = CompletionDecoder::new("llamacpp");
/// let mut events = VecDeque::new();
/// decoder.data(r#"{"content":"Paris","stop":false}"#, &mut events).unwrap();
/// decoder.data(r#"{"content":"","stop":true,"stop_type":"limit","tokens_predicted":1,"tokens_evaluated":5}"#, &mut events).unwrap();
/// decoder.end().unwrap();
/// assert_eq!(events.pop_front(), Some(CompletionEvent::Text("Paris".into())));
/// assert!(matches!(events.pop_front(), Some(CompletionEvent::End(end)) if end.stop_type == "limit"));
/// ```
#[derive(Debug)]
pub struct CompletionDecoder {
    provider: Cow<'static, str>,
    state: State,
}

impl CompletionDecoder {
    /// A decoder whose errors name `provider`.
    pub fn new(provider: impl Into<Cow<'static, str>>) -> Self {
        CompletionDecoder {
            provider: provider.into(),
            state: State::Streaming,
        }
    }

    /// True once the chunk with `stop: true` was decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes one SSE `data` payload, appending its events to `out`. Payloads after the last chunk, empty
    /// payloads and `[DONE]` are ignored. A `{"error":…}` payload is the classified error; a payload that is
    /// not the expected JSON is `invalid_response`.
    pub fn data(&mut self, data: &str, out: &mut VecDeque<CompletionEvent>) -> Result<(), Error> {
        if self.state != State::Streaming || data.is_empty() || data == "[DONE]" {
            return Ok(());
        }
        let chunk: WireCompletion<'_> = serde_json::from_str(data).map_err(|e| {
            self.fail(
                ErrorKind::InvalidResponse,
                "a stream chunk is not llama-server's json",
            )
            .with_source(e)
        })?;
        if let Some(error) = &chunk.error {
            self.state = State::Failed;
            return Err(error_from_field(self.provider.clone(), error));
        }
        if let Some(content) = chunk.content.as_deref().filter(|c| !c.is_empty()) {
            out.push_back(CompletionEvent::Text(content.to_owned()));
        }
        if chunk.stop {
            out.push_back(CompletionEvent::End(Box::new(chunk.end())));
            self.state = State::Done;
        }
        Ok(())
    }

    /// The input ended: `Ok` after the last chunk, else a `network` error (this is also how an older
    /// build's `error:` SSE field surfaces: the parser drops it and the stream just ends).
    pub fn end(&mut self) -> Result<(), Error> {
        match self.state {
            State::Done => Ok(()),
            State::Streaming | State::Failed => Err(self.fail(
                ErrorKind::Network,
                "stream ended before the chunk with `stop: true`",
            )),
        }
    }

    fn fail(&mut self, kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        self.state = State::Failed;
        Error::new(kind, message).with_provider(self.provider.clone())
    }
}

impl StreamDecoder for CompletionDecoder {
    type Event = CompletionEvent;

    fn frame(
        &mut self,
        frame: Frame<'_>,
        out: &mut VecDeque<CompletionEvent>,
    ) -> Result<(), Error> {
        match frame {
            Frame::Event { data, .. } | Frame::Line(data) => self.data(data, out),
        }
    }

    fn is_done(&self) -> bool {
        CompletionDecoder::is_done(self)
    }

    fn end(&mut self, truncated: bool, _out: &mut VecDeque<CompletionEvent>) -> Result<(), Error> {
        if truncated && self.state == State::Streaming {
            return Err(self.fail(
                ErrorKind::Network,
                "stream ended inside an event, before the chunk with `stop: true`",
            ));
        }
        CompletionDecoder::end(self)
    }
}

impl Delivered for CompletionEvent {
    fn delivered_bytes(&self) -> usize {
        match self {
            CompletionEvent::Text(text) => text.len(),
            _ => 0,
        }
    }
}

/// Decodes a recorded `/completion` stream given as byte chunks exactly as the driver does (llm-http's
/// [`Decoding`] around a [`CompletionDecoder`]): every event and error in order. For tests, fixtures and
/// fuzz targets.
pub fn decode_chunks<'a>(
    provider: impl Into<Cow<'static, str>>,
    chunks: impl IntoIterator<Item = &'a [u8]>,
) -> Vec<Result<CompletionEvent, Error>> {
    let provider = provider.into();
    let decoder = CompletionDecoder::new(provider.clone());
    Decoding::new(provider, Framing::Sse, decoder).run(chunks).0
}
