//! The NDJSON line machine: a lending cursor over one fed chunk.
//!
//! A line lying whole inside the chunk is lent out as a span of it; a line cut by a chunk boundary
//! is assembled in the parser's carry buffer and checked as UTF-8 there (SIMD, `simdutf8`) when it
//! is lent, so every line is validated once and never copied twice.

use super::{NdjsonLine, NdjsonLineRef, NdjsonParser, is_blank};
use crate::error::{NdjsonError, NdjsonErrorKind};
use crate::extend_small;
use crate::utf8::CheckedChunk;

/// What one step of the line machine produced.
enum Step<'c> {
    /// A line lying in the chunk, with its number.
    Chunk(u64, &'c str),
    /// A line assembled in the parser's carry buffer, not blank, not yet checked as UTF-8, with
    /// its number.
    Carried(u64),
    Error(NdjsonError),
}

/// A lending cursor over the lines of one chunk, from [`NdjsonParser::feed_ref`].
///
/// Take lines with [`next_line_ref`](Self::next_line_ref) until it returns `None` (the chunk is
/// used up). Dropping the cursor earlier parses the rest of the chunk and queues its lines as owned
/// [`NdjsonLine`]s in the parser.
///
/// ```
/// use llm_stream::NdjsonParser;
///
/// #[derive(serde::Deserialize)]
/// struct Chunk<'a> { text: &'a str }
///
/// let mut parser = NdjsonParser::new();
/// let mut feed = parser.feed_ref(b"{\"text\":\"hi\"}\n{\"te");
/// let line = feed.next_line_ref().unwrap().unwrap();
/// let chunk: Chunk<'_> = line.decode().unwrap(); // borrows from the fed bytes
/// assert_eq!((line.number(), chunk.text), (1, "hi"));
/// assert!(feed.next_line_ref().is_none());
/// ```
#[derive(Debug)]
pub struct NdjsonFeed<'p, 'c> {
    p: &'p mut NdjsonParser,
    /// The part of the chunk not parsed yet.
    input: &'c [u8],
    /// The chunk, checked as UTF-8 once for the lines lent from it.
    chunk: CheckedChunk<'c>,
    /// `p.carry` holds a finished line (lent out or queued): empty it first.
    lent: bool,
}

impl<'p, 'c> NdjsonFeed<'p, 'c> {
    #[inline]
    pub(super) fn new(p: &'p mut NdjsonParser, input: &'c [u8]) -> Self {
        Self {
            p,
            input,
            chunk: CheckedChunk::new(input),
            lent: false,
        }
    }

    /// Takes the next non-blank line or error of this chunk (lines queued in the parser before
    /// come first). `None` means the chunk is used up: feed the next one.
    #[must_use]
    #[inline]
    pub fn next_line_ref(&mut self) -> Option<Result<NdjsonLineRef<'_>, NdjsonError>> {
        if !self.p.queue.is_empty() {
            return self.p.next_line_ref();
        }
        Some(match self.step()? {
            Step::Chunk(number, text) => Ok(NdjsonLineRef { number, text }),
            Step::Carried(number) => match simdutf8::basic::from_utf8(&self.p.carry) {
                Ok(text) => Ok(NdjsonLineRef { number, text }),
                Err(_) => Err(invalid_utf8(number)),
            },
            Step::Error(e) => Err(e),
        })
    }

    /// Parses the rest of the chunk, queueing its lines as owned lines.
    pub(super) fn queue_rest(&mut self) {
        while let Some(step) = self.step() {
            let item = match step {
                Step::Chunk(number, text) => Ok(NdjsonLine::new(number, text)),
                Step::Carried(number) => match String::from_utf8(std::mem::take(&mut self.p.carry))
                {
                    Ok(text) => Ok(NdjsonLine { number, text }),
                    Err(e) => {
                        self.p.carry = e.into_bytes();
                        Err(invalid_utf8(number))
                    }
                },
                Step::Error(e) => Err(e),
            };
            self.p.queue.push_back(item);
        }
    }

    /// Runs the line machine to the next line or error, or to the end of the chunk.
    #[inline]
    fn step(&mut self) -> Option<Step<'c>> {
        if self.lent {
            self.p.carry.clear();
            self.lent = false;
        }
        if self.input.is_empty() {
            return None;
        }
        self.scan()
    }

    /// The line loop of [`step`](Self::step), over a non-empty rest of the chunk.
    fn scan(&mut self) -> Option<Step<'c>> {
        while let Some(pos) = find_lf(self.input) {
            let input = self.input;
            self.input = &input[pos + 1..];
            let step = self.end_line(&input[..pos]);
            self.p.line += 1;
            if step.is_some() {
                return step;
            }
        }
        let rest = std::mem::take(&mut self.input);
        self.partial_line(rest)
    }

    /// An LF arrived; `tail` is the line's part in the current chunk.
    #[inline]
    fn end_line(&mut self, tail: &'c [u8]) -> Option<Step<'c>> {
        let p = &mut *self.p;
        if p.skipping {
            p.skipping = false;
            return None;
        }
        if p.carry.is_empty() {
            let content = tail.strip_suffix(b"\r").unwrap_or(tail);
            if content.len() > p.limits.max_line_bytes() {
                return Some(Step::Error(p.too_long()));
            }
            if is_blank(content) {
                return None;
            }
            let line = p.line;
            return Some(match self.chunk.lend(content) {
                Some(text) => Step::Chunk(line, text),
                None => Step::Error(invalid_utf8(line)),
            });
        }
        let carry = &mut p.carry;
        let ends_in_cr = match tail.last() {
            Some(&last) => last == b'\r',
            None => carry.last() == Some(&b'\r'),
        };
        // Checked before copying, so a huge tail is never buffered.
        if carry.len() + tail.len() - usize::from(ends_in_cr) > p.limits.max_line_bytes() {
            carry.clear();
            return Some(Step::Error(p.too_long()));
        }
        carry.extend_from_slice(tail);
        if ends_in_cr {
            carry.pop();
        }
        if is_blank(carry) {
            carry.clear();
            return None;
        }
        self.lent = true;
        Some(Step::Carried(p.line))
    }

    /// The chunk ended inside a line: keep its start, or report it once it crosses the limit.
    #[inline]
    fn partial_line(&mut self, part: &[u8]) -> Option<Step<'c>> {
        let p = &mut *self.p;
        if p.skipping || part.is_empty() {
            return None;
        }
        // A CR at the very end may still turn out to be half of the CRLF line ending.
        let len = p.carry.len() + part.len() - usize::from(part.last() == Some(&b'\r'));
        if len > p.limits.max_line_bytes() {
            p.carry = Vec::new();
            p.skipping = true;
            return Some(Step::Error(p.too_long()));
        }
        extend_small(&mut p.carry, part);
        None
    }
}

impl Drop for NdjsonFeed<'_, '_> {
    #[inline]
    fn drop(&mut self) {
        // A cursor run to its end (the usual case) has nothing left to queue or give back.
        if !self.input.is_empty() || self.lent {
            self.queue_rest();
        }
    }
}

/// The first LF. Tiny inputs (a few bytes per feed) are scanned directly: cheaper than setting
/// up the vectorised search.
fn find_lf(input: &[u8]) -> Option<usize> {
    if input.len() < 16 {
        input.iter().position(|&b| b == b'\n')
    } else {
        memchr::memchr(b'\n', input)
    }
}

fn invalid_utf8(line: u64) -> NdjsonError {
    NdjsonError::new(line, NdjsonErrorKind::InvalidUtf8)
}
