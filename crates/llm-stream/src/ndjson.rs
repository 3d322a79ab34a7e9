//! The NDJSON parser: one JSON value per line.
//!
//! A line ends at LF, with one CR before it dropped (a lone CR does not end a line). Lines holding
//! only spaces, tabs or CR are blank and skipped, one leading BOM is stripped, and a last line
//! without a newline is taken by [`NdjsonParser::finish`]. Lines are numbered from 1, counting
//! every physical line, blank ones included.

use std::collections::VecDeque;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

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
    /// trailing CR that may turn out to be part of a CRLF).
    carry: Vec<u8>,
    /// Inside a line that crossed the limit: drop bytes until its end.
    skipping: bool,
    /// The number of the line being read.
    line: u64,
    queue: VecDeque<Result<NdjsonLine, NdjsonError>>,
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

    /// Feeds the next chunk of the stream; chunks may be of any size and split anything.
    pub fn feed(&mut self, input: &[u8]) {
        let stripped = self.bom.strip(input);
        if !stripped.replay.is_empty() {
            self.feed_lines(stripped.replay);
        }
        self.feed_lines(stripped.rest);
    }

    /// Ends the input: a last line without a newline is queued like any other. The parser is
    /// then ready for a new stream (line numbers restart at 1).
    pub fn finish(&mut self) {
        let held = self.bom.flush();
        if !held.is_empty() {
            self.feed_lines(held);
        }
        if !self.skipping && !self.carry.is_empty() {
            let mut carry = std::mem::take(&mut self.carry);
            if carry.last() == Some(&b'\r') {
                carry.pop();
            }
            self.complete_line(carry);
        }
        self.carry.clear();
        self.skipping = false;
        self.line = 1;
        self.bom = BomState::Start(0);
    }

    fn feed_lines(&mut self, mut input: &[u8]) {
        while let Some(pos) = memchr::memchr(b'\n', input) {
            self.end_line(&input[..pos]);
            input = &input[pos + 1..];
        }
        self.partial_line(input);
    }

    /// An LF arrived; `tail` is the line's part in the current chunk.
    fn end_line(&mut self, tail: &[u8]) {
        if self.skipping {
            self.skipping = false;
        } else if self.carry.is_empty() {
            let content = tail.strip_suffix(b"\r").unwrap_or(tail);
            if content.len() > self.limits.max_line_bytes() {
                self.too_long();
            } else if !is_blank(content) {
                self.complete_line(content.to_vec());
            }
        } else {
            let mut carry = std::mem::take(&mut self.carry);
            let ends_in_cr = match tail.last() {
                Some(&last) => last == b'\r',
                None => carry.last() == Some(&b'\r'),
            };
            // Checked before copying, so a huge tail is never buffered.
            if carry.len() + tail.len() - usize::from(ends_in_cr) > self.limits.max_line_bytes() {
                self.too_long();
            } else {
                carry.extend_from_slice(tail);
                if ends_in_cr {
                    carry.pop();
                }
                self.complete_line(carry);
            }
        }
        self.line += 1;
    }

    /// The chunk ended inside a line: keep its start, or report it once it crosses the limit.
    fn partial_line(&mut self, part: &[u8]) {
        if self.skipping || part.is_empty() {
            return;
        }
        // A CR at the very end may still turn out to be half of the CRLF line ending.
        let len = self.carry.len() + part.len() - usize::from(part.last() == Some(&b'\r'));
        if len > self.limits.max_line_bytes() {
            self.carry = Vec::new();
            self.too_long();
            self.skipping = true;
        } else {
            self.carry.extend_from_slice(part);
        }
    }

    fn too_long(&mut self) {
        let limit = self.limits.max_line_bytes();
        self.queue.push_back(Err(NdjsonError::new(
            self.line,
            NdjsonErrorKind::LineTooLong(limit),
        )));
    }

    fn complete_line(&mut self, bytes: Vec<u8>) {
        if is_blank(&bytes) {
            return;
        }
        let item = match String::from_utf8(bytes) {
            Ok(text) => Ok(NdjsonLine {
                number: self.line,
                text,
            }),
            Err(_) => Err(NdjsonError::new(self.line, NdjsonErrorKind::InvalidUtf8)),
        };
        self.queue.push_back(item);
    }
}

/// A line holding only spaces, tabs or CR is blank.
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
