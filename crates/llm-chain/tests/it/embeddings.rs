//! Embeddings through a chain: fallback only within one vector space, a vector of the wrong width from a
//! fallback entry refused (never returned), chat's retries, breakers and attempts for the same entry.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use crate::support::*;
use async_trait::async_trait;
use llm_chain::{BreakerPolicy, Chain, Entry, FakeClock, RetryPolicy};
use llm_core::{
    ChatRequest, ChatResponse, ChatStream, EmbedRequest, EmbedResponse, EmbedTable, Embedder,
    Error, ErrorKind, MAX_INPUTS, Provider,
};

/// An embedder answering from a script: vectors of a width, or an error of a kind. Chat is not its job.
#[derive(Debug)]
struct Vectors {
    name: &'static str,
    script: Mutex<VecDeque<Result<usize, ErrorKind>>>,
    seen: Mutex<Vec<EmbedRequest>>,
}

const TABLE: EmbedTable = EmbedTable {
    provider: "vectors",
    max_batch: 8,
    max_inputs: MAX_INPUTS,
    max_input_bytes: None,
    dimensions: true,
    input_kind: false,
};

fn vectors(name: &'static str, script: Vec<Result<usize, ErrorKind>>) -> Arc<Vectors> {
    Arc::new(Vectors {
        name,
        script: Mutex::new(script.into()),
        seen: Mutex::new(Vec::new()),
    })
}

impl Vectors {
    fn models(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|r| r.model.clone())
            .collect()
    }
}

#[async_trait]
impl Provider for Vectors {
    fn name(&self) -> &str {
        self.name
    }
    fn validate(&self, _: &ChatRequest) -> Result<(), Error> {
        Ok(())
    }
    async fn chat(&self, _: &ChatRequest) -> Result<ChatResponse, Error> {
        Err(Error::new(ErrorKind::BadRequest, "embeddings only"))
    }
    async fn stream(&self, _: &ChatRequest) -> Result<ChatStream, Error> {
        Err(Error::new(ErrorKind::BadRequest, "embeddings only"))
    }
    async fn health(&self) -> Result<(), Error> {
        Ok(())
    }
}

#[async_trait]
impl Embedder for Vectors {
    fn embedder_name(&self) -> &str {
        self.name
    }
    fn validate_embed(&self, request: &EmbedRequest) -> Result<(), Error> {
        TABLE.validate(request)
    }
    async fn embed(&self, request: &EmbedRequest) -> Result<EmbedResponse, Error> {
        self.seen.lock().unwrap().push(request.clone());
        let step = self
            .script
            .lock()
            .unwrap()
            .pop_front()
            .expect("script ran out");
        match step {
            Ok(width) => {
                let vectors = (0..request.inputs.len())
                    .map(|i| vec![i as f32; width])
                    .collect();
                Ok(EmbedResponse::new(self.name, &request.model, vectors))
            }
            Err(kind) => Err(Error::new(kind, "scripted failure").with_provider(self.name)),
        }
    }
}

fn embed(clock: &FakeClock, chain: &Chain, inputs: &[&str]) -> Result<EmbedResponse, Error> {
    let request = EmbedRequest::new("caller-model", inputs.iter().copied());
    run(clock, chain.embed(&request))
}

fn chain_of(clock: &FakeClock, entries: Vec<Entry>, retry: RetryPolicy) -> Chain {
    let mut builder = Chain::builder()
        .clock(Arc::new(clock.clone()))
        .policy(exact().retry(retry));
    for entry in entries {
        builder = builder.entry(entry);
    }
    builder.build().unwrap()
}

#[test]
fn a_failed_entry_falls_back_to_the_same_model_served_elsewhere() {
    let clock = FakeClock::new();
    let a = vectors("a", vec![Err(ErrorKind::Server)]);
    let b = vectors("b", vec![Ok(4)]);
    let chain = chain_of(
        &clock,
        vec![
            Entry::embedding(a.clone(), "embed-small").space("small-v1"),
            Entry::embedding(b.clone(), "org/embed-small").space("small-v1"),
        ],
        RetryPolicy::none(),
    );
    assert_eq!(chain.space(), Some("small-v1"));
    let answer = embed(&clock, &chain, &["x", "y"]).unwrap();
    assert_eq!(answer.vectors, [vec![0.0; 4], vec![1.0; 4]]);
    assert_eq!(answer.provider, "b");
    assert_eq!(a.models(), ["embed-small"]);
    assert_eq!(
        b.models(),
        ["org/embed-small"],
        "each entry sends its own model"
    );
    let outcomes: Vec<_> = answer.attempts.iter().map(|a| a.outcome).collect();
    assert_eq!(outcomes, [Some(ErrorKind::Server), None]);
    assert_eq!(answer.attempts[1].model, "org/embed-small");
}

#[test]
fn a_fallback_of_another_width_is_an_error_never_returned() {
    let clock = FakeClock::new();
    let a = vectors("a", vec![Ok(4), Err(ErrorKind::Overloaded)]);
    let b = vectors("b", vec![Ok(3)]);
    let chain = chain_of(
        &clock,
        vec![
            Entry::embedding(a.clone(), "m").space("s"),
            Entry::embedding(b.clone(), "m").space("s"),
        ],
        RetryPolicy::none(),
    );
    assert_eq!(embed(&clock, &chain, &["x"]).unwrap().dims(), Some(4));
    let err = embed(&clock, &chain, &["x"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert!(err.to_string().contains("width"), "{err}");
    let outcomes: Vec<_> = err.attempts().iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [
            Some(ErrorKind::Overloaded),
            Some(ErrorKind::InvalidResponse)
        ]
    );
}

#[test]
fn asked_for_dimensions_are_the_width_every_answer_must_have() {
    let clock = FakeClock::new();
    let a = vectors("a", vec![Ok(8)]);
    let chain = chain_of(
        &clock,
        vec![Entry::embedding(a.clone(), "m")],
        RetryPolicy::none(),
    );
    let request = EmbedRequest::new("x", ["x"]).dimensions(4);
    let err = run(&clock, chain.embed(&request)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidResponse, "{err}");
    assert_eq!(a.seen.lock().unwrap()[0].dimensions, Some(4));
}

#[test]
fn entries_of_two_spaces_are_refused_when_the_chain_is_built() {
    let a = vectors("a", vec![]);
    let b = vectors("b", vec![]);
    let err = Chain::builder()
        .entry(Entry::embedding(a, "text-embedding-3-small"))
        .entry(Entry::embedding(b, "nomic-embed-text"))
        .build()
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    let v = &err.violations()[0];
    assert_eq!(v.param, "b[1].space");
    assert_eq!(v.given, "`nomic-embed-text`");
    assert!(v.allowed.contains("text-embedding-3-small"), "{v:?}");
}

#[test]
fn chat_only_entries_are_passed_over_without_an_attempt() {
    let clock = FakeClock::new();
    let chat_only = scripted("chat", &clock, vec![]);
    let b = vectors("b", vec![Ok(2)]);
    let chain = chain_of(
        &clock,
        vec![
            Entry::new(chat_only.clone(), "chat-model"),
            Entry::embedding(b, "m"),
        ],
        RetryPolicy::none(),
    );
    let answer = embed(&clock, &chain, &["x"]).unwrap();
    assert_eq!(answer.attempts.len(), 1);
    assert_eq!(answer.attempts[0].provider, "b");
    assert!(chat_only.requests().is_empty());

    let none = chain_of(
        &clock,
        vec![Entry::new(chat_only, "chat-model")],
        RetryPolicy::none(),
    );
    let err = embed(&clock, &none, &["x"]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert!(err.to_string().contains("embeds"), "{err}");
}

#[test]
fn retries_and_the_breaker_are_those_of_chat() {
    let clock = FakeClock::new();
    let a = vectors(
        "a",
        vec![
            Err(ErrorKind::RateLimited),
            Ok(2),
            Err(ErrorKind::Server),
            Err(ErrorKind::Server),
        ],
    );
    let b = vectors("b", vec![Ok(2), Ok(2)]);
    let chain = Chain::builder()
        .clock(Arc::new(clock.clone()))
        .policy(
            exact()
                .retry(RetryPolicy::default().jitter(0.0).max_attempts(2))
                .breaker(BreakerPolicy::default().consecutive_failures(2)),
        )
        .entry(Entry::embedding(a.clone(), "m"))
        .entry(Entry::embedding(b.clone(), "m"))
        .build()
        .unwrap();
    let answer = embed(&clock, &chain, &["x"]).unwrap();
    let retries: Vec<_> = answer.attempts.iter().map(|a| (a.entry, a.retry)).collect();
    assert_eq!(retries, [(0, 0), (0, 1)], "a retryable failure is retried");
    // A server error, retried once: two failures in a row open the breaker, and the call moves on to b.
    let second = embed(&clock, &chain, &["x"]).unwrap();
    assert_eq!(second.provider, "b");
    // With the breaker open, the next call skips a at once.
    let third = embed(&clock, &chain, &["x"]).unwrap();
    assert_eq!(third.provider, "b");
    assert_eq!(
        a.models().len(),
        4,
        "a was not called while its breaker was open"
    );
    let health = chain.health_snapshot();
    assert_ne!(health[0].state, llm_chain::BreakerState::Closed);
}

#[test]
fn validation_asks_the_entries_of_the_space() {
    let clock = FakeClock::new();
    let a = vectors("a", vec![]);
    let chain = chain_of(&clock, vec![Entry::embedding(a, "m")], RetryPolicy::none());
    let err = chain
        .validate_embed(&EmbedRequest::new("m", Vec::<String>::new()))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(err.violations()[0].param, "a[0].inputs");
    assert!(chain.validate_embed(&EmbedRequest::new("m", ["x"])).is_ok());
    let err = embed(&clock, &chain, &[""]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation, "{err}");
}
