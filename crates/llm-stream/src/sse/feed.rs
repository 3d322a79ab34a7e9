//! The SSE line machine: a lending cursor over one fed chunk.
//!
//! An event whose only `data` line (and `event` line) lie whole inside the chunk is lent out as
//! spans of the chunk: no copy, no allocation. Anything else (several data lines, a line cut by a
//! chunk boundary) is assembled in the parser's reused buffers. When the chunk runs out, spans
//! still pending are copied into those buffers, so the parser never borrows a chunk it was given.

use super::{SseEvent, SseEventRef, SseParser, event::SharedStr};
use crate::error::SseError;
use crate::extend_small;
use crate::utf8::CheckedChunk;

/// Releasing a data buffer that grew past this after an event keeps a long-lived parser from
/// holding the largest event it ever saw.
const KEEP_DATA_CAPACITY: usize = 64 * 1024;

/// What one step of the line machine produced.
enum Step {
    /// An event is ready in the spans and buffers.
    Event,
    Error(SseError),
}

/// A lending cursor over the events of one chunk, from [`SseParser::feed_ref`].
///
/// Take events with [`next_event_ref`](Self::next_event_ref) until it returns `None` (the chunk is
/// used up). Dropping the cursor earlier parses the rest of the chunk and queues its events as
/// owned [`SseEvent`]s in the parser.
#[derive(Debug)]
pub struct SseFeed<'p, 'c> {
    p: &'p mut SseParser,
    /// The part of the chunk not parsed yet.
    input: &'c [u8],
    /// The chunk, checked as UTF-8 once for the spans lent from it.
    chunk: CheckedChunk<'c>,
    /// The event's data while it is one data line lying in the chunk (then `p.data` is empty).
    data_span: Option<&'c [u8]>,
    /// The event type while its last `event` line lies in the chunk (then `p.event_type` is stale).
    type_span: Option<&'c [u8]>,
    /// An event was lent out: reset the event buffers before going on.
    dispatched: bool,
}

impl<'p, 'c> SseFeed<'p, 'c> {
    #[inline]
    pub(super) fn new(p: &'p mut SseParser, mut input: &'c [u8]) -> Self {
        if p.pending_cr && !input.is_empty() {
            p.pending_cr = false;
            if input[0] == b'\n' {
                input = &input[1..];
            }
        }
        Self {
            p,
            input,
            chunk: CheckedChunk::new(input),
            data_span: None,
            type_span: None,
            dispatched: false,
        }
    }

    /// Takes the next event or error of this chunk (events queued in the parser before come
    /// first). `None` means the chunk is used up: feed the next one.
    #[must_use]
    #[inline]
    pub fn next_event_ref(&mut self) -> Option<Result<SseEventRef<'_>, SseError>> {
        if !self.p.queue.is_empty() {
            return self.p.next_event_ref();
        }
        match self.step()? {
            Step::Event => Some(Ok(self.event_ref())),
            Step::Error(e) => Some(Err(e)),
        }
    }

    /// Parses the rest of the chunk, queueing its events as owned events.
    pub(super) fn queue_rest(&mut self) {
        while let Some(step) = self.step() {
            let item = match step {
                Step::Event => Ok(self.take_owned()),
                Step::Error(e) => Err(e),
            };
            self.p.queue.push_back(item);
        }
    }

    /// Runs the line machine to the next event or error, or to the end of the chunk.
    #[inline]
    fn step(&mut self) -> Option<Step> {
        if self.dispatched {
            self.reset_event();
        }
        if self.input.is_empty() {
            // Used up (or an empty chunk): only the spans may still need a home.
            if self.data_span.is_some() || self.type_span.is_some() {
                self.spill();
            }
            return None;
        }
        self.scan()
    }

    /// The line loop of [`step`](Self::step), over a non-empty rest of the chunk.
    fn scan(&mut self) -> Option<Step> {
        // Splits the input into lines at CR, LF or CRLF ("End of line" in the spec's grammar).
        while let Some(pos) = find_line_end(self.input) {
            let input = self.input;
            self.input = self.after_line_end(input, pos);
            let line = &input[..pos];
            // The usual line: `data:` lying whole in the chunk, no carry, and often followed at
            // once by the blank line that dispatches it. Same steps as `end_line`, `chunk_line`
            // and `dispatch`, without a second search for the blank line's end.
            if let Some(skip) = data_field_len(line)
                && self.p.carry.is_empty()
                && !self.p.skipping
                && line.len() <= self.p.limits.max_line_bytes()
            {
                let value = &line[skip..];
                if let Some(step) = self.data_line(value, Some(value)) {
                    return Some(step);
                }
                if let Some(b'\n' | b'\r') = self.input.first() {
                    self.input = self.after_line_end(self.input, 0);
                    if let Some(step) = self.dispatch() {
                        return Some(step);
                    }
                }
                continue;
            }
            if let Some(step) = self.end_line(line) {
                return Some(step);
            }
        }
        let rest = std::mem::take(&mut self.input);
        let step = self.partial_line(rest);
        self.spill();
        step
    }

    /// The input after the line end at `pos` (a CR or LF): a CRLF pair is one line end, and a CR
    /// ending the chunk may be completed by an LF starting the next one.
    #[inline]
    fn after_line_end(&mut self, input: &'c [u8], pos: usize) -> &'c [u8] {
        let mut next = pos + 1;
        if input[pos] == b'\r' {
            match input.get(next) {
                Some(b'\n') => next += 1,
                Some(_) => {}
                None => self.p.pending_cr = true,
            }
        }
        &input[next..]
    }

    /// The chunk is used up: the event being built moves into the parser's buffers.
    #[inline]
    fn spill(&mut self) {
        if let Some(data) = self.data_span.take() {
            self.p.data.extend_from_slice(data);
            self.p.data.push(b'\n');
        }
        if let Some(event_type) = self.type_span.take() {
            self.p.event_type.clear();
            self.p.event_type.extend_from_slice(event_type);
        }
    }

    /// The end of a line arrived; `tail` is its part in the current chunk.
    fn end_line(&mut self, tail: &'c [u8]) -> Option<Step> {
        let p = &mut *self.p;
        if p.skipping {
            p.skipping = false;
            return None;
        }
        let max = p.limits.max_line_bytes();
        if p.carry.is_empty() {
            if tail.len() > max {
                return self.line_too_long(tail.first() == Some(&b':'));
            }
            return self.chunk_line(tail);
        }
        self.end_carried_line(tail)
    }

    /// The end of a line whose start was carried over from an earlier chunk. Out of line: it
    /// keeps the line loop small for the usual whole lines.
    #[inline(never)]
    fn end_carried_line(&mut self, tail: &[u8]) -> Option<Step> {
        let max = self.p.limits.max_line_bytes();
        let mut carry = std::mem::take(&mut self.p.carry);
        let step = if carry.len() + tail.len() > max {
            self.line_too_long(carry[0] == b':')
        } else {
            carry.extend_from_slice(tail);
            match data_field_len(&carry) {
                // The usual carried line: the first data line of an event. The carry buffer
                // becomes the data buffer as it is (its field name stays in front, skipped by
                // `data_start`), and the empty data buffer becomes the carry: no copy.
                Some(skip)
                    if self.data_span.is_none() && self.p.data.is_empty() && !self.p.poisoned =>
                {
                    let step = self.over_data_limit(carry.len() - skip);
                    if step.is_none() {
                        carry.push(b'\n');
                        std::mem::swap(&mut self.p.data, &mut carry);
                        self.p.data_start = skip;
                    }
                    step
                }
                _ => self.carried_line(&carry),
            }
        };
        carry.clear();
        self.p.carry = carry;
        step
    }

    /// The chunk ended inside a line: keep its start, or report it once it crosses the limit.
    #[inline]
    fn partial_line(&mut self, part: &[u8]) -> Option<Step> {
        let p = &mut *self.p;
        if p.skipping || part.is_empty() {
            return None;
        }
        if p.carry.len() + part.len() > p.limits.max_line_bytes() {
            let first = p.carry.first().unwrap_or(&part[0]);
            let comment = *first == b':';
            p.carry.clear();
            p.skipping = true;
            return self.line_too_long(comment);
        }
        extend_small(&mut p.carry, part);
        None
    }

    /// A comment cannot affect an event; any other oversized line may have, so the event being
    /// built is dropped rather than dispatched incomplete.
    fn line_too_long(&mut self, comment: bool) -> Option<Step> {
        if !comment {
            self.poison();
        }
        Some(Step::Error(SseError::LineTooLong {
            limit: self.p.limits.max_line_bytes(),
        }))
    }

    fn poison(&mut self) {
        self.p.poisoned = true;
        self.p.data = Vec::new();
        self.p.data_start = 0;
        self.data_span = None;
    }

    /// Processes one complete line lying whole in the chunk (spec: "Interpreting an event
    /// stream"); `data` and `event` values are kept as spans of the chunk.
    fn chunk_line(&mut self, line: &'c [u8]) -> Option<Step> {
        // "If the line is empty (a blank line): Dispatch the event."
        if line.is_empty() {
            return self.dispatch();
        }
        // The usual other field, ahead of the general split (its first colon is known).
        if let Some(value) = line.strip_prefix(b"event:") {
            // "Set the event type buffer to field value."
            self.type_span = Some(value.strip_prefix(b" ").unwrap_or(value));
            return None;
        }
        let (field, value) = split_field(line)?;
        match field {
            b"data" => self.data_line(value, Some(value)),
            // "Set the event type buffer to field value."
            b"event" => {
                self.type_span = Some(value);
                None
            }
            _ => {
                self.p.other_field(field, value);
                None
            }
        }
    }

    /// Processes one complete line assembled in the carry buffer; values are copied.
    fn carried_line(&mut self, line: &[u8]) -> Option<Step> {
        if line.is_empty() {
            return self.dispatch();
        }
        let (field, value) = split_field(line)?;
        match field {
            b"data" => self.data_line(value, None),
            b"event" => {
                self.type_span = None;
                self.p.event_type.clear();
                self.p.event_type.extend_from_slice(value);
                None
            }
            _ => {
                self.p.other_field(field, value);
                None
            }
        }
    }

    /// "Append the field value to the data buffer, then append a single U+000A LINE FEED (LF)
    /// character to the data buffer." `span` is the same value when it lies in the chunk: the
    /// first data line of an event is then only remembered, not copied.
    #[inline]
    fn data_line(&mut self, value: &[u8], span: Option<&'c [u8]>) -> Option<Step> {
        if self.p.poisoned {
            return None;
        }
        let held = self
            .data_span
            .map_or(self.p.data.len() - self.p.data_start, |s| s.len() + 1);
        if let Some(step) = self.over_data_limit(held + value.len()) {
            return Some(step);
        }
        match span {
            Some(span) if held == 0 => self.data_span = Some(span),
            _ => {
                let data = &mut self.p.data;
                // One allocation of the right size for the usual single line (no regrowth).
                data.reserve(held + value.len() + 1);
                if let Some(first) = self.data_span.take() {
                    data.extend_from_slice(first);
                    data.push(b'\n');
                }
                data.extend_from_slice(value);
                data.push(b'\n');
            }
        }
        None
    }

    /// An event's data would reach `bytes`: past the limit, the event is dropped and reported.
    #[inline]
    fn over_data_limit(&mut self, bytes: usize) -> Option<Step> {
        let limit = self.p.limits.max_event_data_bytes();
        if bytes <= limit {
            return None;
        }
        self.poison();
        Some(Step::Error(SseError::EventTooLarge { limit }))
    }

    /// "Dispatch the event" at a blank line.
    #[inline]
    fn dispatch(&mut self) -> Option<Step> {
        let p = &mut *self.p;
        // "Set the last event ID string of the event source to the value of the last event ID
        // buffer."
        p.last_event_id.clone_from(&p.id_buffer);
        // "If the data buffer is an empty string, set the data buffer and the event type buffer to
        // the empty string and return." (A dropped, oversized event ends here too.)
        if p.poisoned || (self.data_span.is_none() && p.data.is_empty()) {
            self.reset_event();
            return None;
        }
        self.dispatched = true;
        Some(Step::Event)
    }

    /// Empties the event buffers after a dispatch.
    #[inline]
    fn reset_event(&mut self) {
        let p = &mut *self.p;
        p.poisoned = false;
        if p.data.capacity() > KEEP_DATA_CAPACITY {
            p.data = Vec::new();
        } else {
            p.data.clear();
        }
        p.data_start = 0;
        p.event_type.clear();
        self.data_span = None;
        self.type_span = None;
        self.dispatched = false;
    }

    /// The dispatched event, borrowed. Valid UTF-8 (checked once per chunk, or once over the
    /// joined data) is lent as it is; invalid input is decoded with replacement into the
    /// parser's scratch strings.
    fn event_ref(&mut self) -> SseEventRef<'_> {
        // The type comes first in the chunk: lending it first lets one check cover both.
        let lent_type = self.type_span.and_then(|span| self.chunk.lend(span));
        let lent_data = self.data_span.and_then(|span| self.chunk.lend(span));
        let p = &mut *self.p;
        // "If the data buffer's last character is a U+000A LINE FEED (LF) character, then remove
        // the last character from the data buffer."
        let data = match (lent_data, self.data_span) {
            (Some(text), _) => text,
            (None, Some(span)) => {
                p.lossy_data = String::from_utf8_lossy(span).into_owned();
                &p.lossy_data
            }
            (None, None) => {
                let data = &p.data[p.data_start..];
                let data = data.strip_suffix(b"\n").unwrap_or(data);
                match simdutf8::basic::from_utf8(data) {
                    Ok(text) => text,
                    Err(_) => {
                        p.lossy_data = String::from_utf8_lossy(data).into_owned();
                        &p.lossy_data
                    }
                }
            }
        };
        // "Initialize event's type attribute to "message" ... If the event type buffer has a
        // value other than the empty string, change the type of the newly created event to equal
        // the value of the event type buffer."
        let event = match (lent_type, self.type_span) {
            (Some(text), _) if !text.is_empty() => text,
            (_, Some(b"")) => "message",
            (_, Some(span)) => {
                p.lossy_type = String::from_utf8_lossy(span).into_owned();
                &p.lossy_type
            }
            (_, None) if p.event_type.is_empty() => "message",
            (_, None) => match simdutf8::basic::from_utf8(&p.event_type) {
                Ok(text) => text,
                Err(_) => {
                    p.lossy_type = String::from_utf8_lossy(&p.event_type).into_owned();
                    &p.lossy_type
                }
            },
        };
        SseEventRef {
            event,
            data,
            id: p.id_buffer.as_str(),
        }
    }

    /// The dispatched event, owned: the data buffer is handed over when the event was assembled
    /// there, so an event is copied at most once.
    fn take_owned(&mut self) -> SseEvent {
        let p = &mut *self.p;
        let data = match self.data_span {
            // `str::from_utf8` first: its ASCII fast path is several times quicker than the lossy
            // decoder's byte loop, which only invalid input needs.
            Some(span) => match simdutf8::basic::from_utf8(span) {
                Ok(text) => text.to_owned(),
                Err(_) => String::from_utf8_lossy(span).into_owned(),
            },
            None => {
                let mut data = std::mem::take(&mut p.data);
                data.pop();
                data.drain(..std::mem::take(&mut p.data_start));
                String::from_utf8(data)
                    .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
            }
        };
        let type_bytes = self.type_span.unwrap_or(&p.event_type);
        SseEvent {
            event: SharedStr::event_type(&mut p.types, type_bytes),
            data,
            id: p.id_buffer.clone(),
        }
    }
}

impl Drop for SseFeed<'_, '_> {
    #[inline]
    fn drop(&mut self) {
        // A cursor run to its end (the usual case) has nothing left to queue or spill.
        if !self.input.is_empty()
            || self.dispatched
            || self.data_span.is_some()
            || self.type_span.is_some()
        {
            self.queue_rest();
        }
    }
}

/// The first CR or LF. A blank line (the rest starts with a line end) and tiny inputs (a few
/// bytes per feed) are found directly: cheaper than setting up the vectorised search.
#[inline]
fn find_line_end(input: &[u8]) -> Option<usize> {
    if let Some(b'\r' | b'\n') = input.first() {
        return Some(0);
    }
    if input.len() < 16 {
        input.iter().position(|&b| b == b'\r' || b == b'\n')
    } else {
        memchr::memchr2(b'\r', b'\n', input)
    }
}

/// The length of a `data` line's field name, colon and space (the value starts there), or
/// `None` for any other line.
#[inline]
fn data_field_len(line: &[u8]) -> Option<usize> {
    match line.strip_prefix(b"data:")?.first() {
        Some(b' ') => Some(6),
        _ => Some(5),
    }
}

/// Splits a non-empty line into field and value; `None` for a comment.
fn split_field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    // "If the line starts with a U+003A COLON character (:): Ignore the line."
    // "If the line contains a U+003A COLON character (:): Collect the characters on the line
    // before the first U+003A COLON character (:), and let field be that string. Collect the
    // characters on the line after the first U+003A COLON character (:), and let value be that
    // string. If value starts with a U+0020 SPACE character, remove it from value."
    // "Otherwise, the string is not empty but does not contain a U+003A COLON character (:):
    // Process the field using the whole line as the field name, and the empty string as the
    // field value."
    let (field, value) = if line.starts_with(b"data:") {
        (&line[..4], &line[5..])
    } else {
        match memchr::memchr(b':', line) {
            Some(0) => return None,
            Some(colon) => (&line[..colon], &line[colon + 1..]),
            None => return Some((line, &[])),
        }
    };
    Some((field, value.strip_prefix(b" ").unwrap_or(value)))
}
