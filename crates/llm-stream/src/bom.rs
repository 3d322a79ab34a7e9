//! Stripping one leading UTF-8 byte order mark, even when it is split across feeds.

/// The UTF-8 encoding of U+FEFF.
const BOM: &[u8; 3] = b"\xEF\xBB\xBF";

/// Where the parser stands with respect to a leading byte order mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BomState {
    /// At the start of the stream, having matched this many bytes of the BOM so far.
    Start(u8),
    /// Past the start: the BOM was stripped or was not there.
    Done,
}

/// What the caller must do with a chunk after [`BomState::strip`].
#[derive(Debug)]
pub(crate) struct Stripped<'a> {
    /// Bytes that looked like the start of a BOM but were not one: they are input and come first.
    pub(crate) replay: &'static [u8],
    /// The rest of the chunk.
    pub(crate) rest: &'a [u8],
}

impl BomState {
    /// Consumes BOM bytes from the front of `input`. While a partial BOM is matched at the end of
    /// `input`, `rest` is empty and nothing is replayed yet.
    #[inline]
    pub(crate) fn strip<'a>(&mut self, input: &'a [u8]) -> Stripped<'a> {
        let BomState::Start(matched) = *self else {
            return Stripped {
                replay: &[],
                rest: input,
            };
        };
        let mut matched = usize::from(matched);
        let mut used = 0;
        while matched < BOM.len() {
            match input.get(used) {
                None => {
                    // All input consumed as a BOM prefix: wait for more.
                    *self = BomState::Start(matched as u8);
                    return Stripped {
                        replay: &[],
                        rest: &[],
                    };
                }
                Some(&b) if b == BOM[matched] => {
                    matched += 1;
                    used += 1;
                }
                Some(_) => {
                    *self = BomState::Done;
                    return Stripped {
                        replay: &BOM[..matched],
                        rest: &input[used..],
                    };
                }
            }
        }
        *self = BomState::Done;
        Stripped {
            replay: &[],
            rest: &input[used..],
        }
    }

    /// At end of input: the bytes of a partial BOM still held back, which are input after all.
    pub(crate) fn flush(&mut self) -> &'static [u8] {
        let held = match *self {
            BomState::Start(matched) => &BOM[..usize::from(matched)],
            BomState::Done => &[],
        };
        *self = BomState::Done;
        held
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bom_split_one_byte_at_a_time_is_stripped() {
        let mut state = BomState::Start(0);
        for b in BOM {
            let s = state.strip(std::slice::from_ref(b));
            assert!(s.replay.is_empty() && s.rest.is_empty());
        }
        assert_eq!(state, BomState::Done);
        assert!(state.flush().is_empty());
    }

    #[test]
    fn partial_bom_then_other_byte_is_replayed() {
        let mut state = BomState::Start(0);
        let s = state.strip(b"\xEF\xBB");
        assert!(s.rest.is_empty());
        let s = state.strip(b"x");
        assert_eq!(s.replay, b"\xEF\xBB");
        assert_eq!(s.rest, b"x");
    }

    #[test]
    fn partial_bom_at_end_is_flushed() {
        let mut state = BomState::Start(0);
        let _ = state.strip(b"\xEF");
        assert_eq!(state.flush(), b"\xEF");
    }
}
