//! The NDJSON parser: one JSON value per line.
//!
//! A line ends at LF, with one CR before it dropped (a lone CR does not end a line). Lines holding
//! only spaces, tabs or CR are blank and skipped, one leading BOM is stripped, and a last line
//! without a newline is taken by [`NdjsonParser::finish`]. Lines are numbered from 1, counting
//! every physical line, blank ones included.
//!
//! As for SSE, one line machine ([`NdjsonFeed`], in `feed.rs`) serves both ways out:
//! [`NdjsonParser::feed_ref`] lends each line as an [`NdjsonLineRef`] borrowed from the chunk (or
//! the carry buffer for a line cut by a chunk boundary), checked as UTF-8 once;
//! [`NdjsonParser::feed`] runs it to the end of the chunk and queues owned [`NdjsonLine`]s.

mod feed;

use std::collections::VecDeque;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

pub use feed::NdjsonFeed;

use crate::bom::BomState;
use crate::error::{NdjsonError, NdjsonErrorKind};
use crate::limits::Limits;

/// One non-blank NDJSON line, as received (without its line ending), not yet parsed as JSON.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NdjsonLine {
    number: u64,
    text: String,
}

impl NdjsonLine {
    /// Builds a line by hand, e.g. in tests of code that consumes lines.
    #[must_use]
    pub fn new(number: u64, text: impl Into<String>) -> Self {
        Self {
            number,
            text: text.into(),
        }
    }

    /// The 1-based line number.
    #[must_use]
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The line's text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Takes the line's text without copying it.
    #[must_use]
    pub fn into_string(self) -> String {
        self.text
    }

    /// Parses the line as a `T`; the error names the line number.
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, NdjsonError> {
        self.decode_borrowed()
    }

    /// Parses the line as a `T` that may borrow from the line (e.g. `&str` fields).
    pub fn decode_borrowed<'a, T: Deserialize<'a>>(&'a self) -> Result<T, NdjsonError> {
        serde_json::from_str(&self.text)
            .map_err(|e| NdjsonError::new(self.number, NdjsonErrorKind::InvalidJson(e)))
    }

    /// Checks that the line is one JSON value and returns it as raw text, exactly as received
    /// (numbers and key order untouched; surrounding whitespace dropped).
    pub fn raw_value(&self) -> Result<&RawValue, NdjsonError> {
        self.decode_borrowed()
    }

    /// A borrowed view of this line.
    #[must_use]
    pub fn as_line_ref(&self) -> NdjsonLineRef<'_> {
        NdjsonLineRef {
            number: self.number,
            text: &self.text,
        }
    }
}

/// One non-blank NDJSON line borrowed from the fed chunk or the parser: what
/// [`NdjsonFeed::next_line_ref`] yields, with no allocation. Decoding borrows from it, so `&str`
/// fields of a decoded value point into the chunk.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NdjsonLineRef<'a> {
    number: u64,
    text: &'a str,
}

impl<'a> NdjsonLineRef<'a> {
    /// Builds a borrowed line by hand, e.g. in tests of code that consumes lines.
    #[must_use]
    pub fn new(number: u64, text: &'a str) -> Self {
        Self { number, text }
    }

    /// The 1-based line number.
    #[must_use]
    pub fn number(&self) -> u64 {
        self.number
    }

    /// The line's text.
    #[must_use]
    pub fn as_str(&self) -> &'a str {
        self.text
    }

    /// An owned copy.
    #[must_use]
    pub fn to_line(&self) -> NdjsonLine {
        NdjsonLine::new(self.number, self.text)
    }

    /// Parses the line as a `T`, which may borrow from the line; the error names the line number.
    pub fn decode<T: Deserialize<'a>>(&self) -> Result<T, NdjsonError> {
        serde_json::from_str(self.text)
            .map_err(|e| NdjsonError::new(self.number, NdjsonErrorKind::InvalidJson(e)))
    }

    /// Checks that the line is one JSON value and returns it as raw text, exactly as received.
    pub fn raw_value(&self) -> Result<&'a RawValue, NdjsonError> {
        self.decode()
    }
}

/// A sans-IO NDJSON parser.
///
/// Feed bytes with [`feed`](Self::feed), take lines with [`next_event`](Self::next_event) (raw)
/// or [`next_as`](Self::next_as) (typed), and call [`finish`](Self::finish) when the input ends.
///
/// ```
/// use llm_stream::NdjsonParser;
///
/// #[derive(serde::Deserialize)]
/// struct Chunk { done: bool }
///
/// let mut parser = NdjsonParser::new();
/// parser.feed(b"{\"done\":false}\n{\"do");
/// parser.feed(b"ne\":true}");
/// assert!(!parser.next_as::<Chunk>().unwrap().unwrap().done);
/// assert!(parser.next_as::<Chunk>().is_none()); // the last line has no newline yet
/// parser.finish();
/// assert!(parser.next_as::<Chunk>().unwrap().unwrap().done);
/// ```
#[derive(Debug)]
pub struct NdjsonParser {
    limits: Limits,
    bom: BomState,
    /// The start of a line cut by the end of a chunk (never longer than the line limit, plus a
    /// trailing CR that may turn out to be part of a CRLF); while a cursor lends that line once
    /// finished, the whole line (emptied at the cursor's next step).
    carry: Vec<u8>,
    /// Inside a line that crossed the limit: drop bytes until its end.
    skipping: bool,
    /// The number of the line being read.
    line: u64,
    queue: VecDeque<Result<NdjsonLine, NdjsonError>>,
    /// The queued line lent out by the last [`next_line_ref`](Self::next_line_ref).
    taken: Option<NdjsonLine>,
}

impl Default for NdjsonParser {
    fn default() -> Self {
        Self::new()
    }
}

impl NdjsonParser {
    /// A parser with the default [`Limits`] (16 MiB for a line).
    #[must_use]
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A parser with the given limits (only the line limit applies).
    #[must_use]
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            bom: BomState::Start(0),
            carry: Vec::new(),
            skipping: false,
            line: 1,
            queue: VecDeque::new(),
            taken: None,
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// Bytes held for an unfinished line (not counting queued lines).
    #[must_use]
    pub fn buffered_bytes(&self) -> usize {
        self.carry.len()
    }

    /// Takes the next non-blank line or error, if one is complete. `None` means "feed more input".
    /// Errors here are size limit and UTF-8 errors; JSON is checked by [`NdjsonLine::decode`].
    #[must_use]
    pub fn next_event(&mut self) -> Option<Result<NdjsonLine, NdjsonError>> {
        self.queue.pop_front()
    }

    /// Like [`next_event`](Self::next_event), lending the queued line instead of giving it away
    /// (it stays in the parser until the next call); e.g. the last line queued by
    /// [`finish`](Self::finish). For the allocation-free path use [`feed_ref`](Self::feed_ref).
    #[must_use]
    pub fn next_line_ref(&mut self) -> Option<Result<NdjsonLineRef<'_>, NdjsonError>> {
        match self.queue.pop_front()? {
            Ok(line) => Some(Ok(self.taken.insert(line).as_line_ref())),
            Err(e) => Some(Err(e)),
        }
    }

    /// Takes the next line parsed as a `T`. A line that is not a `T` yields an error naming its
    /// line number; the following lines are still available.
    #[must_use]
    pub fn next_as<T: DeserializeOwned>(&mut self) -> Option<Result<T, NdjsonError>> {
        self.next_event().map(|line| line?.decode())
    }

    /// How many events and errors are queued, ready for `next_event`.
    #[must_use]
    pub fn events_queued(&self) -> usize {
        self.queue.len()
    }

    /// Drains the queued lines and errors.
    pub fn events(&mut self) -> NdjsonEvents<'_> {
        NdjsonEvents { parser: self }
    }

    /// Feeds the next chunk of the stream and queues its lines as owned [`NdjsonLine`]s; chunks
    /// may be of any size and split anything.
    pub fn feed(&mut self, input: &[u8]) {
        self.feed_ref(input).queue_rest();
    }

    /// Feeds the next chunk of the stream and returns a cursor that parses it lazily, lending each
    /// line as an [`NdjsonLineRef`] borrowed from `input` (or from the parser for a line cut by a
    /// chunk boundary): no allocation per line. Same rules, results and limits as
    /// [`feed`](Self::feed), which is this cursor run to the end.
    ///
    /// Lines not taken when the cursor is dropped are queued as owned lines, so dropping it early
    /// loses nothing. The last line without a newline comes from [`finish`](Self::finish), queued:
    /// take it with [`next_line_ref`](Self::next_line_ref) or [`next_event`](Self::next_event).
    #[inline]
    pub fn feed_ref<'c>(&mut self, input: &'c [u8]) -> NdjsonFeed<'_, 'c> {
        let stripped = self.bom.strip(input);
        if !stripped.replay.is_empty() {
            NdjsonFeed::new(self, stripped.replay).queue_rest();
        }
        NdjsonFeed::new(self, stripped.rest)
    }

    /// Ends the input: a last line without a newline is queued like any other. The parser is
    /// then ready for a new stream (line numbers restart at 1).
    pub fn finish(&mut self) {
        let held = self.bom.flush();
        if !held.is_empty() {
            NdjsonFeed::new(self, held).queue_rest();
        }
        if !self.skipping && !self.carry.is_empty() {
            let mut carry = std::mem::take(&mut self.carry);
            if carry.last() == Some(&b'\r') {
                carry.pop();
            }
            if !is_blank(&carry) {
                let item = match String::from_utf8(carry) {
                    Ok(text) => Ok(NdjsonLine {
                        number: self.line,
                        text,
                    }),
                    Err(_) => Err(NdjsonError::new(self.line, NdjsonErrorKind::InvalidUtf8)),
                };
                self.queue.push_back(item);
            }
        }
        self.carry.clear();
        self.skipping = false;
        self.line = 1;
        self.bom = BomState::Start(0);
    }

    fn too_long(&self) -> NdjsonError {
        NdjsonError::new(
            self.line,
            NdjsonErrorKind::LineTooLong(self.limits.max_line_bytes()),
        )
    }
}

/// A line holding only spaces, tabs or CR is blank.
#[inline]
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// A draining iterator over the queued lines and errors of an [`NdjsonParser`].
#[derive(Debug)]
pub struct NdjsonEvents<'a> {
    parser: &'a mut NdjsonParser,
}

impl Iterator for NdjsonEvents<'_> {
    type Item = Result<NdjsonLine, NdjsonError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.parser.next_event()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.parser.queue.len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for NdjsonEvents<'_> {}
