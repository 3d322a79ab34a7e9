//! Bounded memory against hostile sizes: a 100 MiB stream line without a newline, and a 100 MiB
//! non-streamed body, for each wire format. Each must end in `invalid_response` with the process's peak
//! heap far below what the server sent. The peak is measured by a counting allocator in this test binary,
//! which is why these cases live alone here and run one after another in a single test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use llm_core::{ErrorKind, Timeouts};
use llmux_e2e::net::RawServer;
use llmux_reliability::guard::{Guarded, guarded};
use llmux_reliability::wire::{Wire, call, request};

/// Bytes currently allocated, and the most ever allocated since the last reset.
static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// The system allocator, counting live bytes.
struct Counting;

// The workspace denies unsafe code; a global allocator cannot be written without it. This is the only
// unsafe in the crate: it forwards every call to `System` unchanged and only adds counters.
#[allow(unsafe_code)]
// SAFETY: every method forwards to `System`, which upholds the `GlobalAlloc` contract, with the caller's
// layout and pointer unchanged; the counters are plain atomics and never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `alloc`'s contract.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded as is; `ptr` came from this allocator with this layout.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded as is; the caller upholds `realloc`'s contract.
        let new = unsafe { System.realloc(ptr, layout, new_size) };
        if !new.is_null() {
            let now = if new_size >= layout.size() {
                CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed) + new_size
                    - layout.size()
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed)
                    - (layout.size() - new_size)
            };
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// What the server sends: 100 MiB.
const HOSTILE: usize = 100 << 20;
/// The heap growth allowed while the client reads it (its limits are 16 MiB).
const BOUND: usize = 40 << 20;
const MIB: usize = 1 << 20;

#[derive(Debug, Clone, Copy)]
enum Case {
    /// A stream whose next line never ends.
    EndlessLine,
    /// A non-streamed body far larger than any answer.
    HugeBody,
}

/// Serves `case` for `wire`: the payload is written in 64 KiB chunks until 100 MiB or until the client
/// closes (a write then fails).
async fn serve(wire: Wire, case: Case) -> RawServer {
    RawServer::start(move |mut conn| async move {
        let (content_type, head): (&str, Vec<u8>) = match case {
            Case::EndlessLine => {
                let mut head = wire.stream_prelude().to_vec();
                head.extend_from_slice(&wire.stream_delta("fine "));
                head.extend_from_slice(wire.payload_prefix());
                (wire.stream_content_type(), head)
            }
            Case::HugeBody => {
                let whole = wire.whole_body(b"#");
                let at = whole.iter().position(|b| *b == b'#').unwrap_or(0);
                ("application/json", whole[..at].to_vec())
            }
        };
        if conn.start_chunked(200, content_type).await.is_err() || conn.chunk(&head).await.is_err()
        {
            return;
        }
        let filler = vec![b'a'; 64 << 10];
        let mut sent = 0;
        while sent < HOSTILE {
            if conn.chunk(&filler).await.is_err() {
                return;
            }
            sent += filler.len();
        }
        let _ = conn.end_chunked().await;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_sizes_end_in_invalid_response_with_bounded_memory() {
    let timeouts = Timeouts::default().total(Duration::from_secs(60));
    let mut report = Vec::new();
    for case in [Case::EndlessLine, Case::HugeBody] {
        for wire in [
            Wire::OpenAi,
            Wire::Anthropic,
            Wire::Ollama,
            Wire::OpenAiResponses,
            Wire::Gemini,
        ] {
            let server = serve(wire, case).await;
            let provider = wire.provider(&server.base_url(), "sk-memory", timeouts);
            let stream = matches!(case, Case::EndlessLine);
            let base = CURRENT.load(Ordering::Relaxed);
            PEAK.store(base, Ordering::Relaxed);
            let outcome = guarded(
                Duration::from_secs(120),
                call(provider, request("m"), stream),
            )
            .await;
            let growth = PEAK.load(Ordering::Relaxed).saturating_sub(base);
            let result = match outcome {
                Guarded::Done(r) => r,
                other => panic!("{wire:?} {case:?}: {other:?}"),
            };
            let err = result.expect_err("a hostile size cannot be an answer");
            assert_eq!(
                err.kind(),
                ErrorKind::InvalidResponse,
                "{wire:?} {case:?}: {err:?}"
            );
            report.push(format!(
                "{:<9} {:<12} peak heap growth {:>5.1} MiB: {err}",
                wire.name(),
                format!("{case:?}"),
                growth as f64 / MIB as f64
            ));
            assert!(
                growth < BOUND,
                "{wire:?} {case:?}: the heap grew by {} MiB while reading 100 MiB",
                growth / MIB
            );
        }
    }
    println!("{}", report.join("\n"));
}
