//! What an open circuit costs a call: a chain whose first eight entries are open and whose last answers at
//! once, against a chain of that one answering entry. The difference, divided by eight, is the price of
//! one skip.

use std::hint::black_box;
use std::sync::Arc;

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use llm_chain::{BreakerPolicy, Chain, Entry, FakeClock, Policy, RetryPolicy};
use llm_core::{ChatRequest, ChatResponse, ChatStream, Error, ErrorKind, Provider};

/// Answers at once, or fails at once.
#[derive(Debug)]
struct Instant {
    fails: bool,
}

#[async_trait]
impl Provider for Instant {
    fn name(&self) -> &str {
        "instant"
    }

    fn validate(&self, _: &ChatRequest) -> Result<(), Error> {
        Ok(())
    }

    async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, Error> {
        if self.fails {
            Err(Error::new(ErrorKind::Server, "down"))
        } else {
            Ok(ChatResponse::new("instant", request.model.clone(), "ok"))
        }
    }

    async fn stream(&self, _: &ChatRequest) -> Result<ChatStream, Error> {
        Err(Error::new(ErrorKind::Unknown, "not used"))
    }

    async fn health(&self) -> Result<(), Error> {
        Ok(())
    }
}

fn chain(clock: &FakeClock, open: usize) -> Chain {
    let policy = Policy::default()
        .retry(RetryPolicy::none())
        .breaker(BreakerPolicy::default().consecutive_failures(1));
    let mut b = Chain::builder()
        .clock(Arc::new(clock.clone()))
        .policy(policy);
    for _ in 0..open {
        b = b.entry(Entry::new(Arc::new(Instant { fails: true }), "down"));
    }
    let chain = b
        .entry(Entry::new(Arc::new(Instant { fails: false }), "up"))
        .build()
        .expect("entries");
    // one call opens every failing entry's circuit
    let request = ChatRequest::new("m").user("hi");
    let _ = clock.block_on(chain.chat(&request));
    chain
}

fn bench(c: &mut Criterion) {
    let clock = FakeClock::new();
    let request = ChatRequest::new("m").user("hi");
    let one = chain(&clock, 0);
    let nine = chain(&clock, 8);
    c.bench_function("chat, 1 entry", |b| {
        b.iter(|| clock.block_on(one.chat(black_box(&request))))
    });
    c.bench_function("chat, 8 open entries skipped then 1", |b| {
        b.iter(|| clock.block_on(nine.chat(black_box(&request))))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
