//! One UTF-8 check per chunk, done lazily, for the spans a cursor lends out.
//!
//! A lent span (an event's data or type, an NDJSON line) lies inside one line of the chunk, so it
//! starts after an ASCII byte and ends before a CR or LF. The first time a span is lent, the chunk
//! is checked (SIMD, `simdutf8`) from that span's start to its last line end, and that span and
//! every later one are sliced from the checked text: O(1) each, never checked twice. A character
//! split by the chunk's end lies after its last line end and is never in the checked part. Spans
//! outside it (before it, or in a chunk holding invalid UTF-8) are checked on their own.

/// The chunk of a cursor and, once needed, its checked text.
#[derive(Debug)]
pub(crate) struct CheckedChunk<'c> {
    chunk: &'c [u8],
    /// Where the checked text starts in the chunk, and the text (empty when invalid).
    checked: Option<(usize, &'c str)>,
}

impl<'c> CheckedChunk<'c> {
    pub(crate) fn new(chunk: &'c [u8]) -> Self {
        Self {
            chunk,
            checked: None,
        }
    }

    /// `span` (a part of the chunk, or any empty slice) as text, if it is valid UTF-8.
    #[inline]
    pub(crate) fn lend(&mut self, span: &'c [u8]) -> Option<&'c str> {
        self.lend_checked(span)
            .or_else(|| simdutf8::basic::from_utf8(span).ok())
    }

    #[inline]
    fn lend_checked(&mut self, span: &'c [u8]) -> Option<&'c str> {
        if span.is_empty() {
            return Some("");
        }
        let start = (span.as_ptr() as usize).wrapping_sub(self.chunk.as_ptr() as usize);
        if start >= self.chunk.len() {
            return None;
        }
        let chunk = self.chunk;
        let (from, text) = *self
            .checked
            .get_or_insert_with(|| (start, check_from(chunk, start)));
        let offset = start.checked_sub(from)?;
        text.get(offset..offset.checked_add(span.len())?)
    }
}

/// The chunk from `from` to its last line end as text, or `""` when that part is not UTF-8.
fn check_from(chunk: &[u8], from: usize) -> &str {
    let end = match chunk.last() {
        Some(last) if last.is_ascii() => chunk.len(),
        _ => memchr::memrchr2(b'\r', b'\n', chunk).unwrap_or(0),
    };
    chunk
        .get(from..end)
        .and_then(|part| simdutf8::basic::from_utf8(part).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_spans_are_sliced_from_one_check() {
        let chunk = b"event: \xC3\xA9\ndata: ab\n\ndata: c";
        let mut checked = CheckedChunk::new(chunk);
        assert_eq!(checked.lend(&chunk[7..9]), Some("\u{e9}"));
        assert_eq!(checked.checked.map(|(from, _)| from), Some(7));
        assert_eq!(checked.lend(&chunk[16..18]), Some("ab"));
        // Before the checked part, and after the last line end: checked on their own.
        assert_eq!(checked.lend(&chunk[0..5]), Some("event"));
        assert_eq!(checked.lend(&chunk[26..]), Some("c"));
    }

    #[test]
    fn invalid_input_and_split_characters_fall_back_per_span() {
        let chunk = b"data: \xFF\ndata: ok\n\ndata: \xE2\x82";
        let mut checked = CheckedChunk::new(chunk);
        assert_eq!(checked.lend(&chunk[6..7]), None);
        assert_eq!(checked.lend(&chunk[14..16]), Some("ok"));
        assert_eq!(checked.lend(&chunk[24..]), None);
        assert_eq!(checked.lend(b""), Some(""));
    }
}
