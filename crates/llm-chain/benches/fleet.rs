//! What fleet state costs a call, side by side on one answering entry (a provider that answers at once):
//!
//! - `no_store`: no shared state (the in-process chain);
//! - `redis_view`: a `RedisState` on a local redis-server, the entry without a budget: every decision is
//!   answered by the in-process view (outcomes are handed to the background task without waiting);
//! - `redis_rpm`: the same with an `rpm` budget: each call asks Redis for room (one Lua script round trip).
//!
//! The added latency per call is each variant's time minus `no_store`'s. After criterion's groups, one
//! plain loop per variant prints the p50 and p99 of single calls. Needs `redis-server` (`cargo xtask peers`).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, criterion_group};
use llm_chain::redis::{RedisOptions, RedisState};
use llm_chain::{Chain, Entry, Policy, RetryPolicy};
use llm_core::{ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, Provider};
use llmux_e2e::RedisServer;
use tokio::runtime::Runtime;

/// Answers at once.
#[derive(Debug)]
struct Answers;

#[async_trait]
impl Provider for Answers {
    fn name(&self) -> &str {
        "answers"
    }

    fn validate(&self, _: &ChatRequest) -> Result<(), Error> {
        Ok(())
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        Ok(ChatResponse::new("answers", request.model.clone(), "ok"))
    }

    async fn stream(&self, _: &ChatRequest) -> Result<ChatStream, Error> {
        Err(Error::new(ErrorKind::Unknown, "not used"))
    }

    async fn health(&self) -> Result<(), Error> {
        Ok(())
    }
}

struct Variants {
    runtime: Runtime,
    _redis: RedisServer,
    states: Vec<RedisState>,
    chains: Vec<(&'static str, Chain)>,
}

fn variants() -> Variants {
    let redis = RedisServer::start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let build = |entry: Entry, state: Option<RedisState>| {
        let mut b = Chain::builder()
            .id(format!("bench-{}", fastrand::u64(..)))
            .policy(Policy::default().retry(RetryPolicy::none()))
            .entry(entry);
        if let Some(s) = state {
            b = b.state(Arc::new(s));
        }
        b.build().expect("chain")
    };
    let connect = || {
        let _guard = runtime.enter();
        let options = RedisOptions::default().wait(Duration::from_millis(50));
        RedisState::connect(&redis.url(), options).expect("store")
    };
    let view_state = connect();
    let rpm_state = connect();
    let chains = vec![
        ("no_store", build(Entry::new(Arc::new(Answers), "m"), None)),
        (
            "redis_view",
            build(Entry::new(Arc::new(Answers), "m"), Some(view_state.clone())),
        ),
        (
            "redis_rpm",
            build(
                Entry::new(Arc::new(Answers), "m").rpm(u64::MAX / 2),
                Some(rpm_state.clone()),
            ),
        ),
    ];
    runtime.block_on(async {
        view_state.reachable().await;
        rpm_state.reachable().await;
    });
    Variants {
        runtime,
        _redis: redis,
        states: vec![view_state, rpm_state],
        chains,
    }
}

fn fleet(c: &mut Criterion) {
    let v = variants();
    let request = ChatRequest::new("ignored").user("hi");
    let mut group = c.benchmark_group("fleet");
    for (name, chain) in &v.chains {
        group.bench_function(*name, |b| {
            b.iter(|| black_box(v.runtime.block_on(chain.chat(&request)).expect("answer")))
        });
    }
    group.finish();
    // Single calls, for percentiles (after Redis answers again, if a slow answer during the groups made
    // a store fall back to its in-process view).
    v.runtime.block_on(async {
        for s in &v.states {
            s.reachable().await;
        }
    });
    for (name, chain) in &v.chains {
        let mut samples: Vec<Duration> = (0..20_000)
            .map(|_| {
                let start = Instant::now();
                black_box(v.runtime.block_on(chain.chat(&request)).expect("answer"));
                start.elapsed()
            })
            .collect();
        samples.sort();
        let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
        println!(
            "fleet/{name}: p50 {:.2} us, p99 {:.2} us over {} calls",
            at(0.5).as_secs_f64() * 1e6,
            at(0.99).as_secs_f64() * 1e6,
            samples.len()
        );
    }
    for (i, s) in v.states.iter().enumerate() {
        println!(
            "fleet: store {i} reachable at the end: {}",
            s.is_reachable()
        );
    }
}

criterion_group!(benches, fleet);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
}
