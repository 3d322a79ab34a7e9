//! Fuzzes the NDJSON parser: no panic, bounded buffering, numbered lines in order, and the same
//! result however the input is chunked.
#![no_main]

mod input;

use input::Input;
use libfuzzer_sys::fuzz_target;
use llm_stream::{Limits, NdjsonParser};

/// What the parser reports for one stream, with errors reduced to their line and message.
fn run<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    limits: Limits,
) -> Vec<Result<(u64, String, bool), (u64, String)>> {
    let mut parser = NdjsonParser::with_limits(limits);
    let mut out = Vec::new();
    let mut drain = |parser: &mut NdjsonParser| {
        for item in parser.events() {
            out.push(match item {
                Ok(line) => {
                    assert!(line.as_str().len() <= limits.max_line_bytes());
                    let valid = line.raw_value().is_ok();
                    Ok((line.number(), line.into_string(), valid))
                }
                Err(e) => Err((e.line(), e.to_string())),
            });
        }
    };
    for chunk in chunks {
        parser.feed(chunk);
        // The carry may hold one CR past the limit: it may turn out to be half of a CRLF.
        assert!(parser.buffered_bytes() <= limits.max_line_bytes() + 1);
        drain(&mut parser);
    }
    parser.finish();
    drain(&mut parser);
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
    let whole = run([input.stream], input.limits);
    let chunked = run(input.chunks.iter().copied(), input.limits);
    assert_eq!(whole, chunked, "chunking changed the result");
    let bytewise = run(input.stream.chunks(1), input.limits);
    assert_eq!(whole, bytewise, "one byte at a time changed the result");
});
