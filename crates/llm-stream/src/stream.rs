//! Adapters from a stream of byte chunks to a stream of parsed items.
//!
//! They need only `futures-core`: any `Stream<Item = Result<B, E>>` with `B: AsRef<[u8]>` works,
//! for example reqwest's `bytes_stream()` of `bytes::Bytes`.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::error::StreamError;
use crate::ndjson::{NdjsonLine, NdjsonParser};
use crate::sse::{SseEvent, SseParser};

/// Where an adapter stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading the inner stream.
    Reading,
    /// The inner stream ended or failed: drain what is queued, then end.
    Draining,
    /// Everything was yielded.
    Done,
}

pin_project! {
    /// A stream of [`SseEvent`]s parsed from a stream of byte chunks.
    ///
    /// Size limit errors are yielded in place and the stream goes on. A transport error from the
    /// inner stream is yielded and ends the stream. When the inner stream ends inside an event, the
    /// last item is [`StreamError::Truncated`].
    ///
    /// ```
    /// use futures::{StreamExt, executor::block_on, stream};
    /// use llm_stream::SseStream;
    ///
    /// let chunks = stream::iter([Ok::<_, std::io::Error>("data: a\n"), Ok("\ndata: b")]);
    /// let items: Vec<_> = block_on(SseStream::new(chunks).collect());
    /// assert_eq!(items[0].as_ref().unwrap().data(), "a");
    /// assert!(items[1].as_ref().unwrap_err().is_truncated());
    /// ```
    #[derive(Debug)]
    pub struct SseStream<S> {
        #[pin]
        inner: S,
        parser: SseParser,
        state: State,
        truncated: Option<crate::error::Truncated>,
    }
}

impl<S> SseStream<S> {
    /// Parses `inner` with a default [`SseParser`].
    pub fn new(inner: S) -> Self {
        Self::with_parser(inner, SseParser::new())
    }

    /// Parses `inner` with `parser` (e.g. one with custom limits, or one that kept the last event
    /// ID from a previous connection).
    pub fn with_parser(inner: S, parser: SseParser) -> Self {
        Self {
            inner,
            parser,
            state: State::Reading,
            truncated: None,
        }
    }

    /// The parser, e.g. for [`SseParser::last_event_id`] and [`SseParser::retry`].
    pub fn parser(&self) -> &SseParser {
        &self.parser
    }

    /// Takes the parser back, e.g. to reconnect with its last event ID.
    pub fn into_parser(self) -> SseParser {
        self.parser
    }
}

impl<S, B, E> Stream for SseStream<S>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    type Item = Result<SseEvent, StreamError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(item) = this.parser.next_event() {
                return Poll::Ready(Some(item.map_err(StreamError::Sse)));
            }
            match *this.state {
                State::Done => return Poll::Ready(None),
                State::Draining => {
                    *this.state = State::Done;
                    return Poll::Ready(
                        this.truncated
                            .take()
                            .map(|t| Err(StreamError::Truncated(t))),
                    );
                }
                State::Reading => {}
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => this.parser.feed(chunk.as_ref()),
                Poll::Ready(Some(Err(e))) => {
                    *this.state = State::Done;
                    return Poll::Ready(Some(Err(StreamError::Transport(e))));
                }
                Poll::Ready(None) => {
                    *this.state = State::Draining;
                    *this.truncated = this.parser.finish().err();
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.state == State::Done {
            (0, Some(0))
        } else {
            (self.parser.events_queued(), None)
        }
    }
}

pin_project! {
    /// A stream of [`NdjsonLine`]s parsed from a stream of byte chunks.
    ///
    /// Size limit and UTF-8 errors are yielded in place and the stream goes on. A transport error
    /// from the inner stream is yielded and ends the stream. A last line without a newline is
    /// yielded when the inner stream ends (decoding it tells whether it was complete).
    #[derive(Debug)]
    pub struct NdjsonStream<S> {
        #[pin]
        inner: S,
        parser: NdjsonParser,
        state: State,
    }
}

impl<S> NdjsonStream<S> {
    /// Parses `inner` with a default [`NdjsonParser`].
    pub fn new(inner: S) -> Self {
        Self::with_parser(inner, NdjsonParser::new())
    }

    /// Parses `inner` with `parser` (e.g. one with custom limits).
    pub fn with_parser(inner: S, parser: NdjsonParser) -> Self {
        Self {
            inner,
            parser,
            state: State::Reading,
        }
    }

    /// The parser.
    pub fn parser(&self) -> &NdjsonParser {
        &self.parser
    }
}

impl<S, B, E> Stream for NdjsonStream<S>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
{
    type Item = Result<NdjsonLine, StreamError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(item) = this.parser.next_event() {
                return Poll::Ready(Some(item.map_err(StreamError::Ndjson)));
            }
            if *this.state != State::Reading {
                *this.state = State::Done;
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => this.parser.feed(chunk.as_ref()),
                Poll::Ready(Some(Err(e))) => {
                    *this.state = State::Done;
                    return Poll::Ready(Some(Err(StreamError::Transport(e))));
                }
                Poll::Ready(None) => {
                    *this.state = State::Draining;
                    this.parser.finish();
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.state == State::Done {
            (0, Some(0))
        } else {
            (self.parser.events_queued(), None)
        }
    }
}
