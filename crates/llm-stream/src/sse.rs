//! The Server-Sent Events parser: the WHATWG HTML rules for "Interpreting an event stream".
//!
//! Bytes are framed into lines and interpreted as soon as they arrive, so a line that lies whole
//! inside one fed chunk is read straight from that chunk; only a line cut by a chunk boundary is
//! copied into a carry buffer. The line search is `memchr`-based and never rescans bytes.
//!
//! Decoding: the spec decodes the whole stream as UTF-8 with replacement before splitting lines.
//! Line endings and the colon are ASCII, which never occur inside a multi-byte sequence and always
//! end a maximal invalid subpart, so decoding each field value on its own gives the same text, and a
//! multi-byte character split across feeds is never replaced.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use crate::bom::BomState;
use crate::error::{SseError, Truncated};
use crate::limits::Limits;

/// How many distinct recent event types are kept to share their allocation between events.
const TYPE_CACHE: usize = 8;

/// A string that is either static (the common `"message"` type and empty id: no reference
/// counting at all) or shared between events.
#[derive(Clone, Debug)]
enum SharedStr {
    Static(&'static str),
    Shared(Arc<str>),
}

impl SharedStr {
    const EMPTY: Self = SharedStr::Static("");

    fn as_str(&self) -> &str {
        match self {
            SharedStr::Static(s) => s,
            SharedStr::Shared(s) => s,
        }
    }

    fn from_bytes(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return Self::EMPTY;
        }
        SharedStr::Shared(Arc::from(String::from_utf8_lossy(bytes)))
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedStr {}

impl std::hash::Hash for SharedStr {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

/// One dispatched event.
///
/// Cloning is cheap apart from `data`: the type and id are static or shared strings.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SseEvent {
    event: SharedStr,
    data: String,
    id: SharedStr,
}

impl SseEvent {
    /// Builds an event by hand, e.g. in tests of code that consumes events.
    #[must_use]
    pub fn new(event: &str, data: impl Into<String>, id: &str) -> Self {
        Self {
            event: SharedStr::from_bytes(event.as_bytes()),
            data: data.into(),
            id: SharedStr::from_bytes(id.as_bytes()),
        }
    }

    /// The event type: the last `event` field's value, or `"message"` when there was none.
    #[must_use]
    pub fn event(&self) -> &str {
        self.event.as_str()
    }

    /// The data: every `data` field's value joined by LF.
    #[must_use]
    pub fn data(&self) -> &str {
        &self.data
    }

    /// The last event ID as of this event (`""` when the stream has set none).
    #[must_use]
    pub fn id(&self) -> &str {
        self.id.as_str()
    }

    /// Takes the data without copying it.
    #[must_use]
    pub fn into_data(self) -> String {
        self.data
    }
}

/// A sans-IO SSE parser.
///
/// Feed it bytes with [`feed`](Self::feed) as they arrive, take events with
/// [`next_event`](Self::next_event) or [`events`](Self::events), and call
/// [`finish`](Self::finish) when the input ends. Events of one `feed` are queued until taken, so
/// drain after each feed to keep memory near one chunk plus the longest event.
#[derive(Debug)]
pub struct SseParser {
    limits: Limits,
    bom: BomState,
    /// The start of a line cut by the end of a chunk (never longer than the line limit).
    carry: Vec<u8>,
    /// Inside a line that crossed the limit: drop bytes until its end.
    skipping: bool,
    /// The last byte seen was a CR: an LF at the start of the next chunk completes that line end.
    pending_cr: bool,
    /// The data buffer; every data line adds its value and an LF. Handed to the event on dispatch.
    data: Vec<u8>,
    /// The event type buffer.
    event_type: Vec<u8>,
    /// The event being built lost content to a limit: dispatch nothing at its blank line.
    poisoned: bool,
    /// The last event ID buffer.
    id_buffer: SharedStr,
    /// The last event ID string, set from the buffer at each blank line.
    last_event_id: SharedStr,
    retry: Option<u64>,
    /// Recently used event types other than "message".
    types: Vec<Arc<str>>,
    queue: VecDeque<Result<SseEvent, SseError>>,
}

impl Default for SseParser {
    fn default() -> Self {
        Self::new()
    }
}

impl SseParser {
    /// A parser with the default [`Limits`] (16 MiB for a line and for one event's data).
    #[must_use]
    pub fn new() -> Self {
        Self::with_limits(Limits::default())
    }

    /// A parser with the given limits.
    #[must_use]
    pub fn with_limits(limits: Limits) -> Self {
        Self {
            limits,
            bom: BomState::Start(0),
            carry: Vec::new(),
            skipping: false,
            pending_cr: false,
            data: Vec::new(),
            event_type: Vec::new(),
            poisoned: false,
            id_buffer: SharedStr::EMPTY,
            last_event_id: SharedStr::EMPTY,
            retry: None,
            types: Vec::new(),
            queue: VecDeque::new(),
        }
    }

    /// The limits in force.
    #[must_use]
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The last event ID string: the `id` in force at the last blank line, to send as
    /// `Last-Event-ID` when reconnecting. Survives [`finish`](Self::finish).
    #[must_use]
    pub fn last_event_id(&self) -> &str {
        self.last_event_id.as_str()
    }

    /// The reconnection time from the last valid `retry` field, if any. Survives
    /// [`finish`](Self::finish).
    #[must_use]
    pub fn retry(&self) -> Option<Duration> {
        self.retry.map(Duration::from_millis)
    }

    /// Bytes held for an unfinished line and unfinished event data (not counting queued events).
    #[must_use]
    pub fn buffered_bytes(&self) -> usize {
        self.carry.len() + self.data.len() + self.event_type.len()
    }

    /// Takes the next event or error, if a complete one is queued. `None` means "feed more input";
    /// running out of input is never an error.
    #[must_use]
    pub fn next_event(&mut self) -> Option<Result<SseEvent, SseError>> {
        self.queue.pop_front()
    }

    /// How many events and errors are queued, ready for `next_event`.
    #[must_use]
    pub fn events_queued(&self) -> usize {
        self.queue.len()
    }

    /// Drains the queued events and errors.
    pub fn events(&mut self) -> SseEvents<'_> {
        SseEvents { parser: self }
    }

    /// Feeds the next chunk of the stream. Chunks may be of any size (empty too) and split lines,
    /// line endings and UTF-8 sequences anywhere.
    pub fn feed(&mut self, input: &[u8]) {
        let stripped = self.bom.strip(input);
        if !stripped.replay.is_empty() {
            self.feed_lines(stripped.replay);
        }
        self.feed_lines(stripped.rest);
    }

    /// Ends the input. Per the spec an unfinished event is discarded; this returns [`Truncated`]
    /// when a non-empty unterminated line or undispatched data was pending, so a truncated stream
    /// can be told from a clean end. Queued events stay available to
    /// [`next_event`](Self::next_event).
    ///
    /// The parser is then ready for a new stream (a reconnection): the line and event state and the
    /// BOM check start afresh, while [`last_event_id`](Self::last_event_id) and
    /// [`retry`](Self::retry) are kept.
    pub fn finish(&mut self) -> Result<(), Truncated> {
        let held = self.bom.flush();
        if !held.is_empty() {
            self.feed_lines(held);
        }
        let line_bytes = self.carry.len();
        let truncated = Truncated {
            line_bytes,
            data_bytes: if self.poisoned { 0 } else { self.data.len() },
        };
        let pending = line_bytes > 0 || self.skipping || truncated.data_bytes > 0;
        self.carry.clear();
        self.skipping = false;
        self.pending_cr = false;
        self.data = Vec::new();
        self.event_type.clear();
        self.poisoned = false;
        self.bom = BomState::Start(0);
        if pending { Err(truncated) } else { Ok(()) }
    }

    /// Splits `input` into lines at CR, LF or CRLF ("End of line" in the spec's grammar).
    fn feed_lines(&mut self, mut input: &[u8]) {
        if self.pending_cr && !input.is_empty() {
            self.pending_cr = false;
            if input[0] == b'\n' {
                input = &input[1..];
            }
        }
        while let Some(pos) = memchr::memchr2(b'\r', b'\n', input) {
            let mut next = pos + 1;
            if input[pos] == b'\r' {
                match input.get(next) {
                    Some(b'\n') => next += 1,
                    Some(_) => {}
                    None => self.pending_cr = true,
                }
            }
            self.end_line(&input[..pos]);
            input = &input[next..];
        }
        self.partial_line(input);
    }

    /// The end of a line arrived; `tail` is its part in the current chunk.
    fn end_line(&mut self, tail: &[u8]) {
        if self.skipping {
            self.skipping = false;
            return;
        }
        if self.carry.is_empty() {
            if tail.len() > self.limits.max_line_bytes() {
                self.line_too_long(tail);
            } else {
                self.process_line(tail);
            }
            return;
        }
        let mut carry = std::mem::take(&mut self.carry);
        if carry.len() + tail.len() > self.limits.max_line_bytes() {
            self.line_too_long(&carry);
        } else {
            carry.extend_from_slice(tail);
            self.process_line(&carry);
        }
        carry.clear();
        self.carry = carry;
    }

    /// The chunk ended inside a line: keep its start, or report it once it crosses the limit.
    fn partial_line(&mut self, part: &[u8]) {
        if self.skipping || part.is_empty() {
            return;
        }
        if self.carry.len() + part.len() > self.limits.max_line_bytes() {
            let first = if self.carry.is_empty() {
                part
            } else {
                &self.carry[..]
            };
            let comment = first.first() == Some(&b':');
            self.carry.clear();
            self.report_line_too_long(comment);
            self.skipping = true;
        } else {
            self.carry.extend_from_slice(part);
        }
    }

    fn line_too_long(&mut self, start: &[u8]) {
        self.report_line_too_long(start.first() == Some(&b':'));
    }

    /// A comment cannot affect an event; any other oversized line may have, so the event being
    /// built is dropped rather than dispatched incomplete.
    fn report_line_too_long(&mut self, comment: bool) {
        if !comment {
            self.poison();
        }
        self.queue.push_back(Err(SseError::LineTooLong {
            limit: self.limits.max_line_bytes(),
        }));
    }

    fn poison(&mut self) {
        self.poisoned = true;
        self.data = Vec::new();
    }

    /// Processes one complete line (spec: "Interpreting an event stream").
    fn process_line(&mut self, line: &[u8]) {
        // "If the line is empty (a blank line): Dispatch the event."
        if line.is_empty() {
            self.dispatch();
            return;
        }
        // "If the line starts with a U+003A COLON character (:): Ignore the line."
        if line[0] == b':' {
            return;
        }
        // "If the line contains a U+003A COLON character (:): Collect the characters on the line
        // before the first U+003A COLON character (:), and let field be that string. Collect the
        // characters on the line after the first U+003A COLON character (:), and let value be that
        // string. If value starts with a U+0020 SPACE character, remove it from value."
        // "Otherwise, the string is not empty but does not contain a U+003A COLON character (:):
        // Process the field using the whole line as the field name, and the empty string as the
        // field value."
        let (field, value) = match memchr::memchr(b':', line) {
            Some(colon) => {
                let value = &line[colon + 1..];
                (&line[..colon], value.strip_prefix(b" ").unwrap_or(value))
            }
            None => (line, &b""[..]),
        };
        self.process_field(field, value);
    }

    /// "Process the field".
    fn process_field(&mut self, field: &[u8], value: &[u8]) {
        match field {
            // "Append the field value to the data buffer, then append a single U+000A LINE FEED
            // (LF) character to the data buffer."
            b"data" => {
                if self.poisoned {
                    return;
                }
                let limit = self.limits.max_event_data_bytes();
                if self.data.len() + value.len() > limit {
                    self.poison();
                    self.queue.push_back(Err(SseError::EventTooLarge { limit }));
                    return;
                }
                if self.data.is_empty() {
                    self.data.reserve_exact(value.len() + 1);
                }
                self.data.extend_from_slice(value);
                self.data.push(b'\n');
            }
            // "Set the event type buffer to field value."
            b"event" => {
                self.event_type.clear();
                self.event_type.extend_from_slice(value);
            }
            // "If the field value does not contain U+0000 NULL, then set the last event ID buffer
            // to the field value. Otherwise, ignore the field."
            // (An id equal to the current one keeps the shared string.)
            b"id"
                if memchr::memchr(0, value).is_none()
                    && value != self.id_buffer.as_str().as_bytes() =>
            {
                self.id_buffer = SharedStr::from_bytes(value);
            }
            // "If the field value consists of only ASCII digits, then interpret the field value as
            // an integer in base ten, and set the event stream's reconnection time to that
            // integer. Otherwise, ignore the field." An empty value, or one too large for a u64
            // of milliseconds, is ignored too.
            b"retry" if !value.is_empty() && value.iter().all(u8::is_ascii_digit) => {
                let parsed = value.iter().try_fold(0u64, |acc, d| {
                    acc.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                });
                if let Some(ms) = parsed {
                    self.retry = Some(ms);
                }
            }
            // "Otherwise: The field is ignored."
            _ => {}
        }
    }

    /// "Dispatch the event" at a blank line.
    fn dispatch(&mut self) {
        // "Set the last event ID string of the event source to the value of the last event ID
        // buffer."
        self.last_event_id.clone_from(&self.id_buffer);
        // "If the data buffer is an empty string, set the data buffer and the event type buffer to
        // the empty string and return." (A dropped, oversized event ends here too.)
        if self.poisoned || self.data.is_empty() {
            self.poisoned = false;
            self.data.clear();
            self.event_type.clear();
            return;
        }
        // "If the data buffer's last character is a U+000A LINE FEED (LF) character, then remove
        // the last character from the data buffer."
        let mut data = std::mem::take(&mut self.data);
        data.pop();
        let data = match String::from_utf8(data) {
            Ok(data) => data,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        };
        // "Initialize event's type attribute to "message" ... If the event type buffer has a
        // value other than the empty string, change the type of the newly created event to equal
        // the value of the event type buffer."
        let event = self.intern_type();
        self.event_type.clear();
        self.queue.push_back(Ok(SseEvent {
            event,
            data,
            id: self.id_buffer.clone(),
        }));
    }

    /// The event type, reusing a recent allocation when the type repeats.
    fn intern_type(&mut self) -> SharedStr {
        if self.event_type.is_empty() {
            return SharedStr::Static("message");
        }
        if let Some(found) = self
            .types
            .iter()
            .find(|t| t.as_bytes() == self.event_type.as_slice())
        {
            return SharedStr::Shared(found.clone());
        }
        let fresh: Arc<str> = Arc::from(String::from_utf8_lossy(&self.event_type));
        if self.types.len() >= TYPE_CACHE {
            self.types.remove(0);
        }
        self.types.push(fresh.clone());
        SharedStr::Shared(fresh)
    }
}

/// A draining iterator over the queued events and errors of an [`SseParser`].
#[derive(Debug)]
pub struct SseEvents<'a> {
    parser: &'a mut SseParser,
}

impl Iterator for SseEvents<'_> {
    type Item = Result<SseEvent, SseError>;

    fn next(&mut self) -> Option<Self::Item> {
        self.parser.next_event()
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.parser.queue.len();
        (n, Some(n))
    }
}

impl ExactSizeIterator for SseEvents<'_> {}
