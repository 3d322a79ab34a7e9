//! The Server-Sent Events parser: the WHATWG HTML rules for "Interpreting an event stream".
//!
//! Two ways out, one line machine ([`SseFeed`], in `feed.rs`): [`SseParser::feed_ref`] returns a
//! lending cursor over one chunk whose events borrow from the chunk (an event lying whole inside it
//! is neither copied nor allocated) or from the parser's reused buffers; [`SseParser::feed`] runs
//! the same cursor to the end of the chunk and queues owned [`SseEvent`]s. A line cut by a chunk
//! boundary is copied into a carry buffer; the line search is `memchr`-based and never rescans.
//!
//! Decoding: the spec decodes the whole stream as UTF-8 with replacement before splitting lines.
//! Line endings and the colon are ASCII, which never occur inside a multi-byte sequence and always
//! end a maximal invalid subpart, so decoding each field value on its own gives the same text, and a
//! multi-byte character split across feeds is never replaced. For the same reason one UTF-8 check
//! (SIMD, `simdutf8`) over an event's joined data (one validation, at dispatch) equals decoding each
//! line; only invalid input takes the lossy path.

mod event;
mod feed;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

pub use event::{SseEvent, SseEventRef};
pub use feed::SseFeed;

use crate::bom::BomState;
use crate::error::{SseError, Truncated};
use crate::limits::Limits;
use event::SharedStr;

/// A sans-IO SSE parser.
///
/// Feed it bytes with [`feed`](Self::feed) as they arrive, take events with
/// [`next_event`](Self::next_event) or [`events`](Self::events), and call
/// [`finish`](Self::finish) when the input ends. Events of one `feed` are queued until taken, so
/// drain after each feed to keep memory near one chunk plus the longest event.
///
/// For no per-event allocation, use [`feed_ref`](Self::feed_ref) instead of `feed`: its cursor
/// yields [`SseEventRef`]s borrowed from the chunk or the parser.
///
/// ```
/// use llm_stream::SseParser;
///
/// let mut parser = SseParser::new();
/// let mut feed = parser.feed_ref(b"event: delta\ndata: {\"text\":\"hi\"}\n\ndata: par");
/// let event = feed.next_event_ref().expect("one event").expect("valid");
/// assert_eq!((event.event(), event.data()), ("delta", r#"{"text":"hi"}"#));
/// assert!(feed.next_event_ref().is_none()); // "data: par" waits for the next chunk
/// drop(feed);
/// let mut feed = parser.feed_ref(b"t\n\n");
/// assert_eq!(feed.next_event_ref().unwrap().unwrap().data(), "part");
/// ```
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
    /// The data buffer; every data line adds its value and an LF. Reused across events (a
    /// [`SseFeed`] keeps a single data line lying in its chunk as a span instead).
    data: Vec<u8>,
    /// Bytes at the start of `data` that are not data: the field name of a first data line that
    /// was assembled in the carry buffer, whose buffer then became the data buffer uncopied.
    data_start: usize,
    /// The event type buffer (a [`SseFeed`] keeps a type lying in its chunk as a span instead).
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
    /// The queued event lent out by the last [`next_event_ref`](Self::next_event_ref).
    taken: Option<SseEvent>,
    /// Lossy decodings of invalid UTF-8 data and type, lent out by a [`SseFeed`].
    lossy_data: String,
    lossy_type: String,
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
            data_start: 0,
            event_type: Vec::new(),
            poisoned: false,
            id_buffer: SharedStr::EMPTY,
            last_event_id: SharedStr::EMPTY,
            retry: None,
            types: Vec::new(),
            queue: VecDeque::new(),
            taken: None,
            lossy_data: String::new(),
            lossy_type: String::new(),
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

    /// Like [`next_event`](Self::next_event), lending the queued event instead of giving it away
    /// (it stays in the parser until the next call). For the allocation-free path use
    /// [`feed_ref`](Self::feed_ref), whose cursor yields these queued items first.
    #[must_use]
    pub fn next_event_ref(&mut self) -> Option<Result<SseEventRef<'_>, SseError>> {
        match self.queue.pop_front()? {
            Ok(event) => Some(Ok(self.taken.insert(event).as_event_ref())),
            Err(e) => Some(Err(e)),
        }
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

    /// Feeds the next chunk of the stream and queues its events as owned [`SseEvent`]s. Chunks may
    /// be of any size (empty too) and split lines, line endings and UTF-8 sequences anywhere.
    pub fn feed(&mut self, input: &[u8]) {
        self.feed_ref(input).queue_rest();
    }

    /// Feeds the next chunk of the stream and returns a cursor that parses it lazily, lending each
    /// event as an [`SseEventRef`] borrowed from `input` (when the event lies whole inside it) or
    /// from the parser's reused buffers: no allocation per event. Same rules, same results and
    /// same limits as [`feed`](Self::feed), which is this cursor run to the end.
    ///
    /// Events not taken when the cursor is dropped are queued as owned events, so dropping it
    /// early loses nothing ([`next_event`](Self::next_event) or the next cursor yields them).
    #[inline]
    pub fn feed_ref<'c>(&mut self, input: &'c [u8]) -> SseFeed<'_, 'c> {
        let stripped = self.bom.strip(input);
        if !stripped.replay.is_empty() {
            SseFeed::new(self, stripped.replay).queue_rest();
        }
        SseFeed::new(self, stripped.rest)
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
            SseFeed::new(self, held).queue_rest();
        }
        let line_bytes = self.carry.len();
        let truncated = Truncated {
            line_bytes,
            data_bytes: if self.poisoned {
                0
            } else {
                self.data.len() - self.data_start
            },
        };
        let pending = line_bytes > 0 || self.skipping || truncated.data_bytes > 0;
        self.carry.clear();
        self.skipping = false;
        self.pending_cr = false;
        self.data = Vec::new();
        self.data_start = 0;
        self.event_type.clear();
        self.poisoned = false;
        self.bom = BomState::Start(0);
        if pending { Err(truncated) } else { Ok(()) }
    }

    /// "Process the field" for the fields that do not build the event: `id`, `retry`, and
    /// unknown ones.
    fn other_field(&mut self, field: &[u8], value: &[u8]) {
        match field {
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
