//! Size limits that bound the memory a parser holds.

/// Size limits for a parser; both default to [`Limits::DEFAULT_MAX`] (16 MiB).
///
/// A limit is counted in received bytes, without the line ending. (Invalid UTF-8 decodes to
/// U+FFFD, three bytes per replaced byte at most, so decoded text can be longer than its limit.)
/// Crossing a limit yields a typed error as soon as it happens (before the offending line ends);
/// the parser then skips the rest of that line without buffering it.
///
/// ```
/// use llm_stream::Limits;
///
/// let limits = Limits::default().with_max_line_bytes(1 << 20);
/// assert_eq!(limits.max_line_bytes(), 1 << 20);
/// assert_eq!(limits.max_event_data_bytes(), Limits::DEFAULT_MAX);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Limits {
    max_line_bytes: usize,
    max_event_data_bytes: usize,
}

impl Limits {
    /// The default for every limit: 16 MiB.
    pub const DEFAULT_MAX: usize = 16 * 1024 * 1024;

    /// Limits with every maximum set to `bytes`.
    #[must_use]
    pub const fn uniform(bytes: usize) -> Self {
        Self {
            max_line_bytes: bytes,
            max_event_data_bytes: bytes,
        }
    }

    /// Sets the longest line accepted, in bytes, not counting the line ending.
    #[must_use]
    pub const fn with_max_line_bytes(mut self, bytes: usize) -> Self {
        self.max_line_bytes = bytes;
        self
    }

    /// Sets the largest data one SSE event may carry, in bytes (the dispatched `data` length).
    /// NDJSON parsers ignore it.
    #[must_use]
    pub const fn with_max_event_data_bytes(mut self, bytes: usize) -> Self {
        self.max_event_data_bytes = bytes;
        self
    }

    /// The longest line accepted, in bytes, not counting the line ending.
    #[must_use]
    pub const fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// The largest data one SSE event may carry, in bytes.
    #[must_use]
    pub const fn max_event_data_bytes(&self) -> usize {
        self.max_event_data_bytes
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self::uniform(Self::DEFAULT_MAX)
    }
}
