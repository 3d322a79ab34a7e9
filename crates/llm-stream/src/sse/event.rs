//! Dispatched SSE events: owned ([`SseEvent`]) and borrowed ([`SseEventRef`]).

use std::sync::Arc;

/// How many distinct recent event types are kept to share their allocation between events.
const TYPE_CACHE: usize = 8;

/// A string that is either static (the common `"message"` type and empty id: no reference
/// counting at all) or shared between events.
#[derive(Clone, Debug)]
pub(super) enum SharedStr {
    Static(&'static str),
    Shared(Arc<str>),
}

impl SharedStr {
    pub(super) const EMPTY: Self = SharedStr::Static("");

    pub(super) fn as_str(&self) -> &str {
        match self {
            SharedStr::Static(s) => s,
            SharedStr::Shared(s) => s,
        }
    }

    pub(super) fn from_bytes(bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return Self::EMPTY;
        }
        SharedStr::Shared(Arc::from(String::from_utf8_lossy(bytes)))
    }

    /// The event type for a type buffer, reusing a recent allocation (in `cache`) when it repeats.
    pub(super) fn event_type(cache: &mut Vec<Arc<str>>, bytes: &[u8]) -> Self {
        if bytes.is_empty() {
            return SharedStr::Static("message");
        }
        if let Some(found) = cache.iter().find(|t| t.as_bytes() == bytes) {
            return SharedStr::Shared(found.clone());
        }
        let fresh: Arc<str> = Arc::from(String::from_utf8_lossy(bytes));
        if cache.len() >= TYPE_CACHE {
            cache.remove(0);
        }
        cache.push(fresh.clone());
        SharedStr::Shared(fresh)
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
    pub(super) event: SharedStr,
    pub(super) data: String,
    pub(super) id: SharedStr,
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

    /// A borrowed view of this event.
    #[must_use]
    pub fn as_event_ref(&self) -> SseEventRef<'_> {
        SseEventRef {
            event: self.event(),
            data: &self.data,
            id: self.id(),
        }
    }
}

/// One dispatched event, borrowed from the parser or straight from the fed chunk: what
/// [`SseFeed::next_event_ref`](crate::SseFeed::next_event_ref) yields, with no allocation and no
/// copy when the event lay whole inside the chunk.
///
/// The same three strings as [`SseEvent`]; [`to_event`](Self::to_event) makes an owned copy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SseEventRef<'a> {
    pub(super) event: &'a str,
    pub(super) data: &'a str,
    pub(super) id: &'a str,
}

impl<'a> SseEventRef<'a> {
    /// Builds a borrowed event by hand, e.g. in tests of code that consumes events.
    #[must_use]
    pub fn new(event: &'a str, data: &'a str, id: &'a str) -> Self {
        Self { event, data, id }
    }

    /// The event type: the last `event` field's value, or `"message"` when there was none.
    #[must_use]
    pub fn event(&self) -> &'a str {
        self.event
    }

    /// The data: every `data` field's value joined by LF.
    #[must_use]
    pub fn data(&self) -> &'a str {
        self.data
    }

    /// The last event ID as of this event (`""` when the stream has set none).
    #[must_use]
    pub fn id(&self) -> &'a str {
        self.id
    }

    /// An owned copy.
    #[must_use]
    pub fn to_event(&self) -> SseEvent {
        SseEvent::new(self.event, self.data, self.id)
    }
}

impl PartialEq<SseEventRef<'_>> for SseEvent {
    fn eq(&self, other: &SseEventRef<'_>) -> bool {
        self.as_event_ref() == *other
    }
}

impl PartialEq<SseEvent> for SseEventRef<'_> {
    fn eq(&self, other: &SseEvent) -> bool {
        *self == other.as_event_ref()
    }
}
