//! End to end: a chain over real servers. Three llm-katan instances (one failing every request, one
//! rate-limiting after its first request, one healthy) speak the OpenAI format through llm-openai, and the
//! real llama-server with SmolLM2 is the last entry through llm-llamacpp.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use llm_chain::{BreakerPolicy, BreakerState, Chain, Entry, Policy, RetryBudget, RetryPolicy};
use llm_core::{ChatRequest, ErrorKind, FinishReason, Provider, StreamEvent, Timeouts};
use llm_llamacpp::{LlamaCpp, LlamaCppConfig};
use llm_openai::{OpenAi, OpenAiConfig};
use llmux_e2e::{Katan, LlamaServer};

/// A generous bound that only proves nothing hangs.
const NO_HANG: Duration = Duration::from_secs(120);

fn katan_entry(name: &'static str, katan: &Katan, model: &str) -> Entry {
    // llm-katan wants a bearer token even when it does not check keys.
    let config = OpenAiConfig::compatible(name, format!("{}/v1", katan.base_url()))
        .api_key("katan-key")
        .timeouts(Timeouts::default().total(Duration::from_secs(30)));
    Entry::new(Arc::new(OpenAi::new(config).unwrap()), model)
}

fn llama_entry(server: &LlamaServer) -> Entry {
    let config = LlamaCppConfig::default().base_url(server.base_url());
    let mut overrides = llm_core::Params::default();
    overrides.max_tokens = Some(8);
    Entry::new(Arc::new(LlamaCpp::new(config).unwrap()), "smollm2").params(overrides)
}

fn quick_retries() -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(2)
        .backoff(Duration::from_millis(10), Duration::from_millis(20))
        .jitter(0.0)
}

fn request() -> ChatRequest {
    ChatRequest::new("ignored").user("Say hello.").max_tokens(8)
}

struct Peers {
    failing: Katan,
    limited: Katan,
    healthy: Katan,
    llama: LlamaServer,
}

fn peers() -> Peers {
    Peers {
        failing: Katan::builder().args(["--error-rate", "1.0"]).start(),
        limited: Katan::builder().args(["--rate-limit-after", "1"]).start(),
        healthy: Katan::start(),
        llama: LlamaServer::start(),
    }
}

fn chain(p: &Peers, policy: Policy) -> Chain {
    Chain::builder()
        .entry(katan_entry("katan-failing", &p.failing, "model-a"))
        .entry(katan_entry("katan-limited", &p.limited, Katan::MODEL))
        .entry(katan_entry("katan-healthy", &p.healthy, Katan::MODEL))
        .entry(llama_entry(&p.llama))
        .policy(policy)
        .build()
        .unwrap()
}

fn outcomes(attempts: &[llm_core::Attempt]) -> Vec<(usize, u32, &'static str, Option<u16>)> {
    attempts
        .iter()
        .map(|a| (a.entry, a.retry, a.outcome_str(), a.status))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chat_falls_through_failing_and_rate_limited_entries_in_order() {
    let p = peers();
    let chain = chain(
        &p,
        Policy::default()
            .retry(quick_retries())
            .budget(RetryBudget::unlimited())
            .breaker(BreakerPolicy::disabled())
            .deadline(Duration::from_secs(60)),
    );

    // Call 1: the failing entry is retried once, then the rate-limited entry still answers its first request.
    let answer = tokio::time::timeout(NO_HANG, chain.chat(&request()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.provider, "katan-limited");
    assert!(!answer.text.is_empty());
    assert_eq!(
        outcomes(&answer.attempts),
        [
            (0, 0, "server", Some(500)),
            (0, 1, "server", Some(500)),
            (1, 0, "ok", None)
        ]
    );
    assert_eq!(
        answer.attempts[0].model, "model-a",
        "each entry sends its own model"
    );

    // Call 2: now the second entry answers 429 (retried once), and the healthy one answers.
    let answer = tokio::time::timeout(NO_HANG, chain.chat(&request()))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(answer.provider, "katan-healthy");
    assert_eq!(
        outcomes(&answer.attempts),
        [
            (0, 0, "server", Some(500)),
            (0, 1, "server", Some(500)),
            (1, 0, "rate_limited", Some(429)),
            (1, 1, "rate_limited", Some(429)),
            (2, 0, "ok", None)
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_reaches_the_real_model_after_every_katan_fails() {
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    let limited = Katan::builder().args(["--rate-limit-after", "1"]).start();
    // Spend the one request it allows, so it rate-limits the chain from the start.
    let first = llmux_e2e::http::post_json(
        &limited.base_url(),
        "/v1/chat/completions",
        &[("authorization", "Bearer katan-key")],
        r#"{"model":"katan-echo","messages":[{"role":"user","content":"hi"}]}"#,
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(first.status, 200);
    let llama = LlamaServer::start();
    let chain = Chain::builder()
        .entry(katan_entry("katan-failing", &failing, "model-a"))
        .entry(katan_entry("katan-limited", &limited, "model-b"))
        .entry(llama_entry(&llama))
        .policy(
            Policy::default()
                .retry(quick_retries())
                .budget(RetryBudget::unlimited()),
        )
        .build()
        .unwrap();

    let stream = tokio::time::timeout(NO_HANG, chain.stream(&request()))
        .await
        .unwrap()
        .unwrap();
    let events: Vec<_> = tokio::time::timeout(NO_HANG, stream.collect::<Vec<_>>())
        .await
        .unwrap();
    let events: Vec<StreamEvent> = events.into_iter().map(Result::unwrap).collect();

    let starts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::Start(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(starts.len(), 1, "exactly one start: {events:?}");
    assert_eq!(starts[0].provider, "llamacpp");
    let before: Vec<_> = starts[0]
        .attempts
        .iter()
        .map(|a| (a.entry, a.outcome_str()))
        .collect();
    assert_eq!(
        before,
        [
            (0, "server"),
            (0, "server"),
            (1, "rate_limited"),
            (1, "rate_limited"),
            (2, "ok")
        ]
    );
    let text: String = events
        .iter()
        .filter_map(|e| match e {
            StreamEvent::TextDelta(t) => Some(t.as_str()),
            _ => None,
        })
        .collect();
    assert!(!text.is_empty());
    assert!(events.iter().any(|e| matches!(
        e,
        StreamEvent::Finish(FinishReason::Length | FinishReason::Stop)
    )));
    assert!(events.iter().any(|e| matches!(e, StreamEvent::Usage(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn breaker_opens_on_the_failing_entry_and_the_chain_stops_sending_to_it() {
    let failing = Katan::builder().args(["--error-rate", "1.0"]).start();
    let healthy = Katan::start();
    let chain = Chain::builder()
        .entry(katan_entry("katan-failing", &failing, Katan::MODEL))
        .entry(katan_entry("katan-healthy", &healthy, Katan::MODEL))
        .policy(
            Policy::default().retry(RetryPolicy::none()).breaker(
                BreakerPolicy::default()
                    .consecutive_failures(2)
                    .cooldown(Duration::from_secs(600), Duration::from_secs(600)),
            ),
        )
        .build()
        .unwrap();
    for _ in 0..2 {
        let answer = chain.chat(&request()).await.unwrap();
        assert_eq!(outcomes(&answer.attempts)[0].2, "server");
    }
    // Open now: the failing entry gets no request at all.
    let answer = chain.chat(&request()).await.unwrap();
    assert_eq!(outcomes(&answer.attempts), [(1, 0, "ok", None)]);
    let health = chain.health_snapshot();
    assert!(
        matches!(health[0].state, BreakerState::Open { .. }),
        "{health:?}"
    );
    assert_eq!(health[0].last_error, Some(ErrorKind::Server));
    assert!(matches!(health[1].state, BreakerState::Closed));
    assert!(health[1].last_success_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hedging_takes_the_real_model_when_the_first_entry_is_slow_to_start() {
    let slow = Katan::builder().args(["--ttft-ms", "5000"]).start();
    let llama = LlamaServer::start();
    let chain = Chain::builder()
        .entry(katan_entry("katan-slow", &slow, Katan::MODEL))
        .entry(llama_entry(&llama))
        .policy(Policy::default().hedge_after(Duration::from_millis(300)))
        .build()
        .unwrap();
    let stream = tokio::time::timeout(NO_HANG, chain.stream(&request()))
        .await
        .unwrap()
        .unwrap();
    let events: Vec<_> = stream.collect().await;
    let start = events
        .iter()
        .find_map(|e| match e {
            Ok(StreamEvent::Start(s)) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    // Without the hedge the slow entry would have answered (after its delay) and started the stream.
    assert_eq!(start.provider, "llamacpp");
    assert!(events.iter().all(Result::is_ok), "{events:?}");
}
