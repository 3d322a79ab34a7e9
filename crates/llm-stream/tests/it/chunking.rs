//! Chunking independence: every split point of every fixture, random chunkings, and random
//! streams compared with the naive reference implementations.

use crate::common::{
    NDJSON_FIXTURES, SSE_FIXTURES, cut_at, every_split, fixture, ndjson_transcript, reference,
    sse_transcript,
};
use llm_stream::Limits;
use proptest::prelude::*;

#[test]
fn sse_fixtures_match_the_reference_at_every_split_point() {
    for name in SSE_FIXTURES {
        let bytes = fixture(name);
        let expected = reference::sse(&bytes);
        assert!(!expected.is_empty(), "{name} yields something");
        for (i, chunks) in every_split(&bytes).enumerate() {
            assert_eq!(
                sse_transcript(chunks, Limits::default()),
                expected,
                "{name} split at {i}"
            );
        }
    }
}

#[test]
fn ndjson_fixtures_match_the_reference_at_every_split_point() {
    for name in NDJSON_FIXTURES {
        let bytes = fixture(name);
        let expected = reference::ndjson(&bytes);
        assert!(!expected.is_empty(), "{name} yields something");
        for (i, chunks) in every_split(&bytes).enumerate() {
            assert_eq!(
                ndjson_transcript(chunks, Limits::default()),
                expected,
                "{name} split at {i}"
            );
        }
    }
}

#[test]
fn fixtures_fed_one_byte_at_a_time_match_the_reference() {
    for name in SSE_FIXTURES {
        let bytes = fixture(name);
        assert_eq!(
            sse_transcript(bytes.chunks(1), Limits::default()),
            reference::sse(&bytes),
            "{name}"
        );
    }
    for name in NDJSON_FIXTURES {
        let bytes = fixture(name);
        assert_eq!(
            ndjson_transcript(bytes.chunks(1), Limits::default()),
            reference::ndjson(&bytes),
            "{name}"
        );
    }
}

/// Pieces that exercise every rule when concatenated at random.
fn sse_piece() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(vec![
        &b"data"[..],
        b"data:",
        b"data: ",
        b"event:",
        b"event: ping",
        b"id:",
        b"id: 7",
        b"retry:",
        b"retry: 25",
        b"x",
        b"xyz",
        b":",
        b": comment",
        b" ",
        b"\r",
        b"\n",
        b"\r\n",
        b"\0",
        b"\xFF",
        b"\xC3",
        b"\xA9",
        b"\xE2\x82\xAC",
        b"\xF0\x9F",
        b"\x98\x80",
        b"\xEF\xBB\xBF",
        b"{\"a\":1}",
    ])
}

fn ndjson_piece() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(vec![
        &b"{\"a\":1}"[..],
        b"[1,2]",
        b"\"s\xC3\xA9\"",
        b"1.50",
        b"{",
        b"}",
        b" ",
        b"\t",
        b"\r",
        b"\n",
        b"\r\n",
        b"\xFF",
        b"\xEF\xBB\xBF",
        b"null",
        b",",
    ])
}

fn stream_of(piece: impl Strategy<Value = &'static [u8]>) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

proptest! {
    #[test]
    fn sse_random_streams_match_the_reference_in_random_chunks(
        bytes in stream_of(sse_piece()),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let chunks = cut_at(&bytes, &cuts);
        let got = sse_transcript(chunks.iter().map(Vec::as_slice), Limits::default());
        prop_assert_eq!(got, reference::sse(&bytes));
    }

    #[test]
    fn ndjson_random_streams_match_the_reference_in_random_chunks(
        bytes in stream_of(ndjson_piece()),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let chunks = cut_at(&bytes, &cuts);
        let got = ndjson_transcript(chunks.iter().map(Vec::as_slice), Limits::default());
        prop_assert_eq!(got, reference::ndjson(&bytes));
    }

    #[test]
    fn sse_fixtures_in_random_chunks_match_the_reference(
        index in 0..SSE_FIXTURES.len(),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
    ) {
        let bytes = fixture(SSE_FIXTURES[index]);
        let chunks = cut_at(&bytes, &cuts);
        let got = sse_transcript(chunks.iter().map(Vec::as_slice), Limits::default());
        prop_assert_eq!(got, reference::sse(&bytes));
    }

    /// With limits in force there is no reference, but the result must not depend on chunking.
    #[test]
    fn limited_parsers_do_not_depend_on_chunking(
        sse in stream_of(sse_piece()),
        ndjson in stream_of(ndjson_piece()),
        limit in 0usize..24,
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let limits = Limits::uniform(limit);
        let whole = sse_transcript([sse.as_slice()], limits);
        let chunks = cut_at(&sse, &cuts);
        prop_assert_eq!(sse_transcript(chunks.iter().map(Vec::as_slice), limits), whole);
        let whole = ndjson_transcript([ndjson.as_slice()], limits);
        let chunks = cut_at(&ndjson, &cuts);
        prop_assert_eq!(ndjson_transcript(chunks.iter().map(Vec::as_slice), limits), whole);
    }
}
