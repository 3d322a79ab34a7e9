//! Memory held while parsing hostile input, measured with a counting global allocator.
//!
//! This binary holds one test only, so no other test allocates while it measures.

#[path = "it/common/counting.rs"]
mod counting;

use counting::Counting;
use llm_stream::{Limits, NdjsonParser, SseParser};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1024 * 1024;

/// Runs `feed` over 100 MiB of one line without a newline and returns the peak heap growth.
fn peak_growth(mut feed: impl FnMut(&[u8])) -> usize {
    let chunk = vec![b'x'; 64 * 1024];
    counting::peak_growth(|| {
        for _ in 0..(100 * MIB / chunk.len()) {
            feed(&chunk);
        }
    })
    .1
}

#[test]
fn hundred_mib_without_newline_holds_about_the_limit() {
    for limit in [MIB, 4 * MIB] {
        let mut parser = SseParser::with_limits(Limits::uniform(limit));
        parser.feed(b"data: ");
        let mut errors = 0;
        let growth = peak_growth(|chunk| {
            parser.feed(chunk);
            errors += parser.events().count();
        });
        assert_eq!(errors, 1);
        // The carry buffer grows by doubling, so it may hold up to twice the limit in capacity.
        assert!(
            growth <= 2 * limit + 64 * 1024,
            "sse with limit {limit}: peak growth {growth}"
        );

        let mut parser = NdjsonParser::with_limits(Limits::uniform(limit));
        let mut errors = 0;
        let growth = peak_growth(|chunk| {
            parser.feed(chunk);
            errors += parser.events().count();
        });
        assert_eq!(errors, 1);
        assert!(
            growth <= 2 * limit + 64 * 1024,
            "ndjson with limit {limit}: peak growth {growth}"
        );
    }
}
