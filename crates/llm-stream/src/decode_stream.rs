//! Adapters that hand each parsed item, borrowed, to a caller's decoder and yield what it returns.
//!
//! [`SseStream`](crate::SseStream) must yield owned events (a `Stream` cannot lend), so a provider
//! that turns each event into its own type pays twice: the event's `String`, then its own. These
//! adapters call the decoder with an [`SseEventRef`] / [`NdjsonLineRef`] borrowed from the chunk
//! instead, so only the decoder's output is allocated.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use pin_project_lite::pin_project;

use crate::error::{NdjsonError, SseError, StreamError, Truncated};
use crate::ndjson::{NdjsonLineRef, NdjsonParser};
use crate::sse::{SseEventRef, SseParser};

pin_project! {
    /// A stream of the decoder's outputs, one per SSE event parsed from a stream of byte chunks.
    ///
    /// Errors behave as in [`SseStream`](crate::SseStream): limit errors are yielded in place, a
    /// transport error is yielded and ends the stream, and [`StreamError::Truncated`] is the last
    /// item of a stream that ended inside an event. The decoder sees events only.
    ///
    /// ```
    /// use futures::{StreamExt, executor::block_on, stream};
    /// use llm_stream::SseDecodeStream;
    ///
    /// let chunks = stream::iter([Ok::<_, std::io::Error>("data: {\"n\":1}\n\ndata: {\"n\":2}\n\n")]);
    /// let numbers = SseDecodeStream::new(chunks, |event: llm_stream::SseEventRef<'_>| {
    ///     serde_json::from_str::<serde_json::Value>(event.data()).map(|v| v["n"].as_u64())
    /// });
    /// let items: Vec<_> = block_on(numbers.map(|item| item.unwrap().unwrap()).collect());
    /// assert_eq!(items, [Some(1), Some(2)]);
    /// ```
    #[derive(Debug)]
    pub struct SseDecodeStream<S, F, T> {
        #[pin]
        inner: S,
        parser: SseParser,
        decode: F,
        ready: VecDeque<Result<T, SseError>>,
        reading: bool,
        truncated: Option<Truncated>,
    }
}

impl<S, F, T> SseDecodeStream<S, F, T>
where
    F: FnMut(SseEventRef<'_>) -> T,
{
    /// Parses `inner` with a default [`SseParser`], calling `decode` for each event.
    pub fn new(inner: S, decode: F) -> Self {
        Self::with_parser(inner, SseParser::new(), decode)
    }

    /// Parses `inner` with `parser` (custom limits, or a kept last event ID), calling `decode` for
    /// each event.
    pub fn with_parser(inner: S, parser: SseParser, decode: F) -> Self {
        Self {
            inner,
            parser,
            decode,
            ready: VecDeque::new(),
            reading: true,
            truncated: None,
        }
    }
}

impl<S, F, T> SseDecodeStream<S, F, T> {
    /// The parser, e.g. for [`SseParser::last_event_id`] and [`SseParser::retry`].
    pub fn parser(&self) -> &SseParser {
        &self.parser
    }

    /// Takes the parser back, e.g. to reconnect with its last event ID.
    pub fn into_parser(self) -> SseParser {
        self.parser
    }
}

impl<S, B, E, F, T> Stream for SseDecodeStream<S, F, T>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    F: FnMut(SseEventRef<'_>) -> T,
{
    type Item = Result<T, StreamError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(item) = this.ready.pop_front() {
                return Poll::Ready(Some(item.map_err(StreamError::Sse)));
            }
            if !*this.reading {
                return Poll::Ready(
                    this.truncated
                        .take()
                        .map(|t| Err(StreamError::Truncated(t))),
                );
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    let mut feed = this.parser.feed_ref(chunk.as_ref());
                    while let Some(item) = feed.next_event_ref() {
                        this.ready.push_back(item.map(&mut *this.decode));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    *this.reading = false;
                    return Poll::Ready(Some(Err(StreamError::Transport(e))));
                }
                Poll::Ready(None) => {
                    *this.reading = false;
                    *this.truncated = this.parser.finish().err();
                    while let Some(item) = this.parser.next_event_ref() {
                        this.ready.push_back(item.map(&mut *this.decode));
                    }
                }
            }
        }
    }
}

pin_project! {
    /// A stream of the decoder's outputs, one per NDJSON line parsed from a stream of byte chunks.
    ///
    /// Errors behave as in [`NdjsonStream`](crate::NdjsonStream): limit and UTF-8 errors are
    /// yielded in place, a transport error is yielded and ends the stream. The decoder sees
    /// non-blank lines only (the last one without a newline too, when the inner stream ends).
    #[derive(Debug)]
    pub struct NdjsonDecodeStream<S, F, T> {
        #[pin]
        inner: S,
        parser: NdjsonParser,
        decode: F,
        ready: VecDeque<Result<T, NdjsonError>>,
        reading: bool,
    }
}

impl<S, F, T> NdjsonDecodeStream<S, F, T>
where
    F: FnMut(NdjsonLineRef<'_>) -> T,
{
    /// Parses `inner` with a default [`NdjsonParser`], calling `decode` for each line.
    pub fn new(inner: S, decode: F) -> Self {
        Self::with_parser(inner, NdjsonParser::new(), decode)
    }

    /// Parses `inner` with `parser` (e.g. custom limits), calling `decode` for each line.
    pub fn with_parser(inner: S, parser: NdjsonParser, decode: F) -> Self {
        Self {
            inner,
            parser,
            decode,
            ready: VecDeque::new(),
            reading: true,
        }
    }
}

impl<S, F, T> NdjsonDecodeStream<S, F, T> {
    /// The parser.
    pub fn parser(&self) -> &NdjsonParser {
        &self.parser
    }
}

impl<S, B, E, F, T> Stream for NdjsonDecodeStream<S, F, T>
where
    S: Stream<Item = Result<B, E>>,
    B: AsRef<[u8]>,
    F: FnMut(NdjsonLineRef<'_>) -> T,
{
    type Item = Result<T, StreamError<E>>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut this = self.project();
        loop {
            if let Some(item) = this.ready.pop_front() {
                return Poll::Ready(Some(item.map_err(StreamError::Ndjson)));
            }
            if !*this.reading {
                return Poll::Ready(None);
            }
            match this.inner.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(chunk))) => {
                    let mut feed = this.parser.feed_ref(chunk.as_ref());
                    while let Some(item) = feed.next_line_ref() {
                        this.ready.push_back(item.map(&mut *this.decode));
                    }
                }
                Poll::Ready(Some(Err(e))) => {
                    *this.reading = false;
                    return Poll::Ready(Some(Err(StreamError::Transport(e))));
                }
                Poll::Ready(None) => {
                    *this.reading = false;
                    this.parser.finish();
                    while let Some(item) = this.parser.next_line_ref() {
                        this.ready.push_back(item.map(&mut *this.decode));
                    }
                }
            }
        }
    }
}
