//! A llama-server that is still loading its model does not hold a chain up: an entry with a later one moves
//! on at once (the chain built it without the load wait), the attempt keeps the `overloaded` kind, and the
//! last entry still waits. The loading server is a raw HTTP server on 127.0.0.1 answering as llama-server
//! does (503 "Loading model" on every path).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use llm_chain::testing::{Reply, ScriptedProvider};
use llm_chain::{Chain, Entry};
use llm_core::{ChatRequest, ErrorKind, Provider};
use llm_llamacpp::{LlamaCpp, LlamaCppConfig};
use llmux_e2e::net::RawServer;

const LOADING: &[u8] =
    br#"{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}"#;

async fn loading_server(health_checks: Arc<AtomicUsize>) -> RawServer {
    RawServer::start(move |mut conn| {
        let health_checks = Arc::clone(&health_checks);
        async move {
            if conn.request.path.starts_with("/health") {
                health_checks.fetch_add(1, Ordering::SeqCst);
            }
            let _ = conn.respond(503, "application/json", &[], LOADING).await;
        }
    })
    .await
}

fn llama(base: &str, wait: Duration) -> LlamaCpp {
    LlamaCpp::new(LlamaCppConfig::default().base_url(base).load_wait(wait)).unwrap()
}

#[tokio::test]
async fn a_loading_entry_with_a_later_one_moves_on_at_once_and_stays_overloaded() {
    let health_checks = Arc::new(AtomicUsize::new(0));
    let server = loading_server(Arc::clone(&health_checks)).await;
    // A lone client would wait up to a minute for this server.
    let first = llama(&server.base_url(), Duration::from_secs(60));
    let second = ScriptedProvider::new("backup").reply(Reply::text("from the backup"));
    let chain = Chain::builder()
        .entry(Entry::new(Arc::new(first), "smollm2"))
        .entry(Entry::new(Arc::new(second.clone()), "backup-model"))
        .build()
        .unwrap();
    let began = Instant::now();
    let answer = chain
        .chat(&ChatRequest::for_chain().user("Hi"))
        .await
        .unwrap();
    assert!(
        began.elapsed() < Duration::from_secs(10),
        "the chain waited for the load: {:?}",
        began.elapsed()
    );
    assert_eq!(answer.text, "from the backup");
    assert_eq!(answer.attempts.len(), 2, "{:?}", answer.attempts);
    assert_eq!(answer.attempts[0].outcome, Some(ErrorKind::Overloaded));
    assert_eq!(
        health_checks.load(Ordering::SeqCst),
        0,
        "no wait for /health"
    );
    assert_eq!(second.calls(), 1);
}

#[tokio::test]
async fn the_last_entry_still_waits_out_the_load() {
    let health_checks = Arc::new(AtomicUsize::new(0));
    let server = loading_server(Arc::clone(&health_checks)).await;
    let only = llama(&server.base_url(), Duration::from_millis(300));
    let chain = Chain::builder()
        .entry(Entry::new(Arc::new(only), "smollm2"))
        .policy(
            llm_chain::Policy::default().retry(llm_chain::RetryPolicy::default().max_attempts(1)),
        )
        .build()
        .unwrap();
    let err = chain
        .chat(&ChatRequest::for_chain().user("Hi"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Overloaded, "{err}");
    assert!(
        health_checks.load(Ordering::SeqCst) > 0,
        "the last entry waited"
    );
}
