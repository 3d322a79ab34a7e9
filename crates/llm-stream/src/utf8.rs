//! UTF-8 checks for the spans a cursor lends out, done lazily a window of the chunk at a time.
//!
//! A lent span (an event's data or type, an NDJSON line) lies inside one line of the chunk, so it
//! starts after an ASCII byte and ends before a CR or LF. The first time a span is lent, the chunk
//! is checked (SIMD, `simdutf8`) from that span's start to its last line end, and that span and
//! every later one are sliced from the checked text: O(1) each, never checked twice. A character
//! cut by the chunk's end lies after its last line end and is never in the checked part.
//!
//! A chunk longer than two windows ([`WINDOW`]) is checked a window at a time, each ending at a
//! character boundary, and a span starting past the window starts the next one. That keeps the
//! check close to the line loop: a whole 256 KiB chunk checked at once had left the first-level
//! cache by the time the loop read it, which cost 10-20% of the framing time at 16 and 256 KiB
//! chunks on corpora larger than the cache. Spans outside the checked part (before it, straddling
//! a window's end, or anywhere after a window holding invalid UTF-8) are checked on their own.

/// How many bytes one check covers at least (a longer span is covered whole).
const WINDOW: usize = 4 * 1024;

/// The chunk of a cursor and, once needed, the window of it checked last.
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
        self.lend_checked(span).or_else(|| self.lend_past(span))
    }

    /// A span the last window does not hold: past a valid window (in a chunk longer than two
    /// windows), it starts the next window; before it, or in invalid input, it is checked on its
    /// own.
    #[cold]
    #[inline(never)]
    fn lend_past(&mut self, span: &'c [u8]) -> Option<&'c str> {
        let start = (span.as_ptr() as usize).wrapping_sub(self.chunk.as_ptr() as usize);
        match self.checked {
            Some((from, text))
                if !text.is_empty()
                    && start >= from + text.len()
                    && start
                        .checked_add(span.len())
                        .is_some_and(|end| end <= self.chunk.len()) =>
            {
                let text = check_from(self.chunk, start, start + span.len());
                self.checked = Some((start, text));
                // An invalid window (empty text) leaves the span to be checked on its own.
                text.get(..span.len())
                    .or_else(|| simdutf8::basic::from_utf8(span).ok())
            }
            _ => simdutf8::basic::from_utf8(span).ok(),
        }
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
            .get_or_insert_with(|| (start, check_from(chunk, start, start + span.len())));
        let offset = start.checked_sub(from)?;
        text.get(offset..offset.checked_add(span.len())?)
    }
}

/// The chunk from `from` over about [`WINDOW`] bytes, and at least to `min_end` (the end of a
/// span lying in it), as text, or `""` when that part is not UTF-8. With up to two windows left,
/// the check runs to the chunk's last line end (or its end, when the last byte is ASCII).
fn check_from(chunk: &[u8], from: usize, min_end: usize) -> &str {
    let end = if chunk.len() - from > 2 * WINDOW {
        window_end(chunk, min_end.max(from + WINDOW), min_end)
    } else {
        match chunk.last() {
            Some(last) if last.is_ascii() => chunk.len(),
            _ => memchr::memrchr2(b'\r', b'\n', chunk).unwrap_or(0),
        }
    };
    chunk
        .get(from..end)
        .and_then(|part| simdutf8::basic::from_utf8(part).ok())
        .unwrap_or_default()
}

/// `to` (inside the chunk), moved back before any continuation byte so that no character is
/// cut, but not before `min_end`.
fn window_end(chunk: &[u8], mut to: usize, min_end: usize) -> usize {
    while to > min_end && chunk[to] & 0xC0 == 0x80 {
        to -= 1;
    }
    to
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_spans_are_sliced_from_one_check() {
        let chunk = b"event: \xC3\xA9\ndata: ab\n\ndata: c";
        let mut checked = CheckedChunk::new(chunk);
        assert_eq!(checked.lend(&chunk[7..9]), Some("\u{e9}"));
        assert_eq!(checked.checked.map(|(from, ..)| from), Some(7));
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

    #[test]
    fn windows_follow_the_spans_and_never_cut_a_character() {
        // Lines of 100 bytes, each holding a two-byte character, over several windows.
        let line = format!("data: {}\u{e9}{}\n", "a".repeat(50), "b".repeat(41));
        assert_eq!(line.len(), 100);
        let chunk = line.repeat(3 * WINDOW / 100).into_bytes();
        let mut checked = CheckedChunk::new(&chunk);
        let mut windows = Vec::new();
        for start in (0..chunk.len()).step_by(100) {
            let span = &chunk[start + 6..start + 99];
            let text = checked.lend(span).expect("every span is lent");
            assert_eq!(text.as_bytes(), span);
            let (from, text) = checked.checked.unwrap();
            let window = (from, from + text.len());
            if windows.last() != Some(&window) {
                windows.push(window);
            }
        }
        // One window of WINDOW bytes from the first span, then the rest (under two windows) whole.
        assert_eq!(windows, [(6, 6 + WINDOW), (4106, chunk.len())]);
        // A window ending inside a character steps back before it.
        assert_eq!(check_from(&chunk, 0, 1).len(), WINDOW);
        let mut cut = chunk.clone();
        cut[WINDOW - 1] = 0xC3;
        cut[WINDOW] = 0xA9;
        assert_eq!(check_from(&cut, 0, 1).len(), WINDOW - 1);
        // A chunk of up to two windows is checked whole.
        assert_eq!(check_from(&chunk[..2 * WINDOW], 0, 1).len(), 2 * WINDOW);
    }

    #[test]
    fn a_valid_span_in_an_invalid_later_window_is_checked_on_its_own() {
        let mut chunk = vec![b'a'; 5000];
        chunk.push(b'\n');
        chunk.extend_from_slice(&[b'b'; 100]);
        chunk.extend_from_slice(b"\n\xFF\n");
        chunk.extend_from_slice(&[b'c'; 5000]);
        chunk.push(b'\n');
        let mut checked = CheckedChunk::new(&chunk);
        assert_eq!(checked.lend(&chunk[..5000]).map(str::len), Some(5000));
        // Past the first window; the next one holds the invalid byte.
        assert_eq!(checked.lend(&chunk[5001..5101]), Some(&*"b".repeat(100)));
        assert_eq!(checked.lend(&chunk[5102..5103]), None);
        assert_eq!(checked.lend(&chunk[5104..10104]).map(str::len), Some(5000));
    }
}
