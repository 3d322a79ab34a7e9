//! A fallback chain of LLM providers that is itself a [`Provider`](llm_core::Provider).
//!
//! Each [`Entry`] is a provider with its own model name and parameter overrides. A call walks the entries in
//! order: an entry whose circuit breaker is open is skipped at once; an entry whose parameter table rejects
//! the request is skipped and recorded as a `validation` attempt; otherwise the request is sent, and
//! retryable failures are retried with exponential backoff and jitter (honouring `retry-after` up to a cap,
//! within a retry budget shared by the chain and an optional overall deadline). A failure whose kind falls
//! through ([`FallThrough`]) moves on to the next entry; any other kind stops the chain; `cancelled` stops
//! everything at once. Every HTTP request is reported as an [`Attempt`](llm_core::Attempt): on the answer,
//! on the stream's `Start` event, on the error, and to an observer as it ends.
//!
//! A stream falls back only before its first content event; after it, a failure ends the stream with an
//! error that says how many bytes were delivered. Opt-in hedging starts the next entry when the current one
//! has shown no content within a delay, and keeps whichever shows content first.
//!
//! All time goes through a [`Clock`]; tests drive a [`FakeClock`] and never really sleep. See the crate's
//! README for the full decision rules.
//!
//! ```
//! use std::sync::Arc;
//! use llm_chain::{Chain, Entry, FakeClock};
//! use llm_core::{ChatRequest, Error, ErrorKind, Provider};
//! # #[derive(Debug)] struct Down; #[derive(Debug)] struct Up;
//! # #[async_trait::async_trait] impl Provider for Down {
//! #   fn name(&self) -> &str { "down" }
//! #   fn validate(&self, _: &ChatRequest) -> Result<(), Error> { Ok(()) }
//! #   async fn chat(&self, _: &ChatRequest) -> Result<llm_core::ChatResponse, Error> {
//! #       Err(Error::new(ErrorKind::Auth, "bad key").with_status(401)) }
//! #   async fn stream(&self, _: &ChatRequest) -> Result<llm_core::ChatStream, Error> { unreachable!() }
//! #   async fn health(&self) -> Result<(), Error> { Ok(()) } }
//! # #[async_trait::async_trait] impl Provider for Up {
//! #   fn name(&self) -> &str { "up" }
//! #   fn validate(&self, _: &ChatRequest) -> Result<(), Error> { Ok(()) }
//! #   async fn chat(&self, r: &ChatRequest) -> Result<llm_core::ChatResponse, Error> {
//! #       Ok(llm_core::ChatResponse::new("up", r.model.clone(), "hi")) }
//! #   async fn stream(&self, _: &ChatRequest) -> Result<llm_core::ChatStream, Error> { unreachable!() }
//! #   async fn health(&self) -> Result<(), Error> { Ok(()) } }
//! let clock = FakeClock::new();
//! let chain = Chain::builder()
//!     .entry(Entry::new(Arc::new(Down), "big-model"))
//!     .entry(Entry::new(Arc::new(Up), "small-model"))
//!     .clock(Arc::new(clock.clone()))
//!     .build()?;
//! let answer = clock.block_on(chain.chat(&ChatRequest::new("ignored").user("hello"))).unwrap()?;
//! assert_eq!(answer.model, "small-model");
//! assert_eq!(answer.attempts.len(), 2); // auth failure, then the answer
//! assert_eq!(answer.attempts[0].outcome, Some(ErrorKind::Auth));
//! # Ok::<(), Error>(())
//! ```
//!
//! # Features
//!
//! | Feature   | Enables                                                                                 |
//! |-----------|-----------------------------------------------------------------------------------------|
//! | `testing` | `llm_chain::testing`: a scripted provider (answers, streams, errors, delays on the chain's clock) for tests |
//! | `redis`   | `llm_chain::redis`: breakers, cooldowns, half-open probes and rate budgets shared across processes through Redis |
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod budget;
mod builder;
mod call;
mod chain;
pub mod clock;
mod decision;
mod embed;
mod entry;
pub mod fleet;
mod health;
mod hedge;
mod meter;
mod operation;
mod policy;
mod provider;
mod rate;
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub mod redis;
mod run;
mod spend;
mod strategy;
mod stream;
mod target;
mod telemetry;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
mod window;

pub use builder::ChainBuilder;
pub use chain::{AttemptObserver, Chain, SkipObserver};
pub use clock::{Clock, FakeClock, Sleep, SystemClock};
pub use entry::{Entry, Strategy};
pub use fleet::{FleetView, InProcess, StateStore};
pub use health::{BreakerState, EntryHealth, SkipReason, Skipped};
pub use meter::DEFAULT_RESERVED_OUTPUT_TOKENS;
pub use policy::{BreakerPolicy, FallThrough, Policy, RetryBudget, RetryPolicy, counts_for_health};
