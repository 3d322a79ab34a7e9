//! Fuzzes the NDJSON parser: no panic, bounded buffering, numbered lines in order, the same result
//! however the input is chunked, and the same lines through the borrowed path (`feed_ref`).
#![no_main]

mod input;

use input::Input;
use libfuzzer_sys::fuzz_target;
use llm_stream::{Limits, NdjsonError, NdjsonLineRef, NdjsonParser};

/// One item as compared across runs: errors reduced to their line and message.
type Record = Result<(u64, String, bool), (u64, String)>;

fn record(item: Result<NdjsonLineRef<'_>, NdjsonError>, limits: Limits) -> Record {
    match item {
        Ok(line) => {
            assert!(line.as_str().len() <= limits.max_line_bytes());
            let valid = line.raw_value().is_ok();
            Ok((line.number(), line.as_str().to_owned(), valid))
        }
        Err(e) => Err((e.line(), e.to_string())),
    }
}

/// What the parser reports for one stream, through `feed` and owned lines or, with `lend`,
/// through `feed_ref` and borrowed lines.
fn run<'a>(chunks: impl IntoIterator<Item = &'a [u8]>, limits: Limits, lend: bool) -> Vec<Record> {
    let mut parser = NdjsonParser::with_limits(limits);
    let mut out = Vec::new();
    for chunk in chunks {
        if lend {
            let mut feed = parser.feed_ref(chunk);
            while let Some(item) = feed.next_line_ref() {
                out.push(record(item, limits));
            }
        } else {
            parser.feed(chunk);
            for item in parser.events() {
                out.push(match item {
                    Ok(line) => record(Ok(line.as_line_ref()), limits),
                    Err(e) => record(Err(e), limits),
                });
            }
        }
        // The carry may hold one CR past the limit: it may turn out to be half of a CRLF.
        assert!(parser.buffered_bytes() <= limits.max_line_bytes() + 1);
    }
    parser.finish();
    while let Some(item) = parser.next_line_ref() {
        out.push(record(item, limits));
    }
    let numbers: Vec<u64> = out
        .iter()
        .map(|r| match r {
            Ok((n, ..)) | Err((n, _)) => *n,
        })
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "line numbers increase: {numbers:?}"
    );
    out
}

fuzz_target!(|data: &[u8]| {
    let Some(input) = Input::parse(data) else {
        return;
    };
    let whole = run([input.stream], input.limits, false);
    let chunked = run(input.chunks.iter().copied(), input.limits, false);
    assert_eq!(whole, chunked, "chunking changed the result");
    let bytewise = run(input.stream.chunks(1), input.limits, false);
    assert_eq!(whole, bytewise, "one byte at a time changed the result");
    let lent = run(input.chunks.iter().copied(), input.limits, true);
    assert_eq!(whole, lent, "the borrowed path changed the result");
    let lent_whole = run([input.stream], input.limits, true);
    assert_eq!(whole, lent_whole, "the borrowed path changed the result");
});
