//! Fuzzes the SSE parser: no panic, bounded buffering, the same result however the input is
//! chunked, and the same events through the borrowed path (`feed_ref`) as through `feed`.
#![no_main]

mod input;

use input::Input;
use libfuzzer_sys::fuzz_target;
use llm_stream::{Limits, SseError, SseEvent, SseParser};

/// Everything the parser reports for one stream.
#[derive(Debug, PartialEq)]
struct Transcript {
    items: Vec<Result<SseEvent, SseError>>,
    retry: Option<std::time::Duration>,
    last_event_id: String,
    truncated: bool,
}

fn run<'a>(chunks: impl IntoIterator<Item = &'a [u8]>, limits: Limits, lend: bool) -> Transcript {
    let mut parser = SseParser::with_limits(limits);
    let mut items = Vec::new();
    for chunk in chunks {
        if lend {
            let mut feed = parser.feed_ref(chunk);
            while let Some(item) = feed.next_event_ref() {
                items.push(item.map(|event| event.to_event()));
            }
        } else {
            parser.feed(chunk);
        }
        // Held: a partial line and an event type (each within the line limit) and the event's
        // data with its trailing LF, plus the `data: ` in front when the data buffer is a carried
        // line's buffer handed over whole.
        let bound = 2 * limits.max_line_bytes() + limits.max_event_data_bytes() + 1 + 6;
        assert!(parser.buffered_bytes() <= bound);
        items.extend(parser.events());
    }
    let truncated = parser.finish().is_err();
    items.extend(parser.events());
    for event in items.iter().flatten() {
        assert!(!event.event().is_empty(), "an event always has a type");
        // The limit counts received bytes; an invalid byte decodes to U+FFFD, three bytes.
        assert!(event.data().len() <= 3 * limits.max_event_data_bytes());
        assert!(!event.id().contains('\0'), "an id with NUL is ignored");
    }
    Transcript {
        items,
        retry: parser.retry(),
        last_event_id: parser.last_event_id().to_owned(),
        truncated,
    }
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
