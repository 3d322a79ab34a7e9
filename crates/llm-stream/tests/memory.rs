//! Memory held while parsing hostile input, measured with a counting global allocator.
//!
//! This binary holds one test only, so no other test allocates while it measures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use llm_stream::{Limits, NdjsonParser, SseParser};

/// Wraps the system allocator, tracking the bytes currently allocated and the peak.
struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// The GlobalAlloc trait is unsafe to implement; this forwards every call unchanged to System.
#[allow(unsafe_code)]
mod counting {
    use super::*;

    // SAFETY: every method forwards to `System` with the caller's arguments, so the caller's
    // guarantees carry over; the counters do not touch the memory.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
            // SAFETY: forwarded as received.
            unsafe { System.alloc(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
            // SAFETY: forwarded as received.
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const MIB: usize = 1024 * 1024;

/// Runs `feed` over 100 MiB of one line without a newline and returns the peak heap growth.
fn peak_growth(mut feed: impl FnMut(&[u8])) -> usize {
    let chunk = vec![b'x'; 64 * 1024];
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    for _ in 0..(100 * MIB / chunk.len()) {
        feed(&chunk);
    }
    PEAK.load(Ordering::Relaxed) - base
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
