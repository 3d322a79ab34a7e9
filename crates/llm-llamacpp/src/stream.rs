//! Pure: the SSE stream of a native `/completion` to [`CompletionEvent`]s.
//!
//! llama-server sends `data: {json}` chunks with `content` and `stop`, and no `[DONE]`: the stream ends
//! with the chunk whose `stop` is true, which carries `stop_type`, `timings` and the token counts.
//! [`CompletionDecoder`] is the state machine (fed one SSE `data` payload at a time); [`CompletionStream`]
//! composes it with [`SseStream`] over any stream of byte chunks, with no task of its own.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use llm_core::{Error, ErrorKind};
use llm_stream::{SseStream, StreamError};
use pin_project_lite::pin_project;

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
    delivered: u64,
}

impl CompletionDecoder {
    /// A decoder whose errors name `provider`.
    pub fn new(provider: impl Into<Cow<'static, str>>) -> Self {
        CompletionDecoder {
            provider: provider.into(),
            state: State::Streaming,
            delivered: 0,
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
            return Err(
                error_from_field(self.provider.clone(), error).with_delivered_bytes(self.delivered)
            );
        }
        if let Some(content) = chunk.content.as_deref().filter(|c| !c.is_empty()) {
            self.delivered += content.len() as u64;
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

    /// Turns an error of the byte stream or the SSE parser into this stream's error.
    pub fn stream_error(&mut self, error: StreamError<Error>) -> Error {
        match error {
            StreamError::Transport(e) => {
                self.state = State::Failed;
                e.with_delivered_bytes(self.delivered)
            }
            StreamError::Truncated(_) => self.fail(
                ErrorKind::Network,
                "stream ended inside an event, before the chunk with `stop: true`",
            ),
            other => {
                let message = other.to_string();
                self.fail(ErrorKind::InvalidResponse, message)
                    .with_source(other)
            }
        }
    }

    fn fail(&mut self, kind: ErrorKind, message: impl Into<Cow<'static, str>>) -> Error {
        self.state = State::Failed;
        Error::new(kind, message)
            .with_provider(self.provider.clone())
            .with_delivered_bytes(self.delivered)
    }
}

pin_project! {
    /// A streamed `/completion`: `S` (byte chunks) through [`SseStream`] and [`CompletionDecoder`]. After the
    /// last chunk it reads the body to its end (so the connection can be reused); after an `Err` item it
    /// yields `None`.
    #[derive(Debug)]
    pub struct CompletionStream<S> {
        #[pin]
        events: SseStream<S>,
        decoder: CompletionDecoder,
        queue: VecDeque<CompletionEvent>,
        finished: bool,
    }
}

impl<S> CompletionStream<S> {
    /// Decodes `body` (the response's byte chunks); errors name `provider`.
    pub fn new(body: S, provider: impl Into<Cow<'static, str>>) -> Self {
        CompletionStream {
            events: SseStream::new(body),
            decoder: CompletionDecoder::new(provider),
            queue: VecDeque::with_capacity(2),
            finished: false,
        }
    }
}

impl<S, B> Stream for CompletionStream<S>
where
    S: Stream<Item = Result<B, Error>>,
    B: AsRef<[u8]>,
{
    type Item = Result<CompletionEvent, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(event) = this.queue.pop_front() {
                return Poll::Ready(Some(Ok(event)));
            }
            if *this.finished {
                return Poll::Ready(None);
            }
            let item = match this.events.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(item) => item,
            };
            let result = match item {
                Some(Ok(event)) => this.decoder.data(event.data(), this.queue),
                Some(Err(_)) if this.decoder.is_done() => {
                    *this.finished = true;
                    Ok(())
                }
                Some(Err(e)) => Err(this.decoder.stream_error(e)),
                None => {
                    *this.finished = true;
                    this.decoder.end()
                }
            };
            if let Err(e) = result {
                *this.finished = true;
                this.queue.clear();
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}
