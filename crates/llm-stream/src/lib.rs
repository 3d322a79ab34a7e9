//! Sans-IO parsers for the two streaming formats LLM providers speak: Server-Sent Events
//! ([`SseParser`]) and newline-delimited JSON ([`NdjsonParser`]).
//!
//! A parser is a plain struct. Bytes go in with `feed(&[u8])`, in chunks of any size and alignment;
//! parsed items come out of `next_event()` (or the draining `events()` iterator); `finish()` says the
//! input has ended. Nothing here performs IO or needs an async runtime. [`SseStream`] and
//! [`NdjsonStream`] adapt any `Stream<Item = Result<B, E>>` of byte chunks (for example reqwest's
//! `bytes_stream()`) into a stream of parsed items, using only `futures-core`.
//!
//! For hot paths, [`SseParser::feed_ref`] and [`NdjsonParser::feed_ref`] return lending cursors
//! whose items ([`SseEventRef`], [`NdjsonLineRef`]) borrow from the fed chunk when they lie whole
//! inside it: no allocation and no copy per event. [`SseDecodeStream`] and [`NdjsonDecodeStream`]
//! hand those borrowed items to a caller's decoder, so a provider allocates only its own output.
//!
//! Memory is bounded: a line longer than [`Limits::max_line_bytes`] (and, for SSE, an event whose
//! data grows past [`Limits::max_event_data_bytes`]) yields a typed error as soon as the limit is
//! crossed, the rest of that line is skipped without being buffered, and parsing continues with the
//! next line.
//!
//! ```
//! use llm_stream::SseParser;
//!
//! let mut parser = SseParser::new();
//! parser.feed(b"event: delta\r\ndata: {\"text\":");
//! assert!(parser.next_event().is_none()); // running out of input is not an error
//! parser.feed(b"\"hi\"}\r\n\r\n");
//! let event = parser.next_event().expect("one event").expect("valid event");
//! assert_eq!(event.event(), "delta");
//! assert_eq!(event.data(), r#"{"text":"hi"}"#);
//! assert!(parser.finish().is_ok()); // nothing was pending: a clean end
//! ```
#![forbid(unsafe_code)]

mod bom;
mod decode_stream;
mod error;
mod limits;
mod ndjson;
mod sse;
mod stream;
mod utf8;

pub use decode_stream::{NdjsonDecodeStream, SseDecodeStream};
pub use error::{NdjsonError, NdjsonErrorKind, SseError, StreamError, Truncated};
pub use limits::Limits;
pub use ndjson::{NdjsonEvents, NdjsonFeed, NdjsonLine, NdjsonLineRef, NdjsonParser};
pub use sse::{SseEvent, SseEventRef, SseEvents, SseFeed, SseParser};
pub use stream::{NdjsonStream, SseStream};

/// Appends `part` to `buf`; a part of a byte or two (a stream fed byte by byte) is pushed
/// directly, which is cheaper than the call to `memcpy` behind `extend_from_slice`.
#[inline]
pub(crate) fn extend_small(buf: &mut Vec<u8>, part: &[u8]) {
    match *part {
        [a] => buf.push(a),
        [a, b] => {
            buf.push(a);
            buf.push(b);
        }
        _ => buf.extend_from_slice(part),
    }
}
