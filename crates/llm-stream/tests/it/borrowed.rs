//! The borrowed path (`feed_ref` cursors) against the owned path (`feed`): the same items at every
//! split point, in random chunkings and under limits; events lent straight from the chunk; a cursor
//! dropped early loses nothing.

use crate::common::{
    NDJSON_FIXTURES, SSE_FIXTURES, cut_at, every_split, fixture, ndjson_transcript,
    ndjson_transcript_ref, reference, sse_transcript, sse_transcript_ref,
};
use llm_stream::{Limits, NdjsonParser, SseEvent, SseParser};
use proptest::prelude::*;

#[test]
fn sse_borrowed_matches_owned_and_reference_at_every_split_point() {
    for name in SSE_FIXTURES {
        let bytes = fixture(name);
        let expected = reference::sse(&bytes);
        for (i, chunks) in every_split(&bytes).enumerate() {
            let borrowed = sse_transcript_ref(chunks, Limits::default());
            assert_eq!(borrowed, expected, "{name} split at {i}");
            assert_eq!(borrowed, sse_transcript(chunks, Limits::default()));
        }
        assert_eq!(
            sse_transcript_ref(bytes.chunks(1), Limits::default()),
            expected
        );
    }
}

#[test]
fn ndjson_borrowed_matches_owned_and_reference_at_every_split_point() {
    for name in NDJSON_FIXTURES {
        let bytes = fixture(name);
        let expected = reference::ndjson(&bytes);
        for (i, chunks) in every_split(&bytes).enumerate() {
            let borrowed = ndjson_transcript_ref(chunks, Limits::default());
            assert_eq!(borrowed, expected, "{name} split at {i}");
            assert_eq!(borrowed, ndjson_transcript(chunks, Limits::default()));
        }
        assert_eq!(
            ndjson_transcript_ref(bytes.chunks(1), Limits::default()),
            expected
        );
    }
}

#[test]
fn an_event_inside_the_chunk_is_lent_from_the_chunk() {
    let chunk = b"event: delta\ndata: {\"a\":1}\n\ndata: x\ndata: y\n\n";
    let range = chunk.as_ptr_range();
    let mut parser = SseParser::new();
    let mut feed = parser.feed_ref(chunk);
    let event = feed.next_event_ref().unwrap().unwrap();
    assert!(
        range.contains(&event.data().as_ptr()),
        "data is a span of the chunk"
    );
    assert!(
        range.contains(&event.event().as_ptr()),
        "type is a span of the chunk"
    );
    assert_eq!((event.event(), event.data()), ("delta", "{\"a\":1}"));
    // Two data lines must be joined: assembled in the parser's buffer instead.
    let event = feed.next_event_ref().unwrap().unwrap();
    assert!(!range.contains(&event.data().as_ptr()));
    assert_eq!((event.event(), event.data()), ("message", "x\ny"));
    assert!(feed.next_event_ref().is_none());
}

#[test]
fn a_line_inside_the_chunk_is_lent_from_the_chunk() {
    let chunk = b"{\"a\":1}\r\n\n[2]";
    let mut parser = NdjsonParser::new();
    let mut feed = parser.feed_ref(chunk);
    let line = feed.next_line_ref().unwrap().unwrap();
    assert!(chunk.as_ptr_range().contains(&line.as_str().as_ptr()));
    assert_eq!((line.number(), line.as_str()), (1, "{\"a\":1}"));
    assert!(feed.next_line_ref().is_none());
    drop(feed);
    parser.finish();
    let last = parser.next_line_ref().unwrap().unwrap();
    assert_eq!((last.number(), last.as_str()), (3, "[2]"));
    assert!(parser.next_line_ref().is_none());
}

#[test]
fn a_cursor_dropped_early_queues_the_rest_as_owned_events() {
    let bytes = fixture("anthropic_ping_error.sse");
    let mut owned = SseParser::new();
    owned.feed(&bytes);
    let expected: Vec<SseEvent> = owned.events().map(Result::unwrap).collect();
    assert!(expected.len() > 2);

    let mut parser = SseParser::new();
    let mut feed = parser.feed_ref(&bytes);
    let first = feed.next_event_ref().unwrap().unwrap().to_event();
    drop(feed);
    let mut got = vec![first];
    // A new cursor yields the queued events first, then its own chunk's.
    let mut feed = parser.feed_ref(b"data: tail\n\n");
    while let Some(item) = feed.next_event_ref() {
        got.push(item.unwrap().to_event());
    }
    assert_eq!(got[..expected.len()], expected[..]);
    assert_eq!(
        got[expected.len()..],
        [SseEvent::new("message", "tail", "")]
    );
}

#[test]
fn invalid_utf8_is_replaced_the_same_on_both_paths() {
    let chunks: [&[u8]; 3] = [
        b"event: t\xFFy\ndata: a\xF0\x9F",
        b"\x98\x80b\xC3\n",
        b"data: \xE2\x82\n\n",
    ];
    let borrowed = sse_transcript_ref(chunks, Limits::default());
    assert_eq!(borrowed, sse_transcript(chunks, Limits::default()));
    assert_eq!(borrowed[0]["event"], "t\u{FFFD}y");
    assert_eq!(borrowed[0]["data"], "a\u{1F600}b\u{FFFD}\n\u{FFFD}");
    let one: [&[u8]; 1] = [b"data: \xFF\n\n"];
    assert_eq!(
        sse_transcript_ref(one, Limits::default())[0]["data"],
        "\u{FFFD}"
    );
}

#[test]
fn limits_give_the_same_errors_on_both_paths() {
    let sse = b"data: 0123456789\n\n: a long comment line\ndata: ok\n\nevent: abcdefghijkl\ndata: x\n\ndata: 12345\ndata: 67890\n\n";
    let limits = Limits::uniform(8);
    for chunks in every_split(sse) {
        let borrowed = sse_transcript_ref(chunks, limits);
        assert_eq!(borrowed, sse_transcript(chunks, limits));
        assert!(borrowed.iter().any(|v| v.get("error").is_some()));
        assert!(borrowed.iter().any(|v| v["data"] == "ok"));
    }
    let ndjson = b"[1]\n[1,2,3,4,5,6]\n\xFF\n[2]\n[1,2,3,4,5,6,7]";
    for chunks in every_split(ndjson) {
        let borrowed = ndjson_transcript_ref(chunks, limits);
        assert_eq!(borrowed, ndjson_transcript(chunks, limits));
        assert_eq!(borrowed.len(), 5);
    }
}

proptest! {
    #[test]
    fn sse_borrowed_equals_owned_in_random_chunks(
        index in 0..SSE_FIXTURES.len(),
        cuts in prop::collection::vec(any::<usize>(), 0..40),
        limit in prop::option::of(0usize..64),
    ) {
        let bytes = fixture(SSE_FIXTURES[index]);
        let limits = limit.map_or_else(Limits::default, Limits::uniform);
        let chunks = cut_at(&bytes, &cuts);
        let chunks = || chunks.iter().map(Vec::as_slice);
        prop_assert_eq!(sse_transcript_ref(chunks(), limits), sse_transcript(chunks(), limits));
    }

    #[test]
    fn random_bytes_give_the_same_items_on_both_paths(
        sse in prop::collection::vec(prop::sample::select(b"da:t e\r\n\xFF\xC3\xA9idv".to_vec()), 0..200),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
        limit in 0usize..24,
    ) {
        let chunks = cut_at(&sse, &cuts);
        let borrowed = sse_transcript_ref(chunks.iter().map(Vec::as_slice), Limits::default());
        prop_assert_eq!(borrowed, reference::sse(&sse));
        let borrowed = ndjson_transcript_ref(chunks.iter().map(Vec::as_slice), Limits::default());
        prop_assert_eq!(borrowed, reference::ndjson(&sse));
        for limits in [Limits::default(), Limits::uniform(limit)] {
            let chunks = cut_at(&sse, &cuts);
            let chunks = || chunks.iter().map(Vec::as_slice);
            prop_assert_eq!(sse_transcript_ref(chunks(), limits), sse_transcript(chunks(), limits));
            prop_assert_eq!(ndjson_transcript_ref(chunks(), limits), ndjson_transcript(chunks(), limits));
        }
    }
}

/// Pieces of large streams: field names, line ends, characters of every UTF-8 length, an invalid
/// byte, and runs long enough that lines cross the parsers' UTF-8 check windows (4 KiB).
fn large_stream_piece() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"data: ".to_vec()),
        Just(b"event: e\xC3\xA9\n".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just(b"\n\n".to_vec()),
        Just("\u{e9}".as_bytes().to_vec()),
        Just("\u{20ac}".as_bytes().to_vec()),
        Just("\u{1F600}".as_bytes().to_vec()),
        Just(b"\xFF".to_vec()),
        (1usize..6000).prop_map(|n| vec![b'a'; n]),
        (1usize..300).prop_map(|n| "{\"t\":\"\u{e9}\"}\n".repeat(n).into_bytes()),
    ]
}

proptest! {
    // Chunks of tens of KiB: the UTF-8 check runs a window at a time, and spans are lent across
    // window ends, from later windows, and around invalid bytes exactly as from one whole check.
    #[test]
    fn large_chunks_are_checked_a_window_at_a_time_with_the_same_results(
        pieces in prop::collection::vec(large_stream_piece(), 1..60),
        cuts in prop::collection::vec(any::<usize>(), 0..3),
    ) {
        let stream = pieces.concat();
        let chunks = cut_at(&stream, &cuts);
        let chunks = || chunks.iter().map(Vec::as_slice);
        prop_assert_eq!(sse_transcript_ref(chunks(), Limits::default()), reference::sse(&stream));
        prop_assert_eq!(
            ndjson_transcript_ref(chunks(), Limits::default()),
            reference::ndjson(&stream)
        );
    }
}

#[test]
fn events_in_later_windows_of_a_large_chunk_are_lent_from_the_chunk() {
    let event = "data: {\"t\":\"\u{e9}\u{20ac}\u{1F600}\"}\n\n";
    let chunk = event.repeat(64 * 1024 / event.len()).into_bytes();
    let range = chunk.as_ptr_range();
    let mut parser = SseParser::new();
    let mut feed = parser.feed_ref(&chunk);
    let mut lent = 0;
    while let Some(event) = feed.next_event_ref() {
        let event = event.unwrap();
        assert_eq!(event.data(), "{\"t\":\"\u{e9}\u{20ac}\u{1F600}\"}");
        assert!(range.contains(&event.data().as_ptr()));
        lent += 1;
    }
    assert_eq!(lent, 64 * 1024 / event.len());
}
