//! Hostile inputs: endless lines, NUL bytes, invalid UTF-8 cut across chunks.

use crate::common::{every_split, ndjson_transcript, reference, sse_transcript};
use llm_stream::{Limits, NdjsonParser, SseError, SseEvent, SseParser};

const MIB: usize = 1024 * 1024;

/// Feeds 100 MiB without a newline, 64 KiB at a time, generated as it goes.
fn endless_line(mut feed: impl FnMut(&[u8]) -> usize) -> usize {
    let chunk = vec![b'a'; 64 * 1024];
    let mut most_buffered = 0;
    for _ in 0..(100 * MIB / chunk.len()) {
        most_buffered = most_buffered.max(feed(&chunk));
    }
    most_buffered
}

#[test]
fn sse_line_of_100_mib_without_newline_stays_bounded() {
    let mut parser = SseParser::with_limits(Limits::uniform(MIB));
    parser.feed(b"data: ");
    let mut errors = Vec::new();
    let most = endless_line(|chunk| {
        parser.feed(chunk);
        errors.extend(parser.events());
        parser.buffered_bytes()
    });
    assert!(most <= MIB, "held {most} bytes");
    assert_eq!(errors, [Err(SseError::LineTooLong { limit: MIB })]);
    parser.feed(b"\n\ndata: after\n\n");
    assert_eq!(
        parser.next_event(),
        Some(Ok(SseEvent::new("message", "after", "")))
    );
    assert!(parser.finish().is_ok());
}

#[test]
fn sse_default_limit_holds_for_100_mib() {
    let mut parser = SseParser::new();
    let mut items = 0;
    let most = endless_line(|chunk| {
        parser.feed(chunk);
        items += parser.events().count();
        parser.buffered_bytes()
    });
    assert!(most <= Limits::DEFAULT_MAX, "held {most} bytes");
    assert_eq!(items, 1, "one error for the one long line");
    assert!(
        parser.finish().is_err(),
        "the stream ended inside that line"
    );
}

#[test]
fn ndjson_line_of_100_mib_without_newline_stays_bounded() {
    let mut parser = NdjsonParser::with_limits(Limits::uniform(MIB));
    let mut errors = Vec::new();
    let most = endless_line(|chunk| {
        parser.feed(chunk);
        errors.extend(parser.events().map(|e| e.unwrap_err().line()));
        parser.buffered_bytes()
    });
    assert!(most <= MIB, "held {most} bytes");
    assert_eq!(errors, [1]);
    parser.feed(b"\n{}\n");
    assert_eq!(parser.next_event().unwrap().unwrap().number(), 2);
}

#[test]
fn many_small_events_after_each_other_keep_no_memory() {
    let mut parser = SseParser::with_limits(Limits::uniform(64));
    for _ in 0..10_000 {
        parser.feed(b"data: {\"x\":1}\n\n");
        assert_eq!(parser.events().count(), 1);
    }
    assert_eq!(parser.buffered_bytes(), 0);
}

#[test]
fn nul_bytes_anywhere_are_plain_bytes() {
    let input = b"\0\n\0data: a\n\nda\0ta: b\n\ndata\0\n\ndata: \0\n\nid: \0\n\n\0\0\0";
    for chunks in every_split(input) {
        assert_eq!(
            sse_transcript(chunks, Limits::default()),
            reference::sse(input)
        );
    }
    let transcript = sse_transcript([&input[..]], Limits::default());
    assert_eq!(transcript[0]["data"], "\0");
    let ndjson = b"\0\n{\"a\":\"\\u0000\"}\n\0";
    for chunks in every_split(ndjson) {
        assert_eq!(
            ndjson_transcript(chunks, Limits::default()),
            reference::ndjson(ndjson)
        );
    }
}

#[test]
fn a_character_split_across_chunks_is_not_replaced() {
    let input = "data: é€😀\n\n".as_bytes();
    for chunks in every_split(input) {
        let transcript = sse_transcript(chunks, Limits::default());
        assert_eq!(transcript[0]["data"], "é€😀");
    }
    let ndjson = "{\"t\":\"é€😀\"}".as_bytes();
    for chunks in every_split(ndjson) {
        assert_eq!(
            ndjson_transcript(chunks, Limits::default())[0]["value"]["t"],
            "é€😀"
        );
    }
}

#[test]
fn invalid_utf8_split_across_chunks_is_replaced_once_per_subpart() {
    // A truncated 3-byte sequence, a lone continuation byte, an overlong form, a surrogate.
    let input = b"data: \xE2\x82|\x80|\xC0\xAF|\xED\xA0\x80|\xF0\x9F\x98\n\n";
    let expected = String::from_utf8_lossy(&input[6..input.len() - 2]).into_owned();
    assert_eq!(
        expected,
        "\u{FFFD}|\u{FFFD}|\u{FFFD}\u{FFFD}|\u{FFFD}\u{FFFD}\u{FFFD}|\u{FFFD}"
    );
    for chunks in every_split(input) {
        assert_eq!(
            sse_transcript(chunks, Limits::default())[0]["data"],
            expected.as_str()
        );
    }
    for size in 1..6 {
        assert_eq!(
            sse_transcript(input.chunks(size), Limits::default())[0]["data"],
            expected.as_str()
        );
    }
}

#[test]
fn a_stream_of_only_line_endings_yields_nothing() {
    let input = b"\r\n\r\r\n\n\n\r\r".repeat(100);
    assert!(sse_transcript(input.chunks(3), Limits::default()).is_empty());
    assert!(ndjson_transcript(input.chunks(3), Limits::default()).is_empty());
}

#[test]
fn zero_limits_reject_every_non_empty_line() {
    let input = b"data: x\n\n";
    let transcript = sse_transcript([&input[..]], Limits::uniform(0));
    assert_eq!(
        transcript,
        [serde_json::json!({ "error": "sse line longer than the limit of 0 bytes" })]
    );
    let transcript = ndjson_transcript([&b"1\n\n2"[..]], Limits::uniform(0));
    assert_eq!(transcript.len(), 2);
    assert!(transcript.iter().all(|t| t.get("error").is_some()));
}
