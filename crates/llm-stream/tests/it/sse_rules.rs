//! The WHATWG event stream rules, one at a time, fed whole.

use std::time::Duration;

use llm_stream::{Limits, SseError, SseEvent, SseParser};

fn parse(input: &[u8]) -> (Vec<SseEvent>, SseParser) {
    let mut parser = SseParser::new();
    parser.feed(input);
    let events = parser
        .events()
        .map(|e| e.expect("no limit is reached"))
        .collect();
    (events, parser)
}

fn datas(input: &[u8]) -> Vec<String> {
    parse(input)
        .0
        .into_iter()
        .map(SseEvent::into_data)
        .collect()
}

#[test]
fn data_lines_join_with_lf_and_default_type_is_message() {
    let (events, _) = parse(b"data: a\ndata: b\n\n");
    assert_eq!(events, vec![SseEvent::new("message", "a\nb", "")]);
}

#[test]
fn exactly_one_leading_space_is_removed() {
    assert_eq!(
        datas(b"data:x\n\ndata: x\n\ndata:  x\n\n"),
        ["x", "x", " x"]
    );
}

#[test]
fn empty_data_field_dispatches_an_empty_event() {
    assert_eq!(datas(b"data:\n\n"), [""]);
    assert_eq!(datas(b"data\n\n"), [""]);
    assert_eq!(datas(b"data\ndata\n\n"), ["\n"]);
}

#[test]
fn blank_line_without_data_dispatches_nothing_and_resets_type() {
    let (events, _) = parse(b"event: x\n\ndata: y\n\n");
    assert_eq!(events, vec![SseEvent::new("message", "y", "")]);
}

#[test]
fn event_field_sets_the_type_for_one_event() {
    let (events, _) = parse(b"event: a\nevent: b\ndata: 1\n\ndata: 2\n\n");
    assert_eq!(events[0].event(), "b");
    assert_eq!(events[1].event(), "message");
}

#[test]
fn empty_event_field_means_message() {
    let (events, _) = parse(b"event:\ndata: 1\n\n");
    assert_eq!(events[0].event(), "message");
}

#[test]
fn comments_and_unknown_fields_are_ignored() {
    assert_eq!(
        datas(b": hi\n:\nfoo: bar\nDATA: no\ndata : no\ndata: yes\n\n"),
        ["yes"]
    );
}

#[test]
fn field_splits_at_the_first_colon() {
    assert_eq!(datas(b"data: a: b:c\n\n"), ["a: b:c"]);
}

#[test]
fn every_line_ending_works_and_crlf_counts_once() {
    assert_eq!(
        datas(b"data: a\r\rdata: b\n\ndata: c\r\n\r\n"),
        ["a", "b", "c"]
    );
    // "\r\n\r" is two line ends, not three: no empty line in between.
    assert_eq!(datas(b"data: a\r\n\rdata: b\r\n\n"), ["a", "b"]);
}

#[test]
fn event_ending_in_lone_cr_is_complete_when_the_cr_arrives() {
    let mut parser = SseParser::new();
    parser.feed(b"data: a\r\r");
    let event = parser.next_event().expect("dispatched at the second CR");
    assert_eq!(event.expect("valid").data(), "a");
    assert!(parser.finish().is_ok());
}

#[test]
fn id_persists_across_events_and_empty_id_resets_it() {
    let (events, parser) = parse(b"id: 7\ndata: a\n\ndata: b\n\nid\ndata: c\n\n");
    let ids: Vec<&str> = events.iter().map(SseEvent::id).collect();
    assert_eq!(ids, ["7", "7", ""]);
    assert_eq!(parser.last_event_id(), "");
}

#[test]
fn id_with_nul_is_ignored() {
    let (events, parser) = parse(b"id: 1\n\nid: 2\x003\ndata: x\n\n");
    assert_eq!(events[0].id(), "1");
    assert_eq!(parser.last_event_id(), "1");
}

#[test]
fn last_event_id_is_set_at_a_blank_line_even_without_data() {
    let mut parser = SseParser::new();
    parser.feed(b"id: 5\n");
    assert_eq!(parser.last_event_id(), "");
    parser.feed(b"\n");
    assert_eq!(parser.last_event_id(), "5");
    assert!(parser.next_event().is_none());
}

#[test]
fn retry_accepts_ascii_digits_only() {
    let (_, parser) = parse(b"retry: 1000\n");
    assert_eq!(parser.retry(), Some(Duration::from_millis(1000)));
    for bad in [
        &b"retry: 1e3\n"[..],
        b"retry: -1\n",
        b"retry:\n",
        b"retry:  5\n",
        b"retry: 99999999999999999999999\n",
    ] {
        let (_, parser) = parse(bad);
        assert_eq!(parser.retry(), None, "{:?}", String::from_utf8_lossy(bad));
    }
    let (_, parser) = parse(b"retry: 10\nretry: x\n");
    assert_eq!(parser.retry(), Some(Duration::from_millis(10)));
}

#[test]
fn one_leading_bom_is_stripped_not_two() {
    assert_eq!(datas(b"\xEF\xBB\xBFdata: a\n\n"), ["a"]);
    // A second BOM makes the first line's field name "\u{FEFF}data", which is unknown.
    assert!(datas(b"\xEF\xBB\xBF\xEF\xBB\xBFdata: a\n\n").is_empty());
    // A BOM later in the stream is content.
    assert_eq!(datas(b"data: \xEF\xBB\xBF\n\n"), ["\u{FEFF}"]);
}

#[test]
fn invalid_utf8_is_replaced_per_maximal_subpart() {
    let input = b"data: a\xF0\x9F\x98b\xFF\xFEc\xC3\n\n";
    let expected = String::from_utf8_lossy(b"a\xF0\x9F\x98b\xFF\xFEc\xC3");
    assert_eq!(datas(input), [expected.as_ref()]);
    assert_eq!(expected, "a\u{FFFD}b\u{FFFD}\u{FFFD}c\u{FFFD}");
}

#[test]
fn invalid_utf8_in_type_and_id_is_replaced() {
    let (events, _) = parse(b"event: \xFFx\nid: \xC0\ndata: d\n\n");
    assert_eq!(events[0].event(), "\u{FFFD}x");
    assert_eq!(events[0].id(), "\u{FFFD}");
}

#[test]
fn nul_bytes_in_data_pass_through() {
    assert_eq!(datas(b"data: a\0b\n\n"), ["a\0b"]);
}

#[test]
fn finish_reports_an_unterminated_line() {
    let mut parser = SseParser::new();
    parser.feed(b"data: a\n\ndata: b");
    let truncated = parser.finish().expect_err("a line was pending");
    assert_eq!(truncated.line_bytes(), 7);
    assert_eq!(
        truncated.to_string(),
        "stream ended inside an unfinished sse event"
    );
}

#[test]
fn finish_reports_undispatched_data() {
    let mut parser = SseParser::new();
    parser.feed(b"data: abc\n");
    let truncated = parser.finish().expect_err("data was pending");
    assert_eq!(truncated.data_bytes(), 4);
    assert_eq!(truncated.line_bytes(), 0);
}

#[test]
fn finish_is_clean_after_a_complete_event_or_only_fields() {
    for input in [
        &b"data: a\n\n"[..],
        b"",
        b"event: x\n",
        b"id: 1\nretry: 5\n",
        b": c\n",
        b"data: a\r\r",
    ] {
        let mut parser = SseParser::new();
        parser.feed(input);
        assert!(
            parser.finish().is_ok(),
            "{:?}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn finish_resets_the_stream_but_keeps_id_and_retry() {
    let mut parser = SseParser::new();
    parser.feed(b"id: 9\nretry: 20\ndata: lost");
    assert!(parser.finish().is_err());
    parser.feed(b"\xEF\xBB\xBFdata: new\n\n");
    let event = parser.next_event().expect("one event").expect("valid");
    assert_eq!((event.data(), event.id()), ("new", "9"));
    assert_eq!(parser.retry(), Some(Duration::from_millis(20)));
}

#[test]
fn oversized_line_is_an_error_then_parsing_resumes() {
    let mut parser = SseParser::with_limits(Limits::uniform(10));
    parser.feed(b"data: 0123456789\ndata: ok\n\ndata: fits\n\n");
    let items: Vec<_> = parser.events().collect();
    assert_eq!(items[0], Err(SseError::LineTooLong { limit: 10 }));
    // The event that lost a line is dropped, the next one is intact.
    assert_eq!(items[1..], [Ok(SseEvent::new("message", "fits", ""))]);
    assert_eq!(items.len(), 2);
}

#[test]
fn oversized_comment_does_not_drop_the_event() {
    let mut parser = SseParser::with_limits(Limits::uniform(8));
    parser.feed(b"data: a\n: a very long comment\ndata: b\n\n");
    let items: Vec<_> = parser.events().collect();
    assert_eq!(
        items,
        [
            Err(SseError::LineTooLong { limit: 8 }),
            Ok(SseEvent::new("message", "a\nb", ""))
        ]
    );
}

#[test]
fn line_limit_counts_without_the_line_ending() {
    let mut parser = SseParser::with_limits(Limits::uniform(7));
    parser.feed(b"data: 1\r\n\r\n");
    assert_eq!(
        parser.next_event(),
        Some(Ok(SseEvent::new("message", "1", "")))
    );
}

#[test]
fn event_data_limit_drops_the_event() {
    let limits = Limits::default().with_max_event_data_bytes(5);
    let mut parser = SseParser::with_limits(limits);
    parser.feed(b"data: abc\ndata: d\n\ndata: abc\ndata: def\ndata: g\n\ndata: ok\n\n");
    let items: Vec<_> = parser.events().collect();
    assert_eq!(
        items,
        [
            Ok(SseEvent::new("message", "abc\nd", "")),
            Err(SseError::EventTooLarge { limit: 5 }),
            Ok(SseEvent::new("message", "ok", "")),
        ]
    );
    assert_eq!(
        items[1].as_ref().unwrap_err().to_string(),
        "sse event data larger than the limit of 5 bytes"
    );
}

#[test]
fn oversized_line_is_reported_before_it_ends() {
    let mut parser = SseParser::with_limits(Limits::uniform(16));
    parser.feed(b"data: ");
    parser.feed(&[b'x'; 10]);
    assert!(parser.next_event().is_none());
    parser.feed(&[b'x'; 10]);
    assert_eq!(
        parser.next_event(),
        Some(Err(SseError::LineTooLong { limit: 16 }))
    );
    assert_eq!(parser.buffered_bytes(), 0);
    parser.feed(&[b'x'; 1000]);
    assert_eq!(parser.buffered_bytes(), 0);
    parser.feed(b"\n\ndata: next\n\n");
    assert_eq!(
        parser.next_event(),
        Some(Ok(SseEvent::new("message", "next", "")))
    );
    assert!(parser.finish().is_ok());
}

#[test]
fn events_iterator_reports_its_length() {
    let mut parser = SseParser::new();
    parser.feed(b"data: 1\n\ndata: 2\n\n");
    assert_eq!(parser.events_queued(), 2);
    assert_eq!(parser.events().len(), 2);
}
