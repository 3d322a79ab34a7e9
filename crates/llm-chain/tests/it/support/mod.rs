//! Helpers shared by the chain's tests, over the public scripted provider of `llm_chain::testing`: each
//! provider answers from a script of steps, waits only on the fake clock, and records what it received.

// Each test file uses a different subset of these helpers.
#![allow(dead_code, unreachable_pub)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
pub use llm_chain::testing::{Failure, Reply, ScriptedProvider, StreamItem};
use llm_chain::{Chain, ChainBuilder, Clock, Entry, FakeClock, Policy, RetryPolicy};
use llm_core::{
    ChatRequest, ChatResponse, Error, ErrorKind, FinishReason, ParamTable, Provider, StreamEvent,
};

/// The scripted provider of `llm_chain::testing`, under the short names these tests use.
pub type Step = Reply;
pub type Item = StreamItem;
pub type Fail = Failure;

pub fn ok(text: &str) -> Step {
    Reply::text(text)
}

pub fn ok_after(after: Duration, text: &str) -> Step {
    Reply::text(text).after(after)
}

pub fn fail(kind: ErrorKind) -> Step {
    Reply::error(kind)
}

/// A connection refused before the request reached the provider: `network`, `is_connect()`.
pub fn refused() -> Step {
    Reply::error(Failure::refused())
}

pub fn fail_with(fail: Fail) -> Step {
    Reply::error(fail)
}

pub fn fail_after(after: Duration, kind: ErrorKind) -> Step {
    Reply::error(kind).after(after)
}

pub fn retry_after(kind: ErrorKind, wait: Duration) -> Step {
    Reply::error(Failure::new(kind).retry_after(wait))
}

pub fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

pub fn ms(m: u64) -> Duration {
    Duration::from_millis(m)
}

/// `Start` (the provider and the request's model are filled in when it is sent).
pub fn start(_provider: &str) -> Item {
    StreamItem::start()
}

pub fn text(t: &str) -> Item {
    StreamItem::text(t)
}

pub fn finish() -> Item {
    StreamItem::finish(FinishReason::Stop)
}

pub fn item_fail(kind: ErrorKind) -> Item {
    StreamItem::error(kind)
}

/// A stream opened after `after`, whose items each wait their own delay.
pub fn stream_of(after: Duration, items: Vec<(Duration, Item)>) -> Step {
    Reply::stream(items.into_iter().map(|(wait, item)| item.after(wait))).after(after)
}

/// A scripted provider on a fake clock, as a shared handle the chain and the test both hold.
pub fn scripted(name: &'static str, clock: &FakeClock, steps: Vec<Step>) -> Arc<ScriptedProvider> {
    Arc::new(
        ScriptedProvider::new(name)
            .clock(Arc::new(clock.clone()))
            .replies(steps),
    )
}

/// As [`scripted`], validating requests against `table`.
pub fn scripted_with_table(
    name: &'static str,
    clock: &FakeClock,
    table: ParamTable,
    steps: Vec<Step>,
) -> Arc<ScriptedProvider> {
    Arc::new(
        ScriptedProvider::new(name)
            .clock(Arc::new(clock.clone()))
            .table(table)
            .replies(steps),
    )
}

/// A builder over `providers` (model `m{i}` each) on `clock`, with no jitter and breakers as given by
/// `policy`.
pub fn chain_with(
    clock: &FakeClock,
    providers: &[&Arc<ScriptedProvider>],
    policy: Policy,
) -> Chain {
    builder(clock, providers).policy(policy).build().unwrap()
}

/// The default policy without jitter (so waits are exact), plus no retries unless a test asks.
pub fn exact() -> Policy {
    Policy::default().retry(RetryPolicy::default().jitter(0.0))
}

pub fn builder(clock: &FakeClock, providers: &[&Arc<ScriptedProvider>]) -> ChainBuilder {
    let mut b = Chain::builder().clock(Arc::new(clock.clone()));
    for (i, p) in providers.iter().enumerate() {
        let p: Arc<dyn Provider> = Arc::clone(p) as Arc<dyn Provider>;
        b = b.entry(Entry::new(p, format!("m{i}")));
    }
    b
}

pub fn request() -> ChatRequest {
    ChatRequest::new("caller-model").user("hello")
}

/// Runs `future` in virtual time; fails the test when it can never finish.
pub fn run<F: Future>(clock: &FakeClock, future: F) -> F::Output {
    clock
        .block_on(future)
        .expect("the future got stuck with no sleep pending")
}

/// Runs a chat call and reports the virtual time it took.
pub fn chat(clock: &FakeClock, chain: &Chain) -> (Result<ChatResponse, Error>, Duration) {
    let t0 = clock.now();
    let out = run(clock, chain.chat(&request()));
    (out, clock.now() - t0)
}

/// Runs a stream call to its end: the events (errors included) and the virtual time it took.
pub fn stream(
    clock: &FakeClock,
    chain: &Chain,
) -> (Result<Vec<Result<StreamEvent, Error>>, Error>, Duration) {
    let t0 = clock.now();
    let out = run(clock, async {
        let s = chain.stream(&request()).await?;
        Ok(s.collect::<Vec<_>>().await)
    });
    (out, clock.now() - t0)
}

/// The text deltas of `events`, joined.
pub fn text_of(events: &[Result<StreamEvent, Error>]) -> String {
    events
        .iter()
        .filter_map(|e| match e {
            Ok(StreamEvent::TextDelta(t)) => Some(t.as_str()),
            _ => None,
        })
        .collect()
}

/// `(entry, outcome)` of each attempt.
pub fn outline(attempts: &[llm_core::Attempt]) -> Vec<(usize, &'static str)> {
    attempts
        .iter()
        .map(|a| (a.entry, a.outcome_str()))
        .collect()
}
