//! Load through a chain of two llm-katan instances (`--max-concurrent 8`): 1,000 requests at concurrency
//! 100, half of them streamed, while the first instance fails every request (`--error-rate 1.0`).
//!
//! Asserted: no request is lost (each ends in an answer or a classified error, and the healthy entry
//! answers all of them), nothing hangs or panics; the first entry's breaker opens and, with the retry
//! budget, keeps the extra load bounded (extra-request ratio = attempts / requests - 1, reported overall
//! and after the breaker opened); after the first instance is replaced by a healthy one on the same port,
//! a half-open probe closes the breaker again.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use llm_chain::{BreakerPolicy, BreakerState, Chain, Entry, Policy, RetryBudget, RetryPolicy};
use llm_core::{Attempt, Provider, Timeouts};
use llmux_e2e::Katan;
use llmux_reliability::guard::{Guarded, Row, Table, guarded};
use llmux_reliability::wire::{Wire, call, request};
use tokio::time::Instant;

const REQUESTS: usize = 1_000;
const CONCURRENCY: usize = 100;
const COOLDOWN: Duration = Duration::from_millis(500);
const HANG: Duration = Duration::from_secs(120);

/// Every attempt the chain reports, with when it ended.
#[derive(Default)]
struct Log {
    attempts: Mutex<Vec<(Instant, Attempt)>>,
}

fn katan_args(failing: bool) -> Vec<&'static str> {
    let mut args = vec!["--max-concurrent", "8", "--max-inflight", "10000"];
    if failing {
        args.extend(["--error-rate", "1.0"]);
    }
    args
}

async fn start(args: Vec<&'static str>, port: Option<u16>) -> Katan {
    tokio::task::spawn_blocking(move || {
        let builder = Katan::builder().args(args);
        match port {
            Some(p) => builder.port(p).start(),
            None => builder.start(),
        }
    })
    .await
    .expect("llm-katan starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_through_a_chain_with_a_failing_first_entry() {
    let (first, second) = tokio::join!(
        start(katan_args(true), None),
        start(katan_args(false), None)
    );
    let first_port = first.port();
    let timeouts = Timeouts::default().total(Duration::from_secs(60));
    let log = Arc::new(Log::default());
    let observer_log = Arc::clone(&log);
    let chain = Chain::builder()
        .entry(Entry::new(
            Wire::OpenAi.provider(&first.base_url(), "sk-load", timeouts),
            Katan::MODEL,
        ))
        .entry(Entry::new(
            Wire::OpenAi.provider(&second.base_url(), "sk-load", timeouts),
            Katan::MODEL,
        ))
        .policy(
            Policy::default()
                .retry(
                    RetryPolicy::default()
                        .backoff(Duration::from_millis(20), Duration::from_millis(200)),
                )
                .budget(RetryBudget::default())
                .breaker(
                    BreakerPolicy::default()
                        .consecutive_failures(5)
                        .cooldown(COOLDOWN, COOLDOWN),
                ),
        )
        .on_attempt(Arc::new(move |a: &Attempt| {
            let mut all = observer_log
                .attempts
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            all.push((Instant::now(), a.clone()));
        }))
        .build()
        .expect("two entries");

    // Watch for the first time the breaker leaves `closed` (polled; the requests do not wait for it).
    let opened_at: Arc<Mutex<Option<Instant>>> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let monitor = {
        let (chain, opened_at, done) = (chain.clone(), Arc::clone(&opened_at), Arc::clone(&done));
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                if chain.health_snapshot()[0].state != BreakerState::Closed {
                    *opened_at.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
                    return;
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        })
    };

    let started = Instant::now();
    let target: Arc<dyn Provider> = Arc::new(chain.clone());
    let outcomes: Vec<(Instant, _)> = futures::stream::iter(0..REQUESTS)
        .map(|i| {
            let target = Arc::clone(&target);
            async move {
                let begun = Instant::now();
                let stream = i % 2 == 1;
                (
                    begun,
                    guarded(HANG, call(target, request(Katan::MODEL), stream)).await,
                )
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let elapsed = started.elapsed();
    done.store(true, Ordering::Relaxed);
    monitor.await.expect("the monitor ends");
    let opened = opened_at
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .expect("the first entry's breaker opened");

    let mut row = Row::new(format!(
        "{REQUESTS} requests, concurrency {CONCURRENCY}, entry 0 --error-rate 1.0"
    ));
    let mut by_entry = [0u32; 2];
    let (mut attempts_listed, mut calls_after, mut attempts_after) = (0usize, 0usize, 0usize);
    for (begun, outcome) in &outcomes {
        let (counted, attempts) = match outcome {
            Guarded::Done(Ok(answer)) => {
                let last = answer
                    .attempts
                    .last()
                    .expect("an answer lists its attempts");
                by_entry[last.entry.min(1)] += 1;
                (Guarded::Done(Ok(())), answer.attempts.len())
            }
            Guarded::Done(Err(e)) => (Guarded::Done(Err(e.kind())), e.attempts().len()),
            Guarded::Hung => (Guarded::Hung, 0),
            Guarded::Panicked => (Guarded::Panicked, 0),
        };
        row.count(&counted);
        attempts_listed += attempts;
        if *begun >= opened {
            calls_after += 1;
            attempts_after += attempts;
        }
    }

    let observed = log
        .attempts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    let total_ratio = attempts_listed as f64 / REQUESTS as f64 - 1.0;
    let after_ratio = attempts_after as f64 / calls_after.max(1) as f64 - 1.0;
    let first_entry_attempts = observed.iter().filter(|(_, a)| a.entry == 0).count();
    row.note = format!(
        "answered by entry1: {}; attempts {} (entry0 {}); {:.1}s",
        by_entry[1],
        attempts_listed,
        first_entry_attempts,
        elapsed.as_secs_f64()
    );

    // Restart the first instance healthy on the same port; a probe must close its breaker.
    let state_before = chain.health_snapshot()[0].state;
    drop(first);
    let _first = start(katan_args(false), Some(first_port)).await;
    let restart = Instant::now();
    let mut probes = 0;
    let closed_after = loop {
        let answer = call(Arc::clone(&target), request(Katan::MODEL), false)
            .await
            .expect("the chain answers");
        probes += 1;
        let health = &chain.health_snapshot()[0];
        if health.state == BreakerState::Closed {
            let last = answer.attempts.last().expect("attempts");
            assert_eq!(
                last.entry, 0,
                "the probe that closed the breaker was answered by entry 0"
            );
            break restart.elapsed();
        }
        assert!(
            restart.elapsed() < Duration::from_secs(30),
            "the breaker never closed: {health:?}"
        );
        // Poll interval; the bound above is what the test waits for.
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let after_close = call(Arc::clone(&target), request(Katan::MODEL), true)
        .await
        .expect("answer");
    assert_eq!(after_close.attempts.len(), 1, "{:?}", after_close.attempts);
    assert_eq!(after_close.attempts[0].entry, 0);

    let mut table =
        Table::new("load through a chain of two llm-katan instances (--max-concurrent 8)");
    table.rows.push(row.clone());
    let mut text = table.render();
    text.push_str(&format!(
        "extra-request ratio: {total_ratio:.3} overall, {after_ratio:.3} after the breaker opened \
         ({attempts_after} attempts for the {calls_after} calls begun after it opened)\n\
         breaker before restart: {}; closed again {:.2}s after the restart, after {probes} calls\n",
        state_before.as_str(),
        closed_after.as_secs_f64()
    ));
    println!("{text}");
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join("load.txt");
    std::fs::write(&path, &text).expect("written");
    println!("(written to {})", path.display());

    assert_eq!(row.sent as usize, REQUESTS);
    // Every attempt an answer or error lists was also reported to the observer, and no more.
    let observed_in_run = observed
        .iter()
        .filter(|(t, _)| *t <= started + elapsed)
        .count();
    assert_eq!(
        observed_in_run, attempts_listed,
        "attempts reported vs listed"
    );
    assert!(
        calls_after >= REQUESTS / 2,
        "the breaker opened late: {calls_after} calls after"
    );
    assert_eq!(row.hung, 0);
    assert_eq!(row.panicked, 0);
    assert_eq!(
        row.ok as usize,
        REQUESTS,
        "every request answered: {}",
        row.failed_text()
    );
    assert_eq!(
        by_entry[1] as usize, REQUESTS,
        "the failing entry never answered"
    );
    assert_ne!(
        state_before,
        BreakerState::Closed,
        "the breaker was not closed while entry 0 failed"
    );
    assert!(
        after_ratio < 0.3,
        "extra load after the breaker opened: {after_ratio:.3}"
    );
    assert!(total_ratio < 0.5, "extra load overall: {total_ratio:.3}");
}
