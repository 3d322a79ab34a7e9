//! A counting global allocator: heap growth while a closure runs, and its peak.
//!
//! Shared by `tests/memory.rs` and `benches/throughput.rs` (each includes this file with
//! `#[path]` and installs [`Counting`] as its `#[global_allocator]`). Counting is on only inside
//! [`peak_growth`]; elsewhere each allocation costs one relaxed load more than the system
//! allocator, so timed code runs as it would without it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicIsize, Ordering};

/// Wraps the system allocator, tracking the bytes allocated since counting started and the peak.
#[derive(Debug)]
pub(crate) struct Counting;

static COUNTING: AtomicBool = AtomicBool::new(false);
/// Bytes allocated minus bytes freed since counting started (negative when older memory is freed).
static CURRENT: AtomicIsize = AtomicIsize::new(0);
static PEAK: AtomicIsize = AtomicIsize::new(0);

// The GlobalAlloc trait is unsafe to implement; this forwards every call unchanged to System.
#[allow(unsafe_code)]
mod imp {
    use super::*;

    fn grew(by: usize) {
        if COUNTING.load(Ordering::Relaxed) {
            let by = by as isize;
            let now = CURRENT.fetch_add(by, Ordering::Relaxed) + by;
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
    }

    fn shrank(by: usize) {
        if COUNTING.load(Ordering::Relaxed) {
            CURRENT.fetch_sub(by as isize, Ordering::Relaxed);
        }
    }

    // SAFETY: every method forwards to `System` with the caller's arguments, so the caller's
    // guarantees carry over; the counters never touch the memory.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            grew(layout.size());
            // SAFETY: forwarded as received.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            grew(layout.size());
            // SAFETY: forwarded as received.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // Counted as the new block taken before the old one is given back: the peak a
            // copying reallocation really reaches.
            grew(new_size);
            // SAFETY: forwarded as received.
            let new = unsafe { System.realloc(ptr, layout, new_size) };
            shrank(layout.size());
            new
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            shrank(layout.size());
            // SAFETY: forwarded as received.
            unsafe { System.dealloc(ptr, layout) }
        }
    }
}

/// Runs `f` with counting on; returns its result and the peak heap growth in bytes during it
/// (memory allocated and still held at some moment, not counting what existed before). Not
/// reentrant, and allocations of other threads meanwhile are counted too: call it from a test
/// binary or bench that runs nothing else at the same time.
pub(crate) fn peak_growth<R>(f: impl FnOnce() -> R) -> (R, usize) {
    CURRENT.store(0, Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::SeqCst);
    let result = f();
    COUNTING.store(false, Ordering::SeqCst);
    let peak = PEAK.load(Ordering::Relaxed).max(0) as usize;
    (result, peak)
}
