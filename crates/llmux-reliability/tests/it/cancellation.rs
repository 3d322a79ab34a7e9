//! Cancellation: dropping a stream mid-way closes the upstream connection. A raw server drips events
//! until it sees its socket closed (EOF on read, or a failed write) and reports when; the test reads a
//! few events, drops the stream, and requires the close within a generous bound. For OpenAI, Anthropic
//! and Ollama streams, direct and through a chain whose first entry fails over to the dripping server.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use llm_chain::{Chain, Entry, Policy, RetryPolicy};
use llm_core::{Provider, StreamEvent, Timeouts};
use llmux_e2e::net::RawServer;
use llmux_reliability::wire::{Wire, request};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// Far more than a close takes to be noticed on loopback (one drip interval).
const BOUND: Duration = Duration::from_secs(5);

async fn dripping_server(wire: Wire) -> (RawServer, mpsc::UnboundedReceiver<(bool, Instant)>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = RawServer::start(move |mut conn| {
        let tx = tx.clone();
        async move {
            let _ = conn.start_chunked(200, wire.stream_content_type()).await;
            let _ = conn.chunk(wire.stream_prelude()).await;
            let closed = conn
                .drip_until_closed(
                    &wire.stream_delta("drip "),
                    Duration::from_millis(20),
                    Duration::from_secs(30),
                )
                .await;
            let _ = tx.send((closed, Instant::now()));
        }
    })
    .await;
    (server, rx)
}

/// Reads until two text deltas arrived, drops the stream, and checks the server saw the close.
async fn drop_mid_stream(
    what: &str,
    provider: Arc<dyn Provider>,
    server: &RawServer,
    mut closed: mpsc::UnboundedReceiver<(bool, Instant)>,
) {
    let mut stream = provider
        .stream(&request("m"))
        .await
        .unwrap_or_else(|e| panic!("{what}: {e:?}"));
    let mut deltas = 0;
    while deltas < 2 {
        match timeout(BOUND, stream.next()).await {
            Ok(Some(Ok(StreamEvent::TextDelta(_)))) => deltas += 1,
            Ok(Some(Ok(_))) => {}
            other => panic!("{what}: expected text, got {other:?}"),
        }
    }
    let dropped = Instant::now();
    drop(stream);
    let (saw_close, at) = timeout(BOUND, closed.recv())
        .await
        .unwrap_or_else(|_| panic!("{what}: the server saw no close within {BOUND:?}"))
        .unwrap_or_else(|| panic!("{what}: the server task ended without a report"));
    assert!(saw_close, "{what}: the connection stayed open");
    let took = at.saturating_duration_since(dropped);
    assert!(took < BOUND, "{what}: close seen after {took:?}");
    assert_eq!(server.accepted(), 1, "{what}: one connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_stream_closes_its_connection() {
    for wire in [
        Wire::OpenAi,
        Wire::Anthropic,
        Wire::Ollama,
        Wire::OpenAiResponses,
        Wire::Gemini,
    ] {
        let (server, closed) = dripping_server(wire).await;
        let provider = wire.provider(&server.base_url(), "sk-cancel", Timeouts::default());
        drop_mid_stream(&format!("{wire:?} direct"), provider, &server, closed).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_chain_stream_closes_the_winning_entry_s_connection() {
    for wire in [
        Wire::OpenAi,
        Wire::Anthropic,
        Wire::Ollama,
        Wire::OpenAiResponses,
        Wire::Gemini,
    ] {
        let failing = RawServer::start(|mut conn| async move {
            let body = br#"{"error":{"message":"down","type":"server_error"}}"#;
            let _ = conn.respond(500, "application/json", &[], body).await;
        })
        .await;
        let (server, closed) = dripping_server(wire).await;
        let chain = Chain::builder()
            .entry(Entry::new(
                wire.provider(&failing.base_url(), "sk-cancel", Timeouts::default()),
                "m",
            ))
            .entry(Entry::new(
                wire.provider(&server.base_url(), "sk-cancel", Timeouts::default()),
                "m",
            ))
            .policy(Policy::default().retry(RetryPolicy::none()))
            .build()
            .expect("two entries");
        drop_mid_stream(&format!("{wire:?} chain"), Arc::new(chain), &server, closed).await;
        assert_eq!(
            failing.accepted(),
            1,
            "{wire:?}: the first entry was tried once"
        );
    }
}
