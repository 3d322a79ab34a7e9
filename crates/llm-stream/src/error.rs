//! Error types of the parsers and of the stream adapters.

use std::error::Error as StdError;
use std::fmt;

/// An SSE input that broke a configured [`Limits`](crate::Limits) maximum.
///
/// Both kinds are recoverable: the parser skips the offending line, drops the event being built
/// (its content would be incomplete), and goes on with the next line.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SseError {
    /// A line grew longer than [`Limits::max_line_bytes`](crate::Limits::max_line_bytes).
    #[error("sse line longer than the limit of {limit} bytes")]
    LineTooLong {
        /// The limit in force, in bytes.
        limit: usize,
    },
    /// One event's data grew larger than
    /// [`Limits::max_event_data_bytes`](crate::Limits::max_event_data_bytes).
    #[error("sse event data larger than the limit of {limit} bytes")]
    EventTooLarge {
        /// The limit in force, in bytes.
        limit: usize,
    },
}

/// The input ended in the middle of an SSE event: an unterminated line or undispatched data.
///
/// The WHATWG rules discard such an event; this report lets a caller tell a truncated stream from a
/// clean end (a provider maps it to a network error).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stream ended inside an unfinished sse event")]
pub struct Truncated {
    pub(crate) line_bytes: usize,
    pub(crate) data_bytes: usize,
}

impl Truncated {
    /// Bytes of the unterminated last line (0 when the input ended at a line end).
    #[must_use]
    pub fn line_bytes(&self) -> usize {
        self.line_bytes
    }

    /// Bytes of data collected for an event that was never dispatched.
    #[must_use]
    pub fn data_bytes(&self) -> usize {
        self.data_bytes
    }
}

/// What was wrong with an NDJSON line; see [`NdjsonError::kind`].
#[derive(Debug)]
#[non_exhaustive]
pub enum NdjsonErrorKind {
    /// The line grew longer than [`Limits::max_line_bytes`](crate::Limits::max_line_bytes); the
    /// value carries the limit.
    LineTooLong(usize),
    /// The line is not valid UTF-8, so it cannot be JSON.
    InvalidUtf8,
    /// The line is not valid JSON, or not the JSON the caller asked for.
    InvalidJson(serde_json::Error),
}

/// An NDJSON line that could not be used. It names its line number (every physical line counts,
/// from 1, blank ones included); the parser goes on with the next line.
#[derive(Debug)]
pub struct NdjsonError {
    line: u64,
    kind: NdjsonErrorKind,
}

impl NdjsonError {
    pub(crate) fn new(line: u64, kind: NdjsonErrorKind) -> Self {
        Self { line, kind }
    }

    /// The 1-based number of the offending line.
    #[must_use]
    pub fn line(&self) -> u64 {
        self.line
    }

    /// What was wrong with the line.
    #[must_use]
    pub fn kind(&self) -> &NdjsonErrorKind {
        &self.kind
    }

    /// Whether this is a size limit error (the line was skipped, not parsed).
    #[must_use]
    pub fn is_too_long(&self) -> bool {
        matches!(self.kind, NdjsonErrorKind::LineTooLong(_))
    }
}

impl fmt::Display for NdjsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            NdjsonErrorKind::LineTooLong(limit) => write!(
                f,
                "ndjson line {} longer than the limit of {limit} bytes",
                self.line
            ),
            NdjsonErrorKind::InvalidUtf8 => {
                write!(f, "ndjson line {} is not valid utf-8", self.line)
            }
            NdjsonErrorKind::InvalidJson(_) => {
                write!(f, "ndjson line {} is not valid json", self.line)
            }
        }
    }
}

impl StdError for NdjsonError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match &self.kind {
            NdjsonErrorKind::InvalidJson(e) => Some(e),
            NdjsonErrorKind::LineTooLong(_) | NdjsonErrorKind::InvalidUtf8 => None,
        }
    }
}

/// An error from [`SseStream`](crate::SseStream) or [`NdjsonStream`](crate::NdjsonStream).
#[derive(Debug)]
#[non_exhaustive]
pub enum StreamError<E> {
    /// The underlying byte stream failed; the adapter ends after yielding this.
    Transport(E),
    /// An SSE size limit was exceeded; the stream goes on.
    Sse(SseError),
    /// An NDJSON line was oversized or not UTF-8; the stream goes on.
    Ndjson(NdjsonError),
    /// The byte stream ended inside an SSE event; this is the last item.
    Truncated(Truncated),
}

impl<E> StreamError<E> {
    /// Whether the underlying byte stream failed (rather than the bytes being malformed).
    #[must_use]
    pub fn is_transport(&self) -> bool {
        matches!(self, StreamError::Transport(_))
    }

    /// Whether the stream ended inside an event.
    #[must_use]
    pub fn is_truncated(&self) -> bool {
        matches!(self, StreamError::Truncated(_))
    }
}

impl<E> fmt::Display for StreamError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StreamError::Transport(_) => f.write_str("reading the byte stream failed"),
            StreamError::Sse(e) => fmt::Display::fmt(e, f),
            StreamError::Ndjson(e) => fmt::Display::fmt(e, f),
            StreamError::Truncated(e) => fmt::Display::fmt(e, f),
        }
    }
}

impl<E: StdError + 'static> StdError for StreamError<E> {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            StreamError::Transport(e) => Some(e),
            StreamError::Ndjson(e) => e.source(),
            StreamError::Sse(_) | StreamError::Truncated(_) => None,
        }
    }
}
