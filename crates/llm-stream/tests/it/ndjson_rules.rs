//! The NDJSON rules, one at a time.

use std::error::Error as _;

use llm_stream::{Limits, NdjsonErrorKind, NdjsonLine, NdjsonParser};
use serde::Deserialize;

fn lines(input: &[u8]) -> Vec<Result<NdjsonLine, String>> {
    let mut parser = NdjsonParser::new();
    parser.feed(input);
    parser.finish();
    parser
        .events()
        .map(|l| l.map_err(|e| e.to_string()))
        .collect()
}

#[test]
fn lines_end_at_lf_with_one_cr_dropped() {
    assert_eq!(
        lines(b"1\n2\r\n3\r\r\n"),
        [
            Ok(NdjsonLine::new(1, "1")),
            Ok(NdjsonLine::new(2, "2")),
            Ok(NdjsonLine::new(3, "3\r"))
        ]
    );
}

#[test]
fn lone_cr_does_not_end_a_line() {
    assert_eq!(lines(b"1\r2\n"), [Ok(NdjsonLine::new(1, "1\r2"))]);
}

#[test]
fn blank_lines_are_skipped_but_counted() {
    assert_eq!(lines(b"\n \t\r\n\r\n{}\n"), [Ok(NdjsonLine::new(4, "{}"))]);
}

#[test]
fn leading_bom_is_stripped() {
    assert_eq!(lines(b"\xEF\xBB\xBF{}\n"), [Ok(NdjsonLine::new(1, "{}"))]);
}

#[test]
fn last_line_without_newline_comes_at_finish() {
    let mut parser = NdjsonParser::new();
    parser.feed(b"1\n2");
    assert_eq!(
        parser.next_event().map(Result::unwrap),
        Some(NdjsonLine::new(1, "1"))
    );
    assert!(parser.next_event().is_none());
    parser.finish();
    assert_eq!(
        parser.next_event().map(Result::unwrap),
        Some(NdjsonLine::new(2, "2"))
    );
}

#[test]
fn invalid_lines_name_their_number_and_parsing_goes_on() {
    #[derive(Debug, Deserialize, PartialEq)]
    struct Item {
        n: u32,
    }
    let mut parser = NdjsonParser::new();
    parser.feed(b"{\"n\":1}\n\n{\"n\":\n{\"n\":\"x\"}\n{\"n\":4}\n");
    assert_eq!(parser.next_as::<Item>().unwrap().unwrap(), Item { n: 1 });
    let bad = parser.next_as::<Item>().unwrap().unwrap_err();
    assert_eq!(bad.line(), 3);
    assert_eq!(bad.to_string(), "ndjson line 3 is not valid json");
    assert!(bad.source().is_some(), "the serde error is the source");
    let wrong_type = parser.next_as::<Item>().unwrap().unwrap_err();
    assert_eq!(wrong_type.line(), 4);
    assert!(matches!(wrong_type.kind(), NdjsonErrorKind::InvalidJson(_)));
    assert_eq!(parser.next_as::<Item>().unwrap().unwrap(), Item { n: 4 });
}

#[test]
fn invalid_utf8_line_is_an_error() {
    assert_eq!(
        lines(b"\"\xFF\"\n"),
        [Err("ndjson line 1 is not valid utf-8".to_owned())]
    );
}

#[test]
fn raw_value_keeps_the_text_exactly() {
    let line = NdjsonLine::new(1, r#" {"b":1.50,"a":[1e3]} "#);
    assert_eq!(line.raw_value().unwrap().get(), r#"{"b":1.50,"a":[1e3]}"#);
    assert!(NdjsonLine::new(2, "{} {}").raw_value().is_err());
}

#[test]
fn decode_borrowed_can_borrow_from_the_line() {
    #[derive(Deserialize)]
    struct Borrowing<'a> {
        s: &'a str,
    }
    let line = NdjsonLine::new(1, r#"{"s":"plain"}"#);
    assert_eq!(line.decode_borrowed::<Borrowing<'_>>().unwrap().s, "plain");
}

#[test]
fn oversized_line_is_reported_early_and_skipped() {
    let mut parser = NdjsonParser::with_limits(Limits::uniform(4));
    parser.feed(b"1234");
    assert!(parser.next_event().is_none());
    parser.feed(b"5");
    let err = parser.next_event().unwrap().unwrap_err();
    assert_eq!((err.line(), err.is_too_long()), (1, true));
    assert_eq!(
        err.to_string(),
        "ndjson line 1 longer than the limit of 4 bytes"
    );
    parser.feed(&[b'9'; 100]);
    assert_eq!(parser.buffered_bytes(), 0);
    parser.feed(b"\n22\n");
    assert_eq!(
        parser.next_event().map(Result::unwrap),
        Some(NdjsonLine::new(2, "22"))
    );
}

#[test]
fn line_limit_counts_without_crlf_even_split() {
    let mut parser = NdjsonParser::with_limits(Limits::uniform(4));
    parser.feed(b"1234\r");
    parser.feed(b"\n12345\r\n");
    let items: Vec<_> = parser.events().collect();
    assert_eq!(items[0].as_ref().unwrap(), &NdjsonLine::new(1, "1234"));
    assert!(items[1].as_ref().unwrap_err().is_too_long());
    assert_eq!(items.len(), 2);
}

#[test]
fn finish_restarts_line_numbers() {
    let mut parser = NdjsonParser::new();
    parser.feed(b"\n1\n");
    parser.finish();
    parser.feed(b"2\n");
    let numbers: Vec<u64> = parser.events().map(|l| l.unwrap().number()).collect();
    assert_eq!(numbers, [2, 1]);
}
