//! The input layout both targets share: the fuzzer chooses the limits and the chunking too.
//!
//! byte 0: the limit (255 means the default, otherwise that many bytes); byte 1: how many cuts
//! (mod 16); then two bytes per cut (little-endian offsets, wrapped to the stream length); the
//! rest is the stream itself.

use llm_stream::Limits;

/// A decoded fuzz input.
pub struct Input<'a> {
    pub limits: Limits,
    pub stream: &'a [u8],
    pub chunks: Vec<&'a [u8]>,
}

impl<'a> Input<'a> {
    pub fn parse(data: &'a [u8]) -> Option<Self> {
        let (&limit, rest) = data.split_first()?;
        let (&cuts, rest) = rest.split_first()?;
        let cut_bytes = usize::from(cuts % 16) * 2;
        if rest.len() < cut_bytes {
            return None;
        }
        let (cut_bytes, stream) = rest.split_at(cut_bytes);
        let mut points: Vec<usize> = cut_bytes
            .chunks_exact(2)
            .map(|c| usize::from(u16::from_le_bytes([c[0], c[1]])) % (stream.len() + 1))
            .collect();
        points.push(0);
        points.push(stream.len());
        points.sort_unstable();
        // Repeated points give empty chunks, which must be harmless too.
        let chunks = points.windows(2).map(|w| &stream[w[0]..w[1]]).collect();
        let limits = if limit == 255 {
            Limits::default()
        } else {
            Limits::uniform(usize::from(limit))
        };
        Some(Self {
            limits,
            stream,
            chunks,
        })
    }
}
